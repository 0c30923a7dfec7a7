-- +goose Up
-- Whose data is it (issue 14): a connection whose followed person does not
-- match the patient's FSE identity stops in state identity_mismatch, and
-- the readings that came through it can be removed by the operator
-- (fsecgm bindings purge), which records when and how many.
ALTER TABLE llu_connections DROP CONSTRAINT llu_connections_state_check;
ALTER TABLE llu_connections ADD CONSTRAINT llu_connections_state_check CHECK (state IN
    ('active', 'action_needed', 'bad_credentials', 'backing_off', 'error', 'identity_mismatch', 'disconnected'));
ALTER TABLE llu_connections
    ADD COLUMN purged_at timestamptz,
    ADD COLUMN purged_readings bigint NOT NULL DEFAULT 0 CHECK (purged_readings >= 0);
-- When a sync first found that the connection follows someone else; kept
-- after the connection is disconnected, so that its readings can still be
-- found and removed.
ALTER TABLE llu_connections ADD COLUMN identity_mismatch_at timestamptz;
CREATE INDEX llu_connections_mismatch ON llu_connections (identity_mismatch_at) WHERE identity_mismatch_at IS NOT NULL;
