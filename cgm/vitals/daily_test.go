package vitals

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
)

func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := cgm.Zone("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestDailyDST: one step a minute from 27 March to 31 March and from 24
// to 27 October 2026 in Europe/Rome gives 1,380 steps on 29 March (23
// hours) and 1,500 on 25 October (25 hours), 1,440 on the other days, the
// phone's samples over the same hours adding nothing.
func TestDailyDST(t *testing.T) {
	loc := rome(t)
	var ms []Measurement
	for _, span := range [][2]time.Time{
		{time.Date(2026, 3, 27, 0, 0, 0, 0, loc), time.Date(2026, 4, 1, 0, 0, 0, 0, loc)},
		{time.Date(2026, 10, 24, 0, 0, 0, 0, loc), time.Date(2026, 10, 28, 0, 0, 0, 0, loc)},
	} {
		// The watch: 10-minute samples of 10 steps; the phone: 25-minute
		// samples of 30 steps over the same time.
		for t := span[0]; t.Before(span[1]); t = t.Add(10 * time.Minute) {
			ms = append(ms, Measurement{Kind: Steps, Start: t, End: t.Add(10 * time.Minute), Value: 10, Source: "Watch", Class: ClassWatch})
		}
		for t := span[0]; t.Before(span[1]); t = t.Add(25 * time.Minute) {
			ms = append(ms, Measurement{Kind: Steps, Start: t, End: t.Add(25 * time.Minute), Value: 30, Source: "iPhone", Class: ClassPhone})
		}
	}
	days := Daily(ms, Options{Location: loc})
	// 27-31 March and 24-27 October, and the phone's last sample of each
	// span reaching past midnight into 1 April and 28 October.
	if len(days) != 11 {
		t.Errorf("%d days with data, want 11", len(days))
	}
	days = Daily(ms, Options{Location: loc, From: time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)})
	if len(days) != 215 {
		t.Errorf("%d days from 27 March to 27 October, want 215", len(days))
	}
	want := map[string]float64{"2026-03-28": 1440, "2026-03-29": 1380, "2026-03-30": 1440,
		"2026-10-24": 1440, "2026-10-25": 1500, "2026-10-26": 1440}
	seen := 0
	for _, d := range days {
		w, ok := want[d.Date]
		if !ok {
			continue
		}
		seen++
		if d.Steps == nil || math.Abs(*d.Steps-w) > 1e-6 {
			t.Errorf("%s: steps %v, want %v", d.Date, d.Steps, w)
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of the %d days", seen, len(want))
	}
	// Days between the two spans are there, empty.
	for _, d := range days {
		if d.Date == "2026-07-01" && (d.Steps != nil || d.HeartRate != nil || d.BloodPressure == nil) {
			t.Errorf("empty day: %+v", d)
		}
	}
}

func TestDailySpreadsIntervalsOverMidnight(t *testing.T) {
	loc := rome(t)
	start := time.Date(2026, 5, 4, 23, 0, 0, 0, loc)
	ms := []Measurement{{Kind: Distance, Start: start, End: start.Add(2 * time.Hour), Value: 1000, Source: "w", Class: ClassWatch}}
	days := Daily(ms, Options{Location: loc})
	if len(days) != 2 || *days[0].DistanceM != 500 || *days[1].DistanceM != 500 {
		t.Fatalf("got %+v", days)
	}
}

// TestDailyInstantTotals: Garmin Connect writes the day's distance at
// 23:59:59 without duration; the watch (better ranked) counted the morning:
// the Connect total counts only for the part of the day the watch did not
// cover.
func TestDailyInstantTotals(t *testing.T) {
	loc := rome(t)
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, loc)
	ms := []Measurement{
		{Kind: Distance, Start: day.Add(6 * time.Hour), End: day.Add(12 * time.Hour), Value: 3000, Source: "Watch", Class: ClassWatch},
		{Kind: Distance, Start: day.Add(24*time.Hour - time.Second), End: day.Add(24*time.Hour - time.Second), Value: 8000, Source: "Connect"},
	}
	d := Daily(ms, Options{Location: loc})
	if len(d) != 1 {
		t.Fatalf("%d days", len(d))
	}
	// Connect's 8,000 m spread over 23:59:59 of the day; the watch wins
	// 6 of those hours.
	want := 3000 + 8000*(float64(24*time.Hour-time.Second-6*time.Hour)/float64(24*time.Hour-time.Second))
	if math.Abs(*d[0].DistanceM-want) > 1e-6 {
		t.Errorf("distance %v, want %v", *d[0].DistanceM, want)
	}
}

