package taccuino

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/web"
)

// TestErrorsAndHeaders checks the error body and status of each kind of
// bad request, the request id and the security headers.
func TestErrorsAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(20)
	p := e.newPatient(cf, "Gino", "Errori", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	consentPath := "/api/v1/patients/" + p.PublicID + "/consent/third-party"
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	for _, tt := range []struct {
		name, method, path, ct, body string
		status                       int
		code, field                  string
	}{
		{"unknown route", "GET", "/api/v1/nothing", "", "", 404, "not_found", ""},
		{"not JSON", "PUT", consentPath, "text/plain", `{"granted":true}`, 415, "unsupported_media_type", ""},
		{"malformed JSON", "PUT", consentPath, "application/json", `{"granted":`, 400, "bad_request", ""},
		{"deeply nested", "PUT", consentPath, "application/json", `{"granted":true,"x":` + deep + `}`, 400, "bad_request", ""},
		{"too large", "PUT", consentPath, "application/json", `{"granted":true,"x":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "payload_too_large", ""},
		{"unknown member", "PUT", consentPath, "application/json", `{"granted":true,"extra":1}`, 422, "invalid", "/extra"},
		{"wrong type", "PUT", consentPath, "application/json", `{"granted":"yes"}`, 422, "invalid", "/granted"},
		{"two values", "PUT", consentPath, "application/json", `{"granted":true}{}`, 400, "bad_request", ""},
	} {
		res := e.request(tt.method, tt.path, tok, tt.ct, []byte(tt.body), nil)
		var eb struct {
			Error struct{ Code, Message, Field string }
		}
		if err := json.Unmarshal(res.body, &eb); err != nil {
			t.Errorf("%s: body %s: %v", tt.name, truncate(res.body), err)
			continue
		}
		if res.status != tt.status || eb.Error.Code != tt.code || eb.Error.Field != tt.field || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s %q", tt.name, res.status, eb.Error, tt.status, tt.code, tt.field)
		}
	}
	// 401 with a WWW-Authenticate challenge; an expired token says so.
	res := e.get("/api/v1/patients/"+p.PublicID+"/readings", e.idp.Token(t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf},
		e.idp.Rejections()[9].Opts...))
	if res.status != 401 || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
	// The request id is echoed, or made up when unsafe.
	res = e.request("GET", "/healthz", "", "", nil, map[string]string{web.HeaderRequestID: "abc-123"})
	if res.header.Get(web.HeaderRequestID) != "abc-123" {
		t.Errorf("request id %q", res.header.Get(web.HeaderRequestID))
	}
	res = e.request("GET", "/healthz", "", "", nil, map[string]string{web.HeaderRequestID: "bad id\"<>"})
	if id := res.header.Get(web.HeaderRequestID); len(id) != 32 {
		t.Errorf("unsafe request id replaced by %q", id)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": web.DefaultCSP,
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}

// TestHealth checks /healthz and /readyz, also with a migration missing.
func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if res := e.get("/healthz", ""); res.status != 200 {
		t.Errorf("healthz: %d", res.status)
	}
	if res := e.get("/readyz", ""); res.status != 200 || !strings.Contains(string(res.body), `"status":"ok"`) {
		t.Errorf("readyz: %d %s", res.status, res.body)
	}
	if _, err := e.pool.Exec(context.Background(), `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if res := e.get("/readyz", ""); res.status != 503 || !strings.Contains(string(res.body), `"outdated"`) {
		t.Errorf("readyz with a pending migration: %d %s", res.status, res.body)
	}
}

// TestRateLimit checks that the authentication-sensitive routes are
// limited per client.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	e := newEnv(t)
	s, err := New(Deps{Deps: web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: pool, Store: e.store, Consent: e.consent},
		Verifier: mustVerifier(t, e), Sessions: e.sessions, SensitiveRate: 1, SensitiveBurst: 3})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	codes := []int{}
	for range 5 {
		res, err := http.Post(srv.URL+"/api/v1/patients/"+strings.Repeat("ab", 16)+"/connections", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 401 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("statuses %v, want 401 three times then 429", codes)
	}
	// Other routes are not limited.
	for range 5 {
		res, _ := http.Get(srv.URL + "/healthz")
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("healthz: %d", res.StatusCode)
		}
	}
}

func mustVerifier(t *testing.T, e *testEnv) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), e.idp.Config())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]{64})"`)

