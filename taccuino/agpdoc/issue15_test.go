package agpdoc

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"
)

// The tests of this file are the AGP report's defects of issue 15, read
// on the HTML page (whose charts are the PDF's drawings): they ran, and
// failed, on the code before the fix.

// svgOf returns the SVG that follows marker on page.
func svgOf(t *testing.T, page, marker string) string {
	t.Helper()
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no %q on the page", marker)
	}
	s := page[i:]
	s = s[strings.Index(s, "<svg"):]
	return s[:strings.Index(s, "</svg>")+6]
}

var (
	textRE  = regexp.MustCompile(`<text x="([0-9.]+)" y="([0-9.]+)" font-size="([0-9.]+)"[^>]*>([^<]*)</text>`)
	rectRE  = regexp.MustCompile(`<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)" fill="(#[0-9a-f]{6})"/>`)
	fillsRE = regexp.MustCompile(`<polygon fill="(#[0-9a-f]{6})"`)
)

func parseNum(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestIssue15TIRSegments: every time-in-range segment is seen and labelled
// even at 0.6 % (before: 0.6 % of the bar was 0.3 mm, without a label).
func TestIssue15TIRSegments(t *testing.T) {
	in := fixtureInput(t, locale.IT, TargetsStandard)
	in.Report.TimeInRanges = &agp.Ranges{VeryLow: 0.6, Low: 1.4, Target: 68, High: 25, VeryHigh: 5, Tight: 40}
	page, err := RenderHTML(in, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, string(page), `class="tir-bar"`)
	heights := map[string]float64{}
	for _, m := range rectRE.FindAllStringSubmatch(svg, -1) {
		heights[m[5]] += parseNum(t, m[4])
	}
	for colour, name := range map[string]string{"#8c1d1d": "very low (0.6 %)", "#e0514a": "low (1.4 %)", "#d9731f": "very high (5 %)"} {
		if heights[colour] < 1.5 {
			t.Errorf("the %s segment is %.2f mm high: not seen", name, heights[colour])
		}
	}
	for _, want := range []string{"0,6 %", "1,4 %", "68,0 %", "25,0 %", "5,0 %"} {
		if !strings.Contains(svg, ">"+want+"<") {
			t.Errorf("the bar has no label %q", want)
		}
	}
}

// TestIssue15AGPAxisLabels: the AGP's y labels 54 and 70 do not overlap
// (before: 2.1 mm apart for text 2.1 mm high).
func TestIssue15AGPAxisLabels(t *testing.T) {
	page, err := RenderHTML(fixtureInput(t, locale.IT, TargetsStandard), HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, string(page), `<figure data-chart="agp"`)
	y := map[string]float64{}
	size := 0.0
	for _, m := range textRE.FindAllStringSubmatch(svg, -1) {
		if m[4] == "54" || m[4] == "70" {
			y[m[4]], size = parseNum(t, m[2]), parseNum(t, m[3])
		}
	}
	if len(y) != 2 {
		t.Fatalf("labels 54 and 70 not found: %v", y)
	}
	if gap := y["54"] - y["70"]; gap < 1.15*size {
		t.Errorf("the labels 54 and 70 are %.2f apart for text %.2f high: they overlap", gap, size)
	}
}

// TestIssue15Targets: only the consensus targets are shown as targets; no
// "mean < 154" (Battelino 2019 gives none for mean glucose or GMI).
func TestIssue15Targets(t *testing.T) {
	page, err := RenderHTML(fixtureInput(t, locale.IT, TargetsStandard), HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stats := string(page)[strings.Index(string(page), `id="h-stats"`):]
	stats = stats[:strings.Index(stats, "</table>")]
	for _, bad := range []string{"154", "&lt; 7 %", "< 7 %"} {
		if strings.Contains(stats, bad) {
			t.Errorf("the statistics show the target %q, which is not the consensus's", bad)
		}
	}
	for _, want := range []string{"≥ 70 %", "≤ 36 %"} {
		if !strings.Contains(stats, want) {
			t.Errorf("the statistics lack the consensus target %q", want)
		}
	}
}

// TestIssue15Words: the footer and the subtitle are in the report's
// language and for whoever reads it (before: "(definitions: …)" on the
// Italian report, and "referto per il diabetologo" shown to the GP).
func TestIssue15Words(t *testing.T) {
	page, err := RenderHTML(fixtureInput(t, locale.IT, TargetsStandard), HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if strings.Contains(s, "definitions") {
		t.Error(`the Italian report says "definitions"`)
	}
	if strings.Contains(s, "referto per il diabetologo") {
		t.Error(`the report says "referto per il diabetologo" to every reader`)
	}
}

// TestIssue15DailyProfiles: each daily profile has a y scale and the
// areas above 180 and below 70 filled (before: a bare line).
func TestIssue15DailyProfiles(t *testing.T) {
	in := fixtureInput(t, locale.IT, TargetsStandard)
	// A dip below 70 on the first day.
	first := in.Report.Period.Start
	for i, r := range in.Readings {
		if r.Kind == cgm.Historic && r.Time.After(first.Add(3*time.Hour)) && r.Time.Before(first.Add(4*time.Hour)) {
			in.Readings[i].Value = 55
		}
	}
	page, err := RenderHTML(in, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	days := regexp.MustCompile(`(?s)<figure class="day[^"]*"[^>]*>(.*?)</figure>`).FindAllStringSubmatch(string(page), -1)
	if len(days) != 14 {
		t.Fatalf("%d daily profiles", len(days))
	}
	above, below := 0, 0
	for i, d := range days {
		labels := map[string]bool{}
		for _, m := range textRE.FindAllStringSubmatch(d[1], -1) {
			labels[m[4]] = true
		}
		if !labels["70"] || !labels["180"] {
			t.Errorf("day %d has no y scale (70, 180): %v", i, labels)
		}
		for _, m := range fillsRE.FindAllStringSubmatch(d[1], -1) {
			switch m[1] {
			case "#f6c667": // colorAboveFill
				above++
			case "#e0514a": // colorBelowFill
				below++
			}
		}
	}
	if above == 0 || below == 0 {
		t.Errorf("areas filled: %d above 180, %d below 70; want both", above, below)
	}
}

// TestIssue15DaysWithData: "giorni con dati" counts a day only when it
// has at least 70 % of its readings (before: every day with a reading).
func TestIssue15DaysWithData(t *testing.T) {
	in := fixtureInput(t, locale.IT, TargetsStandard)
	// 25 March keeps its first 20 readings of 96.
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, in.Location)
	var keep []cgm.Reading
	n := 0
	for _, r := range in.Readings {
		if r.Kind == cgm.Historic && !r.Time.Before(day) && r.Time.Before(day.AddDate(0, 0, 1)) {
			if n++; n > 20 {
				continue
			}
		}
		keep = append(keep, r)
	}
	p := agp.Period{Start: in.Report.Period.Start, End: in.Report.Period.End}
	r, err := agp.Compute(keep, agp.Options{Patient: "fixture", Location: in.Location, Period: &p, AGP: true, Daily: true})
	if err != nil {
		t.Fatal(err)
	}
	in.Report, in.Readings = r, keep
	page, err := RenderHTML(in, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<th scope="row">Giorni con dati[^<]*</th>\s*<td class="num"><span data-fig="[a-z_]+">([0-9]+)</span>`).FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no 'Giorni con dati' on the page")
	}
	if m[1] != "13" {
		t.Errorf("giorni con dati = %s, want 13 (25 March has 20 of its 96 readings)", m[1])
	}
}
