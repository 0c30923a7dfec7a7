package summaries

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/records"

	"github.com/google/go-cmp/cmp"
)

// vitalsWeek returns a week of a watch and a phone up to the day before
// now: steps every hour from both, heart rate every 10 minutes, a night of
// stages, a morning blood pressure.
func vitalsWeek(now time.Time, loc *time.Location) []vitals.Measurement {
	var ms []vitals.Measurement
	today := localMidnight(now, loc)
	for d := -7; d < 0; d++ {
		day := today.AddDate(0, 0, d)
		for h := 8; h < 20; h++ {
			at := day.Add(time.Duration(h) * time.Hour)
			ms = append(ms,
				vitals.Measurement{Kind: vitals.Steps, Start: at, End: at.Add(time.Hour), Value: float64(300 + 10*h), Source: "Watch", Class: vitals.ClassWatch},
				vitals.Measurement{Kind: vitals.Steps, Start: at.Add(15 * time.Minute), End: at.Add(45 * time.Minute), Value: 200, Source: "iPhone", Class: vitals.ClassPhone})
		}
		for m := 0; m < 24*60; m += 10 {
			at := day.Add(time.Duration(m) * time.Minute)
			ms = append(ms, vitals.Measurement{Kind: vitals.HeartRate, Start: at, End: at, Value: 55 + float64(m%35), Source: "Watch", Class: vitals.ClassWatch})
		}
		night := day.Add(-time.Hour)
		for i, k := range []vitals.Kind{vitals.SleepLight, vitals.SleepDeep, vitals.SleepREM, vitals.SleepLight} {
			ms = append(ms, vitals.Measurement{Kind: k, Start: night.Add(time.Duration(i) * 2 * time.Hour), End: night.Add(time.Duration(i+1) * 2 * time.Hour),
				Source: "Watch", Class: vitals.ClassWatch})
		}
		bp := day.Add(8 * time.Hour)
		ms = append(ms, vitals.Measurement{Kind: vitals.BloodPressure, Start: bp, End: bp, Value: 125, Value2: 80, Source: "Omron"})
	}
	return ms
}

// TestUpdateVitals: the marks the ingestion leaves become day rows equal to
// vitals.Daily of the stored measurements, published as Observations; a
// second round changes nothing; a revision republishes only its day.
func TestUpdateVitals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 1)
	id := e.ids[0]
	rec, err := records.New(e.pool, records.Options{Base: "https://fsecgm.example.org/fhir", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, VitalsPublisher: rec})
	ms := vitalsWeek(e.clock.Now(), e.loc)
	if _, err := e.store.IngestMeasurements(ctx, cgmstore.MeasurementBatch{Patient: id, Channel: cgmstore.ChannelAppleHealth, Measurements: ms}); err != nil {
		t.Fatal(err)
	}
	res, err := u.UpdateVitals(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 1 || res.Days != 7 || res.Published != 1 {
		t.Fatalf("result %+v", res)
	}
	from, to := localMidnight(e.clock.Now(), e.loc).AddDate(0, 0, -7), localMidnight(e.clock.Now(), e.loc).AddDate(0, 0, -1)
	got, err := VitalDays(ctx, e.pool, id, from, to)
	if err != nil {
		t.Fatal(err)
	}
	// (The week's heart rates of the 23-hour 29 March run into 30 March
	// at the instants of that day's first ones: the store keeps one of
	// each key, so the days are compared with what it holds.)
	stored, err := e.store.Measurements(ctx, id, from.AddDate(0, 0, -1), to.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := vitals.Daily(stored, vitals.Options{Location: e.loc})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("day rows (-Daily +stored):\n%s", diff)
	}
	for _, d := range got {
		// The watch covers every hour the phone counts.
		if *d.Steps != 300*12+10*(8+19)*12/2 {
			t.Errorf("%s: %v steps", d.Date, *d.Steps)
		}
	}
	steps := e.count(t, `SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND 'http://loinc.org|41950-7' = ANY(codes)`, id)
	bp := e.count(t, `SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND 'http://loinc.org|85354-9' = ANY(codes)`, id)
	if steps != 7 || bp != 7 {
		t.Errorf("%d daily steps and %d blood pressures published, want 7 and 7", steps, bp)
	}

	// Nothing new: nothing to do.
	if res, err := u.UpdateVitals(ctx, 10); err != nil || res.Patients != 0 {
		t.Errorf("second round %+v %v", res, err)
	}
	// One revised sample: its day only is rewritten and republished.
	rev := ms[0]
	rev.Value += 1000
	if _, err := e.store.IngestMeasurements(ctx, cgmstore.MeasurementBatch{Patient: id, Channel: cgmstore.ChannelAppleHealth, Measurements: []vitals.Measurement{rev}}); err != nil {
		t.Fatal(err)
	}
	res, err = u.UpdateVitals(ctx, 10)
	if err != nil || res.Days != 1 || res.Published != 1 {
		t.Fatalf("after a revision: %+v %v", res, err)
	}
	if n := e.count(t, `SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND 'http://loinc.org|41950-7' = ANY(codes) AND version = 2`, id); n != 1 {
		t.Errorf("%d daily steps at version 2, want 1", n)
	}
	var body string
	e.pool.QueryRow(ctx, `SELECT summary::text FROM vital_days WHERE patient_id = $1 ORDER BY day LIMIT 1`, id).Scan(&body)
	var d vitals.Day
	json.Unmarshal([]byte(body), &d)
	if *d.Steps != 300*12+10*(8+19)*12/2+1000 {
		t.Errorf("revised day: %v steps", *d.Steps)
	}

	// The patient puts the phone first: every day changes.
	srcs, _ := e.store.VitalSources(ctx, id)
	var phone int64
	for _, s := range srcs {
		if s.Name == "iPhone" {
			phone = s.ID
		}
	}
	tx, _ := e.pool.Begin(ctx)
	if err := e.store.SetVitalRanking(ctx, tx, id, []int64{phone}); err != nil {
		t.Fatal(err)
	}
	tx.Commit(ctx)
	if res, err := u.UpdateVitals(ctx, 10); err != nil || res.Days != 7 {
		t.Errorf("after the ranking changed: %+v %v", res, err)
	}
}
