package taccuino

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fsecgm/cgm"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/internal/pagecheck"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (or another Chromium build). It
// returns "" when there is none.
func chromiumPath() string { return pagecheck.ChromiumPath() }

// browser is a headless Chromium tab on the demo service.
type browser struct {
	*pagecheck.Browser
	t    *testing.T
	ctx  context.Context // the tab (pagecheck.Browser.Ctx)
	base string
	shot string // screenshot directory
	// ids are the public ids of the demo patients, by fiscal code.
	ids map[string]string
}

// demoServer starts the service in development mode on e's database with
// the demo data (SeedDemo), the reports with their summaries brought up
// to date, and a person with no record yet ("newcomer"), listening on addr.
func demoServer(t *testing.T, e *testEnv, addr string) (*httptest.Server, map[string]string) {
	t.Helper()
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
	personas = append(personas, Persona{Key: "newcomer", Landing: "/taccuino",
		Spec: auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cfNewcomer, Name: "Nora Nuova", GivenName: "Nora", FamilyName: "Nuova"}})
	updater := summaries.NewUpdater(e.pool, e.store, summaries.Options{Logger: logger})
	if _, err := updater.UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}
	// The population view's releases (the demo's few patients: every
	// count suppressed, as the dashboard shows it).
	if _, err := population.NewRefresher(e.pool, e.store, population.Options{Months: 1}).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Deps: d, Verifier: v, DevIssuer: iss, Demo: personas, Sync: e.syncer, Sessions: e.sessions, SensitiveRate: 1e6, SensitiveBurst: 1e6,
		Notify: e.notify, DevMail: e.mail, Reports: reports.Options{Summaries: summaries.NewStore(e.pool), Refresher: updater}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	ids := map[string]string{}
	for _, cf := range []string{DemoPatientCF, DemoMinorCF} {
		p, err := e.store.PatientByFiscalCode(ctx, cf)
		if err != nil {
			t.Fatal(err)
		}
		ids[cf] = p.PublicID
	}
	return srv, ids
}

// newBrowser starts the demo service and a headless Chromium with a fresh
// profile. It skips the test, loudly, when Chromium cannot be found.
func newBrowser(t *testing.T) (*browser, *testEnv) {
	t.Helper()
	return newBrowserOn(t, "127.0.0.1:0")
}

// newBrowserOn is newBrowser with the service listening on addr.
func newBrowserOn(t *testing.T, addr string) (*browser, *testEnv) {
	t.Helper()
	if chromiumPath() == "" {
		t.Skip("SKIPPING BROWSER TEST: no Chromium found (install Debian's chromium: apt-get install -y chromium, or set FSECGM_CHROMIUM)")
	}
	e := newEnv(t)
	srv, ids := demoServer(t, e, addr)
	pb := pagecheck.New(t)
	dir := os.Getenv("FSECGM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	return &browser{Browser: pb, t: t, ctx: pb.Ctx, base: srv.URL, shot: dir, ids: ids}, e
}

// navigate opens a path and waits for the load.
func (b *browser) navigate(path string) {
	b.t.Helper()
	b.Navigate(b.base + path)
}

// do runs actions with a time limit.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.Do(what, actions...)
}

// submit clicks a button that submits a form and waits for the next page.
func (b *browser) submit(sel string) {
	b.t.Helper()
	b.Submit(sel)
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return b.Text(sel)
}

// screenshot saves the viewport at the given size as name.png, scrolled
// to the element with id at, when given.
func (b *browser) screenshot(name string, w, h int64, at ...string) {
	b.t.Helper()
	b.Viewport(w, h)
	for _, id := range at {
		pagecheck.Eval[bool](b.Browser, `(document.getElementById("`+id+`").scrollIntoView(), true)`)
	}
	b.Screenshot(filepath.Join(b.shot, name+".png"), false)
}

// login signs in as a demo persona from the login page.
func (b *browser) login(persona string) {
	b.t.Helper()
	b.navigate("/login?lang=it")
	b.submit("#login-" + persona)
}

// logout signs out with the header's button.
func (b *browser) logout() {
	b.t.Helper()
	b.submit("#logout")
}

