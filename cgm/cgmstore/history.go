package cgmstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Compressed history on plain PostgreSQL: readings older than an age move,
// by [Store.CompactHistory], from the readings table into one row per
// patient, kind and UTC day of readings_compact (encoding in compact.go,
// table in migrations/00004_readings_compact.sql). Every read of the store
// reads both forms; a write that touches a compact day first moves it back
// into readings in the writing transaction (see expand), and the next run
// of the job compacts it again.
//
// The day is the UTC day: a read of local days (a window of the engine,
// 22:00 or 23:00 UTC in Europe/Rome) uses the first and last compact rows
// of the window partly, and the store filters their readings by instant.

// DefaultCompactAfter is the age after which readings are compacted, as
// the TimescaleDB compression policy's compress_after
// (00002_readings.sql).
const DefaultCompactAfter = 30 * 24 * time.Hour

// compactRow is a row of readings_compact as read back.
type compactRow struct {
	kind int16
	day  time.Time
	data []byte
}

// dateOf returns the UTC day of t as a date parameter.
func dateOf(t time.Time) pgtype.Date {
	return pgtype.Date{Time: utcDay(t), Valid: true}
}

// expand writes the readings of compact rows, just deleted from
// readings_compact by the caller in tx, back into readings.
func expand(ctx context.Context, tx pgx.Tx, patient int32, rows []compactRow) error {
	var rs []storedReading
	for _, r := range rows {
		var err error
		if rs, err = decodeCompact(rs, r.day, r.kind, r.data); err != nil {
			return err
		}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"measured_at", "patient_id", "value", "meta"},
		&storedSource{rs: rs, patient: patient, i: -1})
	if err != nil {
		return fmt.Errorf("expand compact readings: %w", err)
	}
	if int(n) != len(rs) {
		return fmt.Errorf("expand compact readings: wrote %d rows of %d", n, len(rs))
	}
	return nil
}

// storedSource streams stored readings to COPY into readings.
type storedSource struct {
	rs      []storedReading
	patient int32
	i       int
	vals    [4]any
}

func (c *storedSource) Next() bool {
	c.i++
	return c.i < len(c.rs)
}

func (c *storedSource) Values() ([]any, error) {
	r := c.rs[c.i]
	c.vals[0], c.vals[1], c.vals[2], c.vals[3] = time.UnixMicro(r.us).UTC(), c.patient, r.value, r.meta
	return c.vals[:], nil
}

func (c *storedSource) Err() error { return nil }

// CompactResult is what a run of [Store.CompactHistory] did.
type CompactResult struct {
	// Storage is the readings storage (migrations.StorageNative or
	// StorageTimescale). On TimescaleDB nothing is done: the hypertable's
	// compression policy compresses its chunks.
	Storage string
	// Patients counts the patients whose readings were compacted, Days
	// the compact rows written (one per kind and UTC day), Readings the
	// readings they hold.
	Patients, Days, Readings int64
	// Skipped counts the patients left for the next run because a batch
	// of theirs was being ingested.
	Skipped int64
}

// compactMaxDays bounds the UTC days one transaction of CompactHistory
// moves for a patient: a year of backlog takes a dozen transactions, each
// holding the patient's ingestion lock for a short while.
const compactMaxDays = 31

// Statements of CompactHistory.
const (
	// compactCandidatesSQL lists the patients who may have plain readings
	// on days before the cutoff.
	compactCandidatesSQL = `
		SELECT DISTINCT patient_id FROM reading_coverage
		WHERE coalesce(plain_from, first_at) < $1 AND patient_id > $2
		ORDER BY patient_id LIMIT 1000`
	// compactLockSQL takes the patient's ingestion lock if it is free.
	compactLockSQL = `SELECT pg_try_advisory_xact_lock(1179861832, $1)`
	// compactFirstSQL finds, under the lock, the first plain reading of
	// the patient before the cutoff, each kind from its plain_from: one
	// index probe per kind through the partitions in range.
	compactFirstSQL = `
		SELECT min(f.measured_at)
		FROM reading_coverage c
		CROSS JOIN LATERAL (
			SELECT measured_at FROM readings
			WHERE patient_id = c.patient_id AND (meta & 7) = c.kind
				AND measured_at >= coalesce(c.plain_from, c.first_at) AND measured_at < $2::timestamptz
			ORDER BY measured_at LIMIT 1
		) f
		WHERE c.patient_id = $1 AND coalesce(c.plain_from, c.first_at) < $2::timestamptz`
	// compactTakeSQL deletes and returns the plain readings of the days
	// [$2, $3) of the patient.
	compactTakeSQL = `
		DELETE FROM readings
		WHERE patient_id = $1 AND (meta & 7) = ANY('{1,2,3,4}'::int4[])
			AND measured_at >= $2::timestamptz AND measured_at < $3::timestamptz
		RETURNING measured_at, value, meta`
	// compactExistingSQL deletes and returns compact rows of those days:
	// none, as a reading is in one form only; were there any, the day is
	// rebuilt from both, the plain readings winning.
	compactExistingSQL = `
		DELETE FROM readings_compact
		WHERE patient_id = $1 AND day >= $2::date AND day < $3::date
		RETURNING kind, day, data`
	compactPutSQL = `
		INSERT INTO readings_compact (patient_id, day, first_at, last_at, n, kind, data)
		SELECT $1, x.day, x.first_at, x.last_at, x.n, x.kind, x.data
		FROM unnest($2::date[], $3::timestamptz[], $4::timestamptz[], $5::int4[], $6::int2[], $7::bytea[])
			AS x(day, first_at, last_at, n, kind, data)`
	// compactDoneSQL records that no plain reading of the patient is
	// left before $2.
	compactDoneSQL = `
		UPDATE reading_coverage SET plain_from = $2::timestamptz
		WHERE patient_id = $1 AND coalesce(plain_from, first_at) < $2::timestamptz`
)

