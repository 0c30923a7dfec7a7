package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"
)

// lockedWriter is a goroutine-safe log buffer (testenv.Logs).
type lockedWriter = testenv.Logs

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestServeConfig checks that the configuration is validated at start with
// messages that say what is missing.
func TestServeConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"production without identity provider", nil, nil,
			[]string{"FSECGM_OIDC_ISSUER", "FSECGM_OIDC_AUDIENCE", "FSECGM_OIDC_JWKS_URL", "FSECGM_CREDENTIALS_KEY"}},
		{"bad values", []string{"--addr", "nowhere", "--log-level", "loud", "--base-url", "ftp://x"},
			map[string]string{"FSECGM_OIDC_ISSUER": "https://idp.example", "FSECGM_OIDC_AUDIENCE": "fsecgm",
				"FSECGM_OIDC_JWKS_URL": "https://idp.example/jwks", "FSECGM_CREDENTIALS_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
				"FSECGM_TRUST_PROXY": "perhaps", "FSECGM_SMTP_URL": "smtp://u:secret@relay.example.org?tls=none",
				"FSECGM_NOTIFY_DIGEST_HOUR": "25", "FSECGM_COMPACT_AFTER": "6h", "FSECGM_POPULATION_REFRESH_AT": "25:00"},
			[]string{"--addr", "--log-level", "FSECGM_BASE_URL", "FSECGM_TRUST_PROXY", "FSECGM_SMTP_URL", "FSECGM_NOTIFY_DIGEST_HOUR",
				"FSECGM_COMPACT_AFTER \"6h\": want at least a day", "FSECGM_POPULATION_REFRESH_AT \"25:00\""}},
	} {
		var stdout, stderr bytes.Buffer
		e := &env{Stdout: &stdout, Stderr: &stderr, Getenv: mapEnv(tt.env)}
		code := run(context.Background(), e, append([]string{"serve"}, tt.args...))
		if code != 2 {
			t.Errorf("%s: exit %d, want 2; stderr %s", tt.name, code, stderr.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%s: the error does not name %s:\n%s", tt.name, w, stderr.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), &env{Stdout: &stdout, Stderr: &stderr, Getenv: mapEnv(nil)}, []string{"serve", "--help"}); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	for _, w := range []string{"-addr", ":8080", "-dev", "DATABASE_URL", "FSECGM_OIDC_ISSUER", "FSECGM_BASE_URL", "-log-level", "FSECGM_CREDENTIALS_KEY", "-compact-after", "-population-refresh-at"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("serve --help does not list %s", w)
		}
	}
}

func TestParseAge(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{" 720h ", 720 * time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"off", 0, true},
		{"23h", 0, false},
		{"0d", 0, false},
		{"-30d", 0, false},
		{"thirty", 0, false},
		{"30", 0, false},
		{"40000d", 0, false},
	} {
		got, err := parseAge(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestServe runs "fsecgm serve --dev" against a test database and a fake
// LibreLinkUp, uses it as the patient and as a clinician, shuts it down,
// and reads its JSON logs: every line is JSON, request lines carry a
// request id, and no line holds a fiscal code, a token, an e-mail, a
// password or a glucose value.
func TestServe(t *testing.T) {
	t.Parallel()
	_, accounts, vars := devServeVars(t, 3)
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
	mmg := issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: taccuino.DemoMMGCF, PractitionerRole: auth.PractitionerMMG})
	client := &http.Client{Timeout: 20 * time.Second}
	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := call("GET", path, "", ""); code != 200 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	code, body := call("GET", "/api/v1/patients?identifier="+taccuino.DemoPatientCF, patient, "")
	var found struct{ Patients []struct{ ID string } }
	if err := json.Unmarshal(body, &found); code != 200 || err != nil || len(found.Patients) != 1 {
		t.Fatalf("find the demo patient: %d %s", code, body)
	}
	id := found.Patients[0].ID
	var values []float64
	code, body = call("GET", "/api/v1/patients/"+id+"/readings", patient, "")
	var rd struct{ Readings []struct{ Value float64 } }
	if err := json.Unmarshal(body, &rd); code != 200 || err != nil || len(rd.Readings) == 0 {
		t.Fatalf("readings: %d %s", code, truncated(body))
	}
	for _, r := range rd.Readings {
		values = append(values, r.Value)
	}
	for _, p := range []string{"/glucose/latest", "/glucometrics", "/daily-profiles", "/access-log", "/connections"} {
		if code, body := call("GET", "/api/v1/patients/"+id+p, patient, ""); code != 200 {
			t.Errorf("%s: %d %s", p, code, truncated(body))
		}
	}
	if code, _ := call("GET", "/api/v1/patients/"+id+"/readings", mmg, ""); code != 200 {
		t.Errorf("MMG reads: %d", code)
	}
	if code, _ := call("PUT", "/api/v1/patients/"+id+"/consent/third-party", patient, `{"granted":false}`); code != 200 {
		t.Errorf("revoke: %d", code)
	}
	if code, _ := call("GET", "/api/v1/patients/"+id+"/readings", mmg, ""); code != 403 {
		t.Errorf("MMG after revocation: %d", code)
	}
	forged := patient[:strings.LastIndexByte(patient, '.')+1] + "AAAA"
	if code, _ := call("GET", "/api/v1/patients/"+id+"/readings", forged, ""); code != 401 {
		t.Errorf("forged token: %d", code)
	}
	a := accounts[0]
	code, body = call("POST", "/api/v1/patients/"+id+"/connections", patient,
		fmt.Sprintf(`{"privacy_notice_version":%q,"mode":"patient","email":%q,"password":%q}`, taccuino.PrivacyNoticeVersion, a.Email, a.Password))
	if code != 201 {
		t.Errorf("connect: %d %s", code, body)
	}
	code, _ = call("POST", "/api/v1/patients/"+id+"/connections", patient,
		fmt.Sprintf(`{"privacy_notice_version":%q,"mode":"patient","email":%q,"password":"wrong-password-1"}`, taccuino.PrivacyNoticeVersion, accounts[1].Email))
	if code != 422 {
		t.Errorf("connect with a wrong password: %d", code)
	}
	time.Sleep(3 * time.Second) // let the scheduler sync once

	// Graceful shutdown, bounded.
	start := time.Now()
	if code := srv.stop(t, 25*time.Second); code != 0 {
		t.Errorf("serve exited with %d", code)
	}
	t.Logf("shutdown took %s", time.Since(start).Round(time.Millisecond))

	logs := stderr.String()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`, `"route":"/api/v1/patients/:id/readings"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	secrets := []string{taccuino.DemoPatientCF, taccuino.DemoMMGCF, patient, mmg, patient[strings.LastIndexByte(patient, '.')+1:],
		a.Email, a.Password, accounts[1].Email, "wrong-password-1", "Mario", "Rossi"}
	checkServeLogs(t, logs, secrets, values)
}

