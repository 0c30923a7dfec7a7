package cgmstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fsecgm/cgm/vitals"

	"github.com/jackc/pgx/v5"
)

// The reads of measurements, served by measurements_key (patient_id, kind,
// start_at, source_id) of the partitions the range touches.
const (
	// A sample meets [$5, $4) when it starts before $4 and ends after $5
	// (or is an instant at or after $5); it starts at most 48 hours
	// (vitals.MaxInterval) before $5, so $3 = $5 − 48 h bounds the scan.
	measurementsSQL = `
		SELECT start_at, seconds, kind, value, value2, source_id FROM measurements
		WHERE patient_id = $1 AND kind = ANY($2::int2[]) AND start_at >= $3 AND start_at < $4
			AND (start_at >= $5 OR start_at + make_interval(secs => seconds) > $5)
		ORDER BY kind, start_at, source_id`
	vitalSourcesSQL = `
		SELECT id, name, class, device, rank, first_seen, last_seen FROM vital_sources
		WHERE patient_id = $1 ORDER BY rank NULLS LAST, id`
	measurementCoverageSQL = `
		SELECT kind, first_at, last_at, measurements FROM measurement_coverage
		WHERE patient_id = $1 ORDER BY kind`
)

// VitalSource is a source of a patient's measurements.
type VitalSource struct {
	// ID identifies the source among the patient's (for the ranking).
	ID int64
	// Name and Class are as the measurements gave them.
	Name  string
	Class vitals.Class
	// Device is the last device text seen, or "".
	Device string
	// Rank is the patient's position for it (1 first), 0 when the patient
	// has not placed it (the default order applies).
	Rank int
	// FirstSeen and LastSeen bound its measurements.
	FirstSeen, LastSeen time.Time
}

// VitalSources holds a patient's sources and the ranking they make.
type VitalSources []VitalSource

// Ranking returns the ranking the patient chose: the ranked sources first,
// in their order, then the default order.
func (vs VitalSources) Ranking() vitals.Ranking {
	var r vitals.Ranking
	for _, s := range vs {
		if s.Rank > 0 && !slices.Contains(r.Order, s.Name) {
			r.Order = append(r.Order, s.Name)
		}
	}
	return r
}

// Ordered returns the sources in the order that decides overlaps, best
// first.
func (vs VitalSources) Ordered() VitalSources {
	r := vs.Ranking()
	out := slices.Clone(vs)
	slices.SortStableFunc(out, func(a, b VitalSource) int {
		switch {
		case r.Less(vitals.Source{Name: a.Name, Class: a.Class}, vitals.Source{Name: b.Name, Class: b.Class}):
			return -1
		case r.Less(vitals.Source{Name: b.Name, Class: b.Class}, vitals.Source{Name: a.Name, Class: a.Class}):
			return 1
		}
		return 0
	})
	return out
}

// MeasurementKindCoverage summarises the measurements of one kind.
type MeasurementKindCoverage struct {
	Kind        vitals.Kind
	First, Last time.Time // first and last start
	Count       int64
}

// Measurements returns the measurements of a patient of the given kinds
// (all when none is given) whose interval meets [from, to) — an interval
// that starts before from and ends after it is included — ordered by kind
// and start, each with its source's name, class and device. A patient
// that does not exist is ErrNotFound.
func (s *Store) Measurements(ctx context.Context, patientID int64, from, to time.Time, kinds ...vitals.Kind) ([]vitals.Measurement, error) {
	return measurements(ctx, s.pool, patientID, from, to, kinds)
}

// Measurements is Store.Measurements in the transaction.
func (r TxReader) Measurements(ctx context.Context, patientID int64, from, to time.Time, kinds ...vitals.Kind) ([]vitals.Measurement, error) {
	return measurements(ctx, r.tx, patientID, from, to, kinds)
}

