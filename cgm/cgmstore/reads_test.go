package cgmstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestReadingsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	pid := newPatient(t, s, 10)
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	in := []cgm.Reading{
		{Time: day.Add(30 * time.Minute), Value: 3.9, Unit: cgm.MmolL, Kind: cgm.Historic, Device: "S1"},
		{Time: day.Add(15 * time.Minute), Value: 70.1, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "S1"},
		{Time: day.Add(45*time.Minute + 17*time.Second + 123456*time.Microsecond), Value: 40, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagLow, Trend: cgm.TrendFallingFast, Device: "S1"},
		{Time: day.Add(time.Hour), Value: 500, Unit: cgm.MgDL, Kind: cgm.Current, Flags: cgm.FlagHigh, Trend: cgm.TrendRising, Device: "S2"},
		{Time: day.Add(2 * time.Hour), Value: 27.8, Unit: cgm.MmolL, Kind: cgm.Strip, Flags: cgm.FlagHigh},
		{Time: day.Add(3 * time.Hour), Value: 120.55, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "S2"},
	}
	devs := []Device{{Serial: "S2", Model: "FreeStyle Libre 3", ActivatedAt: day.Add(50 * time.Minute)}}
	if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: in, Devices: devs}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Readings(ctx, pid, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := cgm.Series{in[1], in[0], in[2], in[3], in[4], in[5]}
	want[4].Device = "S2" // the strip has no device of its own: S2 (open-ended since its start) covers it
	want[5].Value = 120.6 // rounded to storage resolution
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Readings (-want +got):\n%s", diff)
	}

	// [from, to) bounds and kind filters.
	got, err = s.Readings(ctx, pid, day.Add(15*time.Minute), day.Add(time.Hour), cgm.Historic, cgm.Scan)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cgm.Series{in[1], in[0], in[2]}, got); diff != "" {
		t.Errorf("Readings([00:15, 01:00), historic+scan) (-want +got):\n%s", diff)
	}
	if _, err := s.Readings(ctx, pid+100, day, day.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Readings of a missing patient: %v, want ErrNotFound", err)
	}
	if _, err := s.Readings(ctx, pid, day, day.Add(time.Hour), cgm.Kind(7)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Readings of kind 7: %v, want ErrInvalid", err)
	}

	ds, err := s.Devices(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	wantDevs := []Device{
		{Serial: "S1", Source: SourceLibreLinkUp, FirstSeen: in[1].Time, LastSeen: in[2].Time.Truncate(time.Microsecond)},
		{Serial: "S2", Model: "FreeStyle Libre 3", Source: SourceLibreLinkUp, ActivatedAt: devs[0].ActivatedAt, FirstSeen: in[3].Time, LastSeen: in[5].Time},
	}
	if diff := cmp.Diff(wantDevs, ds); diff != "" {
		t.Errorf("Devices (-want +got):\n%s", diff)
	}

	// Latest, by kind.
	for _, tc := range []struct {
		kinds []cgm.Kind
		want  cgm.Reading
	}{
		{nil, want[5]},
		{[]cgm.Kind{cgm.Historic}, want[5]},
		{[]cgm.Kind{cgm.Scan, cgm.Current}, want[3]},
		{[]cgm.Kind{cgm.Scan}, want[2]},
	} {
		got, err := s.Latest(ctx, pid, tc.kinds...)
		if err != nil {
			t.Fatalf("Latest(%v): %v", tc.kinds, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Latest(%v) (-want +got):\n%s", tc.kinds, diff)
		}
	}
}

func TestLatestAndCoverageWithoutReadings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	pid := newPatient(t, s, 11)
	if _, err := s.Latest(ctx, pid); !errors.Is(err, ErrNotFound) {
		t.Errorf("Latest without readings: %v, want ErrNotFound", err)
	}
	if c, err := s.Coverage(ctx, pid); err != nil || !cmp.Equal(c, Coverage{}) {
		t.Errorf("Coverage without readings = %+v, %v; want zero, nil", c, err)
	}
	if _, err := s.Coverage(ctx, pid+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Coverage of a missing patient: %v, want ErrNotFound", err)
	}
	if _, err := s.Devices(ctx, pid+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Devices of a missing patient: %v, want ErrNotFound", err)
	}
	if _, err := s.Latest(ctx, pid+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Latest of a missing patient: %v, want ErrNotFound", err)
	}
}

