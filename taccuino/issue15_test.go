package taccuino

import (
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"
)

// The tests of this file are the defects of issue 15 ("what people see"),
// one test each, written as a person meets them: through the pages, in
// Italian, on the demo data. They use only the service's HTTP surface, so
// that they ran, and failed, on the code before the fix.

// demo is the service in development mode on the demo data, with the
// reports, and a client per persona.
type demo struct {
	t   *testing.T
	e   *testEnv
	url string
	iss *auth.DevIssuer
	// mario and giulia are the demo patients' public ids.
	mario, giulia string
	personas      map[string]Persona
}

// newDemo starts the demo service on a new database (SeedDemo), with the
// summaries of the clinic list brought up to date.
func newDemo(t *testing.T) *demo {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	iss, err := auth.OpenDevIssuer(filepath.Join(t.TempDir(), "dev.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(ctx, iss.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	d := web.Deps{Logger: logger, Pool: e.pool, Store: e.store, Consent: e.consent, Dev: true}
	personas, err := SeedDemo(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	updater := summaries.NewUpdater(e.pool, e.store, summaries.Options{Logger: logger})
	if _, err := updater.UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Deps: d, Verifier: v, DevIssuer: iss, Demo: personas, Sync: e.syncer, Sessions: e.sessions, SensitiveRate: 1e6, SensitiveBurst: 1e6,
		Reports: reports.Options{Summaries: summaries.NewStore(e.pool), Refresher: updater}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	dm := &demo{t: t, e: e, url: srv.URL, iss: iss, personas: map[string]Persona{}}
	for _, p := range personas {
		dm.personas[p.Key] = p
	}
	for cf, id := range map[string]*string{DemoPatientCF: &dm.mario, DemoMinorCF: &dm.giulia} {
		p, err := e.store.PatientByFiscalCode(ctx, cf)
		if err != nil {
			t.Fatal(err)
		}
		*id = p.PublicID
	}
	return dm
}

// session is a browser-like client of one persona: its session cookie,
// the CSRF cookie, Italian.
type session struct {
	d *demo
	c *http.Client
}

// as returns an Italian session of the persona key ("" for a visitor).
func (d *demo) as(key string) *session { return d.asLang(key, "it") }

// asLang returns a session of the persona key in language lang.
func (d *demo) asLang(key, lang string) *session {
	d.t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(d.url)
	cookies := []*http.Cookie{{Name: web.LangCookie, Value: lang, Path: "/"}}
	if key != "" {
		p, ok := d.personas[key]
		if !ok {
			d.t.Fatalf("no persona %q", key)
		}
		tok, err := d.iss.Issue(p.Spec, time.Hour)
		if err != nil {
			d.t.Fatal(err)
		}
		cookies = append(cookies, &http.Cookie{Name: web.SessionCookie, Value: tok, Path: "/"})
	}
	jar.SetCookies(u, cookies)
	return &session{d: d, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get returns the status and body of a page.
func (s *session) get(path string) (int, string) {
	s.d.t.Helper()
	res, err := s.c.Get(s.d.url + path)
	if err != nil {
		s.d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// post sends a form (after reading the CSRF token from page) and returns
// the status, the Location and the body.
func (s *session) post(page, path string, form url.Values) (int, string, string) {
	s.d.t.Helper()
	_, body := s.get(page)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		s.d.t.Fatalf("no CSRF token on %s", page)
	}
	form.Set("csrf_token", m[1])
	req, _ := http.NewRequest(http.MethodPost, s.d.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.d.url)
	res, err := s.c.Do(req)
	if err != nil {
		s.d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// upload sends a CSV file with the page's import form.
func (s *session) upload(page, path, name, data string, skip bool) (int, string) {
	s.d.t.Helper()
	_, body := s.get(page)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		s.d.t.Fatalf("no CSRF token on %s", page)
	}
	var b strings.Builder
	w := multipart.NewWriter(&b)
	_ = w.WriteField("csrf_token", m[1])
	if skip {
		_ = w.WriteField("skip_invalid", "true")
	}
	fw, _ := w.CreateFormFile("file", name)
	_, _ = io.WriteString(fw, data)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, s.d.url+path, strings.NewReader(b.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", s.d.url)
	res, err := s.c.Do(req)
	if err != nil {
		s.d.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// text returns the visible text of an HTML page (tags, scripts and styles
// removed, entities decoded, spaces collapsed).
func text(page string) string {
	s := regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`).ReplaceAllString(page, " ")
	s = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(s, " ")
	s = strings.NewReplacer("&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#34;", `"`).Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// noEnglish fails when the text of an Italian page holds one of the
// English phrases the issue found.
func noEnglish(t *testing.T, what, page string, phrases ...string) {
	t.Helper()
	txt := text(page)
	for _, p := range phrases {
		if strings.Contains(txt, p) {
			t.Errorf("%s: English %q on an Italian page", what, p)
		}
	}
}

// TestIssue15DateRangeErrors: a bad date range on the patient's page is
// said in Italian next to the date, and the dates typed stay in the form
// (before: the English "to must not be before from" and "the period may
// span at most 93 days" on a separate error page).
func TestIssue15DateRangeErrors(t *testing.T) {
	d := newDemo(t)
	s := d.as("patient")
	status, page := s.get("/taccuino/p/" + d.mario + "?from=2026-03-10&to=2026-03-01")
	if status != http.StatusUnprocessableEntity {
		t.Errorf("reversed period: status %d", status)
	}
	noEnglish(t, "reversed period", page, "to must not be before from", "must not")
	if !strings.Contains(text(page), "La data di fine viene prima di quella di inizio") {
		t.Errorf("reversed period: no Italian message:\n%.400s", text(page))
	}
	if !strings.Contains(page, `value="2026-03-10"`) || !strings.Contains(page, `value="2026-03-01"`) {
		t.Errorf("reversed period: the dates typed are not in the form")
	}
	if !strings.Contains(page, `aria-invalid="true"`) || !strings.Contains(page, `aria-describedby="to-error"`) {
		t.Errorf("reversed period: the error is not tied to the field")
	}
	_, page = s.get("/taccuino/p/" + d.mario + "?from=2025-01-01&to=2026-01-01")
	noEnglish(t, "long period", page, "the period may span at most", "days")
	if !strings.Contains(text(page), "Il periodo può durare al massimo 93 giorni") {
		t.Errorf("long period: no Italian message:\n%.400s", text(page))
	}
	if strings.Contains(text(page), "Dati non validi") || strings.Contains(text(page), "Codice 422") {
		t.Errorf("long period: a dead-end error page")
	}
}

// TestIssue15ImportErrors: a bad CSV is refused on the patient's page, next
// to the upload form, with every rejected line's reason in Italian (before:
// a separate page with the parsers' English reasons and "send
// skip_invalid=true").
func TestIssue15ImportErrors(t *testing.T) {
	d := newDemo(t)
	s := d.as("patient")
	p := "/taccuino/p/" + d.mario
	csv := "id,time,gl\nme,2026-03-01T10:00:00+01:00,abc\nme,2026-03-01T10:15:00,120\nme,2026-03-01T10:30:00+01:00,\n"
	status, page := s.upload(p, p+"/imports", "export.csv", csv, false)
	if status != http.StatusUnprocessableEntity {
		t.Errorf("bad file: status %d", status)
	}
	txt := text(page)
	noEnglish(t, "bad file", page, "skip_invalid", "send ", "rejected", "nothing was imported", "is not a number", "has no UTC offset",
		"is missing", "want glucose")
	for _, want := range []string{"3 righe non sono valide", "la glicemia non è un numero", "l'ora non ha lo scarto da UTC",
		"manca la glicemia in mg/dL", "Ultima glicemia"} {
		if !strings.Contains(txt, want) {
			t.Errorf("bad file: the page does not say %q", want)
		}
	}
	// Not a CSV the service knows.
	_, page = s.upload(p, p+"/imports", "note.csv", "hello,world\n1,2\n", false)
	noEnglish(t, "unknown file", page, "not a LibreView export", "nor a long CSV")
	if !strings.Contains(text(page), "un formato che fsecgm non riconosce") || strings.Contains(page, "%!") {
		t.Errorf("unknown file: %.300s", text(page))
	}
	// A LibreView export that cannot be read: the parser's code said in
	// Italian (before: "import_unreadable%!(EXTRA string=libreview: …)").
	lv := "Glucose Data,Generated on,03-07-2024 10:31 UTC,Generated by,X\n" +
		"Device,Serial Number,Device Timestamp,Record Type,Historic Glucose,Scan Glucose mg/dL,a,b,c,d,e,f,g,h,Strip Glucose mg/dL,k,l,m,n\n"
	_, page = s.upload(p, p+"/imports", "lv.csv", lv, false)
	if !strings.Contains(text(page), "La colonna della glicemia storica non dice l'unità") || strings.Contains(page, "%!") ||
		strings.Contains(page, "import_unreadable") {
		t.Errorf("unreadable LibreView export: %.300s", text(page))
	}
}

// TestIssue15AccessLogInItalian: the access log's "Cosa" says in Italian
// what was read (before: "find patient by fiscal code", "clinic list:
// summary of the last 14 days", "AGP report", "record mmg care
// relationship", "demo registry").
func TestIssue15AccessLogInItalian(t *testing.T) {
	d := newDemo(t)
	mmg := d.as("mmg")
	mmg.get("/clinic")
	mmg.get("/reports/agp/" + d.mario)
	mmg.get("/reports/agp/" + d.mario + ".pdf")
	mmg.post("/taccuino", "/taccuino/find", url.Values{"fiscal_code": {DemoPatientCF}})
	_, page := d.as("patient").get("/taccuino/p/" + d.mario)
	i := strings.Index(page, `id="access-log"`)
	if i < 0 {
		t.Fatal("no access log on the patient's page")
	}
	log := text(page[i:])
	noEnglish(t, "access log", log, "find patient by fiscal code", "clinic list", "summary of the last", "AGP report",
		"record mmg care relationship", "care relationship", "demo registry", "taccuino 20")
	for _, want := range []string{"ricerca del paziente per codice fiscale", "elenco pazienti: riepilogo degli ultimi 14 giorni",
		"profilo AGP, dal", "profilo AGP in PDF, dal", "registrazione: medico di famiglia"} {
		if !strings.Contains(log, want) {
			t.Errorf("access log: no %q", want)
		}
	}
}

// TestIssue15WrongPassword: a wrong LibreLinkUp password is shown next to
// the password field, in the second person, with the e-mail kept (before:
// a separate "Dati non validi · Codice 422" page whose text named
// "fsecgm" and spoke of "del paziente" to the patient).
func TestIssue15WrongPassword(t *testing.T) {
	d := newDemo(t)
	s := d.as("patient")
	p := "/taccuino/p/" + d.mario
	a := d.e.accounts[0]
	status, _, page := s.post(p, p+"/connections", url.Values{"mode": {"patient"}, "email": {a.Email}, "password": {"sbagliata-1"},
		"privacy_notice_version": {PrivacyNoticeVersion}})
	if status != http.StatusUnprocessableEntity {
		t.Errorf("wrong password: status %d", status)
	}
	txt := text(page)
	if strings.Contains(txt, "Dati non validi") || strings.Contains(txt, "Codice 422") {
		t.Errorf("wrong password: a dead-end error page: %.300s", txt)
	}
	if strings.Contains(txt, "fsecgm") || strings.Contains(txt, "del paziente") {
		t.Errorf("wrong password: the message names fsecgm or speaks of the patient in the third person: %.500s", txt)
	}
	if !strings.Contains(txt, "E-mail o password non corrette") {
		t.Errorf("wrong password: no message: %.500s", txt)
	}
	if !strings.Contains(page, `value="`+a.Email+`"`) || strings.Contains(page, "sbagliata-1") {
		t.Errorf("wrong password: the e-mail is not kept, or the password is echoed")
	}
	if !strings.Contains(page, `aria-describedby="llu-password-error"`) {
		t.Errorf("wrong password: the message is not next to the password field")
	}
}

// TestIssue15ClinicPage: the clinic page has no "%!(EXTRA", every link has
// a text, and it shows the signed-in clinician, "Esci" and the way back
// (before: "%!(EXTRA int=1)" under the table, an empty link, no user, no
// way out).
func TestIssue15ClinicPage(t *testing.T) {
	d := newDemo(t)
	for _, path := range []string{"/clinic", "/clinic?counts=1"} {
		_, page := d.as("diabetologist").get(path)
		if strings.Contains(page, "%!") {
			i := strings.Index(page, "%!")
			t.Errorf("%s: %q", path, page[max(0, i-40):i+30])
		}
		for _, m := range regexp.MustCompile(`(?s)<a [^>]*>(.*?)</a>`).FindAllStringSubmatch(page, -1) {
			if strings.TrimSpace(text(m[1])) == "" {
				t.Errorf("%s: a link with no text: %s", path, m[0])
			}
		}
		txt := text(page)
		for _, want := range []string{"dott.ssa Sara Neri", "Esci", "Pagina 1"} {
			if !strings.Contains(txt, want) {
				t.Errorf("%s: no %q", path, want)
			}
		}
		if !strings.Contains(page, `href="/taccuino"`) || !strings.Contains(page, `action="/logout"`) {
			t.Errorf("%s: no way back home or out", path)
		}
	}
}

// TestIssue15Wording: the words the issue found wrong.
func TestIssue15Wording(t *testing.T) {
	d := newDemo(t)
	patient := d.as("patient")
	_, page := patient.get("/taccuino/p/" + d.mario)
	txt := text(page)
	if strings.Contains(txt, "Accedi come") {
		t.Errorf("the patient's page says %q (reads as 'log in as')", "Accedi come")
	}
	if strings.Contains(page, ">COLLEGA<") || strings.Contains(txt, "COLLEGA") {
		t.Error("the connect button is in capitals")
	}
	if regexp.MustCompile(`Letture:? \d`).MatchString(txt) && strings.Count(txt, "Letture") > 1 {
		t.Errorf("two different counts both called 'Letture' on one page")
	}
	if !strings.Contains(txt, "Letture nel periodo") || !strings.Contains(txt, "letture ricevute in tutto") {
		t.Errorf("the two counts of readings are not told apart")
	}
	_, page = d.as("delegate").get("/taccuino/p/" + d.mario)
	if !strings.Contains(text(page), "In qualità di delegato") {
		t.Errorf("the delegate's page does not say on what basis they read")
	}
	// The GP's home, Anna's own card.
	_, page = d.as("mmg").get("/taccuino")
	if m := regexp.MustCompile(`<h1>([^<]*)</h1>`).FindStringSubmatch(page); m == nil || m[1] != "I miei pazienti" {
		t.Errorf("the GP's home is titled %v", m)
	}
	_, page = d.as("parent").get("/taccuino")
	if !strings.Contains(page, "<h2>Anna Bianchi</h2>") || strings.Contains(page, "<h2>"+DemoParentCF+"</h2>") {
		t.Errorf("Anna's own card does not show her name")
	}
	// The report is not "for the diabetologist" when the GP reads it.
	_, page = d.as("mmg").get("/reports/agp/" + d.mario)
	if strings.Contains(text(page), "referto per il diabetologo") {
		t.Error("the report says 'referto per il diabetologo' to the GP")
	}
	// A citizen opening the clinic list, a delegate changing consent: each
	// is told why, and neither is told "il paziente non ti ha dato il
	// consenso".
	status, page := patient.get("/clinic")
	if status != http.StatusForbidden || !strings.Contains(text(page), "riservato ai medici") ||
		strings.Contains(text(page), "non ti ha dato il consenso") {
		t.Errorf("a citizen on /clinic: %d %.300s", status, text(page))
	}
	status, _, page = d.as("delegate").post("/taccuino/p/"+d.mario, "/taccuino/p/"+d.mario+"/consent", url.Values{"granted": {"false"}})
	if status != http.StatusForbidden || !strings.Contains(text(page), "chi ha una delega può leggere i dati ma non cambiare il consenso") ||
		strings.Contains(text(page), "non ti ha dato il consenso") {
		t.Errorf("a delegate changing consent: %d %.300s", status, text(page))
	}
}

// TestIssue15DataArriveByThemselves: "i dati arrivano da soli" only with an
// active sensor connection (the demo patient's readings were loaded, not
// synced).
func TestIssue15DataArriveByThemselves(t *testing.T) {
	d := newDemo(t)
	_, page := d.as("patient").get("/taccuino/p/" + d.mario)
	txt := text(page)
	if strings.Contains(txt, "i dati arrivano da soli") {
		t.Errorf("no connection is active, yet the page says the data arrive by themselves")
	}
	if !strings.Contains(txt, "Nessun sensore è collegato") {
		t.Errorf("the page does not say that no sensor is connected")
	}
}

// TestIssue15DelegationUntil: a delegation entered "valida fino al
// 31/01/2027" shows 31/01/2027 (before: "01/02/2027 00:00").
func TestIssue15DelegationUntil(t *testing.T) {
	d := newDemo(t)
	s := d.as("patient")
	p := "/taccuino/p/" + d.mario
	year := time.Now().Year() + 1
	status, loc, _ := s.post(p, p+"/delegations", url.Values{"delegate_fiscal_code": {testCF(45)},
		"expires_at": {time.Date(year, 1, 31, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)}})
	if status != http.StatusSeeOther {
		t.Fatalf("delegation: status %d", status)
	}
	_, page := s.get(loc)
	txt := text(page)
	want := "31/01/" + time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")
	next := "01/02/" + time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Format("2006")
	if !strings.Contains(txt, testCF(45)+" "+want) && !strings.Contains(txt, testCF(45)+" Valida fino al "+want) {
		t.Errorf("the delegation until %s does not show %s", want, want)
	}
	if strings.Contains(txt, next+" 00:00") {
		t.Errorf("the delegation shows %s 00:00", next)
	}
}

// TestIssue15ReportLinksAndFavicon: the patient and their delegates find
// their AGP report (page and PDF) on their page; /favicon.ico is served.
func TestIssue15ReportLinksAndFavicon(t *testing.T) {
	d := newDemo(t)
	for _, who := range []string{"patient", "delegate"} {
		_, page := d.as(who).get("/taccuino/p/" + d.mario)
		if !strings.Contains(page, `href="/reports/agp/`+d.mario+`"`) || !strings.Contains(page, `href="/reports/agp/`+d.mario+`.pdf"`) {
			t.Errorf("%s: no link to the AGP report and its PDF", who)
		}
		if status, _ := d.as(who).get("/reports/agp/" + d.mario); status != http.StatusOK {
			t.Errorf("%s: the report answers %d", who, status)
		}
	}
	if _, page := d.as("patient").get("/taccuino/p/" + d.mario); !strings.Contains(text(page), "Il mio profilo AGP") {
		t.Error("the patient's page does not offer 'Il mio profilo AGP'")
	}
	res, err := http.Get(d.url + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/") {
		t.Errorf("/favicon.ico: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// chartSVG returns the first glucose chart of a patient's page.
func chartSVG(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<svg class="chart[^"]*".*?</svg>`).FindString(page)
	if m == "" {
		t.Fatal("no chart on the page")
	}
	return m
}

// TestIssue15Chart: the patient's chart as in the FSE's design: four bands
// drawn and in the legend (140–180 included), the scale 40–300 fitted to
// the data, a reading just above 40 off the frame, the scans in the legend
// (before: 140–180 white and unnamed, the scale to about 400, values under
// about 45 on the frame, no legend for the dots).
func TestIssue15Chart(t *testing.T) {
	e := newEnv(t)
	cf := testCF(151)
	p := e.newPatient(cf, "Carla", "Conti", time.Date(1970, 2, 3, 0, 0, 0, 0, time.UTC))
	now := time.Now()
	e.ingest(p, now.Add(-time.Hour), 96, []float64{110, 150, 165, 200, 240, 42, 95})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Carla Conti"})
	res := e.request("GET", "/taccuino/p/"+p.PublicID+"?lang=it", tok, "", nil, nil)
	page := string(res.body)
	svg := chartSVG(t, page)
	bands := regexp.MustCompile(`<rect class="band-[a-z]+"`).FindAllString(svg, -1)
	if len(bands) != 4 {
		t.Errorf("%d bands drawn, want 4 (< 70, 70–139, 140–180, > 180): %v", len(bands), bands)
	}
	// The legend of the chart's section.
	section := page[strings.Index(page, `id="chart"`):]
	section = section[:strings.Index(section, "</section>")]
	legend := text(section[strings.LastIndex(section, "</svg>"):])
	for _, want := range []string{"140", "180", "Scansioni"} {
		if !strings.Contains(legend, want) {
			t.Errorf("the chart's legend has no %q: %q", want, legend)
		}
	}
	// The scale: y labels up to 300 for readings up to 240.
	for _, m := range regexp.MustCompile(`<text class="tick"[^>]*text-anchor="end"[^>]*>([0-9]+)</text>`).FindAllStringSubmatch(svg, -1) {
		if m[1] == "350" || m[1] == "400" {
			t.Errorf("the y axis runs to %s for readings up to 240", m[1])
		}
	}
	// The lowest point (42 mg/dL) is off the frame's bottom edge.
	frame := regexp.MustCompile(`class="frame" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)"`).FindStringSubmatch(svg)
	if frame == nil {
		t.Fatal("no frame")
	}
	bottom := atof(frame[1]) + atof(frame[2])
	lowest := 0.0
	for _, m := range regexp.MustCompile(`[ML]([0-9.]+) ([0-9.]+)`).FindAllStringSubmatch(svg, -1) {
		lowest = max(lowest, atof(m[2]))
	}
	if bottom-lowest < 4 {
		t.Errorf("the reading of 42 mg/dL is drawn %.1f units from the frame's edge: clipped", bottom-lowest)
	}
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// TestIssue15LatestBadge: the latest value's badge names the band of every
// value, 140 to 180 included.
func TestIssue15LatestBadge(t *testing.T) {
	e := newEnv(t)
	badge := regexp.MustCompile(`<span class="badge [^"]*"[^>]*>([^<]*)</span>`)
	for i, c := range []struct {
		v    float64
		want string
	}{{65, "ipoglicemia"}, {70, "normale"}, {139, "normale"}, {140, "sopra il normale"}, {160, "sopra il normale"},
		{180, "sopra il normale"}, {181, "iperglicemia"}, {250, "iperglicemia"}} {
		cf := testCF(160 + i)
		p := e.newPatient(cf, "Nome", "Cognome", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC))
		e.ingest(p, time.Now().Add(-10*time.Minute), 8, []float64{c.v})
		tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
		page := string(e.request("GET", "/taccuino/p/"+p.PublicID+"?lang=it", tok, "", nil, nil).body)
		m := badge.FindStringSubmatch(page)
		if m == nil || strings.TrimSpace(m[1]) != c.want {
			t.Errorf("latest %v mg/dL: badge %v, want %q", c.v, m, c.want)
		}
	}
}
