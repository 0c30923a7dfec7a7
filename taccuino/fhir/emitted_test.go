package fhir

import (
	"testing"
	"time"
)

// emitted returns every kind of resource this package writes, as JSON, by
// name: the offline command's collection Bundle, the delivered transaction
// Bundle (with the PDF report), a searchset, a readings Bundle, the
// Device, Patient, DiagnosticReport and CodeSystem alone, and the answers to
// a submission (OperationOutcome, transaction-response Bundle).
func emitted(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, typ := range []string{BundleCollection, BundleTransaction, BundleSearchset} {
		in := summaryInput(t, typ)
		if typ == BundleTransaction {
			in.PDF = examplePDF
			in.Issued = time.Date(2024, 6, 1, 7, 59, 0, 0, time.UTC)
		}
		b, err := SummaryBundle(in)
		if err != nil {
			t.Fatal(err)
		}
		out["summary-"+typ] = mustJSON(t, b)
	}
	ts := time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)
	rs := append(exampleReadings(), exampleReadings()[0])
	rs[len(rs)-1].Time = ts.Add(-time.Hour)
	rs[len(rs)-1].Unit, rs[len(rs)-1].Value = 2, 6.7 // mmol/L
	rb, err := ReadingsBundle(ReadingsInput{Base: testBase, Patient: examplePatient(), Devices: []DeviceInfo{exampleSensor()},
		Readings: rs, Type: BundleTransaction, Timestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	out["readings-transaction"] = mustJSON(t, rb)
	dev, err := DeviceResource(testBase, exampleSensor(), "patientExample")
	if err != nil {
		t.Fatal(err)
	}
	out["device"] = mustJSON(t, dev)
	pt, err := PatientResource(testBase, examplePatient())
	if err != nil {
		t.Fatal(err)
	}
	out["patient"] = mustJSON(t, pt)
	rep, err := SummaryReport(summaryInput(t, BundleCollection), examplePDF)
	if err != nil {
		t.Fatal(err)
	}
	out["report"] = mustJSON(t, rep)
	out["codesystem"] = mustJSON(t, LocalCodes())
	out["export-collection"] = streamedExport(t)

	s, err := ParseSubmissionBundle(readFile(t, "testdata/submissions/mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	out["outcome"] = mustJSON(t, OperationOutcomeFor(s.Err()))
	_, refusal := ParseSubmissionBundle([]byte(`{"resourceType":"Bundle","type":"batch"}`))
	out["outcome-refusal"] = mustJSON(t, OperationOutcomeFor(refusal))
	results := make([]EntryResult, len(s.Entries))
	for i, e := range s.Entries {
		switch {
		case e.Rejected():
			results[i] = EntryResult{Status: 400, Issues: e.Issues}
		case e.Skipped():
			results[i] = EntryResult{Status: 200, Issues: e.Issues}
		default:
			results[i] = EntryResult{Status: 201, Location: "Observation/1/_history/1", Etag: `W/"1"`, LastModified: ts}
		}
	}
	out["response"] = mustJSON(t, ResponseBundle(results))
	return out
}
