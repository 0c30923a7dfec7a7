-- +goose Up
-- Access notifications (package taccuino/notify): the address a patient
-- chose to be told at, the accesses waiting to be told, and the e-mail
-- outbox. Numbers 00060-00069 belong to the notifications.

-- A patient's notification address. email is the confirmed address in
-- force (NULL until one is confirmed); a change waits in the pending_*
-- columns until the link sent to the new address is opened. Only the
-- SHA-256 of the link's token is kept (token_hash), never the token.
-- bounced_at is set when the mail server refused the address for good
-- (SMTP 5xx): nothing is sent to it until an address is confirmed again.
--
--   mode   each (a message within about a minute of every access; the
--          accesses of one person in one minute together) | daily (one
--          digest per local day) | off
CREATE TABLE notification_settings (
    patient_id         integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    email              text CHECK (length(email) <= 254),
    mode               text NOT NULL DEFAULT 'off' CHECK (mode IN ('each', 'daily', 'off')),
    lang               text NOT NULL DEFAULT 'it' CHECK (lang IN ('it', 'en')),
    confirmed_at       timestamptz,
    bounced_at         timestamptz,
    bounce_reason      text NOT NULL DEFAULT '' CHECK (length(bounce_reason) <= 512),
    pending_email      text CHECK (length(pending_email) <= 254),
    pending_mode       text CHECK (pending_mode IN ('each', 'daily', 'off')),
    pending_lang       text CHECK (pending_lang IN ('it', 'en')),
    token_hash         bytea UNIQUE CHECK (length(token_hash) = 32),
    token_expires_at   timestamptz,
    requested_at       timestamptz,
    changed_at         timestamptz NOT NULL,
    CHECK ((pending_email IS NULL) = (token_hash IS NULL) AND (token_hash IS NULL) = (token_expires_at IS NULL)),
    CHECK ((email IS NULL) = (confirmed_at IS NULL))
);

-- The accesses to tell: one row per access-log entry of a patient whose
-- notifications are on, written by the trigger below in the transaction
-- that writes the entry (so a read and its notification commit together,
-- whatever code writes the access log), deleted when composed into a
-- message (or dropped when the patient's notifications went off).
CREATE TABLE notification_events (
    access_log_id bigint PRIMARY KEY,
    patient_id    integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL
);
CREATE INDEX notification_events_at ON notification_events (at);

-- Third-party entries only: never the patient's own actions (basis self)
-- nor the confirmation link (basis link). One statement-level trigger per
-- INSERT, so that the clinic list's 50 entries cost one join, not 50 calls.
-- +goose StatementBegin
CREATE FUNCTION notification_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notification_events (access_log_id, patient_id, at)
    SELECT n.id, n.patient_id, n.at
    FROM new_entries n
    JOIN notification_settings s ON s.patient_id = n.patient_id
    WHERE s.email IS NOT NULL AND s.bounced_at IS NULL AND s.mode <> 'off'
        AND n.basis NOT IN ('self', 'link');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER access_log_notify AFTER INSERT ON access_log
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION notification_enqueue();

-- The e-mail outbox: one row per message (an access, a group of accesses
-- by one person in one minute, or a day's digest), rendered when composed
-- (raw: the whole RFC 5322 message, with a stable Message-ID), sent by the
-- workers of any replica (FOR UPDATE SKIP LOCKED, a lease on the database
-- clock, the row locked while it is sent).
--
--   key        unique per message, so that composing twice makes one row
--   state      pending | sent | dead (failed too often, or its copies are
--              uncertain: for the operator, 'fsecgm notifications') |
--              bounced (the server refused the address: 5xx) | cancelled
--              (the address changed, bounced or was turned off first)
CREATE TABLE notification_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('each', 'daily')),
    key             text NOT NULL UNIQUE CHECK (length(key) <= 128),
    recipient       text NOT NULL CHECK (length(recipient) <= 254),
    subject         text NOT NULL,
    raw             text NOT NULL,
    access_log_ids  bigint[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'dead', 'bounced', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '' CHECK (length(last_error) <= 1024),
    last_code       integer,
    finished_at     timestamptz,
    lease_owner     text,
    lease_token     text,
    lease_until     timestamptz,
    CHECK ((lease_owner IS NULL) = (lease_token IS NULL) AND (lease_token IS NULL) = (lease_until IS NULL)),
    CHECK ((state = 'pending') = (finished_at IS NULL)),
    CHECK (state = 'pending' OR lease_owner IS NULL)
);
CREATE INDEX notification_messages_due ON notification_messages (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notification_messages_dead ON notification_messages (finished_at, id) WHERE state = 'dead';
CREATE INDEX notification_messages_patient ON notification_messages (patient_id, id);

-- Hand-offs: a row is committed just before the end of a message's DATA
-- is sent to the SMTP server, and deleted with the attempt's outcome. One
-- left behind means an attempt ended (a crash, a lost connection) after
-- the server may have accepted the message: a copy may be out. A message
-- is sent again after at most one such hand-off (at most two copies in
-- all); after two it goes to the operator (state dead).
CREATE TABLE notification_handoffs (
    message_id bigint      NOT NULL,
    attempt    integer     NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, attempt)
);
