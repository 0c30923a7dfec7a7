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
	"fsecgm/migrations"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestReadingsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testReadingsRoundTrip(t, form)
		})
	}
}

func testReadingsRoundTrip(t *testing.T, form string) {
	ctx := context.Background()
	s, pool := newStore(t)
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
	settle(t, s, pool, form)
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

// TestQueryPlans loads two months of readings for a few dozen patients,
// compacts the first month (on native partitions), and shows (go test -v)
// the plans of the reads and of ingestion's statements: each must use the
// indexes, and reach only the partitions (native) or chunks (TimescaleDB)
// of its time range, with the range's bounds as constants (a custom plan)
// and as parameters (a generic plan, pruned at executor start-up).
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	storage, err := migrations.Storage(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	native := storage == migrations.StorageNative
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
	// A patient whose readings stopped in May: on native partitions their
	// last reading is compact.
	cold := newPatient(t, s, 99)
	if _, err := s.Ingest(ctx, Batch{Patient: cold, Source: SourceSimulator, Readings: historic(from, 15*time.Minute, 10*96, "COLD")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompactHistory(ctx, from.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	// Thousands of other patients, as in a region, so that the planner
	// prefers the keys of the small tables to reading them whole.
	const others = `
		INSERT INTO patients (public_id, fiscal_code)
		SELECT md5(i::text), 'BNCLRA' || lpad((i % 100)::text, 2, '0') || 'A' || lpad((i / 100 % 100)::text, 2, '0') || 'H' || lpad((i / 10000)::text, 3, '0') || 'X'
		FROM generate_series(1, 5000) i;
		INSERT INTO reading_coverage (patient_id, kind, first_at, last_at, readings)
		SELECT id, 1, now() - interval '1 year', now(), 35040 FROM patients WHERE fiscal_code LIKE 'BNCLRA%'`
	if _, err := pool.Exec(ctx, others); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	pid := pids[7]
	winFrom, winTo := from.AddDate(0, 0, 20), from.AddDate(0, 0, 34) // 14 days across May and June
	kinds := []int32{int32(cgm.Historic)}

	// The partitions or chunks holding readings, and those a range of
	// instants [lo, hi] touches.
	var filled []string
	rows, _ := pool.Query(ctx, "SELECT DISTINCT tableoid::regclass::text FROM readings")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		filled = append(filled, n[strings.LastIndex(n, ".")+1:])
	}
	inRange := func(lo, hi time.Time) []string {
		t.Helper()
		var out []string
		if native {
			for m := monthOf(lo); m <= monthOf(hi); m++ {
				out = append(out, fmt.Sprintf("readings_%04d_%02d", m/12, m%12+1))
			}
			return out
		}
		// https://www.tigerdata.com/docs/api/latest/informational-views/chunks/
		rows, _ := pool.Query(ctx, `SELECT chunk_name::text FROM timescaledb_information.chunks
			WHERE hypertable_name = 'readings' AND range_start <= $2 AND range_end > $1 ORDER BY 1`, lo, hi)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// explain returns the plan of q with args as constants (a custom
	// plan) or, generic, as the parameters of a prepared statement
	// planned once for any values (plan_cache_mode force_generic_plan):
	// its partitions are pruned, and TimescaleDB's ChunkAppend excludes
	// chunks, at executor start-up, which EXPLAIN runs. analyze runs it.
	explain := func(q string, generic, analyze bool, args ...any) string {
		t.Helper()
		var lines []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, stagingSQL); err != nil {
				return err
			}
			opts := "EXPLAIN "
			if analyze {
				opts = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
			}
			var rows pgx.Rows
			if generic {
				if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "PREPARE plan_test AS "+q); err != nil {
					return err
				}
				lits := make([]string, len(args))
				for i, a := range args {
					lits[i] = sqlLiteral(t, a)
				}
				rows, _ = tx.Query(ctx, opts+"EXECUTE plan_test("+strings.Join(lits, ", ")+")")
			} else {
				rows, _ = tx.Query(ctx, opts+q, args...)
			}
			var err error
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if generic { // prepared statements outlive transactions
				if _, err := tx.Exec(ctx, "DEALLOCATE plan_test"); err != nil {
					return err
				}
			}
			return errors.New("roll back") // nothing of an analyzed write stays
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("EXPLAIN: %v", err)
		}
		return strings.Join(lines, "\n")
	}
	// scanned lists the partitions or chunks that scan nodes of a plan
	// read (an executed one, with analyze: "never executed" is left out).
	scanNode := regexp.MustCompile(`Scan(?: Backward)?(?: \(\w+\))?(?: using \S+)? on (\S+)`)
	part := regexp.MustCompile(`^(readings_(\d{4}_\d{2}|default)|_hyper_\d+_\d+_chunk)$`)
	scanned := func(p string) []string {
		var out []string
		for _, l := range strings.Split(p, "\n") {
			m := scanNode.FindStringSubmatch(l)
			if m == nil || !part.MatchString(m[1]) || strings.Contains(l, "never executed") {
				continue
			}
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		slices.Sort(out)
		return out
	}
	// seqScanned lists the partitions or chunks holding readings that a
	// plan reads sequentially (an empty one has no page to read).
	seqScanned := func(p string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`Seq Scan on (\S+)`).FindAllStringSubmatch(p, -1) {
			if slices.Contains(filled, m[1]) {
				out = append(out, m[1])
			}
		}
		return out
	}
	checkRange := func(what string, p string, lo, hi time.Time) {
		t.Helper()
		if diff := cmp.Diff(inRange(lo, hi), scanned(p)); diff != "" {
			t.Errorf("%s reaches partitions or chunks (-in range +scanned):\n%s\n%s", what, diff, p)
		}
		if seq := seqScanned(p); len(seq) > 0 {
			t.Errorf("%s reads %v sequentially:\n%s", what, seq, p)
		}
	}

	for _, generic := range []bool{false, true} {
		mode := map[bool]string{false: "custom plan", true: "generic plan"}[generic]

		p := explain(readingsSQL, generic, false, pid, kinds, winFrom, winTo, dateOf(winFrom), dateOf(winTo.Add(-time.Microsecond)))
		t.Logf("Readings, 14 days, %s:\n%s", mode, p)
		checkRange("Readings ("+mode+")", p, winFrom, winTo.Add(-time.Microsecond))
		if native && (!strings.Contains(p, "readings_compact_pkey") || strings.Contains(p, "Seq Scan on readings_compact")) {
			t.Errorf("the compact rows of a window are not read by readings_compact's key (%s):\n%s", mode, p)
		}

		p = explain(claimSQL, generic, false, pid, kinds, winFrom, winTo, []time.Time{winFrom}, []time.Time{winTo}, []int64{1},
			dateOf(winFrom), dateOf(winTo), sourceCode(SourceSimulator)<<metaSourceShift)
		t.Logf("Ingest's overlap check, %s:\n%s", mode, p)
		checkRange("the overlap check ("+mode+")", p, winFrom, winTo)
		if native && (!strings.Contains(p, "readings_compact_pkey") || strings.Contains(p, "Seq Scan on readings_compact")) {
			t.Errorf("the overlap check does not find compact days by readings_compact's key (%s):\n%s", mode, p)
		}

		p = explain(mergeSQL, generic, false, pid, winFrom, winTo, int16(SourceSimulator), kinds, sourceCode(SourceSimulator)<<metaSourceShift)
		t.Logf("Ingest's merge, %s:\n%s", mode, p)
		checkRange("the merge ("+mode+")", p, winFrom, winTo)
		p = explain(mergeOneSourceSQL, generic, false, pid, winFrom, winTo, int16(SourceSimulator), kinds)
		checkRange("the one-source merge ("+mode+")", p, winFrom, winTo)

		p = explain(compactTakeSQL, generic, false, pid, winFrom, winTo)
		t.Logf("Compaction's move of days, %s:\n%s", mode, p)
		checkRange("compaction ("+mode+")", p, winFrom, winTo.Add(-time.Microsecond))
	}

	p := explain(latestSQL, false, false, pid, []int16{1, 2, 3, 4})
	t.Logf("Latest:\n%s", p)
	if !strings.Contains(p, "reading_coverage_pkey") || len(seqScanned(p)) > 0 {
		t.Errorf("Latest is not served by reading_coverage's key and the readings index:\n%s", p)
	}
	if !regexp.MustCompile(`Index (Only )?Scan using \S+ on (readings_\d{4}_\d{2}|_hyper_\d+_\d+_chunk)`).MatchString(p) {
		t.Errorf("Latest does not look the reading up by index:\n%s", p)
	}
	// At run time only the partition or chunk of the last reading is
	// visited, and the compact row of its day only when it is not plain.
	p = explain(latestSQL, false, true, pid, []int16{1, 2, 3, 4})
	if got := scanned(p); len(got) != 1 || strings.Contains(p, "readings_compact_pkey on readings_compact (actual rows=1") {
		t.Errorf("Latest visited %v (want one partition or chunk) and not only the plain form:\n%s", got, p)
	}
	if native {
		p = explain(latestSQL, false, true, cold, []int16{1, 2, 3, 4})
		t.Logf("Latest of a patient whose last reading is compact:\n%s", p)
		if !strings.Contains(p, "Index Scan using readings_compact_pkey on readings_compact (actual rows=1") {
			t.Errorf("Latest does not find a compact last reading by readings_compact's key:\n%s", p)
		}
	}

	p = explain(coverageReadSQL, false, false, pid)
	t.Logf("Coverage:\n%s", p)
	if !strings.Contains(p, "reading_coverage_pkey") || strings.Contains(p, "readings_") {
		t.Errorf("Coverage is not served by reading_coverage's key alone:\n%s", p)
	}
	checkPoolIdle(t, pool)
}

// sqlLiteral writes a query argument of TestQueryPlans as an SQL literal.
func sqlLiteral(t *testing.T, a any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	ts := func(v time.Time) string { return v.UTC().Format("2006-01-02 15:04:05.999999+00") }
	switch v := a.(type) {
	case int16, int32, int64:
		return fmt.Sprint(v)
	case time.Time:
		return quote(ts(v))
	case pgtype.Date:
		return quote(v.Time.Format(time.DateOnly))
	case []int16, []int32, []int64:
		return quote(strings.NewReplacer("[", "{", "]", "}", " ", ",").Replace(fmt.Sprint(v)))
	case []time.Time:
		var parts []string
		for _, x := range v {
			parts = append(parts, `"`+ts(x)+`"`)
		}
		return quote("{" + strings.Join(parts, ",") + "}")
	}
	t.Fatalf("sqlLiteral: %T", a)
	return ""
}

// checkPoolIdle fails if a connection of pool is left inside a transaction.
func checkPoolIdle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if n := count(t, pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"); n != 0 {
		t.Errorf("%d sessions left idle in transaction", n)
	}
}
