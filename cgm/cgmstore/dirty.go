package cgmstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dirty marks. A patient's stored summaries (package taccuino/summaries)
// are recomputed from the readings when a mark says that something changed:
// table patient_metrics_dirty (patient_id, since, marked_at), one row per
// patient, keeping the earliest since. The store is the only writer of
// marks:
//
//   - Ingest and IngestTx mark, in their transaction, from the earliest
//     instant the batch inserted or revised (a batch of duplicates marks
//     nothing): readings before it did not change, so the summaries of the
//     days before it stand;
//   - RemoveSourceReadings marks from the start of the removed window;
//   - [Store.MarkDirty] marks what the caller knows changed without a
//     reading changing (a summary period that ended, a patient's new time
//     zone), [Store.MarkAllDirty] every patient with readings;
//   - [Store.ClaimDirty] and [Store.ConsumeDirty] are the consumer's side:
//     claim marks in a transaction, recompute, delete the marks not renewed
//     meanwhile.
//
// The daily summaries of the patients' own devices have marks of their own,
// vital_days_dirty, with the same rules: IngestMeasurements(Tx) marks from
// the earliest measurement inserted or revised, SetVitalRanking from the
// patient's first measurement; [Store.ClaimVitalDirty] and
// [Store.ConsumeVitalDirty] are their consumer's side.

// DirtyMark is a patient's mark: the summaries from Since on must be
// recomputed.
type DirtyMark struct {
	// Patient is the patient's internal key.
	Patient int64
	// Since is the earliest instant whose readings changed.
	Since time.Time
	// MarkedAt is when the mark was last renewed (set by ClaimDirty;
	// ConsumeDirty deletes a mark only if it is unchanged).
	MarkedAt time.Time
	// TimeZone is the patient's IANA zone (set by ClaimDirty).
	TimeZone string
}

// Execer runs a statement: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// upsertDirtySQL keeps the earliest since of each patient and renews
// marked_at, so that a consumer that claimed the mark before leaves it.
const upsertDirtySQL = `
	INSERT INTO patient_metrics_dirty AS d (patient_id, since, marked_at)
	SELECT u.pid, u.since, now() FROM unnest($1::int4[], $2::timestamptz[]) AS u(pid, since)
	ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at`

// MarkDirty marks the given patients' summaries for recomputation from
// each mark's Since (MarkedAt and TimeZone are ignored), through db: call
// it in the transaction that made the change. It serves changes that are
// not readings (a summary period that ended at midnight, a new time zone);
// readings mark themselves when they are ingested or removed.
func (s *Store) MarkDirty(ctx context.Context, db Execer, marks []DirtyMark) error {
	if len(marks) == 0 {
		return nil
	}
	ids := make([]int32, len(marks))
	since := make([]time.Time, len(marks))
	for i, m := range marks {
		if m.Patient <= 0 || m.Patient > math.MaxInt32 {
			return fmt.Errorf("cgmstore: mark dirty: patient %d: %w", m.Patient, ErrNotFound)
		}
		if m.Since.IsZero() {
			return fmt.Errorf("cgmstore: mark dirty: patient %d: %w: no since", m.Patient, ErrInvalid)
		}
		ids[i], since[i] = int32(m.Patient), m.Since.UTC()
	}
	if _, err := db.Exec(ctx, upsertDirtySQL, ids, since); err != nil {
		return fmt.Errorf("cgmstore: mark dirty: %w", translate(err))
	}
	return nil
}

// MarkAllDirty marks every patient with historic readings for
// recomputation from their first one, and returns how many it marked: for
// readings loaded around the ingestion path (the benchmarks' bulk loads)
// and for rebuilding every summary.
func (s *Store) MarkAllDirty(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO patient_metrics_dirty AS d (patient_id, since, marked_at)
		SELECT patient_id, first_at, now() FROM reading_coverage WHERE kind = $1
		ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at`,
		int16(cgm.Historic))
	if err != nil {
		return 0, fmt.Errorf("cgmstore: mark every patient dirty: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

// ClaimDirty locks and returns, in tx, up to n marks, the least recently
// renewed first, each with its patient's time zone. Marks another
// transaction holds are skipped (FOR UPDATE SKIP LOCKED), so that any
// number of consumers share the work; a writer renewing a claimed mark
// waits for tx.
func (s *Store) ClaimDirty(ctx context.Context, tx pgx.Tx, n int) ([]DirtyMark, error) {
	return claimDirty(ctx, tx, "patient_metrics_dirty", n)
}

// ConsumeDirty deletes, in tx, the marks ClaimDirty returned, each only if
// it was not renewed since (its marked_at is unchanged): the consumer has
// recomputed what they asked for.
func (s *Store) ConsumeDirty(ctx context.Context, tx pgx.Tx, marks []DirtyMark) error {
	return consumeDirty(ctx, tx, "patient_metrics_dirty", marks)
}

// ClaimVitalDirty is ClaimDirty for the marks of the daily summaries of
// the patients' own devices (table vital_days_dirty, migration 00090),
// which IngestMeasurements(Tx) and SetVitalRanking write in their
// transactions from the earliest instant that changed.
func (s *Store) ClaimVitalDirty(ctx context.Context, tx pgx.Tx, n int) ([]DirtyMark, error) {
	return claimDirty(ctx, tx, "vital_days_dirty", n)
}

// ConsumeVitalDirty is ConsumeDirty for the marks ClaimVitalDirty
// returned.
func (s *Store) ConsumeVitalDirty(ctx context.Context, tx pgx.Tx, marks []DirtyMark) error {
	return consumeDirty(ctx, tx, "vital_days_dirty", marks)
}

// claimDirty implements ClaimDirty on a table of marks (patient_id, since,
// marked_at).
func claimDirty(ctx context.Context, tx pgx.Tx, table string, n int) ([]DirtyMark, error) {
	rows, _ := tx.Query(ctx, `
		SELECT d.patient_id, d.since, d.marked_at, p.time_zone
		FROM `+table+` d JOIN patients p ON p.id = d.patient_id
		ORDER BY d.marked_at, d.patient_id
		LIMIT $1
		FOR UPDATE OF d SKIP LOCKED`, n)
	marks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DirtyMark, error) {
		var m DirtyMark
		err := r.Scan(&m.Patient, &m.Since, &m.MarkedAt, &m.TimeZone)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: claim dirty marks (%s): %w", table, translate(err))
	}
	return marks, nil
}

// consumeDirty implements ConsumeDirty on a table of marks.
func consumeDirty(ctx context.Context, tx pgx.Tx, table string, marks []DirtyMark) error {
	if len(marks) == 0 {
		return nil
	}
	ids := make([]int32, len(marks))
	at := make([]time.Time, len(marks))
	for i, m := range marks {
		ids[i], at[i] = int32(m.Patient), m.MarkedAt
	}
	if _, err := tx.Exec(ctx, `
		DELETE FROM `+table+` d USING unnest($1::int4[], $2::timestamptz[]) u(pid, m)
		WHERE d.patient_id = u.pid AND d.marked_at = u.m`, ids, at); err != nil {
		return fmt.Errorf("cgmstore: consume dirty marks (%s): %w", table, translate(err))
	}
	return nil
}
