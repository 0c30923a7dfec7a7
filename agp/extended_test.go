package agp

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
)

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SD.Roc", "sd_roc"},
		{"1st Qu.", "1st_qu"},
		{"J_index", "j_index"},
		{"eA1C", "ea1c"},
		{"Min.", "min"},
		{"3rd Qu.", "3rd_qu"},
		{"CV_Measures_Mean", "cv_measures_mean"},
		{"in_range_63_140", "in_range_63_140"},
		{"  a -- b  ", "a_b"},
		{"GRI", "gri"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := SnakeCase(tt.in); got != tt.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMetricKeys: one key per iglu column, all distinct, in column order.
func TestMetricKeys(t *testing.T) {
	seen := map[string]Metric{}
	for m := Metric(0); m < NumMetrics; m++ {
		if prev, ok := seen[m.Key()]; ok {
			t.Errorf("%s and %s share the key %q", prev.Column(), m.Column(), m.Key())
		}
		seen[m.Key()] = m
		if got, ok := MetricByColumn(m.Column()); !ok || got != m {
			t.Errorf("MetricByColumn(%q) = %v, %v", m.Column(), got, ok)
		}
	}
	if NumMetrics != 59 {
		t.Errorf("%d metrics, want all_metrics' 59 figures", NumMetrics)
	}
}

func TestExtendedJSON(t *testing.T) {
	var e Extended
	for i := range e.v {
		e.v[i] = float64(i) + 0.1
	}
	e.v[MetricMAGE] = math.NaN()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, `{"adrr":0.1,"cogi":1.1,`) || !strings.Contains(s, `"mage":null`) || !strings.Contains(s, `"sd_roc":48.1`) {
		t.Errorf("JSON %s", s)
	}
	// Keys in column order.
	last := -1
	for m := Metric(0); m < NumMetrics; m++ {
		i := strings.Index(s, `"`+m.Key()+`":`)
		if i <= last {
			t.Errorf("key %q out of order", m.Key())
		}
		last = i
	}
	var back Extended
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Value(MetricMAGE) != nil || *back.Value(MetricSDRoC) != 48.1 {
		t.Errorf("round trip: %v %v", back.Value(MetricMAGE), back.Value(MetricSDRoC))
	}
}

// TestQuantilesHistogram: the histogram path equals sorting, with ties and
// even and odd counts.
func TestQuantilesHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(300)
		gl := make([]float64, n)
		for i := range gl {
			gl[i] = float64(40 + rng.IntN(1+rng.IntN(400)))
		}
		c := &calc{w: new(work)}
		q1, med, q3, mad := c.quantiles(gl)
		sorted := slices.Clone(gl)
		slices.Sort(sorted)
		wq1, wmed, wq3 := quantile7(sorted, 0.25), quantile7(sorted, 0.5), quantile7(sorted, 0.75)
		dev := make([]float64, n)
		for i, v := range sorted {
			dev[i] = math.Abs(v - wmed)
		}
		wmad := 1.4826 * median(dev)
		if q1 != wq1 || med != wmed || q3 != wq3 || mad != wmad {
			t.Fatalf("n=%d: got %v %v %v %v, want %v %v %v %v", n, q1, med, q3, mad, wq1, wmed, wq3, wmad)
		}
	}
}

// magePlusRef and mageMinusRef are iglu's MAGE+ and MAGE− loops as written
// there, on the full matrix of differences (O(n²)): the reference for the
// linear versions.
func magePlusRef(ext []float64, sd float64) (sum float64, count int) {
	n := len(ext)
	diff := func(i, j int) float64 { return ext[j] - ext[i] } // differences[i, j] = ext[j] − ext[i]
	j, prevJ := 0, 0
	for j < n {
		maxV, i := math.Inf(-1), -1
		for m := prevJ; m <= j; m++ {
			if d := diff(m, j); d > maxV {
				maxV, i = d, m
			}
		}
		if maxV >= sd {
			for k := j; k < n; k++ {
				if ext[k] > ext[j] {
					j = k
				}
				if diff(j, k) < -sd || k == n-1 {
					sum += ext[j] - ext[i]
					count++
					prevJ, j = k, k
					break
				}
			}
		} else {
			j++
		}
	}
	return sum, count
}

