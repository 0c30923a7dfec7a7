package taccuino

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/web"
)

// browserClient is an HTTP client with a cookie jar that does not follow
// redirects, holding the session cookie tok for srvURL.
func browserClient(t *testing.T, srvURL, tok string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	if tok != "" {
		u, _ := url.Parse(srvURL)
		jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: tok, Path: "/"}})
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// getPage gets path with c and returns the status and body.
func getPage(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	r, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// postForm posts form with c and returns the status.
func postForm(t *testing.T, c *http.Client, u string, form url.Values) int {
	t.Helper()
	r, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

// TestLogoutEndsSession: signing out ends the session on the server. The
// old token is refused at once, replayed as the session cookie and as a
// bearer token on the API, on this replica and on
// another one serving the same database; a token of another session of
// the same person still works.
func TestLogoutEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(40)
	p := e.newPatient(cf, "Sara", "Uscita", time.Time{})
	e.ingest(p, time.Now(), 8, []float64{100, 150})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	other := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	// A second replica of the service on the same database.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ss2 := sessions.New(e.pool, sessions.Options{})
	go ss2.Run(ctx)
	s2, err := New(Deps{Deps: web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: e.pool, Store: e.store, Consent: e.consent},
		Verifier: mustVerifier(t, e), Sessions: ss2})
	if err != nil {
		t.Fatal(err)
	}
	replica2 := httptest.NewServer(s2)
	defer replica2.Close()
	for deadline := time.Now().Add(5 * time.Second); !ss2.Live() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	c := browserClient(t, e.http.URL, tok)
	status, body := getPage(t, c, e.http.URL+"/taccuino/p/"+p.PublicID)
	m := csrfInput.FindStringSubmatch(body)
	if status != 200 || m == nil {
		t.Fatalf("page before sign-out: %d", status)
	}
	if st := postForm(t, c, e.http.URL+"/logout", url.Values{web.CSRFField: {m[1]}}); st != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", st)
	}
	// The browser dropped its cookie; a copy of it replayed:
	replay := browserClient(t, e.http.URL, tok)
	if st, _ := getPage(t, replay, e.http.URL+"/taccuino/p/"+p.PublicID); st != http.StatusUnauthorized {
		t.Errorf("the old session cookie after sign-out: %d, want 401", st)
	}
	for _, path := range []string{"/api/v1/patients/" + p.PublicID + "/glucose/latest", "/api/v1/me", "/api/v1/reports/agp/" + p.PublicID} {
		if res := e.get(path, tok); res.status != http.StatusUnauthorized {
			t.Errorf("the old token as a bearer on %s: %d, want 401", path, res.status)
		} else if !strings.Contains(res.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s: WWW-Authenticate %q", path, res.header.Get("WWW-Authenticate"))
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		req, _ := http.NewRequest("GET", replica2.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other replica still accepts the old token 2 s after sign-out: %d", r.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if res := e.get("/api/v1/patients/"+p.PublicID+"/glucose/latest", other); res.status != 200 {
		t.Errorf("another session of the same person after sign-out: %d", res.status)
	}
	// The refused attempt is in the patient's access log: the patient
	// sees that someone used an ended session.
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND detail LIKE '%session ended%'`, p.ID); n == 0 {
		t.Error("no access-log entry says the session had ended")
	}
}

// count returns the result of a count query.
func (e *testEnv) count(q string, args ...any) int {
	e.t.Helper()
	return e.te.Count(e.t, q, args...)
}

// TestCSRFRotatedAtLogin: the demo login rotates the CSRF token; a token
// obtained before signing in (the login page's, which an attacker can get
// for a browser too) is refused afterwards; the cookie is a __Host- cookie.
func TestCSRFRotatedAtLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.devServer(t)
	c := browserClient(t, srv.URL, "")
	status, body := getPage(t, c, srv.URL+"/login")
	m := csrfInput.FindStringSubmatch(body)
	if status != 200 || m == nil {
		t.Fatalf("login page: %d", status)
	}
	before := m[1]
	u, _ := url.Parse(srv.URL)
	if cs := c.Jar.Cookies(u); !hasCookie(cs, "__Host-fsecgm_csrf", before) {
		t.Errorf("no __Host- CSRF cookie holding the page's token: %v", cs)
	}
	if st := postForm(t, c, srv.URL+"/login", url.Values{"persona": {"patient"}, web.CSRFField: {before}}); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	if hasCookie(c.Jar.Cookies(u), "__Host-fsecgm_csrf", before) {
		t.Error("the CSRF token was not rotated at login")
	}
	status, body = getPage(t, c, srv.URL+"/taccuino")
	m = csrfInput.FindStringSubmatch(body)
	if status != 200 || m == nil || m[1] == before {
		t.Fatalf("home after login: %d, token rotated %v", status, m != nil && m[1] != before)
	}
	// The pre-login token in a forged form: refused; the new one works.
	forged := &http.Client{Jar: c.Jar, CheckRedirect: c.CheckRedirect}
	req, _ := http.NewRequest("POST", srv.URL+"/logout", strings.NewReader(url.Values{web.CSRFField: {before}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := forged.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("a form with the pre-login CSRF token: %d, want 403", r.StatusCode)
	}
	if st := postForm(t, c, srv.URL+"/logout", url.Values{web.CSRFField: {m[1]}}); st != http.StatusSeeOther {
		t.Errorf("logout with the session's token: %d", st)
	}
}

func hasCookie(cs []*http.Cookie, name, value string) bool {
	for _, c := range cs {
		if c.Name == name && c.Value == value {
			return true
		}
	}
	return false
}

// devServer starts the service in development mode (demo login) on e's
// database.
func (e *testEnv) devServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	iss, err := auth.OpenDevIssuer(t.TempDir() + "/dev.jwk")
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(ctx, iss.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	d := web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: e.pool, Store: e.store, Consent: e.consent, Dev: true}
	personas, err := SeedDemo(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Deps: d, Verifier: v, DevIssuer: iss, Demo: personas, Sessions: e.sessions, SensitiveRate: 1e6, SensitiveBurst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// TestLookupLimits: the requests that name a patient — by fiscal code on
// the API and the FHIR API, or about care relationships — share one limit
// per client and one per patient named, whoever asks. Beyond either the
// answer is 429 with Retry-After (an OperationOutcome on the FHIR API),
// nothing is looked up, and nothing reaches the patient's access log.
func TestLookupLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, err := records.New(e.pool, records.Options{Base: "http://fsecgm.test/fhir"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Deps: web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: e.pool, Store: e.store, Consent: e.consent,
		Lookups: web.NewLookups(web.LookupOptions{ClientPerMinute: 0.001, ClientBurst: 5, PatientPerMinute: 0.001, PatientBurst: 4})},
		Verifier: mustVerifier(t, e), Sessions: e.sessions, Records: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	send := func(method, path, tok, body string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		r.Header.Set("X-Test-Body", string(b))
		return r
	}
	cf := testCF(41)
	p := e.newPatient(cf, "Lia", "Cercata", time.Time{})
	e.setConsent(p, true)
	citizen := func(n int) string { return e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: testCF(n)}) }
	logged := func() int { return e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1`, p.ID) }

	// Four requests naming the patient, by four callers on four routes:
	// the patient's limit (4) is spent.
	for i, r := range []*http.Response{
		send("GET", "/api/v1/patients?identifier="+cf, citizen(42), ""),
		send("GET", "/fhir/Patient?identifier="+url.QueryEscape("http://hl7.it/sid/codiceFiscale|"+cf), citizen(43), ""),
		send("POST", "/api/v1/care-relationships", "", `{"kind":"mmg","patient_fiscal_code":"`+cf+`","practitioner_fiscal_code":"`+testCF(44)+`"}`),
		send("GET", "/api/v1/patients/"+p.PublicID+"/care-relationships", citizen(45), ""),
	} {
		if r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("request %d refused within the limits", i)
		}
	}
	before := logged()
	// The fifth, by yet another caller, on each route: 429.
	for _, tc := range []struct {
		name, method, path, body string
		fhir                     bool
	}{
		{"API lookup", "GET", "/api/v1/patients?identifier=" + cf, "", false},
		{"FHIR search", "GET", "/fhir/Patient?identifier=" + url.QueryEscape("http://hl7.it/sid/codiceFiscale|"+cf), "", true},
		{"FHIR search by id", "GET", "/fhir/Patient?identifier=" + p.PublicID, "", true},
		{"care relationship write", "POST", "/api/v1/care-relationships",
			`{"kind":"mmg","patient_fiscal_code":"` + cf + `","practitioner_fiscal_code":"` + testCF(44) + `"}`, false},
		{"care relationships read", "GET", "/api/v1/patients/" + p.PublicID + "/care-relationships", "", false},
	} {
		for _, tok := range []string{citizen(46), ""} {
			r := send(tc.method, tc.path, tok, tc.body)
			body := r.Header.Get("X-Test-Body")
			what := tc.name
			if tok == "" {
				what += " (anonymous)"
			}
			if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Errorf("%s beyond the patient's limit: %d, Retry-After %q", what, r.StatusCode, r.Header.Get("Retry-After"))
				continue
			}
			if tc.fhir && !strings.Contains(body, `"resourceType":"OperationOutcome"`) || tc.fhir && !strings.Contains(body, `"throttled"`) {
				t.Errorf("%s: 429 is not an OperationOutcome (throttled): %s", what, body)
			}
			if !tc.fhir && !strings.Contains(body, `"code":"rate_limited"`) {
				t.Errorf("%s: 429 body %s", what, body)
			}
			if strings.Contains(body, cf) || strings.Contains(body, p.FamilyName) {
				t.Errorf("%s: the 429 names the patient", what)
			}
		}
	}
	if n := logged(); n != before {
		t.Errorf("%d access-log entries written by refused lookups", n-before)
	}
	// Per client: one caller naming five other people, then a sixth.
	tok := citizen(47)
	for i := range 5 {
		if r := send("GET", "/api/v1/patients?identifier="+testCF(100+i), tok, ""); r.StatusCode == 429 {
			t.Fatalf("lookup %d of the client refused within its limit", i)
		}
	}
	if r := send("GET", "/fhir/Patient?identifier="+testCF(110), tok, ""); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the client's sixth lookup, on the FHIR API: %d, want 429", r.StatusCode)
	}
	// The registry service loading relationships is limited per patient
	// only.
	reg := e.token(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "registry", Scopes: []string{consent.ScopeRegistry}})
	for i := range 8 {
		if r := send("POST", "/api/v1/care-relationships", reg, `{"kind":"mmg","patient_fiscal_code":"`+testCF(200+i)+`","practitioner_fiscal_code":"`+testCF(44)+`"}`); r.StatusCode != 200 {
			t.Errorf("registry write %d: %d %s", i, r.StatusCode, r.Header.Get("X-Test-Body"))
		}
	}
}

