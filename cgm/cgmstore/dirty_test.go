package cgmstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fsecgm/cgm"
	"fsecgm/migrations/dbtest"
)

// TestIngestMarksDirty: a batch that inserts or revises readings marks the
// patient's summaries for recomputation from its earliest changed instant,
// in the same transaction; a batch of duplicates marks nothing.
func TestIngestMarksDirty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	s := New(pool, Options{})
	p, _, err := s.EnsurePatient(ctx, "RSSMRA85T10A562S", "Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	batch := func(vals ...float64) Batch {
		var rs []cgm.Reading
		for i, v := range vals {
			rs = append(rs, cgm.Reading{Time: t0.Add(time.Duration(i) * 15 * time.Minute), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		return Batch{Patient: p.ID, Source: SourceLongCSV, Readings: rs}
	}
	dirty := func() (time.Time, bool) {
		var since time.Time
		err := pool.QueryRow(ctx, `SELECT since FROM patient_metrics_dirty WHERE patient_id = $1`, p.ID).Scan(&since)
		if errors.Is(err, pgx.ErrNoRows) {
			return time.Time{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return since, true
	}
	clear := func() {
		if _, err := pool.Exec(ctx, `DELETE FROM patient_metrics_dirty`); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := s.Ingest(ctx, batch(100, 110, 120)); err != nil { // fresh: copied straight in
		t.Fatal(err)
	}
	if since, ok := dirty(); !ok || !since.Equal(t0) {
		t.Errorf("after a fresh batch: dirty since %v (%v), want %v", since, ok, t0)
	}
	clear()
	if _, err := s.Ingest(ctx, batch(100, 110, 120)); err != nil { // all duplicates
		t.Fatal(err)
	}
	if since, ok := dirty(); ok {
		t.Errorf("a batch of duplicates marked the patient dirty since %v", since)
	}
	if _, err := s.Ingest(ctx, batch(100, 111, 120)); err != nil { // one revised, at t0+15m
		t.Fatal(err)
	}
	if since, ok := dirty(); !ok || !since.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("after a revision: dirty since %v (%v), want %v", since, ok, t0.Add(15*time.Minute))
	}
}

// TestDirtyMarks: MarkDirty keeps the earliest since and renews the mark;
// ClaimDirty returns marks with their zones and skips those another
// transaction holds; ConsumeDirty deletes only the marks not renewed since
// they were claimed; MarkAllDirty marks every patient with readings.
func TestDirtyMarks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	a, b := newPatient(t, s, 1), newPatient(t, s, 2)
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	if err := s.MarkDirty(ctx, pool, []DirtyMark{{Patient: a, Since: t0}, {Patient: b, Since: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, pool, []DirtyMark{{Patient: a, Since: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, pool, []DirtyMark{{Patient: 0, Since: t0}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDirty of patient 0: %v", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	claimed, err := s.ClaimDirty(ctx, tx, 1)
	if err != nil || len(claimed) != 1 || !claimed[0].Since.Equal(t0) || claimed[0].TimeZone != "Europe/Rome" {
		t.Fatalf("ClaimDirty = %+v, %v", claimed, err)
	}
	// Another consumer skips the claimed mark.
	tx2, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.ClaimDirty(ctx, tx2, 10)
	if err != nil || len(other) != 1 || other[0].Patient == claimed[0].Patient {
		t.Errorf("a second ClaimDirty = %+v, %v; want the other mark only", other, err)
	}
	// Renewed after the claim (by a writer that does not wait: here, a
	// mark of the other patient's consumer's transaction): consumed only
	// if unchanged.
	if err := s.ConsumeDirty(ctx, tx2, other); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeDirty(ctx, tx, claimed); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM patient_metrics_dirty`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d marks left after consuming both, %v", n, err)
	}
	// A mark renewed between claim and consume stays.
	if err := s.MarkDirty(ctx, pool, []DirtyMark{{Patient: a, Since: t0}}); err != nil {
		t.Fatal(err)
	}
	tx3, _ := pool.Begin(ctx)
	c3, err := s.ClaimDirty(ctx, tx3, 10)
	if err != nil || len(c3) != 1 {
		t.Fatalf("claim: %+v, %v", c3, err)
	}
	c3[0].MarkedAt = c3[0].MarkedAt.Add(-time.Second) // as if renewed since
	if err := s.ConsumeDirty(ctx, tx3, c3); err != nil {
		t.Fatal(err)
	}
	tx3.Commit(ctx)
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM patient_metrics_dirty`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d marks after consuming a renewed one, want 1 (%v)", n, err)
	}
	// MarkAllDirty: every patient with historic readings, from the first.
	pool.Exec(ctx, `DELETE FROM patient_metrics_dirty`)
	if _, err := s.Ingest(ctx, Batch{Patient: b, Source: SourceDexcom, Readings: []cgm.Reading{
		{Time: t0, Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic}}}); err != nil {
		t.Fatal(err)
	}
	pool.Exec(ctx, `DELETE FROM patient_metrics_dirty`)
	if m, err := s.MarkAllDirty(ctx); err != nil || m != 1 {
		t.Errorf("MarkAllDirty = %d, %v; want 1", m, err)
	}
}

// TestNightscoutSource: the eighth source, stored as code 0, keeps its
// devices (migration 00009) and its readings apart from another source's.
func TestNightscoutSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	p := newPatient(t, s, 3)
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	for i, src := range []Source{SourceNightscout, SourceMedtronic} {
		if _, err := s.Ingest(ctx, Batch{Patient: p, Source: src, Devices: []Device{{Serial: src.String()}}, Readings: []cgm.Reading{
			{Time: t0.Add(time.Duration(i) * time.Hour), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic, Device: src.String()}}}); err != nil {
			t.Fatalf("ingest from %v: %v", src, err)
		}
	}
	ds, err := s.Devices(ctx, p)
	if err != nil || len(ds) != 2 || ds[0].Source != SourceNightscout || ds[1].Source != SourceMedtronic {
		t.Fatalf("devices %+v, %v", ds, err)
	}
	var removed Removed
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		removed, err = s.RemoveSourceReadings(ctx, tx, p, SourceNightscout, t0.Add(-time.Hour), t0.Add(2*time.Hour))
		return err
	})
	if err != nil || removed.Deleted != 1 {
		t.Fatalf("RemoveSourceReadings(nightscout) = %+v, %v", removed, err)
	}
	rs, err := s.Readings(ctx, p, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if err != nil || len(rs) != 1 || !rs[0].Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("after removing Nightscout's readings: %+v, %v", rs, err)
	}
}
