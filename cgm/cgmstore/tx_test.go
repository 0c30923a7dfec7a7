package cgmstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestInTx checks that the reads of InTx return what the pool reads return,
// see the transaction's own uncommitted writes, and report ErrNotFound
// alike.
func TestInTx(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testInTx(t, form)
		})
	}
}

func testInTx(t *testing.T, form string) {
	s, pool := newStore(t)
	ctx := context.Background()
	id := newPatient(t, s, 1)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Ingest(ctx, Batch{Patient: id, Source: SourceLibreView,
		Readings: historic(start, 15*time.Minute, 96, "SN1"),
		Devices:  []Device{{Serial: "SN1", Model: "FreeStyle Libre 2"}}}); err != nil {
		t.Fatal(err)
	}
	settle(t, s, pool, form)
	from, to := start, start.Add(24*time.Hour)
	wantR, err := s.Readings(ctx, id, from, to)
	if err != nil {
		t.Fatal(err)
	}
	wantL, err := s.Latest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantC, err := s.Coverage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantD, err := s.Devices(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		r := s.InTx(tx)
		gotR, err := r.Readings(ctx, id, from, to)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(wantR, gotR); diff != "" {
			t.Errorf("Readings in tx (-pool +tx):\n%s", diff)
		}
		gotL, err := r.Latest(ctx, id)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(wantL, gotL); diff != "" {
			t.Errorf("Latest in tx (-pool +tx):\n%s", diff)
		}
		gotC, err := r.Coverage(ctx, id)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(wantC, gotC); diff != "" {
			t.Errorf("Coverage in tx (-pool +tx):\n%s", diff)
		}
		gotD, err := r.Devices(ctx, id)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(wantD, gotD); diff != "" {
			t.Errorf("Devices in tx (-pool +tx):\n%s", diff)
		}
		for name, err := range map[string]error{
			"Readings": func() error { _, err := r.Readings(ctx, 999999, from, to); return err }(),
			"Latest":   func() error { _, err := r.Latest(ctx, 999999); return err }(),
			"Coverage": func() error { _, err := r.Coverage(ctx, 999999); return err }(),
			"Devices":  func() error { _, err := r.Devices(ctx, 999999); return err }(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of an unknown patient in tx: %v, want ErrNotFound", name, err)
			}
		}

		// A write of the transaction is seen by its reads, not by the pool's.
		later := cgm.Reading{Time: to.Add(time.Hour), Value: 123, Unit: cgm.MgDL, Kind: cgm.Historic}
		if _, err := s.IngestTx(ctx, tx, Batch{Patient: id, Source: SourceLibreView, Readings: []cgm.Reading{later}}); err != nil {
			return err
		}
		got, err := r.Latest(ctx, id)
		if err != nil {
			return err
		}
		if !got.Time.Equal(later.Time) {
			t.Errorf("Latest in tx after IngestTx = %v, want %v", got.Time, later.Time)
		}
		outside, err := s.Latest(ctx, id)
		if err != nil {
			return err
		}
		if !outside.Time.Equal(wantL.Time) {
			t.Errorf("Latest on the pool sees the uncommitted reading: %v", outside.Time)
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Fatalf("transaction: %v", err)
	}
}
