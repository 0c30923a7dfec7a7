package cgmstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// mcounts is the part of a MeasurementResult the tests compare.
type mcounts struct{ Inserted, Duplicate, Revised, Rejected int }

func mcountsOf(r MeasurementResult) mcounts {
	return mcounts{r.Inserted, r.Duplicate, r.Revised, r.Rejected}
}

// dayOfVitals returns a day of a watch and a phone counting steps, the
// watch's heart rate every 5 minutes, a night of sleep stages and a blood
// pressure.
func dayOfVitals(day time.Time) []vitals.Measurement {
	var ms []vitals.Measurement
	for h := 7; h < 21; h++ {
		at := day.Add(time.Duration(h) * time.Hour)
		ms = append(ms,
			vitals.Measurement{Kind: vitals.Steps, Start: at, End: at.Add(time.Hour), Value: 500, Source: "Apple Watch di Mario", Class: vitals.ClassWatch, Device: "Watch6,1"},
			vitals.Measurement{Kind: vitals.Steps, Start: at.Add(10 * time.Minute), End: at.Add(50 * time.Minute), Value: 450, Source: "iPhone di Mario", Class: vitals.ClassPhone})
	}
	for m := 0; m < 24*60; m += 5 {
		at := day.Add(time.Duration(m) * time.Minute)
		ms = append(ms, vitals.Measurement{Kind: vitals.HeartRate, Start: at, End: at, Value: 60 + float64(m%40), Source: "Apple Watch di Mario", Class: vitals.ClassWatch})
	}
	night := day.Add(-time.Hour)
	for i, k := range []vitals.Kind{vitals.SleepLight, vitals.SleepDeep, vitals.SleepREM, vitals.SleepAwake, vitals.SleepLight} {
		ms = append(ms, vitals.Measurement{Kind: k, Start: night.Add(time.Duration(i) * 90 * time.Minute),
			End: night.Add(time.Duration(i+1) * 90 * time.Minute), Source: "Apple Watch di Mario", Class: vitals.ClassWatch})
	}
	bp := day.Add(8 * time.Hour)
	ms = append(ms, vitals.Measurement{Kind: vitals.BloodPressure, Start: bp, End: bp, Value: 128, Value2: 82, Source: "Omron Connect"})
	return ms
}

func snapshotMeasurements(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT format('%s %s %s %s %s %s %s %s', start_at, patient_id, source_id, value, seconds, kind, channel, value2) FROM measurements ORDER BY start_at, source_id, kind",
		"SELECT format('%s %s %s %s %s %s', patient_id, kind, start_at, old_value, new_value, channel) FROM measurement_revisions ORDER BY id",
		"SELECT format('%s %s %s %s %s', patient_id, kind, first_at, last_at, measurements) FROM measurement_coverage ORDER BY patient_id, kind",
		"SELECT format('%s %s %s %s %s %s', patient_id, name, class, device, first_seen, last_seen) FROM vital_sources ORDER BY patient_id, name",
	} {
		rows, _ := s.pool.Query(context.Background(), q)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
	}
	return out
}

