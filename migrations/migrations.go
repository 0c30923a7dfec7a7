// Package migrations holds the database schema of fsecgm as numbered SQL
// files embedded in the binary, and applies them.
//
// Files are named NNNNN_name.sql and numbered by area so that engineers never
// collide: 00001–00009 the readings store, 00010–00019 connectors,
// 00020–00029 taccuino, 00030–00039 FHIR, 00040–00049 reports, 00060–00069
// access notifications, 00080–00089 the abuse and session rules (repeated
// refusals, ended sessions, identifiers per patient, probes of ids of
// nothing), 00090–00099 the measurements of the patients' own devices,
// 00100–00109 the population view (residences, the opposition to
// secondary use, pseudonymised figures and releases). Because an
// area may add a file below a number another area has already applied,
// migrations are applied out of order when needed: every file not yet
// applied is applied, in number order.
//
// Apply runs them with goose v3 (github.com/pressly/goose), each file in its
// own transaction, so a file that fails leaves the schema as it was before
// that file. A PostgreSQL session advisory lock serialises concurrent
// callers: several replicas starting at once apply each file exactly once.
// Migrations are forward-only.
//
// The readings migration chooses the storage of readings, a TimescaleDB
// hypertable or native monthly partitions, by looking at the server; Apply
// reports the choice.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var embedded embed.FS

// The storage of readings, as reported by [Result] and [Storage].
const (
	StorageTimescale = "timescaledb hypertable"
	StorageNative    = "native partitions"
)

// lockID is the session advisory lock (bigint key space) held while
// migrating: the crc32 of "fsecgm migrations", kept apart from goose's
// default so that other goose users of the same server do not wait on us.
const lockID = 2823551797

// Migration is one applied migration file.
type Migration struct {
	// Version is the file's number.
	Version int64
	// Name is the file name, such as "00002_readings.sql".
	Name string
	// Duration is how long applying it took.
	Duration time.Duration
}

// Result reports what Apply did.
type Result struct {
	// Applied lists the migrations applied by this call, in order; empty
	// when the database was already up to date.
	Applied []Migration
	// Version is the highest applied version after the call.
	Version int64
	// Storage is how readings are stored: [StorageTimescale] or
	// [StorageNative].
	Storage string
}

// Apply applies every embedded migration not yet applied to the database of
// pool. Each file runs in its own transaction; on failure the error names
// the file, that file leaves nothing behind, and Result lists the files
// applied before it.
func Apply(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	return apply(ctx, pool, embedded)
}

func apply(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (Result, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// Poll for the lock every second for up to an hour: a replica waits
	// while another one migrates.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 3600))
	if err != nil {
		return Result{}, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return Result{}, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	var res Result
	var perr *goose.PartialError
	if errors.As(err, &perr) {
		res.Applied = migrationsOf(perr.Applied)
		name := "?"
		if perr.Failed != nil && perr.Failed.Source != nil {
			name = path.Base(perr.Failed.Source.Path)
		}
		return res, fmt.Errorf("migrations: %s: %w", name, perr.Err)
	}
	if err != nil {
		return res, fmt.Errorf("migrations: %w", err)
	}
	res.Applied = migrationsOf(results)
	if res.Version, err = p.GetDBVersion(ctx); err != nil {
		return res, fmt.Errorf("migrations: version: %w", err)
	}
	if res.Storage, err = Storage(ctx, pool); err != nil {
		return res, err
	}
	return res, nil
}

func migrationsOf(rs []*goose.MigrationResult) []Migration {
	out := make([]Migration, 0, len(rs))
	for _, r := range rs {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, Migration{Version: r.Source.Version, Name: path.Base(r.Source.Path), Duration: r.Duration})
	}
	return out
}

// Storage returns how the database stores readings: [StorageTimescale] or
// [StorageNative], as chosen when the readings migration ran.
func Storage(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var s string
	err := pool.QueryRow(ctx, "SELECT value FROM store_settings WHERE name = 'readings_storage'").Scan(&s)
	if err != nil {
		return "", fmt.Errorf("migrations: readings storage: %w", err)
	}
	return s, nil
}

// Versions returns the versions of the embedded migrations, in order.
func Versions() []int64 {
	vs, err := versions(embedded)
	if err != nil {
		panic(err) // the embedded files are checked by the package's tests
	}
	return vs
}

func versions(fsys fs.FS) ([]int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var vs []int64
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: %w", name, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs, nil
}

// Pending returns the versions of the embedded migrations that are not
// applied to the database of pool (all of them on an empty database). It
// only reads: use it for readiness checks.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	var applied []int64
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrations: pending: %w", err)
	}
	if exists {
		rows, _ := pool.Query(ctx, "SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied")
		var err error
		if applied, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return nil, fmt.Errorf("migrations: pending: %w", err)
		}
	}
	var pending []int64
	for _, v := range Versions() {
		if !slices.Contains(applied, v) {
			pending = append(pending, v)
		}
	}
	return pending, nil
}

// Current reports whether every embedded migration is applied to the
// database of pool.
func Current(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	p, err := Pending(ctx, pool)
	return len(p) == 0, err
}

// Hash returns a hex SHA-256 of the names and contents of the embedded
// migrations: equal hashes mean equal schemas (dbtest names its template
// databases with it).
func Hash() string {
	h := sha256.New()
	names, _ := fs.Glob(embedded, "*.sql")
	for _, name := range names {
		b, err := fs.ReadFile(embedded, name)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
