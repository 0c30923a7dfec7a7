package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"fsecgm/migrations"
	"fsecgm/migrations/dbtest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestFiles checks the names and numbering of the embedded files.
func TestFiles(t *testing.T) {
	names, err := fs.Glob(migrations.Embedded, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no embedded migrations")
	}
	nameRE := regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)
	seen := map[string]string{}
	for _, name := range names {
		m := nameRE.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s: want NNNNN_lower_case_name.sql", name)
			continue
		}
		if other, ok := seen[m[1]]; ok {
			t.Errorf("%s and %s have the same number", name, other)
		}
		seen[m[1]] = name
		b, _ := fs.ReadFile(migrations.Embedded, name)
		if !strings.Contains(string(b), "-- +goose Up") {
			t.Errorf("%s: no \"-- +goose Up\" annotation", name)
		}
		if strings.Contains(string(b), "+goose NO TRANSACTION") {
			t.Errorf("%s: every migration must run in a transaction", name)
		}
	}
	if got := migrations.Versions(); len(got) != len(names) {
		t.Errorf("Versions() = %v, want %d versions", got, len(names))
	}
}

// wantStorage is the storage the readings migration must choose on the
// test server: a hypertable only where TimescaleDB is available.
func wantStorage(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var available bool
	err := pool.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AND current_setting('shared_preload_libraries') ~ 'timescaledb'").Scan(&available)
	if err != nil {
		t.Fatal(err)
	}
	if available {
		return migrations.StorageTimescale
	}
	return migrations.StorageNative
}

func TestApplyFromEmptyThenAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openPool(t, dbtest.EmptyURL(t))

	if ok, err := migrations.Current(ctx, pool); err != nil || ok {
		t.Fatalf("Current on an empty database = %v, %v; want false, nil", ok, err)
	}
	res, err := migrations.Apply(ctx, pool)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	var got []int64
	for _, m := range res.Applied {
		got = append(got, m.Version)
	}
	if diff := cmp.Diff(migrations.Versions(), got); diff != "" {
		t.Errorf("Apply on an empty database applied (-want +got):\n%s", diff)
	}
	if want := wantStorage(t, pool); res.Storage != want {
		t.Errorf("Storage = %q, want %q", res.Storage, want)
	}
	if want := slices.Max(migrations.Versions()); res.Version != want {
		t.Errorf("Version = %d, want %d", res.Version, want)
	}
	if ok, err := migrations.Current(ctx, pool); err != nil || !ok {
		t.Errorf("Current after Apply = %v, %v; want true, nil", ok, err)
	}

	again, err := migrations.Apply(ctx, pool)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if len(again.Applied) != 0 || again.Version != res.Version || again.Storage != res.Storage {
		t.Errorf("second Apply = %+v, want nothing applied, version %d, storage %q", again, res.Version, res.Storage)
	}
}

