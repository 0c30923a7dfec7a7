package glucosim

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	return loc
}

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func TestDeterministicAndOverlapping(t *testing.T) {
	for _, m := range []Model{Libre2, Libre3} {
		a, b := New(7, m, rome(t)), New(7, m, rome(t))
		w1 := a.Historic(t0, t0.Add(10*time.Hour))
		w2 := b.Historic(t0.Add(5*time.Hour), t0.Add(15*time.Hour))
		if len(w1) == 0 || len(w2) == 0 {
			t.Fatalf("%v: empty windows %d %d", m, len(w1), len(w2))
		}
		var o1, o2 []Point
		for _, p := range w1 {
			if !p.Time.Before(t0.Add(5 * time.Hour)) {
				o1 = append(o1, p)
			}
		}
		for _, p := range w2 {
			if p.Time.Before(t0.Add(10 * time.Hour)) {
				o2 = append(o2, p)
			}
		}
		if diff := cmp.Diff(o1, o2); diff != "" {
			t.Errorf("%v: overlap of two windows differs (-first +second):\n%s", m, diff)
		}
		if diff := cmp.Diff(a.Historic(t0, t0.Add(24*time.Hour)), b.Historic(t0, t0.Add(24*time.Hour))); diff != "" {
			t.Errorf("%v: same seed, different points:\n%s", m, diff)
		}
		at := t0.Add(7*time.Hour + 33*time.Minute + 12*time.Second)
		c1, ok1 := a.Current(at)
		c2, ok2 := b.Current(at)
		if c1 != c2 || ok1 != ok2 {
			t.Errorf("%v: Current(%v) = %v,%v then %v,%v", m, at, c1, ok1, c2, ok2)
		}
	}
	if diff := cmp.Diff(New(1, Libre3, nil).Historic(t0, t0.Add(6*time.Hour)), New(2, Libre3, nil).Historic(t0, t0.Add(6*time.Hour))); diff == "" {
		t.Error("seeds 1 and 2 give the same points")
	}
}

func TestSpacingAndSensors(t *testing.T) {
	for _, m := range []Model{Libre2, Libre3} {
		p := New(11, m, rome(t))
		from, to := t0, t0.Add(60*24*time.Hour)
		pts := p.Historic(from, to)
		step := m.HistoryInterval()
		sensors := map[string]Sensor{}
		for i, pt := range pts {
			if pt.MgDL < 40 || pt.MgDL > 500 {
				t.Fatalf("%v: point %v value %d outside 40..500", m, pt.Time, pt.MgDL)
			}
			if pt.Flags&cgm.FlagLow != 0 && pt.MgDL != 40 || pt.Flags&cgm.FlagHigh != 0 && pt.MgDL != 500 {
				t.Fatalf("%v: flagged point %+v not at the limit", m, pt)
			}
			if pt.Time.Location() != time.UTC {
				t.Fatalf("%v: point time %v not UTC", m, pt.Time)
			}
			s, ok := p.SensorAt(pt.Time)
			if !ok {
				t.Fatalf("%v: point at %v without a sensor", m, pt.Time)
			}
			if pt.Time.Before(s.DataFrom()) {
				t.Fatalf("%v: point at %v inside the warm-up of sensor %s activated %v", m, pt.Time, s.Serial, s.Activated)
			}
			if off := pt.Time.Sub(s.DataFrom()); off%step != 0 {
				t.Fatalf("%v: point at %v is %v after the warm-up, not a multiple of %v", m, pt.Time, off, step)
			}
			sensors[s.Serial] = s
			if i > 0 {
				prev, _ := p.SensorAt(pts[i-1].Time)
				if d := pt.Time.Sub(pts[i-1].Time); prev.Index == s.Index && (d < step || d%step != 0) {
					t.Fatalf("%v: points %v and %v of one sensor are %v apart", m, pts[i-1].Time, pt.Time, d)
				}
			}
		}
		if len(sensors) < 4 || len(sensors) > 6 {
			t.Errorf("%v: %d sensors in 60 days, want 4 to 6 (14-day life)", m, len(sensors))
		}
		for _, s := range sensors {
			checkSerial(t, m, s.Serial)
			if life := s.Ends.Sub(s.Activated); life > SensorLife || life < SensorLife-maxChangeDelay {
				t.Errorf("%v: sensor %s lasted %v", m, s.Serial, life)
			}
			if s.Activated.Nanosecond() != 0 {
				t.Errorf("%v: activation %v not on a second", m, s.Activated)
			}
			// No data during the warm-up, some within two hours after it
			// (unless a signal loss hides it).
			if w := p.Historic(s.Activated, s.DataFrom()); len(w) != 0 {
				t.Errorf("%v: sensor %s has %d points in its warm-up", m, s.Serial, len(w))
			}
			if _, ok := p.Current(s.Activated.Add(30 * time.Minute)); ok {
				t.Errorf("%v: sensor %s has a current value in its warm-up", m, s.Serial)
			}
		}
		// The sensors follow each other: the next starts when the previous
		// ends, or up to two hours later.
		k := int64(0)
		s0, _ := p.SensorAt(from.Add(48 * time.Hour))
		for k = s0.Index; k < s0.Index+3; k++ {
			a, b := p.sensor(k), p.sensor(k+1)
			if gap := b.Activated.Sub(a.Ends); gap < 0 || gap > maxChangeDelay {
				t.Errorf("%v: sensor %d ends %v, sensor %d starts %v", m, k, a.Ends, k+1, b.Activated)
			}
			if a.Serial == b.Serial {
				t.Errorf("%v: sensors %d and %d share serial %s", m, k, k+1, a.Serial)
			}
			if _, ok := p.SensorAt(a.Ends.Add(-time.Second)); !ok {
				t.Errorf("%v: no sensor just before the end of sensor %d", m, k)
			}
		}
	}
}

