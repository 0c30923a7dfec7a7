package takeout

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"

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

func f(v float64) *float64 { return &v }

// TestTakeout reads a Takeout folder with Fitbit's Global Export Data and
// Google Fit's daily metrics of 29 March 2026 (the clocks go forward in
// Europe/Rome): Fitbit counts 09:00-10:00, Google Fit 09:00-11:00; the
// night's stages cross the missing hour.
func TestTakeout(t *testing.T) {
	loc := rome(t)
	var ms []vitals.Measurement
	st, err := ReadPath("testdata/Takeout", Options{Location: loc}, func(m vitals.Measurement, file string, at int) error {
		if file == "" {
			t.Fatal("no file named")
		}
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [vitals.MaxKind + 1]int{vitals.Steps: 60 + 8, vitals.Distance: 8, vitals.HeartRate: 3, vitals.RestingHeartRate: 1,
		vitals.SleepInBed: 1, vitals.SleepLight: 3, vitals.SleepDeep: 1, vitals.SleepREM: 1, vitals.SleepAwake: 2}
	if st.Measurements != want {
		t.Errorf("by kind %v, want %v", st.Measurements, want)
	}
	if st.Files[FitbitSteps] != 1 || st.Files[GoogleFitDaily] != 1 || st.Files[FitbitSleep] != 1 {
		t.Errorf("files %v", st.Files)
	}
	days := vitals.Daily(ms, vitals.Options{Location: loc})
	wantDays := []vitals.Day{{Date: "2026-03-29", Steps: f(3000 + 4000), DistanceM: f(5600),
		SleepMinutes: f(348), SleepStages: &vitals.SleepStages{Awake: 12, Light: 258, Deep: 30, REM: 60, InBed: 360},
		HeartRate: &vitals.HeartRateDay{Min: f(70), Mean: f(80), Max: f(90), Resting: f(61.53)}, HeartRateSamples: 3,
		BloodPressure: []vitals.Pressure{}}}
	if diff := cmp.Diff(wantDays, days, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	for _, m := range ms {
		if m.Source == SourceFitbit && m.Class != vitals.ClassWatch || m.Source == SourceGoogleFit && m.Class != vitals.ClassOther {
			t.Fatalf("%+v", m)
		}
	}
}

// zipOf archives a directory.
func zipOf(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "takeout-20260330T091240Z-001.zip")
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	out.Close()
	return name
}

func TestZip(t *testing.T) {
	name := zipOf(t, "testdata/Takeout")
	st, err := ReadPath(name, Options{Location: rome(t)}, func(vitals.Measurement, string, int) error { return nil })
	if err != nil || st.Total() != 88 {
		t.Fatalf("%d measurements, %v", st.Total(), err)
	}
	zr, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if !Detect(&zr.Reader) {
		t.Error("not detected")
	}
	if _, err := ReadPath("testdata/Takeout/Fit/Daily activity metrics.csv", Options{}, nil); !errors.Is(err, ErrNotTakeout) {
		t.Errorf("the summary CSV: %v", err)
	}
}

func TestKindOf(t *testing.T) {
	for p, want := range map[string]Kind{
		"Takeout/Fitbit/Global Export Data/steps-2023-01-01.json":              FitbitSteps,
		"Takeout/Fitbit/Global Export Data/heart_rate-2023-01-01.json":         FitbitHeartRate,
		"Takeout/Fitbit/Global Export Data/resting_heart_rate-2023-01-01.json": FitbitRestingHeartRate,
		"Takeout/Fitbit/Global Export Data/sleep-2023-01-01.json":              FitbitSleep,
		"Takeout/Fitbit/Global Export Data/calories-2023-01-01.json":           KindUnknown,
		"Takeout/Fit/Daily activity metrics/2023-01-01.csv":                    GoogleFitDaily,
		`C:\Takeout\Fit\Daily activity metrics\2023-01-01.csv`:                 KindUnknown, // not a slash path on Linux
		"2023-01-01.csv": KindUnknown,
	} {
		if got := KindOf(p); got != want {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		file string
		body string
		want string
	}{
		{"not an array", FitbitSteps, "steps-2026-03-29.json", `{"dateTime": "x"}`, `steps-2026-03-29.json: want a JSON array of entries`},
		{"bad date", FitbitSteps, "steps-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":"5"},{"dateTime":"2026-03-29 07:01","value":"5"}]`,
			`steps-2026-03-29.json: entry 1: dateTime "2026-03-29 07:01": want MM/DD/YY hh:mm:ss`},
		{"bad steps", FitbitSteps, "steps-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":"many"}]`, `entry 0: value "\"many\"": want a number of steps`},
		{"negative steps", FitbitSteps, "steps-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":"-5"}]`, `entry 0: value "-5": steps must be between 0 and 100000 {steps}`},
		{"truncated", FitbitHeartRate, "heart_rate-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":{"bpm":70}},{"dateTime":"03/29/26 07`, `entry 1: malformed JSON`},
		{"unterminated", FitbitHeartRate, "heart_rate-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":{"bpm":70}}`, `the array does not end`},
		{"heart rate", FitbitHeartRate, "heart_rate-2026-03-29.json", `[{"dateTime":"03/29/26 07:00:00","value":{"bpm":900}}]`, `entry 0: value.bpm "900": heart_rate must be between 20 and 300 /min`},
		{"level", FitbitSleep, "sleep-2026-03-29.json", `[{"startTime":"2026-03-29T00:30:00.000","endTime":"2026-03-29T01:30:00.000","levels":{"data":[{"dateTime":"2026-03-29T00:30:00.000","level":"dozing","seconds":60}]}}]`,
			`entry 0: levels.data[0].level "dozing": want wake, light, deep, rem, asleep, restless or awake`},
		{"sleep time", FitbitSleep, "sleep-2026-03-29.json", `[{"startTime":"2026-03-29 00:30","endTime":"2026-03-29T01:30:00.000"}]`, `entry 0: startTime "2026-03-29 00:30"`},
		{"resting date", FitbitRestingHeartRate, "resting_heart_rate-2026-03-29.json", `[{"dateTime":"03/29/26 00:00:00","value":{"date":"2026-03-29","value":60}}]`, `entry 0: value.date "2026-03-29": want MM/DD/YY`},
		{"csv number", GoogleFitDaily, "Daily activity metrics/2026-03-29.csv", "Start time,End time,Step count\n00:00:00.000+01:00,00:15:00.000+01:00,12\n00:15:00.000+01:00,00:30:00.000+01:00,dodici\n",
			`Daily activity metrics/2026-03-29.csv:3: Step count "dodici": want a number`},
		{"csv time", GoogleFitDaily, "Daily activity metrics/2026-03-29.csv", "Start time,End time,Step count\n0:00,00:15:00.000+01:00,12\n", `:2: Start time "0:00": want a time such as 00:15:00.000+01:00`},
		{"csv header", GoogleFitDaily, "Daily activity metrics/2026-03-29.csv", "Date,Step count\n2026-03-29,12\n", `:1: Start time: column missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.body), tt.file, tt.kind, Options{}, func(vitals.Measurement, string, int) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not *Error", err)
			}
		})
	}
}

