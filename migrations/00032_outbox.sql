-- +goose Up
-- The transactional outbox of package taccuino/records: one row per
-- transaction Bundle to deliver to one subscription, written in the
-- transaction that stores the summary it carries. Delivery workers claim
-- due rows with FOR UPDATE SKIP LOCKED and hold them by a lease
-- (lease_owner, lease_token, lease_until) on the database clock.
--
--   state        pending (to deliver, at next_attempt_at) | delivered |
--                poisoned (failed max attempts: left for the operator) |
--                cancelled (the patient's consent was revoked, or the
--                subscription no longer serves the patient: never sent)
--   identifiers  "system|value" of every entry, for the operator
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id integer NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    patient_id      integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    bundle          json NOT NULL,
    identifiers     text[] NOT NULL,
    -- the number of entries of the Bundle (a transaction-response must
    -- have as many)
    entries         integer NOT NULL CHECK (entries > 0),
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 256),
    created_at      timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'poisoned', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '' CHECK (length(last_error) <= 1024),
    last_status     integer,
    finished_at     timestamptz,
    lease_owner     text,
    lease_token     text,
    lease_until     timestamptz,
    CHECK ((lease_owner IS NULL) = (lease_token IS NULL) AND (lease_token IS NULL) = (lease_until IS NULL)),
    CHECK ((state = 'pending') = (finished_at IS NULL)),
    CHECK (state = 'pending' OR lease_owner IS NULL)
);
-- What the workers claim: pending rows by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
-- What the operator looks at.
CREATE INDEX outbox_poisoned ON outbox (finished_at, id) WHERE state = 'poisoned';
CREATE INDEX outbox_patient ON outbox (patient_id, subscription_id, id);