func mageMinusRef(ext []float64, sd float64) (sum float64, count int) {
	n := len(ext)
	diff := func(i, j int) float64 { return ext[j] - ext[i] }
	j, prevJ := 0, 0
	for j < n {
		minV, i := math.Inf(1), -1
		for m := prevJ; m <= j; m++ {
			if d := diff(m, j); d < minV {
				minV, i = d, m
			}
		}
		if minV <= -sd {
			for k := j; k < n; k++ {
				if ext[k] < ext[j] {
					j = k
				}
				if diff(j, k) > sd || k == n-1 {
					sum += ext[j] - ext[i]
					count++
					prevJ, j = j, k
					break
				}
			}
		} else {
			j++
		}
	}
	return sum, count
}

// TestMAGELinearEqualsQuadratic checks the running-extreme loops against
// iglu's matrix loops on random turning points, ties included.
func TestMAGELinearEqualsQuadratic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 3000; trial++ {
		n := 1 + rng.IntN(40)
		ext := make([]float64, n)
		for i := range ext {
			ext[i] = float64(60 + rng.IntN(1+rng.IntN(200)))
		}
		sd := 1 + float64(rng.IntN(80))
		ps, pc := magePlus(ext, sd)
		rs, rc := magePlusRef(ext, sd)
		if ps != rs || pc != rc {
			t.Fatalf("MAGE+ of %v (sd %v) = %v/%d, iglu's loop %v/%d", ext, sd, ps, pc, rs, rc)
		}
		ms, mc := mageMinus(ext, sd)
		rs, rc = mageMinusRef(ext, sd)
		if ms != rs || mc != rc {
			t.Fatalf("MAGE− of %v (sd %v) = %v/%d, iglu's loop %v/%d", ext, sd, ms, mc, rs, rc)
		}
	}
}

func TestGRI(t *testing.T) {
	tests := []struct {
		r           Ranges
		gri, hy, hr float64
		zone        string
	}{
		{Ranges{Target: 100}, 0, 0, 0, "A"},
		// 3·1 + 2.4·3 + 1.6·5 + 0.8·20 = 34.2
		{Ranges{VeryLow: 1, Low: 3, Target: 71, High: 20, VeryHigh: 5}, 34.2, 3.4, 15, "B"},
		{Ranges{VeryLow: 40, Low: 10, Target: 50}, 100, 48, 0, "E"}, // 144 capped
		{Ranges{High: 25, Target: 75}, 20, 0, 12.5, "A"},            // 20 is zone A
	}
	for _, tt := range tests {
		g := GRIFromRanges(tt.r)
		if math.Abs(g.Value-tt.gri) > 1e-12 || math.Abs(g.Hypo-tt.hy) > 1e-12 || math.Abs(g.Hyper-tt.hr) > 1e-12 || g.Zone != tt.zone {
			t.Errorf("GRIFromRanges(%+v) = %+v, want %v %v %v %s", tt.r, g, tt.gri, tt.hy, tt.hr, tt.zone)
		}
	}
	for v, z := range map[float64]string{0: "A", 20: "A", 20.01: "B", 40: "B", 59.9: "C", 60: "C", 80: "D", 80.5: "E", 100: "E"} {
		if got := GRIZone(v); got != z {
			t.Errorf("GRIZone(%v) = %s, want %s", v, got, z)
		}
	}
}

