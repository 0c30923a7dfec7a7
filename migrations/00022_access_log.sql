-- +goose Up
-- The access log the patient sees: every read or write of a patient's data
-- by anyone but the patient, allowed, denied or failed, written in the
-- transaction that serves it (taccuino/consent). Rows are never updated.
--
--   actor_role        citizen | practitioner | service | '' (unauthenticated)
--   actor_id          fiscal code of a person or client id of a service;
--                     shown to the patient, never written to service logs
--   on_behalf_of      the organization the actor acted for (diabetology centre)
--   basis             relationship acted on (self, parent, tutor, delegate,
--                     mmg, pls, diabetology, service, registry, or '')
--   action, detail    what (consent.Action) and what exactly
--   outcome, reason   allowed | denied | error, and a reason code
CREATE TABLE access_log (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id        integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    at                timestamptz NOT NULL,
    actor_role        text NOT NULL CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service')),
    actor_id          text NOT NULL DEFAULT '' CHECK (length(actor_id) <= 256),
    actor_name        text NOT NULL DEFAULT '' CHECK (length(actor_name) <= 256),
    practitioner_role text NOT NULL DEFAULT '' CHECK (length(practitioner_role) <= 32),
    on_behalf_of      text NOT NULL DEFAULT '' CHECK (length(on_behalf_of) <= 256),
    basis             text NOT NULL DEFAULT '' CHECK (length(basis) <= 32),
    action            text NOT NULL CHECK (action <> '' AND length(action) <= 64),
    detail            text NOT NULL DEFAULT '' CHECK (length(detail) <= 512),
    outcome           text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
    reason            text NOT NULL CHECK (length(reason) <= 64),
    request_id        text NOT NULL DEFAULT '' CHECK (length(request_id) <= 128)
);
-- The patient's access log page, newest first (scanned backwards), with
-- (at, id) as the cursor.
CREATE INDEX access_log_patient ON access_log (patient_id, at, id);
