-- +goose Up
-- The Glycemia Risk Index of the current period in the clinic list's row
-- (issue 16; numbers 00050-00059 belong to the glucometrics): the clinic
-- view sorts and filters by it. GRI = 3.0 x %very low + 2.4 x %low + 1.6 x
-- %very high + 0.8 x %high, capped at 100 (Klonoff et al., J Diabetes Sci
-- Technol 2023;17:1226), computed by the updater from the same band
-- percentages as these columns (agp.GRIFromRanges); zone 1-5 for A-E
-- (A up to 20, B up to 40, C up to 60, D up to 80, E above). NULL without
-- readings.
ALTER TABLE patient_summaries
    ADD COLUMN gri      double precision,
    ADD COLUMN gri_zone smallint CHECK (gri_zone BETWEEN 1 AND 5);

-- The summaries written before this migration: the same formula on their
-- band percentages (the updater rewrites every row at its next round).
UPDATE patient_summaries
SET gri = least(100, 3 * very_low + 2.4 * low + 1.6 * very_high + 0.8 * high)
WHERE very_low IS NOT NULL;
UPDATE patient_summaries
SET gri_zone = CASE WHEN gri <= 20 THEN 1 WHEN gri <= 40 THEN 2 WHEN gri <= 60 THEN 3 WHEN gri <= 80 THEN 4 ELSE 5 END
WHERE gri IS NOT NULL;

-- The list sorted by GRI, highest first (an index-only walk, as the
-- attention order's; migration 00041), and the list of one GRI zone in the
-- attention order. The keys are in the all-ascending form of migration
-- 00042 (keyset pages), which replaces the first form of these indexes on
-- databases where this file was applied before it.
CREATE INDEX patient_summaries_gri ON patient_summaries
    ((coalesce(-gri, 'Infinity'::float8)), patient_id)
    INCLUDE (gri, category, severity, last_reading_at, flags, gri_zone);
CREATE INDEX patient_summaries_gri_zone_order ON patient_summaries
    (gri_zone, category, (-severity),
     (coalesce(timestamptz '2100-01-01 00:00:00+00' - last_reading_at, interval '1000000 days')), patient_id)
    INCLUDE (severity, last_reading_at, flags, gri)
    WHERE gri_zone IS NOT NULL;
