package cgmstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"fsecgm/cgm"
	"fsecgm/internal/pgbin"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The reads. Each is served by the readings_key index (patient_id, kind,
// measured_at) of the partitions (or chunks) that [from, to) touches, the
// primary key of readings_compact, or the primary key of
// reading_coverage; TestQueryPlans shows their plans.
const (
	// readingsSQL returns the plain readings of [$3, $4) and the compact
	// rows of the UTC days $5 to $6 (the first and last used partly), in
	// one statement so that both are read in one snapshot: a day moving
	// between the forms meanwhile is seen in one or the other, never in
	// neither. A compact row comes as (its day's 00:00 UTC, kind, -1, data);
	// a plain one with data NULL.
	readingsSQL = `
		SELECT measured_at, value, meta, data FROM (
			SELECT measured_at, value, meta, NULL::bytea AS data FROM readings
			WHERE patient_id = $1 AND (meta & 7) = ANY($2::int4[]) AND measured_at >= $3 AND measured_at < $4
			UNION ALL
			SELECT day::timestamp AT TIME ZONE 'UTC', kind, (-1)::smallint, data FROM readings_compact
			WHERE patient_id = $1 AND kind = ANY($2::int4[]) AND day >= $5::date AND day <= $6::date
		) r
		ORDER BY measured_at, (meta & 7)`
	// latestSQL looks up the last reading of each kind (reading_coverage)
	// in readings or, when it is not there, the compact row of its day.
	latestSQL = `
		SELECT c.last_at, c.kind, r.value, r.meta, x.data
		FROM reading_coverage c
		LEFT JOIN LATERAL (
			SELECT value, meta FROM readings
			WHERE patient_id = c.patient_id AND (meta & 7) = c.kind AND measured_at = c.last_at
		) r ON true
		LEFT JOIN LATERAL (
			SELECT data FROM readings_compact
			WHERE r.meta IS NULL AND patient_id = c.patient_id AND kind = c.kind
				AND day = (c.last_at AT TIME ZONE 'UTC')::date
		) x ON true
		WHERE c.patient_id = $1 AND c.kind = ANY($2::int2[]) AND (r.meta IS NOT NULL OR x.data IS NOT NULL)
		ORDER BY c.last_at DESC, c.kind DESC
		LIMIT 1`
	coverageReadSQL = `
		SELECT c.kind, c.first_at, c.last_at, c.readings
		FROM patients p JOIN reading_coverage c ON c.patient_id = p.id
		WHERE p.id = $1
		ORDER BY c.kind`
	patientExistsSQL = `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`
	// patientPrimarySQL says whether the patient exists, their primary
	// source (0: none, every source is one series) and whether fsecgm chose
	// it.
	patientPrimarySQL = `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1),
		coalesce((SELECT primary_source FROM patients WHERE id = $1), 0)::int2,
		coalesce((SELECT primary_auto FROM patients WHERE id = $1), false)`
)

// Readings returns the readings of a patient taken in [from, to) of the
// given kinds (all kinds when none is given), oldest first, each with the
// serial of the device whose wear window covers it (see [Device]): the
// glucose the statistics read. When the patient has a primary source (two
// series were seen: see provenance.go), they are the primary series'
// readings, and another series' only where the primary has none within
// SeriesGap; [Store.SourcedReadings] returns every series.
func (s *Store) Readings(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) (cgm.Series, error) {
	rs, _, err := readings(ctx, s.pool, patientID, from, to, kinds, false, nil)
	return rs, err
}

// SourcedReading is a reading with the sources that delivered it.
type SourcedReading struct {
	cgm.Reading
	Sources Sources
}

// SourcedReadings returns every reading of a patient taken in [from, to)
// of the given kinds, of every series, oldest first, each with its device
// and the sources that delivered it (the row's first source and every
// other that delivered it again: reading_provenance).
func (s *Store) SourcedReadings(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) ([]SourcedReading, error) {
	return sourcedReadings(ctx, s.pool, patientID, from, to, kinds)
}

func sourcedReadings(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []cgm.Kind) ([]SourcedReading, error) {
	rs, srcs, err := readings(ctx, q, patientID, from, to, kinds, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]SourcedReading, len(rs))
	for i, r := range rs {
		out[i] = SourcedReading{Reading: r, Sources: srcs[i]}
	}
	return out, nil
}

