-- +goose Up
-- Who may act for a patient or take care of them, as loaded by the
-- regional registry service. Both tables name the patient by fiscal code,
-- not by patients.id: the registry speaks of every resident, and a parent
-- must be known as such before connecting their child's sensor creates the
-- child's patient row. Periods are [valid_from, valid_to); NULL is open.

-- A parent or tutor of a patient. A parent acts for the patient until the
-- patient's 18th birthday, a tutor while the row is in force.
CREATE TABLE guardianships (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('parent', 'tutor')),
    guardian_fiscal_code text NOT NULL CHECK (guardian_fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    patient_fiscal_code  text NOT NULL CHECK (patient_fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    valid_from           timestamptz,
    valid_to             timestamptz,
    source               text NOT NULL DEFAULT '' CHECK (length(source) <= 64),
    updated_at           timestamptz NOT NULL,
    CHECK (valid_to > valid_from),
    CHECK (guardian_fiscal_code <> patient_fiscal_code),
    -- the natural key; it also serves the guardian's lookups
    UNIQUE (guardian_fiscal_code, patient_fiscal_code, kind)
);
CREATE INDEX guardianships_patient ON guardianships (patient_fiscal_code);

-- A care relationship: the patient's MMG or PLS (party = the
-- practitioner's fiscal code) or a diabetology centre (party = the
-- organization id carried by its diabetologists' tokens).
CREATE TABLE care_relationships (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_fiscal_code text NOT NULL CHECK (patient_fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    kind                text NOT NULL CHECK (kind IN ('mmg', 'pls', 'diabetology')),
    party               text NOT NULL CHECK (party <> '' AND length(party) <= 64),
    valid_from          timestamptz,
    valid_to            timestamptz,
    source              text NOT NULL DEFAULT '' CHECK (length(source) <= 64),
    updated_at          timestamptz NOT NULL,
    CHECK (valid_to > valid_from),
    CHECK (kind = 'diabetology' OR party ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    -- the natural key; it also serves the rules' lookup for one patient
    UNIQUE (patient_fiscal_code, kind, party)
);
-- "The patients a practitioner may see": one index range per practitioner
-- (or centre), covering the columns the query needs.
CREATE INDEX care_relationships_party ON care_relationships (kind, party)
    INCLUDE (patient_fiscal_code, valid_from, valid_to);