// checkLatest checks the latest glucose shown on the patient's page
// against the latest stored reading: a number, or LO/HI when the stored
// reading is beyond the sensor's range (the demo's simulated day reaches
// both at some hours).
func checkLatest(t *testing.T, b *browser, e *testEnv) {
	t.Helper()
	loc := mustLocation(t, b)
	p, err := e.store.PatientByPublicID(context.Background(), loc[strings.LastIndex(loc, "/")+1:])
	if err != nil {
		t.Fatalf("patient of %s: %v", loc, err)
	}
	r, err := e.store.Latest(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("latest reading: %v", err)
	}
	want := "a number"
	switch {
	case r.Flags&cgm.FlagLow != 0:
		want = "LO"
	case r.Flags&cgm.FlagHigh != 0:
		want = "HI"
	}
	v := b.text("#latest-value")
	isNumber := v != "" && strings.Trim(v, "0123456789,") == ""
	if (want == "a number") != isNumber || (!isNumber && v != want) {
		t.Errorf("latest glucose %q, want %s (stored %v %s, flags %d)", v, want, r.Value, r.Unit, r.Flags)
	}
}

func mustLocation(t *testing.T, b *browser) string {
	t.Helper()
	loc := b.Location()
	if i := strings.IndexAny(loc, "?#"); i >= 0 {
		loc = loc[:i]
	}
	return loc
}

// TestBrowserConsentRevocation is the scenario in a real headless
// Chromium: the demo patient signs in, sees the latest glucose and the
// chart, revokes consent; the MMG is then denied; the patient sees the
// denial in the access log.
func TestBrowserConsentRevocation(t *testing.T) {
	b, e := newBrowser(t)

	b.login("patient")
	if loc := b.Location(); !strings.Contains(loc, "/taccuino/p/") {
		t.Fatalf("after login: %s\n%s", loc, b.text("main"))
	}
	checkLatest(t, b, e)
	if got := b.text("#chart-h"); got != "Andamento della glicemia" {
		t.Errorf("chart heading %q", got)
	}
	if n := pagecheck.Eval[int](b.Browser, `document.querySelectorAll('svg.chart-wide path.line').length`); n == 0 {
		t.Errorf("chart lines: %d", n)
	}
	// Keyboard: the first Tab reaches the skip link, which leads to the
	// content.
	b.navigate(strings.TrimPrefix(mustLocation(t, b), b.base))
	b.Key("\t", false)
	if cls := pagecheck.Eval[string](b.Browser, `document.activeElement.className`); cls != "ui-skip" {
		t.Errorf("first Tab focuses %q, want the skip link", cls)
	}
	// Every form control has a label.
	if n := pagecheck.Eval[int](b.Browser, `Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea')).filter(i => !(i.labels && i.labels.length)).length`); n != 0 {
		t.Errorf("%d inputs without a label", n)
	}

	// Revoke consent.
	b.submit("#consent-revoke")
	if msg := b.text("#msg"); !strings.Contains(msg, "Consenso revocato") {
		t.Errorf("message after revoking: %q", msg)
	}
	if st := b.text("#consent-state"); !strings.Contains(st, "Nessuno") {
		t.Errorf("consent state %q", st)
	}
	b.logout()

	// The MMG: the patient is no longer listed, and opening the record by
	// fiscal code is denied, saying why.
	b.login("mmg")
	if body := b.text("main"); strings.Contains(body, "Mario Rossi") {
		t.Errorf("the MMG still sees the patient listed")
	}
	b.do("type fiscal code", chromedp.SendKeys(chromedp.ID("find-cf"), DemoPatientCF))
	b.submit("#find-submit")
	if h := b.text("h1"); h != "Accesso negato" {
		t.Errorf("MMG after revocation: heading %q", h)
	}
	if msg := b.text("#error-message"); !strings.Contains(msg, "non ha concesso il consenso") {
		t.Errorf("MMG after revocation: %q, want the reason (no consent)", msg)
	}
	if body := b.text("main"); strings.Contains(body, "mg/dL") {
		t.Errorf("the denial page shows glucose data: %s", body)
	}
	b.logout()

	// The patient sees the denial in the access log.
	b.login("patient")
	log := b.text("#access-log")
	if !strings.Contains(log, "dott. Luca Verdi") || !strings.Contains(log, "negato") ||
		!strings.Contains(log, "consenso alla consultazione revocato o non concesso") {
		t.Errorf("access log does not show the MMG's denial:\n%s", log)
	}

	// English.
	b.navigate(strings.TrimPrefix(mustLocation(t, b), b.base) + "?lang=en")
	if h := b.text("#latest-h"); h != "Latest glucose" {
		t.Errorf("English heading %q", h)
	}
}

// cfNewcomer is the fiscal code of the newcomer persona, Nora Nuova.
var cfNewcomer = cfFor("Nora", "Nuova", 77)

