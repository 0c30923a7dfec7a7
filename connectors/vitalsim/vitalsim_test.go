package vitalsim

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
	"fsecgm/connectors/glucosim"

	gocmp "github.com/google/go-cmp/cmp"
)

func person(t testing.TB, seed uint64) (*Patient, *time.Location) {
	t.Helper()
	loc, err := cgm.Zone("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return New(glucosim.New(seed, glucosim.Libre2, loc)), loc
}

// TestDeterministic: a window split in two gives the same measurements as
// the whole, and every measurement is valid.
func TestDeterministic(t *testing.T) {
	p, loc := person(t, 7)
	a := time.Date(2026, 3, 27, 0, 0, 0, 0, loc)
	b, c := a.Add(53*time.Hour+7*time.Minute), a.Add(4*24*time.Hour)
	sorted := func(ms []vitals.Measurement) []vitals.Measurement {
		slices.SortStableFunc(ms, func(x, y vitals.Measurement) int {
			if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
				return c
			}
			if c := x.Start.Compare(y.Start); c != 0 {
				return c
			}
			return strings.Compare(x.Source, y.Source)
		})
		return ms
	}
	whole := sorted(p.Measurements(a, c))
	split := sorted(append(p.Measurements(a, b), p.Measurements(b, c)...))
	if diff := gocmp.Diff(whole, split); diff != "" {
		t.Errorf("split windows differ (-whole +split):\n%s", diff)
	}
	for _, m := range whole {
		if err := m.Validate(time.Time{}); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
	}
}

// TestDays: two weeks across the change to summer time look like days of
// a person: the watch's steps are the day's (the phone's overlap adds
// nothing), 6 to 9 hours of sleep ending each morning, a resting rate and
// some blood pressures.
func TestDays(t *testing.T) {
	p, loc := person(t, 11)
	from, to := time.Date(2026, 3, 22, 0, 0, 0, 0, loc), time.Date(2026, 4, 5, 0, 0, 0, 0, loc)
	ms := p.Measurements(from, to)
	watch := map[string]float64{}
	for _, m := range ms {
		if m.Kind == vitals.Steps && m.Source == Watch {
			watch[m.Start.In(loc).Format(time.DateOnly)] += m.Value
		}
	}
	pressures := 0
	for _, d := range vitals.Daily(ms, vitals.Options{Location: loc, From: from, To: to.AddDate(0, 0, -1)}) {
		if d.Steps == nil || math.Abs(*d.Steps-watch[d.Date]) > 1e-6 || *d.Steps < 2000 || *d.Steps > 25000 {
			t.Errorf("%s: steps %v, the watch's %v", d.Date, d.Steps, watch[d.Date])
		}
		if d.SleepMinutes == nil || *d.SleepMinutes < 300 || *d.SleepMinutes > 560 || d.SleepStages.Deep == 0 || d.SleepStages.REM == 0 {
			t.Errorf("%s: sleep %v %+v", d.Date, d.SleepMinutes, d.SleepStages)
		}
		if d.HeartRate == nil || d.HeartRate.Resting == nil || *d.HeartRate.Min < 40 || *d.HeartRate.Max > 190 {
			t.Errorf("%s: heart rate %+v", d.Date, d.HeartRate)
		}
		pressures += len(d.BloodPressure)
	}
	if pressures < 3 {
		t.Errorf("%d blood pressures in two weeks", pressures)
	}
}

// TestPulseFollowsGlucose: asleep, the pulse is higher when the glucose is
// low (a night-time hypo) than when it is in range; awake, it is higher in
// the exercise session, which also lowers the glucose.
func TestPulseFollowsGlucose(t *testing.T) {
	loc, _ := cgm.Zone("Europe/Rome")
	var lowHR, inHR []float64
	var walkHR, sitHR []float64
	for seed := uint64(1); seed <= 6; seed++ {
		g := glucosim.New(seed, glucosim.Libre2, loc)
		p := New(g)
		from := time.Date(2026, 5, 1, 0, 0, 0, 0, loc)
		for tm := from; tm.Before(from.AddDate(0, 0, 20)); tm = tm.Add(5 * time.Minute) {
			hr, gl := p.heartRate(tm), g.Glucose(tm)
			switch {
			case p.asleep(tm) && gl < 65:
				lowHR = append(lowHR, hr)
			case p.asleep(tm) && gl > 90 && gl < 150:
				inHR = append(inHR, hr)
			case !p.asleep(tm) && p.stepsRate(tm) > 90:
				walkHR = append(walkHR, hr)
			case !p.asleep(tm) && p.stepsRate(tm) < 20:
				sitHR = append(sitHR, hr)
			}
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	if len(lowHR) == 0 || len(walkHR) == 0 {
		t.Fatalf("no night hypo (%d) or walk (%d) in the sample", len(lowHR), len(walkHR))
	}
	if mean(lowHR) < mean(inHR)+3 {
		t.Errorf("asleep: %.1f /min in hypoglycaemia, %.1f in range", mean(lowHR), mean(inHR))
	}
	if mean(walkHR) < mean(sitHR)+20 {
		t.Errorf("awake: %.1f /min walking, %.1f sitting", mean(walkHR), mean(sitHR))
	}
}
