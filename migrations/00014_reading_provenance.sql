-- +goose Up
-- Several sources, one glucose (issue 17; package cgm/cgmstore). A reading
-- row keeps the source that delivered it first in three bits of meta
-- (00002, 00009: all eight codes used). When another source delivers the
-- same reading again — the same instant, or within a minute with the same
-- glucose (LibreLinkUp and xDrip+ reading the same Libre sensor) — the row
-- stays one, and the other source is recorded here: per patient, kind,
-- UTC day and source, the set of the row instants it also delivered,
-- encoded as the count then the microsecond offsets from the day's start
-- in increasing order as differences, all varints
-- (cgmstore/provenance.go). Only readings delivered by two sources or
-- more cost a row's share here; a single-source record has no row.
CREATE TABLE reading_provenance (
    patient_id integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind       smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),
    day        date NOT NULL,
    source     smallint NOT NULL CHECK (source BETWEEN 1 AND 32767),
    instants   bytea NOT NULL,
    PRIMARY KEY (patient_id, kind, day, source)
);

-- Two sensors worn together stay two series; the statistics read the
-- patient's primary one (cgmstore.Store.Readings): the readings its source
-- delivered, and the other series' only where the primary has no reading
-- within 15 minutes. primary_source is a cgmstore.Source, NULL while no
-- second series was seen (every source is the one series); primary_auto
-- says fsecgm chose it (the source already there when another started to
-- deliver readings in between), not the patient.
ALTER TABLE patients
    ADD COLUMN primary_source smallint CHECK (primary_source BETWEEN 1 AND 32767),
    ADD COLUMN primary_auto boolean NOT NULL DEFAULT false;
