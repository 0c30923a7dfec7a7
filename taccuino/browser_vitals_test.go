package taccuino

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/summaries"

	"github.com/chromedp/chromedp"
)

// TestBrowserVitals: the demo patient opens "Dati dispositivo mobile" from
// their taccuino (activity, sleep and heart blocks from the simulated watch,
// phone and monitor), a day's view with the glucose, the steps per hour, the
// sleep and the pulse on one time axis, reorders the sources and uploads an
// Apple Health export; the diabetologist, with consent, sees the same page,
// and the patient sees that access in the log. Screenshots of the page and
// of the day view at desktop and phone widths; nothing wider than a phone.
func TestBrowserVitals(t *testing.T) {
	t.Parallel()
	b, e := newBrowser(t)
	ctx := context.Background()
	if _, err := summaries.NewUpdater(e.pool, e.store, summaries.Options{}).UpdateVitals(ctx, 10); err != nil {
		t.Fatal(err)
	}
	noOverflow := func(what string) {
		t.Helper()
		if w, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
			t.Errorf("%s is %d px wide on a 390 px screen", what, w)
		}
	}

	b.login("patient")
	b.submit("#vitals-link a")
	if h := b.text("h1"); !strings.HasPrefix(h, "Dati dispositivo mobile") {
		t.Fatalf("heading %q", h)
	}
	for _, id := range []string{"#act-h", "#sleep-h", "#heart-h"} {
		if b.text(id) == "" {
			t.Errorf("no %s", id)
		}
	}
	act, sleep, heart := b.text("#activity"), b.text("#sleep"), b.text("#heart")
	if !strings.Contains(act, "Passi") || !strings.Contains(act, "media al giorno") || !strings.Contains(act, "km") {
		t.Errorf("activity block: %s", act)
	}
	if !strings.Contains(sleep, " h ") || !strings.Contains(sleep, "Sonno leggero") || !strings.Contains(sleep, "Sonno profondo") {
		t.Errorf("sleep block: %s", sleep)
	}
	if !strings.Contains(heart, "battiti/min") || !strings.Contains(heart, "Pressione sanguigna") {
		t.Errorf("heart block: %s", heart)
	}
	b.screenshot("vitals-desktop", 1280, 900)
	b.screenshot("vitals-phone", 390, 844)
	noOverflow("the page")
	b.do("desktop", chromedp.EmulateViewport(1280, 900))

	// The sources: the watch first by default; the phone put first.
	if src := b.text("#sources ol li:first-child strong"); src != "Apple Watch" {
		t.Errorf("first source %q", src)
	}
	b.submit("#sources ol li:nth-child(2) form button")
	if msg := b.text("#msg"); !strings.Contains(msg, "Ordine dei dispositivi salvato") {
		t.Errorf("message %q", msg)
	}
	if src := b.text("#sources ol li:first-child strong"); src != "iPhone" {
		t.Errorf("first source after reordering %q", src)
	}

	// Yesterday's view: a whole day of data.
	loc, _ := time.LoadLocation("Europe/Rome")
	yesterday := time.Now().In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
	b.navigate(strings.TrimPrefix(mustLocation(t, b), b.base) + "/day?date=" + yesterday)
	counts, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`['path.line','rect.steps','rect.sl-deep','path.heart'].map(s => document.querySelectorAll('svg.daychart-wide '+s).length)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, what := range []string{"glucose line", "steps bars", "deep sleep spans", "heart-rate line"} {
		if counts[i] == 0 {
			t.Errorf("the day view draws no %s", what)
		}
	}
	b.screenshot("vitals-day-desktop", 1280, 900, "daychart")
	b.screenshot("vitals-day-phone", 390, 844, "daychart")
	noOverflow("the day view")
	b.do("desktop", chromedp.EmulateViewport(1280, 900))

	// An upload from the page: the Apple Health export of the tests.
	fixture, _ := filepath.Abs("../connectors/applehealth/testdata/export_watch_phone.xml")
	page := strings.TrimSuffix(strings.TrimPrefix(mustLocation(t, b), b.base), "/day")
	b.navigate(page)
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS("#vfile"), []string{fixture}))
	b.submit("#upload button[type=submit]")
	if msg := b.text("#msg"); !strings.Contains(msg, "File importato (Esportazione di Apple Salute): 20 misure nuove") {
		t.Errorf("upload: %q", msg)
	}
	b.logout()

	// The diabetologist, with the patient's consent: the same page.
	b.login("diabetologist")
	b.navigate(page)
	if h := b.text("h1"); !strings.HasPrefix(h, "Dati dispositivo mobile") {
		t.Errorf("the diabetologist sees %q", h)
	}
	if strings.Contains(b.text("main"), "Carica un'esportazione") {
		t.Error("the diabetologist is offered the upload")
	}
	b.logout()
	b.login("patient")
	if log := b.text("#access-log"); !strings.Contains(log, "dott.ssa Sara Neri") {
		t.Errorf("the access log does not show the diabetologist's access:\n%s", log)
	}
}
