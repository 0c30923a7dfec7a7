package taccuino

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/libreview"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"

	"github.com/google/go-cmp/cmp"
)

// multipartCSV builds a multipart form with the file and fields.
func multipartCSV(t *testing.T, name string, data []byte, fields map[string]string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

func decode[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("decode %s: %v", truncate(res.body), err)
	}
	return v
}

// TestImportAndGlucometrics imports a real LibreView export through the
// API and checks that the glucometrics endpoint answers exactly the
// object "fsecgm metrics" computes from the same file, that re-importing
// changes nothing, and that readings come back unrounded.
func TestImportAndGlucometrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(1)
	p := e.newPatient(cf, "Anna", "Import", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	data, err := os.ReadFile("../connectors/libreview/testdata/libreview_mmol_uk_insulin_food_cut.csv")
	if err != nil {
		t.Fatal(err)
	}
	ct, body := multipartCSV(t, "export.csv", data, nil)
	res := e.request(http.MethodPost, "/api/v1/patients/"+p.PublicID+"/imports", tok, ct, body, nil)
	if res.status != http.StatusOK {
		t.Fatalf("import: %d %s", res.status, truncate(res.body))
	}
	first := decode[ImportJSON](t, res)
	loc, _ := time.LoadLocation("Europe/Rome")
	f, err := libreview.Parse(bytes.NewReader(data), "export.csv", libreview.Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	unique := len(cgm.NewSeries(append([]cgm.Reading(nil), f.Readings...)))
	dropped := 0
	for _, c := range first.Conflicts {
		dropped += len(c.Dropped)
	}
	if first.Format != "libreview" || first.Language != "en" || first.Inserted != unique || first.Duplicate != 0 ||
		first.Repeated+dropped != len(f.Readings)-unique || first.Skipped != f.Skipped || first.Rows != f.Rows || len(first.Rejected) != 0 {
		t.Errorf("first import %+v; file has %d readings (%d distinct), %d skipped, %d rows", first, len(f.Readings), unique, f.Skipped, f.Rows)
	}
	// Again, as a raw text/csv body: nothing changes.
	res = e.request(http.MethodPost, "/api/v1/patients/"+p.PublicID+"/imports", tok, "text/csv", data, nil)
	again := decode[ImportJSON](t, res)
	if res.status != http.StatusOK || again.Inserted != 0 || again.Revised != 0 || again.Duplicate != unique {
		t.Errorf("re-import: %d %+v, want every reading a duplicate", res.status, again)
	}

	series := cgm.NewSeries(append([]cgm.Reading(nil), f.Readings...))
	first0, last := series[0].Time.In(loc), series[len(series)-1].Time.In(loc)
	from, to := first0.Format(time.DateOnly), last.Format(time.DateOnly)
	per := agp.LocalDays(first0, last, loc)
	// The API names the source of the readings; the rest is the file's.
	want, err := agp.Compute(series, agp.Options{Patient: p.PublicID, Location: loc, Zone: "Europe/Rome", Period: &per, Sources: []string{"libreview"}})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	res = e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?from="+from+"&to="+to, tok)
	if res.status != http.StatusOK {
		t.Fatalf("glucometrics: %d %s", res.status, truncate(res.body))
	}
	var got, exp any
	json.Unmarshal(res.body, &got)
	json.Unmarshal(wantJSON, &exp)
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("glucometrics differ from agp.Compute on the file (-metrics +api):\n%s", diff)
	}

	// Extended metrics: the object "fsecgm metrics --extended" computes.
	wantX, _ := agp.Compute(series, agp.Options{Patient: p.PublicID, Location: loc, Zone: "Europe/Rome", Period: &per, Extended: true, Sources: []string{"libreview"}})
	wantJSON, _ = json.Marshal(wantX)
	res = e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?from="+from+"&to="+to+"&extended=true", tok)
	got, exp = nil, nil
	json.Unmarshal(res.body, &got)
	json.Unmarshal(wantJSON, &exp)
	if diff := cmp.Diff(exp, got); diff != "" || res.status != http.StatusOK {
		t.Errorf("extended glucometrics: %d, differ from agp.Compute (-metrics +api):\n%s", res.status, diff)
	}
	if x, _ := got.(map[string]any)["extended"].(map[string]any); len(x) != agp.NumMetrics {
		t.Errorf("extended: %d keys, want %d", len(x), agp.NumMetrics)
	}

	// Daily profiles: the report's days.
	wantD, _ := agp.Compute(series, agp.Options{Patient: p.PublicID, Location: loc, Zone: "Europe/Rome", Period: &per, Daily: true})
	res = e.get("/api/v1/patients/"+p.PublicID+"/daily-profiles?from="+from+"&to="+to, tok)
	dp := decode[DailyProfilesJSON](t, res)
	if diff := cmp.Diff(wantD.Daily, dp.Days); diff != "" || res.status != http.StatusOK {
		t.Errorf("daily profiles: %d (-want +got):\n%s", res.status, diff)
	}

	// Readings: every reading of the file, values as in the file, with the
	// FSE bands.
	rd := decode[ReadingsJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/readings?from="+from+"&to="+to, tok))
	if len(rd.Readings) != len(series) {
		t.Fatalf("readings: %d, want %d", len(rd.Readings), len(series))
	}
	for i, r := range rd.Readings {
		if !r.Time.Equal(series[i].Time) || r.Value != series[i].Value || r.Unit != "mmol/L" || r.Kind != series[i].Kind ||
			r.MgDL != series[i].MgDL() {
			t.Fatalf("reading %d: %+v, want %+v", i, r, series[i])
		}
	}
	if diff := cmp.Diff(Bands(), rd.Bands); diff != "" {
		t.Errorf("bands: %s", diff)
	}
	hist := decode[ReadingsJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/readings?kind=historic&from="+from+"&to="+to, tok))
	for _, r := range hist.Readings {
		if r.Kind != cgm.Historic {
			t.Fatalf("kind=historic returned a %s reading", r.Kind)
		}
	}
	if res := e.get("/api/v1/patients/"+p.PublicID+"/readings?kind=bogus", tok); res.status != http.StatusUnprocessableEntity {
		t.Errorf("kind=bogus: %d", res.status)
	}

	// The default period: the 14 local days ending today.
	rep := decode[agp.Report](t, e.get("/api/v1/patients/"+p.PublicID+"/glucometrics", tok))
	today := time.Now().In(loc)
	wantStart := time.Date(today.Year(), today.Month(), today.Day()-13, 0, 0, 0, 0, loc)
	if !rep.Period.Start.Equal(wantStart) || rep.Period.Days != 14 || rep.Readings != 0 {
		t.Errorf("default period %+v with %d readings, want 14 days from %s and none", rep.Period, rep.Readings, wantStart)
	}
}

// TestImportRefusesBadLines checks the whole-file-or-nothing rule, the
// list of every bad line, and skip_invalid.
func TestImportRefusesBadLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(2)
	p := e.newPatient(cf, "Bruno", "Righe", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	data, err := os.ReadFile("../connectors/libreview/testdata/bad_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Rome")
	f, err := libreview.Parse(bytes.NewReader(data), "bad_rows.csv", libreview.Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/patients/" + p.PublicID + "/imports"
	res := e.request(http.MethodPost, path, tok, "text/csv", data, nil)
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d %s", res.status, truncate(res.body))
	}
	var eb struct {
		Error struct {
			Code, Field string
			Details     []LineErrorJSON
		}
	}
	json.Unmarshal(res.body, &eb)
	if eb.Error.Code != "invalid" || eb.Error.Field != "file" || len(eb.Error.Details) != len(f.Rejected) {
		t.Errorf("error %+v, want %d lines", eb.Error, len(f.Rejected))
	}
	for i, d := range eb.Error.Details {
		if i < len(f.Rejected) && (d.Line != f.Rejected[i].Line || d.Reason != f.Rejected[i].Reason) {
			t.Errorf("line %d: %+v, want %+v", i, d, f.Rejected[i])
		}
	}
	if cov, _ := e.store.Coverage(context.Background(), p.ID); cov.Count != 0 {
		t.Errorf("a refused import stored %d readings", cov.Count)
	}
	res = e.request(http.MethodPost, path+"?skip_invalid=true", tok, "text/csv", data, nil)
	out := decode[ImportJSON](t, res)
	if res.status != http.StatusOK || out.Inserted != len(f.Readings) || len(out.Rejected) != len(f.Rejected) {
		t.Errorf("skip_invalid: %d %+v, want %d inserted and %d rejected", res.status, out, len(f.Readings), len(f.Rejected))
	}
	// Not a file the service reads: the answer says what it is, in the
	// caller's language.
	res = e.request(http.MethodPost, path, tok, "text/csv", []byte("hello,world\n1,2\n"), nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "non riconosce") ||
		!strings.Contains(string(res.body), `"detected":"unknown"`) {
		t.Errorf("unknown format: %d %s", res.status, res.body)
	}
	apple := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE HealthData [\n")
	res = e.request(http.MethodPost, path, tok, "text/plain", apple, map[string]string{"Accept-Language": "en"})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "This file is an export of the devices (Apple Health export)") ||
		!strings.Contains(string(res.body), `"detected":"applehealth"`) {
		t.Errorf("Apple Health export: %d %s", res.status, res.body)
	}
	// A JSON body that is not Nightscout entries, and a wrong content type.
	if res := e.request(http.MethodPost, path, tok, "application/json", []byte(`{"a":1}`), nil); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(res.body), `"detected":"json"`) {
		t.Errorf("JSON upload: %d %s", res.status, res.body)
	}
	if res := e.request(http.MethodPost, path, tok, "application/xml", []byte("<a/>"), nil); res.status != http.StatusUnsupportedMediaType {
		t.Errorf("XML body: %d", res.status)
	}
	// A reading in the future is refused with its line.
	future := longCSV(time.Now().Add(49*time.Hour), 120, 130)
	res = e.request(http.MethodPost, path, tok, "text/csv", []byte(future), nil)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"line":3`) {
		t.Errorf("future readings: %d %s", res.status, res.body)
	}
}

// TestLatest checks the latest reading, its trend, age and band.
func TestLatest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(3)
	p := e.newPatient(cf, "Carla", "Ultima", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	path := "/api/v1/patients/" + p.PublicID + "/glucose/latest"
	got := decode[LatestJSON](t, e.get(path, tok))
	if got.Reading != nil || got.AgeSeconds != nil || got.Patient != p.PublicID {
		t.Errorf("without readings: %+v", got)
	}
	end := time.Now().Add(-10 * time.Minute)
	e.ingest(p, end, 4, []float64{65.5, 100})
	got = decode[LatestJSON](t, e.get(path, tok))
	if got.Reading == nil || got.Reading.Value != 65.5 || got.Reading.Kind != cgm.Current || got.Reading.Trend == nil ||
		got.Reading.Trend.Arrow != "↗" || got.Band != "ipoglicemia" || got.AgeSeconds == nil || *got.AgeSeconds < 600 || *got.AgeSeconds > 720 {
		t.Errorf("latest: %+v", got)
	}
}

// TestPeriodParameters checks the validation of from and to.
func TestPeriodParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(4)
	p := e.newPatient(cf, "Dario", "Date", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	for _, tt := range []struct{ query, field string }{
		{"from=2026-13-01&to=2026-01-02", "from"},
		{"from=2026-01-10&to=2026-01-02", "to"},
		{"from=2024-01-01&to=2025-06-01", "to"},
		{"to=yesterday", "to"},
		{"from=1999-12-01&to=1999-12-02", "from"},
		{"extended=maybe", "extended"},
	} {
		res := e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?"+tt.query, tok)
		var eb struct{ Error struct{ Code, Field string } }
		json.Unmarshal(res.body, &eb)
		if res.status != http.StatusUnprocessableEntity || eb.Error.Code != "invalid" || eb.Error.Field != tt.field {
			t.Errorf("%s: %d %s, want 422 on %s", tt.query, res.status, res.body, tt.field)
		}
	}
	// Readings are bounded more tightly than metrics.
	if res := e.get("/api/v1/patients/"+p.PublicID+"/readings?from=2025-01-01&to=2025-06-01", tok); res.status != http.StatusUnprocessableEntity {
		t.Errorf("150 days of readings: %d", res.status)
	}
	if res := e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?from=2025-01-01&to=2025-06-01", tok); res.status != http.StatusOK {
		t.Errorf("150 days of metrics: %d %s", res.status, res.body)
	}
}

// TestConsentAndDelegations runs the patient's choices through the API.
func TestConsentAndDelegations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(5)
	p := e.newPatient(cf, "Elena", "Scelte", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	base := "/api/v1/patients/" + p.PublicID
	c := decode[ConsentJSON](t, e.get(base+"/consent/third-party", tok))
	if c.Granted || len(c.History) != 0 {
		t.Errorf("initial consent %+v, want not granted (privacy by default)", c)
	}
	for _, g := range []bool{true, false} {
		res := e.sendJSON(http.MethodPut, base+"/consent/third-party", tok, map[bool]string{true: `{"granted":true}`, false: `{"granted":false}`}[g])
		c = decode[ConsentJSON](t, res)
		if res.status != http.StatusOK || c.Granted != g {
			t.Errorf("PUT granted=%v: %d %+v", g, res.status, c)
		}
	}
	if len(c.History) != 2 || c.History[1].By != cf || c.History[1].As != consent.BasisSelf {
		t.Errorf("history %+v", c.History)
	}
	if res := e.sendJSON(http.MethodPut, base+"/consent/third-party", tok, `{}`); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(res.body), `"field":"/granted"`) {
		t.Errorf("missing granted: %d %s", res.status, res.body)
	}
	if res := e.get(base+"/consent/privacy-notice", tok); res.status != http.StatusNotFound {
		t.Errorf("privacy notice never accepted: %d", res.status)
	}

	// Delegations.
	minor := cfBorn(9, time.Now().AddDate(-10, 0, 0))
	res := e.sendJSON(http.MethodPost, base+"/delegations", tok, `{"delegate_fiscal_code":"`+minor+`","expires_at":"2099-01-01"}`)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"/delegate_fiscal_code"`) {
		t.Errorf("delegating a minor: %d %s", res.status, res.body)
	}
	res = e.sendJSON(http.MethodPost, base+"/delegations", tok, `{"delegate_fiscal_code":"`+testCF(50)+`","expires_at":"2020-01-01"}`)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"/expires_at"`) {
		t.Errorf("expiry in the past: %d %s", res.status, res.body)
	}
	exp := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	res = e.sendJSON(http.MethodPost, base+"/delegations", tok, `{"delegate_fiscal_code":"`+strings.ToLower(testCF(50))+`","expires_at":"`+exp+`"}`)
	d := decode[DelegationJSON](t, res)
	if res.status != http.StatusCreated || !d.Active || d.DelegateFiscalCode != testCF(50) || d.GrantedBy != cf {
		t.Fatalf("grant: %d %+v", res.status, d)
	}
	// The delegate now reads the data and the access log, not the consent.
	dtok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: testCF(50)})
	if res := e.get(base+"/glucose/latest", dtok); res.status != http.StatusOK {
		t.Errorf("delegate reads: %d", res.status)
	}
	if res := e.get(base+"/consent/third-party", dtok); res.status != http.StatusForbidden {
		t.Errorf("delegate reads consent: %d", res.status)
	}
	list := decode[DelegationsJSON](t, e.get(base+"/delegations", tok))
	if len(list.Delegations) != 1 || list.Delegations[0].ID != d.ID {
		t.Errorf("list %+v", list)
	}
	res = e.request(http.MethodDelete, base+"/delegations/"+jsonInt(d.ID), tok, "", nil, nil)
	rd := decode[DelegationJSON](t, res)
	if res.status != http.StatusOK || rd.Active || rd.RevokedAt == nil {
		t.Errorf("revoke: %d %+v", res.status, rd)
	}
	if res := e.get(base+"/glucose/latest", dtok); res.status != http.StatusForbidden {
		t.Errorf("revoked delegate reads: %d", res.status)
	}
	for _, id := range []string{"999999", "abc"} {
		if res := e.request(http.MethodDelete, base+"/delegations/"+id, tok, "", nil, nil); res.status != http.StatusNotFound {
			t.Errorf("revoke %s: %d", id, res.status)
		}
	}

	// The access log shows the delegate's reads and refusals, newest first,
	// by pages.
	al := decode[AccessLogJSON](t, e.get(base+"/access-log?limit=2", tok))
	if len(al.Entries) != 2 || al.Next == "" || al.Entries[0].Outcome != consent.OutcomeDenied ||
		al.Entries[0].Reason != consent.ReasonDelegationRevoked || al.Entries[0].ActorID != testCF(50) {
		t.Errorf("access log page 1: %+v", al)
	}
	al2 := decode[AccessLogJSON](t, e.get(base+"/access-log?limit=2&before="+al.Next, tok))
	if len(al2.Entries) != 1 || al2.Next != "" || al2.Entries[0].ID >= al.Entries[1].ID {
		t.Errorf("access log page 2: %+v", al2)
	}
	if res := e.get(base+"/access-log?before=nonsense", tok); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(res.body), `"field":"before"`) {
		t.Errorf("bad cursor: %d %s", res.status, res.body)
	}
	if res := e.get(base+"/access-log?limit=0", tok); res.status != http.StatusUnprocessableEntity {
		t.Errorf("limit=0: %d", res.status)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestPatientsLookupAndCreate checks GET and POST /patients.
func TestPatientsLookupAndCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	me, child, stranger := testCF(6), cfBorn(7, time.Now().AddDate(-8, 0, 0)), testCF(8)
	if _, err := e.consent.UpsertGuardianship(context.Background(), registryActor, consent.Guardianship{
		Kind: consent.GuardianParent, GuardianFiscalCode: me, PatientFiscalCode: child}); err != nil {
		t.Fatal(err)
	}
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: me})
	stok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: stranger})
	if res := e.get("/api/v1/patients?identifier="+me, tok); res.status != http.StatusNotFound {
		t.Errorf("self without a record: %d %s", res.status, res.body)
	}
	res := e.sendJSON(http.MethodPost, "/api/v1/patients", tok, `{"identifier":"`+me+`"}`)
	created := decode[PatientJSON](t, res)
	if res.status != http.StatusCreated || created.ID == "" {
		t.Fatalf("create self: %d %s", res.status, res.body)
	}
	if res := e.sendJSON(http.MethodPost, "/api/v1/patients", tok, `{"identifier":"`+me+`"}`); res.status != http.StatusOK {
		t.Errorf("create again: %d", res.status)
	}
	res = e.sendJSON(http.MethodPost, "/api/v1/patients", tok, `{"identifier":"http://hl7.it/sid/codiceFiscale|`+child+`"}`)
	kid := decode[PatientJSON](t, res)
	if res.status != http.StatusCreated {
		t.Fatalf("parent creates the child's record: %d %s", res.status, res.body)
	}
	if res := e.sendJSON(http.MethodPost, "/api/v1/patients", stok, `{"identifier":"`+child+`"}`); res.status != http.StatusForbidden {
		t.Errorf("stranger creates a record: %d", res.status)
	}
	found := decode[map[string][]PatientJSON](t, e.get("/api/v1/patients?identifier="+child, tok))
	if len(found["patients"]) != 1 || found["patients"][0].ID != kid.ID {
		t.Errorf("parent finds the child: %+v", found)
	}
	if res := e.get("/api/v1/patients?identifier="+child, stok); res.status != http.StatusForbidden {
		t.Errorf("stranger finds the child: %d", res.status)
	}
	if res := e.get("/api/v1/patients?identifier="+testCF(999), stok); res.status != http.StatusForbidden {
		t.Errorf("stranger looks up an unknown code: %d, want the same 403", res.status)
	}
	if res := e.get("/api/v1/patients?identifier=RSSMRA80A01H501X", tok); res.status != http.StatusUnprocessableEntity {
		t.Errorf("bad check character: %d", res.status)
	}
	if res := e.get("/api/v1/patients?identifier="+child, ""); res.status != http.StatusUnauthorized {
		t.Errorf("anonymous lookup: %d", res.status)
	}
	// /me lists the child for the parent.
	mj := decode[MeJSON](t, e.get("/api/v1/me", tok))
	if len(mj.Represented) != 2 || mj.Represented[0].Basis != consent.BasisSelf || mj.Represented[1].ID != kid.ID {
		t.Errorf("me: %+v", mj)
	}
	if res := e.get("/api/v1/me", ""); res.status != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous /me: %d %v", res.status, res.header)
	}
	// Unknown and malformed ids get the same 403 as a refusal.
	for _, id := range []string{"00000000000000000000000000000000", "not-an-id", created.ID} {
		res := e.get("/api/v1/patients/"+id+"/readings", stok)
		if res.status != http.StatusForbidden || string(res.body) != `{"error":{"code":"forbidden","message":"access to this record is not allowed"}}`+"\n" {
			t.Errorf("stranger on %s: %d %q", id, res.status, res.body)
		}
	}
}

// TestRegistry checks POST /care-relationships and the list.
func TestRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pcf, gp := testCF(10), testCF(11)
	p := e.newPatient(pcf, "Franca", "Registro", time.Time{})
	e.setConsent(p, true)
	e.ingest(p, time.Now(), 2, []float64{100})
	reg := e.token(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "registry", Scopes: []string{consent.ScopeRegistry}})
	gpTok := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: gp, PractitionerRole: auth.PractitionerMMG})
	latest := "/api/v1/patients/" + p.PublicID + "/glucose/latest"
	if res := e.get(latest, gpTok); res.status != http.StatusForbidden {
		t.Fatalf("GP before the relationship: %d", res.status)
	}
	body := `{"kind":"mmg","patient_fiscal_code":"` + pcf + `","practitioner_fiscal_code":"` + gp + `","source":"anagrafe"}`
	res := e.sendJSON(http.MethodPost, "/api/v1/care-relationships", reg, body)
	cr := decode[CareRelationshipJSON](t, res)
	if res.status != http.StatusOK || cr.Kind != "mmg" || cr.PractitionerFiscalCode != gp || cr.ValidTo != nil {
		t.Fatalf("record: %d %s", res.status, res.body)
	}
	if res := e.get(latest, gpTok); res.status != http.StatusOK {
		t.Errorf("GP with the relationship: %d", res.status)
	}
	end := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	res = e.sendJSON(http.MethodPost, "/api/v1/care-relationships", reg, strings.Replace(body, `"source"`, `"valid_to":"`+end+`","source"`, 1))
	if res.status != http.StatusOK {
		t.Fatalf("end: %d %s", res.status, res.body)
	}
	if res := e.get(latest, gpTok); res.status != http.StatusForbidden {
		t.Errorf("GP after the relationship ended: %d", res.status)
	}
	list := decode[CareRelationshipsJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/care-relationships", reg))
	if len(list.CareRelationships) != 1 || list.CareRelationships[0].ValidTo == nil {
		t.Errorf("list: %+v", list)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"kind":"nurse","patient_fiscal_code":"` + pcf + `"}`, "/kind"},
		{`{"kind":"mmg","patient_fiscal_code":"` + pcf + `","practitioner_fiscal_code":"XX"}`, "/practitioner_fiscal_code"},
		{`{"kind":"parent","patient_fiscal_code":"` + pcf + `","organization_id":"x"}`, "/kind"},
		{`{"kind":"mmg","patient_fiscal_code":"` + pcf + `","surprise":1}`, "/surprise"},
	} {
		res := e.sendJSON(http.MethodPost, "/api/v1/care-relationships", reg, tt.body)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"`+tt.field+`"`) {
			t.Errorf("%s: %d %s, want 422 on %s", tt.body, res.status, res.body, tt.field)
		}
	}
	// A citizen may not write the registry: refused and logged.
	ctok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: pcf})
	if res := e.sendJSON(http.MethodPost, "/api/v1/care-relationships", ctok, body); res.status != http.StatusForbidden {
		t.Errorf("citizen writes the registry: %d", res.status)
	}
}
