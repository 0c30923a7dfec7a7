-- +goose Up
-- The source-agnostic sync core (issue 17, package connectors/connsync):
-- the connections of every source (LibreLinkUp, Dexcom, Nightscout) in one
-- table, with what the core needs — state, schedule (phase and slots),
-- lease, advice shown to the patient, counters — and what a source keeps
-- per connection beside it: a sealed secret (Dexcom tokens, a Nightscout
-- site's secret) or its own table (LibreLinkUp's accounts, llu_links).
--
-- The LibreLinkUp connections of 00010 become rows of the core table in
-- place: llu_connections is renamed (ids, public ids, schedule, leases and
-- history stay as they are, so that a connection syncs on as before), and
-- its LibreLinkUp columns move to llu_links. Forward only.

ALTER TABLE llu_connections RENAME TO sync_connections;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_pkey TO sync_connections_pkey;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_public_id_key TO sync_connections_public_id_key;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_state_check TO sync_connections_state_check;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_patient_id_fkey TO sync_connections_patient_id_fkey;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_check TO sync_connections_disconnected_check;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_mode_check TO sync_connections_mode_check;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_phase_check TO sync_connections_phase_check;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_public_id_check TO sync_connections_public_id_check;
ALTER TABLE sync_connections RENAME CONSTRAINT llu_connections_purged_readings_check TO sync_connections_purged_readings_check;
ALTER INDEX llu_connections_patient RENAME TO sync_connections_patient;
ALTER INDEX llu_connections_mismatch RENAME TO sync_connections_mismatch;
ALTER SEQUENCE llu_lease_tokens RENAME TO sync_lease_tokens;
ALTER FUNCTION llu_next_slot(timestamptz, interval, double precision) RENAME TO sync_next_slot;
ALTER TABLE llu_sync_runs RENAME TO sync_runs;
ALTER TABLE sync_runs RENAME CONSTRAINT llu_sync_runs_pkey TO sync_runs_pkey;
ALTER TABLE sync_runs RENAME CONSTRAINT llu_sync_runs_connection_id_fkey TO sync_runs_connection_id_fkey;
ALTER INDEX llu_sync_runs_connection RENAME TO sync_runs_connection;
ALTER INDEX llu_sync_runs_started RENAME TO sync_runs_started;

-- What the core keeps for every source:
--   source          the source's name (connsync.Source.Name)
--   source_key      the remote stream the connection reads, as the source
--                   names it (LibreLinkUp: account id and patient id;
--                   Dexcom: the user id Dexcom gives the client; Nightscout:
--                   the site's address); one live connection per stream
--   label           what the patient reads beside the connection (the
--                   follower account's name, the site's host)
--   secret_*        a secret the source seals (connsync.Keyring; the
--                   associated data names the row), secret_version bumped
--                   at each change
--   failure_streak  consecutive failed syncs: transient failures back off
--                   longer each time
ALTER TABLE sync_connections
    ADD COLUMN source text NOT NULL DEFAULT 'librelinkup' CHECK (source IN ('librelinkup', 'dexcom', 'nightscout')),
    ADD COLUMN source_key text,
    ADD COLUMN label text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    ADD COLUMN secret_key_id text,
    ADD COLUMN secret_nonce bytea,
    ADD COLUMN secret_sealed bytea,
    ADD COLUMN secret_version integer NOT NULL DEFAULT 0,
    ADD COLUMN failure_streak integer NOT NULL DEFAULT 0 CHECK (failure_streak >= 0),
    ADD CONSTRAINT sync_connections_secret_check
        CHECK ((secret_sealed IS NULL) = (secret_key_id IS NULL) AND (secret_sealed IS NULL) = (secret_nonce IS NULL));

-- LibreLinkUp's part of a connection: the account it reads through, the
-- LibreLinkUp patient it follows, when the logbook was last read.
CREATE TABLE llu_links (
    connection_id  integer PRIMARY KEY REFERENCES sync_connections (id) ON DELETE CASCADE,
    account_id     integer NOT NULL REFERENCES llu_accounts (id),
    llu_patient_id text NOT NULL CHECK (llu_patient_id <> '' AND length(llu_patient_id) <= 64),
    logbook_at     timestamptz
);
CREATE INDEX llu_links_account ON llu_links (account_id);
INSERT INTO llu_links (connection_id, account_id, llu_patient_id, logbook_at)
    SELECT id, account_id, llu_patient_id, logbook_at FROM sync_connections;
UPDATE sync_connections SET source_key = account_id || '/' || llu_patient_id;
DROP INDEX llu_connections_live;
DROP INDEX llu_connections_due;
ALTER TABLE sync_connections DROP COLUMN account_id, DROP COLUMN llu_patient_id, DROP COLUMN logbook_at;
ALTER TABLE sync_connections ALTER COLUMN source DROP DEFAULT;
ALTER TABLE sync_connections ALTER COLUMN source_key SET NOT NULL;
ALTER TABLE sync_connections ADD CHECK (source_key <> '' AND length(source_key) <= 300);
CREATE UNIQUE INDEX sync_connections_live ON sync_connections (source, source_key) WHERE state <> 'disconnected';
CREATE INDEX sync_connections_due ON sync_connections (source, next_sync_at)
    WHERE state IN ('active', 'action_needed', 'backing_off', 'error');

-- Repeated lockouts of a LibreLinkUp account wait longer each time
-- (lockouts counts them since the last successful login).
ALTER TABLE llu_accounts ADD COLUMN lockouts integer NOT NULL DEFAULT 0 CHECK (lockouts >= 0);

-- Request budgets shared by every replica: a token bucket per name
-- (LibreLinkUp: one per egress address; Dexcom: one per client
-- application), refilled at rate tokens a second up to burst. A 429 halves
-- the rate (not below min_rate) and may block the budget until
-- blocked_until; the rate then grows back to max_rate linearly over
-- recover_seconds. Times on the database clock.
CREATE TABLE sync_budgets (
    name            text PRIMARY KEY CHECK (name <> '' AND length(name) <= 200),
    rate            double precision NOT NULL CHECK (rate > 0),
    min_rate        double precision NOT NULL CHECK (min_rate > 0),
    max_rate        double precision NOT NULL CHECK (max_rate > 0),
    burst           double precision NOT NULL CHECK (burst >= 1),
    recover_seconds double precision NOT NULL CHECK (recover_seconds > 0),
    tokens          double precision NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    blocked_until   timestamptz,
    cuts            bigint NOT NULL DEFAULT 0,
    cut_at          timestamptz,
    requests        bigint NOT NULL DEFAULT 0
);
