package cgmstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestRemoveSourceReadings: another person's sensor reached a patient
// through LibreLinkUp: its readings go, the patient's own readings (from a
// CSV) stay, and one the foreign source had revised gets its own value back.
func TestRemoveSourceReadings(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testRemoveSourceReadings(t, form)
		})
	}
}

func testRemoveSourceReadings(t *testing.T, form string) {
	s, pool := newStore(t)
	ctx := context.Background()
	pid := newPatient(t, s, 1)
	day := time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)
	own := historic(day, 15*time.Minute, 40, "")
	if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: own}); err != nil {
		t.Fatal(err)
	}

	// The foreign sensor: readings at other instants, and two at the
	// instants of own readings 5 and 6 with other values; reading 5 is
	// revised by the foreign source twice.
	foreign := historic(day.Add(7*time.Minute), 15*time.Minute, 40, "")
	clash := []cgm.Reading{own[5], own[6]}
	clash[0].Value, clash[1].Value = 250, 260
	for _, b := range [][]cgm.Reading{foreign, clash, {{Time: own[5].Time, Value: 251, Unit: cgm.MgDL, Kind: cgm.Historic}}} {
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: b}); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign reading outside the window removed stays.
	late := historic(day.Add(48*time.Hour), 15*time.Minute, 1, "")
	if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: late}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM patient_metrics_dirty`); err != nil {
		t.Fatal(err)
	}
	settle(t, s, pool, form)

	var got Removed
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = s.RemoveSourceReadings(ctx, tx, pid, SourceLibreLinkUp, day, day.Add(24*time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Removed{Deleted: 40, Restored: 2}); got != want {
		t.Errorf("RemoveSourceReadings = %+v, want %+v", got, want)
	}
	rs, err := s.Readings(ctx, pid, day, day.Add(72*time.Hour), cgm.Historic)
	if err != nil {
		t.Fatal(err)
	}
	var values []float64
	for _, r := range rs {
		values = append(values, r.Value)
	}
	var want []float64
	for _, r := range append(slices.Clone(own), late...) {
		want = append(want, r.Value)
	}
	if diff := cmp.Diff(want, values); diff != "" {
		t.Errorf("readings after the removal (-want +got):\n%s", diff)
	}
	if n := count(t, pool, `SELECT readings FROM reading_coverage WHERE patient_id = $1 AND kind = 1`, pid); n != 41 {
		t.Errorf("coverage count = %d, want 41", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM patient_metrics_dirty WHERE patient_id = $1 AND since = $2`, pid, day); n != 1 {
		t.Errorf("dirty marks from the window's start: %d, want 1", n)
	}
	// The revision history keeps the foreign values.
	if n := count(t, pool, `SELECT count(*) FROM reading_revisions WHERE patient_id = $1`, pid); n != 3 {
		t.Errorf("revisions kept: %d, want 3", n)
	}
	checkForms(t, pool)
	// Removing again changes nothing, in either form.
	settle(t, s, pool, form)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = s.RemoveSourceReadings(ctx, tx, pid, SourceLibreLinkUp, day, day.Add(24*time.Hour))
		return err
	})
	if err != nil || got != (Removed{}) {
		t.Errorf("second RemoveSourceReadings = %+v, %v; want nothing removed", got, err)
	}
}