// CompactHistory moves the plain readings of every whole UTC day before
// before's day into the compact form, a patient and at most a month of
// days at a time, each in one transaction under the patient's ingestion
// lock: a day is in one form or the other, never both nor neither,
// whenever the process stops. Patients whose batches are being ingested
// are skipped until the next run. Running it again finds nothing to do.
// Concurrent runs (several replicas) are serialised by an advisory lock:
// a run that finds another in progress returns at once.
//
// On TimescaleDB it does nothing: the hypertable's compression policy
// compresses chunks older than 30 days (00002_readings.sql).
func (s *Store) CompactHistory(ctx context.Context, before time.Time) (CompactResult, error) {
	var res CompactResult
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("cgmstore: compact history: %w", translate(err))
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, `SELECT coalesce((SELECT value FROM store_settings WHERE name = 'readings_storage'), '')`).Scan(&res.Storage); err != nil {
		return res, fmt.Errorf("cgmstore: compact history: %w", translate(err))
	}
	if res.Storage != "native partitions" {
		return res, nil
	}
	// (1179861831, 2): one compaction at a time across replicas; held by
	// this session until the run ends.
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(1179861831, 2)`).Scan(&locked); err != nil {
		return res, fmt.Errorf("cgmstore: compact history: %w", translate(err))
	}
	if !locked {
		return res, nil
	}
	defer func() {
		// A fresh context: the lock must go back even when ctx is done
		// (else the pooled session would keep it).
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(1179861831, 2)`); err != nil {
			conn.Conn().Close(uctx) // drop the session, and its lock with it
		}
	}()

	cutoff := utcDay(before)
	after := int32(0)
	for {
		rows, _ := conn.Query(ctx, compactCandidatesSQL, cutoff, after)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return res, fmt.Errorf("cgmstore: compact history: candidates: %w", translate(err))
		}
		if len(ids) == 0 {
			return res, nil
		}
		for _, id := range ids {
			moved, skipped, err := s.compactPatient(ctx, conn.Conn(), id, cutoff)
			if err != nil {
				return res, fmt.Errorf("cgmstore: compact history of patient %d: %w", id, err)
			}
			if skipped {
				res.Skipped++
			}
			if moved.Days > 0 {
				res.Patients++
				res.Days += moved.Days
				res.Readings += moved.Readings
			}
		}
		after = ids[len(ids)-1]
	}
}

// compactPatient compacts the days of one patient before cutoff, a
// transaction of at most compactMaxDays days at a time. skipped reports
// that the patient's ingestion lock was taken.
func (s *Store) compactPatient(ctx context.Context, conn *pgx.Conn, patient int32, cutoff time.Time) (moved CompactResult, skipped bool, err error) {
	for {
		done := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var locked bool
			var first *time.Time
			batch := &pgx.Batch{}
			batch.Queue(compactLockSQL, patient)
			batch.Queue(compactFirstSQL, patient, cutoff)
			br := tx.SendBatch(ctx, batch)
			err := br.QueryRow().Scan(&locked)
			if err == nil {
				err = br.QueryRow().Scan(&first)
			}
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return translate(err)
			}
			if !locked {
				skipped, done = true, true
				return nil
			}
			if first == nil {
				// Nothing plain is left before the cutoff.
				done = true
				_, err := tx.Exec(ctx, compactDoneSQL, patient, cutoff)
				return translate(err)
			}
			lo := utcDay(*first)
			hi := lo.AddDate(0, 0, compactMaxDays)
			if !hi.Before(cutoff) {
				hi, done = cutoff, true
			}
			days, n, err := compactDays(ctx, tx, patient, lo, hi)
			if err != nil {
				return err
			}
			moved.Days += days
			moved.Readings += n
			_, err = tx.Exec(ctx, compactDoneSQL, patient, hi)
			return translate(err)
		})
		if err != nil || done {
			return moved, skipped, err
		}
	}
}

