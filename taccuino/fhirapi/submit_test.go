package fhirapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/fhir"

	"github.com/google/go-cmp/cmp"
)

// platform is the base URL of a device platform that submits data.
const platform = "https://platform.example/fhir"

// sensor is the platform's sensor.
var sensor = fhir.DeviceInfo{Serial: "0M0008L4D1E", Manufacturer: "Abbott", Model: "FreeStyle Libre 3"}

// readings returns n historic readings every 5 minutes from at, with an
// LO and an HI among them.
func readings(at time.Time, n int) []cgm.Reading {
	rs := make([]cgm.Reading, n)
	for i := range rs {
		rs[i] = cgm.Reading{Time: at.Add(time.Duration(i) * 5 * time.Minute), Value: float64(90 + i), Unit: cgm.MgDL,
			Kind: cgm.Historic, Device: sensor.Serial}
	}
	rs[1].Value, rs[1].Flags = 40, cgm.FlagLow
	rs[2].Value, rs[2].Flags = 500, cgm.FlagHigh
	return rs
}

// readingsBundle is a platform's submission of readings for patient p.
func readingsBundle(t testing.TB, p cgmstore.Patient, rs []cgm.Reading) []byte {
	t.Helper()
	b, err := fhir.ReadingsBundle(fhir.ReadingsInput{Base: platform, Patient: fhir.PatientInfo{ID: "plat-1", FiscalCode: p.FiscalCode},
		Devices: []fhir.DeviceInfo{sensor}, Readings: rs, Type: fhir.BundleTransaction, Timestamp: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// summaryBundle is a platform's submission of its own summary (the IG's
// profiles only) with its PDF.
func summaryBundle(t testing.TB, p cgmstore.Patient, day time.Time) []byte {
	t.Helper()
	b, err := fhir.SummaryBundle(fhir.SummaryInput{Report: report(t, 9, day), Patient: fhir.PatientInfo{ID: "plat-1", FiscalCode: p.FiscalCode},
		Devices: []fhir.DeviceInfo{sensor}, Base: platform, Type: fhir.BundleTransaction, Timestamp: time.Now(), IGOnly: true, PDF: examplePDF})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hba1c returns a laboratory HbA1c Observation about subject.
func hba1c(subject, value, unit, id string) map[string]any {
	return map[string]any{
		"resourceType": "Observation",
		"identifier":   []any{map[string]any{"system": "https://lab.example/results", "value": id}},
		"status":       "final",
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": fhir.ObservationCategory, "code": "laboratory"}}}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": fhir.LOINC, "code": "4548-4", "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}}},
		"subject":           map[string]any{"reference": subject},
		"effectiveDateTime": "2024-05-10",
		"valueQuantity":     map[string]any{"value": json.Number(value), "unit": unit, "system": fhir.UCUM, "code": unit},
	}
}

// results returns the statuses and locations of a transaction-response.
func results(t testing.TB, r response) (statuses, locations []string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("submission: %d %s", r.status, r.body)
	}
	var b fhir.Bundle
	if err := json.Unmarshal(r.body, &b); err != nil || b.Type != fhir.BundleTransactionResponse {
		t.Fatalf("not a transaction-response: %v %s", err, r.body)
	}
	for _, e := range b.Entry {
		statuses = append(statuses, e.Response.Status)
		locations = append(locations, e.Response.Location)
	}
	return statuses, locations
}

func count(ss []string, prefix string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestSubmitReadings: readings go through the store's ingestion, every
// entry gets its status and a readable location, and re-sending with
// ifNoneExist stores nothing again.
func TestSubmitReadings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(10, true)
	tok := e.citizen(p.FiscalCode)
	at := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	body := readingsBundle(t, p, readings(at, 12))
	st, locs := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	// Patient, Device, 12 readings.
	want := append([]string{"200 OK", "201 Created"}, strings.Split(strings.Repeat("201 Created,", 12), ",")[:12]...)
	if diff := cmp.Diff(want, st); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	if locs[0] != "Patient/"+p.PublicID || !strings.HasPrefix(locs[1], "Device/") {
		t.Errorf("locations %v", locs[:2])
	}
	series, err := e.store.Readings(ctx, p.ID, at, at.Add(time.Hour))
	if err != nil || len(series) != 12 {
		t.Fatalf("stored readings: %d, %v", len(series), err)
	}
	if series[1].Flags != cgm.FlagLow || series[2].Flags != cgm.FlagHigh || series[0].Device != sensor.Serial {
		t.Errorf("LO/HI or device lost: %+v", series[:3])
	}
	// Every location is readable: the reading as the IG's Observation,
	// with the platform's identifier.
	r := e.get("/fhir/"+strings.TrimSuffix(locs[3], "/_history/1"), tok)
	if r.status != 200 {
		t.Fatalf("read %s: %d %s", locs[3], r.status, r.body)
	}
	var o fhir.Observation
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatal(err)
	}
	if o.ValueQuantity.Comparator != "<" || o.Identifier[0].System != platform+"/identifier/observation" || o.EffectiveDateTime != "2024-05-02T08:05:00Z" {
		t.Errorf("reading read back: %s", r.body)
	}
	if r := e.get("/fhir/"+strings.TrimSuffix(locs[1], "/_history/1"), tok); r.status != 200 {
		t.Errorf("device %s: %d", locs[1], r.status)
	}
	// Sent again: found by ifNoneExist, same locations, nothing ingested.
	st2, locs2 := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	if count(st2, "200") != len(st2) || !cmp.Equal(locs[2:], locs2[2:]) {
		t.Errorf("re-sent: %v %v", st2, locs2)
	}
	cov, err := e.store.Coverage(ctx, p.ID)
	if err != nil || cov.Count != 12 {
		t.Errorf("readings after re-sending: %+v %v", cov, err)
	}
	// The submissions are in the access log? The patient's own are not:
	// representatives' and services' are (see TestSubmitAuthorization).
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1`, p.ID); n != 0 {
		t.Errorf("%d access-log entries for the patient's own submissions", n)
	}
}

// TestSubmitSummariesAndLab: a platform's summary and PDF, and a
// laboratory HbA1c, are kept as received, apart from fsecgm's own; the
// HbA1c reaches the AGP report through LabHbA1c.
func TestSubmitSummariesAndLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(11, true)
	tok := e.service("libreview", ScopeSubmit, "system/Observation.rs")
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, rome)
	body := summaryBundle(t, p, day)
	// Add a laboratory HbA1c to the Bundle.
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	b["entry"] = append(b["entry"].([]any), map[string]any{"fullUrl": "urn:uuid:6f9d3a52-32d7-4a4b-9d0e-2f3c4b5a6d7e",
		"resource": hba1c("Patient/plat-1", "7.1", "%", "A1C-1"),
		"request":  map[string]any{"method": "POST", "url": "Observation", "ifNoneExist": "identifier=https://lab.example/results|A1C-1"}})
	body, _ = json.Marshal(b)
	st, _ := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	// Patient, Device, 8 IG Observations, the report, the HbA1c.
	if n := count(st, "201"); n != 11 || st[0] != "200 OK" {
		t.Fatalf("statuses %v", st)
	}
	obs := "/fhir/Observation?patient=" + p.PublicID
	ptok := e.citizen(p.FiscalCode)
	for _, tc := range []struct {
		q string
		n int
	}{
		{"", 0},
		{"&origin=submitted", 9},
		{"&origin=submitted&code=" + url.QueryEscape(fhir.LOINC+"|4548-4"), 1},
		{"&origin=submitted&code=" + url.QueryEscape(fhir.LOINC+"|"+fhir.CodeGMI) + "&date=2024-05-01", 1},
	} {
		if total, _, _ := entries(t, e.get(obs+tc.q, ptok)); total != tc.n {
			t.Errorf("search %s: %d, want %d", tc.q, total, tc.n)
		}
	}
	if total, ids, _ := entries(t, e.get("/fhir/DiagnosticReport?origin=submitted&patient="+p.PublicID, ptok)); total != 1 {
		t.Errorf("submitted reports: %d", total)
	} else if r := e.get("/fhir/"+ids[0], ptok); r.status != 200 || r.json(t)["meta"].(map[string]any)["versionId"] != "1" {
		t.Errorf("submitted report read: %d", r.status)
	}
	labs, err := e.rec.LabHbA1c(ctx, p.ID, day, day.AddDate(0, 1, 0))
	if err != nil || len(labs) != 1 || labs[0].Value != "7.1" || labs[0].Percent != 7.1 || labs[0].Submitter != "libreview" ||
		!labs[0].At.Equal(time.Date(2024, 5, 10, 0, 0, 0, 0, rome)) {
		t.Errorf("LabHbA1c = %+v, %v", labs, err)
	}
	// Sent again: everything found by its identifier.
	st, _ = results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	if count(st, "200") != len(st) {
		t.Errorf("re-sent: %v", st)
	}
	if n := e.count(`SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND version > 1`, p.ID); n != 0 {
		t.Errorf("%d resources changed by re-sending", n)
	}
	// The service's submissions are in the access log.
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND actor_id = 'libreview' AND outcome = 'allowed'
		AND detail LIKE 'FHIR $submit-cgm-bundle: %'`, p.ID); n != 2 {
		t.Errorf("access-log entries of the submissions: %d, want 2", n)
	}
}

// TestSubmitBadEntries: entries that cannot be stored get their own
// status and an OperationOutcome pointing at the element; the others are
// stored. A Bundle none of whose entries can be stored is refused with an
// OperationOutcome alone.
func TestSubmitBadEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(12, true)
	other := e.patient(13, true)
	tok := e.citizen(p.FiscalCode)
	body := readingsBundle(t, p, readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3))
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	es := b["entry"].([]any)
	res := func(i int) map[string]any { return es[i].(map[string]any)["resource"].(map[string]any) }
	res(2)["valueQuantity"].(map[string]any)["code"] = "mmol/L" // entry 2: wrong unit
	// entry 5: a lab result with a unit mistake; 6: about another patient;
	// 7: a data submission order.
	es = append(es,
		map[string]any{"resource": hba1c("Patient/plat-1", "53", "mmol/mol", "A1C-2"), "request": map[string]any{"method": "POST", "url": "Observation"}},
		map[string]any{"resource": hba1c("Patient/"+other.PublicID, "6.5", "%", "A1C-3"), "request": map[string]any{"method": "POST", "url": "Observation"}},
		map[string]any{"resource": map[string]any{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
			"subject": map[string]any{"reference": "Patient/plat-1"}}, "request": map[string]any{"method": "POST", "url": "ServiceRequest"}},
	)
	b["entry"] = es
	body, _ = json.Marshal(b)
	r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, body)
	var rb fhir.Bundle
	if err := json.Unmarshal(r.body, &rb); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	type res2 struct{ status, expr string }
	var got []res2
	for _, en := range rb.Entry {
		x := res2{status: en.Response.Status}
		if en.Response.Outcome != nil {
			x.expr = en.Response.Outcome.Issue[0].Expression[0]
		}
		got = append(got, x)
	}
	want := []res2{{"200 OK", ""}, {"201 Created", ""},
		{"422 Unprocessable Entity", "Bundle.entry[2].resource.valueQuantity.code"}, {"201 Created", ""}, {"201 Created", ""},
		{"422 Unprocessable Entity", "Bundle.entry[5].resource.valueQuantity.code"},
		{"422 Unprocessable Entity", "Bundle.entry[6].resource.subject"},
		{"422 Unprocessable Entity", "Bundle.entry[7].resource"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(res2{})); diff != "" {
		t.Errorf("entry results (-want +got):\n%s", diff)
	}
	// Only bad entries (and the Patient): an OperationOutcome naming each.
	b["entry"] = []any{es[0], es[2], es[7]}
	body, _ = json.Marshal(b)
	r = e.do("POST", "/fhir/$submit-cgm-bundle", tok, body)
	code, expr := outcome(t, r, http.StatusUnprocessableEntity)
	if code != fhir.IssueValue || expr != "Bundle.entry[1].resource.valueQuantity.code" {
		t.Errorf("issue %q at %q", code, expr)
	}
	if !strings.Contains(string(r.body), `"Bundle.entry[2].resource"`) {
		t.Errorf("the order entry is not named: %s", r.body)
	}
	// No patient named at all.
	r = e.do("POST", "/fhir/$submit-cgm-bundle", tok, []byte(`{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T10:00:00Z",
		"entry":[{"resource":{"resourceType":"Device","serialNumber":"X1"},"request":{"method":"POST","url":"Device"}}]}`))
	if _, expr := outcome(t, r, 422); expr != "Bundle.entry" {
		t.Errorf("no patient: expression %q", expr)
	}
}

