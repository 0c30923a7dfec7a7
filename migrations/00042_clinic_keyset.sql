-- +goose Up
-- Keyset pages of the clinic list (issue 20; package taccuino/summaries,
-- Store.List): a page after the second starts where the one before ended
-- instead of reading and skipping every row before it (OFFSET: "the rows
-- skipped by an OFFSET clause still have to be computed inside the
-- server", PostgreSQL 15 documentation, section 7.6), so that page 20
-- costs what page 1 costs. A page starts with a row comparison
-- (key columns) > (the previous page's last key) (section 9.24.5), which
-- a B-tree answers as the start of its range only when every key column
-- is sorted the same way; the list's documented order mixes directions (category ascending,
-- severity and the last reading descending, the patient ascending), so
-- the indexes below hold the descending keys negated:
--
--   -severity                                     highest severity first
--   coalesce(timestamptz '2100-01-01 00:00:00+00' - last_reading_at,
--            interval '1000000 days')              most recent reading first, none last
--   coalesce(-gri, 'Infinity')                    highest GRI first, none last
--
-- Every expression is immutable (float8um, timestamptz_mi, constants), and
-- Store.List orders and compares with exactly these expressions (an index
-- on an expression is used only for that expression; section 11.7). The
-- INCLUDE columns keep the walks index-only, as in migration 00041.

DROP INDEX patient_summaries_order;
CREATE INDEX patient_summaries_order ON patient_summaries
    (category, (-severity),
     (coalesce(timestamptz '2100-01-01 00:00:00+00' - last_reading_at, interval '1000000 days')), patient_id)
    INCLUDE (severity, last_reading_at, flags);

-- The GRI's indexes (migration 00050) take the same form. On a database
-- created before this migration, 00050 was applied first and its indexes
-- are replaced here; on a new one this runs before 00050, which creates
-- them in this form itself.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'patient_summaries'::regclass
               AND attname = 'gri' AND NOT attisdropped) THEN
        DROP INDEX IF EXISTS patient_summaries_gri;
        CREATE INDEX patient_summaries_gri ON patient_summaries
            ((coalesce(-gri, 'Infinity'::float8)), patient_id)
            INCLUDE (gri, category, severity, last_reading_at, flags, gri_zone);
        DROP INDEX IF EXISTS patient_summaries_gri_zone_order;
        CREATE INDEX patient_summaries_gri_zone_order ON patient_summaries
            (gri_zone, category, (-severity),
             (coalesce(timestamptz '2100-01-01 00:00:00+00' - last_reading_at, interval '1000000 days')), patient_id)
            INCLUDE (severity, last_reading_at, flags, gri)
            WHERE gri_zone IS NOT NULL;
    END IF;
END
$$;
-- +goose StatementEnd