func TestDailySleepEndsTheDay(t *testing.T) {
	loc := rome(t)
	night := time.Date(2026, 3, 28, 23, 30, 0, 0, loc) // the night the clocks go forward
	sl := func(k Kind, from, to time.Duration) Measurement {
		return Measurement{Kind: k, Start: night.Add(from), End: night.Add(to), Source: "Watch", Class: ClassWatch}.Normalize()
	}
	ms := []Measurement{
		sl(SleepInBed, -10*time.Minute, 8*time.Hour),
		sl(SleepLight, 0, 3*time.Hour),
		sl(SleepDeep, 3*time.Hour, 4*time.Hour),
		sl(SleepAwake, 4*time.Hour, 4*time.Hour+15*time.Minute),
		// a wake the watch did not record, shorter than SessionGap
		sl(SleepREM, 5*time.Hour, 7*time.Hour+30*time.Minute),
		// an afternoon nap: another session, same day
		sl(SleepAsleep, 15*time.Hour, 15*time.Hour+40*time.Minute),
	}
	days := Daily(ms, Options{Location: loc})
	if len(days) != 1 || days[0].Date != "2026-03-29" {
		t.Fatalf("days %+v", days)
	}
	d := days[0]
	want := SleepStages{Awake: 15, Light: 180, Deep: 60, REM: 150, Unspecified: 40, InBed: 490}
	if *d.SleepStages != want {
		t.Errorf("stages %+v, want %+v", *d.SleepStages, want)
	}
	if *d.SleepMinutes != 430 {
		t.Errorf("sleep minutes %v, want 430", *d.SleepMinutes)
	}
}

func TestDailyHeartRateAndPressure(t *testing.T) {
	loc := rome(t)
	day := time.Date(2026, 5, 4, 8, 0, 0, 0, loc)
	var ms []Measurement
	for i, v := range []float64{60, 70, 80, 90} {
		at := day.Add(time.Duration(i) * time.Hour)
		ms = append(ms, Measurement{Kind: HeartRate, Start: at, End: at, Value: v, Source: "Watch", Class: ClassWatch})
	}
	ms = append(ms,
		Measurement{Kind: HeartRate, Start: day, End: day, Value: 200, Source: "Strap"}, // same minute as the watch: out
		Measurement{Kind: RestingHeartRate, Start: day, End: day, Value: 58, Source: "Watch", Class: ClassWatch},
		Measurement{Kind: RestingHeartRate, Start: day, End: day, Value: 50, Source: "App"},
		Measurement{Kind: BloodPressure, Start: day.Add(2 * time.Hour), End: day.Add(2 * time.Hour), Value: 135, Value2: 85, Source: "Omron"},
		Measurement{Kind: BloodPressure, Start: day, End: day, Value: 120, Value2: 80, Source: "Omron"},
		Measurement{Kind: BloodPressure, Start: day, End: day, Value: 120, Value2: 80, Source: "Health"}, // the same one again
	)
	d := Daily(ms, Options{Location: loc})[0]
	hr := d.HeartRate
	if *hr.Min != 60 || *hr.Max != 90 || *hr.Mean != 75 || *hr.Resting != 58 {
		t.Errorf("heart rate %v %v %v %v", *hr.Min, *hr.Mean, *hr.Max, *hr.Resting)
	}
	if len(d.BloodPressure) != 2 || d.BloodPressure[0].Time != "2026-05-04T08:00:00+02:00" || d.BloodPressure[1].Systolic != 135 {
		t.Errorf("pressures %+v", d.BloodPressure)
	}
}

