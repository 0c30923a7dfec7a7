package cgmstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/migrations"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// partitionsOf returns the partitions of readings, sorted.
func partitionsOf(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(),
		"SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass ORDER BY 1")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// rowsByPartition counts the readings in each partition.
func rowsByPartition(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, _ := pool.Query(context.Background(), "SELECT tableoid::regclass::text, count(*) FROM readings GROUP BY 1")
	out := map[string]int{}
	var name string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPartitionsAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	if st, err := migrations.Storage(ctx, pool); err != nil || st != migrations.StorageNative {
		t.Skipf("readings are stored as %q: no partitions to create", st)
	}

	// The months ahead that the daily job asks for: created once, then
	// left alone.
	now := time.Now().UTC()
	from, to := now.AddDate(0, 5, 0), now.AddDate(0, 7, 0)
	var want []string
	for m := monthOf(from); m <= monthOf(to); m++ {
		want = append(want, fmt.Sprintf("readings_%04d_%02d", m/12, m%12+1))
	}
	created, err := s.EnsurePartitions(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("EnsurePartitions created (-want +got):\n%s", diff)
	}
	all := partitionsOf(t, pool)
	for _, name := range want {
		if !slices.Contains(all, name) {
			t.Errorf("partition %s missing after EnsurePartitions; have %v", name, all)
		}
	}
	again, err := s.EnsurePartitions(ctx, from, to)
	if err != nil || len(again) != 0 {
		t.Errorf("EnsurePartitions again = %v, %v; want nothing created", again, err)
	}

	// A backfill of an old month gets its partition before it is written:
	// nothing lands in the default partition.
	pid := newPatient(t, s, 40)
	old := time.Date(2003, 5, 30, 0, 0, 0, 0, time.UTC)
	rs := historic(old, 15*time.Minute, 4*96, "OLD") // May 30 to June 2, 2003
	if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: rs}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"readings_2003_05": 2 * 96, "readings_2003_06": 2 * 96}, rowsByPartition(t, pool)); diff != "" {
		t.Errorf("rows per partition after a backfill (-want +got):\n%s", diff)
	}

	// Rows that reached the default partition (a month with no partition,
	// written by another path) move into their partition when it is made.
	if _, err := pool.Exec(ctx, "INSERT INTO readings (measured_at, patient_id, value, meta) VALUES ('2004-02-10 10:00:00+00', $1, 1000, 9)", pid); err != nil {
		t.Fatal(err)
	}
	if got := rowsByPartition(t, pool)["readings_default"]; got != 1 {
		t.Fatalf("default partition holds %d rows, want 1", got)
	}
	created, err = s.EnsurePartitions(ctx, time.Date(2004, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2004, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || !slices.Equal(created, []string{"readings_2004_02"}) {
		t.Fatalf("EnsurePartitions(2004-02) = %v, %v", created, err)
	}
	byPart := rowsByPartition(t, pool)
	if byPart["readings_default"] != 0 || byPart["readings_2004_02"] != 1 {
		t.Errorf("after creating its partition: %v, want the row moved out of readings_default", byPart)
	}
	got, err := s.Readings(ctx, pid, time.Date(2004, 2, 10, 0, 0, 0, 0, time.UTC), time.Date(2004, 2, 11, 0, 0, 0, 0, time.UTC))
	if err != nil || len(got) != 1 || got[0].Value != 100 || got[0].Kind != cgm.Historic {
		t.Errorf("the moved reading reads back as %+v, %v", got, err)
	}
}

// TestIngestTxNeedsNoSecondConnection ingests in a caller's transaction on
// a pool of one connection, with a store that knows no partition yet (a
// fresh process): IngestTx must not wait for a second connection, which
// would never come. A month that has no partition costs at most
// partitionWait, and its readings go to the default partition.
func TestIngestTxNeedsNoSecondConnection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, big := newStore(t)
	native := true
	if st, err := migrations.Storage(ctx, big); err != nil || st != migrations.StorageNative {
		native = false
	}
	pid := newPatient(t, s, 7)
	cfg := big.Config().Copy()
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	old := time.Date(2019, 3, 10, 0, 0, 0, 0, time.UTC) // no partition: the migration creates a year back
	for _, tt := range []struct {
		name  string
		day   time.Time
		where string // the partition the readings land in
	}{
		{"a month with a partition", time.Now().UTC().Add(-26 * time.Hour).Truncate(time.Hour),
			fmt.Sprintf("readings_%s", time.Now().UTC().Add(-26*time.Hour).Format("2006_01"))},
		{"a month without one", old, "readings_default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(pool, Options{}) // knows no partition
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := s.IngestTx(ctx, tx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: historic(tt.day, 15*time.Minute, 8, "")})
				return err
			})
			if err != nil {
				t.Fatalf("IngestTx on a pool of one connection: %v", err)
			}
			if !native {
				return
			}
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM readings WHERE tableoid = $1::regclass AND patient_id = $2",
				tt.where, pid).Scan(&n); err != nil || n != 8 {
				t.Errorf("%d readings in %s (%v), want 8", n, tt.where, err)
			}
		})
	}
}

// TestKeepPartitions: the daily upkeep makes the months from two back to
// three ahead exist.
func TestKeepPartitions(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	if st, err := migrations.Storage(context.Background(), pool); err != nil || st != migrations.StorageNative {
		t.Skipf("readings are stored as %q: no partitions to create", st)
	}
	now := time.Date(2031, 6, 15, 12, 0, 0, 0, time.UTC) // months the migration did not create
	if _, err := s.KeepPartitions(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"readings_2031_04", "readings_2031_06", "readings_2031_09"} {
		var ok bool
		if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil || !ok {
			t.Errorf("partition %s missing after KeepPartitions (%v)", name, err)
		}
	}
}
