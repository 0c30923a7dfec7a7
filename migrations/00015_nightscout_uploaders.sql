-- +goose Up
-- The Nightscout-compatible upload door (issue 17; package
-- connectors/nightscout/nsupload): an uploader is what a patient creates in
-- the taccuino for an app that uploads to a Nightscout site (xDrip+,
-- Juggluco, AndroidAPS). Its secret (160 random bits) is shown once, in the
-- URL the app is given; only the SHA-256 of its SHA-1 is kept (the apps
-- send the SHA-1 in the api-secret header, as to Nightscout). A revoked
-- uploader stays, so that the patient's log still names it.
CREATE TABLE ns_uploaders (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z2-7]{16}$'),
    patient_id     integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    label          text NOT NULL CHECK (label <> '' AND length(label) <= 64),
    secret_hash    bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    last_upload_at timestamptz,
    readings       bigint NOT NULL DEFAULT 0
);
CREATE INDEX ns_uploaders_patient ON ns_uploaders (patient_id);
