-- +goose Up
-- Glucose readings: a TimescaleDB hypertable where the timescaledb extension
-- can be used, a natively range-partitioned table everywhere else. The choice
-- is made here, once, and recorded in store_settings ('readings_storage').
--
-- A row is 16 bytes of data (24 with the tuple header, 4 more for its line
-- pointer) and its key is 24 bytes in the index (28 with the line pointer):
-- about 73 bytes per reading in all, measured by make bench-ingest.
--
--   measured_at  the instant of the reading (microseconds, UTC)
--   patient_id   patients.id (no foreign key: checking it row by row would
--                slow bulk loads; the store locks the patient row FOR KEY
--                SHARE in every ingestion transaction instead)
--   value        the glucose in the unit the device reported, as an
--                integer: tenths of mg/dL, or hundredths of mmol/L when the
--                mmol/L bit of meta is set
--   meta         bits 0-2 kind (1 historic, 2 scan, 3 current, 4 strip),
--                3-5 source (cgmstore.Source), 6 LO, 7 HI, 8 unit mmol/L,
--                9-11 trend (0-5); bits 12-15 are zero
--
-- The key is (patient_id, kind, measured_at), with kind = meta & 7. Putting
-- the 4-byte kind before the timestamp fills the alignment gap after
-- patient_id, so an index entry is 24 bytes instead of 32.

