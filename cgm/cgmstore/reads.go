package cgmstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The reads. Each is served by the readings_key index (patient_id, kind,
// measured_at) of the partitions that [from, to) touches, or by the primary
// key of reading_coverage; store_test.go shows their plans.
const (
	readingsSQL = `
		SELECT measured_at, value, meta FROM readings
		WHERE patient_id = $1 AND (meta & 7) = ANY($2::int4[]) AND measured_at >= $3 AND measured_at < $4
		ORDER BY measured_at, (meta & 7)`
	latestSQL = `
		SELECT r.measured_at, r.value, r.meta
		FROM reading_coverage c
		JOIN LATERAL (
			SELECT measured_at, value, meta FROM readings
			WHERE patient_id = c.patient_id AND (meta & 7) = c.kind AND measured_at = c.last_at
		) r ON true
		WHERE c.patient_id = $1 AND c.kind = ANY($2::int2[])
		ORDER BY r.measured_at DESC, c.kind DESC
		LIMIT 1`
	coverageReadSQL = `
		SELECT c.kind, c.first_at, c.last_at, c.readings
		FROM patients p JOIN reading_coverage c ON c.patient_id = p.id
		WHERE p.id = $1
		ORDER BY c.kind`
	patientExistsSQL = `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`
)

// Readings returns the readings of a patient taken in [from, to) of the
// given kinds (all kinds when none is given), oldest first, each with the
// serial of the device whose wear window covers it (see [Device]).
func (s *Store) Readings(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) (cgm.Series, error) {
	return readings(ctx, s.pool, patientID, from, to, kinds)
}

func readings(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []cgm.Kind) (cgm.Series, error) {
	ks, err := kindList(kinds)
	if err != nil {
		return nil, err
	}
	batch := &pgx.Batch{}
	batch.Queue(patientExistsSQL, patientID)
	batch.Queue(devicesQuery, patientID)
	batch.Queue(readingsSQL, patientID, ks, from, to)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, ErrNotFound)
	}
	ds, err := collectDevices(br)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: readings of patient %d: devices: %w", patientID, translate(err))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	out, err := collectReadings(rows, newAttributor(ds), true)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	// The query orders by (instant, kind), and the key makes (instant,
	// kind) unique: out is already what cgm.NewSeries would build.
	return out, nil
}

