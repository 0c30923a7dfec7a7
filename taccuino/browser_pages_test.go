package taccuino

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/internal/pagecheck"
	"fsecgm/taccuino/summaries"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// pageVisit is one page a persona opens: by address, or by filling and
// sending a form on the page opened before (a form shown again with its
// errors is a page too).
type pageVisit struct {
	name string
	// path is opened (with the patient ids filled in: {mario}, {giulia}).
	path string
	// form, when set, runs on the current page instead and leaves the
	// browser on the resulting page.
	form func(b *browser)
	// want is a text the page must show.
	want string
}

// personaPages lists every page of the service, for each demo persona and
// for a visitor who is not signed in.
func personaPages(t *testing.T, badCSV string) map[string][]pageVisit {
	today := time.Now()
	// The day view of yesterday, a whole day of the demo's devices.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	vitalsDay := "/taccuino/p/{mario}/vitals/day?date=" + today.In(rome).AddDate(0, 0, -1).Format(time.DateOnly)
	return map[string][]pageVisit{
		"": {
			{name: "login", path: "/login", want: "Entra come"},
			{name: "privacy", path: "/privacy", want: "Informativa"},
			{name: "401", path: "/taccuino", want: "Accesso richiesto"},
			{name: "404", path: "/nessuna-pagina", want: "Pagina non trovata"},
		},
		"patient": {
			{name: "home", path: "/taccuino", want: "Mario Rossi"},
			{name: "taccuino", path: "/taccuino/p/{mario}", want: "Il mio profilo AGP"},
			{name: "taccuino-bad-period", path: "/taccuino/p/{mario}?from=" + today.Format(time.DateOnly) + "&to=" +
				today.AddDate(0, 0, -3).Format(time.DateOnly), want: "La data di fine viene prima di quella di inizio"},
			{name: "taccuino-bad-delegation", form: func(b *browser) {
				b.do("delegate", chromedp.SendKeys(chromedp.ID("deleg-cf"), "RSSMRA80A01H501"), chromedp.SetValue(chromedp.ID("deleg-exp"), "2030-01-31"))
				b.submit("#delegation-submit")
			}, want: "Il codice fiscale non è valido"},
			{name: "taccuino-bad-csv", form: func(b *browser) {
				b.do("choose a file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{badCSV}))
				b.submit("#import-submit")
			}, want: "righe non sono valide"},
			{name: "taccuino-wrong-password", form: func(b *browser) {
				b.do("connect", chromedp.SendKeys(chromedp.ID("llu-email"), "paziente0001@example.invalid"),
					chromedp.SendKeys(chromedp.ID("llu-password"), "sbagliata"), chromedp.Click(chromedp.ID("llu-privacy")))
				b.submit("#connect-submit")
			}, want: "E-mail o password non corrette"},
			// The apps that upload through the Nightscout door (issue 17):
			// none yet, a name refused, the one created with its URL shown
			// once, the list with it, and the step that confirms a
			// revocation.
			{name: "uploaders", path: "/taccuino/p/{mario}/uploaders", want: "Nessun indirizzo creato"},
			{name: "uploaders-bad-name", form: func(b *browser) {
				b.navigate("/taccuino/p/" + b.ids[DemoPatientCF] + "/uploaders")
				b.submit("#uploader-submit")
			}, want: "Scrivi un nome da 1 a 64 caratteri"},
			{name: "uploaders-created", form: func(b *browser) {
				b.navigate("/taccuino/p/" + b.ids[DemoPatientCF] + "/uploaders")
				b.do("name the app", chromedp.SendKeys(chromedp.ID("uploader-label"), "xDrip+ sul telefono"))
				b.submit("#uploader-submit")
			}, want: "non lo vedrai più"},
			{name: "uploaders-one", path: "/taccuino/p/{mario}/uploaders", want: "xDrip+ sul telefono"},
			{name: "uploaders-confirm", form: func(b *browser) {
				b.navigate("/taccuino/p/" + b.ids[DemoPatientCF] + "/uploaders")
				b.submit("#uploaders button.link")
			}, want: "Vuoi revocare"},
			{name: "report", path: "/reports/agp/{mario}", want: "Profilo glicemico ambulatoriale"},
			{name: "vitals", path: "/taccuino/p/{mario}/vitals", want: "Dati dispositivo mobile"},
			{name: "vitals-day", path: vitalsDay, want: "La giornata del"},
			{name: "clinic-403", path: "/clinic", want: "riservato ai medici"},
			{name: "privacy", path: "/privacy", want: "Informativa"},
		},
		"parent": {
			{name: "home", path: "/taccuino", want: "Anna Bianchi"},
			{name: "taccuino", path: "/taccuino/p/{giulia}", want: "In qualità di genitore"},
			{name: "report", path: "/reports/agp/{giulia}", want: "Profilo glicemico ambulatoriale"},
		},
		"mmg": {
			{name: "home", path: "/taccuino", want: "I miei pazienti"},
			{name: "clinic", path: "/clinic", want: "Elenco pazienti"},
			{name: "clinic-counts", path: "/clinic?counts=1", want: "Pagina 1 di 1"},
			{name: "taccuino", path: "/taccuino/p/{mario}", want: "Andamento della glicemia"},
			{name: "report", path: "/reports/agp/{mario}", want: "Tipo di diabete"},
			{name: "denied", path: "/taccuino/p/{giulia}", want: "Non risulti tra i medici"},
			{name: "home-bad-cf", form: func(b *browser) {
				b.navigate("/taccuino")
				b.do("type", chromedp.SendKeys(chromedp.ID("find-cf"), "RSSMRA"))
				b.submit("#find-submit")
			}, want: "Il codice fiscale non è valido"},
		},
		"diabetologist": {
			{name: "home", path: "/taccuino", want: "Giulia Bianchi"},
			{name: "clinic", path: "/clinic", want: "Mario Rossi"},
			{name: "clinic-bad-search", form: func(b *browser) {
				// Typed past the field's maxlength (a pasted text, an old
				// browser): the server says what is wrong.
				b.do("type", chromedp.SetValue(chromedp.ID("q"), strings.Repeat("x", 70)))
				b.submit("#search-submit")
			}, want: "Scrivi al massimo 64 caratteri"},
			{name: "report", path: "/reports/agp/{mario}", want: "Nota del medico"},
			{name: "report-bad-period", path: "/reports/agp/{mario}?from=2026-02-30&to=2026-03-10", want: "Scrivi una data completa"},
			{name: "report-clinical-saved", form: func(b *browser) {
				b.navigate("/reports/agp/" + b.ids[DemoPatientCF])
				b.do("choose", chromedp.SetValue(chromedp.ID("diabetes-type"), "type1"), chromedp.SetValue(chromedp.ID("therapy"), "csii"),
					chromedp.SendKeys(chromedp.ID("clinical-note"), "Ipoglicemie notturne da rivalutare."))
				b.submit("#clinical-submit")
			}, want: "Salvato"},
			{name: "taccuino", path: "/taccuino/p/{giulia}", want: "Giulia Bianchi"},
			{name: "vitals", path: "/taccuino/p/{mario}/vitals", want: "Salute del cuore"},
			{name: "vitals-day", path: vitalsDay, want: "La giornata del"},
		},
		"delegate": {
			{name: "home", path: "/taccuino", want: "Mario Rossi"},
			{name: "taccuino", path: "/taccuino/p/{mario}", want: "In qualità di delegato"},
			{name: "report", path: "/reports/agp/{mario}", want: "Profilo glicemico ambulatoriale"},
		},
		"analyst": {
			{name: "population", path: "/popolazione", want: "Esiti della popolazione"},
			{name: "population-age", path: "/popolazione?dim=age&period=90d", want: "Suddivisione"},
			{name: "population-denied", path: "/taccuino/p/{mario}", want: "Accesso negato"},
		},
		"newcomer": {
			{name: "home", path: "/taccuino", want: "Attiva il taccuino"},
			{name: "taccuino-new", form: func(b *browser) {
				b.navigate("/taccuino")
				b.submit("form[action='/taccuino/activate'] button")
			}, want: "Nessun dato ricevuto"},
		},
	}
}

// TestBrowserEveryPage opens every page of the service as every demo
// persona (and as a visitor not signed in), at 1280 and at 390 px (with
// the patient's "Dati dispositivo mobile" and its day view, issue 18), and
// checks each as pagecheck.Check does: no horizontal scrolling, 0 axe-core
// violations of WCAG 2.1 A and AA, no English word on an Italian page, no
// "%!", chart text readable; and, at 1280 px, that Tab reaches every
// control with a visible focus. It saves a screenshot of each page at each
// width in FSECGM_SCREENSHOT_DIR (make screenshots).
func TestBrowserEveryPage(t *testing.T) {
	b, e := newBrowser(t)
	// The daily summaries of the demo's devices (connectors/vitalsim), as
	// the summaries updater of the service keeps them.
	if n, err := summaries.NewUpdater(e.pool, e.store, summaries.Options{}).UpdateVitals(context.Background(), 10); err != nil || n.Patients == 0 {
		t.Fatalf("the demo's devices: %d patients summarised, %v", n.Patients, err)
	}
	// A region of 360 simulated people, so that the population view's
	// pages show published figures, a trend and the funnel of four
	// centres.
	seedRegion(t, e, 360)
	bad := filepath.Join(t.TempDir(), "export.csv")
	if err := os.WriteFile(bad, []byte("id,time,gl\nme,2026-03-01T10:00:00+01:00,abc\nme,2026-03-01T10:15:00,120\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pages := personaPages(t, bad)
	order := []string{"", "patient", "parent", "mmg", "diabetologist", "delegate", "analyst", "newcomer"}
	checked := 0
	for _, persona := range order {
		who := persona
		if who == "" {
			who = "visitor"
		}
		if persona != "" {
			b.login(persona)
		} else {
			b.navigate("/login?lang=it") // the visitor chooses Italian (the browser asks for English)
		}
		for _, pv := range pages[persona] {
			what := who + "/" + pv.name
			for i, w := range pagecheck.Widths {
				b.Viewport(w.W, w.H)
				if i == 0 || pv.form == nil {
					if pv.form != nil {
						pv.form(b)
					} else {
						path := strings.NewReplacer("{mario}", b.ids[DemoPatientCF], "{giulia}", b.ids[DemoMinorCF]).Replace(pv.path)
						b.navigate(path)
					}
				}
				if pv.want != "" {
					if body := b.text("body"); !strings.Contains(body, pv.want) {
						t.Errorf("%s: the page does not show %q:\n%.600s", what, pv.want, body)
					}
				}
				for _, p := range b.Check(fmt.Sprintf("%s at %d px", what, w.W)) {
					t.Error(p)
				}
				if i == 0 {
					for _, p := range b.Keyboard(what) {
						t.Error(p)
					}
					// The Tab walk may have scrolled: back to the top.
					pagecheck.Eval[bool](b.Browser, `(window.scrollTo(0, 0), true)`)
				}
				b.Screenshot(filepath.Join(b.shot, fmt.Sprintf("%s-%s-%s.jpg", who, pv.name, w.Name)), true)
				checked++
			}
		}
		if persona != "" {
			b.navigate("/taccuino")
			b.logout()
		}
	}
	t.Logf("%d pages checked (every page of %d personas and a visitor, at %d widths), screenshots in %s",
		checked, len(order)-1, len(pagecheck.Widths), b.shot)
}

// TestBrowserKeyboardForms fills and sends the service's forms with the
// keyboard alone (keys, Tab, arrows, Enter), as someone who uses no mouse:
// the login, the fiscal-code search, the delegation (refused, shown again
// with the focus on the field in error, then corrected), the clinic search
// and the clinician's record on the AGP report.
func TestBrowserKeyboardForms(t *testing.T) {
	b, _ := newBrowser(t)
	focus := func(id string) {
		t.Helper()
		if !pagecheck.Eval[bool](b.Browser, `(() => { const e = document.getElementById("`+id+`"); e.focus(); return document.activeElement === e })()`) {
			t.Fatalf("cannot focus #%s", id)
		}
	}
	active := func() string { return pagecheck.Eval[string](b.Browser, `document.activeElement.id`) }
	// focused waits up to 5 s for the focus to reach id: Chromium applies
	// autofocus when it next renders, which may come after the load event.
	focused := func(id string) string {
		got := active()
		for end := time.Now().Add(5 * time.Second); got != id && time.Now().Before(end); got = active() {
			time.Sleep(50 * time.Millisecond)
		}
		return got
	}

	// Login: the persona's button, with Enter.
	b.navigate("/login?lang=it")
	focus("login-patient")
	b.Key("\r", true)
	if !strings.Contains(b.Location(), "/taccuino/p/") {
		t.Fatalf("after the login by keyboard: %s", b.Location())
	}
	// A delegation: a wrong code, sent with Enter, comes back with the
	// focus on the code and the error read with it; corrected, it is
	// recorded.
	focus("deleg-cf")
	b.Key("RSSMRA80A01H50", false)
	b.Key("\r", true)
	if got := focused("deleg-cf"); got != "deleg-cf" {
		t.Errorf("after the refused delegation the focus is on %q, want the field in error", got)
	}
	if desc := pagecheck.Eval[string](b.Browser, `document.activeElement.getAttribute("aria-describedby") || ""`); desc != "deleg-cf-error" {
		t.Errorf("the field in error is described by %q", desc)
	}
	b.Key(kb.End+strings.Repeat("\b", 20)+testCF(46), false)
	b.Key("\t", false)
	if got := active(); got != "deleg-exp" {
		t.Fatalf("Tab from the code goes to %q", got)
	}
	// The date, typed in the order the browser's locale shows it.
	order := pagecheck.Eval[string](b.Browser, `new Intl.DateTimeFormat(navigator.language).formatToParts(new Date(2030, 0, 31)).filter(p => p.type !== "literal").map(p => p.type[0]).join("")`)
	typed := map[string]string{"m": "01", "d": "31", "y": "2030"}
	for _, c := range order {
		b.Key(typed[string(c)], false)
	}
	b.Key("\r", true)
	if msg := b.Text("body"); !strings.Contains(msg, "Delega registrata") || !strings.Contains(msg, "31/01/2030") {
		t.Errorf("the delegation typed with the keyboard was not recorded (date order %q):\n%s", order, b.Text("#delegations"))
	}
	b.logout()

	// The GP: a fiscal code typed and sent with Enter opens the patient.
	b.login("mmg")
	focus("find-cf")
	b.Key(DemoPatientCF+"\r", true)
	if !strings.Contains(b.Location(), "/taccuino/p/"+b.ids[DemoPatientCF]) {
		t.Errorf("the search by keyboard lands on %s", b.Location())
	}
	b.logout()

	// The diabetologist: the clinic search, then the clinician's record.
	b.login("diabetologist")
	b.navigate("/clinic")
	focus("q")
	b.Key("Bianchi\r", true)
	if rows := pagecheck.Eval[int](b.Browser, `document.querySelectorAll("tr[data-patient]").length`); rows != 1 {
		t.Errorf("the search by keyboard lists %d patients, want 1", rows)
	}
	b.navigate("/reports/agp/" + b.ids[DemoMinorCF])
	focus("diabetes-type")
	b.Key(kb.ArrowDown, false) // diabete di tipo 1
	b.Key("\t", false)
	b.Key(kb.ArrowDown+kb.ArrowDown, false) // microinfusore
	b.Key("\t", false)
	b.Key("Controllo tra tre mesi.", false)
	b.Key("\t", false)
	if got := active(); got != "clinical-submit" {
		t.Fatalf("Tab from the note goes to %q", got)
	}
	b.Key(" ", true) // Space presses the button
	if body := b.Text("body"); !strings.Contains(body, "Salvato") || !strings.Contains(body, "diabete di tipo 1") ||
		!strings.Contains(body, "microinfusore (CSII)") || !strings.Contains(body, "Controllo tra tre mesi.") {
		t.Errorf("the clinician's record typed with the keyboard:\n%.500s", body)
	}
}
