-- +goose Up
-- Measurements of the patient's own devices beside the glucose (package
-- cgm/vitals: steps, distance, active energy, sleep stage intervals, heart
-- rate, resting heart rate, blood pressure), stored by cgm/cgmstore with
-- the same rules as readings: one ingestion path, idempotent, revisions
-- kept, a TimescaleDB hypertable where readings are one and native monthly
-- partitions otherwise. Numbers 00090-00099 belong to this area.

-- The sources of a patient's measurements: a device or an app, by the name
-- the export gives it ("Apple Watch di Mario", "iPhone", "Connect") and its
-- class (vitals.Class: 0 other, 1 watch, 2 phone). rank is the patient's
-- own order of sources (1 first; NULL: the default order, watch before
-- phone before the rest), which decides what counts where two sources
-- overlap.
CREATE TABLE vital_sources (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    class      smallint    NOT NULL CHECK (class BETWEEN 0 AND 2),
    device     text        NOT NULL DEFAULT '' CHECK (length(device) <= 200),
    rank       smallint    CHECK (rank > 0),
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    UNIQUE (patient_id, name, class)
);

-- fsecgm_ensure_month_partitions creates the monthly partitions (UTC
-- months) of the natively partitioned table p_parent (range-partitioned on
-- the timestamptz column p_column) covering [p_from, p_to] that do not
-- exist yet, named p_parent_YYYY_MM, moves into each the rows its month
-- has in p_parent_default, and returns their names. It does nothing unless
-- the store's storage is native partitions. Callers are serialised by the
-- same advisory lock as readings_ensure_partitions (00002).
-- +goose StatementBegin
CREATE FUNCTION fsecgm_ensure_month_partitions(p_parent text, p_column text, p_from timestamptz, p_to timestamptz)
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
        RAISE EXCEPTION 'fsecgm_ensure_month_partitions: range % to % is too wide', p_from, p_to;
    END IF;
    PERFORM pg_advisory_xact_lock(1179861831, 1);
    month := date_trunc('month', p_from AT TIME ZONE 'UTC');
    WHILE month <= last LOOP
        part := p_parent || '_' || to_char(month, 'YYYY_MM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            lo := month AT TIME ZONE 'UTC';
            hi := (month + interval '1 month') AT TIME ZONE 'UTC';
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, p_parent);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved', p_parent || '_default', p_column, p_column, part) USING lo, hi;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', p_parent, part,
                           to_char(month, 'YYYY-MM-DD" 00:00:00+00"'),
                           to_char(month + interval '1 month', 'YYYY-MM-DD" 00:00:00+00"'));
            RETURN NEXT part;
        END IF;
        month := month + interval '1 month';
    END LOOP;
END
$fn$;
-- +goose StatementEnd

