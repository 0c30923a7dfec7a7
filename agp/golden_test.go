package agp_test

import (
	"bufio"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// readLong reads the long CSV id,time,gl of the shared test data (a minimal
// reader: the product's parser has its own tests).
func readLong(t *testing.T, path string) (map[string]cgm.Series, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]cgm.Reading{}
	var ids []string
	for _, row := range rows[1:] {
		tm, err := time.Parse(time.RFC3339, row[1])
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := raw[row[0]]; !ok {
			ids = append(ids, row[0])
		}
		raw[row[0]] = append(raw[row[0]], cgm.Reading{Time: tm.UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	out := map[string]cgm.Series{}
	for id, rs := range raw {
		out[id] = cgm.NewSeries(rs)
	}
	return out, ids
}

// TestIgluReference compares every figure that iglu 4.3.0 computes with the
// engine's, on iglu's own example data: counts exactly, other figures within
// 1e-9 relative. The reference values in testdata were computed by iglu's R
// code (see the header of the file).
func TestIgluReference(t *testing.T) {
	subjects, _ := readLong(t, "../testdata/iglu_example_5_subject.csv")
	est := time.FixedZone("-05:00", -5*3600)
	reports := map[string]agp.Report{}
	for id, s := range subjects {
		r, err := agp.Compute(s, agp.Options{Patient: id, Location: est, AGP: true})
		if err != nil {
			t.Fatal(err)
		}
		reports[id] = r
	}

	f, err := os.Open("testdata/iglu_example_5_subject.iglu.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	checked := 0
	num := func(s string) *float64 {
		if s == "NA" {
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("bad reference value %q", s)
		}
		return &v
	}
	check := func(subject, name string, got *float64, want *float64) {
		t.Helper()
		checked++
		switch {
		case want == nil && got == nil:
		case want == nil || got == nil:
			t.Errorf("%s %s = %v, want %v", subject, name, got, want)
		case *got != *want && math.Abs(*got-*want) > 1e-9*math.Max(math.Abs(*got), math.Abs(*want)):
			t.Errorf("%s %s = %.17g, want %.17g (iglu)", subject, name, *got, *want)
		}
	}
	exact := func(subject, name string, got, want int) {
		t.Helper()
		checked++
		if got != want {
			t.Errorf("%s %s = %d, want %d (iglu)", subject, name, got, want)
		}
	}
	p := func(v float64) *float64 { return &v }
	levels := map[string]func(agp.Events) agp.Episodes{
		"ep_hypo_lv1":       func(e agp.Events) agp.Episodes { return e.HypoLevel1 },
		"ep_hypo_lv2":       func(e agp.Events) agp.Episodes { return e.HypoLevel2 },
		"ep_hypo_extended":  func(e agp.Events) agp.Episodes { return e.HypoExtended },
		"ep_hyper_lv1":      func(e agp.Events) agp.Episodes { return e.HyperLevel1 },
		"ep_hyper_lv2":      func(e agp.Events) agp.Episodes { return e.HyperLevel2 },
		"ep_hypo_lv1_excl":  func(e agp.Events) agp.Episodes { return e.HypoLevel1Exclusive },
		"ep_hyper_lv1_excl": func(e agp.Events) agp.Episodes { return e.HyperLevel1Exclusive },
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		f := strings.Split(line, "|")
		s, name := f[0], f[1]
		r, ok := reports[s]
		if !ok {
			t.Fatalf("no report for %q", s)
		}
		tir := r.TimeInRanges
		switch name {
		case "readings":
			n, _ := strconv.Atoi(f[2])
			exact(s, name, r.Readings, n)
		case "mean":
			check(s, name, p(r.MeanGlucose.MgDL), num(f[2]))
		case "sd":
			check(s, name, r.SDMgDL, num(f[2]))
		case "cv":
			check(s, name, r.CVPercent, num(f[2]))
		case "gmi":
			check(s, name, p(r.GMI.Percent), num(f[2]))
		case "very_low":
			check(s, name, p(tir.VeryLow), num(f[2]))
		case "below70":
			check(s, name, p(tir.VeryLow+tir.Low), num(f[2]))
		case "in_range":
			check(s, name, p(tir.Target), num(f[2]))
		case "above180":
			check(s, name, p(tir.High+tir.VeryHigh), num(f[2]))
		case "very_high":
			check(s, name, p(tir.VeryHigh), num(f[2]))
		case "tight":
			check(s, name, p(tir.Tight), num(f[2]))
		case "active":
			check(s, name, p(r.ActivePercent), num(f[2]))
		case "ndays":
			check(s, name, p(r.Period.Days), num(f[2]))
		case "dt0":
			check(s, name, p(r.IntervalMinutes), num(f[2]))
		case "agp":
			m, _ := strconv.Atoi(f[2])
			var slot *agp.Slot
			for i := range r.AGP {
				if r.AGP[i].Minute == m {
					slot = &r.AGP[i]
				}
			}
			if slot == nil {
				t.Fatalf("%s: no AGP slot %d", s, m)
			}
			for i, q := range []*float64{slot.P5, slot.P25, slot.P50, slot.P75, slot.P95} {
				check(s, "agp "+f[2]+" "+[]string{"p5", "p25", "p50", "p75", "p95"}[i], q, num(f[3+i]))
			}
			days, _ := strconv.Atoi(f[8])
			exact(s, "agp "+f[2]+" days", slot.Days, days)
		default:
			get, ok := levels[name]
			if !ok {
				t.Fatalf("unknown reference metric %q", name)
			}
			e := get(r.Events)
			check(s, name+" per day", p(e.PerDay), num(f[2]))
			check(s, name+" mean minutes", p(e.MeanMinutes), num(f[3]))
			check(s, name+" mean glucose", e.MeanMgDL, num(f[4]))
			total, _ := strconv.Atoi(f[5])
			exact(s, name+" total", e.Total, total)
		}
	}
	if checked < 8000 {
		t.Errorf("only %d reference figures checked", checked)
	}
}