// TestNativeStorageWithoutTimescale checks what the readings migration
// builds when TimescaleDB is absent: a partitioned table with a default
// partition and monthly partitions from a year back to three months ahead.
func TestNativeStorageWithoutTimescale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	if wantStorage(t, pool) != migrations.StorageNative {
		t.Skip("TimescaleDB is available on this server: the native path is not chosen")
	}
	s, err := migrations.Storage(ctx, pool)
	if err != nil || s != migrations.StorageNative {
		t.Fatalf("Storage = %q, %v; want %q", s, err, migrations.StorageNative)
	}
	// pg_get_expr prints the bounds in the session's time zone: read them in UTC.
	bounds := map[string]string{}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
			SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'readings'::regclass`)
		var name, bound string
		_, err := pgx.ForEachRow(rows, []any{&name, &bound}, func() error {
			bounds[name] = bound
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if bounds["readings_default"] != "DEFAULT" {
		t.Errorf("readings_default bound = %q, want DEFAULT (partitions: %v)", bounds["readings_default"], keys(bounds))
	}
	// The template database was migrated when the test binary started,
	// possibly in the previous month: the partitions from 11 months back to
	// 2 ahead of now must exist either way.
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := -11; i <= 2; i++ {
		m := month.AddDate(0, i, 0)
		name := fmt.Sprintf("readings_%04d_%02d", m.Year(), m.Month())
		const layout = "2006-01-02 15:04:05-07"
		want := fmt.Sprintf("FOR VALUES FROM ('%s') TO ('%s')", m.Format(layout), m.AddDate(0, 1, 0).Format(layout))
		if got := bounds[name]; got != want {
			t.Errorf("partition %s: bound %q, want %q", name, got, want)
		}
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestFailedMigrationLeavesNothing applies the embedded migrations plus one
// that creates a table and then fails: the table must not exist afterwards,
// the failing version must not be recorded, and the error must name it.
func TestFailedMigrationLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openPool(t, dbtest.EmptyURL(t))

	fsys := fstest.MapFS{}
	names, _ := fs.Glob(migrations.Embedded, "*.sql")
	for _, name := range names {
		b, _ := fs.ReadFile(migrations.Embedded, name)
		fsys[name] = &fstest.MapFile{Data: b}
	}
	fsys["99998_broken.sql"] = &fstest.MapFile{Data: []byte(
		"-- +goose Up\nCREATE TABLE half_done (id integer);\nINSERT INTO half_done VALUES (1);\nSELECT 1 / 0;\n")}

	res, err := migrations.ApplyFS(ctx, pool, fsys)
	if err == nil || !strings.Contains(err.Error(), "99998_broken.sql") {
		t.Fatalf("ApplyFS error = %v, want one naming 99998_broken.sql", err)
	}
	if len(res.Applied) != len(names) {
		t.Errorf("applied %d migrations before the broken one, want %d", len(res.Applied), len(names))
	}
	var exists, recorded bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('half_done') IS NOT NULL, EXISTS (SELECT 1 FROM goose_db_version WHERE version_id = 99998)").Scan(&exists, &recorded); err != nil {
		t.Fatal(err)
	}
	if exists || recorded {
		t.Errorf("after the failed migration: table exists = %v, version recorded = %v; want false, false", exists, recorded)
	}
}

// TestStorageSetting checks the operator's override of the storage choice.
func TestStorageSetting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		setting string
		want    string // storage, or "" when Apply must fail
		errText string
	}{
		{setting: "native", want: migrations.StorageNative},
		{setting: "bogus", errText: "want auto, native or timescaledb"},
	} {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			url := dbtest.EmptyURL(t)
			setup := openPool(t, url)
			var db string
			if err := setup.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
				t.Fatal(err)
			}
			if _, err := setup.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET fsecgm.readings_storage = '%s'", pgx.Identifier{db}.Sanitize(), tc.setting)); err != nil {
				t.Fatal(err)
			}
			setup.Close()
			pool := openPool(t, url) // new sessions see the setting
			res, err := migrations.Apply(ctx, pool)
			if tc.want != "" {
				if err != nil || res.Storage != tc.want {
					t.Fatalf("Apply = %q, %v; want storage %q", res.Storage, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), "00002_readings.sql") {
				t.Fatalf("Apply error = %v, want one naming 00002_readings.sql and saying %q", err, tc.errText)
			}
			var readings bool
			if err := pool.QueryRow(ctx, "SELECT to_regclass('readings') IS NOT NULL").Scan(&readings); err != nil {
				t.Fatal(err)
			}
			if readings {
				t.Error("the failed readings migration left the readings table behind")
			}
		})
	}
}

// TestTimescaleRequestedButAbsent checks that asking for TimescaleDB where
// it is not available fails instead of silently choosing native storage.
func TestTimescaleRequestedButAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.EmptyURL(t)
	setup := openPool(t, url)
	if wantStorage(t, setup) == migrations.StorageTimescale {
		t.Skip("TimescaleDB is available on this server")
	}
	var db string
	if err := setup.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" SET fsecgm.readings_storage = 'timescaledb'"); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	pool := openPool(t, url)
	_, err := migrations.Apply(ctx, pool)
	if err == nil || !strings.Contains(err.Error(), "timescaledb extension is not available") {
		t.Fatalf("Apply error = %v, want one saying the timescaledb extension is not available", err)
	}
}

// helperEnv makes the test binary act as one migrating replica
// (TestHelperApply) instead of running the tests.
const helperEnv = "FSECGM_MIGRATIONS_HELPER_URL"

// TestConcurrentApplyFromTwoProcesses starts two processes that migrate the
// same empty database at once: each migration must be applied exactly once,
// and both must succeed.
func TestConcurrentApplyFromTwoProcesses(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type proc struct {
		cmd *exec.Cmd
		out strings.Builder
	}
	procs := make([]*proc, 2)
	for i := range procs {
		p := &proc{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperApply$", "-test.count=1")}
		p.cmd.Env = append(os.Environ(), helperEnv+"="+url)
		p.cmd.Stdout = &p.out
		p.cmd.Stderr = &p.out
		procs[i] = p
	}
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var applied []int64
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, p.out.String())
		}
		line := regexp.MustCompile(`(?m)^applied: (.*)$`).FindStringSubmatch(p.out.String())
		if line == nil {
			t.Fatalf("process %d printed no result:\n%s", i, p.out.String())
		}
		var vs []int64
		if err := json.Unmarshal([]byte(line[1]), &vs); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, vs...)
	}
	slices.Sort(applied)
	if diff := cmp.Diff(migrations.Versions(), applied); diff != "" {
		t.Errorf("versions applied by the two processes together (-want +got):\n%s", diff)
	}
	pool := openPool(t, url)
	var rows, distinct int
	if err := pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations.Versions()) || distinct != rows {
		t.Errorf("goose_db_version has %d rows (%d distinct versions), want %d", rows, distinct, len(migrations.Versions()))
	}
}

// TestHelperApply is not a test: run by TestConcurrentApplyFromTwoProcesses
// in a child process, it migrates the database named by helperEnv and
// prints the versions it applied.
func TestHelperApply(t *testing.T) {
	url := os.Getenv(helperEnv)
	if url == "" {
		t.Skip("helper process for TestConcurrentApplyFromTwoProcesses")
	}
	pool := openPool(t, url)
	res, err := migrations.Apply(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	vs := []int64{}
	for _, m := range res.Applied {
		vs = append(vs, m.Version)
	}
	b, _ := json.Marshal(vs)
	fmt.Printf("applied: %s\n", b)
}
