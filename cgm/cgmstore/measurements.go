package cgmstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"fsecgm/cgm/vitals"

	"github.com/jackc/pgx/v5"
)

// This file is the store's second family of data: the measurements of the
// patient's own devices (package cgm/vitals), in table measurements
// (migration 00090), beside the readings and with their rules. Every
// measurement enters through IngestMeasurements (or its Tx form): a batch is
// validated, bulk-loaded in one transaction under the patient's ingestion
// lock (the same advisory lock as readings), and counted as inserted,
// duplicate, revised (old values kept in measurement_revisions) or
// rejected; the patient's daily summaries are marked for recomputation in
// the same transaction (vital_days_dirty). The same batch twice changes
// nothing the second time.
//
// A measurement's key is (patient, kind, start instant, source): the same
// minute of steps from the watch and from the phone are two rows, merged
// only when summarised (vitals.Merge, by the patient's ranking of sources).
// Sources are rows of vital_sources (name and class), created as batches
// name them.

// Channel says how measurements arrived.
type Channel uint8

// The channels. At most 7 (the column's check).
const (
	// ChannelAppleHealth: an Apple Health export (connectors/applehealth).
	ChannelAppleHealth Channel = 1
	// ChannelTakeout: a Google Takeout of Fitbit or Google Fit data
	// (connectors/takeout).
	ChannelTakeout Channel = 2
	// ChannelFHIR: Observations submitted through the FHIR API.
	ChannelFHIR Channel = 3
	// ChannelSimulator: the demo's simulator (connectors/vitalsim).
	ChannelSimulator Channel = 4
)

var channelNames = [...]string{
	ChannelAppleHealth: "applehealth",
	ChannelTakeout:     "takeout",
	ChannelFHIR:        "fhir",
	ChannelSimulator:   "simulator",
}

// String returns applehealth, takeout, fhir or simulator.
func (c Channel) String() string {
	if c.Valid() {
		return channelNames[c]
	}
	return fmt.Sprintf("Channel(%d)", uint8(c))
}

// Valid reports whether c is a defined channel.
func (c Channel) Valid() bool { return int(c) < len(channelNames) && channelNames[c] != "" }

// MeasurementBatch is a set of measurements of one patient that arrived
// together.
type MeasurementBatch struct {
	// Patient is the patient's internal key (Patient.ID).
	Patient int64
	// Channel is how they arrived.
	Channel Channel
	// Measurements in any order. Several with the same key (kind, start,
	// source): the last one given wins.
	Measurements []vitals.Measurement
}

// MeasurementResult counts what IngestMeasurements did with each
// measurement: Inserted + Duplicate + Revised + Rejected = len(batch).
type MeasurementResult struct {
	// Inserted are new; Duplicate were stored with the same value, length
	// and diastolic (or superseded in the batch); Revised were stored with
	// another and now hold the new one, the old kept in
	// measurement_revisions; Rejected failed validation.
	Inserted, Duplicate, Revised, Rejected int
	// Rejections lists the rejected measurements, in batch order (Index is
	// the position in the batch; Err a *cgm.FieldError).
	Rejections []Rejection
	// Oldest and Newest bound the valid measurements' starts (zero when
	// none).
	Oldest, Newest time.Time
}

// mprepared is a validated batch of measurements.
type mprepared struct {
	patient int32
	channel Channel
	ms      []vitals.Measurement // normalised, valid, sorted by key, one per key
	sources []msource
	srcIdx  []int // source of ms[i] in sources
	months  []int
	kinds   [vitals.MaxKind + 1]kindStat
	res     MeasurementResult
}

type msource struct {
	name        string
	class       vitals.Class
	device      string
	first, last time.Time
	id          int32
}

