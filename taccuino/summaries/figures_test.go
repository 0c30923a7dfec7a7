package summaries

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

// relTol is the agreement required between the figures merged from day rows
// and agp.Compute's for the same period.
const relTol = 1e-9

func close(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= relTol*math.Max(math.Abs(a), math.Abs(b))
}

// compareFigures returns the differences between merged figures and the
// engine's report, one line each.
func compareFigures(got Figures, r agp.Report) []string {
	var diffs []string
	num := func(name string, a, b float64) {
		if !close(a, b) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, engine %v", name, a, b))
		}
	}
	ptr := func(name string, a, b *float64) {
		switch {
		case (a == nil) != (b == nil):
			diffs = append(diffs, fmt.Sprintf("%s = %v, engine %v", name, a, b))
		case a != nil:
			num(name, *a, *b)
		}
	}
	if got.Readings != r.Readings || got.Scans != r.Scans || got.DaysWorn != r.DaysWorn || got.Sufficient != r.Sufficient {
		diffs = append(diffs, fmt.Sprintf("counts: readings %d/%d scans %d/%d days worn %d/%d sufficient %v/%v",
			got.Readings, r.Readings, got.Scans, r.Scans, got.DaysWorn, r.DaysWorn, got.Sufficient, r.Sufficient))
	}
	if r.Readings > 0 && got.Unit != r.Unit {
		diffs = append(diffs, fmt.Sprintf("unit %s, engine %s", got.Unit, r.Unit))
	}
	num("days", got.Days, r.Period.Days)
	num("active", got.ActivePercent, r.ActivePercent)
	if (got.MeanGlucose == nil) != (r.MeanGlucose == nil) {
		diffs = append(diffs, "mean presence differs")
	} else if r.MeanGlucose != nil {
		num("mean mg/dL", got.MeanGlucose.MgDL, r.MeanGlucose.MgDL)
		num("mean mmol/L", got.MeanGlucose.MmolL, r.MeanGlucose.MmolL)
		num("GMI %", got.GMI.Percent, r.GMI.Percent)
		num("GMI mmol/mol", got.GMI.MmolMol, r.GMI.MmolMol)
	}
	ptr("SD", got.SDMgDL, r.SDMgDL)
	ptr("CV", got.CVPercent, r.CVPercent)
	if (got.TimeInRanges == nil) != (r.TimeInRanges == nil) {
		diffs = append(diffs, "ranges presence differs")
	} else if a, b := got.TimeInRanges, r.TimeInRanges; a != nil {
		num("very low", a.VeryLow, b.VeryLow)
		num("low", a.Low, b.Low)
		num("target", a.Target, b.Target)
		num("high", a.High, b.High)
		num("very high", a.VeryHigh, b.VeryHigh)
		num("tight", a.Tight, b.Tight)
	}
	if (got.GRI == nil) != (r.GRI == nil) {
		diffs = append(diffs, "GRI presence differs")
	} else if a, b := got.GRI, r.GRI; a != nil {
		num("GRI", a.Value, b.Value)
		num("GRI hypo", a.Hypo, b.Hypo)
		num("GRI hyper", a.Hyper, b.Hyper)
		if a.Zone != b.Zone {
			diffs = append(diffs, fmt.Sprintf("GRI zone %s, engine %s", a.Zone, b.Zone))
		}
	}
	return diffs
}

