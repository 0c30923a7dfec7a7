package cgmstore

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fsecgm/cgm"
	"fsecgm/connectors/longcsv"
	"fsecgm/migrations/dbtest"
)

// TestEachReading: EachReading gives what Readings gives, one at a time,
// from plain and compact days alike (the first days compacted, with
// historic and scan readings), also for a window that starts and ends
// inside compact days; and it stops at the callback's error, returning it
// as it is.
func TestEachReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	p := newPatient(t, s, 4)
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	rs := historic(day, 15*time.Minute, 96*5, "S1")
	for i := range 40 {
		rs = append(rs, cgm.Reading{Time: day.Add(time.Duration(i)*3*time.Hour + 7*time.Minute), Value: float64(100 + i), Unit: cgm.MgDL, Kind: cgm.Scan})
	}
	if _, err := s.Ingest(ctx, Batch{Patient: p, Source: SourceLibreView, Readings: rs}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.CompactHistory(ctx, day.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	} else if res.Storage == "native partitions" && res.Readings == 0 {
		t.Fatalf("nothing compacted: %+v", res)
	}
	stream := func(from, to time.Time) (cgm.Series, error) {
		var got cgm.Series
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return s.InTx(tx).EachReading(ctx, p, from, to, func(rd cgm.Reading) error {
				got = append(got, rd)
				return nil
			})
		})
		return got, err
	}
	for _, w := range []struct{ from, to time.Time }{
		{day, day.AddDate(0, 0, 6)},
		{day.Add(13 * time.Hour), day.Add(4*24*time.Hour + 5*time.Hour)},
		{day.Add(25 * time.Hour), day.Add(26 * time.Hour)},
	} {
		want, err := s.Readings(ctx, p, w.from, w.to)
		if err != nil {
			t.Fatal(err)
		}
		got, err := stream(w.from, w.to)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("[%v, %v): %d readings streamed, %d read", w.from, w.to, len(got), len(want))
		}
		for i := range got {
			if !got[i].Time.Equal(want[i].Time) || got[i].Kind != want[i].Kind || got[i].Value != want[i].Value || got[i].Device != want[i].Device {
				t.Fatalf("[%v, %v) reading %d: %+v, want %+v", w.from, w.to, i, got[i], want[i])
			}
		}
	}
	stop := io.ErrShortWrite
	n := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return s.InTx(tx).EachReading(ctx, p, day, day.AddDate(0, 0, 6), func(cgm.Reading) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
	})
	if err != stop || n != 3 {
		t.Errorf("a callback's error: %v after %d readings, want it after 3", err, n)
	}
	if _, err := stream(day, day); err != nil {
		t.Errorf("an empty window: %v", err)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return s.InTx(tx).EachReading(ctx, 999999, day, day, func(cgm.Reading) error { return nil })
	}); err == nil {
		t.Error("EachReading of an unknown patient: no error")
	}
}

// heapPeak runs f and returns the highest heap in use above what was in
// use before it, sampled every millisecond.
func heapPeak(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base && m.HeapInuse-base > peak.Load() {
				peak.Store(m.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkExportYear exports a year of 1-minute readings (525,600) as the
// taccuino's CSV export does (EachReading into a longcsv.Writer, to a
// discarding writer), against the baseline of reading them whole
// (Readings, the way every other read works), and reports the heap each
// needs at its peak and their ratio: streaming holds one reading, not the
// year.
func BenchmarkExportYear(b *testing.B) {
	ctx := context.Background()
	pool := dbtest.Pool(b)
	s := New(pool, Options{})
	p, _, err := s.EnsurePatient(ctx, fiscalCode(13), "Europe/Rome")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 365 * 24 * 60
	for i := 0; i < n; i += 50_000 {
		rs := historic(start.Add(time.Duration(i)*time.Minute), time.Minute, min(50_000, n-i), "S1")
		if _, err := s.Ingest(ctx, Batch{Patient: p.ID, Source: SourceLibreLinkUp, Readings: rs}); err != nil {
			b.Fatal(err)
		}
	}
	end := start.AddDate(1, 0, 0)
	var whole, streamed uint64
	var rows int
	for b.Loop() {
		whole = heapPeak(func() {
			rs, err := s.Readings(ctx, p.ID, start, end)
			if err != nil || len(rs) != n {
				b.Fatalf("%d readings, %v", len(rs), err)
			}
			runtime.KeepAlive(rs)
		})
		streamed = heapPeak(func() {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				w := longcsv.NewWriter(io.Discard)
				rows = 0
				if err := s.InTx(tx).EachReading(ctx, p.ID, start, end, func(r cgm.Reading) error {
					rows++
					return w.Write(p.PublicID, r)
				}); err != nil {
					return err
				}
				return w.Flush()
			})
			if err != nil || rows != n {
				b.Fatalf("%d readings streamed, %v", rows, err)
			}
		})
	}
	b.ReportMetric(float64(whole)/(1<<20), "whole-heap-MB")
	b.ReportMetric(float64(streamed)/(1<<20), "streamed-heap-MB")
	b.ReportMetric(float64(streamed)/float64(whole), "streamed_vs_whole_heap_ratio")
}
