-- +goose Up
-- Authorizations in progress (issue 17): a patient sent to a source's
-- consent page (the Dexcom API's OAuth 2.0 authorization code flow) comes
-- back with the state fsecgm gave; the row ties that state to the patient
-- and to who started, and keeps the PKCE verifier sealed
-- (connsync.Keyring; the associated data names the row). The state itself
-- is kept only as its SHA-256: a copy of this table cannot complete an
-- authorization. A row is used once (deleted by the callback) and expires
-- after ten minutes.
CREATE TABLE sync_authorizations (
    state_hash text PRIMARY KEY CHECK (state_hash ~ '^[0-9a-f]{64}$'),
    source     text NOT NULL CHECK (source IN ('dexcom')),
    patient_id integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- who started (consent.Actor's String(): no fiscal code); the
    -- callback must come from the same person
    actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 500),
    key_id     text NOT NULL,
    nonce      bytea NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sync_authorizations_expires ON sync_authorizations (expires_at);
