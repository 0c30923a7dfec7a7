-- +goose Up
-- LibreLinkUp connections and their sync (package connectors/connsync).
-- Numbers 00010-00019 belong to the connectors.
--
-- Secrets (credentials, sessions, what a follower account shows about a
-- person not yet bound) are sealed with AES-256-GCM by the application:
-- *_key_id names the key (first 8 hex digits of its SHA-256), *_nonce and
-- *_sealed hold the nonce and ciphertext; the associated data names the row
-- and field (connsync/keyring.go), so ciphertexts cannot be swapped.
-- Leases and due times use the database clock (now()).

-- A LibreLinkUp account fsecgm logs in to: a patient's own account (kind
-- patient, one connection) or a regional follower account (kind follower,
-- one connection per patient bound to it). Logins to one account are
-- serialised by the advisory lock (1179861833, id).
CREATE TABLE llu_accounts (
    id                   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id            text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
    kind                 text NOT NULL CHECK (kind IN ('patient', 'follower')),
    -- the operator's label of a follower account
    name                 text CHECK ((kind = 'follower') = (name IS NOT NULL) AND length(name) BETWEEN 1 AND 100),
    -- region the operator gave for a follower account (for reference;
    -- logins follow LibreLinkUp's region redirect)
    region               text NOT NULL DEFAULT '',
    -- keyed hash (HMAC-SHA-256) of the lower-case e-mail: one live account
    -- per LibreLinkUp login
    fingerprint          text,
    cred_key_id          text,
    cred_nonce           bytea,
    cred_sealed          bytea,
    -- bumped whenever the credentials change
    credentials_version  integer NOT NULL DEFAULT 1,
    -- = credentials_version after a login answered "bad credentials": no
    -- login is made again until the credentials change
    failed_login_version integer,
    session_key_id       text,
    session_nonce        bytea,
    session_sealed       bytea,
    -- bumped whenever the session changes (a login by any replica)
    session_version      integer NOT NULL DEFAULT 0,
    -- no request for this account before this instant (lockout, 429, ...)
    blocked_until        timestamptz,
    -- follower accounts: the state of the connection list and its schedule
    state                text NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'action_needed', 'bad_credentials', 'backing_off', 'error', 'disconnected')),
    error_kind           text,
    error_message        text,
    advice_it            text,
    advice_en            text,
    error_at             timestamptz,
    phase                double precision NOT NULL DEFAULT random() CHECK (phase >= 0 AND phase < 1),
    next_list_at         timestamptz,
    lease_owner          text,
    lease_token          bigint,
    lease_expires_at     timestamptz,
    last_list_at         timestamptz,
    logins               bigint NOT NULL DEFAULT 0,
    failed_logins        bigint NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((cred_sealed IS NULL) = (cred_key_id IS NULL) AND (cred_sealed IS NULL) = (cred_nonce IS NULL)),
    CHECK ((session_sealed IS NULL) = (session_key_id IS NULL) AND (session_sealed IS NULL) = (session_nonce IS NULL))
);
CREATE UNIQUE INDEX llu_accounts_follower_name ON llu_accounts (name) WHERE kind = 'follower' AND state <> 'disconnected';
CREATE UNIQUE INDEX llu_accounts_fingerprint ON llu_accounts (fingerprint) WHERE state <> 'disconnected';
CREATE INDEX llu_accounts_due ON llu_accounts (next_list_at) WHERE kind = 'follower' AND state <> 'disconnected';

CREATE SEQUENCE llu_lease_tokens;

-- llu_next_slot returns the first instant after "after" of the grid
-- (k + phase) * period (k an integer, the epoch as origin): the slots of a
-- connection with that phase.
CREATE FUNCTION llu_next_slot(after timestamptz, period interval, phase double precision)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_timestamp(((floor(extract(epoch FROM after)::float8 / extract(epoch FROM period)::float8 - phase) + 1 + phase)
                     * extract(epoch FROM period)::float8));

