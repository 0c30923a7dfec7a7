-- +goose Up
-- Attempts at ids that name nothing (package taccuino/consent,
-- Store.Probe): a patient id, or a FHIR resource id, that does not exist,
-- asked for by whom and how often. They belong to no patient's access log
-- (there is no patient), and are kept for the operator: a caller walking
-- through ids shows here. The same attempt of the same caller (for callers
-- without a valid token, of the same address) within the hour is one row,
-- counted, like repeated refusals in access_log. Writing them also makes
-- the answer to an id that does not exist cost what the refusal of an id
-- of another patient costs (a transaction with the same statements), so
-- that the time of the answer tells nothing either.
-- Numbers 00080-00089 belong to the abuse and session rules of issue 14.
CREATE TABLE access_probes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    last_at         timestamptz,
    occurrences     integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    actor_role      text NOT NULL CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service')),
    actor_id        text NOT NULL DEFAULT '' CHECK (length(actor_id) <= 256),
    action          text NOT NULL CHECK (action <> '' AND length(action) <= 64),
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 512),
    request_id      text NOT NULL DEFAULT '' CHECK (length(request_id) <= 128),
    last_request_id text CHECK (length(last_request_id) <= 128),
    repeat_key      text NOT NULL UNIQUE CHECK (repeat_key ~ '^[0-9a-f]{32}$')
);
CREATE INDEX access_probes_at ON access_probes (at);
