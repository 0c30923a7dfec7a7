package fhir

import (
	"bytes"
	"fmt"
)

// summaryReport returns the cgm-summary-pdf DiagnosticReport of a summary
// context; panel, when not nil, is the summary Observation it results in.
func summaryReport(c *summaryContext, pdf []byte, panel *Observation) (*DiagnosticReport, error) {
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, fmt.Errorf("fhir: summary report: the content is not a PDF (no %%PDF- header)")
	}
	k := key("diagnostic-report", c.patient, LOINC+"|"+CodeSummary, c.period.Start, c.period.End)
	r := &DiagnosticReport{
		ID:         idOf(k),
		Meta:       &Meta{Profile: []string{ProfileSummaryPDF}},
		Identifier: []Identifier{{System: c.base + identifierReport, Value: k}},
		Status:     "final",
		// The IG mandates no category; its example uses v2-0074 LAB, as
		// does its suggested SMART scope (DiagnosticReport.cu?category=LAB).
		Category:        []CodeableConcept{{Coding: []Coding{{System: DiagnosticServiceSection, Code: "LAB", Display: "Laboratory"}}}},
		Code:            loinc(CodeSummary),
		Subject:         patientRef(c.patient),
		EffectivePeriod: &Period{Start: c.period.Start, End: c.period.End},
		Issued:          c.issued,
		PresentedForm: []Attachment{{
			ContentType: "application/pdf",
			Data:        pdf,
			Title:       "AGP " + c.period.Start + "/" + c.period.End,
		}},
	}
	if panel != nil {
		r.Result = []Reference{ref(panel)}
	}
	return r, nil
}

// SummaryReport returns the AGP report PDF of a summary as the IG's
// cgm-summary-pdf DiagnosticReport (LOINC 107931-8): presentedForm with the
// PDF in line (contentType application/pdf), effectivePeriod as in
// [SummaryBundle], and result referencing the summary panel Observation
// when the report has one (the same deterministic id SummaryBundle gives
// it); without a summary (ErrNoSummary) the DiagnosticReport has no result,
// which the profile allows (0..*). Its identifier is derived like the
// Observations' (system base/identifier/diagnostic-report).
func SummaryReport(in SummaryInput, pdf []byte) (DiagnosticReport, error) {
	c, err := newSummaryContext(in)
	if err != nil {
		return DiagnosticReport{}, err
	}
	var panel *Observation
	if obs, err := summaryObservations(c, in.Report); err == nil {
		panel = obs[0]
	}
	r, err := summaryReport(c, pdf, panel)
	if err != nil {
		return DiagnosticReport{}, err
	}
	return *r, nil
}
