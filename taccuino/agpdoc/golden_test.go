package agpdoc

import (
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// figRE finds the figures of a page: an element with data-fig and its text.
var figRE = regexp.MustCompile(`data-fig="([^"]+)"[^>]*>([^<]*)<`)

// pageFigures returns the figures shown on an HTML page, by data-fig name.
func pageFigures(t *testing.T, page []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range figRE.FindAllSubmatch(page, -1) {
		key, val := string(m[1]), html.UnescapeString(string(m[2]))
		if _, dup := out[key]; dup {
			t.Errorf("figure %q appears twice", key)
		}
		out[key] = strings.TrimSpace(val)
	}
	return out
}

// engineFigures writes the engine's figures as the page must show them: the
// report's own numbers, rounded by package locale to the digits the page
// documents (mean glucose 0, mmol/L 1, percentages 1, GMI mmol/mol 0).
// It is written independently of page.go.
func engineFigures(in Input) map[string]string {
	l := in.Lang
	r := in.Report
	out := map[string]string{}
	loc := in.Location
	date := func(t time.Time) string {
		if l == locale.EN {
			return t.In(loc).Format("2 Jan 2006")
		}
		return t.In(loc).Format("02/01/2006")
	}
	unit := map[locale.Lang]string{locale.IT: "giorni", locale.EN: "days"}[l]
	period := func(p agp.PeriodInfo) string {
		return fmt.Sprintf("%s – %s (%s %s)", date(p.Start), date(p.End.Add(-time.Nanosecond)), l.Number(p.Days, 0), unit)
	}
	out["period"] = period(r.Period)
	out["period_days"] = l.Number(r.Period.Days, 0)
	out["days_with_data"] = strconv.Itoa(r.DaysWithData)
	out["active_percent"] = l.Percent(r.ActivePercent, 1)
	out["mean_mgdl"] = l.Number(r.MeanGlucose.MgDL, 0)
	out["mean_mmol"] = l.Number(r.MeanGlucose.MmolL, 1)
	out["gmi_percent"] = l.Percent(r.GMI.Percent, 1)
	out["gmi_mmolmol"] = l.Number(r.GMI.MmolMol, 0)
	out["cv_percent"] = l.Percent(*r.CVPercent, 1)
	out["sd_mgdl"] = l.Number(*r.SDMgDL, 0)
	out["readings"] = strconv.Itoa(r.Readings)
	out["scans"] = strconv.Itoa(r.Scans)
	tir := r.TimeInRanges
	for k, v := range map[string]float64{"very_high": tir.VeryHigh, "high": tir.High, "above": tir.High + tir.VeryHigh,
		"target": tir.Target, "tight": tir.Tight, "low": tir.Low, "below": tir.VeryLow + tir.Low, "very_low": tir.VeryLow} {
		out[k] = l.Percent(v, 1)
		out[k+"_time"] = l.Duration(v * 14.4)
	}
	for k, e := range map[string]agp.Episodes{"hypo1": r.Events.HypoLevel1, "hypo2": r.Events.HypoLevel2,
		"hypo_ext": r.Events.HypoExtended, "hyper1": r.Events.HyperLevel1, "hyper2": r.Events.HyperLevel2} {
		out[k+"_total"] = strconv.Itoa(e.Total)
		out[k+"_per_day"] = l.Number(e.PerDay, 1)
		out[k+"_minutes"] = "—"
		if e.Total > 0 {
			out[k+"_minutes"] = l.Duration(e.MeanMinutes)
		}
	}
	for i, lab := range in.HbA1c {
		k := fmt.Sprintf("hba1c_%d", i)
		out[k] = l.Percent(lab.Percent, 1)
		out[k+"_gmi"] = l.Percent(r.GMI.Percent, 1)
		out[k+"_diff"] = l.Signed(lab.Percent-r.GMI.Percent, 1)
	}
	if p := in.Previous; p != nil && p.Readings > 0 {
		out["prev_period"] = period(p.Period)
	}
	// Changes only where both periods have at least 70 % of their readings
	// (no flag on too little data).
	if p := in.Previous; p != nil && p.Readings > 0 && r.ActivePercent >= 70 && p.ActivePercent >= 70 {
		pct := func(k string, a, b float64) {
			out["cmp_"+k+"_cur"], out["cmp_"+k+"_prev"], out["cmp_"+k+"_change"] = l.Percent(a, 1), l.Percent(b, 1), l.Signed(a-b, 1)
		}
		out["cmp_mean_mgdl_cur"], out["cmp_mean_mgdl_prev"] = l.Number(r.MeanGlucose.MgDL, 0), l.Number(p.MeanGlucose.MgDL, 0)
		out["cmp_mean_mgdl_change"] = l.Signed(r.MeanGlucose.MgDL-p.MeanGlucose.MgDL, 0)
		pct("gmi_percent", r.GMI.Percent, p.GMI.Percent)
		pct("cv_percent", *r.CVPercent, *p.CVPercent)
		a, b := r.TimeInRanges, p.TimeInRanges
		pct("target", a.Target, b.Target)
		pct("below", a.VeryLow+a.Low, b.VeryLow+b.Low)
		pct("very_low", a.VeryLow, b.VeryLow)
		pct("above", a.High+a.VeryHigh, b.High+b.VeryHigh)
		pct("very_high", a.VeryHigh, b.VeryHigh)
		pct("active_percent", r.ActivePercent, p.ActivePercent)
		out["cmp_hypo1_total_cur"] = strconv.Itoa(r.Events.HypoLevel1.Total)
		out["cmp_hypo1_total_prev"] = strconv.Itoa(p.Events.HypoLevel1.Total)
		out["cmp_hypo1_total_change"] = l.Signed(float64(r.Events.HypoLevel1.Total-p.Events.HypoLevel1.Total), 0)
	}
	if g := r.GRI; g != nil {
		out["gri"], out["gri_grid_value"] = l.Number(g.Value, 0), l.Number(g.Value, 0)
		out["gri_zone"], out["gri_grid_zone"] = l.T("gri_zone")+" "+g.Zone, g.Zone
	}
	if p := in.Previous; p != nil && p.Readings > 0 && p.GRI != nil && r.ActivePercent >= 70 && p.ActivePercent >= 70 {
		out["gri_prev_value"] = l.Number(p.GRI.Value, 0)
	}
	if !r.Sufficient {
		// The warning's figures: the period's days and % time CGM active.
		out["warning"] = l.Number(r.Period.Days, 0) + "|" + l.Percent(r.ActivePercent, 1)
	}
	return out
}

// insufficient drops the readings of 22–27 March from the fixture.
func insufficient(t *testing.T, in Input) Input {
	t.Helper()
	var keep []cgm.Reading
	gapFrom := time.Date(2026, 3, 22, 0, 0, 0, 0, in.Location)
	gapTo := time.Date(2026, 3, 28, 0, 0, 0, 0, in.Location)
	for _, r := range in.Readings {
		if r.Time.Before(gapFrom) || !r.Time.Before(gapTo) {
			keep = append(keep, r)
		}
	}
	p := agp.Period{Start: in.Report.Period.Start, End: in.Report.Period.End}
	r, err := agp.Compute(keep, agp.Options{Patient: "fixture", Location: in.Location, Period: &p, AGP: true, Daily: true})
	if err != nil {
		t.Fatal(err)
	}
	in.Report, in.Readings, in.HbA1c = r, keep, nil
	return in
}

// TestGoldenFigures renders the fixture's report and checks that every
// figure on the page is the engine's, rounded by locale (engineFigures),
// and that the page matches its golden file (go test -update rewrites it).
func TestGoldenFigures(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    locale.Lang
		tg   Targets
		bad  bool
	}{
		{"it-standard", locale.IT, TargetsStandard, false},
		{"en-standard", locale.EN, TargetsStandard, false},
		{"it-older", locale.IT, TargetsOlder, false},
		{"it-insufficient", locale.IT, TargetsStandard, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixtureInput(t, tc.l, tc.tg)
			if tc.bad {
				in = insufficient(t, in)
				if in.Report.Sufficient {
					t.Fatal("the insufficient fixture is sufficient")
				}
			}
			page, err := RenderHTML(in, HTMLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := pageFigures(t, page)
			want := engineFigures(in)
			for k, v := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("figure %s is not on the page", k)
				case k == "warning":
					for _, part := range strings.Split(v, "|") {
						if !strings.Contains(g, part) {
							t.Errorf("warning %q does not show %q", g, part)
						}
					}
				case g != v:
					t.Errorf("figure %s = %q on the page, engine %q", k, g, v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("figure %s on the page is not checked against the engine", k)
				}
			}
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".txt"), got)
		})
	}
}

// checkGolden compares figures with the golden file path.
func checkGolden(t *testing.T, path string, figs map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(figs))
	for k := range figs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%s\n", k, figs[k])
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("%s differs (-golden +page); run go test -update if the change is intended:\n%s", path, diff)
	}
}
