package fhirapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records/recordtest/fhircheck"
)

// responses returns one answer of every kind the API gives, by name:
// CapabilityStatement, each read, each searchset, the transaction-response
// of a submission, a created laboratory result, and OperationOutcomes of
// every error status.
func responses(t *testing.T, f *fixture) map[string][]byte {
	t.Helper()
	e := f.e
	out := map[string][]byte{}
	get := func(name, path, token string, status int) {
		r := e.get(path, token)
		if r.status != status {
			t.Fatalf("%s: %s: %d, want %d: %s", name, path, r.status, status, r.body)
		}
		out[name] = r.body
	}
	pq := "patient=Patient/" + f.pid
	get("metadata", "/fhir/metadata", "", 200)
	get("patient", "/fhir/Patient/"+f.pid, f.token, 200)
	get("patient-searchset", "/fhir/Patient?identifier="+url.QueryEscape(searchValues["identifier"]), f.token, 200)
	get("observation-searchset", "/fhir/Observation?_count=100&"+pq, f.token, 200)
	get("observation-searchset-paged", "/fhir/Observation?_count=5&_offset=5&_sort=-date&"+pq, f.token, 200)
	get("report-searchset", "/fhir/DiagnosticReport?"+pq, f.token, 200)
	get("report", "/fhir/DiagnosticReport/"+f.ids["DiagnosticReport"], f.token, 200)
	get("device", "/fhir/Device/"+f.ids["Device"], f.token, 200)
	get("codesystem", "/fhir/CodeSystem/"+fhir.LocalCodeSystemID, "", 200)
	get("reading", "/fhir/Observation/"+f.readingID, f.token, 200)
	_, ids, _ := entries(t, e.get("/fhir/Observation?"+pq+"&code="+url.QueryEscape(fhir.LOINC+"|"+fhir.CodeSummary), f.token))
	get("summary-panel", "/fhir/"+ids[0], f.token, 200)
	_, ids, _ = entries(t, e.get("/fhir/Observation?"+pq+"&code="+url.QueryEscape(fhir.LocalCodeSystem+"|"+fhir.LocalHypoLevel1Episodes), f.token))
	get("local-figure", "/fhir/"+ids[0], f.token, 200)
	get("outcome-400", "/fhir/Observation?"+pq+"&date=2024-13-01", f.token, 400)
	get("outcome-401", "/fhir/Observation?"+pq, "", 401)
	get("outcome-403", "/fhir/Observation?"+pq, e.citizen(testCF(901)), 403)
	get("outcome-404", "/fhir/Observation/none", f.token, 404)
	get("outcome-405", "/fhir/Device?"+pq, f.token, 405)
	get("outcome-406", "/fhir/metadata?_format=xml", "", 406)

	p, err := e.store.PatientByPublicID(t.Context(), f.pid)
	if err != nil {
		t.Fatal(err)
	}
	body := readingsBundle(t, p, readings(time.Date(2024, 5, 3, 8, 0, 0, 0, time.UTC), 4))
	var b map[string]any
	_ = json.Unmarshal(body, &b)
	b["entry"].([]any)[3].(map[string]any)["resource"].(map[string]any)["valueQuantity"].(map[string]any)["code"] = "mmol/L"
	body, _ = json.Marshal(b)
	r := e.do("POST", "/fhir/$submit-cgm-bundle", f.token, body)
	if r.status != 200 {
		t.Fatalf("submission: %d %s", r.status, r.body)
	}
	out["transaction-response"] = r.body
	r = e.do("POST", "/fhir/$submit-cgm-bundle", f.token, []byte(`{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T10:00:00Z","entry":[]}`))
	out["outcome-submission-400"] = r.body
	lab, _ := json.Marshal(hba1c("Patient/"+f.pid, "7.4", "%", "VAL-1"))
	r = e.do("POST", "/fhir/Observation", f.token, lab)
	if r.status != 201 {
		t.Fatalf("lab create: %d %s", r.status, r.body)
	}
	out["lab-created"] = r.body
	bad, _ := json.Marshal(hba1c("Patient/"+f.pid, "74", "%", "VAL-2"))
	out["outcome-422"] = e.do("POST", "/fhir/Observation", f.token, bad).body
	return out
}

// TestResponsesAreValid checks every kind of answer with two validators
// that are not fsecgm's: Google's R4 parser (structure, always) and the
// project's node validator (R4 plus the CGM IG's profiles, when ../shared
// is there); the IG resources must fall under a CGM profile and pass it.
func TestResponsesAreValid(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	all := responses(t, f)
	r4 := fhircheck.NewR4(t)
	for name, b := range all {
		if err := r4.Validate(b); err != nil {
			t.Errorf("%s is not valid R4: %v\n%s", name, err, b)
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d responses", len(all))
	}
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the IG profile validation (node) did not run")
	}
	node := fhircheck.NewNode(t)
	code, rep := node.Validate(t, nil, all)
	if code != 0 || !rep.Valid {
		t.Fatalf("node validator: exit %d:\n%s", code, strings.Join(rep.Errors(), "\n"))
	}
	if n := rep.Profiled(); n < 20 {
		t.Errorf("only %d resources were checked against a CGM profile", n)
	}
	ig := map[string][]byte{}
	for _, k := range []string{"summary-panel", "reading", "device", "report"} {
		ig[k] = all[k]
	}
	code, rep = node.Validate(t, []string{"--require-profile"}, ig)
	if code != 0 || !rep.Valid || rep.Profiled() != len(ig) {
		t.Fatalf("node validator --require-profile: exit %d, %d profiled:\n%s", code, rep.Profiled(), strings.Join(rep.Errors(), "\n"))
	}
}
