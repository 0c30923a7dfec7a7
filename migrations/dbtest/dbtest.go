// Package dbtest gives tests isolated, migrated PostgreSQL databases.
//
// [Pool] returns a pool on a fresh database of its own, cloned (CREATE
// DATABASE … TEMPLATE) from a template database migrated once; cloning takes
// a fraction of a second, so every test can have its own database and run in
// parallel. The clone is dropped when the test ends.
//
// The server is the one TEST_DATABASE_URL points at (any database on it: it
// is used to create and drop the others, so the user needs CREATEDB), which
// is how "make test" runs (go run ./cmd/pgrun -- go test ./...: one server for
// all packages). When TEST_DATABASE_URL is unset, dbtest starts a private
// server from the installed PostgreSQL binaries (package pgserver) in a
// temporary directory, once per test binary, so that "go test ./pkg" works
// alone. Call [Main] from TestMain to stop that server and remove its
// directory when the tests end; without it the server still stops when the
// test binary exits, and the next run removes the directory.
//
// Template databases are named after a hash of the embedded migrations
// ([migrations.Hash]), so a changed migration gets a new template; their
// creation is serialised across test processes by an advisory lock.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"net/url"

	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL is the environment variable naming the test server.
const EnvURL = "TEST_DATABASE_URL"

// dirPrefix names the temporary directories of private servers.
const dirPrefix = "fsecgm-dbtest-"

// shared is the per-process state: the server and the template. A test
// helper has no other place to keep what must be created once per test
// binary; it is set once under mu and never reset except by Main.
var shared struct {
	mu       sync.Mutex
	ready    bool
	err      error
	admin    *pgxpool.Pool
	baseURL  string
	server   *pgserver.Server
	dir      string
	template string
}

// Main runs the tests of m and then stops the private server, if dbtest
// started one, and removes its directory. Use it as
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	os.Exit(code)
}

func shutdown() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.admin != nil {
		shared.admin.Close()
	}
	if shared.server != nil {
		_ = shared.server.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	shared.ready, shared.admin, shared.server, shared.dir = false, nil, nil, ""
}

// Pool returns a pool on a new database holding the current schema, which
// is dropped (and the pool closed) when t ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := URL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the database is dropped (cleanups are LIFO)
	return pool
}

// URL returns the connection URL of a new database holding the current
// schema, which is dropped when t ends. Use it to hand a database to
// another process; close connections to it before t ends.
func URL(t testing.TB) string {
	t.Helper()
	s := setup(t)
	return clone(t, s, s.template)
}

// EmptyURL returns the connection URL of a new empty database (no
// migrations applied), which is dropped when t ends.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return clone(t, setup(t), "template0")
}

type state struct {
	admin    *pgxpool.Pool
	baseURL  string
	template string
}

// setup starts or finds the server and builds the template, once per
// process.
func setup(t testing.TB) state {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.ready && shared.err == nil {
		shared.err = initShared()
		shared.ready = shared.err == nil
	}
	if shared.err != nil {
		t.Fatalf("%v", shared.err)
	}
	return state{admin: shared.admin, baseURL: shared.baseURL, template: shared.template}
}

func initShared() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := os.Getenv(EnvURL)
	if base == "" {
		dir, err := privateDir()
		if err != nil {
			return err
		}
		srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "data"), NoSync: true,
			Settings: map[string]string{"max_connections": "200"}})
		if err != nil {
			_ = os.RemoveAll(dir)
			return fmt.Errorf("dbtest: %s is not set and no private PostgreSQL could be started (run the tests with \"go run ./cmd/pgrun -- go test ./...\"): %w", EnvURL, err)
		}
		shared.server, shared.dir = srv, dir
		base = srv.URL("postgres")
	}
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		return fmt.Errorf("dbtest: %s: %w", EnvURL, err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		return fmt.Errorf("dbtest: connect to the test server: %w", err)
	}
	shared.admin, shared.baseURL = admin, base
	tmpl, err := ensureTemplate(ctx, admin, base)
	if err != nil {
		return err
	}
	shared.template = tmpl
	return nil
}

// privateDir creates the temporary directory of a private server, after
// removing those left by test processes that no longer exist.
func privateDir() (string, error) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range old {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	// The server may run as another user (postgres, when we are root): it
	// must be able to reach its data directory inside.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	return dir, nil
}

// ensureTemplate returns the name of the template database of the current
// migrations, creating it if no process has yet.
func ensureTemplate(ctx context.Context, admin *pgxpool.Pool, base string) (string, error) {
	name := "fsecgm_tmpl_" + migrations.Hash()[:16]
	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	defer conn.Release()
	// 1179861831, 2: the fsecgm lock class and the template lock (session
	// level: held while the template is migrated).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(1179861831, 2)"); err != nil {
		return "", fmt.Errorf("dbtest: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(1179861831, 2)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	if exists {
		return name, nil
	}
	wip := name + "_wip"
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + ident(wip) + " WITH (FORCE)", // left by a crashed process
		"CREATE DATABASE " + ident(wip) + " TEMPLATE template0",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("dbtest: %s: %w", q, err)
		}
	}
	pool, err := pgxpool.New(ctx, withDatabase(base, wip))
	if err != nil {
		return "", fmt.Errorf("dbtest: %w", err)
	}
	_, err = migrations.Apply(ctx, pool)
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("dbtest: migrate the template database: %w", err)
	}
	for _, q := range []string{
		"ALTER DATABASE " + ident(wip) + " RENAME TO " + ident(name),
		"ALTER DATABASE " + ident(name) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("dbtest: %s: %w", q, err)
		}
	}
	return name, nil
}

// clone creates a database from template, dropped when t ends, and returns
// its URL.
func clone(t testing.TB, s state, template string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "fsecgm_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(template)); err != nil {
		t.Fatalf("dbtest: create database from %s: %v", template, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(s.baseURL, name)
}

// withDatabase returns the connection string base with its database
// replaced by db. base is a URL (postgres://…) or a keyword/value string.
func withDatabase(base, db string) string {
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		u.RawPath = ""
		return u.String()
	}
	return base + " dbname=" + db
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
