// Package testenv builds the environment the tests of the service's
// packages stand on: a private, migrated PostgreSQL database
// (migrations/dbtest), a logger whose lines the test can read, an optional
// settable clock, and the two stores every part of the service is built
// on, the readings store (cgmstore) and the consent gate (consent).
//
// It is the one place that wires them for tests (issue 17: "one
// test-environment builder"); the parts of the running service (identity
// provider, FHIR records, echo with the web middleware, the LibreLinkUp
// syncer, notifications, sessions) are in package webenv, above it, so
// that the tests of the packages those parts come from can use this one.
// A test that needs only a database keeps calling dbtest.Pool, and the
// tests of cgmstore and consent themselves do (they sit below this
// package).
//
// Only tests import it: TestOnlyTestsImport checks that no other file of
// the module does.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Env is a test's environment. Every field is set by New.
type Env struct {
	// Pool is on a database of the test's own, holding the current schema;
	// it is closed and the database dropped when the test ends.
	Pool *pgxpool.Pool
	// Logger writes JSON lines at debug level into Logs, unless WithLogger
	// gave another.
	Logger *slog.Logger
	// Logs holds what Logger wrote (empty with WithLogger).
	Logs *Logs
	// Clock is the settable clock of WithClock, nil without it.
	Clock *Clock
	// Store and Consent are the readings store and the consent gate on
	// Pool, with Logger and the environment's clock.
	Store   *cgmstore.Store
	Consent *consent.Store
}

// Option chooses a part of the environment.
type Option func(*options)

type options struct {
	clock  *Clock
	tracer pgx.QueryTracer
	logger *slog.Logger
}

// WithClock gives the environment a clock stopped at start, which the
// stores read (cgmstore.Options.Now, consent.Options.Now) and the test
// moves (Env.Clock).
func WithClock(start time.Time) Option {
	return func(o *options) { o.clock = NewClock(start) }
}

// WithTracer traces every statement of the pool (pgx.QueryTracer), for
// tests that check what the service asks the database.
func WithTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}

// WithLogger logs to l instead of Env.Logs (for instance only errors, to
// the test's standard error).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// New builds the environment of t.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e := &Env{Pool: dbtest.Pool(t), Logs: &Logs{}, Clock: o.clock}
	if o.tracer != nil {
		cfg := e.Pool.Config()
		cfg.ConnConfig.Tracer = o.tracer
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		e.Pool = pool
	}
	e.Logger = o.logger
	if e.Logger == nil {
		e.Logger = slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.Store = cgmstore.New(e.Pool, cgmstore.Options{Logger: e.Logger, Now: e.clockFunc()})
	e.Consent = consent.New(e.Pool, consent.Options{Logger: e.Logger, Now: e.clockFunc()})
	return e
}

// clockFunc is the clock the stores read: nil (theirs, time.Now) without
// WithClock.
func (e *Env) clockFunc() func() time.Time {
	if e.Clock == nil {
		return nil
	}
	return e.Clock.Now
}

// Now returns the environment's time: the clock's, or time.Now.
func (e *Env) Now() time.Time {
	if e.Clock == nil {
		return time.Now()
	}
	return e.Clock.Now()
}

// Logs is a log sink that goroutines share.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Clock is a clock that stands still until the test sets (Set) or moves
// (Advance) it: the fake LibreLinkUp's, so that one clock can drive the
// stores and the fake.
type Clock = librelinkuptest.Clock

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return librelinkuptest.NewClock(t) }

// Count returns what a counting query (SELECT count(*) …) of the
// environment's database answers, failing t on an error.
func (e *Env) Count(t testing.TB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Ingest stores rs for the patient from source in one transaction, as a
// connector does (the ingestion marks the patient dirty), failing t when
// a reading is rejected.
func (e *Env) Ingest(t testing.TB, patient int64, source cgmstore.Source, rs cgm.Series) cgmstore.Result {
	t.Helper()
	ctx := context.Background()
	var res cgmstore.Result
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		var err error
		if res, err = e.Store.IngestTx(ctx, tx, cgmstore.Batch{Patient: patient, Source: source, Readings: rs}); err != nil {
			return err
		}
		if res.Rejected > 0 {
			return fmt.Errorf("%d readings rejected, the first: %v", res.Rejected, res.Rejections[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
