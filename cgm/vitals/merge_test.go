package vitals

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func steps(src string, c Class, from, to, v float64) Measurement {
	return Measurement{Kind: Steps, Start: at(from), End: at(to), Value: v, Source: src, Class: c}
}

func total(ps []Piece) float64 {
	s := 0.0
	for _, p := range ps {
		s += p.Value
	}
	return s
}

func TestMergeWatchBeforePhone(t *testing.T) {
	// The watch counts 08:00-09:00, the phone 08:30-10:00 (carried on a
	// walk the watch also saw until 09:00).
	ms := []Measurement{
		steps("iPhone di Mario", ClassPhone, 8*60+30, 10*60, 3000),
		steps("Apple Watch di Mario", ClassWatch, 8*60, 9*60, 2400),
	}
	got := total(Merge(ms, Ranking{}))
	// Watch whole (2400); phone only 09:00-10:00, two thirds of 3000.
	if want := 2400 + 2000.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("default ranking: %v steps, want %v", got, want)
	}
	// The patient puts the phone first: the phone whole, the watch only
	// 08:00-08:30.
	got = total(Merge(ms, Ranking{Order: []string{"iPhone di Mario"}}))
	if want := 3000 + 1200.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("phone first: %v steps, want %v", got, want)
	}
}

// bruteForce counts the merged total on a one-minute grid (the samples
// start and end on whole minutes), independently
// of Merge's sweep: each second goes to the best-ranked source covering it,
// and each of that source's samples covering it adds value/duration.
func bruteForce(ms []Measurement, r Ranking, from, to time.Time) float64 {
	rank := r.ranks(ms)
	sum := 0.0
	for s := from; s.Before(to); s = s.Add(time.Minute) {
		best := -1
		for i, m := range ms {
			if !s.Before(m.Start) && s.Before(m.End) && (best < 0 || rank[i] < best) {
				best = rank[i]
			}
		}
		for i, m := range ms {
			if rank[i] == best && !s.Before(m.Start) && s.Before(m.End) {
				sum += m.Value / m.End.Sub(m.Start).Minutes()
			}
		}
	}
	return sum
}

// TestMergeBound checks, on random overlapping samples of three sources,
// the rule of the issue: the day's merged steps never exceed the largest
// single-source total by more than the non-overlapping remainder — what
// the other sources counted in time the top-ranked source did not cover —
// and that the merged total is exactly what a minute-by-minute count gives.
func TestMergeBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 18))
	srcs := []Source{{"Apple Watch", ClassWatch}, {"iPhone", ClassPhone}, {"Pedometro", ClassOther}}
	for trial := range 200 {
		var ms []Measurement
		for _, s := range srcs {
			if rng.IntN(4) == 0 {
				continue
			}
			cur := float64(rng.IntN(120))
			for cur < 600 {
				d := 1 + float64(rng.IntN(60))
				ms = append(ms, steps(s.Name, s.Class, cur, cur+d, float64(rng.IntN(2000))))
				cur += d + float64(rng.IntN(90))
			}
		}
		if len(ms) == 0 {
			continue
		}
		r := Ranking{}
		if trial%3 == 0 {
			r.Order = []string{"Pedometro", "Apple Watch"}
		}
		merged := total(Merge(ms, r))

		// Per-source totals; the top-ranked source present and its coverage.
		per := map[string]float64{}
		largest := 0.0
		rank := r.ranks(ms)
		top := -1
		for i, m := range ms {
			per[m.Source] += m.Value
			largest = max(largest, per[m.Source])
			if top < 0 || rank[i] < rank[top] {
				top = i
			}
		}
		covered := func(tm time.Time) bool {
			for i, m := range ms {
				if rank[i] == rank[top] && !tm.Before(m.Start) && tm.Before(m.End) {
					return true
				}
			}
			return false
		}
		remainder := 0.0
		for i, m := range ms {
			if rank[i] == rank[top] {
				continue
			}
			for s := m.Start; s.Before(m.End); s = s.Add(time.Minute) {
				if !covered(s) {
					remainder += m.Value / m.End.Sub(m.Start).Minutes()
				}
			}
		}
		if merged > largest+remainder+1e-6 {
			t.Fatalf("trial %d: merged %v > largest single source %v + remainder %v", trial, merged, largest, remainder)
		}
		if merged > per[ms[top].Source]+remainder+1e-6 {
			t.Fatalf("trial %d: merged %v > top source %v + remainder %v", trial, merged, per[ms[top].Source], remainder)
		}
		if bf := bruteForce(ms, r, at(0), at(800)); math.Abs(bf-merged) > 1e-6*max(1, bf) {
			t.Fatalf("trial %d: merged %v, minute by minute %v", trial, merged, bf)
		}
	}
}

