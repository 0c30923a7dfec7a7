package cgmstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Batch is a set of readings of one patient from one source.
type Batch struct {
	// Patient is the patient's internal key (Patient.ID).
	Patient int64
	// Source is where the readings come from.
	Source Source
	// Readings are the readings, in any order. Several readings with the
	// same instant and kind: the last one given wins.
	Readings []cgm.Reading
	// Devices optionally describe the devices the readings come from
	// (Serial, Model, ActivatedAt; the other fields are ignored).
	// Readings name their device in Reading.Device.
	Devices []Device
}

// Rejection is a reading of a batch that failed validation.
type Rejection struct {
	// Index is the reading's position in Batch.Readings.
	Index int
	// Err says what is wrong: a *cgm.FieldError.
	Err error
}

// Error describes the rejection: "reading 12: value: ...".
func (r Rejection) Error() string { return fmt.Sprintf("reading %d: %v", r.Index, r.Err) }

// Result counts what Ingest did with each reading of a batch:
// Inserted + Duplicate + Revised + Rejected = len(Batch.Readings).
type Result struct {
	// Inserted readings are new.
	Inserted int
	// Duplicate readings were already stored with the same value, unit and
	// LO/HI flag (whatever their source and trend), and were left alone;
	// this count also holds readings superseded by a later reading of the
	// same instant and kind in the same batch.
	Duplicate int
	// Revised readings were stored with another value, unit or flag: they
	// now hold the new one, and the old one is in the revisions.
	Revised int
	// Rejected readings failed validation and were not written.
	Rejected int
	// Rejections lists the rejected readings, in batch order.
	Rejections []Rejection
	// Merged counts, among Duplicate, the readings another source had
	// delivered (the same reading, or its twin within TwinWindow): their
	// provenance now names this batch's source too.
	Merged int
	// Newest is the latest instant among the valid readings; zero when none.
	Newest time.Time
}

// kindStat summarises the readings of one kind written by a batch.
type kindStat struct {
	n           int64
	first, last time.Time
}

// prepared is a validated batch, ready to write.
type prepared struct {
	patient int32
	src     Source
	rs      []cgm.Reading
	// keep lists the indices in rs of the readings to write, in write
	// order (instant, then kind); nil means all of rs, in order.
	keep       []int32
	n          int
	kinds      [cgm.Strip + 1]kindStat
	minT, maxT time.Time
	months     []int // distinct UTC months (year*12 + month-1), ascending
	devices    []deviceRow
	res        Result // Rejected, Rejections, in-batch Duplicate, Newest
}

// reading returns the i-th reading to write.
func (p *prepared) reading(i int) cgm.Reading {
	if p.keep != nil {
		return p.rs[p.keep[i]]
	}
	return p.rs[i]
}

type deviceRow struct {
	serial, model string
	activated     time.Time
	first, last   time.Time
}

