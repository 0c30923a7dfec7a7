-- +goose Up
-- The patient's opposition to the secondary use of their glucose data
-- (GDPR art. 21; the FSE's purposes of government and research, D.M. 7
-- settembre 2023): a choice of the taccuino beside the third-party
-- consent, under the same rules (package taccuino/consent,
-- SetSecondaryUseOpposition). No row means no opposition recorded. An
-- opposed patient is left out of the population view and of every study
-- export (package taccuino/population), from the moment the choice
-- commits: the patient's pseudonymised rows are deleted in the same
-- transaction.
CREATE TABLE secondary_use_oppositions (
    patient_id integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    opposed    boolean     NOT NULL,
    changed_at timestamptz NOT NULL
);

-- Every change, with who made it and on what basis (self, parent, tutor).
CREATE TABLE secondary_use_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    opposed    boolean     NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_by text        NOT NULL CHECK (changed_by ~ '^[A-Z0-9]{16}$'),
    changed_as text        NOT NULL CHECK (changed_as IN ('self', 'parent', 'tutor'))
);
CREATE INDEX secondary_use_changes_patient ON secondary_use_changes (patient_id, changed_at, id);

-- The analyst (auth.RoleAnalyst) is refused every patient route, and the
-- refusals are logged: the access log and the probes know the role.
ALTER TABLE access_log DROP CONSTRAINT access_log_actor_role_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_actor_role_check
    CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service', 'operator', 'analyst'));
ALTER TABLE access_probes DROP CONSTRAINT access_probes_actor_role_check;
ALTER TABLE access_probes ADD CONSTRAINT access_probes_actor_role_check
    CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service', 'analyst'));
