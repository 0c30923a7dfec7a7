package agp

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"fsecgm/cgm"
)

var (
	utc  = time.UTC
	rome = mustLoad("Europe/Rome")
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// series builds historic readings every step starting at start, one per value.
func series(start time.Time, step time.Duration, unit cgm.Unit, vals ...float64) cgm.Series {
	rs := make([]cgm.Reading, len(vals))
	for i, v := range vals {
		rs[i] = cgm.Reading{Time: start.Add(time.Duration(i) * step).UTC(), Value: v, Unit: unit, Kind: cgm.Historic}
	}
	return cgm.NewSeries(rs)
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func compute(t *testing.T, s cgm.Series, o Options) Report {
	t.Helper()
	if o.Location == nil {
		o.Location = utc
	}
	r, err := Compute(s, o)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return r
}

func approx(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, utc)

// TestRangeBoundaries checks every consensus boundary, in mg/dL and in
// mmol/L (classified in the reported unit, never converted).
func TestRangeBoundaries(t *testing.T) {
	tests := []struct {
		name  string
		unit  cgm.Unit
		value float64
		want  Ranges
	}{
		{"53 mg/dL very low", cgm.MgDL, 53, Ranges{VeryLow: 100}},
		{"54 mg/dL low", cgm.MgDL, 54, Ranges{Low: 100}},
		{"69 mg/dL low", cgm.MgDL, 69, Ranges{Low: 100}},
		{"70 mg/dL target and tight", cgm.MgDL, 70, Ranges{Target: 100, Tight: 100}},
		{"140 mg/dL target and tight", cgm.MgDL, 140, Ranges{Target: 100, Tight: 100}},
		{"141 mg/dL target, not tight", cgm.MgDL, 141, Ranges{Target: 100}},
		{"180 mg/dL target", cgm.MgDL, 180, Ranges{Target: 100}},
		{"181 mg/dL high", cgm.MgDL, 181, Ranges{High: 100}},
		{"250 mg/dL high", cgm.MgDL, 250, Ranges{High: 100}},
		{"251 mg/dL very high", cgm.MgDL, 251, Ranges{VeryHigh: 100}},
		{"2.9 mmol/L very low", cgm.MmolL, 2.9, Ranges{VeryLow: 100}},
		{"3.0 mmol/L low", cgm.MmolL, 3.0, Ranges{Low: 100}},
		{"3.8 mmol/L low", cgm.MmolL, 3.8, Ranges{Low: 100}},
		{"3.9 mmol/L target", cgm.MmolL, 3.9, Ranges{Target: 100, Tight: 100}},
		{"7.8 mmol/L tight", cgm.MmolL, 7.8, Ranges{Target: 100, Tight: 100}},
		{"10.0 mmol/L target (180.16 mg/dL would be high)", cgm.MmolL, 10.0, Ranges{Target: 100}},
		{"10.1 mmol/L high", cgm.MmolL, 10.1, Ranges{High: 100}},
		{"13.9 mmol/L high", cgm.MmolL, 13.9, Ranges{High: 100}},
		{"14.0 mmol/L very high", cgm.MmolL, 14.0, Ranges{VeryHigh: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compute(t, series(t0, 5*time.Minute, tt.unit, tt.value, tt.value), Options{})
			if diff := cmp.Diff(&tt.want, r.TimeInRanges); diff != "" {
				t.Errorf("TimeInRanges(%v %s) mismatch (-want +got):\n%s", tt.value, tt.unit, diff)
			}
			if r.Unit != tt.unit.String() {
				t.Errorf("Unit = %q, want %q", r.Unit, tt.unit)
			}
		})
	}
}

func TestRangesSumTo100(t *testing.T) {
	vals := []float64{40, 53, 54, 69, 70, 100, 140, 180, 181, 250, 251, 400}
	r := compute(t, series(t0, 5*time.Minute, cgm.MgDL, vals...), Options{})
	tir := r.TimeInRanges
	want := Ranges{
		VeryLow: 2.0 / 12 * 100, Low: 2.0 / 12 * 100, Target: 4.0 / 12 * 100,
		High: 2.0 / 12 * 100, VeryHigh: 2.0 / 12 * 100, Tight: 3.0 / 12 * 100,
	}
	if diff := cmp.Diff(&want, tir, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("TimeInRanges mismatch (-want +got):\n%s", diff)
	}
	if sum := tir.VeryLow + tir.Low + tir.Target + tir.High + tir.VeryHigh; !approx(sum, 100) {
		t.Errorf("bands sum to %v, want 100", sum)
	}
}

func TestStatistics(t *testing.T) {
	// 100, 120, 140, 160: mean 130, sample SD sqrt(((30²+10²)·2)/3)
	r := compute(t, series(t0, 5*time.Minute, cgm.MgDL, 100, 120, 140, 160), Options{})
	sd := math.Sqrt(2000.0 / 3)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"mean mg/dL", r.MeanGlucose.MgDL, 130},
		{"mean mmol/L", r.MeanGlucose.MmolL, 130 / 18.01559},
		{"SD", *r.SDMgDL, sd},
		{"CV", *r.CVPercent, sd / 130 * 100},
		{"GMI %", r.GMI.Percent, 3.31 + 0.02392*130},
		{"GMI mmol/mol", r.GMI.MmolMol, 12.71 + 4.70587*(130/18.01559)},
	}
	for _, c := range checks {
		if !approx(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestGMIWorkedExample(t *testing.T) {
	// GMI % = 3.31 + 0.02392 · mean (Bergenstal et al., Diabetes Care
	// 2018;41:2275–2280): mean 154 mg/dL → GMI 6.99368 %.
	r := compute(t, series(t0, 15*time.Minute, cgm.MgDL, 150, 158), Options{})
	if !approx(r.GMI.Percent, 6.99368) {
		t.Errorf("GMI(154) = %v, want 6.99368", r.GMI.Percent)
	}
}

func TestMmolStatistics(t *testing.T) {
	r := compute(t, series(t0, 15*time.Minute, cgm.MmolL, 5.0, 7.0), Options{})
	if !approx(r.MeanGlucose.MmolL, 6) || !approx(r.MeanGlucose.MgDL, 6*18.01559) {
		t.Errorf("mean = %+v, want 6 mmol/L", r.MeanGlucose)
	}
	if !approx(r.GMI.MmolMol, 12.71+4.70587*6) {
		t.Errorf("GMI mmol/mol = %v", r.GMI.MmolMol)
	}
	if !approx(*r.SDMgDL, math.Sqrt(2)*18.01559) {
		t.Errorf("SD mg/dL = %v, want %v", *r.SDMgDL, math.Sqrt(2)*18.01559)
	}
}

func TestEmptyAndSingle(t *testing.T) {
	empty := compute(t, nil, Options{Patient: "p"})
	if empty.Readings != 0 || empty.MeanGlucose != nil || empty.SDMgDL != nil || empty.GMI != nil ||
		empty.TimeInRanges != nil || empty.ActivePercent != 0 || empty.DaysWorn != 0 || empty.Sufficient {
		t.Errorf("empty report = %+v", empty)
	}
	if empty.Events.HypoLevel1.Total != 0 || empty.Events.HypoLevel1.MeanMgDL != nil {
		t.Errorf("empty events = %+v", empty.Events)
	}

	one := compute(t, series(t0, 5*time.Minute, cgm.MgDL, 123), Options{AGP: true, Daily: true})
	if one.Readings != 1 || one.MeanGlucose.MgDL != 123 || one.SDMgDL != nil || one.CVPercent != nil {
		t.Errorf("single reading: readings %d mean %+v sd %v", one.Readings, one.MeanGlucose, one.SDMgDL)
	}
	if one.ActivePercent != 100 || one.DaysWorn != 1 || one.IntervalMinutes != 0 || one.AGP != nil {
		t.Errorf("single reading: active %v days %d interval %v agp %v", one.ActivePercent, one.DaysWorn, one.IntervalMinutes, one.AGP)
	}
	if len(one.Daily) != 1 || one.Daily[0].Readings != 1 {
		t.Errorf("single reading daily = %+v", one.Daily)
	}
}

func TestScansAreCountedNotMeasured(t *testing.T) {
	s := series(t0, 15*time.Minute, cgm.MgDL, 100, 100)
	s = cgm.NewSeries(append(s, cgm.Reading{Time: t0.Add(5 * time.Minute), Value: 300, Unit: cgm.MgDL, Kind: cgm.Scan},
		cgm.Reading{Time: t0.Add(6 * time.Minute), Value: 40, Unit: cgm.MgDL, Kind: cgm.Current}))
	r := compute(t, s, Options{})
	if r.Readings != 2 || r.Scans != 1 || r.MeanGlucose.MgDL != 100 {
		t.Errorf("readings %d scans %d mean %v, want 2, 1, 100", r.Readings, r.Scans, r.MeanGlucose.MgDL)
	}
}

func TestIntervalDerivation(t *testing.T) {
	tests := []struct {
		step time.Duration
		want float64
	}{
		{time.Minute, 1},
		{5 * time.Minute, 5},
		{15 * time.Minute, 15},
		{7 * time.Minute, 5},   // 1440 % 7 ≠ 0 → nearest multiple of 5
		{13 * time.Minute, 15}, // remainder 3 → up
		{25 * time.Minute, 20}, // above 20 → 20
		{150 * time.Second, 2}, // median 2.5 → round half even → 2
	}
	for _, tt := range tests {
		r := compute(t, series(t0, tt.step, cgm.MgDL, repeat(100, 10)...), Options{})
		if r.IntervalMinutes != tt.want {
			t.Errorf("interval for step %v = %v, want %v", tt.step, r.IntervalMinutes, tt.want)
		}
	}
}

// TestGaps checks the 45-minute interpolation limit with gaps of 44, 45 and
// 46 minutes: grid points strictly inside a gap longer than 45 minutes are
// missing, a gap of exactly 45 minutes is interpolated.
func TestGaps(t *testing.T) {
	for _, tt := range []struct {
		gap      time.Duration
		wantGrid int // non-missing grid points
	}{
		{44 * time.Minute, 0},
		{45 * time.Minute, 0},
		{46 * time.Minute, 0},
	} {
		// Readings every 5 minutes at :00, :05, … with one gap; grid points
		// fall on multiples of 5 minutes after midnight.
		start := time.Date(2026, 5, 4, 8, 0, 0, 0, utc)
		var rs []cgm.Reading
		for i := 0; i < 12; i++ {
			rs = append(rs, cgm.Reading{Time: start.Add(time.Duration(i) * 5 * time.Minute), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		after := start.Add(55*time.Minute + tt.gap)
		for i := 0; i < 12; i++ {
			rs = append(rs, cgm.Reading{Time: after.Add(time.Duration(i) * 5 * time.Minute), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		c := newCalc(cgm.NewSeries(rs), Options{Location: utc}, new(work))
		g := c.buildGrid()
		span := after.Add(55 * time.Minute).Sub(start)
		allPoints := int(span/(5*time.Minute)) + 1 // every grid point from first to last reading
		inside := int(math.Ceil(tt.gap.Minutes()/5)) - 1
		want := allPoints
		if tt.gap > 45*time.Minute {
			want -= inside
		}
		if g.valid != want {
			t.Errorf("gap %v: %d grid points, want %d", tt.gap, g.valid, want)
		}
		segs := 0
		g.segments(func(a, b int) { segs++ })
		if wantSegs := map[bool]int{true: 2, false: 1}[tt.gap > 45*time.Minute]; segs != wantSegs {
			t.Errorf("gap %v: %d segments, want %d", tt.gap, segs, wantSegs)
		}
	}
}

func TestInterpolation(t *testing.T) {
	// Readings at 08:02 (100) and 08:12 (200): the grid point 08:05 holds
	// 100 + 100·3/10 = 130 and 08:10 holds 180.
	rs := []cgm.Reading{
		{Time: time.Date(2026, 5, 4, 8, 2, 0, 0, utc), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: time.Date(2026, 5, 4, 8, 12, 0, 0, utc), Value: 200, Unit: cgm.MgDL, Kind: cgm.Historic},
	}
	c := newCalc(cgm.NewSeries(rs), Options{Location: utc}, new(work))
	c.dt0 = 5
	g := c.buildGrid()
	if len(g.vals) != 2 || g.vals[0] != 130 || g.vals[1] != 180 {
		t.Fatalf("grid = %v, want [130 180]", g.vals)
	}
	if got := g.instant(0); !got.Equal(time.Date(2026, 5, 4, 8, 5, 0, 0, utc)) {
		t.Errorf("first grid point at %v, want 08:05", got)
	}
}
