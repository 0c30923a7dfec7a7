package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// runCmd runs fsecgm with args and returns exit status, stdout and stderr.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	e := &env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: getenv}
	code := run(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

const igluCSV = "../../testdata/iglu_example_5_subject.csv"

func TestHelp(t *testing.T) {
	code, out, _ := runCmd(t, nil, "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out, c.name) {
			t.Errorf("help does not list %q", c.name)
		}
		code, _, errOut := runCmd(t, nil, c.name, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: fsecgm "+c.name) {
			t.Errorf("fsecgm %s --help: exit %d, usage %q", c.name, code, errOut)
		}
	}
	if code, _, _ := runCmd(t, nil, "no-such-command"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

// metricsKeys are the keys the issue fixes for every object of
// "fsecgm metrics" (more may follow, none may be renamed).
var metricsKeys = []string{"patient", "time_zone", "period", "readings", "interval_minutes", "mean_glucose",
	"sd_mg_dl", "cv_percent", "gmi", "time_in_ranges", "events", "scans", "days_worn", "active_percent", "sufficient"}

func TestMetricsLongCSV(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "metrics", "--input", igluCSV, "--agp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reports []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("stdout is not a JSON array: %v", err)
	}
	if len(reports) != 5 {
		t.Fatalf("%d objects, want one per subject (5)", len(reports))
	}
	for _, r := range reports {
		for _, k := range append(slices.Clone(metricsKeys), "agp") {
			if _, ok := r[k]; !ok {
				t.Errorf("missing key %q", k)
			}
		}
	}
	var first struct {
		Patient  string `json:"patient"`
		TimeZone string `json:"time_zone"`
		Readings int    `json:"readings"`
		Period   struct {
			Days      float64 `json:"days"`
			Automatic bool    `json:"automatic"`
		} `json:"period"`
		Events map[string]struct {
			Total    int      `json:"total"`
			PerDay   float64  `json:"per_day"`
			MeanMin  float64  `json:"mean_minutes"`
			MeanMgDL *float64 `json:"mean_mg_dl"`
		} `json:"events"`
		AGP []struct {
			Minute int `json:"minute"`
			Days   int `json:"days"`
		} `json:"agp"`
	}
	raw, _ := json.Marshal(reports[0])
	if err := json.Unmarshal(raw, &first); err != nil {
		t.Fatal(err)
	}
	if first.Patient != "Subject 1" || first.TimeZone != "-05:00" || first.Readings != 2915 ||
		first.Period.Days != 12.7 || !first.Period.Automatic {
		t.Errorf("Subject 1 = %+v", first)
	}
	for _, k := range []string{"hypo_level1", "hypo_level2", "hypo_level1_exclusive", "hypo_extended",
		"hyper_level1", "hyper_level2", "hyper_level1_exclusive", "hyper_extended"} {
		if _, ok := first.Events[k]; !ok {
			t.Errorf("events lacks %q", k)
		}
	}
	if len(first.AGP) != 288 || first.AGP[0].Minute != 5 || first.AGP[287].Minute != 1440 {
		t.Errorf("agp: %d slots, first minute %d", len(first.AGP), first.AGP[0].Minute)
	}
}

func TestMetricsPeriodAndZone(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "metrics", "--input", igluCSV, "--tz", "Europe/Rome", "--from", "2015-03-01", "--to", "2015-03-14")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reports []struct {
		TimeZone string `json:"time_zone"`
		Period   struct {
			Start     string  `json:"start"`
			Days      float64 `json:"days"`
			Automatic bool    `json:"automatic"`
		} `json:"period"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatal(err)
	}
	r := reports[1]
	if r.TimeZone != "Europe/Rome" || r.Period.Automatic || r.Period.Days != 14 || r.Period.Start != "2015-03-01T00:00:00+01:00" {
		t.Errorf("period = %+v in %s", r.Period, r.TimeZone)
	}
}

func TestMetricsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,time,gl\nA,2026-01-01T10:00:00+01:00,100\nA,2026-01-01T10:05:00+01:00,abc\n"), 0o644)
	notCSV := filepath.Join(dir, "x.csv")
	os.WriteFile(notCSV, []byte("hello\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"bad value", []string{"metrics", "--input", bad}, []string{bad + ":3", `"gl"`}},
		{"unknown format", []string{"metrics", "--input", notCSV}, []string{notCSV + ": a file in no format fsecgm reads", "long CSV"}},
		{"missing file", []string{"metrics", "--input", filepath.Join(dir, "none.csv")}, []string{"none.csv"}},
		{"no input", []string{"metrics"}, []string{"--input is required"}},
		{"bad zone", []string{"metrics", "--input", igluCSV, "--tz", "Mars/Base"}, []string{"Mars/Base"}},
		{"half period", []string{"metrics", "--input", igluCSV, "--from", "2015-03-01"}, []string{"--from and --to"}},
		{"bad date", []string{"metrics", "--input", igluCSV, "--from", "2015-3-1", "--to", "2015-03-14"}, []string{"YYYY-MM-DD"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(t, nil, tt.args...)
		if code != 2 || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing", tt.name, code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, errOut, w)
			}
		}
	}
}

func TestMetricsTable(t *testing.T) {
	code, out, _ := runCmd(t, nil, "metrics", "--input", igluCSV, "--table")
	if code != 0 || !strings.Contains(out, "Glucosio medio") || !strings.Contains(out, "124 mg/dL (6,9 mmol/L)") {
		t.Errorf("Italian table: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, nil, "metrics", "--input", igluCSV, "--table", "--lang", "en")
	if code != 0 || !strings.Contains(out, "Mean glucose") || !strings.Contains(out, "124 mg/dL (6.9 mmol/L)") {
		t.Errorf("English table: exit %d\n%s", code, out)
	}
}

func TestFHIRCommand(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "fhir", "--input", igluCSV, "--patient", "Subject 3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Code         struct {
					Coding []struct{ System, Code string } `json:"coding"`
				} `json:"code"`
				EffectivePeriod struct{ Start, End string } `json:"effectivePeriod"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if b.ResourceType != "Bundle" || b.Type != "collection" {
		t.Fatalf("not a collection Bundle: %s %s", b.ResourceType, b.Type)
	}
	codes := map[string]bool{}
	for _, e := range b.Entry {
		for _, c := range e.Resource.Code.Coding {
			codes[c.Code] = true
		}
		if e.Resource.ResourceType == "Observation" && (e.Resource.EffectivePeriod.Start != "2015-03-10" || e.Resource.EffectivePeriod.End != "2015-03-16") {
			t.Errorf("effectivePeriod = %+v, want 2015-03-10..2015-03-16 (local dates, end inclusive)", e.Resource.EffectivePeriod)
		}
	}
	for _, c := range []string{"107931-8", "97507-8", "106793-3", "97506-0", "104638-2", "104636-6", "104637-4"} {
		if !codes[c] {
			t.Errorf("bundle lacks LOINC %s", c)
		}
	}
	if code, _, errOut := runCmd(t, nil, "fhir", "--input", igluCSV, "--patient", "Subject 9"); code != 2 || !strings.Contains(errOut, "Subject 1") {
		t.Errorf("unknown subject: exit %d, %q", code, errOut)
	}
}

// TestMetricsExtendedMatchesIglu is our independent check of "fsecgm metrics
// --extended" against iglu's own output on iglu's example file: every key of
// every patient's "extended" object (iglu's all_metrics() column in snake
// case) equals the reference figure iglu 4.3.0 computed (1e-9 relative).
func TestMetricsExtendedMatchesIglu(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "metrics", "--input", igluCSV, "--extended")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reports []struct {
		Patient  string              `json:"patient"`
		Extended map[string]*float64 `json:"extended"`
		GRI      struct {
			Value float64 `json:"value"`
			Zone  string  `json:"zone"`
		} `json:"gri"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]*float64{}
	for _, r := range reports {
		got[r.Patient] = r.Extended
		if len(r.Extended) != 59 {
			t.Errorf("%s: %d extended keys, want 59", r.Patient, len(r.Extended))
		}
	}
	raw, err := os.ReadFile("../../agp/testdata/iglu_example_5_subject.extended.iglu.txt")
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		key := snake(f[1])
		v, ok := got[f[0]][key]
		if !ok {
			t.Errorf("%s: no key %q (iglu column %q)", f[0], key, f[1])
			continue
		}
		if f[2] == "NA" {
			if v != nil {
				t.Errorf("%s %s = %v, want null", f[0], key, *v)
			}
			matched++
			continue
		}
		want, _ := strconv.ParseFloat(f[2], 64)
		if v == nil || math.Abs(*v-want) > 1e-9*math.Abs(want) {
			t.Errorf("%s %s = %v, want %.17g (iglu)", f[0], key, v, want)
			continue
		}
		matched++
	}
	if matched != 5*59 {
		t.Errorf("%d of %d iglu figures matched", matched, 5*59)
	}
	if reports[1].GRI.Zone != "D" || reports[0].GRI.Zone != "A" {
		t.Errorf("GRI zones %+v %+v", reports[0].GRI, reports[1].GRI)
	}
	// Without --extended the object is absent.
	_, out, _ = runCmd(t, nil, "metrics", "--input", igluCSV)
	if strings.Contains(out, `"extended"`) {
		t.Error(`"extended" printed without --extended`)
	}
}

// snake is the rule written independently of agp.SnakeCase: lower
// case, each run of other characters one "_", none at either end.
func snake(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
		} else {
			sep = true
		}
	}
	return b.String()
}
