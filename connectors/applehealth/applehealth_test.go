package applehealth

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
	"fsecgm/connectors/applehealth/applehealthtest"

	"github.com/google/go-cmp/cmp"
)

func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := cgm.Zone("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// collect reads a file and returns its measurements.
func collect(t *testing.T, name string) ([]vitals.Measurement, Stats) {
	t.Helper()
	var ms []vitals.Measurement
	st, err := ReadFile(name, Options{}, func(m vitals.Measurement, line int) error {
		if line <= 0 {
			t.Fatalf("measurement %+v without a line", m)
		}
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ms, st
}

func f(v float64) *float64 { return &v }

// TestWatchAndPhone reads the hand-written export: a watch and a phone
// counting over the same hours on the night the clocks go forward, a blood
// pressure correlation with its top-level copies, sleep stages.
func TestWatchAndPhone(t *testing.T) {
	ms, st := collect(t, "testdata/export_watch_phone.xml")
	want := [vitals.MaxKind + 1]int{vitals.Steps: 3, vitals.Distance: 2, vitals.ActiveEnergy: 2, vitals.HeartRate: 4,
		vitals.RestingHeartRate: 1, vitals.SleepInBed: 1, vitals.SleepLight: 2, vitals.SleepDeep: 1, vitals.SleepREM: 1,
		vitals.SleepAwake: 1, vitals.BloodPressure: 2}
	if st.Measurements != want {
		t.Errorf("measurements by kind %v, want %v", st.Measurements, want)
	}
	if st.Records != 27 || st.Correlations != 1 || st.Unpaired != 1 || st.Skipped["HKQuantityTypeIdentifierHeartRateVariabilitySDNN"] != 1 ||
		st.Skipped["HKQuantityTypeIdentifierFlightsClimbed"] != 1 {
		t.Errorf("stats %+v", st)
	}
	classes := map[string]vitals.Class{}
	for _, m := range ms {
		classes[m.Source] = m.Class
	}
	if diff := cmp.Diff(map[string]vitals.Class{"Apple Watch di Mario": vitals.ClassWatch, "iPhone di Mario": vitals.ClassPhone,
		"Connect": vitals.ClassOther, "Polar H10": vitals.ClassOther, "OMRON connect": vitals.ClassOther, "Salute": vitals.ClassOther}, classes); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}

	days := vitals.Daily(ms, vitals.Options{Location: rome(t)})
	kcal := 100 + 450*82799.0/86399
	wantDays := []vitals.Day{
		{Date: "2026-03-28", Steps: f(300), ActiveKcal: f(kcal),
			BloodPressure: []vitals.Pressure{{Time: "2026-03-28T20:00:00+01:00", Systolic: 125, Diastolic: 80}}},
		{Date: "2026-03-29", Steps: f(300 + 3000 + 1000), DistanceM: f(2100 + 1609.344/2),
			SleepMinutes: f(300), SleepStages: &vitals.SleepStages{Awake: 10, Light: 180, Deep: 60, REM: 60, InBed: 345},
			HeartRate: &vitals.HeartRateDay{Min: f(72), Mean: f(85), Max: f(95), Resting: f(58)}, HeartRateSamples: 3,
			BloodPressure: []vitals.Pressure{{Time: "2026-03-29T08:15:00+02:00", Systolic: 132, Diastolic: 84}}},
	}
	if diff := cmp.Diff(wantDays, days, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
}

// sharedExports returns the directory of the real exports beside the
// repository (../shared, or $FSECGM_SHARED as the other tests of real
// files take it), or skips.
func sharedExports(t *testing.T) string {
	t.Helper()
	var roots []string
	if env := os.Getenv("FSECGM_SHARED"); env != "" {
		roots = append(roots, env)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			roots = append(roots, filepath.Join(dir, "..", "shared"))
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	for _, root := range roots {
		d := filepath.Join(root, "data", "real-exports")
		if _, err := os.Stat(filepath.Join(d, "apple_health_iphone_enUS_2019.xml")); err == nil {
			return d
		}
	}
	t.Skip("SKIPPED: data/real-exports not found under ../shared (or $FSECGM_SHARED): the real Apple Health exports were not read")
	return ""
}

// typeCounts counts the top-level Record elements of each type by a plain
// byte scan: an independent count to compare the reader with.
func typeCounts(t *testing.T, name string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if !bytes.HasPrefix(line, []byte(`<Record type="`)) {
			continue
		}
		rest := line[len(`<Record type="`):]
		typ := string(rest[:bytes.IndexByte(rest, '"')])
		if typ == TypeSleepAnalysis && bytes.Contains(line, []byte(`InBed`)) {
			typ += " InBed"
		}
		if typ == TypeSleepAnalysis {
			// startDate = endDate: left out
			s := bytes.Index(line, []byte(`startDate="`))
			e := bytes.Index(line, []byte(`endDate="`))
			if string(line[s+11:s+36]) == string(line[e+9:e+34]) {
				typ += " empty"
			}
		}
		out[typ]++
	}
	return out
}

// TestRealExports reads the three real exports in ../shared in place.
func TestRealExports(t *testing.T) {
	dir := sharedExports(t)
	loc := rome(t)

	t.Run("iPhone and Garmin Connect, en_FR", func(t *testing.T) {
		name := filepath.Join(dir, "apple_health_iphone_garminconnect_enFR.xml")
		ms, st := collect(t, name)
		tc := typeCounts(t, name)
		if st.Measurements[vitals.HeartRate] != tc[TypeHeartRate] || st.Measurements[vitals.Steps] != tc[TypeStepCount] ||
			st.Measurements[vitals.Distance] != tc[TypeDistance] || st.Measurements[vitals.ActiveEnergy] != tc[TypeActiveEnergy] ||
			st.Measurements[vitals.SleepInBed]+st.Empty != tc[TypeSleepAnalysis+" InBed"]+tc[TypeSleepAnalysis+" InBed empty"] ||
			st.Measurements[vitals.SleepAsleep] != tc[TypeSleepAnalysis] {
			t.Errorf("counts %v (empty %d), scan %v", st.Measurements, st.Empty, tc)
		}
		if st.Measurements[vitals.HeartRate] != 46121 || st.Measurements[vitals.Steps] != 2074 {
			t.Errorf("heart rate %d (want 46,121), steps %d (want 2,074)", st.Measurements[vitals.HeartRate], st.Measurements[vitals.Steps])
		}
		// The iPhone writes no steps here; Garmin Connect (no device:
		// "other") does.
		for _, m := range ms {
			if m.Kind == vitals.Steps && (m.Source != "Connect" || m.Class != vitals.ClassOther) {
				t.Fatalf("steps from %q (%v)", m.Source, m.Class)
			}
		}
		days := vitals.Daily(ms, vitals.Options{Location: loc})
		var dst *vitals.Day
		for i := range days {
			if days[i].Date == "2020-10-25" {
				dst = &days[i]
			}
		}
		if dst == nil || dst.Steps == nil || dst.HeartRate == nil || dst.HeartRate.Mean == nil {
			t.Fatalf("25 October 2020 (25 hours): %+v", dst)
		}
		// The day's steps are the sum of Connect's samples that day (one
		// source: nothing to merge), checked on the local day of 25 hours.
		from, to := time.Date(2020, 10, 25, 0, 0, 0, 0, loc), time.Date(2020, 10, 26, 0, 0, 0, 0, loc)
		if to.Sub(from) != 25*time.Hour {
			t.Fatal("not a 25-hour day")
		}
		sum := 0.0
		for _, m := range ms {
			if m.Kind == vitals.Steps && !m.Start.Before(from) && !m.End.After(to) {
				sum += m.Value
			}
		}
		if math.Abs(*dst.Steps-sum) > 1e-6 {
			t.Errorf("steps on 25 October %v, sum of the samples inside it %v", *dst.Steps, sum)
		}
	})

	t.Run("iPhone, en_US, miles", func(t *testing.T) {
		name := filepath.Join(dir, "apple_health_iphone_enUS_2019.xml")
		ms, st := collect(t, name)
		if st.Measurements[vitals.Steps] != 1588 || st.Measurements[vitals.Distance] != 1587 {
			t.Errorf("counts %v", st.Measurements)
		}
		var miles float64
		data, _ := os.ReadFile(name)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, TypeDistance) {
				i := strings.Index(line, `value="`)
				var v float64
				fmt.Sscanf(line[i+7:], "%g", &v)
				miles += v
			}
		}
		metres := 0.0
		for _, m := range ms {
			if m.Kind == vitals.Distance {
				metres += m.Value
				if m.Class != vitals.ClassPhone || m.Device != "iPhone iPhone10,4" {
					t.Fatalf("distance from %q %v %q", m.Source, m.Class, m.Device)
				}
			}
		}
		if math.Abs(metres-miles*1609.344) > 1e-6*metres {
			t.Errorf("%v m from %v mi", metres, miles)
		}
	})

	t.Run("Apple Watch heart rate, ko_KR", func(t *testing.T) {
		ms, st := collect(t, filepath.Join(dir, "apple_health_watch_hr_koKR.xml"))
		if st.Measurements[vitals.HeartRate] != 221 || len(ms) != 221 {
			t.Fatalf("counts %v", st.Measurements)
		}
		for _, m := range ms {
			if m.Class != vitals.ClassWatch || m.Device != "Watch Watch5,9" || !strings.Contains(m.Source, "Apple\u00a0Watch") {
				t.Fatalf("%+v", m)
			}
		}
		seoul, _ := cgm.Zone("Asia/Seoul")
		days := vitals.Daily(ms, vitals.Options{Location: seoul})
		if len(days) != 2 || days[0].Date != "2021-11-03" {
			t.Errorf("days %v", days)
		}
		// A fractional rate is kept as written.
		found := false
		for _, m := range ms {
			found = found || m.Value == 64.2771
		}
		if !found {
			t.Error("64.2771 not read")
		}
	})
}

func TestZip(t *testing.T) {
	data, err := os.ReadFile("testdata/export_watch_phone.xml")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "export.zip")
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, e := range []struct{ name, body string }{
		{"apple_health_export/export_cda.xml", "<ClinicalDocument/>"},
		{"apple_health_export/export.xml", string(data)},
		{"apple_health_export/workout-routes/route_2026-03-29_9.00am.gpx", "<gpx/>"},
	} {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	_, st := collect(t, name)
	if st.Total() != 20 {
		t.Errorf("%d measurements from the zip, want 20", st.Total())
	}
	// An archive without export.xml.
	bad := filepath.Join(t.TempDir(), "other.zip")
	o, _ := os.Create(bad)
	zw = zip.NewWriter(o)
	w, _ := zw.Create("notes.txt")
	io.WriteString(w, "hello")
	zw.Close()
	o.Close()
	if _, err := ReadFile(bad, Options{}, func(vitals.Measurement, int) error { return nil }); !errors.Is(err, ErrNotHealthExport) {
		t.Errorf("zip without export.xml: %v", err)
	}
}

// TestErrors: a malformed element stops the reading with its line, element
// and attribute named.
func TestErrors(t *testing.T) {
	const head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<HealthData locale=\"it_IT\">\n <ExportDate value=\"2026-03-30 09:12:40 +0100\"/>\n"
	rec := func(attrs string) string {
		return ` <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" ` + attrs + "/>\n"
	}
	ok := `startDate="2026-03-29 09:00:00 +0100" endDate="2026-03-29 09:00:00 +0100" value="70"`
	tests := []struct {
		name, body string
		want       string // substring of the message; "" for success
	}{
		{"valid", head + rec(ok) + "</HealthData>\n", ""},
		{"bad date", head + rec(ok) + rec(`startDate="29/03/2026 09:00" endDate="2026-03-29 09:00:00 +0100" value="70"`) + "</HealthData>",
			`:5:`},
		{"date message", head + rec(`startDate="29/03/2026 09:00" endDate="2026-03-29 09:00:00 +0100" value="70"`) + "</HealthData>",
			`<Record HKQuantityTypeIdentifierHeartRate>: startDate "29/03/2026 09:00": want a date such as 2020-10-24 22:04:00 +0100`},
		{"no value", head + rec(`startDate="2026-03-29 09:00:00 +0100" endDate="2026-03-29 09:00:00 +0100"`) + "</HealthData>", `value: is missing`},
		{"not a number", head + rec(`startDate="2026-03-29 09:00:00 +0100" endDate="2026-03-29 09:00:00 +0100" value="seventy"`) + "</HealthData>", `value "seventy": want a number`},
		{"impossible", head + rec(`startDate="2026-03-29 09:00:00 +0100" endDate="2026-03-29 09:00:00 +0100" value="700"`) + "</HealthData>", `value "700": heart_rate must be between 20 and 300 /min`},
		{"unit", head + strings.Replace(rec(ok), "count/min", "Hz", 1) + "</HealthData>", `unit "Hz": want count/min`},
		{"sleep value", head + ` <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Watch" startDate="2026-03-29 01:00:00 +0100" endDate="2026-03-29 02:00:00 +0100" value="HKCategoryValueSleepAnalysisDozing"/>` + "\n</HealthData>",
			`value "HKCategoryValueSleepAnalysisDozing": want a HKCategoryValueSleepAnalysis value`},
		{"end before start", head + ` <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Watch" unit="count" startDate="2026-03-29 09:00:00 +0100" endDate="2026-03-29 08:00:00 +0100" value="7"/>` + "\n</HealthData>",
			`endDate "2026-03-29T07:00:00Z": is before the start`},
		{"no source", head + strings.Replace(rec(ok), `sourceName="Watch" `, "", 1) + "</HealthData>", `sourceName: is missing`},
		{"half correlation", head + ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Omron" startDate="2026-03-29 07:15:00 +0100" endDate="2026-03-29 07:15:00 +0100">
  <Record type="HKQuantityTypeIdentifierBloodPressureSystolic" sourceName="Omron" unit="mmHg" startDate="2026-03-29 07:15:00 +0100" endDate="2026-03-29 07:15:00 +0100" value="130"/>
 </Correlation>
</HealthData>`, `:4:`},
		{"truncated", head + rec(ok) + ` <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Wat`, `malformed XML`},
		{"unclosed", head + rec(ok), `ends inside an element`},
		{"mismatched", head + " <Record type=\"x\" sourceName=\"y\"></Correlation>\n</HealthData>", `malformed XML`},
		{"other root", "<?xml version=\"1.0\"?>\n<gpx/>", `not an Apple Health export`},
		{"empty", "", `not an Apple Health export`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			_, err := Read(strings.NewReader(tt.body), "export.xml", Options{}, func(vitals.Measurement, int) error { n++; return nil })
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) && !errors.Is(err, ErrNotHealthExport) {
					t.Errorf("error %T is neither *Error nor ErrNotHealthExport", err)
				}
				if errors.As(err, &e) && (e.File != "export.xml" || e.Line < 1) {
					t.Errorf("error without place: %+v", e)
				}
			}
		})
	}
}

func TestDateParsing(t *testing.T) {
	for _, s := range []string{"2020-10-24 22:04:00 +0100", "2019-05-14 18:52:09 -0400", "2021-11-03 15:08:00 +0900",
		"2024-02-29 23:59:59 +0000", "2026-03-29 02:30:00 +0545"} {
		got, err := parseDate(s)
		want, err2 := time.Parse(DateLayout, s)
		if err != nil || err2 != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"2021-02-30 10:00:00 +0100", "2021-13-01 10:00:00 +0100", "2021-01-01 24:00:00 +0100", "2021-01-01T10:00:00+01:00"} {
		if _, err := parseDate(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// TestLargeExportConstantMemory reads a generated export of 200 days (about
// 52 MB, through a pipe: never in memory whole) and checks that the heap
// stays small while it is read, and that every measurement arrives.
func TestLargeExportConstantMemory(t *testing.T) {
	days := 200
	if testing.Short() {
		days = 40
	}
	pr, pw := io.Pipe()
	var counts applehealthtest.Counts
	var size int64
	go func() {
		cw := &countingWriter{w: pw}
		c, err := applehealthtest.Write(cw, applehealthtest.Options{Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Days: days})
		counts, size = c, cw.n
		pw.CloseWithError(err)
	}()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := base
	n := 0
	st, err := Read(pr, "generated.xml", Options{}, func(m vitals.Measurement, line int) error {
		n++
		if n%50000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != counts.Measurements() || st.Total() != n || st.Correlations != days || st.Unpaired != 0 {
		t.Errorf("%d measurements, generated %d; stats %+v", n, counts.Measurements(), st)
	}
	t.Logf("%d days, %.1f MB, %d records, %d measurements; heap in use %.1f MB at start, %.1f MB at most",
		days, float64(size)/1e6, counts.Records, n, float64(base)/1e6, float64(peak)/1e6)
	// The blood-pressure halves held for pairing are the only growth: a
	// few dozen bytes a day.
	if peak-base > 16<<20 {
		t.Errorf("the heap grew by %.1f MB while reading", float64(peak-base)/1e6)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TestGeneratedDaily: in the generated export the watch covers every hour
// the phone counts, so each day's steps are the watch's own.
func TestGeneratedDaily(t *testing.T) {
	var buf bytes.Buffer
	if _, err := applehealthtest.Write(&buf, applehealthtest.Options{Start: time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC), Days: 5}); err != nil {
		t.Fatal(err)
	}
	var ms []vitals.Measurement
	if _, err := Read(&buf, "gen.xml", Options{}, func(m vitals.Measurement, _ int) error { ms = append(ms, m); return nil }); err != nil {
		t.Fatal(err)
	}
	loc := rome(t)
	watch := map[string]float64{}
	phone := map[string]float64{}
	for _, m := range ms {
		if m.Kind == vitals.Steps {
			d := m.Start.In(loc).Format(time.DateOnly)
			if m.Class == vitals.ClassWatch {
				watch[d] += m.Value
			} else {
				phone[d] += m.Value
			}
		}
	}
	for _, d := range vitals.Daily(ms, vitals.Options{Location: loc}) {
		if d.Steps == nil {
			continue
		}
		if math.Abs(*d.Steps-watch[d.Date]) > 1e-6 || phone[d.Date] == 0 {
			t.Errorf("%s: %v steps, the watch's %v (the phone's %v)", d.Date, *d.Steps, watch[d.Date], phone[d.Date])
		}
		if (d.Date != "2026-03-27" && d.SleepStages == nil) || len(d.BloodPressure) != 1 {
			t.Errorf("%s: sleep %v, pressures %v", d.Date, d.SleepStages, d.BloodPressure)
		}
	}
}

func FuzzRead(f *testing.F) {
	seed, err := os.ReadFile("testdata/export_watch_phone.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("<HealthData><Record type=\"HKQuantityTypeIdentifierStepCount\" sourceName=\"a\" unit=\"count\" startDate=\"2026-03-29 09:00:00 +0100\" endDate=\"2026-03-29 09:10:00 +0100\" value=\"5\"/></HealthData>"))
	f.Add([]byte("<HealthData><Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"a\" startDate=\"2026-03-29 09:00:00 +0100\" endDate=\"2026-03-29 09:00:00 +0100\"><Record type=\"HKQuantityTypeIdentifierBloodPressureSystolic\" sourceName=\"a\" unit=\"mmHg\" startDate=\"2026-03-29 09:00:00 +0100\" endDate=\"2026-03-29 09:00:00 +0100\" value=\"120\"/></Correlation></HealthData>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []vitals.Measurement
		_, err := Read(bytes.NewReader(data), "fuzz.xml", Options{}, func(m vitals.Measurement, line int) error {
			if line < 1 {
				t.Fatalf("line %d", line)
			}
			got = append(got, m)
			return nil
		})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && !errors.Is(err, ErrNotHealthExport) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		for _, m := range got {
			if err := m.Validate(time.Time{}); err != nil {
				t.Fatalf("emitted an invalid measurement %+v: %v", m, err)
			}
		}
	})
}