func checkSerial(t *testing.T, m Model, sn string) {
	t.Helper()
	if len(sn) != 10 {
		t.Errorf("%v: serial %q is not 10 characters", m, sn)
	}
	switch m {
	case Libre2:
		if !strings.HasPrefix(sn, "MH") {
			t.Errorf("Libre 2 serial %q does not start with MH", sn)
		}
	case Libre3:
		if !(strings.HasPrefix(sn, "0D") || strings.HasPrefix(sn, "0E")) || !strings.HasSuffix(sn, "0") {
			t.Errorf("Libre 3 serial %q is not 0D…0 or 0E…0", sn)
		}
	}
	for _, r := range sn[2:] {
		if !strings.ContainsRune(serialAlphabet, r) {
			t.Errorf("serial %q has %q outside the Libre alphabet", sn, r)
		}
	}
}

func TestCurrentMatchesHistoric(t *testing.T) {
	for _, m := range []Model{Libre2, Libre3} {
		p := New(5, m, rome(t))
		for _, pt := range p.Historic(t0, t0.Add(48*time.Hour)) {
			c, ok := p.Current(pt.Time.Add(40 * time.Second))
			if !ok {
				t.Fatalf("%v: no current value 40 s after historic point %v", m, pt.Time)
			}
			if !c.Time.Equal(pt.Time) || c.MgDL != pt.MgDL || c.Flags != pt.Flags {
				t.Fatalf("%v: Current(%v) = %+v, historic point %+v", m, pt.Time, c, pt)
			}
			if c.Trend == 0 && c.Flags == 0 {
				t.Fatalf("%v: current value %+v without trend", m, c)
			}
		}
	}
}

func TestCurrentCadenceAndTrend(t *testing.T) {
	p := New(21, Libre3, rome(t))
	var prev Point
	var sum [6]float64
	var n [6]int
	for at := t0; at.Before(t0.Add(7 * 24 * time.Hour)); at = at.Add(time.Minute) {
		c, ok := p.Current(at)
		if !ok {
			prev = Point{}
			continue
		}
		if c.Time.After(at) || at.Sub(c.Time) >= time.Minute {
			t.Fatalf("Current(%v).Time = %v, want the last minute tick", at, c.Time)
		}
		if !prev.Time.IsZero() && c.Time.Sub(prev.Time) != time.Minute {
			t.Fatalf("current values at %v then %v, want 1-minute cadence", prev.Time, c.Time)
		}
		prev = c
		if back, ok := p.Current(at.Add(-15 * time.Minute)); ok && c.Flags == 0 {
			sum[c.Trend] += float64(c.MgDL - back.MgDL)
			n[c.Trend]++
		}
	}
	// The arrows order the change over the past 15 minutes.
	mean := func(tr cgm.Trend) float64 { return sum[tr] / float64(max(n[tr], 1)) }
	for _, tr := range []cgm.Trend{cgm.TrendFallingFast, cgm.TrendFalling, cgm.TrendStable, cgm.TrendRising, cgm.TrendRisingFast} {
		if n[tr] == 0 {
			t.Errorf("no current value with arrow %d in a week", tr)
		}
	}
	for tr := cgm.TrendFallingFast; tr < cgm.TrendRisingFast; tr++ {
		if mean(tr) >= mean(tr+1) {
			t.Errorf("mean 15-min change with arrow %d is %.1f, with arrow %d %.1f: arrows out of order", tr, mean(tr), tr+1, mean(tr+1))
		}
	}
}