func TestIngestMeasurements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 1)
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	ms := dayOfVitals(day)
	bad := []vitals.Measurement{
		{Kind: vitals.HeartRate, Start: day, Value: 900, Source: "Apple Watch di Mario"},                                // impossible
		{Kind: vitals.BloodPressure, Start: day, Value: 80, Value2: 120, Source: "Omron Connect"},                       // diastolic above systolic
		{Kind: vitals.Steps, Start: day.Add(time.Hour), End: day, Value: 3, Source: "iPhone", Class: vitals.ClassPhone}, // ends before it starts
	}
	batch := append(append([]vitals.Measurement{}, ms...), bad...)
	res, err := s.IngestMeasurements(ctx, MeasurementBatch{Patient: pid, Channel: ChannelAppleHealth, Measurements: batch})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mcounts{Inserted: len(ms), Rejected: 3}, mcountsOf(res)); diff != "" {
		t.Errorf("first ingestion (-want +got):\n%s", diff)
	}
	var fields []string
	for _, r := range res.Rejections {
		var fe *cgm.FieldError
		if !errors.As(r.Err, &fe) {
			t.Fatalf("rejection %v is not a field error", r)
		}
		fields = append(fields, fmt.Sprintf("%d:%s", r.Index-len(ms), fe.Field))
	}
	if diff := cmp.Diff([]string{"0:value", "1:value2", "2:end"}, fields); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	if n := count(t, pool, "SELECT count(*) FROM vital_days_dirty WHERE patient_id = $1 AND since = $2", pid, day.Add(-time.Hour)); n != 1 {
		t.Errorf("dirty mark: %d rows with since = the first start", n)
	}

	// Again: all duplicates, nothing touched.
	before := snapshotMeasurements(t, s)
	res, err = s.IngestMeasurements(ctx, MeasurementBatch{Patient: pid, Channel: ChannelAppleHealth, Measurements: ms})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mcounts{Duplicate: len(ms)}, mcountsOf(res)); diff != "" {
		t.Errorf("again (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshotMeasurements(t, s)); diff != "" {
		t.Errorf("ingesting again changed the store (-before +after):\n%s", diff)
	}

	// A revision: the watch's 09:00 steps come again with another value,
	// and a new hour; the old value is kept.
	rev := []vitals.Measurement{ms[4], ms[0]}
	rev[0].Value = 612
	extra := vitals.Measurement{Kind: vitals.Steps, Start: day.Add(21 * time.Hour), End: day.Add(22 * time.Hour), Value: 40, Source: "Apple Watch di Mario", Class: vitals.ClassWatch}
	res, err = s.IngestMeasurements(ctx, MeasurementBatch{Patient: pid, Channel: ChannelFHIR, Measurements: append(rev, extra)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mcounts{Inserted: 1, Duplicate: 1, Revised: 1}, mcountsOf(res)); diff != "" {
		t.Errorf("revision (-want +got):\n%s", diff)
	}
	if n := count(t, pool, "SELECT count(*) FROM measurement_revisions WHERE old_value = 500 AND new_value = 612 AND channel = 3"); n != 1 {
		t.Errorf("%d revisions kept, want 1", n)
	}

	// Read back: the night that began before the window is there.
	got, err := s.Measurements(ctx, pid, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[vitals.Kind]int{}
	for _, m := range got {
		kinds[m.Kind]++
	}
	want := map[vitals.Kind]int{vitals.Steps: 29, vitals.HeartRate: 288, vitals.SleepLight: 2, vitals.SleepDeep: 1,
		vitals.SleepREM: 1, vitals.SleepAwake: 1, vitals.BloodPressure: 1}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	for _, m := range got {
		if err := m.Validate(time.Time{}); err != nil {
			t.Errorf("read back %+v: %v", m, err)
		}
		if m.Kind == vitals.BloodPressure && (m.Value != 128 || m.Value2 != 82 || m.Source != "Omron Connect") {
			t.Errorf("blood pressure read back as %+v", m)
		}
		if m.Kind == vitals.Steps && m.Source == "Apple Watch di Mario" && m.Device != "Watch6,1" {
			t.Errorf("device %q", m.Device)
		}
	}
	// Only the sleep that overlaps a later window.
	got, err = s.Measurements(ctx, pid, day.Add(5*time.Hour), day.Add(5*time.Hour+time.Minute), vitals.SleepLight, vitals.SleepAwake)
	if err != nil || len(got) != 1 || got[0].Kind != vitals.SleepLight {
		t.Errorf("overlap read: %+v, %v", got, err)
	}
	if _, err := s.Measurements(ctx, 999999, day, day.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown patient: %v", err)
	}
}

// TestIngestMeasurementsAllOrNothing: a batch that fails in the database
// leaves nothing behind, and the caller's transaction stays usable.
func TestIngestMeasurementsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 2)
	day := time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := s.IngestMeasurementsTx(ctx, tx, MeasurementBatch{Patient: 424242, Channel: ChannelTakeout, Measurements: dayOfVitals(day)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown patient: %v", err)
		}
		_, err := s.IngestMeasurementsTx(ctx, tx, MeasurementBatch{Patient: pid, Channel: ChannelTakeout, Measurements: dayOfVitals(day)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM measurements WHERE patient_id = 424242"); n != 0 {
		t.Errorf("%d rows of the failed batch", n)
	}
	if n := count(t, pool, "SELECT count(*) FROM measurements WHERE patient_id = $1", pid); n != len(dayOfVitals(day)) {
		t.Errorf("%d rows, want %d", n, len(dayOfVitals(day)))
	}
	// An old month gets its partition (native storage).
	if st, _ := storage(t, pool); st == "native partitions" {
		if n := count(t, pool, "SELECT count(*) FROM measurements_default"); n != 0 {
			t.Errorf("%d rows in the default partition", n)
		}
	}
}

func storage(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, error) {
	var s string
	err := pool.QueryRow(context.Background(), "SELECT value FROM store_settings WHERE name = 'readings_storage'").Scan(&s)
	return s, err
}

func TestVitalRanking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 3)
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	if _, err := s.IngestMeasurements(ctx, MeasurementBatch{Patient: pid, Channel: ChannelAppleHealth, Measurements: dayOfVitals(day)}); err != nil {
		t.Fatal(err)
	}
	srcs, err := s.VitalSources(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range srcs.Ordered() {
		names = append(names, v.Name)
	}
	if diff := cmp.Diff([]string{"Apple Watch di Mario", "iPhone di Mario", "Omron Connect"}, names); diff != "" {
		t.Errorf("default order (-want +got):\n%s", diff)
	}
	var phone int64
	for _, v := range srcs {
		if v.Name == "iPhone di Mario" {
			phone = v.ID
		}
	}
	if _, err := pool.Exec(ctx, "DELETE FROM vital_days_dirty"); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.SetVitalRanking(ctx, tx, pid, []int64{phone}) })
	if err != nil {
		t.Fatal(err)
	}
	srcs, _ = s.VitalSources(ctx, pid)
	if r := srcs.Ranking(); len(r.Order) != 1 || r.Order[0] != "iPhone di Mario" {
		t.Errorf("ranking %+v", r)
	}
	if n := count(t, pool, "SELECT count(*) FROM vital_days_dirty WHERE patient_id = $1", pid); n != 1 {
		t.Error("changing the ranking did not mark the days")
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.SetVitalRanking(ctx, tx, pid, []int64{phone, 987654}) })
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("another patient's source: %v", err)
	}
}
