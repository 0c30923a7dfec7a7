-- +goose Up
-- What the clinician records about a patient for the AGP report (package
-- taccuino/reports, ClinicalStore): the diabetes type, the therapy, and a
-- free note, shown at the top of the report (HTML and PDF). One row per
-- patient; the last writer and time are kept (every change is also in the
-- patient's access log). Numbers 00070–00079 belong to the report pages.
CREATE TABLE clinical_info (
    patient_id    integer PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    -- Codes of agpdoc.DiabetesTypes and agpdoc.Therapies; '' when not given.
    diabetes_type text NOT NULL DEFAULT ''
        CHECK (diabetes_type IN ('', 'type1', 'type2', 'gestational', 'other')),
    therapy       text NOT NULL DEFAULT ''
        CHECK (therapy IN ('', 'mdi', 'csii', 'aid', 'basal', 'noninsulin', 'lifestyle')),
    note          text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    updated_at    timestamptz NOT NULL,
    -- The clinician who wrote the row last ("role:subject", never a token).
    updated_by    text NOT NULL CHECK (updated_by <> '' AND length(updated_by) <= 200)
);