// collectReadings reads the rows of readingsSQL (measured_at, value, meta)
// into a series, each reading attributed to its device by att. With raw,
// rows in PostgreSQL's binary format are decoded from their bytes (a
// timestamptz is microseconds since 2000-01-01 UTC, an int2 two bytes big
// endian): a 14-day read moves thousands of rows, and pgx's general Scan
// costs several times the decoding itself (BenchmarkReadings). Rows in any
// other format go through Scan.
func collectReadings(rows pgx.Rows, att attributor, raw bool) (cgm.Series, error) {
	defer rows.Close()
	var (
		out         cgm.Series
		t           time.Time
		value, meta int16
	)
	fast := false
	for first := true; rows.Next(); first = false {
		if first {
			fast = raw && binaryReadingRows(rows.FieldDescriptions())
		}
		if fast {
			v := rows.RawValues()
			if len(v[0]) != 8 || len(v[1]) != 2 || len(v[2]) != 2 {
				return nil, fmt.Errorf("reading row %d: unexpected binary field sizes %d, %d, %d", len(out)+1, len(v[0]), len(v[1]), len(v[2]))
			}
			us := int64(binary.BigEndian.Uint64(v[0]))
			if us == math.MaxInt64 || us == math.MinInt64 { // ±infinity
				return nil, fmt.Errorf("reading row %d: infinite time", len(out)+1)
			}
			t = time.UnixMicro(us + postgresEpochMicros)
			value, meta = int16(binary.BigEndian.Uint16(v[1])), int16(binary.BigEndian.Uint16(v[2]))
		} else if err := rows.Scan(&t, &value, &meta); err != nil {
			return nil, err
		}
		r := decode(t, value, meta)
		r.Device = att.device(r.Time)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// postgresEpochMicros is 2000-01-01 00:00:00 UTC, the epoch of
// PostgreSQL's binary timestamps, in Unix microseconds.
const postgresEpochMicros = 946684800 * 1_000_000

// binaryReadingRows reports whether fds are readingsSQL's columns in
// binary format: timestamptz, int2, int2.
func binaryReadingRows(fds []pgconn.FieldDescription) bool {
	return len(fds) == 3 &&
		fds[0].Format == pgx.BinaryFormatCode && fds[0].DataTypeOID == pgtype.TimestamptzOID &&
		fds[1].Format == pgx.BinaryFormatCode && fds[1].DataTypeOID == pgtype.Int2OID &&
		fds[2].Format == pgx.BinaryFormatCode && fds[2].DataTypeOID == pgtype.Int2OID
}

// Latest returns the most recent reading of a patient of the given kinds
// (all kinds when none is given), with its device. ErrNotFound when the
// patient does not exist or has no such reading.
func (s *Store) Latest(ctx context.Context, patientID int64, kinds ...cgm.Kind) (cgm.Reading, error) {
	return latest(ctx, s.pool, patientID, kinds)
}

func latest(ctx context.Context, q batcher, patientID int64, kinds []cgm.Kind) (cgm.Reading, error) {
	ks32, err := kindList(kinds)
	if err != nil {
		return cgm.Reading{}, err
	}
	ks := make([]int16, len(ks32))
	for i, k := range ks32 {
		ks[i] = int16(k)
	}
	batch := &pgx.Batch{}
	batch.Queue(latestSQL, patientID, ks)
	batch.Queue(devicesQuery, patientID)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var (
		t           time.Time
		value, meta int16
	)
	if err := br.QueryRow().Scan(&t, &value, &meta); err != nil {
		return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: %w", patientID, translate(err))
	}
	ds, err := collectDevices(br)
	if err != nil {
		return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: devices: %w", patientID, translate(err))
	}
	r := decode(t, value, meta)
	r.Device = newAttributor(ds).device(r.Time)
	return r, nil
}

// Coverage summarises the readings of a patient.
type Coverage struct {
	// First and Last are the instants of the first and last reading of
	// any kind; zero when there is none.
	First, Last time.Time
	// Count is the number of readings of all kinds.
	Count int64
	// Kinds has one entry per kind with readings, in kind order.
	Kinds []KindCoverage
}

// KindCoverage summarises the readings of one kind.
type KindCoverage struct {
	Kind        cgm.Kind
	First, Last time.Time
	Count       int64
}

// Coverage returns the first and last reading and the number of readings of
// a patient, per kind and in all. A patient with no readings has a zero
// Coverage; one that does not exist is ErrNotFound.
func (s *Store) Coverage(ctx context.Context, patientID int64) (Coverage, error) {
	return coverage(ctx, s.pool, patientID)
}

func coverage(ctx context.Context, q batcher, patientID int64) (Coverage, error) {
	batch := &pgx.Batch{}
	batch.Queue(patientExistsSQL, patientID)
	batch.Queue(coverageReadSQL, patientID)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return Coverage{}, fmt.Errorf("cgmstore: coverage of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return Coverage{}, fmt.Errorf("cgmstore: coverage of patient %d: %w", patientID, ErrNotFound)
	}
	rows, err := br.Query()
	if err != nil {
		return Coverage{}, fmt.Errorf("cgmstore: coverage of patient %d: %w", patientID, translate(err))
	}
	var c Coverage
	var k KindCoverage
	var kind int16
	_, err = pgx.ForEachRow(rows, []any{&kind, &k.First, &k.Last, &k.Count}, func() error {
		kc := KindCoverage{Kind: cgm.Kind(kind), First: k.First.UTC(), Last: k.Last.UTC(), Count: k.Count}
		if c.First.IsZero() || kc.First.Before(c.First) {
			c.First = kc.First
		}
		if kc.Last.After(c.Last) {
			c.Last = kc.Last
		}
		c.Count += kc.Count
		c.Kinds = append(c.Kinds, kc)
		return nil
	})
	if err != nil {
		return Coverage{}, fmt.Errorf("cgmstore: coverage of patient %d: %w", patientID, translate(err))
	}
	return c, nil
}

// Revision is a stored reading replaced by a different value.
type Revision struct {
	// Time and Kind are the key of the reading.
	Time time.Time
	Kind cgm.Kind
	// Old is the reading as it was, New as it became (without devices).
	Old, New cgm.Reading
	// OldSource and NewSource are the sources of the two values.
	OldSource, NewSource Source
	// RevisedAt is when the value was replaced (the ingesting
	// transaction's start).
	RevisedAt time.Time
}

// Revisions returns the revisions of a patient's readings taken in
// [from, to), in the order they were made.
func (s *Store) Revisions(ctx context.Context, patientID int64, from, to time.Time) ([]Revision, error) {
	const q = `
		SELECT measured_at, old_value, old_meta, new_value, new_meta, revised_at
		FROM reading_revisions
		WHERE patient_id = $1 AND measured_at >= $2 AND measured_at < $3
		ORDER BY id`
	rows, _ := s.pool.Query(ctx, q, patientID, from, to)
	var (
		t, at          time.Time
		ov, om, nv, nm int16
		out            []Revision
	)
	_, err := pgx.ForEachRow(rows, []any{&t, &ov, &om, &nv, &nm, &at}, func() error {
		old, nw := decode(t, ov, om), decode(t, nv, nm)
		out = append(out, Revision{Time: old.Time, Kind: old.Kind, Old: old, New: nw,
			OldSource: sourceOf(om), NewSource: sourceOf(nm), RevisedAt: at.UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: revisions of patient %d: %w", patientID, translate(err))
	}
	return out, nil
}