// TestPagesAndCSRF checks the pages in production mode: the login page
// sends to the identity provider, pages need a session, the cookie token
// works, and forms need the CSRF token and a same-origin request.
func TestPagesAndCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := cfFor("Ilaria", "Pagine", 30)
	p := e.newPatient(cf, "Ilaria", "Pagine", time.Time{})
	e.ingest(p, time.Now(), 8, []float64{100, 150})
	e.setConsent(p, true)
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Ilaria Pagine"})

	res := e.get("/login", "")
	if res.status != 200 || !strings.Contains(string(res.body), "SPID") || strings.Contains(string(res.body), `action="/login"`) {
		t.Errorf("production login page: %d", res.status)
	}
	if res := e.request("POST", "/login", "", "application/x-www-form-urlencoded", []byte("persona=patient"), nil); res.status == 303 {
		t.Error("production mode accepts a demo login")
	}
	if res := e.get("/taccuino/p/"+p.PublicID, ""); res.status != 401 || !strings.Contains(string(res.body), `href="/login"`) {
		t.Errorf("page without session: %d", res.status)
	}

	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.http.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: tok, Path: "/"}})
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("GET", e.http.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return r.StatusCode, b.String()
	}
	post := func(path string, form url.Values, origin string) (int, string) {
		req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode, r.Header.Get("Location")
	}
	status, page := get("/taccuino/p/"+p.PublicID, map[string]string{"Accept-Language": "en-GB,en;q=0.9"})
	if status != 200 || !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "Latest glucose") ||
		!strings.Contains(page, `id="consent-revoke"`) || !strings.Contains(page, "<path") {
		t.Fatalf("patient page: %d\n%s", status, truncate([]byte(page)))
	}
	if status, page := get("/taccuino/p/"+p.PublicID+"?lang=it", map[string]string{"Accept-Language": "en"}); status != 200 ||
		!strings.Contains(page, "Ultima glicemia") || !strings.Contains(page, `<html lang="it">`) {
		t.Errorf("Italian by ?lang=it: %d", status)
	}
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	form := url.Values{"granted": {"false"}}
	if status, _ := post("/taccuino/p/"+p.PublicID+"/consent", form, ""); status != 403 {
		t.Errorf("form without token: %d", status)
	}
	form.Set(web.CSRFField, m[1])
	if status, _ := post("/taccuino/p/"+p.PublicID+"/consent", form, "https://evil.example"); status != 403 {
		t.Errorf("form from another origin: %d", status)
	}
	status, loc := post("/taccuino/p/"+p.PublicID+"/consent", form, e.http.URL)
	if status != 303 || !strings.Contains(loc, "msg=consent-revoked") {
		t.Fatalf("revoke by form: %d %s", status, loc)
	}
	st, err := e.consent.ThirdPartyConsent(context.Background(), selfActor(cf), p.ID)
	if err != nil || st.Granted {
		t.Errorf("consent after the form: %+v %v", st, err)
	}
	_, page = get(loc, nil)
	if !strings.Contains(page, "Consent revoked") && !strings.Contains(page, "Consenso revocato") {
		t.Errorf("no confirmation on the page")
	}
	// Delegation by form, then its revocation.
	form = url.Values{web.CSRFField: {m[1]}, "delegate_fiscal_code": {testCF(31)}, "expires_at": {time.Now().AddDate(0, 0, 7).Format(time.DateOnly)}}
	if status, loc := post("/taccuino/p/"+p.PublicID+"/delegations", form, ""); status != 303 || !strings.Contains(loc, "delegation-granted") {
		t.Errorf("delegate by form: %d %s", status, loc)
	}
	ds, _ := e.consent.Delegations(context.Background(), selfActor(cf), p.ID)
	if len(ds) != 1 {
		t.Fatalf("delegations %+v", ds)
	}
	if status, _ := post("/taccuino/p/"+p.PublicID+"/delegations/"+jsonInt(ds[0].ID)+"/revoke", url.Values{web.CSRFField: {m[1]}}, ""); status != 303 {
		t.Errorf("revoke by form: %d", status)
	}
	// An invalid form answers a page that says what is wrong.
	form.Set("delegate_fiscal_code", "NOTACODE")
	if status, _ := post("/taccuino/p/"+p.PublicID+"/delegations", form, ""); status != 422 {
		t.Errorf("invalid delegate: %d", status)
	}
	// Home lists the patient; the static stylesheet is served.
	if status, page := get("/taccuino", nil); status != 200 || !strings.Contains(page, "/taccuino/p/"+p.PublicID) {
		t.Errorf("home: %d", status)
	}
	if status, css := get("/static/taccuino.css", nil); status != 200 || !strings.Contains(css, "--hypo") {
		t.Errorf("stylesheet: %d", status)
	}
	if status, _ := get("/static/nothing.js", nil); status != 404 {
		t.Errorf("unknown static file: %d", status)
	}
	if status, page := get("/privacy", nil); status != 200 || !strings.Contains(page, PrivacyNoticeVersion) {
		t.Errorf("privacy notice: %d", status)
	}
	// A connection whose password changed in the app: the page opens the
	// credentials form; new credentials by form, then a sync by form.
	a := e.accountFor(p)
	cb, _ := json.Marshal(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email, Password: a.Password})
	conn := decode[ConnectionJSON](t, e.request("POST", "/api/v1/patients/"+p.PublicID+"/connections", tok, "application/json", cb, nil))
	if err := e.fake.SetPassword(a.Email, "cambiata-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.ExpireTokens(a.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := e.syncer.SyncDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, page = get("/taccuino/p/"+p.PublicID, nil)
	if !strings.Contains(page, `<details class="credentials" open>`) || !strings.Contains(page, `id="credentials-`+conn.ID+`"`) ||
		strings.Contains(page, `id="sync-`+conn.ID+`"`) {
		t.Errorf("page of a connection with refused credentials: no open credentials form, or a sync button")
	}
	form = url.Values{web.CSRFField: {m[1]}, "email": {a.Email}, "password": {"cambiata-1"}}
	if status, loc := post("/taccuino/p/"+p.PublicID+"/connections/"+conn.ID+"/credentials", form, ""); status != 303 ||
		!strings.Contains(loc, "msg=credentials-updated") {
		t.Errorf("credentials by form: %d %s", status, loc)
	}
	if status, loc := post("/taccuino/p/"+p.PublicID+"/connections/"+conn.ID+"/sync", url.Values{web.CSRFField: {m[1]}}, ""); status != 303 ||
		!strings.Contains(loc, "msg=sync-requested") {
		t.Errorf("sync by form: %d %s", status, loc)
	}
	if _, page = get("/taccuino/p/"+p.PublicID, nil); !strings.Contains(page, `id="sync-`+conn.ID+`"`) {
		t.Errorf("no sync button once the credentials work")
	}
	// Logout clears the session.
	if status, _ := post("/logout", url.Values{web.CSRFField: {m[1]}}, ""); status != 303 {
		t.Errorf("logout: %d", status)
	}
	if status, _ := get("/taccuino", nil); status != 401 {
		t.Errorf("after logout: %d", status)
	}
}

