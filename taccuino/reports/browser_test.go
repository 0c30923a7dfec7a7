package reports

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/image/draw"
)

// browser starts a headless Chromium for the test, or skips the test
// loudly when there is none. FSECGM_CHROMIUM names the binary (default:
// chromium on the PATH).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("FSECGM_CHROMIUM")
	if path == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			t.Skip("SKIPPED: no chromium on the PATH (apt-get install -y chromium, or set FSECGM_CHROMIUM); the browser tests did not run")
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "it-IT"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1500),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("SKIPPED: chromium %s does not start: %v", path, err)
	}
	return ctx
}

// screenshots returns the directory where the test saves its screenshots:
// $FSECGM_SCREENSHOTS, else a temporary directory (printed).
func screenshots(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("FSECGM_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// saveShot writes a screenshot halved in size (to keep the PNG small).
func saveShot(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	r := img.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, r.Dx()/2, r.Dy()/2))
	draw.CatmullRom.Scale(small, small.Bounds(), img, r, draw.Src, nil)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, small); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", path, out.Len()/1024)
}

// figures returns the figures an HTML page shows, by data-fig name (within
// scope, a CSS selector).
func figures(ctx context.Context, scope string) (map[string]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll(`+
		strconv.Quote(scope+" [data-fig]")+`)].map(e => [e.dataset.fig, e.textContent.trim()]))`))
}

// TestBrowserReportAndClinic loads the clinic list and the AGP report in
// headless Chromium from the in-process server, checks the numbers shown
// against the JSON API's, opens a report with one click from the list, and
// saves screenshots.
func TestBrowserReportAndClinic(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	doc := e.doctor(t)
	dir := screenshots(t)
	l := locale.IT
	// The pages authenticate with the session cookie.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		httpOnly := true
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: web.SessionCookie, Value: doc,
			URL: e.srv.URL, Path: "/", HTTPOnly: &httpOnly})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}

	// The clinic list against /api/v1/clinic.
	var cj ClinicJSON
	e.getJSON(t, "/api/v1/clinic", doc, &cj)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/clinic?lang=it"), chromedp.WaitVisible(chromedp.CSS("table.clinic"))); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tr[data-patient]")].map(r => r.dataset.patient)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(cj.Patients) {
		t.Fatalf("the page lists %d patients, the API %d", len(ids), len(cj.Patients))
	}
	checked := 0
	for i, p := range cj.Patients {
		if ids[i] != p.ID {
			t.Errorf("row %d is %s, the API's %s", i, ids[i], p.ID)
			continue
		}
		shown, err := figures(ctx, `tr[data-patient="`+p.ID+`"]`)
		if err != nil {
			t.Fatal(err)
		}
		if p.Current == nil || p.Current.Readings == 0 {
			if shown["target"] != "—" {
				t.Errorf("%s: TIR %q shown without data", p.Name, shown["target"])
			}
			continue
		}
		f := p.Current
		tir := f.TimeInRanges
		want := map[string]string{
			"target": l.Percent(tir.Target, 1), "below": l.Percent(tir.VeryLow+tir.Low, 1), "very_low": l.Percent(tir.VeryLow, 1),
			"above": l.Percent(tir.High+tir.VeryHigh, 1), "very_high": l.Percent(tir.VeryHigh, 1),
			"cv_percent": l.Percent(*f.CVPercent, 1), "gmi_percent": l.Percent(f.GMI.Percent, 1),
			"active_percent": l.Percent(f.ActivePercent, 1),
		}
		if p.TIRDelta != nil {
			want["tir_delta"] = l.Signed(*p.TIRDelta, 1)
		}
		for k, v := range want {
			if shown[k] != v {
				t.Errorf("%s: %s shown %q, API %q", p.Name, k, shown[k], v)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("only %d clinic figures compared", checked)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, dir, "clinic.png", shot)

	// One click on the first patient opens the report.
	first := cj.Patients[0]
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[data-report="`+first.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-fig="gmi_percent"]`))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/reports/agp/"+first.ID) {
		t.Errorf("after the click the browser is at %q, %v", loc, err)
	}

	// The report against /api/v1/reports/agp/:id.
	anna := e.byName("Bianchi")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/reports/agp/"+anna.PublicID+"?lang=it"),
		chromedp.WaitVisible(chromedp.CSS(`figure[data-chart="agp"] svg`))); err != nil {
		t.Fatal(err)
	}
	var rj ReportJSON
	e.getJSON(t, "/api/v1/reports/agp/"+anna.PublicID, doc, &rj)
	shown, err := figures(ctx, "body")
	if err != nil {
		t.Fatal(err)
	}
	r, p := rj.Report, rj.Previous
	tir := r.TimeInRanges
	want := map[string]string{
		"mean_mgdl": l.Number(r.MeanGlucose.MgDL, 0), "mean_mmol": l.Number(r.MeanGlucose.MmolL, 1),
		"gmi_percent": l.Percent(r.GMI.Percent, 1), "gmi_mmolmol": l.Number(r.GMI.MmolMol, 0),
		"cv_percent": l.Percent(*r.CVPercent, 1), "sd_mgdl": l.Number(*r.SDMgDL, 0),
		"active_percent": l.Percent(r.ActivePercent, 1), "days_with_data": strconv.Itoa(r.DaysWithData),
		"readings": strconv.Itoa(r.Readings), "scans": strconv.Itoa(r.Scans),
		"very_low": l.Percent(tir.VeryLow, 1), "low": l.Percent(tir.Low, 1), "target": l.Percent(tir.Target, 1),
		"high": l.Percent(tir.High, 1), "very_high": l.Percent(tir.VeryHigh, 1), "tight": l.Percent(tir.Tight, 1),
		"below": l.Percent(tir.VeryLow+tir.Low, 1), "target_time": l.Duration(tir.Target * 14.4),
		"hypo1_total": strconv.Itoa(r.Events.HypoLevel1.Total), "hypo2_total": strconv.Itoa(r.Events.HypoLevel2.Total),
		"hyper1_total": strconv.Itoa(r.Events.HyperLevel1.Total), "hypo1_per_day": l.Number(r.Events.HypoLevel1.PerDay, 1),
		"hba1c_0": l.Percent(rj.HbA1c[0].Percent, 1), "hba1c_0_diff": l.Signed(*rj.HbA1c[0].Difference, 1),
		"cmp_target_prev": l.Percent(p.TimeInRanges.Target, 1), "cmp_mean_mgdl_prev": l.Number(p.MeanGlucose.MgDL, 0),
	}
	for k, v := range want {
		if shown[k] != v {
			t.Errorf("report: %s shown %q, API %q", k, shown[k], v)
		}
	}
	// The charts are drawn and the stylesheet applies (CSP: style-src 'self').
	h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('figure[data-chart="agp"] svg').getBoundingClientRect().height`))
	if err != nil || h < 100 {
		t.Errorf("AGP chart height %v, %v", h, err)
	}
	days, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("figure.day")].map(f => f.dataset.date + "/" + f.dataset.hours)`))
	if err != nil || len(days) != 14 || days[7] != "2026-03-29/23" {
		t.Errorf("daily profiles %v, %v; want 14 with 29 March of 23 hours", days, err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.sheet')).backgroundColor`))
	if err != nil || bg != "rgb(255, 255, 255)" {
		t.Errorf("the stylesheet did not apply: .sheet background %q, %v", bg, err)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, dir, "report.png", shot)
}