// compactDays moves the readings of the patient on the UTC days [lo, hi)
// into compact rows, in tx, and returns the rows written and the readings
// they hold.
func compactDays(ctx context.Context, tx pgx.Tx, patient int32, lo, hi time.Time) (int64, int64, error) {
	batch := &pgx.Batch{}
	batch.Queue(compactTakeSQL, patient, lo, hi)
	batch.Queue(compactExistingSQL, patient, dateOf(lo), dateOf(hi))
	br := tx.SendBatch(ctx, batch)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return 0, 0, translate(err)
	}
	var (
		plain       []storedReading
		t           time.Time
		value, meta int16
	)
	_, err = pgx.ForEachRow(rows, []any{&t, &value, &meta}, func() error {
		plain = append(plain, storedReading{us: t.UnixMicro(), value: value, meta: meta})
		return nil
	})
	if err != nil {
		return 0, 0, translate(err)
	}
	rows, err = br.Query()
	if err != nil {
		return 0, 0, translate(err)
	}
	var (
		old  []storedReading
		kind int16
		day  pgtype.Date
		data []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&kind, &day, &data}, func() error {
		var err error
		old, err = decodeCompact(old, day.Time, kind, data)
		return err
	})
	if err != nil {
		return 0, 0, translate(err)
	}
	if err := br.Close(); err != nil {
		return 0, 0, translate(err)
	}
	if len(plain) == 0 && len(old) == 0 {
		return 0, 0, nil
	}

	// By kind, day and instant; a plain reading wins over a compact one
	// of the same key (stable sort: plain ones come first).
	all := append(plain, old...)
	slices.SortStableFunc(all, func(a, b storedReading) int {
		if c := (a.meta & metaKindMask) - (b.meta & metaKindMask); c != 0 {
			return int(c)
		}
		switch {
		case a.us < b.us:
			return -1
		case a.us > b.us:
			return 1
		}
		return 0
	})
	all = slices.CompactFunc(all, func(a, b storedReading) bool {
		return a.us == b.us && a.meta&metaKindMask == b.meta&metaKindMask
	})
	var (
		days          []pgtype.Date
		firsts, lasts []time.Time
		counts        []int32
		kinds         []int16
		datas         [][]byte
		nread, nrows  int64
	)
	for i := 0; i < len(all); {
		k := all[i].meta & metaKindMask
		d := utcDay(time.UnixMicro(all[i].us))
		end := d.Add(24 * time.Hour).UnixMicro()
		j := i + 1
		for j < len(all) && all[j].meta&metaKindMask == k && all[j].us < end {
			j++
		}
		if j-i > maxCompactReadings {
			return 0, 0, fmt.Errorf("%d readings of kind %d on %s: more than a compact row holds", j-i, k, d.Format(time.DateOnly))
		}
		b, err := encodeCompact(d, all[i:j])
		if err != nil {
			return 0, 0, err
		}
		days = append(days, pgtype.Date{Time: d, Valid: true})
		firsts = append(firsts, time.UnixMicro(all[i].us).UTC())
		lasts = append(lasts, time.UnixMicro(all[j-1].us).UTC())
		counts = append(counts, int32(j-i))
		kinds = append(kinds, k)
		datas = append(datas, b)
		nread += int64(j - i)
		nrows++
		i = j
	}
	if _, err := tx.Exec(ctx, compactPutSQL, patient, days, firsts, lasts, counts, kinds, datas); err != nil {
		return 0, 0, translate(err)
	}
	return nrows, nread, nil
}

// RunCompaction compacts, every interval (and once at start), the readings
// older than after (see CompactHistory), until ctx is done. A run that
// fails is logged and retried at the next interval. It is the
// readings-compact job of "fsecgm serve".
func (s *Store) RunCompaction(ctx context.Context, after, interval time.Duration) error {
	if after <= 0 || interval <= 0 {
		return errors.New("cgmstore: compaction: age and interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		res, err := s.CompactHistory(ctx, start.Add(-after))
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.logger.ErrorContext(ctx, "cgmstore: compaction failed; retried at the next run", "err", err)
		case res.Storage == "native partitions":
			s.logger.InfoContext(ctx, "cgmstore: readings compacted", "patients", res.Patients, "days", res.Days,
				"readings", res.Readings, "skipped_patients", res.Skipped, "seconds", time.Since(start).Seconds())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