// prepare validates a batch without touching the database.
func (s *Store) prepare(b Batch) (*prepared, error) {
	if !b.Source.Valid() {
		return nil, fmt.Errorf("cgmstore: ingest: %w: source %v", ErrInvalid, b.Source)
	}
	if b.Patient <= 0 || b.Patient > math.MaxInt32 {
		return nil, fmt.Errorf("cgmstore: ingest: patient %d: %w", b.Patient, ErrNotFound)
	}
	p := &prepared{patient: int32(b.Patient), src: b.Source, rs: b.Readings}
	now := s.now()

	// One pass: validate, and see whether the valid readings are already
	// in strictly increasing (instant, kind) order, the usual case, which
	// needs neither sorting nor an index list.
	ordered := true
	var prevUS int64
	var prevKind cgm.Kind
	first := true
	for i, r := range b.Readings {
		if err := r.Validate(now); err != nil {
			p.res.Rejections = append(p.res.Rejections, Rejection{Index: i, Err: err})
			continue
		}
		us := r.Time.UnixMicro()
		if !first && (us < prevUS || us == prevUS && r.Kind <= prevKind) {
			ordered = false
		}
		prevUS, prevKind, first = us, r.Kind, false
	}
	p.res.Rejected = len(p.res.Rejections)
	valid := len(b.Readings) - p.res.Rejected

	if ordered && p.res.Rejected == 0 {
		p.n = len(b.Readings)
	} else {
		p.keep = make([]int32, 0, valid)
		rej := p.res.Rejections
		for i := range b.Readings {
			if len(rej) > 0 && rej[0].Index == i {
				rej = rej[1:]
				continue
			}
			p.keep = append(p.keep, int32(i))
		}
		if !ordered {
			// Sort by (instant, kind, position) and keep the last of each
			// (instant, kind).
			slices.SortFunc(p.keep, func(x, y int32) int {
				ra, rb := b.Readings[x], b.Readings[y]
				if c := cmp.Compare(ra.Time.UnixMicro(), rb.Time.UnixMicro()); c != 0 {
					return c
				}
				if c := cmp.Compare(ra.Kind, rb.Kind); c != 0 {
					return c
				}
				return cmp.Compare(x, y)
			})
			out := p.keep[:0]
			for i, idx := range p.keep {
				if i+1 < len(p.keep) {
					ra, rb := b.Readings[idx], b.Readings[p.keep[i+1]]
					if ra.Time.UnixMicro() == rb.Time.UnixMicro() && ra.Kind == rb.Kind {
						p.res.Duplicate++
						continue
					}
				}
				out = append(out, idx)
			}
			p.keep = out
		}
		p.n = len(p.keep)
	}

	// Statistics of what is written: per-kind coverage, time range,
	// months, and the devices' windows.
	seen := map[string]int{}
	for _, d := range b.Devices {
		if d.Serial == "" || len(d.Serial) > 64 {
			return nil, fmt.Errorf("cgmstore: ingest: %w: device serial %q must have 1 to 64 characters", ErrInvalid, d.Serial)
		}
		if len(d.Model) > 200 {
			return nil, fmt.Errorf("cgmstore: ingest: %w: device model longer than 200 characters", ErrInvalid)
		}
		row := deviceRow{serial: d.Serial, model: d.Model, activated: d.ActivatedAt.UTC()}
		if i, ok := seen[d.Serial]; ok {
			if row.model == "" {
				row.model = p.devices[i].model
			}
			if row.activated.IsZero() {
				row.activated = p.devices[i].activated
			}
			p.devices[i] = row
			continue
		}
		seen[d.Serial] = len(p.devices)
		p.devices = append(p.devices, row)
	}
	var monthFrom, monthTo time.Time // the month of the last reading seen
	lastDevice := -1
	for i := range p.n {
		r := p.reading(i)
		t := r.Time.UTC().Truncate(time.Microsecond) // as stored
		if i == 0 || t.Before(p.minT) {
			p.minT = t
		}
		if i == 0 || t.After(p.maxT) {
			p.maxT = t
		}
		k := &p.kinds[r.Kind]
		if k.n == 0 || t.Before(k.first) {
			k.first = t
		}
		if k.n == 0 || t.After(k.last) {
			k.last = t
		}
		k.n++
		if t.Before(monthFrom) || !t.Before(monthTo) {
			m := monthOf(t)
			if _, found := slices.BinarySearch(p.months, m); !found {
				p.months = append(p.months, m)
				slices.Sort(p.months)
			}
			monthFrom, monthTo = monthStart(m), monthStart(m+1)
		}
		if r.Device == "" {
			continue
		}
		if lastDevice < 0 || p.devices[lastDevice].serial != r.Device {
			j, ok := seen[r.Device]
			if !ok {
				j = len(p.devices)
				seen[r.Device] = j
				p.devices = append(p.devices, deviceRow{serial: r.Device})
			}
			lastDevice = j
		}
		d := &p.devices[lastDevice]
		if d.first.IsZero() || t.Before(d.first) {
			d.first = t
		}
		if d.last.IsZero() || t.After(d.last) {
			d.last = t
		}
	}
	p.res.Newest = p.maxT
	return p, nil
}