// TestQueryPlans loads two months of readings for a few dozen patients and
// shows (go test -v) the plans of the reads: each must use the readings_key
// index of the partitions in range only, or reading_coverage's key.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var pids []int64
	for i := range 40 {
		pid := newPatient(t, s, 100+i)
		pids = append(pids, pid)
		rs := historic(from, 15*time.Minute, 61*96, fmt.Sprintf("S-%d", i))
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceSimulator, Readings: rs}); err != nil {
			t.Fatal(err)
		}
	}
	// Thousands of other patients, as in a region, so that the planner
	// prefers the keys of the small tables to reading them whole.
	const others = `
		INSERT INTO patients (public_id, fiscal_code)
		SELECT md5(i::text), 'BNCLRA' || lpad((i % 100)::text, 2, '0') || 'A' || lpad((i / 100 % 100)::text, 2, '0') || 'H' || lpad((i / 10000)::text, 3, '0') || 'X'
		FROM generate_series(1, 5000) i;
		INSERT INTO reading_coverage (patient_id, kind, first_at, last_at, readings)
		SELECT id, 1, now() - interval '1 year', now(), 35040 FROM patients WHERE fiscal_code LIKE 'BNCLRA%';
		ANALYZE`
	if _, err := pool.Exec(ctx, others); err != nil {
		t.Fatal(err)
	}
	pid := pids[7]
	winFrom, winTo := from.AddDate(0, 0, 20), from.AddDate(0, 0, 34) // 14 days across May and June

	plan := func(q string, args ...any) string {
		t.Helper()
		var lines []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, "EXPLAIN "+q, args...)
			var err error
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		return strings.Join(lines, "\n")
	}
	partitions := regexp.MustCompile(`readings_(\d{4}_\d{2}|default)\b`)
	scanned := func(p string) []string {
		var out []string
		for _, m := range partitions.FindAllString(p, -1) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		slices.Sort(out)
		return out
	}

	p := plan(readingsSQL, pid, []int32{int32(cgm.Historic)}, winFrom, winTo)
	t.Logf("Readings, 14 days:\n%s", p)
	if diff := cmp.Diff([]string{"readings_2026_05", "readings_2026_06"}, scanned(p)); diff != "" {
		t.Errorf("Readings scans partitions (-want +got):\n%s", diff)
	}
	if !strings.Contains(p, "Index") || strings.Contains(p, "Seq Scan") {
		t.Errorf("Readings does not use the index:\n%s", p)
	}

	p = plan(latestSQL, pid, []int16{1, 2, 3, 4})
	t.Logf("Latest:\n%s", p)
	// (Empty partitions may be "scanned" sequentially: they have no page.)
	if !strings.Contains(p, "reading_coverage_pkey") || regexp.MustCompile(`Seq Scan on readings_2026_0[56]`).MatchString(p) {
		t.Errorf("Latest is not served by reading_coverage's key and the readings index:\n%s", p)
	}
	if !regexp.MustCompile(`Index (Only )?Scan using readings_\d{4}_\d{2}_\w+ on readings_`).MatchString(p) {
		t.Errorf("Latest does not look the reading up by index:\n%s", p)
	}
	// At run time only the partition of the last reading is visited.
	var analyzed []string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+latestSQL, pid, []int16{1, 2, 3, 4})
		var err error
		analyzed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	visited := 0
	for _, l := range analyzed {
		if strings.Contains(l, "Scan using readings_") && !strings.Contains(l, "never executed") {
			visited++
		}
	}
	if visited != 1 {
		t.Errorf("Latest visited %d partitions, want 1:\n%s", visited, strings.Join(analyzed, "\n"))
	}

	p = plan(coverageReadSQL, pid)
	t.Logf("Coverage:\n%s", p)
	if !strings.Contains(p, "reading_coverage_pkey") || strings.Contains(p, "readings_") {
		t.Errorf("Coverage is not served by reading_coverage's key alone:\n%s", p)
	}

	p = plan(claimSQL, pid, []int32{1}, winFrom, winTo, []time.Time{winFrom}, []time.Time{winTo}, []int64{1})
	t.Logf("Ingest's overlap check:\n%s", p)
	if diff := cmp.Diff([]string{"readings_2026_05", "readings_2026_06"}, scanned(p)); diff != "" || strings.Contains(p, "Seq Scan") {
		t.Errorf("the overlap check scans %v with plan:\n%s", scanned(p), p)
	}
	checkPoolIdle(t, pool)
}

// checkPoolIdle fails if a connection of pool is left inside a transaction.
func checkPoolIdle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if n := count(t, pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"); n != 0 {
		t.Errorf("%d sessions left idle in transaction", n)
	}
}