func TestPlausibleGlucose(t *testing.T) {
	loc := rome(t)
	var lowNight, tbr, tar int
	for seed := uint64(1); seed <= 8; seed++ {
		p := New(seed, Model(2+seed%2), loc)
		pts := p.Historic(t0, t0.Add(28*24*time.Hour))
		var in, sum int
		var fasting, afterLunch, dawn, night3 []int
		for _, pt := range pts {
			v := pt.MgDL
			sum += v
			switch {
			case v < 70:
				tbr++
			case v > 180:
				tar++
			default:
				in++
			}
			lt := pt.Time.In(loc)
			h := lt.Hour()
			if v < 70 && h < 6 {
				lowNight++
			}
			switch {
			case h >= 3 && h < 5:
				fasting = append(fasting, v)
			case h >= 14 && h < 15:
				afterLunch = append(afterLunch, v)
			}
			if h == 3 {
				night3 = append(night3, v)
			}
			if h == 6 && lt.Minute() < 45 {
				dawn = append(dawn, v)
			}
		}
		tir := float64(in) / float64(len(pts))
		mean := float64(sum) / float64(len(pts))
		if tir < 0.4 || tir > 0.97 {
			t.Errorf("seed %d: time in range %.2f, want a plausible 0.40–0.97", seed, tir)
		}
		if mean < 100 || mean > 220 {
			t.Errorf("seed %d: mean %.0f mg/dL, want 100–220", seed, mean)
		}
		if avg(afterLunch) < avg(fasting)+15 {
			t.Errorf("seed %d: after lunch %.0f, fasting %.0f: no post-prandial rise", seed, avg(afterLunch), avg(fasting))
		}
		if avg(dawn) <= avg(night3) {
			t.Errorf("seed %d: 06:00–06:45 mean %.0f not above 03:00 mean %.0f: no dawn phenomenon", seed, avg(dawn), avg(night3))
		}
	}
	if lowNight == 0 || tbr == 0 || tar == 0 {
		t.Errorf("8 patients × 28 days: %d night lows, %d lows, %d highs; want some of each", lowNight, tbr, tar)
	}
}

func avg(v []int) float64 {
	s := 0
	for _, x := range v {
		s += x
	}
	return float64(s) / float64(max(len(v), 1))
}

func TestSignalLossGaps(t *testing.T) {
	p := New(3, Libre3, rome(t))
	pts := p.Historic(t0, t0.Add(30*24*time.Hour))
	gaps := 0
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		sa, _ := p.SensorAt(a.Time)
		sb, _ := p.SensorAt(b.Time)
		if sa.Index != sb.Index || b.Time.Sub(a.Time) <= 5*time.Minute {
			continue
		}
		gaps++
		mid := a.Time.Add(b.Time.Sub(a.Time) / 2)
		if c, ok := p.Current(mid); ok {
			t.Errorf("current value %+v inside the signal loss %v–%v", c, a.Time, b.Time)
		}
	}
	if gaps == 0 {
		t.Error("no signal-loss gap within a sensor in 30 days")
	}
}

func TestDSTContinuity(t *testing.T) {
	loc := rome(t)
	for _, day := range []time.Time{
		time.Date(2024, 3, 31, 0, 0, 0, 0, loc),  // 02:00 → 03:00
		time.Date(2024, 10, 27, 0, 0, 0, 0, loc), // 03:00 → 02:00
	} {
		p := New(9, Libre3, loc)
		pts := p.Historic(day.Add(-2*time.Hour), day.Add(30*time.Hour))
		for i := 1; i < len(pts); i++ {
			sa, _ := p.SensorAt(pts[i-1].Time)
			sb, _ := p.SensorAt(pts[i].Time)
			d := pts[i].Time.Sub(pts[i-1].Time)
			if sa.Index == sb.Index && d%(5*time.Minute) != 0 {
				t.Errorf("%s: points %v and %v are %v apart across the DST change", day.Format("2006-01-02"), pts[i-1].Time, pts[i].Time, d)
			}
			if j := pts[i].MgDL - pts[i-1].MgDL; d == 5*time.Minute && (j > 60 || j < -60) {
				t.Errorf("%s: jump of %d mg/dL in 5 minutes at %v", day.Format("2006-01-02"), j, pts[i].Time)
			}
		}
	}
}

func BenchmarkHistoric12h(b *testing.B) {
	p := New(1, Libre3, rome(b))
	end := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	pts := p.Historic(end.Add(-12*time.Hour), end)
	// Baseline: formatting the timestamps of the same points, work the fake
	// does anyway for every point it sends.
	var tbuf []byte
	base := nsPerOp(func() {
		tbuf = tbuf[:0]
		for _, pt := range pts {
			tbuf = pt.Time.AppendFormat(tbuf, "1/2/2006 3:04:05 PM")
		}
	})
	buf := make([]Point, 0, 160)
	for b.Loop() {
		buf = p.AppendHistoric(buf[:0], end.Add(-12*time.Hour), end)
	}
	b.ReportMetric(float64(len(pts)), "points")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-timestamp-formatting")
}

// nsPerOp measures a baseline in the same run: the mean time of fn over at
// least 20 ms.
func nsPerOp(fn func()) float64 {
	fn()
	n, start := 0, time.Now()
	for time.Since(start) < 20*time.Millisecond {
		fn()
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