func TestMergeSameSourceOverlapCounts(t *testing.T) {
	// A source's own overlapping samples are both counted.
	ms := []Measurement{steps("a", ClassOther, 0, 10, 100), steps("a", ClassOther, 5, 15, 100)}
	if got := total(Merge(ms, Ranking{})); math.Abs(got-200) > 1e-9 {
		t.Errorf("got %v, want 200", got)
	}
}

func TestMergeInstant(t *testing.T) {
	ms := []Measurement{
		steps("watch", ClassWatch, 0, 60, 600),
		steps("phone", ClassPhone, 30, 30, 50),  // inside the watch's hour: dropped
		steps("phone", ClassPhone, 90, 90, 70),  // uncovered: counted
		steps("watch", ClassWatch, 120, 120, 9), // a better source's instant counts
	}
	if got := total(Merge(ms, Ranking{})); math.Abs(got-679) > 1e-9 {
		t.Errorf("got %v, want 679", got)
	}
}

func TestMergeSleepLayers(t *testing.T) {
	sl := func(src string, c Class, k Kind, from, to float64) Measurement {
		return Measurement{Kind: k, Start: at(from), End: at(to), Source: src, Class: c}.Normalize()
	}
	ms := []Measurement{
		// The watch: stages 23:00-07:00 of the next day.
		sl("Watch", ClassWatch, SleepLight, 0, 120),
		sl("Watch", ClassWatch, SleepDeep, 120, 200),
		sl("Watch", ClassWatch, SleepAwake, 200, 210),
		sl("Watch", ClassWatch, SleepREM, 210, 480),
		// An app logging the same night as "asleep" from 22:30 to 07:30.
		sl("SleepApp", ClassOther, SleepAsleep, -30, 510),
		// The phone: in bed 22:00-07:45.
		sl("iPhone", ClassPhone, SleepInBed, -60, 525),
	}
	got := MergeSleep(ms, Ranking{})
	var asleep, inBed, unspecified float64
	for _, s := range got {
		m := s.End.Sub(s.Start).Minutes()
		switch {
		case s.Kind == SleepInBed:
			inBed += m
		case s.Kind == SleepAsleep:
			unspecified += m
		case s.Kind.Asleep():
			asleep += m
		}
	}
	// The watch wins 0-480 (470 asleep, 10 awake); the app fills 30
	// minutes before and 30 after with "asleep".
	if asleep != 470 || unspecified != 60 || inBed != 585 {
		t.Errorf("asleep %v, unspecified %v, in bed %v; want 470, 60, 585", asleep, unspecified, inBed)
	}
}

func TestHeartRatesPerMinute(t *testing.T) {
	hr := func(src string, c Class, min, v float64) Measurement {
		return Measurement{Kind: HeartRate, Start: at(min), End: at(min), Value: v, Source: src, Class: c}
	}
	ms := []Measurement{
		hr("strap", ClassOther, 0.1, 80),
		hr("watch", ClassWatch, 0.5, 70),
		hr("strap", ClassOther, 1.2, 90), // alone in its minute: counts
		hr("watch", ClassWatch, 2.0, 60),
		hr("watch", ClassWatch, 2.5, 62),
	}
	idx := HeartRates(ms, Ranking{})
	var got []float64
	for _, i := range idx {
		got = append(got, ms[i].Value)
	}
	want := []float64{70, 90, 60, 62}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