// Ingest validates the readings of b and writes the valid ones in one
// transaction: all of them or, on error, none. See [Result] for the counts.
// A batch for a patient that does not exist is ErrNotFound; an unknown
// source or a bad device is ErrInvalid. Batches of one patient are
// serialised; batches of different patients run in parallel.
//
// When a batch inserts or revises readings, the same transaction marks the
// patient's summaries for recomputation from its earliest changed instant
// (table patient_metrics_dirty, consumed by taccuino/summaries), whatever
// the source: a sync, a CSV import or a FHIR submission.
//
// On native partitions, the monthly partitions the batch needs are created
// first, in a transaction of their own, so that old data does not land in
// the default partition.
func (s *Store) Ingest(ctx context.Context, b Batch) (Result, error) {
	p, err := s.prepare(b)
	if err != nil {
		return Result{}, err
	}
	s.ensureMonths(ctx, s.readingParts, p.months)
	var res Result
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.write(ctx, tx, p)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("cgmstore: ingest for patient %d: %w", b.Patient, translate(err))
	}
	if s.onIngest != nil {
		s.onIngest(b.Source, res)
	}
	return res, nil
}

// IngestTx is Ingest within the caller's transaction tx, so that other
// writes commit or roll back with the readings. It writes inside a
// savepoint: on error nothing of the batch remains and tx stays usable.
// Which partitions exist is read through tx; a missing one is created on
// the store's pool, outside tx, waiting at most partitionWait for a
// connection (else the readings go to the default partition, and the
// daily job or a later batch moves them).
func (s *Store) IngestTx(ctx context.Context, tx pgx.Tx, b Batch) (Result, error) {
	p, err := s.prepare(b)
	if err != nil {
		return Result{}, err
	}
	if err := s.prepareMonths(ctx, tx, s.readingParts, p.months); err != nil {
		return Result{}, err
	}
	var res Result
	err = pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
		var err error
		res, err = s.write(ctx, tx, p)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("cgmstore: ingest for patient %d: %w", b.Patient, translate(err))
	}
	if s.onIngest != nil {
		s.onIngest(b.Source, res)
	}
	return res, nil
}

