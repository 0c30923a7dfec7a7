-- +goose Up
-- The figures of both periods are stored as the text summaries.Updater
-- wrote (json) instead of jsonb. They are only ever written and read
-- whole: the clinic list writes them into its answer as they are
-- (reports.encodeClinic), and jsonb turned each of them back into text on
-- every read, 100 documents a page of 50, about a third of the rows'
-- reading CPU in PostgreSQL. json keeps the numbers' digits exactly as
-- Go's encoding/json wrote them (RFC 8259 §6), with no spaces added. The
-- existing rows keep jsonb's text form until their next update; both are
-- the same JSON values.
ALTER TABLE patient_summary_figures
    ALTER COLUMN figures TYPE json USING figures::json,
    ALTER COLUMN prev_figures TYPE json USING prev_figures::json;
