// Package cgmstore keeps patients, their devices and their glucose readings
// in PostgreSQL (pgx v5, plain SQL), on TimescaleDB or on native
// partitions alike (the schema is in package migrations).
//
// Every reading enters through [Store.Ingest] (or [Store.IngestTx]): the
// connectors, the CSV import and FHIR submissions all use it. A batch is
// validated first; valid readings are bulk-loaded in one transaction and
// counted as inserted, duplicate (same key, same value) or revised (same
// key, new value: the old value is kept in reading_revisions); invalid ones
// are rejected with their reasons. Ingesting the same batch twice changes
// nothing the second time.
//
// Reads run on the pool, or in a caller's transaction through [Store.InTx]
// (the HTTP layer reads in the transaction that logs the access).
//
// On plain PostgreSQL, readings older than an age (30 days by default) move
// by [Store.CompactHistory] into a compact form, one row per patient, kind
// and UTC day (history.go, compact.go); every read and write of the store
// works on both forms with the same results. On TimescaleDB the
// hypertable's compression policy does this instead.
//
// A reading's key is (patient, kind, instant). Values are stored in the unit
// the device reported, as integers: tenths of mg/dL or hundredths of mmol/L.
// A value finer than that (120.55 mg/dL) is rounded to the nearest storage
// unit, math.Round(v*10) or math.Round(v*100) (120.6); reading it back gives
// float64(n)/10 or
// float64(n)/100, the float nearest the stored decimal (70.1, 3.9). Instants
// are stored to the microsecond (PostgreSQL's resolution): finer parts are
// truncated before duplicates are looked for.
//
// A reading does not carry its device: the store records each device's wear
// window (first and last reading seen, and activation time when known), and
// a reading read back gets the device whose window covers it, the most
// recently started one when windows overlap (sensor changes). See
// [Store.Readings].
//
// Errors are translated at this edge: callers see [ErrNotFound],
// [ErrConflict] and [ErrInvalid] (with errors.Is), never pgx types, and "not
// found" is never a nil result with a nil error.
package cgmstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors returned by the store, possibly wrapped.
var (
	// ErrNotFound: the patient, device or reading does not exist.
	ErrNotFound = errors.New("cgmstore: not found")
	// ErrConflict: the write collides with existing data (a unique key).
	ErrConflict = errors.New("cgmstore: conflict")
	// ErrInvalid: an argument is not acceptable (bad fiscal code, unknown
	// time zone or source, ...).
	ErrInvalid = errors.New("cgmstore: invalid")
)

// Advisory locks use the two-int4 key space: (1179861832, patient id)
// serialises the ingestion of a patient's batches (and the compaction of
// their days); (1179861831, 1), taken by readings_ensure_partitions,
// serialises partition creation; (1179861831, 2), a session lock, lets one
// CompactHistory run at a time.

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives warnings the store handles itself (a partition that
	// could not be created ahead of a batch). Nil discards them.
	Logger *slog.Logger
	// Now is the clock readings are validated against (no reading more
	// than a day in the future); time.Now when nil.
	Now func() time.Time
	// OnIngest, when set, is called after every batch written by Ingest
	// (committed) or IngestTx (written in the caller's transaction, which
	// may still roll back), with the batch's source and counts: for
	// metrics. It must be fast and safe for concurrent use, and must not
	// keep r.Rejections.
	OnIngest func(src Source, r Result)
}

// Store is the readings store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	now      func() time.Time
	onIngest func(Source, Result)

	// readingParts and measureParts are the monthly partitions of
	// readings and measurements this store knows of.
	readingParts, measureParts *partitioned
}

// New returns a store on pool, whose database must be migrated (package
// migrations).
func New(pool *pgxpool.Pool, opts Options) *Store {
	s := &Store{pool: pool, logger: opts.Logger, now: opts.Now, onIngest: opts.OnIngest,
		readingParts: newPartitioned("readings", "SELECT readings_ensure_partitions($1, $2)", "readings"),
		measureParts: newPartitioned("measurements", "SELECT fsecgm_ensure_month_partitions('measurements', 'start_at', $1, $2)", "measurements"),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// translate turns a pgx error into the store's errors. PostgreSQL errors
// keep their message (which names constraints, never values) but not their
// type; other errors (network, context) are wrapped as they are.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "23505": // unique_violation
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.Message)
	case pgErr.Code == "23503": // foreign_key_violation
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.Message)
	case pgErr.Code == "23502", pgErr.Code == "23514", pgErr.Code[:2] == "22": // not null, check, data exception
		return fmt.Errorf("%w: %s", ErrInvalid, pgErr.Message)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
}