// TestDevLogin checks the demo: seeding twice, the personas, the login
// that sets the session, and that a revoked consent stays revoked across
// seedings.
func TestDevLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	iss, err := auth.OpenDevIssuer(t.TempDir() + "/dev.jwk")
	if err != nil {
		t.Fatal(err)
	}
	vc := iss.VerifierConfig()
	v, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	d := web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: e.pool, Store: e.store, Consent: e.consent, Dev: true}
	personas, err := SeedDemo(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	mario, err := e.store.PatientByFiscalCode(ctx, DemoPatientCF)
	if err != nil {
		t.Fatal(err)
	}
	e.setConsent(mario, false)
	if personas, err = SeedDemo(ctx, d); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.consent.ThirdPartyConsent(ctx, selfActor(DemoPatientCF), mario.ID); st.Granted {
		t.Error("seeding again granted a revoked consent")
	}
	if cov, _ := e.store.Coverage(ctx, mario.ID); cov.Count < 13*96 {
		t.Errorf("demo readings: %d", cov.Count)
	}
	if _, err := New(Deps{Deps: d, Verifier: v, Sessions: e.sessions}); err == nil {
		t.Error("dev mode without the DevIssuer accepted")
	}
	d2 := d
	d2.Dev = false
	if _, err := New(Deps{Deps: d2, Verifier: v, DevIssuer: iss, Sessions: e.sessions}); err == nil {
		t.Error("the DevIssuer accepted outside dev mode")
	}
	s, err := New(Deps{Deps: d, Verifier: v, DevIssuer: iss, Demo: personas, Sessions: e.sessions})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	r, err := c.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 64<<10)
	n, _ := r.Body.Read(buf)
	b.Write(buf[:n])
	r.Body.Close()
	m := csrfInput.FindStringSubmatch(b.String())
	if m == nil || !strings.Contains(b.String(), "login-mmg") {
		t.Fatalf("dev login page: %s", truncate([]byte(b.String())))
	}
	r, err = c.PostForm(srv.URL+"/login", url.Values{"persona": {"parent"}, web.CSRFField: {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r.Body.Close()
	if r.StatusCode != 200 || r.Request.URL.Path != "/taccuino" || !strings.Contains(b.String(), "Giulia Bianchi") {
		t.Errorf("after login as the parent: %d %s", r.StatusCode, r.Request.URL)
	}
}
