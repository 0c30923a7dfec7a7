package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5"
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

// sqlTrace records the statements the service sends to PostgreSQL, as
// their first keyword ("SELECT", "INSERT", "begin"...; a batch as
// "batch[...]" of its statements'), for comparing what two requests do.
type sqlTrace struct {
	mu    sync.Mutex
	stmts []string
	batch []string
}

func verb(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return ""
	}
	if strings.EqualFold(f[0], "WITH") {
		for _, w := range f {
			switch strings.ToUpper(w) {
			case "INSERT", "UPDATE", "DELETE":
				return strings.ToUpper(w)
			}
		}
		return "SELECT"
	}
	return strings.ToUpper(strings.TrimLeft(f[0], "("))
}

func (s *sqlTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	s.stmts = append(s.stmts, verb(d.SQL))
	s.mu.Unlock()
	return ctx
}

func (s *sqlTrace) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *sqlTrace) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	s.mu.Lock()
	s.batch = []string{}
	s.mu.Unlock()
	return ctx
}

func (s *sqlTrace) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.mu.Lock()
	s.batch = append(s.batch, verb(d.SQL))
	s.mu.Unlock()
}

func (s *sqlTrace) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	s.mu.Lock()
	s.stmts = append(s.stmts, "batch["+strings.Join(s.batch, " ")+"]")
	s.mu.Unlock()
}

// take returns the statements recorded since the last take.
func (s *sqlTrace) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stmts
	s.stmts = nil
	return out
}

