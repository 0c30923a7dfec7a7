package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"
)

// The counts the sync and the import log (readings inserted, syncs made,
// logins) are numbers that may equal a glucose value: checkServeLogs must
// not take them for one.
func init() {
	for _, k := range []string{"inserted", "duplicate", "revised", "rejected", "synced", "failed", "lost", "lists", "logins",
		"count", "connections"} {
		harmlessKeys[k] = true
	}
}

// TestFullRunLogs runs "fsecgm serve --dev" through everything it does —
// the sensor sync, a CSV import through the API and one with "fsecgm
// import", the FHIR API (metadata, a Patient search by fiscal code, an
// Observation search, a $submit-cgm-bundle with glucose values), the AGP
// report and clinic view when this build serves them, /metrics — then
// shuts it down and reads every log line (checkServeLogs): JSON, a request
// id on every request line, and no fiscal code, token, e-mail, password,
// name or glucose value anywhere. /metrics is checked for patient ids and
// fiscal codes too.
func TestFullRunLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, accounts, vars := devServeVars(t, 9)
	dbURL := vars["DATABASE_URL"]
	srv := serveInProcess(t, vars, "--dev", "--addr", "127.0.0.1:0", "--log-level", "debug")
	base, stderr := srv.base, srv.stderr

	iss, err := auth.OpenDevIssuer(vars["FSECGM_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	issue := func(spec auth.PrincipalSpec) string {
		tok, err := iss.Issue(spec, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	patient := issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: taccuino.DemoPatientCF, Name: "Mario Rossi"})
	diab := issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: taccuino.DemoDiabetologistCF,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: taccuino.DemoCentre})
	ehr := issue(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "ehr-test",
		Scopes: []string{"system/Observation.rs", "system/Patient.rs", "system/DiagnosticReport.rs"}})
	client := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path, token, ctype string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	want := func(code int, path string, got int, body []byte) {
		t.Helper()
		if got != code {
			t.Errorf("%s: %d %s, want %d", path, got, truncated(body), code)
		}
	}
	code, body := call("GET", "/api/v1/patients?identifier="+taccuino.DemoPatientCF, patient, "", nil)
	var found struct{ Patients []struct{ ID string } }
	if err := json.Unmarshal(body, &found); code != 200 || err != nil || len(found.Patients) != 1 {
		t.Fatalf("find the demo patient: %d %s", code, body)
	}
	id := found.Patients[0].ID

	// The sensor sync.
	a := accounts[0]
	code, body = call("POST", "/api/v1/patients/"+id+"/connections", patient, "application/json",
		fmt.Appendf(nil, `{"privacy_notice_version":%q,"mode":"patient","email":%q,"password":%q}`, taccuino.PrivacyNoticeVersion, a.Email, a.Password))
	want(201, "connect", code, body)

	// A CSV import through the API.
	var csv bytes.Buffer
	csv.WriteString("id,time,gl\n")
	start := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Hour)
	for i := range 200 {
		fmt.Fprintf(&csv, "x,%s,%d\n", start.Add(time.Duration(i)*15*time.Minute).Format(time.RFC3339), 90+i%150)
	}
	code, body = call("POST", "/api/v1/patients/"+id+"/imports?format=long", patient, "text/csv", csv.Bytes())
	want(200, "API import", code, body)

	// An import with the command.
	otherCF := codicefiscale.Complete("CLMPRT80A01H501")
	csvFile := filepath.Join(dir, "import.csv")
	if err := os.WriteFile(csvFile, csv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var iout, ierr bytes.Buffer
	if c := run(context.Background(), &env{Stdout: &iout, Stderr: &ierr, Getenv: mapEnv(nil)},
		[]string{"import", "--patient", otherCF, "--input", csvFile, "--database-url", dbURL}); c != 0 {
		t.Errorf("fsecgm import: exit %d: %s", c, ierr.String())
	}
	if strings.Contains(iout.String()+ierr.String(), otherCF) {
		t.Errorf("fsecgm import printed the fiscal code: %s %s", iout.String(), ierr.String())
	}

	// The FHIR API.
	code, body = call("GET", "/fhir/metadata", "", "", nil)
	want(200, "/fhir/metadata", code, body)
	code, body = call("GET", "/fhir/Patient?identifier="+url.QueryEscape("http://hl7.it/sid/codiceFiscale|"+taccuino.DemoPatientCF), ehr, "", nil)
	want(200, "/fhir/Patient?identifier=", code, body)
	code, body = call("GET", "/fhir/Observation?patient=Patient/"+id, ehr, "", nil)
	want(200, "/fhir/Observation", code, body)
	bundle, err := os.ReadFile("../../taccuino/fhir/testdata/submissions/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	bundle = bytes.ReplaceAll(bundle, []byte("rssmra85t10a562s"), []byte(strings.ToLower(taccuino.DemoPatientCF)))
	code, body = call("POST", "/fhir/$submit-cgm-bundle", patient, "application/fhir+json", bundle)
	want(200, "$submit-cgm-bundle", code, body)

	// The AGP report and the clinic view, when this build serves them.
	if code, _ := call("GET", "/api/v1/clinic", diab, "", nil); code != http.StatusNotFound {
		want(200, "/api/v1/clinic", code, nil)
		code, body = call("GET", "/api/v1/reports/agp/"+id, diab, "", nil)
		want(200, "/api/v1/reports/agp/:id", code, body)
	} else {
		t.Log("this build does not serve the reports: their logs are not checked")
	}

	time.Sleep(3 * time.Second) // at least one sync
	var values []float64
	code, body = call("GET", "/api/v1/patients/"+id+"/readings", patient, "", nil)
	var rd struct{ Readings []struct{ Value float64 } }
	if err := json.Unmarshal(body, &rd); code != 200 || err != nil || len(rd.Readings) == 0 {
		t.Fatalf("readings: %d %s", code, truncated(body))
	}
	for _, r := range rd.Readings {
		values = append(values, r.Value)
	}
	code, body = call("GET", "/api/v1/patients/"+id+"/connections", patient, "", nil)
	if code != 200 || !strings.Contains(string(body), `"state":"active"`) {
		t.Errorf("connection not synced: %d %s", code, truncated(body))
	}
	code, body = call("GET", "/metrics", "", "", nil)
	want(200, "/metrics", code, body)
	for _, s := range []string{id, taccuino.DemoPatientCF, otherCF} {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("/metrics holds %s", s)
		}
	}
	for _, m := range []string{"fsecgm_http_requests_total", "fsecgm_readings_ingested_total", "fsecgm_sync_runs_total",
		"fsecgm_outbox_messages", "fsecgm_db_pool_connections"} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	if code := srv.stop(t, 30*time.Second); code != 0 {
		t.Errorf("serve exited with %d", code)
	}
	logs := stderr.String()
	for _, w := range []string{`"route":"/fhir/$submit-cgm-bundle"`, `"route":"/api/v1/patients/:id/imports"`, `"msg":"shutdown complete"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("the log lacks %s", w)
		}
	}
	secrets := []string{taccuino.DemoPatientCF, strings.ToLower(taccuino.DemoPatientCF), taccuino.DemoDiabetologistCF, otherCF,
		patient, diab, ehr, patient[strings.LastIndexByte(patient, '.')+1:], a.Email, a.Password, "Mario", "Rossi", a.FirstName, a.LastName}
	checkServeLogs(t, logs, secrets, values)
}