func truncated(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

var cfRE = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

// glucoseKey reports whether a log attribute's name says it holds a
// glucose value.
func glucoseKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"value", "glucose", "mg_dl", "mgdl", "mmol", "sgv"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// harmlessKeys are log attributes whose numbers are counts, sizes,
// durations or statuses, even when they happen to equal a glucose value.
var harmlessKeys = map[string]bool{
	"status": true, "duration_ms": true, "bytes": true, "schema_version": true, "applied": true, "pid": true,
	"elapsed": true, "interval": true, "tick": true, "lease": true, "timeout": true, "workers": true,
	// the readings-compact job's counts (cgmstore.Store.RunCompaction)
	"patients": true, "days": true, "readings": true, "skipped_patients": true, "seconds": true,
	// the population-refresh job's counts and times (population.Refresher)
	"members": true, "opposed": true, "period_rows": true, "releases": true, "suppressed": true, "took": true,
	"counts": true, "complements": true, "rounds": true,
}

// checkServeLogs fails on a log line that is not JSON, a request line
// without request id, a secret, a fiscal code, an attribute named for
// glucose, or a number equal to a glucose value served (unless under a key
// known to hold counts, sizes or durations).
func checkServeLogs(t *testing.T, logs string, secrets []string, values []float64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	served := map[float64]bool{}
	for _, v := range values {
		served[v] = true
	}
	if len(served) < 5 {
		t.Errorf("only %d distinct glucose values to look for", len(served))
	}
	requests := 0
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line %d is not JSON: %s", i+1, line)
			continue
		}
		if m["msg"] == "request" {
			requests++
			if id, _ := m["request_id"].(string); id == "" {
				t.Errorf("request line without request id: %s", line)
			}
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line %d holds a secret (%.8s…): %s", i+1, s, line)
			}
		}
		if cfRE.MatchString(line) {
			t.Errorf("log line %d holds a fiscal code: %s", i+1, line)
		}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, v := range x {
					walk(k, v)
				}
			case []any:
				for _, v := range x {
					walk(key, v)
				}
			case float64:
				if !harmlessKeys[key] && served[x] {
					t.Errorf("log line %d has the glucose value %v under %q: %s", i+1, x, key, line)
				}
			}
			if glucoseKey(key) {
				t.Errorf("log line %d has the attribute %q: %s", i+1, key, line)
			}
		}
		walk("", m)
	}
	if requests < 10 {
		t.Errorf("only %d request lines: the check proves little", requests)
	}
	if len(lines) < 20 {
		t.Errorf("only %d log lines", len(lines))
	}
}

// TestPoolKeepsConnectionOnCancel checks that a statement whose request
// goes away mid-way does not cost the pool its connection (newPool).
func TestPoolKeepsConnectionOnCancel(t *testing.T) {
	pool, err := newPool(t.Context(), dbtest.URL(t)+"&pool_max_conns=1", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pid int
	if err := pool.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	// The client is gone after 50 ms; the statement takes 300.
	_, err = pool.Exec(ctx, "SELECT pg_sleep(0.3)")
	t.Logf("statement whose context ended: %v", err)
	var after int
	if err := pool.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != pid {
		t.Errorf("backend %d after the cancelled statement, want %d (the same connection)", after, pid)
	}
	if n := pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
	// The size: pool_max_conns when the URL says, else at least minConns.
	if n := pool.Config().MaxConns; n != 1 {
		t.Errorf("pool_max_conns=1 gave a pool of %d", n)
	}
	big, err := newPool(t.Context(), dbtest.URL(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if n := big.Config().MaxConns; n != 10 {
		t.Errorf("a pool of %d connections, want 10 (one per sync worker and the others)", n)
	}
}
