-- +goose Up
-- The FHIR resource store of package taccuino/records. Numbers 00030-00039
-- belong to FHIR (records uses 00030-00032).

-- Every resource fsecgm serves through its FHIR API but Patient (made from
-- the patients table): fsecgm's own summaries, reports and sensors (origin
-- 'fsecgm') and what device platforms or laboratories submitted (origin
-- 'submitted', with the submitter: a service's client id, or 'patient'),
-- one row per resource, unique by identifier. A changed resource keeps its
-- id and gets a new version.
--
--   codes            "system|code" of every coding of Resource.code, for
--                    the code search
--   effective_start  the effective time as a half-open range of instants:
--   effective_end    a date-only period ends at the local midnight after
--                    its last day (in the patient's zone); an instant is
--                    [t, t + 1 microsecond)
--   body             the resource's JSON exactly as written or received
--                    (json, not jsonb: member order and digits are kept)
CREATE TABLE fhir_resources (
    resource_type     text NOT NULL CHECK (resource_type IN ('Observation', 'DiagnosticReport', 'Device')),
    id                text NOT NULL CHECK (id ~ '^[A-Za-z0-9.-]{1,64}$'),
    patient_id        integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    identifier_system text NOT NULL CHECK (identifier_system <> '' AND length(identifier_system) <= 1024),
    identifier_value  text NOT NULL CHECK (identifier_value <> '' AND length(identifier_value) <= 1024),
    codes             text[] NOT NULL DEFAULT '{}',
    effective_start   timestamptz,
    effective_end     timestamptz,
    origin            text NOT NULL CHECK (origin IN ('fsecgm', 'submitted')),
    submitter         text NOT NULL DEFAULT '' CHECK (length(submitter) <= 256),
    body              json NOT NULL,
    -- SHA-256 of what makes the resource what it is (for fsecgm's own, the
    -- body without its issued instant): an upsert with the same digest
    -- changes nothing
    digest            text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
    last_updated      timestamptz NOT NULL,
    PRIMARY KEY (resource_type, id),
    UNIQUE (identifier_system, identifier_value),
    CHECK ((effective_start IS NULL) = (effective_end IS NULL) AND effective_end > effective_start),
    CHECK ((origin = 'submitted') = (submitter <> ''))
);
-- Searches are always for one patient and one type, in date order.
CREATE INDEX fhir_resources_patient ON fhir_resources (patient_id, resource_type, origin, effective_start, id);

-- The identifiers submitters gave to what is not kept as a resource body:
-- sensor readings (stored in the readings store, found by patient, instant
-- and kind) and Devices (stored by serial). They let a conditional create
-- (ifNoneExist) find what an earlier submission created, and a read find
-- the reading again by the id its Location named.
CREATE TABLE fhir_client_identifiers (
    identifier_system text NOT NULL CHECK (identifier_system <> '' AND length(identifier_system) <= 1024),
    identifier_value  text NOT NULL CHECK (identifier_value <> '' AND length(identifier_value) <= 1024),
    resource_type     text NOT NULL CHECK (resource_type IN ('Observation', 'Device')),
    resource_id       text NOT NULL CHECK (resource_id ~ '^[A-Za-z0-9.-]{1,64}$'),
    patient_id        integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- a sensor reading's key in the readings store and its LOINC code
    reading_at        timestamptz,
    reading_kind      smallint,
    reading_code      text,
    submitter         text NOT NULL CHECK (submitter <> '' AND length(submitter) <= 256),
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (identifier_system, identifier_value),
    CHECK ((resource_type = 'Observation') = (reading_at IS NOT NULL AND reading_kind IS NOT NULL AND reading_code IS NOT NULL))
);
CREATE INDEX fhir_client_identifiers_resource ON fhir_client_identifiers (resource_type, resource_id);
