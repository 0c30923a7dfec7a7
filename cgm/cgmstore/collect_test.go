package cgmstore

import (
	"context"
	"syscall"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/migrations/dbtest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// readWith runs readingsSQL for pid over [from, to) in mode and collects
// the rows with or without the binary decoding.
func readWith(ctx context.Context, pool *pgxpool.Pool, pid int64, from, to time.Time, mode pgx.QueryExecMode, raw bool) (cgm.Series, error) {
	ks, err := kindList(nil)
	if err != nil {
		return nil, err
	}
	ds, err := devices(ctx, pool, pid)
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, readingsSQL, mode, pid, ks, from, to, dateOf(from), dateOf(to.Add(-time.Microsecond)))
	if err != nil {
		return nil, err
	}
	return collectReadings(rows, newAttributor(ds), raw, from.UnixMicro(), to.UnixMicro(), nil)
}

// TestCollectReadingsFormats checks that the binary decoding of reading
// rows gives exactly what pgx's Scan gives, and that rows in text format
// (the simple protocol) are read through Scan.
func TestCollectReadingsFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 11)
	day := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC) // over a DST change in Rome
	in := historic(day, 15*time.Minute, 300, "S1")
	in = append(in,
		cgm.Reading{Time: day.Add(7*time.Minute + 123456*time.Microsecond), Value: 3.9, Unit: cgm.MmolL, Kind: cgm.Scan, Trend: cgm.TrendFallingFast, Flags: cgm.FlagLow},
		cgm.Reading{Time: day.Add(time.Hour), Value: 500, Unit: cgm.MgDL, Kind: cgm.Current, Flags: cgm.FlagHigh, Trend: cgm.TrendRising},
		cgm.Reading{Time: day.Add(2 * time.Hour), Value: 27.8, Unit: cgm.MmolL, Kind: cgm.Strip})
	devs := []Device{{Serial: "S2", Model: "FreeStyle Libre 3", ActivatedAt: day.Add(40 * time.Hour)}}
	res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: in, Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	from, to := day.Add(-time.Hour), day.Add(5*24*time.Hour)
	plain, err := readWith(ctx, pool, pid, from, to, pgx.QueryExecModeCacheStatement, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != res.Inserted || res.Inserted < 300 {
		t.Fatalf("read %d readings, stored %+v", len(plain), res)
	}
	// The first two days compacted: rows of both forms come back.
	if _, err := s.CompactHistory(ctx, day.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want, err := readWith(ctx, pool, pid, from, to, pgx.QueryExecModeCacheStatement, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, want); diff != "" {
		t.Errorf("Scan of both forms differs from the plain rows (-plain +both):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		mode pgx.QueryExecMode
	}{
		{"binary, cached statement", pgx.QueryExecModeCacheStatement},
		{"binary, described", pgx.QueryExecModeDescribeExec},
		{"text, simple protocol", pgx.QueryExecModeSimpleProtocol},
	} {
		got, err := readWith(ctx, pool, pid, from, to, tc.mode, true)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: raw decoding differs from Scan (-scan +raw):\n%s", tc.name, diff)
		}
	}
	api, err := s.Readings(ctx, pid, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, api); diff != "" {
		t.Errorf("Store.Readings differs from Scan (-scan +Readings):\n%s", diff)
	}
}

// BenchmarkReadings reads a patient's 14 days of 15-minute readings (1,344
// rows) through pgx's Scan (the baseline) and through the binary decoding
// Store.Readings uses. The time per read is mostly PostgreSQL's; compare
// the two cpu-µs/op, this process's CPU time per read (getrusage).
func BenchmarkReadings(b *testing.B) {
	ctx := context.Background()
	pool := dbtest.Pool(b)
	s := New(pool, Options{})
	p, _, err := s.EnsurePatient(ctx, fiscalCode(12), "Europe/Rome")
	if err != nil {
		b.Fatal(err)
	}
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Ingest(ctx, Batch{Patient: p.ID, Source: SourceLibreView, Readings: historic(day, 15*time.Minute, 14*96, "S1")}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		raw  bool
	}{{"scan", false}, {"raw", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			start := cpuTime(b)
			for b.Loop() {
				n++
				rs, err := readWith(ctx, pool, p.ID, day, day.Add(14*24*time.Hour), pgx.QueryExecModeCacheStatement, bc.raw)
				if err != nil || len(rs) != 14*96 {
					b.Fatalf("%d readings, %v", len(rs), err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-start)/1e3/float64(n), "cpu-µs/op")
		})
	}
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