// TestBrowserConnectSensor is the first scenario: a person opens
// their taccuino, reads the privacy notice and connects their sensor
// against the fake LibreLinkUp; after a sync the readings arrive on the
// page.
func TestBrowserConnectSensor(t *testing.T) {
	b, e := newBrowser(t)
	b.login("newcomer")
	b.submit("form[action='/taccuino/activate'] button")
	if st := b.text("#status"); st != "Nessun dato ricevuto" {
		t.Errorf("status before connecting: %q", st)
	}
	newcomer, err := e.store.PatientByFiscalCode(context.Background(), cfNewcomer)
	if err != nil || newcomer.GivenName != "Nora" || newcomer.FamilyName != "Nuova" {
		t.Fatalf("the activated record = %+v, %v; want the names the identity provider asserts", newcomer, err)
	}
	a := e.accountFor(newcomer)
	b.do("fill the connection form",
		chromedp.SendKeys(chromedp.ID("llu-email"), a.Email),
		chromedp.SendKeys(chromedp.ID("llu-password"), a.Password),
		chromedp.Click(chromedp.ID("llu-privacy")),
	)
	b.submit("#connect-submit")
	if msg := b.text("#msg"); !strings.Contains(msg, "Sensore collegato") {
		t.Fatalf("after connecting: %q\n%s", msg, b.text("main"))
	}
	if todo := b.text("#todo"); strings.Contains(todo, "da soli") && !strings.Contains(todo, "entro pochi minuti") {
		t.Errorf("before any reading the page says %q", todo)
	}
	// The scheduler's next tick.
	st, err := e.syncer.SyncDue(context.Background())
	if err != nil || st.Inserted == 0 {
		t.Fatalf("sync: %+v %v", st, err)
	}
	b.navigate(strings.TrimPrefix(mustLocation(t, b), b.base))
	checkLatest(t, b, e)
	if st := b.text("#status"); st != "Dati aggiornati" {
		t.Errorf("status after the sync: %q", st)
	}
	if conn := b.text(".conn"); !strings.Contains(conn, "attivo") {
		t.Errorf("connection: %q", conn)
	}
	// The acceptance of the privacy notice is recorded.
	p, err := e.store.PatientByFiscalCode(context.Background(), cfNewcomer)
	if err != nil {
		t.Fatal(err)
	}
	if acc, err := e.consent.LatestPrivacyNotice(context.Background(), selfActor(cfNewcomer), p.ID); err != nil || acc.Version != PrivacyNoticeVersion {
		t.Errorf("privacy notice acceptance: %+v %v", acc, err)
	}
}

// TestCSRFCookieChromium checks in a real Chromium what the CSRF cookie's
// name relies on: over plain http, Chromium keeps the __Host- cookie
// (Secure) from http://127.0.0.1 and http://localhost, so the demo's forms
// work there with it; from another plain-http host (the demo opened from a
// phone on the local network) it refuses Secure cookies, so the service
// uses the fallback name without Secure, and the forms still work.
func TestCSRFCookieChromium(t *testing.T) {
	t.Parallel()
	b, _ := newBrowserOn(t, "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(b.base, "http://"))
	all := func(u string) []*network.Cookie {
		var cs []*network.Cookie
		err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
			cs = res.Cookies
			return err
		}))
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	cookies := func() map[string]bool {
		out := map[string]bool{}
		for _, c := range all(b.base + "/") {
			out[c.Name] = c.Secure
		}
		return out
	}
	loginAt := func(base string) {
		t.Helper()
		b.base = base
		b.login("patient")
		if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); !strings.Contains(loc, "/taccuino/p/") {
			t.Fatalf("login at %s: the form was refused (%s)", base, loc)
		}
		b.logout()
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		loginAt("http://" + host + ":" + port)
		if secure, ok := cookies()[web.CSRFCookie]; !ok || !secure {
			t.Errorf("http://%s: no Secure %s cookie in Chromium: %v", host, web.CSRFCookie, cookies())
		}
	}
	lan := ""
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			lan = n.IP.String()
			break
		}
	}
	if lan == "" {
		t.Log("NO NON-LOOPBACK ADDRESS: the fallback cookie on a plain-http LAN host is not checked in Chromium here")
		return
	}
	loginAt("http://" + lan + ":" + port)
	cs := all(b.base + "/")
	found := false
	for _, c := range cs {
		if c.Domain == lan {
			if c.Name == web.CSRFCookie {
				t.Errorf("http://%s: Chromium kept a __Host- cookie over plain http", lan)
			}
			found = found || c.Name == web.CSRFFallbackCookie && !c.Secure
		}
	}
	if !found {
		t.Errorf("http://%s: no %s cookie: %+v", lan, web.CSRFFallbackCookie, cs)
	}
}
