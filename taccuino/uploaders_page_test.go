package taccuino

import (
	"crypto/sha1"
	"encoding/hex"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/internal/testenv/webenv"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"
)

// pageSession is a browser without a browser: a signed-in person's cookies
// (the session and the CSRF token) on the test service.
type pageSession struct {
	t    *testing.T
	e    *testEnv
	c    *http.Client
	base *url.URL
}

// signIn returns a session of the person of token (the session cookie
// holds the token, as after the login).
func (e *testEnv) signIn(token string) *pageSession {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.http.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: token, Path: "/"}})
	return &pageSession{t: e.t, e: e, base: u, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get opens a page.
func (s *pageSession) get(path string) response {
	s.t.Helper()
	r := webenv.Do(s.t, s.c, http.MethodGet, s.e.http.URL+path, "", "", nil, nil)
	return response{status: r.Status, header: r.Header, body: r.Body}
}

// post sends a form with the session's CSRF token (opening the home page
// first when the session has none yet).
func (s *pageSession) post(path string, form url.Values) response {
	s.t.Helper()
	token := ""
	for range 2 {
		for _, ck := range s.c.Jar.Cookies(s.base) {
			if ck.Name == web.CSRFCookie || ck.Name == web.CSRFFallbackCookie {
				token = ck.Value
			}
		}
		if token != "" {
			break
		}
		s.get("/taccuino")
	}
	if token == "" {
		s.t.Fatal("no CSRF cookie")
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set(web.CSRFField, token)
	r := webenv.Do(s.t, s.c, http.MethodPost, s.e.http.URL+path, "", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	return response{status: r.Status, header: r.Header, body: r.Body}
}

// The parts of the uploaders page the tests read.
var (
	shownURL  = regexp.MustCompile(`<code id="uploader-url" translate="no">([^<]+)</code>`)
	revokeFor = regexp.MustCompile(`id="revoke-([a-z2-7]+)"`)
	listRow   = regexp.MustCompile(`(?s)<tr id="uploader-([a-z2-7]+)">.*?</tr>`)
)

// door answers a request to the Nightscout door of an uploader's URL (the
// one shown on the page), as xDrip+ sends it: the URL without its secret
// as the base, api-secret the SHA-1 of the secret.
func (e *testEnv) door(t *testing.T, shown, method, path string, body []byte) response {
	t.Helper()
	u, err := url.Parse(shown)
	if err != nil || u.User == nil {
		t.Fatalf("URL %q: %v", shown, err)
	}
	sum := sha1.Sum([]byte(u.User.Username()))
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.request(method, u.Path+path, "", ct, body, map[string]string{"api-secret": hex.EncodeToString(sum[:])})
}

// TestUploadersPage: the patient creates an uploader on the page; the
// answer shows its URL (secret included) with where to paste it, once:
// the page opened again lists it (name, creation, last upload, readings
// received) without the secret; an upload through the URL shows on the
// list; the revocation (after its confirmation step) makes the door answer
// 401. A name that cannot be used is shown again next to the field.
func TestUploadersPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := cfFor("Lia", "Caricata", 51)
	p := e.newPatient(cf, "Lia", "Caricata", time.Time{})
	s := e.signIn(e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Lia Caricata"}))
	page := "/taccuino/p/" + p.PublicID + "/uploaders"

	// The patient's page links the uploaders.
	if r := s.get("/taccuino/p/" + p.PublicID); r.status != http.StatusOK || !strings.Contains(string(r.body), `href="`+page+`"`) {
		t.Errorf("patient page: %d, no link to %s", r.status, page)
	}
	if r := s.get(page); r.status != http.StatusOK || !strings.Contains(string(r.body), `id="uploaders-none"`) ||
		!strings.Contains(string(r.body), `id="uploader-form"`) {
		t.Fatalf("empty page: %d %s", r.status, truncate(r.body))
	}

	// Names that cannot be used: the form again, 422, nothing created.
	for _, c := range []struct{ name, label string }{
		{"empty", ""}, {"blank", "   "}, {"too long", strings.Repeat("x", 65)},
	} {
		r := s.post(page, url.Values{"label": {c.label}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="uploader-label-error"`) ||
			shownURL.Match(r.body) {
			t.Errorf("%s name: %d %s", c.name, r.status, truncate(r.body))
		}
	}
	if n := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE patient_id = $1`, p.ID); n != 0 {
		t.Fatalf("%d uploaders after refused names", n)
	}

	created := s.post(page, url.Values{"label": {"xDrip+ sul telefono"}})
	m := shownURL.FindSubmatch(created.body)
	if created.status != http.StatusOK || m == nil {
		t.Fatalf("create: %d %s", created.status, truncate(created.body))
	}
	if cc := created.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the secret: Cache-Control %q, want no-store", cc)
	}
	shown := html.UnescapeString(string(m[1]))
	u, err := url.Parse(shown)
	if err != nil || u.User == nil || len(u.User.Username()) != 40 {
		t.Fatalf("shown URL %q: want http://SECRET@host/nightscout/ID", shown)
	}
	secret := u.User.Username()
	for _, want := range []string{"Nightscout Sync (REST-API)", "Base URL", "Exchange data", `id="uploader-secret" translate="no">` + secret + "<",
		`id="uploader-site" translate="no">` + strings.Replace(shown, secret+"@", "", 1) + "<"} {
		if !strings.Contains(string(created.body), want) {
			t.Errorf("created: the page does not show %q", want)
		}
	}

	// The door takes the URL as xDrip+ does.
	if r := e.door(t, shown, http.MethodPost, "/api/v1/entries", xdripEntries(time.Now().Add(-5*time.Minute), 6, func(i int) int { return 110 + i })); r.status != http.StatusOK {
		t.Fatalf("upload through the shown URL: %d %s", r.status, r.body)
	}

	// Opened again: listed, never with its secret.
	list := s.get(page)
	row := listRow.FindSubmatch(list.body)
	if list.status != http.StatusOK || row == nil || strings.Contains(string(list.body), secret) || shownURL.Match(list.body) {
		t.Fatalf("list: %d, row %q, or the secret shown again", list.status, row)
	}
	id := string(row[1])
	for _, want := range []string{"xDrip+ sul telefono", ">6<", "revoke-" + id} {
		if !strings.Contains(html.UnescapeString(string(row[0])), want) {
			t.Errorf("list row %s does not show %q", row[0], want)
		}
	}
	if strings.Contains(string(row[0]), "mai") || strings.Contains(string(row[0]), "never") {
		t.Errorf("list row %s: no last upload after an upload", row[0])
	}

	// Revoke: the list's button asks to confirm (nothing revoked yet);
	// the confirming button revokes, and the door refuses the secret.
	ask := s.post(page+"/"+id+"/revoke", nil)
	if ask.status != http.StatusOK || !strings.Contains(string(ask.body), `id="revoke-confirm"`) ||
		!strings.Contains(string(ask.body), `name="confirm" value="yes"`) {
		t.Fatalf("revoke, first step: %d %s", ask.status, truncate(ask.body))
	}
	if r := e.door(t, shown, http.MethodGet, "/api/v1/status.json", nil); r.status != http.StatusOK {
		t.Errorf("door after the first step of the revocation: %d", r.status)
	}
	r := s.post(page+"/"+id+"/revoke", url.Values{"confirm": {"yes"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "msg=revoked") {
		t.Fatalf("revoke: %d %s", r.status, r.header.Get("Location"))
	}
	if r := e.door(t, shown, http.MethodPost, "/api/v1/entries", xdripEntries(time.Now(), 1, func(int) int { return 120 })); r.status != http.StatusUnauthorized {
		t.Errorf("door after the revocation: %d %s", r.status, r.body)
	}
	if r := s.post(page+"/"+id+"/revoke", nil); r.status != http.StatusNotFound {
		t.Errorf("asking to revoke a revoked uploader: %d", r.status)
	}
	after := s.get(page + "?msg=revoked")
	if after.status != http.StatusOK || !strings.Contains(string(after.body), `id="msg"`) || revokeFor.Match(after.body) {
		t.Errorf("page after the revocation: %d %s", after.status, truncate(after.body))
	}
	// The same, in English.
	if r := s.get(page + "?lang=en"); !strings.Contains(string(r.body), "Revoked on") || !strings.Contains(string(r.body), "Readings received") {
		t.Errorf("English page: %s", truncate(r.body))
	}
	// Someone else's uploader cannot be revoked from this page.
	cf2 := cfFor("Ugo", "Altri", 52)
	p2 := e.newPatient(cf2, "Ugo", "Altri", time.Time{})
	s2 := e.signIn(e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf2}))
	c2 := s2.post("/taccuino/p/"+p2.PublicID+"/uploaders", url.Values{"label": {"Juggluco"}})
	m2 := shownURL.FindSubmatch(c2.body)
	if m2 == nil {
		t.Fatalf("create for another patient: %d", c2.status)
	}
	id2 := revokeFor.FindSubmatch(c2.body)
	if id2 == nil {
		t.Fatal("no revoke button for the new uploader")
	}
	for _, confirm := range []string{"", "yes"} {
		if r := s.post(page+"/"+string(id2[1])+"/revoke", url.Values{"confirm": {confirm}}); r.status != http.StatusNotFound {
			t.Errorf("revoke another patient's uploader (confirm=%q): %d", confirm, r.status)
		}
	}
	if r := e.door(t, html.UnescapeString(string(m2[1])), http.MethodGet, "/api/v1/status.json", nil); r.status != http.StatusOK {
		t.Errorf("the other patient's uploader after a refused revocation: %d", r.status)
	}
}

// TestUploadersPageAccess is the page's part of the authorization matrix:
// every persona opens the page, creates an uploader and revokes it, on
// their patient; the patient, a parent or tutor of the minor and a
// delegate may (consent.ActWriteData, as the API), a clinician, a service
// and an analyst may not (403, nothing created or revoked, the refusal in
// the patient's access log), with the third-party consent granted.
func TestUploadersPageAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := seedMatrix(t, e, true)
	mayN, refusedN := 0, 0
	for _, ps := range matrixPersonas(e, f) {
		if ps.unauth {
			continue
		}
		target := f.minor
		if ps.adult {
			target = f.adult
		}
		allowed := ps.may(consent.ActWriteData, true)
		if allowed {
			mayN++
		} else {
			refusedN++
		}
		page := "/taccuino/p/" + target.PublicID + "/uploaders"
		s := e.signIn(ps.token)
		before := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE patient_id = $1`, target.ID)
		liveBefore := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE patient_id = $1 AND revoked_at IS NULL`, target.ID)
		// The uploader to revoke: the one the persona creates, or, when it
		// may not, the patient's.
		victim := f.uploader[target.ID]
		steps := []struct {
			what string
			do   func() response
			ok   int
		}{
			{"open", func() response { return s.get(page) }, http.StatusOK},
			{"create", func() response { return s.post(page, url.Values{"label": {"AndroidAPS"}}) }, http.StatusOK},
			{"ask to revoke", func() response { return s.post(page+"/"+victim+"/revoke", nil) }, http.StatusOK},
			{"revoke", func() response { return s.post(page+"/"+victim+"/revoke", url.Values{"confirm": {"yes"}}) }, http.StatusSeeOther},
		}
		for _, st := range steps {
			what := st.what + " as " + ps.name
			want := st.ok
			if !allowed {
				want = http.StatusForbidden
			}
			r := st.do()
			if r.status != want {
				t.Errorf("%s: %d, want %d; %s", what, r.status, want, truncate(r.body))
				continue
			}
			if !allowed {
				checkNoData(t, what, r, f, target, true, false)
				if en := e.accessLog(r.header.Get(web.HeaderRequestID)); !hasOutcome(en, target.ID, consent.OutcomeDenied) {
					t.Errorf("%s: access log %+v, want a refusal", what, en)
				}
				continue
			}
			if st.what == "create" {
				id := revokeFor.FindSubmatch(r.body)
				if id == nil || !shownURL.Match(r.body) {
					t.Errorf("%s: no URL or no revoke button", what)
					continue
				}
				victim = string(id[1])
			}
			if en := e.accessLog(r.header.Get(web.HeaderRequestID)); ps.self != (len(en) == 0) {
				t.Errorf("%s: access log %+v (the patient's own access is not logged, others' are)", what, en)
			}
		}
		after := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE patient_id = $1`, target.ID)
		live := count(t, e, `SELECT count(*) FROM ns_uploaders WHERE patient_id = $1 AND revoked_at IS NULL`, target.ID)
		switch {
		case allowed && (after != before+1 || live != liveBefore):
			t.Errorf("as %s: %d uploaders (%d live), want %d (%d live)", ps.name, after, live, before+1, liveBefore)
		case !allowed && after != before:
			t.Errorf("as %s: %d uploaders, want %d", ps.name, after, before)
		}
	}
	if mayN < 4 || refusedN < 6 {
		t.Errorf("%d personas may, %d may not: the matrix's personas changed", mayN, refusedN)
	}
	t.Logf("%d personas may manage the uploaders, %d may not", mayN, refusedN)
	// Not signed in: the page asks to sign in.
	if r := e.get("/taccuino/p/"+f.minor.PublicID+"/uploaders", ""); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", r.status)
	}
}
