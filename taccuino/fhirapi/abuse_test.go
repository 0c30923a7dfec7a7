package fhirapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"
)

// TestDuplicateMembers: a FHIR body whose JSON names a member twice, at any
// depth, is refused whole (400) with an OperationOutcome whose expression
// is the member's FHIRPath and whose diagnostics give its JSON pointer:
// Go's decoder would keep the last value and another reader the first.
func TestDuplicateMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(20, true)
	tok := e.citizen(p.FiscalCode)
	body := readingsBundle(t, p, readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 4))
	// The fourth reading's value (entry 5), written twice: 400 and then 93.
	i := bytes.Index(body, []byte(`"value":93`))
	if i < 0 {
		t.Fatalf("no value 93 in %s", body)
	}
	dup := append(append(append([]byte{}, body[:i]...), `"value":400,`...), body[i:]...)
	r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, dup)
	code, expr := outcome(t, r, http.StatusBadRequest)
	if code != fhir.IssueStructure || expr != "Bundle.entry[5].resource.valueQuantity.value" ||
		!strings.Contains(string(r.body), "/entry/5/resource/valueQuantity/value") {
		t.Errorf("submission with a repeated member: %s at %s: %s", code, expr, r.body)
	}
	if n := e.count(`SELECT count(*) FROM reading_coverage WHERE patient_id = $1`, p.ID); n != 0 {
		t.Errorf("readings stored from a refused submission: %d coverage rows", n)
	}
	// Top level of a single resource.
	lab := []byte(`{"resourceType":"Observation","status":"final","status":"preliminary","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},` +
		`"subject":{"reference":"Patient/` + p.PublicID + `"},"effectiveDateTime":"2024-05-10","valueQuantity":{"value":6.5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`)
	if code, expr := outcome(t, e.do("POST", "/fhir/Observation", tok, lab), http.StatusBadRequest); code != fhir.IssueStructure || expr != "Observation.status" {
		t.Errorf("Observation with status twice: %s at %s", code, expr)
	}
	// The same name in different objects is fine.
	if r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, body); r.status != http.StatusOK {
		t.Errorf("the bundle without repeats: %d %s", r.status, r.body)
	}
}
