-- +goose Up
-- Per-patient glucose summaries kept up to date as readings arrive, for the
-- clinic list and the summaries published to the record (package
-- taccuino/summaries). Numbers 00040-00049 belong to the reports.
--
-- The updater consumes patient_metrics_dirty (00010, written by every
-- ingestion transaction) and recomputes only the local days the changed
-- readings fall on; the period rows are then merged from the day rows.

-- One row per patient and local calendar day (in patients.time_zone) with
-- readings: the sufficient statistics of the day, which merge exactly into
-- the figures of any period of whole days (see the package documentation).
CREATE TABLE patient_days (
    patient_id    integer NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    day           date    NOT NULL,
    -- historic readings, of which reported in mg/dL, and scans
    readings      integer NOT NULL CHECK (readings >= 0),
    mgdl_readings integer NOT NULL CHECK (mgdl_readings BETWEEN 0 AND readings),
    scans         integer NOT NULL CHECK (scans >= 0),
    -- Σ glucose and Σ (glucose − day mean)², mg/dL
    sum_mgdl      double precision NOT NULL,
    m2_mgdl       double precision NOT NULL,
    -- readings per consensus band under the mg/dL limits (mmol/L values
    -- converted), tight range 70-140 included in target
    very_low      integer NOT NULL,
    low           integer NOT NULL,
    target        integer NOT NULL,
    high          integer NOT NULL,
    very_high     integer NOT NULL,
    tight         integer NOT NULL,
    -- the same six counts under the mmol/L limits, for a day whose
    -- readings are all in mmol/L; NULL otherwise
    mmol_bands    integer[] CHECK (cardinality(mmol_bands) = 6),
    -- first and last historic reading
    first_at      timestamptz,
    last_at       timestamptz,
    -- distinct intervals (minutes) between consecutive historic readings
    -- of the day and their counts; NULL when more than 64 (irregular)
    gaps          double precision[],
    gap_counts    integer[],
    -- distinct 1-, 5- and 15-minute slots from local midnight with a reading
    slots_1       integer NOT NULL,
    slots_5       integer NOT NULL,
    slots_15      integer NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_id, day),
    CHECK ((gaps IS NULL) = (gap_counts IS NULL))
);

-- One row per patient: the figures of the current period (the 14 complete
-- local days ending yesterday in the patient's zone) and of the 14 days
-- before, the TIDE category, and what was last published to the record.
-- Percentages are 0-100, unrounded; NULL where the engine gives null.
CREATE TABLE patient_summaries (
    patient_id          integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    time_zone           text    NOT NULL,
    -- first and last local day (inclusive) of the current period
    period_start        date    NOT NULL,
    period_end          date    NOT NULL CHECK (period_end >= period_start),
    -- the instant the period stops being current: the local midnight
    -- that ends the day after period_end
    stale_after         timestamptz NOT NULL,
    -- current period: some of agp.Report's figures (all of them are in
    -- patient_summary_figures)
    readings            integer NOT NULL,
    mean_mgdl           double precision,
    gmi_percent         double precision,
    cv_percent          double precision,
    very_low            double precision,
    low                 double precision,
    target              double precision,
    high                double precision,
    very_high           double precision,
    active_percent      double precision NOT NULL,
    days_worn           integer NOT NULL,
    sufficient          boolean NOT NULL,
    -- previous period
    prev_target         double precision,
    -- target − prev_target, points (NULL without both)
    tir_delta           double precision,
    -- last historic reading (any day)
    last_reading_at     timestamptz,
    -- TIDE category (summaries.Category), severity and rules met (Flags)
    category            smallint NOT NULL CHECK (category BETWEEN 1 AND 9),
    severity            double precision NOT NULL,
    flags               integer NOT NULL,
    -- hash of the period and its figures; published_key is the hash last
    -- published to the record (taccuino/records), publish_after delays a
    -- retry after a failed publication
    figures_key         text    NOT NULL,
    published_key       text,
    publish_after       timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);
-- The clinic list's order: a page is the first rows of this index that the
-- caller may see.
CREATE INDEX patient_summaries_order ON patient_summaries
    (category, severity DESC, last_reading_at DESC NULLS LAST, patient_id);
-- The summaries whose figures are not yet in the record.
CREATE INDEX patient_summaries_unpublished ON patient_summaries (patient_id)
    WHERE published_key IS DISTINCT FROM figures_key;
-- The rollover: summaries whose period has ended.
CREATE INDEX patient_summaries_stale ON patient_summaries (stale_after);

-- Every figure of both periods (summaries.Figures as JSON, unrounded), kept
-- apart from patient_summaries so that the clinic list's scans of the sort
-- keys read a narrow table; written in the same statement batch.
CREATE TABLE patient_summary_figures (
    patient_id   integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    figures      jsonb NOT NULL,
    prev_figures jsonb NOT NULL
);