// TestExtendedDSTRepeatedHour shows the difference on the repeated autumn
// hour: 5-minute readings in Europe/Rome from 24 to 26 October 2026, all 100
// mg/dL except the second pass of 02:00–02:55 on the 25th (CET), 200 mg/dL.
//
// iglu 4.3.0 builds its grid by adding clock minutes to local midnight
// (lubridate periods), so the second pass of the repeated hour is never a
// grid point: run on these readings (tz "Europe/Rome"), its
// optimized_iglu_functions gives SDw, SDdm, SDhhmm, SDb, CV_Measures_Mean
// and MODD 0 and AUC 100 — the twelve readings at 200 are lost — and it
// labels the rows from 23 October (as.Date of midnight CEST in UTC).
//
// Here the grid runs in elapsed time and its points are placed in their
// local days: 24 October holds 288 points, 25 October 300 (25 hours, twelve
// at 200), 26 October 287 (the last reading is at 23:55).
func TestExtendedDSTRepeatedHour(t *testing.T) {
	start := time.Date(2026, 10, 24, 0, 0, 0, 0, rome)
	var rs []cgm.Reading
	for i := 0; i < 300+288+288; i++ {
		at := start.Add(time.Duration(i) * 5 * time.Minute)
		v := 100.0
		if l := at.In(rome); l.Day() == 25 && l.Hour() == 2 {
			if _, off := l.Zone(); off == 3600 { // CET: the second pass
				v = 200
			}
		}
		rs = append(rs, cgm.Reading{Time: at.UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	s := cgm.NewSeries(rs)
	e, err := ComputeExtended(s, Options{Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	// The 25th: 288 values of 100 and 12 of 200: mean 104, SD √(115200/299).
	sd25 := math.Sqrt(115200.0 / 299)
	modd := 2400.0 / (300 + 299) // 24 differences of 100 among 599 pairs
	want := map[Metric]float64{
		MetricSDw:    sd25 / 3,
		MetricSDdm:   sampleSD([]float64{100, 104, 100}), // the SD of the daily means
		MetricCVMean: sd25 / 104 * 100 / 3,
		MetricMODD:   modd,
	}
	for m, w := range want {
		got := e.Value(m)
		if got == nil || math.Abs(*got-w) > 1e-9*w {
			t.Errorf("%s = %v, want %.12g (local days; iglu 4.3.0 gives 0)", m.Column(), got, w)
		}
	}
	// The days as local days: the day means of the grid.
	c := newCalc(s, Options{Location: rome}, new(work))
	c.grid = c.buildGrid()
	d := c.localDays()
	counts := make([]int, d.rows)
	n200 := 0
	for k := range d.first {
		for _, v := range []float64{d.first[k], d.second[k]} {
			if v == v {
				counts[k/d.cols]++
				if v == 200 {
					n200++
				}
			}
		}
	}
	if !slices.Equal(counts, []int{288, 300, 287}) || n200 != 12 {
		t.Errorf("points per local day %v, %d at 200; want [288 300 287], 12", counts, n200)
	}
	// AUC and every lattice measure see the twelve readings too.
	if v := e.Value(MetricAUC); v == nil || *v <= 100 {
		t.Errorf("AUC = %v, want above 100 (iglu 4.3.0: 100)", v)
	}
}

func sampleSD(xs []float64) float64 {
	var m moments
	for _, x := range xs {
		m.add(x)
	}
	return m.sd()
}

// TestExtendedSmallAndEdge: no readings, one reading, a 20-minute grid (no
// rate of change: iglu's lag would be below one point) and mmol/L data.
func TestExtendedSmallAndEdge(t *testing.T) {
	e, err := ComputeExtended(nil, Options{Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	for m := Metric(0); m < NumMetrics; m++ {
		if e.Value(m) != nil {
			t.Errorf("no readings: %s = %v, want NA", m.Column(), *e.Value(m))
		}
	}
	one := series(t0, 5*time.Minute, cgm.MgDL, 120)
	e, _ = ComputeExtended(one, Options{Location: rome})
	if e.Value(MetricSD) != nil || e.Value(MetricMAGE) != nil || *e.Value(MetricMean) != 120 || *e.Value(MetricGRI) != 0 {
		t.Errorf("one reading: SD %v MAGE %v mean %v GRI %v", e.Value(MetricSD), e.Value(MetricMAGE), e.Value(MetricMean), e.Value(MetricGRI))
	}
	vals := make([]float64, 200)
	for i := range vals {
		vals[i] = 120 + 60*math.Sin(float64(i)/6)
	}
	e, _ = ComputeExtended(series(t0, 20*time.Minute, cgm.MgDL, vals...), Options{Location: rome})
	if e.Value(MetricSDRoC) != nil || e.Value(MetricCONGA) == nil || e.Value(MetricMAGE) == nil {
		t.Errorf("20-minute grid: SD.Roc %v CONGA %v MAGE %v", e.Value(MetricSDRoC), e.Value(MetricCONGA), e.Value(MetricMAGE))
	}
	// mmol/L readings give the figures of the same readings in mg/dL.
	mg := make([]float64, len(vals))
	mm := make([]float64, len(vals))
	for i, v := range vals {
		mm[i] = math.Round(v/18*10) / 10
		mg[i] = cgm.ToMgDL(mm[i], cgm.MmolL)
	}
	a, _ := ComputeExtended(series(t0, 5*time.Minute, cgm.MmolL, mm...), Options{Location: rome})
	b, _ := ComputeExtended(series(t0, 5*time.Minute, cgm.MgDL, mg...), Options{Location: rome})
	for m := Metric(0); m < NumMetrics; m++ {
		x, y := a.Value(m), b.Value(m)
		if (x == nil) != (y == nil) || x != nil && math.Abs(*x-*y) > 1e-9*math.Max(1, math.Abs(*y)) {
			t.Errorf("%s: mmol/L %v, mg/dL %v", m.Column(), x, y)
		}
	}
}
