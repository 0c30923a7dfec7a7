package cgmstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestOnIngest checks that Options.OnIngest is told the source and counts
// of every batch written by Ingest and IngestTx, and of no failed one.
func TestOnIngest(t *testing.T) {
	t.Parallel()
	type call struct {
		Src                                   Source
		Inserted, Duplicate, Revised, Rejects int
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	_, pool := newStore(t)
	s := New(pool, Options{OnIngest: func(src Source, r Result) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{src, r.Inserted, r.Duplicate, r.Revised, r.Rejected})
	}})
	ctx := context.Background()
	id := newPatient(t, s, 1)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rs := historic(start, 15*time.Minute, 10, "SN1")
	if _, err := s.Ingest(ctx, Batch{Patient: id, Source: SourceLibreView, Readings: rs}); err != nil {
		t.Fatal(err)
	}
	bad := append(historic(start, 15*time.Minute, 10, "SN1"), historic(start.Add(-time.Hour), 15*time.Minute, 2, "SN1")...)
	bad[0].Value++
	bad = append(bad, bad[0])
	bad[len(bad)-1].Time = time.Now().AddDate(1, 0, 0) // in the future: rejected
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := s.IngestTx(ctx, tx, Batch{Patient: id, Source: SourceLibreLinkUp, Readings: bad})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, Batch{Patient: 999999, Source: SourceLibreView, Readings: rs}); err == nil {
		t.Fatal("ingest for an unknown patient worked")
	}
	want := []call{
		{SourceLibreView, 10, 0, 0, 0},
		{SourceLibreLinkUp, 2, 9, 1, 1},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("OnIngest calls (-want +got):\n%s", diff)
	}
}