// simSeries returns glucosim readings (historic, plus three scans a day) of
// seed and model from..to, transformed by fn (nil: unchanged).
func simSeries(seed uint64, m glucosim.Model, loc *time.Location, from, to time.Time, fn func(i int, r *cgm.Reading)) cgm.Series {
	sim := glucosim.New(seed, m, loc)
	var rs []cgm.Reading
	for i, p := range sim.Historic(from, to) {
		r := cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags}
		if fn != nil {
			fn(i, &r)
		}
		rs = append(rs, r)
	}
	for d := from; d.Before(to); d = d.Add(8 * time.Hour) {
		if p, ok := sim.Current(d.Add(37 * time.Minute)); ok {
			rs = append(rs, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Scan})
		}
	}
	return cgm.NewSeries(rs)
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// readIglu reads the iglu example data (5-minute Dexcom G4, fixed −05:00).
func readIglu(t testing.TB) map[string]cgm.Series {
	t.Helper()
	f, err := os.Open("../../testdata/iglu_example_5_subject.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]cgm.Reading{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ",")
		ts, err := time.Parse(time.RFC3339, parts[1])
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[parts[0]] = append(out[parts[0]], cgm.Reading{Time: ts.UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	series := map[string]cgm.Series{}
	for id, rs := range out {
		series[id] = cgm.NewSeries(rs)
	}
	return series
}

// TestMergeMatchesEngine checks the clinic figures, merged from day rows,
// against agp.Compute over the same period: equal within 1e-9 relative for
// every figure, on FreeStyle Libre 2 and 3 streams, mmol/L and mixed
// units, timestamps with a few seconds of jitter, sparse and empty
// periods, and both DST changes of Europe/Rome (23- and 25-hour days).
// Where the day rows cannot give the exact figures (a day with too many
// distinct intervals), merge must say so instead of guessing.
func TestMergeMatchesEngine(t *testing.T) {
	rome := mustZone(t, "Europe/Rome")
	spring := time.Date(2026, 3, 10, 0, 0, 0, 0, rome)  // 29 March: 23 hours
	autumn := time.Date(2026, 10, 10, 0, 0, 0, 0, rome) // 25 October: 25 hours
	type tc struct {
		name  string
		rs    cgm.Series
		loc   *time.Location
		first time.Time
		exact bool // the day rows must give the figures (no fallback)
	}
	var cases []tc
	for _, seed := range []uint64{1, 2, 3} {
		cases = append(cases,
			tc{fmt.Sprintf("libre2 seed %d spring", seed), simSeries(seed, glucosim.Libre2, rome, spring, spring.AddDate(0, 0, 40), nil), rome, spring, true},
			tc{fmt.Sprintf("libre3 seed %d autumn", seed), simSeries(seed, glucosim.Libre3, rome, autumn, autumn.AddDate(0, 0, 40), nil), rome, autumn, true})
	}
	toMmol := func(_ int, r *cgm.Reading) {
		r.Value, r.Unit = math.Round(r.Value/cgm.MgDLPerMmolL*100)/100, cgm.MmolL
	}
	cases = append(cases, tc{"mmol/L", simSeries(4, glucosim.Libre2, rome, spring, spring.AddDate(0, 0, 40), toMmol), rome, spring, true})
	mixed := func(i int, r *cgm.Reading) {
		if (r.Time.Unix()/86400)%3 == 0 {
			toMmol(i, r)
		}
	}
	cases = append(cases, tc{"mixed units", simSeries(5, glucosim.Libre2, rome, spring, spring.AddDate(0, 0, 40), mixed), rome, spring, true})
	rng := rand.New(rand.NewPCG(9, 9))
	jitter := func(_ int, r *cgm.Reading) {
		r.Time = r.Time.Add(time.Duration(rng.IntN(5)-2) * time.Second).Add(time.Duration(rng.IntN(3)) * 250 * time.Millisecond)
	}
	cases = append(cases, tc{"jittered", simSeries(6, glucosim.Libre3, rome, autumn, autumn.AddDate(0, 0, 40), jitter), rome, autumn, true})
	wide := func(_ int, r *cgm.Reading) {
		r.Time = r.Time.Add(time.Duration(rng.IntN(600)) * time.Second)
	}
	cases = append(cases, tc{"irregular", simSeries(7, glucosim.Libre3, rome, autumn, autumn.AddDate(0, 0, 40), wide), rome, autumn, false})
	sparse := func() cgm.Series {
		all := simSeries(8, glucosim.Libre2, rome, spring, spring.AddDate(0, 0, 40), nil)
		var out []cgm.Reading
		for i, r := range all {
			if i%97 == 0 || (r.Time.After(spring.AddDate(0, 0, 20)) && r.Time.Before(spring.AddDate(0, 0, 20).Add(50*time.Minute))) {
				out = append(out, r)
			}
		}
		return out
	}()
	cases = append(cases, tc{"sparse", sparse, rome, spring, true})
	est := time.FixedZone("-05:00", -5*3600)
	for id, rs := range readIglu(t) {
		first := localMidnight(rs[0].Time, est)
		cases = append(cases, tc{"iglu " + id, rs, est, first, false})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			days := buildDays(c.rs, c.loc)
			exact := 0
			for _, span := range []struct{ off, n int }{{0, 14}, {3, 14}, {10, 14}, {14, 14}, {20, 14}, {26, 14}, {0, 28}, {19, 1}, {20, 1}, {45, 14}} {
				first := c.first.AddDate(0, 0, span.off)
				p := agp.LocalDays(first, first.AddDate(0, 0, span.n-1), c.loc)
				got, ok := mergeDays(days, p, c.loc)
				if !ok {
					if c.exact {
						t.Errorf("days %d+%d: merge declined for data it should handle", span.off, span.n)
					}
					continue
				}
				exact++
				r, err := agp.Compute(c.rs, agp.Options{Location: c.loc, Period: &p})
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range compareFigures(got, r) {
					t.Errorf("days %d+%d: %s", span.off, span.n, d)
				}
			}
			t.Logf("%d periods compared exactly", exact)
			if c.exact && exact == 0 {
				t.Error("no period compared")
			}
		})
	}
}

// TestGridStep checks the replica of the engine's grid step against the
// engine on series of every regular interval from 1 to 50 minutes.
func TestGridStep(t *testing.T) {
	utc := time.UTC
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, utc)
	for step := 1; step <= 50; step++ {
		var rs []cgm.Reading
		for i := 0; i < 200; i++ {
			rs = append(rs, cgm.Reading{Time: start.Add(time.Duration(i*step) * time.Minute), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		r, err := agp.Compute(rs, agp.Options{Location: utc})
		if err != nil {
			t.Fatal(err)
		}
		if got := gridStep(map[float64]int{float64(step): 199}, 199); float64(got) != r.IntervalMinutes {
			t.Errorf("step %d: gridStep %d, engine %v", step, got, r.IntervalMinutes)
		}
	}
}
