-- +goose Up
-- Patients and the devices (sensors, readers) their readings come from.
-- Numbers 00001-00009 belong to the readings store (cgm/cgmstore).

-- A patient. id is the compact internal key that the readings carry; it is
-- never shown outside the database. public_id is the opaque identifier used
-- in URLs and APIs (16 random bytes, hex). The codice fiscale identifies the
-- patient in the FSE: its format is checked here, its check character by
-- cgm/codicefiscale before every insert.
CREATE TABLE patients (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
    fiscal_code text NOT NULL UNIQUE CHECK (fiscal_code ~
        '^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$'),
    -- IANA zone in which the patient's days and times of day are read
    -- (validated by the store with time.LoadLocation).
    time_zone   text NOT NULL DEFAULT 'Europe/Rome' CHECK (time_zone <> '' AND length(time_zone) <= 64),
    birth_date  date,
    given_name  text,
    family_name text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A sensor or reader of a patient. Readings do not carry their device (that
-- would double the row): a reading's device is the one whose wear window,
-- [coalesce(activated_at, first_seen), last_seen], covers the reading's
-- instant; when windows overlap, the most recently started one.
CREATE TABLE devices (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id   integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    serial       text NOT NULL CHECK (serial <> '' AND length(serial) <= 64),
    model        text NOT NULL DEFAULT '',
    -- source that first reported the device (cgmstore.Source)
    source       smallint NOT NULL CHECK (source BETWEEN 1 AND 7),
    activated_at timestamptz,
    first_seen   timestamptz,
    last_seen    timestamptz,
    UNIQUE (patient_id, serial)
);