const (
	// lockClassIngest, patient: serialises the batches of a patient.
	lockPatientSQL = `SELECT pg_advisory_xact_lock(1179861832, $1)`
	// The row lock keeps the patient from being deleted under the batch
	// (readings have no foreign key).
	checkPatientSQL  = `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1 FOR KEY SHARE)`
	upsertDevicesSQL = `
		INSERT INTO devices AS d (patient_id, serial, model, source, activated_at, first_seen, last_seen)
		SELECT $1, x.serial, x.model, $2, x.activated_at, x.first_seen, x.last_seen
		FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
			AS x(serial, model, activated_at, first_seen, last_seen)
		ON CONFLICT (patient_id, serial) DO UPDATE SET
			model = CASE WHEN excluded.model <> '' THEN excluded.model ELSE d.model END,
			activated_at = coalesce(excluded.activated_at, d.activated_at),
			first_seen = least(d.first_seen, excluded.first_seen),
			last_seen = greatest(d.last_seen, excluded.last_seen)
		WHERE (d.model, d.activated_at, d.first_seen, d.last_seen) IS DISTINCT FROM
			(CASE WHEN excluded.model <> '' THEN excluded.model ELSE d.model END,
			 coalesce(excluded.activated_at, d.activated_at),
			 least(d.first_seen, excluded.first_seen),
			 greatest(d.last_seen, excluded.last_seen))`
	// claimSQL tells whether the patient already has readings of these
	// kinds in the batch's time range, in either form. Compact days of
	// the batch's UTC days ($8 to $9) are deleted and returned, to be
	// written back into readings before the batch (a write into a
	// compressed day expands it, as TimescaleDB decompresses a segment;
	// the compaction job compacts it again later), and the coverage's
	// plain_from is lowered to them. Readings of the batch's range widened
	// by TwinWindow, and another source's ($10: its meta bits) historic
	// readings widened by SeriesGap, count as existing: mergeSQL looks for
	// twins and for another series there (provenance.go); the compact days
	// are those of the widest range. When nothing exists, the batch will
	// be copied straight into readings (nothing can conflict: batches of a
	// patient are serialised, and the store is the only writer), so the
	// statement also adds the batch to the coverage; otherwise mergeSQL
	// does.
	//
	// The readings are probed by a plain range on measured_at, bounds as
	// parameters (>= $3 AND <= $4), outside any outer join: native
	// partitioning prunes with it at plan time or, in a generic plan, at
	// executor start-up; TimescaleDB excludes chunks with it at plan time
	// (constants of a custom plan) or at start-up in ChunkAppend (bound
	// parameters of a generic plan, TimescaleDB 2.14 and later:
	// https://github.com/timescale/timescaledb/pull/6505); TimescaleDB's
	// own expansion ignores quals of outer joins
	// (src/planner/expand_hypertable.c, process_quals), which is why
	// mergeSQL ranges its readings in a subquery.
	claimSQL = `
		WITH expanded AS (
			DELETE FROM readings_compact
			WHERE patient_id = $1 AND kind = ANY($2::int4[]) AND day >= $8::date AND day <= $9::date
			RETURNING kind, day, first_at, data
		),
		existing AS (
			SELECT EXISTS (SELECT 1 FROM readings
					WHERE patient_id = $1 AND (meta & 7) = ANY($2::int4[])
						AND measured_at >= $3::timestamptz - interval '1 minute' AND measured_at <= $4::timestamptz + interval '1 minute')
				OR 1 = ANY($2::int4[]) AND EXISTS (SELECT 1 FROM readings
					WHERE patient_id = $1 AND (meta & 7) = 1 AND (meta & 56) <> $10
						AND measured_at >= $3::timestamptz - interval '15 minutes' AND measured_at <= $4::timestamptz + interval '15 minutes')
				OR EXISTS (SELECT 1 FROM expanded) AS found,
			EXISTS (SELECT 1 FROM readings
					WHERE patient_id = $1 AND (meta & 7) = ANY($2::int4[]) AND (meta & 56) <> $10
						AND measured_at >= $3::timestamptz - interval '15 minutes' AND measured_at <= $4::timestamptz + interval '15 minutes')
				OR EXISTS (SELECT 1 FROM expanded) AS others
		),
		cov AS (
			INSERT INTO reading_coverage AS c (patient_id, kind, first_at, last_at, readings, plain_from)
			SELECT $1, k.kind, k.first_at, k.last_at, k.n, k.first_at
			FROM unnest($2::int4[], $5::timestamptz[], $6::timestamptz[], $7::int8[]) AS k(kind, first_at, last_at, n)
			WHERE NOT (SELECT found FROM existing)
			ON CONFLICT (patient_id, kind) DO UPDATE SET
				first_at = least(c.first_at, excluded.first_at),
				last_at = greatest(c.last_at, excluded.last_at),
				readings = c.readings + excluded.readings,
				plain_from = least(coalesce(c.plain_from, c.first_at), excluded.first_at)
		),
		lowered AS (
			UPDATE reading_coverage c SET plain_from = least(coalesce(c.plain_from, c.first_at), e.first_at)
			FROM (SELECT kind, min(first_at) AS first_at FROM expanded GROUP BY kind) e
			WHERE c.patient_id = $1 AND c.kind = e.kind
		),
		dirty AS (
			INSERT INTO patient_metrics_dirty AS d (patient_id, since, marked_at)
			SELECT $1, $3, now() WHERE NOT (SELECT found FROM existing)
			ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at
		)
		SELECT x.found, x.others, e.kind, e.day, e.data FROM existing x LEFT JOIN expanded e ON true`
	stagingSQL = `CREATE TEMP TABLE IF NOT EXISTS readings_staging (
		measured_at timestamptz NOT NULL,
		value       smallint    NOT NULL,
		meta        smallint    NOT NULL
	) ON COMMIT DELETE ROWS`
	// mergeStagedSQL, mergeChangedSQL, mergeRevisedSQL and mergeMarksSQL
	// are the parts mergeSQL and mergeOneSourceSQL share: the staged
	// readings with the rows at their instants, those that change a row,
	// the rows updated with their old values kept, and the coverage and
	// dirty marks of what was inserted or changed (then the staging emptied).
	mergeStagedSQL = `
		WITH s AS MATERIALIZED (
			SELECT s.measured_at, s.value, s.meta, r.value AS old_value, r.meta AS old_meta
			FROM readings_staging s
			LEFT JOIN (
				SELECT measured_at, value, meta FROM readings
				WHERE patient_id = $1 AND (meta & 7) = ANY($5::int4[])
					AND measured_at >= $2::timestamptz AND measured_at <= $3::timestamptz
			) r ON (r.meta & 7) = (s.meta & 7) AND r.measured_at = s.measured_at
		),
`
	mergeChangedSQL = `
		changed AS (
			SELECT * FROM s
			WHERE old_meta IS NOT NULL AND (value <> old_value OR (meta & 448) <> (old_meta & 448))
		),
`
	mergeRevisedSQL = `
		upd AS (
			UPDATE readings r SET value = c.value, meta = c.meta
			FROM changed c
			WHERE r.patient_id = $1 AND (r.meta & 7) = (c.meta & 7) AND r.measured_at = c.measured_at
				AND r.measured_at >= $2::timestamptz AND r.measured_at <= $3::timestamptz
			RETURNING 1
		),
		rev AS (
			INSERT INTO reading_revisions (patient_id, measured_at, kind, old_value, old_meta, new_value, new_meta, source)
			SELECT $1, measured_at, meta & 7, old_value, old_meta, value, meta, $4 FROM changed
			RETURNING 1
		),
`
	mergeMarksSQL = `
		cov AS (
			INSERT INTO reading_coverage AS c (patient_id, kind, first_at, last_at, readings, plain_from)
			SELECT $1, kind, min(measured_at), max(measured_at), count(*), min(measured_at) FROM ins GROUP BY kind
			ON CONFLICT (patient_id, kind) DO UPDATE SET
				first_at = least(c.first_at, excluded.first_at),
				last_at = greatest(c.last_at, excluded.last_at),
				readings = c.readings + excluded.readings,
				plain_from = least(coalesce(c.plain_from, c.first_at), excluded.plain_from)
		),
		dirty AS (
			INSERT INTO patient_metrics_dirty AS d (patient_id, since, marked_at)
			SELECT $1, least((SELECT min(measured_at) FROM ins), (SELECT min(measured_at) FROM changed)), now()
			WHERE EXISTS (SELECT 1 FROM ins) OR EXISTS (SELECT 1 FROM changed)
			ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at
		),
		del AS (DELETE FROM readings_staging)
`
	// mergeSQL writes the staged readings: new ones are inserted, changed
	// ones updated with their old value kept in reading_revisions, equal
	// ones left alone (not even locked). A staged reading without a row at
	// its instant that has a twin — a row of another source, of the same
	// kind, within TwinWindow, with the same LO/HI flags and the same
	// glucose within TwinTolerance (values compared in tenths of mg/dL) —
	// is that row's reading delivered again: not inserted; a row takes the
	// nearest such reading only (see provenance.go). It returns the counts,
	// the kinds and instants of the rows another source had delivered
	// (exact duplicates and twins: their provenance), and the source code
	// of another series found within SeriesGap of an inserted historic
	// reading, if any.
	//
	// $6 is the batch's source bits (meta & 56); the twin's and series'
	// probes range readings by the batch's range widened by the window,
	// outside any outer join, as the overlap check does.
	mergeSQL = mergeStagedSQL + `
		twin AS MATERIALIZED (
			SELECT DISTINCT ON (t.measured_at, t.kind) s.measured_at AS staged_at, t.kind, t.measured_at, t.d
			FROM s CROSS JOIN LATERAL (
				SELECT r.measured_at, (r.meta & 7) AS kind, abs(extract(epoch FROM r.measured_at - s.measured_at)) AS d
				FROM readings r
				WHERE r.patient_id = $1 AND (r.meta & 7) = (s.meta & 7)
					AND r.measured_at >= $2::timestamptz - interval '1 minute' AND r.measured_at <= $3::timestamptz + interval '1 minute'
					AND r.measured_at > s.measured_at - interval '1 minute' AND r.measured_at < s.measured_at + interval '1 minute'
					AND (r.meta & 56) <> $6 AND (r.meta & 192) = (s.meta & 192)
					AND abs(CASE WHEN (r.meta & 256) <> 0 THEN r.value * 1.801559 ELSE r.value END
						- CASE WHEN (s.meta & 256) <> 0 THEN s.value * 1.801559 ELSE s.value END)
						<= greatest(20, 0.02 * greatest(CASE WHEN (r.meta & 256) <> 0 THEN r.value * 1.801559 ELSE r.value END,
							CASE WHEN (s.meta & 256) <> 0 THEN s.value * 1.801559 ELSE s.value END))
				ORDER BY 3
				LIMIT 1
			) t
			WHERE s.old_meta IS NULL
			ORDER BY t.measured_at, t.kind, t.d
		),
` + mergeChangedSQL + `
		ins AS (
			INSERT INTO readings (measured_at, patient_id, value, meta)
			SELECT measured_at, $1, value, meta FROM s
			WHERE old_meta IS NULL
				AND NOT EXISTS (SELECT 1 FROM twin w WHERE w.staged_at = s.measured_at AND w.kind = (s.meta & 7))
			RETURNING measured_at, meta & 7 AS kind
		),
` + mergeRevisedSQL + `
		merged AS (
			SELECT (meta & 7)::int2 AS kind, measured_at FROM s
			WHERE old_meta IS NOT NULL AND (old_meta & 56) <> $6 AND value = old_value AND (meta & 448) = (old_meta & 448)
			UNION ALL
			SELECT kind::int2, measured_at FROM twin
		),
		other AS (
			SELECT ((r.meta >> 3) & 7)::int2 AS code
			FROM ins i CROSS JOIN LATERAL (
				SELECT meta FROM readings r
				WHERE i.kind = 1 AND r.patient_id = $1 AND (r.meta & 7) = 1
					AND r.measured_at >= $2::timestamptz - interval '15 minutes' AND r.measured_at <= $3::timestamptz + interval '15 minutes'
					AND r.measured_at > i.measured_at - interval '15 minutes' AND r.measured_at < i.measured_at + interval '15 minutes'
					AND (r.meta & 56) <> $6
				LIMIT 1
			) r
			LIMIT 1
		),
` + mergeMarksSQL + `
		SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd), (SELECT count(*) FROM rev),
			coalesce((SELECT array_agg(kind) FROM merged), '{}'), coalesce((SELECT array_agg(measured_at) FROM merged), '{}'),
			(SELECT code FROM other)`
	// mergeOneSourceSQL is mergeSQL when the claim found no reading of
	// another source near the batch (no twin, no exact copy, no other
	// series can be there): the same writes without the provenance's
	// probes, which cost about half of PostgreSQL's work of a sync's
	// merge (make bench-sync).
	mergeOneSourceSQL = mergeStagedSQL + mergeChangedSQL + `
		ins AS (
			INSERT INTO readings (measured_at, patient_id, value, meta)
			SELECT measured_at, $1, value, meta FROM s WHERE old_meta IS NULL
			RETURNING measured_at, meta & 7 AS kind
		),
` + mergeRevisedSQL + mergeMarksSQL + `
		SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd), (SELECT count(*) FROM rev)`
)