CREATE TABLE store_settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- readings_ensure_partitions creates the monthly partitions (UTC months) of
-- readings covering [p_from, p_to] that do not exist yet, and returns their
-- names. Rows already in the default partition for such a month are moved
-- into the new partition. On TimescaleDB it does nothing (chunks are created
-- on insert). Concurrent callers are serialised by an advisory lock.
-- +goose StatementBegin
CREATE FUNCTION readings_ensure_partitions(p_from timestamptz, p_to timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
    month timestamp; -- first instant of a month, UTC wall time
    last  timestamp := date_trunc('month', p_to AT TIME ZONE 'UTC');
    part  text;
    lo    timestamptz;
    hi    timestamptz;
BEGIN
    IF (SELECT value FROM store_settings WHERE name = 'readings_storage') IS DISTINCT FROM 'native partitions'
       OR p_from > p_to THEN
        RETURN;
    END IF;
    IF p_to - p_from > interval '100 years' THEN
        RAISE EXCEPTION 'readings_ensure_partitions: range % to % is too wide', p_from, p_to;
    END IF;
    -- 1179861831, 1: the fsecgm lock class and the partitions lock
    PERFORM pg_advisory_xact_lock(1179861831, 1);
    month := date_trunc('month', p_from AT TIME ZONE 'UTC');
    WHILE month <= last LOOP
        part := 'readings_' || to_char(month, 'YYYY_MM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            lo := month AT TIME ZONE 'UTC';
            hi := (month + interval '1 month') AT TIME ZONE 'UTC';
            EXECUTE format('CREATE TABLE %I (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('WITH moved AS (DELETE FROM readings_default WHERE measured_at >= $1 AND measured_at < $2 RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
            EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part,
                           to_char(month, 'YYYY-MM-DD" 00:00:00+00"'),
                           to_char(month + interval '1 month', 'YYYY-MM-DD" 00:00:00+00"'));
            RETURN NEXT part;
        END IF;
        month := month + interval '1 month';
    END LOOP;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    -- An operator can force the choice for a database:
    --   ALTER DATABASE fsecgm SET fsecgm.readings_storage = 'native';  -- or 'timescaledb'
    wanted text := coalesce(nullif(current_setting('fsecgm.readings_storage', true), ''), 'auto');
    installed boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
    -- TimescaleDB can be created only when it is installed on the server
    -- and preloaded: CREATE EXTENSION fails with 'extension "timescaledb"
    -- must be preloaded' otherwise (https://github.com/timescale/timescaledb/issues/1700,
    -- https://www.tigerdata.com/docs/deploy/self-hosted/configuration).
    usable boolean := installed OR (
        EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries') ~ '(^|[\s,/"])timescaledb');
    timescale boolean;
BEGIN
    IF wanted NOT IN ('auto', 'native', 'timescaledb') THEN
        RAISE EXCEPTION 'fsecgm.readings_storage is %, want auto, native or timescaledb', wanted;
    END IF;
    IF wanted = 'timescaledb' AND NOT usable THEN
        RAISE EXCEPTION 'fsecgm.readings_storage is timescaledb, but the timescaledb extension is not available on this server (install it and add it to shared_preload_libraries)';
    END IF;
    timescale := CASE wanted WHEN 'auto' THEN usable ELSE wanted = 'timescaledb' END;

    IF timescale THEN
        ------------------------------------------------------------------
        -- TimescaleDB: the only TimescaleDB-specific SQL of fsecgm.
        -- It cannot run on the development machines (no TimescaleDB);
        -- each statement is checked against the TimescaleDB docs cited.
        -- Needs TimescaleDB 2.13 or later (by_range) on PostgreSQL 14 or later.
        ------------------------------------------------------------------
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        CREATE TABLE readings (
            measured_at timestamptz NOT NULL,
            patient_id  integer     NOT NULL,
            value       smallint    NOT NULL CHECK (value > 0),
            meta        smallint    NOT NULL CHECK (meta & 7 BETWEEN 1 AND 4 AND meta >> 12 = 0)
        );
        -- Chunks of 7 days: at 13,200 patients and 96 readings a day a chunk
        -- holds about 8.9 million rows (~650 MB before compression). Default
        -- indexes are off: the unique key below serves every read.
        -- https://www.tigerdata.com/docs/reference/timescaledb/hypertables/create_hypertable
        PERFORM create_hypertable('readings', by_range('measured_at', INTERVAL '7 days'),
                                  create_default_indexes => false);
        -- A unique index on a hypertable must include the time column.
        -- https://www.tigerdata.com/docs/use-timescale/latest/hypertables/hypertables-and-unique-indexes
        -- It is created before compression is enabled: older releases
        -- refuse unique indexes on hypertables with compression
        -- (https://github.com/timescale/timescaledb/pull/5594).
        CREATE UNIQUE INDEX readings_key ON readings (patient_id, (meta & 7), measured_at);
        -- Compression segmented by patient, ordered by time: a patient's
        -- readings of a chunk become one compressed batch.
        -- https://www.tigerdata.com/docs/api/latest/compression/alter_table_compression
        ALTER TABLE readings SET (timescaledb.compress,
                                  timescaledb.compress_segmentby = 'patient_id',
                                  timescaledb.compress_orderby = 'measured_at');
        -- Compress chunks once their data is 30 days old: late LibreView
        -- uploads of the last weeks still land in uncompressed chunks.
        -- Older backfills write into compressed chunks: the store's
        -- ingestion uses COPY, plain INSERT and UPDATE (no ON CONFLICT on
        -- readings). Compressed chunks accept INSERT, with unique keys
        -- checked against the compressed rows, and UPDATE from 2.11 on, on
        -- PostgreSQL 14 or later (release notes of 2.11.0,
        -- https://github.com/timescale/timescaledb/pull/5695;
        -- https://github.com/timescale/docs/issues/2639).
        -- https://www.tigerdata.com/docs/api/latest/compression/add_compression_policy
        PERFORM add_compression_policy('readings', compress_after => INTERVAL '30 days');
        INSERT INTO store_settings (name, value) VALUES ('readings_storage', 'timescaledb hypertable');
        ------------------------------------------------------------------
        -- end of the TimescaleDB section
        ------------------------------------------------------------------
    ELSE
        -- Native partitioning: monthly partitions (UTC), created ahead of
        -- time by readings_ensure_partitions (at migration, by the store
        -- before each batch, and by the daily job), plus a default
        -- partition so that no insert can ever fail for want of one.
        CREATE TABLE readings (
            measured_at timestamptz NOT NULL,
            patient_id  integer     NOT NULL,
            value       smallint    NOT NULL CHECK (value > 0),
            meta        smallint    NOT NULL CHECK (meta & 7 BETWEEN 1 AND 4 AND meta >> 12 = 0)
        ) PARTITION BY RANGE (measured_at);
        -- fillfactor 100: readings arrive in time order per patient and
        -- kind, and btree splits such "localized monotonic" insertions
        -- leaving the left page full, so no free space is needed.
        CREATE UNIQUE INDEX readings_key ON readings (patient_id, (meta & 7), measured_at) WITH (fillfactor = 100);
        CREATE TABLE readings_default PARTITION OF readings DEFAULT;
        INSERT INTO store_settings (name, value) VALUES ('readings_storage', 'native partitions');
        PERFORM readings_ensure_partitions(now() - interval '12 months', now() + interval '3 months');
    END IF;
END
$$;
-- +goose StatementEnd

COMMENT ON TABLE readings IS 'Glucose readings; see migrations/00002_readings.sql for the encoding of value and meta.';