-- measurements: one row per sample.
--
--   start_at    the start of the interval, or the instant (microseconds)
--   patient_id  patients.id (no foreign key, as for readings: the store
--               locks the patient row FOR KEY SHARE in every ingestion)
--   source_id   vital_sources.id
--   value       in the kind's UCUM unit ({steps}, m, kcal, min for sleep,
--               /min, mm[Hg] systolic)
--   seconds     the interval's length (0 for an instant), at most 48 hours
--   kind        vitals.Kind (1-12)
--   channel     how it arrived (cgmstore.Channel: 1 Apple Health export,
--               2 Google/Fitbit Takeout, 3 FHIR, 4 simulator)
--   value2      the diastolic pressure of a blood pressure, else NULL
--
-- The key is (patient_id, kind, start_at, source_id): two sources may
-- sample the same instant, and both are kept (the summaries merge them by
-- the patient's ranking). About 36 bytes of data a row.
-- +goose StatementBegin
DO $$
DECLARE
    storage text := (SELECT value FROM store_settings WHERE name = 'readings_storage');
BEGIN
    IF storage = 'timescaledb hypertable' THEN
        ------------------------------------------------------------------
        -- TimescaleDB, as for readings (00002, same version requirements:
        -- TimescaleDB 2.13 or later on PostgreSQL 14 or later). It cannot
        -- run on the development machines; each statement is checked
        -- against the documentation cited.
        ------------------------------------------------------------------
        CREATE TABLE measurements (
            start_at   timestamptz      NOT NULL,
            patient_id integer          NOT NULL,
            source_id  integer          NOT NULL,
            value      double precision NOT NULL CHECK (value >= 0 AND value < 'Infinity'),
            seconds    integer          NOT NULL CHECK (seconds BETWEEN 0 AND 172800),
            kind       smallint         NOT NULL CHECK (kind BETWEEN 1 AND 12),
            channel    smallint         NOT NULL CHECK (channel BETWEEN 1 AND 7),
            value2     double precision CHECK ((kind = 12) = (value2 IS NOT NULL))
        );
        -- Chunks of 30 days: measurements are sparser than 1-minute
        -- glucose except heart rate; a chunk of 13,200 patients with a
        -- heart rate every 5 minutes holds about 114 million rows.
        -- https://www.tigerdata.com/docs/reference/timescaledb/hypertables/create_hypertable
        PERFORM create_hypertable('measurements', by_range('start_at', INTERVAL '30 days'),
                                  create_default_indexes => false);
        -- A unique index on a hypertable must include the time column
        -- (https://www.tigerdata.com/docs/use-timescale/latest/hypertables/hypertables-and-unique-indexes),
        -- created before compression is enabled (https://github.com/timescale/timescaledb/pull/5594).
        CREATE UNIQUE INDEX measurements_key ON measurements (patient_id, kind, start_at, source_id);
        -- https://www.tigerdata.com/docs/api/latest/compression/alter_table_compression
        ALTER TABLE measurements SET (timescaledb.compress,
                                      timescaledb.compress_segmentby = 'patient_id',
                                      timescaledb.compress_orderby = 'start_at');
        -- The ingestion writes with COPY, INSERT and UPDATE, never ON
        -- CONFLICT on measurements; compressed chunks take INSERT and, from
        -- TimescaleDB 2.11 on, UPDATE (see 00002).
        -- https://www.tigerdata.com/docs/api/latest/compression/add_compression_policy
        PERFORM add_compression_policy('measurements', compress_after => INTERVAL '30 days');
        ------------------------------------------------------------------
        -- end of the TimescaleDB section
        ------------------------------------------------------------------
    ELSE
        CREATE TABLE measurements (
            start_at   timestamptz      NOT NULL,
            patient_id integer          NOT NULL,
            source_id  integer          NOT NULL,
            value      double precision NOT NULL CHECK (value >= 0 AND value < 'Infinity'),
            seconds    integer          NOT NULL CHECK (seconds BETWEEN 0 AND 172800),
            kind       smallint         NOT NULL CHECK (kind BETWEEN 1 AND 12),
            channel    smallint         NOT NULL CHECK (channel BETWEEN 1 AND 7),
            value2     double precision CHECK ((kind = 12) = (value2 IS NOT NULL))
        ) PARTITION BY RANGE (start_at);
        CREATE UNIQUE INDEX measurements_key ON measurements (patient_id, kind, start_at, source_id);
        CREATE TABLE measurements_default PARTITION OF measurements DEFAULT;
        PERFORM fsecgm_ensure_month_partitions('measurements', 'start_at', now() - interval '12 months', now() + interval '3 months');
    END IF;
END
$$;
-- +goose StatementEnd

COMMENT ON TABLE measurements IS 'Measurements of the patient''s own devices; see migrations/00090_measurements.sql.';

-- A sample that came again with the same key but another value, length or
-- diastolic: the store updates it and keeps what it replaced here.
CREATE TABLE measurement_revisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id  integer          NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind        smallint         NOT NULL,
    start_at    timestamptz      NOT NULL,
    source_id   integer          NOT NULL,
    old_value   double precision NOT NULL,
    old_seconds integer          NOT NULL,
    old_value2  double precision,
    new_value   double precision NOT NULL,
    new_seconds integer          NOT NULL,
    new_value2  double precision,
    channel     smallint         NOT NULL,
    revised_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX measurement_revisions_patient ON measurement_revisions (patient_id, start_at);

-- Per patient and kind: first and last sample and how many, maintained by
-- every ingestion transaction (the only writer), as reading_coverage.
CREATE TABLE measurement_coverage (
    patient_id   integer     NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind         smallint    NOT NULL CHECK (kind BETWEEN 1 AND 12),
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    measurements bigint      NOT NULL CHECK (measurements > 0),
    PRIMARY KEY (patient_id, kind)
) WITH (fillfactor = 70);

-- The patients whose daily summaries of measurements must be recomputed
-- from the local day of since on: written by every ingestion transaction
-- that changes measurements, and when the patient changes the ranking of
-- their sources; consumed by taccuino/summaries (VitalsUpdater).
CREATE TABLE vital_days_dirty (
    patient_id integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    since      timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per patient and local day with measurements: the day's summary
-- (vitals.Day as JSON, exactly what the API and `fsecgm vitals` print) and
-- the number of heart-rate samples its mean is of (to merge days into
-- periods).
CREATE TABLE vital_days (
    patient_id integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    day        date    NOT NULL,
    summary    jsonb   NOT NULL,
    heart_rate_samples integer NOT NULL DEFAULT 0 CHECK (heart_rate_samples >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, day)
);