// TestAccessLogFlood: a flood of identical refusals for one patient —
// anonymous with a bad token, and an authenticated stranger — is one
// access-log entry per caller with a count, which the patient's access
// log API and page show; the patient's real entries stay on the first
// page.
func TestAccessLogFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(50)
	p := e.newPatient(cf, "Ada", "Inondata", time.Time{})
	e.ingest(p, time.Now(), 8, []float64{100, 150})
	e.setConsent(p, true)
	mmg := testCF(51)
	if _, err := e.consent.UpsertCareRelationship(context.Background(), registryActor,
		consent.CareRelationship{PatientFiscalCode: cf, Kind: consent.CareMMG, PractitionerFiscalCode: mmg}); err != nil {
		t.Fatal(err)
	}
	stranger := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: testCF(52), PractitionerRole: auth.PractitionerMMG, Name: "Dott. Estraneo"})
	path := "/api/v1/patients/" + p.PublicID + "/glucometrics"
	for i := range 60 {
		if r := e.get(path, "not-a-token"); r.status != 401 {
			t.Fatalf("anonymous %d: %d", i, r.status)
		}
		if r := e.get(path+"?from=2026-01-0"+string(rune('1'+i%9)), stranger); r.status != 403 {
			t.Fatalf("stranger %d: %d", i, r.status)
		}
	}
	// The MMG's real read, after the flood.
	if r := e.get(path, e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: mmg, PractitionerRole: auth.PractitionerMMG})); r.status != 200 {
		t.Fatalf("MMG read: %d", r.status)
	}
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1`, p.ID); n > 4 {
		t.Errorf("%d access-log entries after 120 refusals and a read, want at most 4", n)
	}
	log := decode[AccessLogJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/access-log?limit=5", e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})))
	counts := map[string]int{}
	allowed := false
	for _, en := range log.Entries {
		if en.Outcome == consent.OutcomeDenied {
			counts[en.ActorRole] += en.Count
			if en.LastAt == nil || !en.LastAt.After(en.At) || en.LastRequestID == "" {
				t.Errorf("repeated entry without its last occurrence: %+v", en)
			}
		}
		allowed = allowed || en.Outcome == consent.OutcomeAllowed && en.ActorID == mmg
	}
	if counts[""] != 60 || counts["practitioner"] != 60 || !allowed {
		t.Errorf("access log counts %v (want 60 anonymous, 60 by the stranger) and the MMG's read %v: %+v", counts, allowed, log.Entries)
	}
	c := browserClient(t, e.http.URL, e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf}))
	if st, body := getPage(t, c, e.http.URL+"/taccuino/p/"+p.PublicID+"?lang=en"); st != 200 || !strings.Contains(body, "repeated 60 times") {
		t.Errorf("the patient's page does not show the count: %d", st)
	}
}
