package agp

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"
)

// FuzzCompute feeds arbitrary series (intervals and values decoded from the
// input) and checks invariants: no panic, bands sum to 100, percentiles in
// order, capture between 0 and 100, exclusive and extended episode counts
// bounded by the counts they are part of.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{5, 100, 5, 120, 5, 60, 5, 60, 5, 60, 5, 200}, false)
	f.Add([]byte{15, 40, 15, 255, 90, 70, 1, 54, 0, 180}, true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, mmol bool) {
		unit := cgm.MgDL
		if mmol {
			unit = cgm.MmolL
		}
		start := time.Date(2026, 10, 24, 22, 0, 0, 0, rome)
		var rs []cgm.Reading
		at := start
		for len(data) >= 2 {
			step := time.Duration(data[0]) * time.Minute
			if len(data) >= 4 {
				step += time.Duration(binary.LittleEndian.Uint16(data[2:4])%60) * time.Second
			}
			at = at.Add(step)
			v := float64(data[1])*2 + 20
			if mmol {
				v = math.Round(v/18*10) / 10
			}
			v, fl := cgm.Clamp(v, unit)
			kind := cgm.Historic
			if data[1]%11 == 0 {
				kind = cgm.Scan
			}
			rs = append(rs, cgm.Reading{Time: at.UTC(), Value: v, Unit: unit, Kind: kind, Flags: fl})
			data = data[2:]
		}
		r, err := Compute(cgm.NewSeries(rs), Options{Location: rome, AGP: true, Daily: true, Extended: true})
		if err != nil {
			t.Fatal(err)
		}
		if tir := r.TimeInRanges; tir != nil {
			if sum := tir.VeryLow + tir.Low + tir.Target + tir.High + tir.VeryHigh; math.Abs(sum-100) > 1e-9 {
				t.Errorf("bands sum to %v", sum)
			}
			if tir.Tight > tir.Target+1e-9 {
				t.Errorf("tight %v > target %v", tir.Tight, tir.Target)
			}
		}
		if r.ActivePercent < 0 || r.ActivePercent > 100+1e-9 {
			t.Errorf("active %v", r.ActivePercent)
		}
		for _, s := range r.AGP {
			if s.P5 == nil {
				continue
			}
			if !(*s.P5 <= *s.P25 && *s.P25 <= *s.P50 && *s.P50 <= *s.P75 && *s.P75 <= *s.P95) {
				t.Errorf("slot %d percentiles out of order: %v %v %v %v %v", s.Minute, *s.P5, *s.P25, *s.P50, *s.P75, *s.P95)
			}
		}
		e := r.Events
		// Level 2 may split where level 1 does not (a point between 180 and
		// 250 ends a level 2 hyper episode at a 20-minute step), so only
		// exclusive and extended counts are bounded.
		if e.HypoLevel1Exclusive.Total > e.HypoLevel1.Total || e.HypoExtended.Total > e.HypoLevel1.Total ||
			e.HyperLevel1Exclusive.Total > e.HyperLevel1.Total || e.HyperExtended.Total > e.HyperLevel2.Total {
			t.Errorf("episode counts inconsistent: %+v", e)
		}
		checkExtended(t, r)
		days := 0
		for _, d := range r.Daily {
			days += d.Readings
		}
		if r.Daily != nil && days != r.Readings {
			t.Errorf("daily profiles hold %d readings, report %d", days, r.Readings)
		}
	})
}

// checkExtended checks the invariants of the extended metrics: percentages
// within 0–100, the five-number summary in order, SDs and indices not
// negative, GRI equal to the report's.
func checkExtended(t *testing.T, r Report) {
	t.Helper()
	e := r.Extended
	get := func(m Metric) float64 {
		if v := e.Value(m); v != nil {
			if math.IsInf(*v, 0) {
				t.Errorf("%s is infinite", m.Column())
			}
			return *v
		}
		return math.NaN()
	}
	for _, m := range []Metric{MetricAbove140, MetricAbove180, MetricAbove250, MetricBelow54, MetricBelow70,
		MetricInRange63140, MetricInRange70180, MetricGRI, MetricCOGI, MetricActivePercent,
		MetricGRADEEugly, MetricGRADEHyper, MetricGRADEHypo} {
		if v := get(m); v < -1e-9 || v > 100+1e-9 {
			t.Errorf("%s = %v, outside 0–100", m.Column(), v)
		}
	}
	if q := []float64{get(MetricMin), get(MetricQ1), get(MetricMedian), get(MetricQ3), get(MetricMax)}; q[0] == q[0] && !slices.IsSorted(q) {
		t.Errorf("summary out of order: %v", q)
	}
	for _, m := range []Metric{MetricSD, MetricSDw, MetricSDhhmm, MetricSDwsh, MetricSDdm, MetricSDb, MetricSDbdm,
		MetricCONGA, MetricMODD, MetricMAGE, MetricMAG, MetricIQR, MetricMAD, MetricLBGI, MetricHBGI, MetricADRR, MetricRange} {
		if v := get(m); v < 0 {
			t.Errorf("%s = %v < 0", m.Column(), v)
		}
	}
	if r.GRI != nil && get(MetricGRI) == get(MetricGRI) && r.Unit == "mg/dL" && math.Abs(r.GRI.Value-get(MetricGRI)) > 1e-9 {
		t.Errorf("GRI %v in the report, %v extended", r.GRI.Value, get(MetricGRI))
	}
}