// TestOtherPatientsIDs: reading an id that exists in another patient's
// record (an Observation, a DiagnosticReport, a Device, a submitted
// reading, the Patient) answers exactly as an id that exists nowhere — the
// same status and body, after the same statements to the database (the
// refusal is logged in the other patient's access log; the unknown id is
// recorded for the operator) — for an authenticated stranger and for a
// caller without a valid token.
func TestOtherPatientsIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.patient(21, true)
	stranger := e.citizen(testCF(22))
	e.publish(owner, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 1, examplePDF)
	st, locs := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(owner.FiscalCode),
		readingsBundle(t, owner, readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3))))
	if count(st, "201") != 4 {
		t.Fatalf("owner's submission: %v", st)
	}
	var obsID, repID, devID string
	if err := e.pool.QueryRow(t.Context(), `SELECT
		(SELECT id FROM fhir_resources WHERE patient_id = $1 AND resource_type = 'Observation' LIMIT 1),
		(SELECT id FROM fhir_resources WHERE patient_id = $1 AND resource_type = 'DiagnosticReport' LIMIT 1),
		(SELECT id FROM fhir_resources WHERE patient_id = $1 AND resource_type = 'Device' LIMIT 1)`, owner.ID).Scan(&obsID, &repID, &devID); err != nil {
		t.Fatal(err)
	}
	reading := strings.TrimSuffix(strings.TrimPrefix(locs[2], "Observation/"), "/_history/1")
	unknown := func(id string) string { return strings.Repeat("9", len(id)) }
	for _, tc := range []struct{ typ, id string }{
		{"Observation", obsID}, {"DiagnosticReport", repID}, {"Device", devID}, {"Observation", reading}, {"Patient", owner.PublicID},
	} {
		for _, who := range []struct{ name, tok string }{{"stranger", stranger}, {"no token", ""}} {
			what := who.name + " reading " + tc.typ + "/" + tc.id
			deniedBefore := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND outcome = 'denied'`, owner.ID)
			e.trace.take()
			other := e.get("/fhir/"+tc.typ+"/"+tc.id, who.tok)
			otherSQL := e.trace.take()
			none := e.get("/fhir/"+tc.typ+"/"+unknown(tc.id), who.tok)
			noneSQL := e.trace.take()
			if other.status == 200 || other.status != none.status {
				t.Errorf("%s: %d, and %d for an id of nothing", what, other.status, none.status)
			}
			if got, want := strings.ReplaceAll(string(other.body), tc.id, unknown(tc.id)), string(none.body); got != want {
				t.Errorf("%s: body\n%s\nfor an id of nothing\n%s", what, other.body, none.body)
			}
			if !slicesEqual(otherSQL, noneSQL) {
				t.Errorf("%s: statements %v, for an id of nothing %v", what, otherSQL, noneSQL)
			}
			if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND outcome = 'denied'`, owner.ID); n == deniedBefore &&
				e.count(`SELECT coalesce(sum(occurrences), 0) FROM access_log WHERE patient_id = $1 AND outcome = 'denied'`, owner.ID) == 0 {
				t.Errorf("%s: the refusal is not in the owner's access log", what)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM access_probes`); n == 0 {
		t.Error("the reads of ids of nothing are not recorded for the operator")
	}
	// The owner still reads them all.
	for _, path := range []string{"/fhir/Observation/" + obsID, "/fhir/Device/" + devID, "/fhir/" + strings.TrimSuffix(locs[2], "/_history/1")} {
		if r := e.get(path, e.citizen(owner.FiscalCode)); r.status != 200 {
			t.Errorf("the owner reading %s: %d", path, r.status)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestIdentifiersPerPatient: two patients' platforms submit the same
// sensor serial and the same identifiers (a reading's, a laboratory
// result's), plainly and with ifNoneExist: each patient gets resources of
// their own (201, never 409 nor the other's location), so that a
// submission learns nothing of another patient's record and blocks none
// of it; each reads their own Device.
func TestIdentifiersPerPatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.patient(23, true), e.patient(24, true)
	rs := readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3)
	withLab := func(p cgmstore.Patient) []byte {
		var m map[string]any
		if err := json.Unmarshal(readingsBundle(t, p, rs), &m); err != nil {
			t.Fatal(err)
		}
		m["entry"] = append(m["entry"].([]any), map[string]any{"fullUrl": "urn:uuid:0f9d3a52-32d7-4a4b-9d0e-2f3c4b5a6d7e",
			"resource": hba1c("Patient/plat-1", "6.9", "%", "SAME-LAB-ID"),
			"request":  map[string]any{"method": "POST", "url": "Observation", "ifNoneExist": "identifier=https://lab.example/results|SAME-LAB-ID"}})
		body, _ := json.Marshal(m)
		return body
	}
	stA, locA := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(a.FiscalCode), withLab(a)))
	stB, locB := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(b.FiscalCode), withLab(b)))
	for i := 1; i < len(stB); i++ {
		if stA[i] != "201 Created" || stB[i] != "201 Created" {
			t.Errorf("entry %d: %s for the first patient, %s for the second with the same serial or identifier", i, stA[i], stB[i])
		}
		if locA[i] == locB[i] {
			t.Errorf("entry %d: both patients got %s", i, locA[i])
		}
	}
	for _, x := range []struct {
		p   cgmstore.Patient
		loc string
	}{{a, locA[1]}, {b, locB[1]}} {
		r := e.get("/fhir/"+x.loc, e.citizen(x.p.FiscalCode))
		if r.status != 200 || r.json(t)["patient"].(map[string]any)["reference"] != "Patient/"+x.p.PublicID {
			t.Errorf("reading own Device %s: %d %s", x.loc, r.status, r.body)
		}
	}
	// Each patient's readings carry their own sensor.
	for _, p := range []cgmstore.Patient{a, b} {
		ds, err := e.store.Devices(t.Context(), p.ID)
		if err != nil || len(ds) != 1 || ds[0].Serial != sensor.Serial {
			t.Errorf("devices of patient %d: %+v %v", p.ID, ds, err)
		}
	}
}

// TestSensorNotBlockedByAnotherPatient: a patient's platform submits a
// Device with the serial of another patient's sensor first; the other
// patient's own summaries then publish their Device under their record,
// and their summary points to it.
func TestSensorNotBlockedByAnotherPatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	squatter, victim := e.patient(25, true), e.patient(26, true)
	serial := fmt.Sprintf("SN%06d", victim.ID) // the serial e.publish gives the victim's sensor
	dev := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T10:00:00Z","entry":[
		{"fullUrl":"urn:uuid:7d1c0a52-32d7-4a4b-9d0e-2f3c4b5a6d7e","resource":{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}]},"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Device","serialNumber":"%s","patient":{"reference":"urn:uuid:7d1c0a52-32d7-4a4b-9d0e-2f3c4b5a6d7e"}},"request":{"method":"POST","url":"Device"}}]}`,
		squatter.FiscalCode, serial)
	if st, _ := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(squatter.FiscalCode), []byte(dev))); st[1] != "201 Created" {
		t.Fatalf("squatter's Device: %v", st)
	}
	e.publish(victim, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 1, nil)
	var ref string
	if err := e.pool.QueryRow(t.Context(), `SELECT body->'device'->>'reference' FROM fhir_resources
		WHERE patient_id = $1 AND resource_type = 'Observation' AND body->'device' IS NOT NULL LIMIT 1`, victim.ID).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	r := e.get("/fhir/"+ref, e.citizen(victim.FiscalCode))
	if r.status != 200 || r.json(t)["patient"].(map[string]any)["reference"] != "Patient/"+victim.PublicID {
		t.Errorf("the victim's own sensor %s: %d %s", ref, r.status, r.body)
	}
}