// prepareMeasurements validates a batch without touching the database.
func (s *Store) prepareMeasurements(b MeasurementBatch) (*mprepared, error) {
	if !b.Channel.Valid() {
		return nil, fmt.Errorf("cgmstore: ingest measurements: %w: channel %v", ErrInvalid, b.Channel)
	}
	if b.Patient <= 0 || b.Patient > math.MaxInt32 {
		return nil, fmt.Errorf("cgmstore: ingest measurements: patient %d: %w", b.Patient, ErrNotFound)
	}
	p := &mprepared{patient: int32(b.Patient), channel: b.Channel}
	now := s.now()
	type item struct {
		m   vitals.Measurement
		pos int
	}
	items := make([]item, 0, len(b.Measurements))
	for i, m := range b.Measurements {
		m = m.Normalize()
		// Stored: the start to the microsecond, the length in whole
		// seconds.
		m.Start = m.Start.Truncate(time.Microsecond)
		m.End = m.Start.Add(m.End.Sub(m.Start).Round(time.Second))
		if m.Kind.Sleep() {
			m.Value = m.End.Sub(m.Start).Minutes()
		}
		if err := m.Validate(now); err != nil {
			p.res.Rejections = append(p.res.Rejections, Rejection{Index: i, Err: err})
			continue
		}
		items = append(items, item{m, i})
	}
	p.res.Rejected = len(p.res.Rejections)
	key := func(a, b item) int {
		if c := cmp.Compare(a.m.Kind, b.m.Kind); c != 0 {
			return c
		}
		if c := a.m.Start.Compare(b.m.Start); c != 0 {
			return c
		}
		if c := strings.Compare(a.m.Source, b.m.Source); c != 0 {
			return c
		}
		return cmp.Compare(a.m.Class, b.m.Class)
	}
	slices.SortStableFunc(items, key)
	srcs := map[vitals.Source]int{}
	for i, it := range items {
		if i+1 < len(items) && key(it, items[i+1]) == 0 {
			p.res.Duplicate++ // superseded by a later one in the batch
			continue
		}
		m := it.m
		sk := vitals.Source{Name: m.Source, Class: m.Class}
		j, ok := srcs[sk]
		if !ok {
			j = len(p.sources)
			srcs[sk] = j
			p.sources = append(p.sources, msource{name: m.Source, class: m.Class, first: m.Start, last: m.End})
		}
		src := &p.sources[j]
		if m.Device != "" {
			src.device = m.Device
		}
		src.first, src.last = minTime(src.first, m.Start), maxTime(src.last, m.End)
		p.ms = append(p.ms, m)
		p.srcIdx = append(p.srcIdx, j)
		k := &p.kinds[m.Kind]
		if k.n == 0 || m.Start.Before(k.first) {
			k.first = m.Start
		}
		if k.n == 0 || m.Start.After(k.last) {
			k.last = m.Start
		}
		k.n++
		if p.res.Oldest.IsZero() || m.Start.Before(p.res.Oldest) {
			p.res.Oldest = m.Start
		}
		if m.Start.After(p.res.Newest) {
			p.res.Newest = m.Start
		}
		mo := monthOf(m.Start)
		if _, found := slices.BinarySearch(p.months, mo); !found {
			p.months = append(p.months, mo)
			slices.Sort(p.months)
		}
	}
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// IngestMeasurements validates the measurements of b and writes the valid
// ones in one transaction: all of them or, on error, none. A batch for a
// patient that does not exist is ErrNotFound; an unknown channel is
// ErrInvalid. Batches of one patient are serialised with each other and
// with the patient's glucose batches.
//
// When a batch inserts or revises measurements, the same transaction marks
// the patient's daily summaries for recomputation from the earliest changed
// start (vital_days_dirty).
func (s *Store) IngestMeasurements(ctx context.Context, b MeasurementBatch) (MeasurementResult, error) {
	p, err := s.prepareMeasurements(b)
	if err != nil {
		return MeasurementResult{}, err
	}
	s.ensureMonths(ctx, s.measureParts, p.months)
	var res MeasurementResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.writeMeasurements(ctx, tx, p)
		return err
	})
	if err != nil {
		return MeasurementResult{}, fmt.Errorf("cgmstore: ingest measurements for patient %d: %w", b.Patient, translate(err))
	}
	return res, nil
}

