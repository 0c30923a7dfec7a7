-- +goose Up
-- What the ingestion path keeps besides the readings themselves.

-- A reading that came again with the same key (patient, kind, instant) but a
-- different value, unit or LO/HI flag: the store updates the reading and
-- keeps the value it replaced here, with when and from which source. value
-- and meta are encoded as in readings (see 00002_readings.sql).
CREATE TABLE reading_revisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id  integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    measured_at timestamptz NOT NULL,
    kind        smallint    NOT NULL,
    old_value   smallint    NOT NULL,
    old_meta    smallint    NOT NULL,
    new_value   smallint    NOT NULL,
    new_meta    smallint    NOT NULL,
    -- the source of the new value (cgmstore.Source)
    source      smallint    NOT NULL,
    revised_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_revisions_patient ON reading_revisions (patient_id, measured_at);

-- Per patient and kind: the first and last reading and how many there are.
-- Maintained by every ingestion transaction (the only writer of readings),
-- so that the latest reading and the coverage of a patient are one index
-- lookup however many years of readings there are. fillfactor leaves room
-- for HOT updates.
CREATE TABLE reading_coverage (
    patient_id integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind       smallint    NOT NULL CHECK (kind BETWEEN 1 AND 4),
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    readings   bigint      NOT NULL CHECK (readings > 0),
    PRIMARY KEY (patient_id, kind)
) WITH (fillfactor = 70);
