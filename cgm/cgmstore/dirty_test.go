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