// IngestMeasurementsTx is IngestMeasurements within the caller's
// transaction tx, inside a savepoint: on error nothing of the batch remains
// and tx stays usable. Partitions are handled as by IngestTx.
func (s *Store) IngestMeasurementsTx(ctx context.Context, tx pgx.Tx, b MeasurementBatch) (MeasurementResult, error) {
	p, err := s.prepareMeasurements(b)
	if err != nil {
		return MeasurementResult{}, err
	}
	if err := s.prepareMonths(ctx, tx, s.measureParts, p.months); err != nil {
		return MeasurementResult{}, err
	}
	var res MeasurementResult
	err = pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
		var err error
		res, err = s.writeMeasurements(ctx, tx, p)
		return err
	})
	if err != nil {
		return MeasurementResult{}, fmt.Errorf("cgmstore: ingest measurements for patient %d: %w", b.Patient, translate(err))
	}
	return res, nil
}

const (
	upsertSourcesSQL = `
		INSERT INTO vital_sources AS v (patient_id, name, class, device, first_seen, last_seen)
		SELECT $1, x.name, x.class, x.device, x.first_seen, x.last_seen
		FROM unnest($2::text[], $3::int2[], $4::text[], $5::timestamptz[], $6::timestamptz[])
			AS x(name, class, device, first_seen, last_seen)
		ON CONFLICT (patient_id, name, class) DO UPDATE SET
			device = CASE WHEN excluded.device <> '' THEN excluded.device ELSE v.device END,
			first_seen = least(v.first_seen, excluded.first_seen),
			last_seen = greatest(v.last_seen, excluded.last_seen)
		WHERE (v.device, v.first_seen, v.last_seen) IS DISTINCT FROM
			(CASE WHEN excluded.device <> '' THEN excluded.device ELSE v.device END,
			 least(v.first_seen, excluded.first_seen), greatest(v.last_seen, excluded.last_seen))`
	sourceIDsSQL = `
		SELECT v.id FROM unnest($2::text[], $3::int2[]) WITH ORDINALITY AS x(name, class, n)
		JOIN vital_sources v ON v.patient_id = $1 AND v.name = x.name AND v.class = x.class
		ORDER BY x.n`
	// mclaimSQL: does the patient have measurements of these kinds in the
	// batch's range? When not, the batch is copied straight into
	// measurements, and the statement adds it to the coverage and marks
	// the days; otherwise mmergeSQL does.
	mclaimSQL = `
		WITH existing AS (
			SELECT EXISTS (SELECT 1 FROM measurements
				WHERE patient_id = $1 AND kind = ANY($2::int2[]) AND start_at BETWEEN $3 AND $4) AS found
		),
		cov AS (
			INSERT INTO measurement_coverage AS c (patient_id, kind, first_at, last_at, measurements)
			SELECT $1, k.kind, k.first_at, k.last_at, k.n
			FROM unnest($2::int2[], $5::timestamptz[], $6::timestamptz[], $7::int8[]) AS k(kind, first_at, last_at, n)
			WHERE NOT (SELECT found FROM existing)
			ON CONFLICT (patient_id, kind) DO UPDATE SET
				first_at = least(c.first_at, excluded.first_at),
				last_at = greatest(c.last_at, excluded.last_at),
				measurements = c.measurements + excluded.measurements
		),
		dirty AS (
			INSERT INTO vital_days_dirty AS d (patient_id, since, marked_at)
			SELECT $1, $3, now() WHERE NOT (SELECT found FROM existing)
			ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at
		)
		SELECT found FROM existing`
	mstagingSQL = `CREATE TEMP TABLE IF NOT EXISTS measurements_staging (
		start_at  timestamptz      NOT NULL,
		source_id integer          NOT NULL,
		value     double precision NOT NULL,
		seconds   integer          NOT NULL,
		kind      smallint         NOT NULL,
		value2    double precision
	) ON COMMIT DELETE ROWS`
	// mmergeSQL writes the staged measurements: new ones inserted, changed
	// ones updated with the old kept in measurement_revisions, equal ones
	// left alone (not even locked). It returns the counts.
	mmergeSQL = `
		WITH s AS MATERIALIZED (
			SELECT s.*, m.value AS old_value, m.seconds AS old_seconds, m.value2 AS old_value2, m.kind IS NOT NULL AS found
			FROM measurements_staging s
			LEFT JOIN measurements m ON m.patient_id = $1 AND m.kind = s.kind AND m.start_at = s.start_at
				AND m.source_id = s.source_id AND m.start_at BETWEEN $2 AND $3
		),
		changed AS (
			SELECT * FROM s
			WHERE found AND (value <> old_value OR seconds <> old_seconds OR value2 IS DISTINCT FROM old_value2)
		),
		ins AS (
			INSERT INTO measurements (start_at, patient_id, source_id, value, seconds, kind, channel, value2)
			SELECT start_at, $1, source_id, value, seconds, kind, $4, value2 FROM s WHERE NOT found
			RETURNING start_at, kind
		),
		upd AS (
			UPDATE measurements m SET value = c.value, seconds = c.seconds, value2 = c.value2, channel = $4
			FROM changed c
			WHERE m.patient_id = $1 AND m.kind = c.kind AND m.start_at = c.start_at AND m.source_id = c.source_id
				AND m.start_at BETWEEN $2 AND $3
			RETURNING 1
		),
		rev AS (
			INSERT INTO measurement_revisions (patient_id, kind, start_at, source_id, old_value, old_seconds, old_value2,
				new_value, new_seconds, new_value2, channel)
			SELECT $1, kind, start_at, source_id, old_value, old_seconds, old_value2, value, seconds, value2, $4 FROM changed
			RETURNING 1
		),
		cov AS (
			INSERT INTO measurement_coverage AS c (patient_id, kind, first_at, last_at, measurements)
			SELECT $1, kind, min(start_at), max(start_at), count(*) FROM ins GROUP BY kind
			ON CONFLICT (patient_id, kind) DO UPDATE SET
				first_at = least(c.first_at, excluded.first_at),
				last_at = greatest(c.last_at, excluded.last_at),
				measurements = c.measurements + excluded.measurements
		),
		dirty AS (
			INSERT INTO vital_days_dirty AS d (patient_id, since, marked_at)
			SELECT $1, least((SELECT min(start_at) FROM ins), (SELECT min(start_at) FROM changed)), now()
			WHERE EXISTS (SELECT 1 FROM ins) OR EXISTS (SELECT 1 FROM changed)
			ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at
		),
		del AS (DELETE FROM measurements_staging)
		SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd), (SELECT count(*) FROM rev)`
)

