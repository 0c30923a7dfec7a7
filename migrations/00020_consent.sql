-- +goose Up
-- The patient's choices in the taccuino: consent to consultation by third
-- parties, privacy notice acceptances and delegations.
-- Numbers 00020-00029 belong to the taccuino (taccuino/consent uses
-- 00020-00022). Fiscal codes are checked by cgm/codicefiscale before every
-- insert; the CHECKs below only guard the format.

-- The current state of a patient's consent to consultation of their data by
-- third parties (clinicians and services). No row means never recorded,
-- which the rules read as NOT granted (privacy by default).
CREATE TABLE third_party_consents (
    patient_id integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    granted    boolean     NOT NULL,
    changed_at timestamptz NOT NULL
);

-- Every grant and revocation, with who made it and on what basis (self,
-- parent, tutor). The current state is the last row, and is kept in
-- third_party_consents in the same transaction.
CREATE TABLE third_party_consent_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    granted    boolean     NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_by text        NOT NULL CHECK (changed_by ~ '^[A-Z0-9]{16}$'),
    changed_as text        NOT NULL CHECK (changed_as IN ('self', 'parent', 'tutor'))
);
CREATE INDEX third_party_consent_changes_patient ON third_party_consent_changes (patient_id, changed_at, id);

-- Each acceptance of a version of the privacy notice (informativa), made
-- when connecting a sensor.
CREATE TABLE privacy_notice_acceptances (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id  integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    version     text        NOT NULL CHECK (version <> '' AND length(version) <= 64),
    accepted_at timestamptz NOT NULL,
    accepted_by text        NOT NULL CHECK (accepted_by ~ '^[A-Z0-9]{16}$'),
    accepted_as text        NOT NULL CHECK (accepted_as IN ('self', 'parent', 'tutor', 'delegate'))
);
CREATE INDEX privacy_notice_acceptances_patient ON privacy_notice_acceptances (patient_id, accepted_at, id);

-- A delegation of an adult to act for a patient, in force from created_at
-- to expires_at (exclusive) unless revoked. Granted by the patient, a parent
-- of a minor or a tutor (granted_as). revoked_by is the fiscal code of who
-- revoked it, 'superseded' when a new delegation to the same person replaced
-- it, or 'registry' when the guardianship of its grantor ended. At most one
-- delegation per patient and delegate is in force: the store revokes the
-- previous one, under a lock on the patient row, before granting anew.
CREATE TABLE delegations (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id           integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    delegate_fiscal_code text        NOT NULL CHECK (delegate_fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    granted_by           text        NOT NULL CHECK (granted_by ~ '^[A-Z0-9]{16}$'),
    granted_as           text        NOT NULL CHECK (granted_as IN ('self', 'parent', 'tutor')),
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL CHECK (expires_at > created_at),
    revoked_at           timestamptz,
    revoked_by           text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX delegations_patient ON delegations (patient_id, created_at);
-- A delegate's delegations, for the rules and for "acting for".
CREATE INDEX delegations_delegate ON delegations (delegate_fiscal_code) WHERE revoked_at IS NULL;