-- A patient's LibreLinkUp connection. state is what the patient and the
-- operator see; next_sync_at is when it is due; a replica leases it
-- (lease_owner, lease_token, lease_expires_at) while syncing and commits
-- only if its token is still there. phase places the connection's slot in
-- the interval: after a sync it is due at the first slot of its phase at
-- least half an interval later (S + interval after a sync of the slot S).
CREATE TABLE llu_connections (
    id                integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id         text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
    patient_id        integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    account_id        integer NOT NULL REFERENCES llu_accounts (id),
    mode              text NOT NULL CHECK (mode IN ('patient', 'follower')),
    -- the LibreLinkUp patientId (for graph and logbook)
    llu_patient_id    text NOT NULL CHECK (llu_patient_id <> '' AND length(llu_patient_id) <= 64),
    state             text NOT NULL
        CHECK (state IN ('active', 'action_needed', 'bad_credentials', 'backing_off', 'error', 'disconnected')),
    phase             double precision NOT NULL DEFAULT random() CHECK (phase >= 0 AND phase < 1),
    next_sync_at      timestamptz NOT NULL DEFAULT now(),
    lease_owner       text,
    lease_token       bigint,
    lease_expires_at  timestamptz,
    last_sync_at      timestamptz,
    last_success_at   timestamptz,
    oldest_reading_at timestamptz,
    newest_reading_at timestamptz,
    logbook_at        timestamptz,
    error_kind        text,
    error_message     text,
    advice_it         text,
    advice_en         text,
    error_at          timestamptz,
    retry_at          timestamptz,
    operator_warning  text NOT NULL DEFAULT '',
    syncs             bigint NOT NULL DEFAULT 0,
    failures          bigint NOT NULL DEFAULT 0,
    readings          bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    disconnected_at   timestamptz,
    CHECK ((state = 'disconnected') = (disconnected_at IS NOT NULL))
);
CREATE UNIQUE INDEX llu_connections_live ON llu_connections (account_id, llu_patient_id) WHERE state <> 'disconnected';
CREATE INDEX llu_connections_patient ON llu_connections (patient_id);
CREATE INDEX llu_connections_due ON llu_connections (next_sync_at)
    WHERE state IN ('active', 'action_needed', 'backing_off', 'error');

-- One row per committed sync of a connection: what it fetched and what
-- became of it. scheduled_for is the slot the sync served. Pruned after a
-- retention period by the daily upkeep (connsync.Config.RunRetention).
CREATE TABLE llu_sync_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id integer NOT NULL REFERENCES llu_connections (id) ON DELETE CASCADE,
    scheduled_for timestamptz NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    replica       text NOT NULL,
    fetched       integer NOT NULL DEFAULT 0,
    inserted      integer NOT NULL DEFAULT 0,
    duplicate     integer NOT NULL DEFAULT 0,
    revised       integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    logins        smallint NOT NULL DEFAULT 0,
    -- 'ok' or the error kind
    outcome       text NOT NULL
);
CREATE INDEX llu_sync_runs_connection ON llu_sync_runs (connection_id, started_at);
CREATE INDEX llu_sync_runs_started ON llu_sync_runs (started_at);

-- A connection a follower account lists that is not bound to a patient.
-- sealed holds, encrypted, what LibreLinkUp shows about the person (names,
-- sensor serial): it is only ever compared with a patient's evidence, never
-- shown.
CREATE TABLE llu_pending (
    id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id      text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
    account_id     integer NOT NULL REFERENCES llu_accounts (id) ON DELETE CASCADE,
    llu_patient_id text NOT NULL CHECK (llu_patient_id <> '' AND length(llu_patient_id) <= 64),
    key_id         text NOT NULL,
    nonce          bytea NOT NULL,
    sealed         bytea NOT NULL,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, llu_patient_id)
);

-- The binding audit: every attempt to bind a follower connection to a
-- patient, refused or not.
CREATE TABLE llu_bindings (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id     integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- who confirmed (consent.Actor's String(): no fiscal code)
    actor          text NOT NULL,
    -- 'bound' or the refusal code (serial_mismatch, name_mismatch, ...)
    outcome        text NOT NULL,
    -- 'match', 'mismatch', 'identity_missing' or 'not_checked'
    name_check     text NOT NULL,
    -- the serial (LibreLinkUp sn) of the sensor that matched, when one did
    serial         text,
    account_id     integer REFERENCES llu_accounts (id),
    connection_id  integer REFERENCES llu_connections (id) ON DELETE SET NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llu_bindings_patient ON llu_bindings (patient_id, at);

-- Patients whose readings changed from "since" on, so that the stored
-- summaries from that instant must be recomputed (see connsync's package
-- documentation for the protocol). Writers keep the earliest since.
CREATE TABLE patient_metrics_dirty (
    patient_id integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    since      timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now()
);