// writeMeasurements writes a prepared batch in tx.
func (s *Store) writeMeasurements(ctx context.Context, tx pgx.Tx, p *mprepared) (MeasurementResult, error) {
	res := p.res
	n := len(p.ms)
	batch := &pgx.Batch{}
	batch.Queue(lockPatientSQL, p.patient)
	batch.Queue(checkPatientSQL, p.patient)
	names := make([]string, len(p.sources))
	classes := make([]int16, len(p.sources))
	if n > 0 {
		devices := make([]string, len(p.sources))
		first := make([]time.Time, len(p.sources))
		last := make([]time.Time, len(p.sources))
		for i, src := range p.sources {
			names[i], classes[i], devices[i], first[i], last[i] = src.name, int16(src.class), src.device, src.first, src.last
		}
		batch.Queue(upsertSourcesSQL, p.patient, names, classes, devices, first, last)
		batch.Queue(sourceIDsSQL, p.patient, names, classes)
		var kinds []int16
		var firsts, lasts []time.Time
		var counts []int64
		for k := vitals.Steps; k <= vitals.MaxKind; k++ {
			if st := p.kinds[k]; st.n > 0 {
				kinds, firsts, lasts, counts = append(kinds, int16(k)), append(firsts, st.first), append(lasts, st.last), append(counts, st.n)
			}
		}
		batch.Queue(mclaimSQL, p.patient, kinds, res.Oldest, res.Newest, firsts, lasts, counts)
	}
	br := tx.SendBatch(ctx, batch)
	var exists, existing bool
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&exists)
	}
	if err == nil && !exists {
		err = fmt.Errorf("patient %d: %w", p.patient, ErrNotFound)
	}
	if err == nil && n > 0 {
		if _, err = br.Exec(); err == nil {
			rows, _ := br.Query()
			var ids []int32
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
			if err == nil && len(ids) != len(p.sources) {
				err = fmt.Errorf("sources: found %d of %d", len(ids), len(p.sources))
			}
			if err == nil {
				for i, id := range ids {
					p.sources[i].id = id
				}
			}
		}
	}
	if err == nil && n > 0 {
		err = br.QueryRow().Scan(&existing)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || n == 0 {
		return res, err
	}

	if !existing {
		c, err := tx.CopyFrom(ctx, pgx.Identifier{"measurements"},
			[]string{"start_at", "patient_id", "source_id", "value", "seconds", "kind", "channel", "value2"},
			&mcopySource{p: p, i: -1, withPatient: true})
		if err != nil {
			return res, fmt.Errorf("copy measurements: %w", err)
		}
		if int(c) != n {
			return res, fmt.Errorf("copy measurements: wrote %d rows of %d", c, n)
		}
		res.Inserted = n
		return res, nil
	}
	if _, err := tx.Exec(ctx, mstagingSQL); err != nil {
		return res, fmt.Errorf("staging table: %w", err)
	}
	c, err := tx.CopyFrom(ctx, pgx.Identifier{"measurements_staging"},
		[]string{"start_at", "source_id", "value", "seconds", "kind", "value2"}, &mcopySource{p: p, i: -1})
	if err != nil {
		return res, fmt.Errorf("copy to staging: %w", err)
	}
	if int(c) != n {
		return res, fmt.Errorf("copy to staging: wrote %d rows of %d", c, n)
	}
	var inserted, updated, revisions int64
	if err := tx.QueryRow(ctx, mmergeSQL, p.patient, res.Oldest, res.Newest, int16(p.channel)).Scan(&inserted, &updated, &revisions); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	if updated != revisions {
		return res, errors.New("merge: revised measurements and kept revisions differ") // rolls back
	}
	res.Inserted, res.Revised = int(inserted), int(updated)
	res.Duplicate += n - int(inserted) - int(updated)
	return res, nil
}

// mcopySource streams a prepared batch to COPY.
type mcopySource struct {
	p           *mprepared
	i           int
	withPatient bool
	vals        [8]any
}

func (c *mcopySource) Next() bool {
	c.i++
	return c.i < len(c.p.ms)
}

func (c *mcopySource) Values() ([]any, error) {
	m := c.p.ms[c.i]
	var v2 *float64
	if m.Kind == vitals.BloodPressure {
		v2 = &m.Value2
	}
	src := c.p.sources[c.p.srcIdx[c.i]].id
	secs := int32(m.End.Sub(m.Start) / time.Second)
	if c.withPatient {
		c.vals = [8]any{m.Start, c.p.patient, src, m.Value, secs, int16(m.Kind), int16(c.p.channel), v2}
		return c.vals[:8], nil
	}
	c.vals = [8]any{m.Start, src, m.Value, secs, int16(m.Kind), v2}
	return c.vals[:6], nil
}

func (c *mcopySource) Err() error { return nil }
