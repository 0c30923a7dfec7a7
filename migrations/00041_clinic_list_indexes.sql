-- +goose Up
-- Index-only walks for the clinic list (package taccuino/summaries,
-- Store.List). A page walks patient_summaries_order from the top and, for
-- each summary, checks that the caller may see the patient (the query of
-- consent.Store.VisibleSQL): the third-party consent granted, the
-- patient's fiscal code, the care relationship naming the caller in
-- force. A page deep in the list checks every summary before it, so each
-- check must be a few index pages: the indexes below carry every column
-- the walk and the checks read, and PostgreSQL answers them from the index
-- alone (no heap page per row) while the visibility map says so.

-- The list's order, with the flags it returns.
DROP INDEX patient_summaries_order;
CREATE INDEX patient_summaries_order ON patient_summaries
    (category, severity DESC, last_reading_at DESC NULLS LAST, patient_id) INCLUDE (flags);

-- The patients who granted the third-party consent.
CREATE INDEX third_party_consents_granted ON third_party_consents (patient_id) WHERE granted;

-- A patient's fiscal code by id (care relationships name patients by it).
CREATE INDEX patients_id_fiscal_code ON patients (id) INCLUDE (fiscal_code);

-- A patient's care relationships with their periods.
CREATE INDEX care_relationships_patient_period ON care_relationships
    (patient_fiscal_code, kind, party) INCLUDE (valid_from, valid_to);