// write writes a prepared batch in tx.
func (s *Store) write(ctx context.Context, tx pgx.Tx, p *prepared) (Result, error) {
	res := p.res
	batch := &pgx.Batch{}
	batch.Queue(lockPatientSQL, p.patient)
	batch.Queue(checkPatientSQL, p.patient)
	if len(p.devices) > 0 {
		serials := make([]string, len(p.devices))
		models := make([]string, len(p.devices))
		act := make([]pgtype.Timestamptz, len(p.devices))
		first := make([]pgtype.Timestamptz, len(p.devices))
		last := make([]pgtype.Timestamptz, len(p.devices))
		for i, d := range p.devices {
			serials[i], models[i] = d.serial, d.model
			act[i] = tstz(d.activated)
			first[i] = tstz(d.first)
			last[i] = tstz(d.last)
		}
		batch.Queue(upsertDevicesSQL, p.patient, int16(p.src), serials, models, act, first, last)
	}
	var kinds []int32
	var firsts, lasts []time.Time
	var counts []int64
	for k := cgm.Historic; k <= cgm.Strip; k++ {
		if st := p.kinds[k]; st.n > 0 {
			kinds, firsts, lasts, counts = append(kinds, int32(k)), append(firsts, st.first), append(lasts, st.last), append(counts, st.n)
		}
	}
	if p.n > 0 {
		// A twin may lie up to TwinWindow outside the batch's range,
		// another series' reading up to SeriesGap.
		batch.Queue(claimSQL, p.patient, kinds, p.minT, p.maxT, firsts, lasts, counts,
			dateOf(p.minT.Add(-SeriesGap)), dateOf(p.maxT.Add(SeriesGap)), sourceCode(p.src)<<metaSourceShift)
	}
	br := tx.SendBatch(ctx, batch)
	var exists, existing, others bool
	var expanded []compactRow
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&exists)
	}
	if err == nil && !exists {
		err = fmt.Errorf("patient %d: %w", p.patient, ErrNotFound)
	}
	if err == nil && len(p.devices) > 0 {
		_, err = br.Exec()
	}
	if err == nil && p.n > 0 {
		existing, others, expanded, err = scanClaim(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil || p.n == 0 {
		return res, err
	}
	if len(expanded) > 0 {
		if err := expand(ctx, tx, p.patient, expanded); err != nil {
			return res, err
		}
	}

	if !existing {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"measured_at", "patient_id", "value", "meta"},
			&copySource{p: p, i: -1, withPatient: true})
		if err != nil {
			return res, fmt.Errorf("copy readings: %w", err)
		}
		if int(n) != p.n {
			return res, fmt.Errorf("copy readings: wrote %d rows of %d", n, p.n)
		}
		res.Inserted = p.n
		return res, nil
	}

	if _, err := tx.Exec(ctx, stagingSQL); err != nil {
		return res, fmt.Errorf("staging table: %w", err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"readings_staging"}, []string{"measured_at", "value", "meta"},
		&copySource{p: p, i: -1})
	if err != nil {
		return res, fmt.Errorf("copy to staging: %w", err)
	}
	if int(n) != p.n {
		return res, fmt.Errorf("copy to staging: wrote %d rows of %d", n, p.n)
	}
	var (
		inserted, updated, revisions int64
		mergedKinds                  []int16
		mergedAt                     []time.Time
		other                        *int16
	)
	if !others {
		if err := tx.QueryRow(ctx, mergeOneSourceSQL, p.patient, p.minT, p.maxT, int16(p.src), kinds).Scan(&inserted, &updated, &revisions); err != nil {
			return res, fmt.Errorf("merge: %w", err)
		}
	} else if err := tx.QueryRow(ctx, mergeSQL, p.patient, p.minT, p.maxT, int16(p.src), kinds, sourceCode(p.src)<<metaSourceShift).
		Scan(&inserted, &updated, &revisions, &mergedKinds, &mergedAt, &other); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	if updated != revisions {
		return res, errors.New("merge: revised readings and kept revisions differ") // rolls back
	}
	res.Inserted = int(inserted)
	res.Revised = int(updated)
	res.Duplicate += p.n - int(inserted) - int(updated)
	res.Merged = len(mergedAt)
	if len(mergedAt) > 0 {
		keys := make([]provKey, len(mergedAt))
		for i, t := range mergedAt {
			keys[i] = provKey{mergedKinds[i], t.UnixMicro()}
		}
		if err := recordProvenance(ctx, tx, p.patient, p.src, keys); err != nil {
			return res, err
		}
	}
	if other != nil {
		// Another series: the source already there becomes the primary
		// one, unless one was chosen; every summary is recomputed.
		if err := autoPrimary(ctx, tx, p.patient, sourceOf(*other<<metaSourceShift)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// scanClaim reads the rows of claimSQL: whether readings exist in the
// batch's range, whether another source's may be near it (others: the
// merge then looks for twins and series), and the compact rows it
// expanded.
func scanClaim(br pgx.BatchResults) (found, others bool, _ []compactRow, _ error) {
	rows, err := br.Query()
	if err != nil {
		return false, false, nil, err
	}
	var (
		out  []compactRow
		kind *int16
		day  pgtype.Date
		data []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&found, &others, &kind, &day, &data}, func() error {
		if kind != nil {
			out = append(out, compactRow{kind: *kind, day: day.Time, data: data})
		}
		return nil
	})
	return found, others, out, err
}

func tstz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// copySource streams the readings of a prepared batch to COPY, encoding
// each row as it goes.
type copySource struct {
	p           *prepared
	i           int
	withPatient bool
	vals        [4]any
}

func (c *copySource) Next() bool {
	c.i++
	return c.i < c.p.n
}

func (c *copySource) Values() ([]any, error) {
	r := c.p.reading(c.i)
	value, meta := encode(r, c.p.src)
	if c.withPatient {
		c.vals[0], c.vals[1], c.vals[2], c.vals[3] = r.Time, c.p.patient, value, meta
		return c.vals[:4], nil
	}
	c.vals[0], c.vals[1], c.vals[2] = r.Time, value, meta
	return c.vals[:3], nil
}

func (c *copySource) Err() error { return nil }