// TestSubmitAuthorization: who may submit for whom.
func TestSubmitAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{MaxSubmissionBytes: 64 << 10})
	p := e.patient(14, true)
	noConsent := e.patient(15, false)
	unknown := cgmstore.Patient{FiscalCode: testCF(990), PublicID: strings.Repeat("cd", 16)}
	rs := readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3)
	for _, tc := range []struct {
		name    string
		p       cgmstore.Patient
		token   string
		status  int
		logged  string
		loggedN int
	}{
		{"the patient", p, e.citizen(p.FiscalCode), 200, "", 0},
		{"service with both scopes", p, e.service("libreview", ScopeSubmit, "system/Observation.rs"), 200, "allowed", 1},
		{"service with write scope only", p, e.service("writer", ScopeSubmit), 403, "denied", 1},
		{"service with read scope only", p, e.service("reader", "system/Observation.rs"), 403, "denied", 1},
		{"service, no consent", noConsent, e.service("libreview2", ScopeSubmit, "system/Observation.rs"), 403, "denied", 1},
		{"another citizen", p, e.citizen(testCF(950)), 403, "denied", 1},
		{"no token", p, "", 401, "denied", 1},
		{"unknown patient", unknown, e.citizen(unknown.FiscalCode), 403, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/fhir/$submit-cgm-bundle", tc.token, readingsBundle(t, tc.p, rs))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				outcome(t, r, tc.status)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND outcome = 'denied'`, p.ID); n != 4 {
		t.Errorf("denials logged for the patient: %d, want 4", n)
	}
	// A service with the write scope is checked as a reader (it needs
	// system/Observation.rs too); without it, as a writer, which services
	// never are.
	for _, tc := range []struct{ actor, action, reason string }{
		{"writer", "data.read", "missing-scope"},
		{"reader", "data.write", "not-permitted"},
	} {
		if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND actor_id = $2 AND action = $3
			AND reason = $4`, p.ID, tc.actor, tc.action, tc.reason); n != 1 {
			t.Errorf("%s's refusal (%s, %s) logged %d times, want 1", tc.actor, tc.action, tc.reason, n)
		}
	}
	// Too large a Bundle: 413 with an OperationOutcome.
	big := readingsBundle(t, p, readings(time.Date(2024, 5, 3, 8, 0, 0, 0, time.UTC), 200))
	if code, _ := outcome(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(p.FiscalCode), big), 413); code != fhir.IssueTooCostly {
		t.Errorf("413 issue code %q", code)
	}
}

// TestCreateLabObservation: POST /Observation takes a laboratory HbA1c,
// conditionally with If-None-Exist, and nothing else.
func TestCreateLabObservation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(16, true)
	tok := e.service("lab", ScopeSubmit, "system/Observation.rs")
	body, _ := json.Marshal(hba1c("Patient/"+p.PublicID, "6.8", "%", "LAB-9"))
	r := e.do("POST", "/fhir/Observation", tok, body)
	if r.status != http.StatusCreated || !strings.HasPrefix(r.header.Get("Location"), e.base+"/Observation/") {
		t.Fatalf("create: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	loc := r.header.Get("Location")
	if got := e.get(strings.TrimSuffix(loc, "/_history/1"), tok); got.status != 200 || got.json(t)["valueQuantity"].(map[string]any)["value"].(float64) != 6.8 {
		t.Errorf("read back: %d %s", got.status, got.body)
	}
	r = e.do("POST", "/fhir/Observation", tok, body, "If-None-Exist", "identifier=https://lab.example/results|LAB-9")
	if r.status != 200 || r.header.Get("Location") != loc {
		t.Errorf("conditional create of a known one: %d %s", r.status, r.header.Get("Location"))
	}
	// By codice fiscale.
	byCF := hba1c("", "7.0", "%", "LAB-10")
	byCF["subject"] = map[string]any{"identifier": map[string]any{"system": fhir.FiscalCodeSystem, "value": p.FiscalCode}}
	body, _ = json.Marshal(byCF)
	if r := e.do("POST", "/fhir/Observation", tok, body); r.status != 201 {
		t.Errorf("subject by fiscal code: %d %s", r.status, r.body)
	}
	labs, err := e.rec.LabHbA1c(t.Context(), p.ID, time.Date(2024, 1, 1, 0, 0, 0, 0, rome), time.Date(2025, 1, 1, 0, 0, 0, 0, rome))
	if err != nil || len(labs) != 2 {
		t.Errorf("LabHbA1c: %+v %v", labs, err)
	}
	for _, tc := range []struct {
		name   string
		mod    func(m map[string]any)
		header []string
		status int
		expr   string
	}{
		{"mmol/mol", func(m map[string]any) {
			m["valueQuantity"] = map[string]any{"value": 53, "unit": "mmol/mol", "system": fhir.UCUM, "code": "mmol/mol"}
		}, nil, 422, "Observation.valueQuantity.code"},
		{"implausible", func(m map[string]any) { m["valueQuantity"].(map[string]any)["value"] = 68 }, nil, 422, "Observation.valueQuantity.value"},
		{"no date", func(m map[string]any) { delete(m, "effectiveDateTime") }, nil, 422, "Observation.effectiveDateTime"},
		{"preliminary", func(m map[string]any) { m["status"] = "preliminary" }, nil, 422, "Observation.status"},
		{"not HbA1c", func(m map[string]any) {
			m["code"] = map[string]any{"coding": []any{map[string]any{"system": fhir.LOINC, "code": fhir.CodeGMI}}}
		}, nil, 422, "Observation.code"},
		{"unknown subject", func(m map[string]any) { m["subject"] = map[string]any{"reference": "Patient/xyz"} }, nil, 422, "Observation.subject"},
		{"other condition", func(map[string]any) {}, []string{"If-None-Exist", "code=4548-4"}, 400, "If-None-Exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := hba1c("Patient/"+p.PublicID, "6.9", "%", "LAB-X-"+tc.name)
			tc.mod(m)
			body, _ := json.Marshal(m)
			_, expr := outcome(t, e.do("POST", "/fhir/Observation", tok, body, tc.header...), tc.status)
			if expr != tc.expr {
				t.Errorf("expression %q, want %q", expr, tc.expr)
			}
		})
	}
}

// TestSubmitPatientOfAnotherPerson: a Patient entry whose names are not
// those of its codice fiscale's person (issue 14: data bound only with
// evidence) is refused with the field named, and nothing is stored; the
// patient's own names are accepted.
func TestSubmitPatientOfAnotherPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(11, true) // Mario Rossi
	tok := e.citizen(p.FiscalCode)
	at := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	bundle := func(family string, given ...string) []byte {
		b, err := fhir.ReadingsBundle(fhir.ReadingsInput{Base: platform,
			Patient: fhir.PatientInfo{ID: "plat-1", FiscalCode: p.FiscalCode, Family: family, Given: given},
			Devices: []fhir.DeviceInfo{sensor}, Readings: readings(at, 6), Type: fhir.BundleTransaction, Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, bundle("Bianchi", "Marco"))
	if r.status == http.StatusOK || !strings.Contains(string(r.body), "resource.name") {
		t.Errorf("a Patient named Marco Bianchi with Mario Rossi's code: %d %s; want refused at resource.name", r.status, r.body)
	}
	if cov, err := e.store.Coverage(ctx, p.ID); err != nil || cov.Count != 0 {
		t.Errorf("readings stored after the refusal: %+v %v", cov, err)
	}
	st, _ := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, bundle("ROSSI", "Mario")))
	if count(st, "201") != 7 {
		t.Errorf("the patient's own names: statuses %v", st)
	}
}
