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
-- attention order's; migration 00041).
CREATE INDEX patient_summaries_gri ON patient_summaries
    (gri DESC NULLS LAST, patient_id) INCLUDE (category, severity, flags, gri_zone);
-- The list of one GRI zone in the attention order.
CREATE INDEX patient_summaries_gri_zone_order ON patient_summaries
    (gri_zone, category, severity DESC, last_reading_at DESC NULLS LAST, patient_id) INCLUDE (flags)
    WHERE gri_zone IS NOT NULL;

