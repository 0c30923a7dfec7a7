package taccuino

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
)

// xdripEntries returns n sgv entries every 5 minutes ending at end, as
// xDrip+ uploads them (NightscoutUploader, API v1: device, date,
// dateString, sgv, delta, direction, type, filtered, unfiltered, rssi,
// noise, sysTime), with values from mgdl.
func xdripEntries(end time.Time, n int, mgdl func(i int) int) []byte {
	var es []map[string]any
	for i := range n {
		t := end.Add(-time.Duration(n-1-i) * 5 * time.Minute).Truncate(time.Millisecond)
		ds := t.UTC().Format("2006-01-02T15:04:05.000Z")
		es = append(es, map[string]any{"device": "xDrip-LibreReceiver", "date": t.UnixMilli(), "dateString": ds,
			"sgv": mgdl(i), "delta": 1.5, "direction": "Flat", "type": "sgv", "filtered": mgdl(i) * 1000,
			"unfiltered": mgdl(i) * 1000, "rssi": 100, "noise": 1, "sysTime": ds})
	}
	b, _ := json.Marshal(es)
	return b
}

// TestNightscoutDoor: a patient creates an uploader; an app uploads to it
// as xDrip+ does (an array of sgv entries, the api-secret header with the
// SHA-1 of the URL's secret); the readings come back through the patient
// API and through entries.json; a wrong or revoked secret stores nothing
// (401) and is written in the patient's access log, as the uploads are.
func TestNightscoutDoor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := cfFor("Nora", "Caricata", 41)
	p := e.newPatient(cf, "Nora", "Caricata", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	api := "/api/v1/patients/" + p.PublicID + "/uploaders"

	if res := e.sendJSON(http.MethodPost, api, tok, `{"label":""}`); res.status != http.StatusUnprocessableEntity {
		t.Errorf("empty label: %d %s", res.status, res.body)
	}
	res := e.sendJSON(http.MethodPost, api, tok, `{"label":"xDrip+ sul telefono"}`)
	created := decode[UploaderCreatedJSON](t, res)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	u, err := url.Parse(created.URL)
	if err != nil || u.User == nil {
		t.Fatalf("URL %q: %v", created.URL, err)
	}
	secret := u.User.Username()
	if len(secret) != 40 || u.Path != "/nightscout/"+created.ID {
		t.Fatalf("URL %q: want https://SECRET(160 bits)@host/nightscout/%s", created.URL, created.ID)
	}
	// The secret is shown once: not in the list, not in the database.
	if res := e.get(api, tok); res.status != http.StatusOK || strings.Contains(string(res.body), secret) ||
		len(decode[UploadersJSON](t, res).Uploaders) != 1 {
		t.Errorf("list: %d %s", res.status, res.body)
	}
	if n := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE position($1::bytea IN secret_hash) > 0 OR label LIKE '%' || $2 || '%'`,
		[]byte(secret), secret); n != 0 {
		t.Error("the secret is stored")
	}

	// The app, as xDrip+: the URL without its user information as base,
	// api-secret = SHA-1(secret) in hexadecimal.
	sum := sha1.Sum([]byte(secret))
	good := map[string]string{"api-secret": hex.EncodeToString(sum[:])}
	base := strings.Replace(created.URL, secret+"@", "", 1)
	base = strings.TrimPrefix(base, "http://"+u.Host)
	door := func(method, path string, body []byte, h map[string]string) response {
		t.Helper()
		ct := ""
		if body != nil {
			ct = "application/json"
		}
		return e.request(method, base+path, "", ct, body, h)
	}
	status := door(http.MethodGet, "/api/v1/status.json", nil, good)
	if st := decode[map[string]any](t, status); status.status != http.StatusOK || st["status"] != "ok" || st["version"] != nsVersion {
		t.Errorf("status.json: %d %s", status.status, status.body)
	}
	end := time.Now().Add(-10 * time.Minute)
	vals := func(i int) int { return 100 + 7*i }
	up := door(http.MethodPost, "/api/v1/entries", xdripEntries(end, 12, vals), good)
	if up.status != http.StatusOK || len(decode[[]map[string]any](t, up)) != 12 {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	// Back through the patient API.
	rd := decode[ReadingsJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/readings", tok))
	if len(rd.Readings) != 12 {
		t.Fatalf("readings API: %d readings, want 12", len(rd.Readings))
	}
	for i, r := range rd.Readings {
		want := end.Add(-time.Duration(11-i) * 5 * time.Minute).Truncate(time.Millisecond)
		if r.MgDL != float64(vals(i)) || !r.Time.Equal(want) || r.Device != "xDrip-LibreReceiver" {
			t.Errorf("reading %d: %+v, want %d mg/dL at %s", i, r, vals(i), want)
		}
	}
	// And through entries.json, newest first.
	ent := door(http.MethodGet, "/api/v1/entries.json?count=5", nil, good)
	got := decode[[]nsEntry](t, ent)
	if ent.status != http.StatusOK || len(got) != 5 {
		t.Fatalf("entries.json: %d %s", ent.status, ent.body)
	}
	for j, en := range got {
		i := 11 - j
		if en.Type != "sgv" || en.SGV == nil || *en.SGV != vals(i) || en.Date != end.Add(-time.Duration(j)*5*time.Minute).UnixMilli() ||
			en.Direction != "Flat" {
			t.Errorf("entry %d: %+v, want sgv %d", j, en, vals(i))
		}
	}
	// Uploading again (xDrip+ retries) changes nothing.
	if again := door(http.MethodPost, "/api/v1/entries", xdripEntries(end, 12, vals), good); again.status != http.StatusOK {
		t.Errorf("upload again: %d %s", again.status, again.body)
	}
	// Treatments and device status: 200, nothing kept.
	for _, path := range []string{"/api/v1/treatments", "/api/v1/devicestatus"} {
		if r := door(http.MethodPost, path, []byte(`[{"eventType":"Meal Bolus","insulin":2}]`), good); r.status != http.StatusOK {
			t.Errorf("POST %s: %d %s", path, r.status, r.body)
		}
	}
	stored := func() int {
		return count(t, e, `SELECT count(*) FROM readings WHERE patient_id = $1`, p.ID) +
			count(t, e, `SELECT coalesce(sum(n), 0)::int FROM readings_compact WHERE patient_id = $1`, p.ID)
	}
	if n := stored(); n != 12 {
		t.Errorf("%d readings stored, want 12", n)
	}
	// A malformed entry: 400, nothing of the batch stored.
	bad := xdripEntries(end.Add(2*time.Hour), 3, vals)
	bad = []byte(strings.Replace(string(bad), `"sgv":100`, `"sgv":"alto"`, 1))
	if r := door(http.MethodPost, "/api/v1/entries", bad, good); r.status != http.StatusBadRequest || stored() != 12 {
		t.Errorf("malformed entry: %d %s; %d readings stored", r.status, r.body, stored())
	}

	// Wrong secrets: 401 as Nightscout answers, nothing stored, the
	// attempt in the patient's log.
	later := xdripEntries(end.Add(time.Hour), 3, vals)
	wrong := sha1.Sum([]byte(secret + "x"))
	for name, h := range map[string]map[string]string{
		"wrong secret":          {"api-secret": hex.EncodeToString(wrong[:])},
		"no secret":             nil,
		"the secret, not SHA-1": {"api-secret": secret},
	} {
		r := door(http.MethodPost, "/api/v1/entries", later, h)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), `"message":"Unauthorized"`) {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if r := door(http.MethodGet, "/api/v1/entries.json", nil, h); r.status != http.StatusUnauthorized {
			t.Errorf("%s: GET entries.json %d", name, r.status)
		}
		if en := e.accessLog(r.header.Get("X-Request-Id")); len(en) != 1 || en[0].Outcome != "denied" || en[0].ID != p.ID {
			t.Errorf("%s: access log %+v, want one refusal for the patient", name, en)
		}
	}
	if r := e.request(http.MethodPost, "/nightscout/aaaaaaaaaaaaaaaa/api/v1/entries", "", "application/json", later, good); r.status != http.StatusUnauthorized {
		t.Errorf("unknown uploader: %d", r.status)
	}
	if n := stored(); n != 12 {
		t.Errorf("after refused uploads, %d readings stored, want 12", n)
	}
	// The uploads are in the patient's log, with the uploader's name.
	if n := count(t, e, `SELECT count(*) FROM access_log WHERE patient_id = $1 AND basis = 'uploader' AND outcome = 'allowed'
		AND action = 'data.write' AND actor_name = 'xDrip+ sul telefono'`, p.ID); n == 0 {
		t.Error("no access-log entry for the uploads")
	}

	// Another patient cannot revoke it; the patient does.
	cf2 := cfFor("Ugo", "Altro", 42)
	p2 := e.newPatient(cf2, "Ugo", "Altro", time.Time{})
	tok2 := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf2})
	if r := e.request(http.MethodDelete, "/api/v1/patients/"+p2.PublicID+"/uploaders/"+created.ID, tok2, "", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("revoke from another patient: %d %s", r.status, r.body)
	}
	if r := e.request(http.MethodDelete, api+"/"+created.ID, tok, "", nil, nil); r.status != http.StatusOK ||
		decode[UploadersJSON](t, e.get(api, tok)).Uploaders[0].RevokedAt == nil {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := door(http.MethodPost, "/api/v1/entries", later, good)
	if r.status != http.StatusUnauthorized || stored() != 12 {
		t.Errorf("revoked: %d %s; %d readings stored", r.status, r.body, stored())
	}
	if en := e.accessLog(r.header.Get("X-Request-Id")); len(en) != 1 || en[0].Outcome != "denied" {
		t.Errorf("revoked: access log %+v", en)
	}
}

// count returns what a counting query of the test's database answers.
func count(t *testing.T, e *testEnv, q string, args ...any) int {
	t.Helper()
	return e.te.Count(t, q, args...)
}