// SeriesUse says which sources a window's statistics read.
type SeriesUse struct {
	// Sources are the sources of the readings the statistics read (the
	// primary series, and other series' where it has none).
	Sources Sources
	// Primary is the patient's primary source (0: none: every source is
	// one series); Auto says fsecgm chose it.
	Primary Source
	Auto    bool
	// Other counts the readings of other series in the window that the
	// statistics leave out.
	Other int
}

// Series returns the readings the statistics read (as Readings) with which
// sources they come from and what was left out (SeriesUse).
func (s *Store) Series(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) (cgm.Series, SeriesUse, error) {
	return series(ctx, s.pool, patientID, from, to, kinds)
}

func series(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []cgm.Kind) (cgm.Series, SeriesUse, error) {
	// SeriesGap around the window, as Readings.
	var use SeriesUse
	all, srcs, err := readings(ctx, q, patientID, from.Add(-SeriesGap), to.Add(SeriesGap), kinds, true, &use)
	if err != nil {
		return nil, SeriesUse{}, err
	}
	trim := func(rs cgm.Series, ss []Sources) (cgm.Series, []Sources) {
		i := sort.Search(len(rs), func(i int) bool { return !rs[i].Time.Before(from) })
		j := sort.Search(len(rs), func(j int) bool { return !rs[j].Time.Before(to) })
		return rs[i:j], ss[i:j]
	}
	kept, keptSrc := all, srcs
	if use.Primary != 0 {
		kept, keptSrc = primarySeries(all, srcs, use.Primary)
	}
	kept, keptSrc = trim(kept, keptSrc)
	inWindow, _ := trim(all, srcs)
	use.Other = len(inWindow) - len(kept)
	for _, ss := range keptSrc {
		use.Sources |= ss
	}
	return kept, use, nil
}

// readings reads a patient's readings of [from, to). With all, every
// series, with their sources; otherwise the statistics' series (the
// primary one when the patient has one) without sources. The usual case
// (one series) is one round trip: the patient, the devices and the rows.
//
// use, when not nil, receives the patient's primary source (Primary, Auto).
func readings(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []cgm.Kind, all bool, use *SeriesUse) (cgm.Series, []Sources, error) {
	ks, err := kindList(kinds)
	if err != nil {
		return nil, nil, err
	}
	// Instants are compared to the microsecond, as PostgreSQL does.
	fromUS, toUS := from.UnixMicro(), to.UnixMicro()
	lastDay := from
	if toUS > fromUS {
		lastDay = time.UnixMicro(toUS - 1)
	}
	batch := &pgx.Batch{}
	batch.Queue(patientPrimarySQL, patientID)
	batch.Queue(devicesQuery, patientID)
	batch.Queue(readingsSQL, patientID, ks, from, to, dateOf(from), dateOf(lastDay))
	br := q.SendBatch(ctx, batch)
	var exists, auto bool
	var primary int16
	if err := br.QueryRow().Scan(&exists, &primary, &auto); err != nil {
		br.Close()
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		br.Close()
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, ErrNotFound)
	}
	if use != nil {
		use.Primary, use.Auto = Source(primary), auto
	}
	ds, err := collectDevices(br)
	if err != nil {
		br.Close()
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: devices: %w", patientID, translate(err))
	}
	att := newAttributor(ds)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	var rowSrc *[]Source
	if all {
		rowSrc = new([]Source)
	}
	rs, err := collectReadings(rows, att, true, fromUS, toUS, rowSrc)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	if primary == 0 && !all {
		return rs, nil, nil // one series: the readings as they are
	}
	var src []Source
	wFrom, wTo := from, to
	if all {
		src = *rowSrc
	} else {
		// The primary series: read again with SeriesGap around the
		// window, since whether a reading of another series is near a
		// primary one may depend on readings just outside it.
		wFrom, wTo = from.Add(-SeriesGap), to.Add(SeriesGap)
		if rs, src, err = readWindow(ctx, q, patientID, ks, wFrom, wTo, att, true); err != nil {
			return nil, nil, err
		}
	}
	also, err := windowProvenance(ctx, q, patientID, ks, wFrom, wTo)
	if err != nil {
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: provenance: %w", patientID, translate(err))
	}
	srcs := sourcesOf(rs, src, also)
	if !all {
		rs, srcs = primarySeries(rs, srcs, Source(primary))
		// Back to [from, to).
		i := sort.Search(len(rs), func(i int) bool { return !rs[i].Time.Before(from) })
		j := sort.Search(len(rs), func(j int) bool { return !rs[j].Time.Before(to) })
		rs, srcs = rs[i:j], srcs[i:j]
	}
	return rs, srcs, nil
}