func measurements(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []vitals.Kind) ([]vitals.Measurement, error) {
	ks := make([]int16, 0, vitals.MaxKind)
	if len(kinds) == 0 {
		kinds = vitals.Kinds()
	}
	for _, k := range kinds {
		if !k.Valid() {
			return nil, fmt.Errorf("cgmstore: measurements: %w: kind %v", ErrInvalid, k)
		}
		ks = append(ks, int16(k))
	}
	batch := &pgx.Batch{}
	batch.Queue(patientExistsSQL, patientID)
	batch.Queue(vitalSourcesSQL, patientID)
	batch.Queue(measurementsSQL, patientID, ks, from.Add(-vitals.MaxInterval), to, from)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, fmt.Errorf("cgmstore: measurements of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return nil, fmt.Errorf("cgmstore: measurements of patient %d: %w", patientID, ErrNotFound)
	}
	srcs, err := collectSources(br)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: measurements of patient %d: sources: %w", patientID, translate(err))
	}
	byID := make(map[int64]*VitalSource, len(srcs))
	for i := range srcs {
		byID[srcs[i].ID] = &srcs[i]
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("cgmstore: measurements of patient %d: %w", patientID, translate(err))
	}
	var out []vitals.Measurement
	var start time.Time
	var secs int32
	var kind int16
	var value float64
	var value2 *float64
	var src int32
	_, err = pgx.ForEachRow(rows, []any{&start, &secs, &kind, &value, &value2, &src}, func() error {
		m := vitals.Measurement{Kind: vitals.Kind(kind), Start: start.UTC(), End: start.UTC().Add(time.Duration(secs) * time.Second), Value: value}
		if value2 != nil {
			m.Value2 = *value2
		}
		if vs := byID[int64(src)]; vs != nil {
			m.Source, m.Class, m.Device = vs.Name, vs.Class, vs.Device
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: measurements of patient %d: %w", patientID, translate(err))
	}
	return out, nil
}

func collectSources(br pgx.BatchResults) (VitalSources, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	var out VitalSources
	var v VitalSource
	var class int16
	var rank *int16
	_, err = pgx.ForEachRow(rows, []any{&v.ID, &v.Name, &class, &v.Device, &rank, &v.FirstSeen, &v.LastSeen}, func() error {
		v.Class, v.Rank = vitals.Class(class), 0
		if rank != nil {
			v.Rank = int(*rank)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// VitalSources returns a patient's sources of measurements, those the
// patient ranked first in their order, then the others by id.
func (s *Store) VitalSources(ctx context.Context, patientID int64) (VitalSources, error) {
	return vitalSources(ctx, s.pool, patientID)
}

// VitalSources is Store.VitalSources in the transaction.
func (r TxReader) VitalSources(ctx context.Context, patientID int64) (VitalSources, error) {
	return vitalSources(ctx, r.tx, patientID)
}

func vitalSources(ctx context.Context, q batcher, patientID int64) (VitalSources, error) {
	batch := &pgx.Batch{}
	batch.Queue(patientExistsSQL, patientID)
	batch.Queue(vitalSourcesSQL, patientID)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, fmt.Errorf("cgmstore: sources of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return nil, fmt.Errorf("cgmstore: sources of patient %d: %w", patientID, ErrNotFound)
	}
	srcs, err := collectSources(br)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: sources of patient %d: %w", patientID, translate(err))
	}
	return srcs, nil
}

// MeasurementCoverage returns, per kind with measurements, the first and
// last start and the count (kind order); none for a patient without any.
func (s *Store) MeasurementCoverage(ctx context.Context, patientID int64) ([]MeasurementKindCoverage, error) {
	return measurementCoverage(ctx, s.pool, patientID)
}

// MeasurementCoverage is Store.MeasurementCoverage in the transaction.
func (r TxReader) MeasurementCoverage(ctx context.Context, patientID int64) ([]MeasurementKindCoverage, error) {
	return measurementCoverage(ctx, r.tx, patientID)
}

func measurementCoverage(ctx context.Context, q batcher, patientID int64) ([]MeasurementKindCoverage, error) {
	batch := &pgx.Batch{}
	batch.Queue(measurementCoverageSQL, patientID)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("cgmstore: measurement coverage of patient %d: %w", patientID, translate(err))
	}
	var out []MeasurementKindCoverage
	var c MeasurementKindCoverage
	var kind int16
	_, err = pgx.ForEachRow(rows, []any{&kind, &c.First, &c.Last, &c.Count}, func() error {
		c.Kind = vitals.Kind(kind)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: measurement coverage of patient %d: %w", patientID, translate(err))
	}
	return out, nil
}

// SetVitalRanking stores, in tx, the patient's order of their sources:
// order lists source ids (VitalSource.ID), best first; sources not listed
// go back to the default order. The patient's daily summaries are marked
// for recomputation from their first measurement, in tx. An id that is not
// one of the patient's sources, or listed twice, is ErrInvalid.
func (s *Store) SetVitalRanking(ctx context.Context, tx pgx.Tx, patientID int64, order []int64) error {
	seen := map[int64]bool{}
	for _, id := range order {
		if seen[id] {
			return fmt.Errorf("cgmstore: ranking of patient %d: %w: source %d listed twice", patientID, ErrInvalid, id)
		}
		seen[id] = true
	}
	var n int
	err := tx.QueryRow(ctx, `
		WITH r AS (SELECT id, n FROM unnest($2::int8[]) WITH ORDINALITY AS x(id, n)),
		upd AS (
			UPDATE vital_sources v SET rank = r.n
			FROM r WHERE v.patient_id = $1 AND v.id = r.id
			RETURNING v.id
		),
		clear AS (
			UPDATE vital_sources v SET rank = NULL
			WHERE v.patient_id = $1 AND v.rank IS NOT NULL AND v.id <> ALL($2::int8[])
		),
		dirty AS (
			INSERT INTO vital_days_dirty AS d (patient_id, since, marked_at)
			SELECT $1, min(first_seen), now() FROM vital_sources WHERE patient_id = $1 HAVING count(*) > 0
			ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at
		)
		SELECT count(*) FROM upd`, patientID, order).Scan(&n)
	if err != nil {
		return fmt.Errorf("cgmstore: ranking of patient %d: %w", patientID, translate(err))
	}
	if n != len(order) {
		return fmt.Errorf("cgmstore: ranking of patient %d: %w: %d of the %d sources are not the patient's", patientID, ErrInvalid, len(order)-n, len(order))
	}
	return nil
}
