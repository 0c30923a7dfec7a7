-- +goose Up
-- Compressed history on plain PostgreSQL: readings older than a configured
-- age (30 days by default) are moved by a maintenance job
-- (cgmstore.Store.CompactHistory) from readings into one row per patient,
-- kind and UTC day. On TimescaleDB the hypertable's own compression policy
-- (00002_readings.sql) does this instead: the table stays empty there and
-- the job does nothing.
--
-- A reading is in exactly one of the two forms: the job deletes a day's
-- rows from readings and inserts its compact row in one transaction, and a
-- write that touches a compact day (a late upload, a revision, a removal)
-- first moves that day back into readings in the writing transaction,
-- under the patient's ingestion lock (as TimescaleDB decompresses a
-- segment); the job compacts it again later. Every read of the store reads
-- both forms.
--
--   patient_id   patients.id (no foreign key, as in readings)
--   kind         the readings' kind (meta & 7 of readings)
--   day          the UTC day of the readings
--   first_at, last_at, n
--                the first and last instant and the number of readings,
--                for the coverage of a patient (reading_coverage)
--   data         the readings, encoded as documented in
--                cgm/cgmstore/compact.go (version 1: run-length time steps,
--                value differences and meta runs as varints, about one byte
--                per regular reading)
--
-- Columns are ordered so that the fixed part needs no padding (32 bytes).
CREATE TABLE readings_compact (
    patient_id integer     NOT NULL,
    day        date        NOT NULL,
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    n          integer     NOT NULL CHECK (n > 0),
    kind       smallint    NOT NULL CHECK (kind BETWEEN 1 AND 4),
    data       bytea       NOT NULL,
    PRIMARY KEY (patient_id, kind, day),
    CHECK (first_at <= last_at)
);

-- The data stays in the row (STORAGE MAIN: compressed when the row is over
-- PostgreSQL's TOAST threshold of about 2 kB, as a day of 1-minute
-- readings is, and moved out of line only past about 8 kB), so that
-- reading a day is one heap fetch. The compression is lz4 where the server
-- was built with it (PostgreSQL 14 or later, --with-lz4), pglz otherwise.
-- https://www.postgresql.org/docs/15/storage-toast.html
-- https://www.postgresql.org/docs/15/sql-altertable.html (SET COMPRESSION)
ALTER TABLE readings_compact ALTER COLUMN data SET STORAGE MAIN;

-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE 'ALTER TABLE readings_compact ALTER COLUMN data SET COMPRESSION lz4';
    INSERT INTO store_settings (name, value) VALUES ('readings_compact_compression', 'lz4');
EXCEPTION
    -- 0A000: "compression method lz4 not supported" (server built without
    -- lz4); 42601: PostgreSQL 13, which has no SET COMPRESSION.
    WHEN feature_not_supported OR syntax_error THEN
        INSERT INTO store_settings (name, value) VALUES ('readings_compact_compression', 'pglz');
END
$$;
-- +goose StatementEnd

-- plain_from: no reading of this patient and kind before this instant is
-- in the readings table (they are all compact), so that the job looks only
-- at the days from here to its cutoff. A lower bound, lowered by every
-- write of an older reading into readings; NULL means first_at.
ALTER TABLE reading_coverage ADD COLUMN plain_from timestamptz;

COMMENT ON TABLE readings_compact IS 'Glucose readings older than the compaction age, one row per patient, kind and UTC day; see migrations/00004_readings_compact.sql.';