// TestDayJSON: the keys the issue specifies, null where no data, numbers
// unrounded.
func TestDayJSON(t *testing.T) {
	loc := rome(t)
	at := time.Date(2026, 5, 4, 8, 0, 0, 0, loc)
	ms := []Measurement{{Kind: Steps, Start: at, End: at.Add(3 * time.Minute), Value: 100.0 / 3, Source: "w"}}
	days := Daily(ms, Options{Location: loc, From: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)})
	b, err := json.Marshal(days)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"date":"2026-05-04","steps":33.333333333333336,"distance_m":null,"active_kcal":null,"sleep_minutes":null,"sleep_stages":null,"heart_rate":null,"blood_pressure":[]},` +
		`{"date":"2026-05-05","steps":null,"distance_m":null,"active_kcal":null,"sleep_minutes":null,"sleep_stages":null,"heart_rate":null,"blood_pressure":[]}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if !strings.Contains(string(b), "33.333333333333336") {
		t.Error("rounded")
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	ok := Measurement{Kind: Steps, Start: now.Add(-time.Hour), End: now, Value: 10, Source: "w"}
	tests := []struct {
		name  string
		m     func(Measurement) Measurement
		field string
	}{
		{"valid", func(m Measurement) Measurement { return m }, ""},
		{"kind", func(m Measurement) Measurement { m.Kind = 0; return m }, "kind"},
		{"no start", func(m Measurement) Measurement { m.Start = time.Time{}; return m }, "start"},
		{"future", func(m Measurement) Measurement {
			m.Start, m.End = now.Add(48*time.Hour), now.Add(49*time.Hour)
			return m
		}, "start"},
		{"end before start", func(m Measurement) Measurement { m.End = m.Start.Add(-time.Second); return m }, "end"},
		{"too long", func(m Measurement) Measurement { m.End = m.Start.Add(49 * time.Hour); return m }, "end"},
		{"negative steps", func(m Measurement) Measurement { m.Value = -1; return m }, "value"},
		{"NaN", func(m Measurement) Measurement { m.Value = math.NaN(); return m }, "value"},
		{"heart rate 400", func(m Measurement) Measurement { m.Kind, m.End, m.Value = HeartRate, m.Start, 400; return m }, "value"},
		{"diastolic above systolic", func(m Measurement) Measurement {
			m.Kind, m.End, m.Value, m.Value2 = BloodPressure, m.Start, 80, 120
			return m
		}, "value2"},
		{"second value", func(m Measurement) Measurement { m.Value2 = 3; return m }, "value2"},
		{"sleep without length", func(m Measurement) Measurement { m.Kind, m.End = SleepDeep, m.Start; return m.Normalize() }, "end"},
		{"sleep value", func(m Measurement) Measurement { m.Kind, m.Value = SleepDeep, 5; return m }, "value"},
		{"sleep normalized", func(m Measurement) Measurement { m.Kind = SleepDeep; return m.Normalize() }, ""},
		{"no source", func(m Measurement) Measurement { m.Source = ""; return m }, "source"},
	}
	for _, tt := range tests {
		err := tt.m(ok).Validate(now)
		var fe *cgm.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && (err == nil || !asField(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: got %v, want an error on %s", tt.name, err, tt.field)
		}
	}
}

func asField(err error, fe **cgm.FieldError) bool {
	f, ok := err.(*cgm.FieldError)
	*fe = f
	return ok
}

func TestSummarize(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	days := []Day{
		{Steps: f(1000), SleepMinutes: f(400), SleepStages: &SleepStages{Light: 300, Deep: 100}, HeartRate: &HeartRateDay{Min: f(50), Mean: f(60), Max: f(100), Resting: f(55)}, HeartRateSamples: 10},
		{Steps: f(3000), HeartRate: &HeartRateDay{Min: f(45), Mean: f(90), Max: f(90)}, HeartRateSamples: 30},
		{},
	}
	p := Summarize(days)
	if p.MeanSteps != 2000 || p.MeanSleepMinutes != 400 || p.HeartRateMin != 45 || p.HeartRateMax != 100 || p.HeartRateMean != 82.5 || p.MeanResting != 55 {
		t.Errorf("%+v", p)
	}
	if !math.IsNaN(p.MeanDistanceM) {
		t.Errorf("distance mean %v without data", p.MeanDistanceM)
	}
}