func fuzzSeeds(f *testing.F) {
	for _, p := range []string{"steps", "heart_rate", "resting_heart_rate", "sleep"} {
		data, err := os.ReadFile("testdata/Takeout/Fitbit/Global Export Data/" + p + "-2026-03-29.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(KindOf(p+"-2026-03-29.json")), data)
	}
	data, err := os.ReadFile("testdata/Takeout/Fit/Daily activity metrics/2026-03-29.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(GoogleFitDaily), data)
}

func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := Kind(k%5 + 1)
		name := map[Kind]string{FitbitSteps: "steps-2026-03-29.json", FitbitHeartRate: "heart_rate-2026-03-29.json",
			FitbitRestingHeartRate: "resting_heart_rate-2026-03-29.json", FitbitSleep: "sleep-2026-03-29.json",
			GoogleFitDaily: "Daily activity metrics/2026-03-29.csv"}[kind]
		_, err := Read(bytes.NewReader(data), name, kind, Options{}, func(m vitals.Measurement, file string, at int) error {
			if err := m.Validate(time.Time{}); err != nil {
				t.Fatalf("invalid measurement handed over: %+v: %v", m, err)
			}
			return nil
		})
		var e *Error
		if err != nil && !errors.As(err, &e) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %T %v", err, err)
		}
	})
}