// windowProvenance reads the provenance of the UTC days of [from, to).
func windowProvenance(ctx context.Context, q batcher, patientID int64, ks []int32, from, to time.Time) (alsoFrom, error) {
	k16 := make([]int16, len(ks))
	for i, k := range ks {
		k16[i] = int16(k)
	}
	lastDay := from
	if to.After(from) {
		lastDay = to.Add(-time.Microsecond)
	}
	pb := &pgx.Batch{}
	pb.Queue(provenanceSQL, int32(patientID), dateOf(from), dateOf(lastDay), k16)
	pbr := q.SendBatch(ctx, pb)
	defer pbr.Close()
	prows, err := pbr.Query()
	if err != nil {
		return nil, err
	}
	return readProvenance(ctx, prows)
}

// readWindow reads the rows of [from, to), both forms, into a series; with
// withSrc, also each reading's row source.
func readWindow(ctx context.Context, q batcher, patientID int64, ks []int32, from, to time.Time, att attributor, withSrc bool) (cgm.Series, []Source, error) {
	// Instants are compared to the microsecond, as PostgreSQL does.
	fromUS, toUS := from.UnixMicro(), to.UnixMicro()
	lastDay := from
	if toUS > fromUS {
		lastDay = time.UnixMicro(toUS - 1)
	}
	batch := &pgx.Batch{}
	batch.Queue(readingsSQL, patientID, ks, from, to, dateOf(from), dateOf(lastDay))
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	var srcs *[]Source
	if withSrc {
		srcs = new([]Source)
	}
	out, err := collectReadings(rows, att, true, fromUS, toUS, srcs)
	if err != nil {
		return nil, nil, fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	if srcs != nil {
		return out, *srcs, nil
	}
	return out, nil, nil
}

// compactOrder orders stored readings by instant, then kind.
func compactOrder(a, b storedReading) int {
	if a.us != b.us {
		if a.us < b.us {
			return -1
		}
		return 1
	}
	return int(a.meta&metaKindMask) - int(b.meta&metaKindMask)
}

// mergeCompact merges the plain readings of a window (a series) with its
// compact readings (sorted by instant and kind), attributing the latter to
// their devices. A reading is stored in one form only; were one in both,
// the plain one would be kept.
func mergeCompact(plain cgm.Series, old []storedReading, att attributor, srcs *[]Source) cgm.Series {
	if len(old) == 0 {
		return plain
	}
	out := make(cgm.Series, 0, len(plain)+len(old))
	var plainSrc, outSrc []Source
	if srcs != nil {
		plainSrc, outSrc = *srcs, make([]Source, 0, len(plain)+len(old))
	}
	i := 0
	for _, o := range old {
		t := time.UnixMicro(o.us)
		k := cgm.Kind(o.meta & metaKindMask)
		for i < len(plain) && (plain[i].Time.Before(t) || plain[i].Time.Equal(t) && plain[i].Kind < k) {
			out = append(out, plain[i])
			if srcs != nil {
				outSrc = append(outSrc, plainSrc[i])
			}
			i++
		}
		if i < len(plain) && plain[i].Time.Equal(t) && plain[i].Kind == k {
			continue
		}
		r := decode(t, o.value, o.meta)
		r.Device = att.device(r.Time)
		out = append(out, r)
		if srcs != nil {
			outSrc = append(outSrc, sourceOf(o.meta))
		}
	}
	if srcs != nil {
		*srcs = append(outSrc, plainSrc[i:]...)
	}
	return append(out, plain[i:]...)
}

// collectReadings reads the rows of readingsSQL into a series, each
// reading attributed to its device by att: the plain readings as they come
// (ordered by instant and kind), and the readings of compact rows with
// instants in [fromUS, toUS), merged in. With raw, rows in PostgreSQL's
// binary format are decoded from their bytes (package pgbin): a 14-day
// read moves thousands of rows, and pgx's general Scan costs several times
// the decoding itself (BenchmarkReadings). Rows in any other format go
// through Scan.
func collectReadings(rows pgx.Rows, att attributor, raw bool, fromUS, toUS int64, srcs *[]Source) (cgm.Series, error) {
	defer rows.Close()
	var (
		out         cgm.Series
		old         []storedReading
		t           time.Time
		value, meta int16
		data        []byte
	)
	fast := false
	var row pgbin.Row
	for n, first := 1, true; rows.Next(); n, first = n+1, false {
		if first {
			fast = raw && pgbin.Is(rows.FieldDescriptions(), readingColumns...)
		}
		if fast {
			row.Reset(rows.RawValues())
			t, value, meta = row.Time(0), row.Int2(1), row.Int2(2)
			data = row.Bytes(3)
			if err := row.Err(); err != nil {
				return nil, fmt.Errorf("reading row %d: %w", n, err)
			} // nil when NULL; used before the next row
		} else if err := rows.Scan(&t, &value, &meta, &data); err != nil {
			return nil, err
		}
		if data != nil { // a compact row: (day, kind, -1, data)
			k := len(old)
			var err error
			if old, err = decodeCompact(old, t.UTC(), value, data); err != nil {
				return nil, err
			}
			// Keep the readings in [fromUS, toUS) (the first and last days
			// of a window are partly in it).
			kept := old[:k]
			for _, r := range old[k:] {
				if r.us >= fromUS && r.us < toUS {
					kept = append(kept, r)
				}
			}
			old = kept
			continue
		}
		r := decode(t, value, meta)
		r.Device = att.device(r.Time)
		out = append(out, r)
		if srcs != nil {
			*srcs = append(*srcs, sourceOf(meta))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(old, compactOrder) {
		slices.SortFunc(old, compactOrder)
	}
	// The plain readings come ordered by (instant, kind), and the key makes
	// (instant, kind) unique: out is already what cgm.NewSeries would
	// build, and so is its merge with the compact readings.
	return mergeCompact(out, old, att, srcs), nil
}

// readingColumns are the types of readingsSQL's columns (timestamptz,
// int2, int2, bytea), decoded by package pgbin when they come in binary
// format.
var readingColumns = []uint32{pgtype.TimestamptzOID, pgtype.Int2OID, pgtype.Int2OID, pgtype.ByteaOID}

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
		kind        int16
		value, meta *int16
		data        []byte
	)
	if err := br.QueryRow().Scan(&t, &kind, &value, &meta, &data); err != nil {
		return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: %w", patientID, translate(err))
	}
	ds, err := collectDevices(br)
	if err != nil {
		return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: devices: %w", patientID, translate(err))
	}
	var r cgm.Reading
	if meta != nil {
		r = decode(t, *value, *meta)
	} else {
		// The last reading is compact: find it in its day's row.
		rs, err := decodeCompact(nil, utcDay(t), kind, data)
		if err != nil {
			return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: %w", patientID, err)
		}
		i := slices.IndexFunc(rs, func(s storedReading) bool { return s.us == t.UnixMicro() })
		if i < 0 {
			return cgm.Reading{}, fmt.Errorf("cgmstore: latest reading of patient %d: %w: the compact row of %s lacks it",
				patientID, errCompact, t.UTC().Format(time.RFC3339Nano))
		}
		r = decode(t, rs[i].value, rs[i].meta)
	}
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