// TestObservationNamesOnePatient: an Observation whose subject's reference
// and identifier, or whose subject and device, name different patients is
// refused (422, the element named), whether the other patient exists or
// not; the other entries are stored.
func TestObservationNamesOnePatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p, other := e.patient(27, true), e.patient(28, true)
	tok := e.citizen(p.FiscalCode)
	// The other patient's Device on this server.
	_, olocs := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", e.citizen(other.FiscalCode),
		readingsBundle(t, other, readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3))))
	otherDev := olocs[1]
	body := readingsBundle(t, p, readings(time.Date(2024, 5, 3, 8, 0, 0, 0, time.UTC), 6))
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	es := m["entry"].([]any)
	res := func(i int) map[string]any { return es[i].(map[string]any)["resource"].(map[string]any) }
	cfIdent := func(cf string) map[string]any { return map[string]any{"system": fhir.FiscalCodeSystem, "value": cf} }
	// 2: reference to this Bundle's patient, identifier of the other one.
	res(2)["subject"] = map[string]any{"reference": res(2)["subject"].(map[string]any)["reference"], "identifier": cfIdent(other.FiscalCode)}
	// 3: reference to the patient by id, identifier of nobody.
	res(3)["subject"] = map[string]any{"reference": "Patient/" + p.PublicID, "identifier": cfIdent(testCF(990))}
	// 4: the device is the other patient's, on this server.
	res(4)["device"] = map[string]any{"reference": otherDev}
	// 5: a Device entry of the other patient in the Bundle.
	es = append(es, map[string]any{"fullUrl": "urn:uuid:1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
		"resource": map[string]any{"resourceType": "Device", "serialNumber": "OTHER1", "patient": map[string]any{"reference": "Patient/" + other.PublicID}},
		"request":  map[string]any{"method": "POST", "url": "Device"}})
	m["entry"] = es
	res(5)["device"] = map[string]any{"reference": "urn:uuid:1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"}
	// 6: the same patient as reference and identifier: fine.
	res(6)["subject"] = map[string]any{"reference": "Patient/" + p.PublicID, "identifier": cfIdent(p.FiscalCode)}
	body, _ = json.Marshal(m)
	r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, body)
	var rb fhir.Bundle
	if err := json.Unmarshal(r.body, &rb); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	want := map[int]string{2: "Bundle.entry[2].resource.subject.identifier", 3: "Bundle.entry[3].resource.subject.identifier",
		4: "Bundle.entry[4].resource.device", 5: "Bundle.entry[5].resource.device", 8: "Bundle.entry[8].resource.patient"}
	for i, en := range rb.Entry {
		expr := ""
		if en.Response.Outcome != nil {
			expr = en.Response.Outcome.Issue[0].Expression[0]
		}
		if w, bad := want[i]; bad {
			if !strings.HasPrefix(en.Response.Status, "422") || expr != w {
				t.Errorf("entry %d: %s at %q, want 422 at %s", i, en.Response.Status, expr, w)
			}
		} else if !strings.HasPrefix(en.Response.Status, "20") {
			t.Errorf("entry %d: %s %q", i, en.Response.Status, expr)
		}
	}
	// A laboratory result created alone, with the other patient's device.
	lab := hba1c("Patient/"+p.PublicID, "6.6", "%", "LAB-DEV")
	lab["device"] = map[string]any{"reference": otherDev}
	lb, _ := json.Marshal(lab)
	if _, expr := outcome(t, e.do("POST", "/fhir/Observation", e.service("lab", ScopeSubmit, "system/Observation.rs"), lb), 422); expr != "Observation.device" {
		t.Errorf("lab result with another patient's device: expression %q", expr)
	}
}
