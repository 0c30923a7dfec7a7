-- +goose Up
-- The population view (package taccuino/population): pseudonymised
-- per-patient figures, the statistical releases computed from them with
-- small cells suppressed, the analysts' query log and the study exports'
-- log.
--
-- Only the refresh (population.Refresher) reads the identified tables
-- (patients, residences, care relationships, clinical information, the day
-- rows of the summaries) and writes population_members and
-- population_periods, which name no patient: each row carries a pseudonym,
-- HMAC-SHA256 of the patient's internal id under population_key's secret.
-- The releases are computed from those two tables only, and the analysts'
-- queries read the releases only.

-- The secret of the pseudonyms: one row, made at the first refresh.
-- Replacing it (population.Refresher.Rekey) makes every pseudonym new.
CREATE TABLE population_key (
    id         smallint PRIMARY KEY CHECK (id = 1),
    secret     bytea NOT NULL CHECK (length(secret) = 32),
    created_at timestamptz NOT NULL
);

-- One row per patient in the population view (not opposed to secondary
-- use): the attributes by which the figures are broken down, never an
-- identifier. authority and district are NULL when the residence (or its
-- comune) is not known; diabetes_type '' when not recorded.
CREATE TABLE population_members (
    pseudonym     text PRIMARY KEY CHECK (pseudonym ~ '^[0-9a-f]{32}$'),
    authority     text,
    district      text,
    centres       text[] NOT NULL DEFAULT '{}',
    age_band      text NOT NULL CHECK (age_band <> '' AND length(age_band) <= 16),
    sex           text NOT NULL CHECK (sex IN ('F', 'M')),
    diabetes_type text NOT NULL CHECK (diabetes_type IN ('', 'type1', 'type2', 'gestational', 'other')),
    enrolled_on   date NOT NULL
);

-- A member's figures over one period: kind 1 = the 14 local days ending
-- yesterday, 2 = the 90 days ending yesterday, 3 = a calendar month; start
-- and last are its first and last local days. Percentages 0-100,
-- unrounded; NULL where there is no reading. Written for every member
-- enrolled by the period's end or with readings in it.
CREATE TABLE population_periods (
    kind           smallint NOT NULL CHECK (kind BETWEEN 1 AND 3),
    start          date     NOT NULL,
    last           date     NOT NULL CHECK (last >= start),
    pseudonym      text     NOT NULL REFERENCES population_members (pseudonym) ON DELETE CASCADE,
    readings       integer  NOT NULL CHECK (readings >= 0),
    days_worn      integer  NOT NULL CHECK (days_worn >= 0),
    active_percent double precision NOT NULL,
    sufficient     boolean  NOT NULL,
    tir            double precision,
    tbr            double precision,
    tbr54          double precision,
    tar            double precision,
    tar250         double precision,
    gmi            double precision,
    cv             double precision,
    gri            double precision,
    gri_zone       smallint CHECK (gri_zone BETWEEN 1 AND 5),
    PRIMARY KEY (kind, start, pseudonym)
);
CREATE INDEX population_periods_member ON population_periods (pseudonym);

-- A statistical release: the published figures of one period, every
-- small cell and its complements suppressed (population.Suppress), with
-- the k it was built with. One release per period: a rebuild replaces it.
CREATE TABLE population_releases (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind     smallint NOT NULL CHECK (kind BETWEEN 1 AND 3),
    start    date     NOT NULL,
    last     date     NOT NULL,
    k        integer  NOT NULL CHECK (k >= 2),
    members  integer  NOT NULL,
    built_at timestamptz NOT NULL,
    UNIQUE (kind, start)
);

-- The rows of a release: one per scope (region, asl:CODE, centre:ID),
-- breakdown (total, asl, district, centre, age, sex, type) and category,
-- as published (suppressed figures are absent and marked).
CREATE TABLE population_cells (
    release_id bigint NOT NULL REFERENCES population_releases (id) ON DELETE CASCADE,
    scope      text   NOT NULL,
    dim        text   NOT NULL,
    key        text   NOT NULL,
    figures    jsonb  NOT NULL,
    PRIMARY KEY (release_id, scope, dim, key)
);

-- What the refresh job knows: when it last ran, and whether a change
-- (an opposition, a new k) asks for the releases to be rebuilt.
CREATE TABLE population_state (
    id           smallint PRIMARY KEY CHECK (id = 1),
    dirty        boolean NOT NULL DEFAULT true,
    refreshed_at timestamptz,
    k            integer
);
INSERT INTO population_state (id) VALUES (1);

-- Every query of the population view (API, pages, FHIR MeasureReports)
-- by whom, when, what (scope, period, breakdown: never a patient) and the
-- outcome. Rows are never updated.
CREATE TABLE population_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL,
    actor_role       text NOT NULL CHECK (actor_role IN ('', 'citizen', 'practitioner', 'service', 'analyst')),
    actor_id         text NOT NULL DEFAULT '' CHECK (length(actor_id) <= 256),
    actor_name       text NOT NULL DEFAULT '' CHECK (length(actor_name) <= 256),
    organization     text NOT NULL DEFAULT '' CHECK (length(organization) <= 256),
    population_scope text NOT NULL DEFAULT '' CHECK (length(population_scope) <= 64),
    route            text NOT NULL DEFAULT '' CHECK (length(route) <= 128),
    query            text NOT NULL DEFAULT '' CHECK (length(query) <= 512),
    outcome          text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
    reason           text NOT NULL DEFAULT '' CHECK (length(reason) <= 64),
    request_id       text NOT NULL DEFAULT '' CHECK (length(request_id) <= 128)
);
CREATE INDEX population_audit_at ON population_audit (at);

-- Every de-identified export for a study (fsecgm population export): who
-- made it, for which study and period, how many rows went out, how many
-- were generalised or dropped for k-anonymity, and a fingerprint of the
-- study's key (HMAC of a fixed text under it), never the key.
CREATE TABLE population_exports (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    study           text NOT NULL CHECK (study ~ '^[A-Za-z0-9._-]{1,64}$'),
    operator        text NOT NULL CHECK (operator <> '' AND length(operator) <= 128),
    kind            smallint NOT NULL,
    start           date NOT NULL,
    k               integer NOT NULL,
    rows_out        integer NOT NULL,
    generalised     integer NOT NULL,
    dropped         integer NOT NULL,
    key_fingerprint text NOT NULL CHECK (key_fingerprint ~ '^[0-9a-f]{16}$')
);
