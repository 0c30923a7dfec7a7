package cgmstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Several sources, one glucose (migration 00014).
//
// A reading row keeps in meta the source that delivered it first. When a
// batch of another source delivers the same reading again, the row stays
// one and the batch's source is added to the reading's provenance
// (reading_provenance): the same reading is the same kind at the same
// instant with the same value (a LibreView export of readings LibreLinkUp
// already gave), or — a twin — the same kind within TwinWindow with the
// same glucose within TwinTolerance (xDrip+ or Juggluco reading a Libre
// sensor that LibreLinkUp also reads: the apps stamp a value when the
// phone receives it, seconds after the sensor's own clock; the exports of
// LibreView round the sensor's time to the minute). Two readings of one
// source are never twins, and a row takes at most one twin per batch (the
// nearest), so a source's own series is never thinned.
//
// Two sensors worn together give readings that are not twins, in between
// each other's: two series. The first batch that inserts such readings
// within SeriesGap of another source's (in the merge, where both are
// read) makes the source already there the patient's primary one, unless
// one was chosen; the statistics (Readings) then read the primary series
// only — the readings its source delivered, first or again — and another
// series' readings only where the primary has none within SeriesGap, so
// that a history imported from another source, or a gap of the primary
// sensor, still counts. A source that reads the primary sensor itself
// (an app uploading its 5-minute or 1-minute values beside LibreLinkUp's
// 15-minute history: most of its readings near the primary's are their
// twins) is part of the primary series, not another one (sameSensor). The
// patient may choose another primary source (SetPrimarySource), or none.

// The twin and series rules.
const (
	// TwinWindow bounds the time between twins (exclusive): under the
	// minute between two readings of one-minute sensors (Libre 3,
	// Juggluco's one-minute values), above the seconds an app's stamp lags
	// the sensor and the minute LibreView's times are rounded to.
	TwinWindow = time.Minute
	// TwinTolerance bounds the difference of twins' glucose: 2 mg/dL, or
	// 2 % above 100 mg/dL (one value read twice, converted and rounded).
	TwinTolerance = 2.0
	// SeriesGap is how near a primary reading a reading of another series
	// must be to be left out of the statistics: 15 minutes, the longest
	// interval between a sensor's stored values (FreeStyle Libre 2).
	SeriesGap = 15 * time.Minute
)

// encodeInstants encodes the sorted, distinct instants us (Unix
// microseconds) of the UTC day that begins at day: uvarint count, then the
// first offset from the day's start and the differences between
// consecutive instants, as uvarints.
func encodeInstants(day time.Time, us []int64) []byte {
	start := day.UnixMicro()
	b := binary.AppendUvarint(make([]byte, 0, 2+len(us)*3), uint64(len(us)))
	prev := start
	for _, u := range us {
		b = binary.AppendUvarint(b, uint64(u-prev))
		prev = u
	}
	return b
}

// decodeInstants decodes encodeInstants' output.
func decodeInstants(day time.Time, b []byte) ([]int64, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxCompactReadings {
		return nil, fmt.Errorf("cgmstore: malformed provenance (%s): count", day.Format(time.DateOnly))
	}
	b = b[k:]
	out := make([]int64, 0, n)
	prev := day.UnixMicro()
	end := prev + dayMicros
	for i := uint64(0); i < n; i++ {
		d, k := binary.Uvarint(b)
		if k <= 0 || (i > 0 && d == 0) || d > dayMicros {
			return nil, fmt.Errorf("cgmstore: malformed provenance (%s): instant %d", day.Format(time.DateOnly), i)
		}
		b = b[k:]
		prev += int64(d)
		if prev >= end {
			return nil, fmt.Errorf("cgmstore: malformed provenance (%s): instant %d outside the day", day.Format(time.DateOnly), i)
		}
		out = append(out, prev)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("cgmstore: malformed provenance (%s): trailing bytes", day.Format(time.DateOnly))
	}
	return out, nil
}

// provKey is a reading's key among its patient's: kind and instant.
type provKey struct {
	kind int16
	us   int64
}

// recordProvenance adds src to the provenance of the patient's readings
// keys (row instants), in tx, under the patient's ingestion lock.
func recordProvenance(ctx context.Context, tx pgx.Tx, patient int32, src Source, keys []provKey) error {
	if len(keys) == 0 {
		return nil
	}
	type dayKind struct {
		kind int16
		day  int64 // Unix day
	}
	add := map[dayKind][]int64{}
	for _, k := range keys {
		d := dayKind{k.kind, floorDiv(k.us, dayMicros)}
		add[d] = append(add[d], k.us)
	}
	kinds := make([]int16, 0, len(add))
	days := make([]time.Time, 0, len(add))
	for d := range add {
		kinds = append(kinds, d.kind)
		days = append(days, time.UnixMicro(d.day*dayMicros).UTC())
	}
	rows, _ := tx.Query(ctx, `SELECT kind, day, instants FROM reading_provenance
		WHERE patient_id = $1 AND source = $2 AND (kind, day) IN (SELECT * FROM unnest($3::int2[], $4::date[]))
		FOR UPDATE`, patient, int16(src), kinds, days)
	have := map[dayKind][]int64{}
	var (
		kind int16
		day  pgtype.Date
		data []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&kind, &day, &data}, func() error {
		us, err := decodeInstants(day.Time, data)
		if err != nil {
			return err
		}
		have[dayKind{kind, floorDiv(day.Time.UnixMicro(), dayMicros)}] = us
		return nil
	}); err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	var outKinds []int16
	var outDays []time.Time
	var outData [][]byte
	for d, us := range add {
		all := append(have[d], us...)
		slices.Sort(all)
		all = slices.Compact(all)
		if len(all) == len(have[d]) {
			continue // nothing new
		}
		dayStart := time.UnixMicro(d.day * dayMicros).UTC()
		outKinds, outDays, outData = append(outKinds, d.kind), append(outDays, dayStart), append(outData, encodeInstants(dayStart, all))
	}
	if len(outKinds) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO reading_provenance (patient_id, kind, day, source, instants)
		SELECT $1, k, d, $2, i FROM unnest($3::int2[], $4::date[], $5::bytea[]) AS x(k, d, i)
		ON CONFLICT (patient_id, kind, day, source) DO UPDATE SET instants = excluded.instants`,
		patient, int16(src), outKinds, outDays, outData)
	if err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	return nil
}

// alsoFrom is the provenance of a window: for each source, the keys of
// the readings it delivered after another source had.
type alsoFrom map[Source]map[provKey]bool

// readProvenance returns the provenance of a patient's UTC days from
// fromDay to toDay (inclusive) of the given kinds; rows of q are read.
func readProvenance(ctx context.Context, rows pgx.Rows) (alsoFrom, error) {
	out := alsoFrom{}
	var (
		kind, src int16
		day       pgtype.Date
		data      []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&kind, &day, &src, &data}, func() error {
		us, err := decodeInstants(day.Time, data)
		if err != nil {
			return err
		}
		m := out[Source(src)]
		if m == nil {
			m = map[provKey]bool{}
			out[Source(src)] = m
		}
		for _, u := range us {
			m[provKey{kind, u}] = true
		}
		return nil
	})
	return out, err
}

// provenanceSQL reads the provenance rows of a patient's days $2 to $3 of
// kinds $4.
const provenanceSQL = `SELECT kind, day, source, instants FROM reading_provenance
	WHERE patient_id = $1 AND day >= $2::date AND day <= $3::date AND kind = ANY($4::int2[])`

// Sources is a set of sources.
type Sources uint16

// Add returns s with src.
func (s Sources) Add(src Source) Sources {
	if src.Valid() {
		s |= 1 << src
	}
	return s
}

// Has reports whether src is in s.
func (s Sources) Has(src Source) bool { return src.Valid() && s&(1<<src) != 0 }

// List returns the sources of s in code order.
func (s Sources) List() []Source {
	var out []Source
	for src := Source(1); src.Valid(); src++ {
		if s.Has(src) {
			out = append(out, src)
		}
	}
	return out
}

// Names returns the names of the sources of s.
func (s Sources) Names() []string {
	var out []string
	for _, src := range s.List() {
		out = append(out, src.String())
	}
	return out
}

// sourcesOf returns the sources of each reading of rs, whose rows' sources
// are rowSrc, with the window's provenance.
func sourcesOf(rs cgm.Series, rowSrc []Source, also alsoFrom) []Sources {
	out := make([]Sources, len(rs))
	for i, r := range rs {
		out[i] = out[i].Add(rowSrc[i])
		if len(also) > 0 {
			k := provKey{int16(r.Kind), r.Time.UnixMicro()}
			for src, m := range also {
				if m[k] {
					out[i] = out[i].Add(src)
				}
			}
		}
	}
	return out
}

// primarySeries keeps the readings of the primary series (see above):
// those primary delivered or a source reading the same sensor delivered
// (sameSensor), and the others only where no reading of the same kind that
// primary delivered lies within SeriesGap. srcs are the readings' sources.
// It returns the readings kept and their sources.
func primarySeries(rs cgm.Series, srcs []Sources, primary Source) (cgm.Series, []Sources) {
	series := sameSensor(rs, srcs, primary).Add(primary)
	var prim [cgm.Strip + 1][]int64
	for i, r := range rs {
		if srcs[i]&series != 0 && r.Kind <= cgm.Strip {
			prim[r.Kind] = append(prim[r.Kind], r.Time.UnixMicro())
		}
	}
	gap := SeriesGap.Microseconds()
	out := rs[:0:0]
	var outSrc []Sources
	for i, r := range rs {
		keep := srcs[i]&series != 0
		if !keep && r.Kind <= cgm.Strip {
			ps := prim[r.Kind]
			us := r.Time.UnixMicro()
			j := sort.Search(len(ps), func(j int) bool { return ps[j] >= us })
			near := j < len(ps) && ps[j]-us < gap || j > 0 && us-ps[j-1] < gap
			keep = !near
		}
		if keep {
			out = append(out, r)
			outSrc = append(outSrc, srcs[i])
		}
	}
	return out, outSrc
}

// sameSensor returns the other sources whose historic readings in rs are
// the primary sensor's own, read by another way (xDrip+ or Juggluco
// uploading every 5 minutes, or every minute, the Libre sensor whose
// 15-minute history LibreLinkUp gives): where such a source has a reading
// within TwinWindow of a primary one, it is the same reading (a twin,
// merged into one row with both provenances) at least half of the time.
// Its readings between the primary's are then more of the same series,
// not a second sensor's. A second sensor worn at the same time gives twins
// by chance only: its values differ from the first's by more than
// TwinTolerance most of the time, or its clock is never within TwinWindow
// of the first's.
func sameSensor(rs cgm.Series, srcs []Sources, primary Source) Sources {
	// For each other source: how many primary readings it twinned, and
	// how many primary readings it had a reading near (twinned or not).
	var twins, near [len(sourceNames)]int
	var others []int // indexes of historic readings of other sources only
	var all Sources
	for i, r := range rs {
		if r.Kind == cgm.Historic && !srcs[i].Has(primary) {
			others = append(others, i)
			all |= srcs[i]
		}
	}
	if all == 0 {
		return 0
	}
	window := TwinWindow.Microseconds()
	k := 0
	for i, r := range rs {
		if r.Kind != cgm.Historic || !srcs[i].Has(primary) {
			continue
		}
		us := r.Time.UnixMicro()
		var seen Sources
		for _, src := range srcs[i].List() {
			if src != primary {
				twins[src]++
				seen = seen.Add(src)
			}
		}
		for k < len(others) && rs[others[k]].Time.UnixMicro() <= us-window {
			k++
		}
		for j := k; j < len(others) && rs[others[j]].Time.UnixMicro() < us+window; j++ {
			seen |= srcs[others[j]]
		}
		for _, src := range seen.List() {
			near[src]++
		}
	}
	var out Sources
	for _, src := range all.List() {
		if twins[src] > 0 && 2*twins[src] >= near[src] {
			out = out.Add(src)
		}
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// autoPrimary makes src the patient's primary source when none is set,
// and marks every summary of the patient for recomputation.
func autoPrimary(ctx context.Context, tx pgx.Tx, patient int32, src Source) error {
	tag, err := tx.Exec(ctx, `UPDATE patients SET primary_source = $2, primary_auto = true
		WHERE id = $1 AND primary_source IS NULL`, patient, int16(src))
	if err != nil {
		return fmt.Errorf("primary source: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return markFromFirst(ctx, tx, patient)
}

// markFromFirst marks a patient's summaries dirty from their first
// reading.
func markFromFirst(ctx context.Context, tx pgx.Tx, patient int32) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO patient_metrics_dirty AS d (patient_id, since, marked_at)
		SELECT $1, min(first_at), now() FROM reading_coverage WHERE patient_id = $1 HAVING min(first_at) IS NOT NULL
		ON CONFLICT (patient_id) DO UPDATE SET since = least(d.since, excluded.since), marked_at = excluded.marked_at`, patient)
	if err != nil {
		return fmt.Errorf("dirty mark: %w", err)
	}
	return nil
}

// SetPrimarySource sets, in tx, the patient's primary source: the series
// the statistics read (see Readings); 0 makes every source one series
// again. The patient's summaries are recomputed from their first reading.
func (s *Store) SetPrimarySource(ctx context.Context, tx pgx.Tx, patientID int64, src Source) error {
	if src != 0 && !src.Valid() {
		return fmt.Errorf("cgmstore: primary source: %w: source %d", ErrInvalid, src)
	}
	var arg *int16
	if src != 0 {
		v := int16(src)
		arg = &v
	}
	tag, err := tx.Exec(ctx, `UPDATE patients SET primary_source = $2, primary_auto = false WHERE id = $1`, patientID, arg)
	if err != nil {
		return fmt.Errorf("cgmstore: primary source: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cgmstore: primary source of patient %d: %w", patientID, ErrNotFound)
	}
	if err := markFromFirst(ctx, tx, int32(patientID)); err != nil {
		return fmt.Errorf("cgmstore: primary source: %w", err)
	}
	return nil
}

// forgetSource takes src out of the provenance of a patient's readings
// with instants in [from, to], in tx, under the patient's ingestion lock:
// src's own entries go, and a reading src delivered first that another
// source delivered again becomes that source's reading (its row's source
// changes, that source's entry goes), so that removing one source's
// readings keeps what another also delivered. It returns how many
// readings changed hands.
func forgetSource(ctx context.Context, tx pgx.Tx, patient int32, src Source, from, to time.Time) (int64, error) {
	rows, _ := tx.Query(ctx, `SELECT kind, day, source, instants FROM reading_provenance
		WHERE patient_id = $1 AND day >= $2::date AND day <= $3::date FOR UPDATE`, patient, dateOf(from), dateOf(to))
	also, err := readProvenance(ctx, rows)
	if err != nil {
		return 0, fmt.Errorf("provenance: %w", err)
	}
	fromUS, toUS := from.UnixMicro(), to.UnixMicro()
	in := func(k provKey) bool { return k.us >= fromUS && k.us <= toUS }
	drop := map[Source][]provKey{}
	for k := range also[src] {
		if in(k) {
			drop[src] = append(drop[src], k)
		}
	}
	var handed int64
	srcBits := sourceCode(src) << metaSourceShift
	// Lowest code first: which other source takes a reading is stable.
	for _, o := range slices.Sorted(func(yield func(Source) bool) {
		for o := range also {
			if o != src && !yield(o) {
				return
			}
		}
	}) {
		var kinds []int16
		var at []time.Time
		for k := range also[o] {
			if in(k) {
				kinds, at = append(kinds, k.kind), append(at, time.UnixMicro(k.us))
			}
		}
		if len(kinds) == 0 {
			continue
		}
		rows, _ := tx.Query(ctx, `
			UPDATE readings r SET meta = (r.meta & ~56) | $5
			FROM unnest($3::int2[], $4::timestamptz[]) AS x(kind, at)
			WHERE r.patient_id = $1 AND (r.meta & 7) = x.kind AND r.measured_at = x.at AND (r.meta & 56) = $2
				AND r.measured_at >= $6 AND r.measured_at <= $7
			RETURNING (r.meta & 7)::int2, r.measured_at`,
			patient, srcBits, kinds, at, sourceCode(o)<<metaSourceShift, from, to)
		var kind int16
		var t time.Time
		if _, err := pgx.ForEachRow(rows, []any{&kind, &t}, func() error {
			drop[o] = append(drop[o], provKey{kind, t.UnixMicro()})
			handed++
			return nil
		}); err != nil {
			return 0, fmt.Errorf("provenance: hand over to %s: %w", o, err)
		}
	}
	for o, keys := range drop {
		if err := dropProvenance(ctx, tx, patient, o, keys); err != nil {
			return 0, err
		}
	}
	return handed, nil
}

// dropProvenance takes the readings keys out of src's provenance.
func dropProvenance(ctx context.Context, tx pgx.Tx, patient int32, src Source, keys []provKey) error {
	type dayKind struct {
		kind int16
		day  int64
	}
	gone := map[dayKind]map[int64]bool{}
	for _, k := range keys {
		d := dayKind{k.kind, floorDiv(k.us, dayMicros)}
		if gone[d] == nil {
			gone[d] = map[int64]bool{}
		}
		gone[d][k.us] = true
	}
	for d, g := range gone {
		day := time.UnixMicro(d.day * dayMicros).UTC()
		var data []byte
		err := tx.QueryRow(ctx, `SELECT instants FROM reading_provenance
			WHERE patient_id = $1 AND kind = $2 AND day = $3::date AND source = $4`, patient, d.kind, day, int16(src)).Scan(&data)
		if err != nil {
			return fmt.Errorf("provenance: %w", err)
		}
		us, err := decodeInstants(day, data)
		if err != nil {
			return err
		}
		us = slices.DeleteFunc(us, func(u int64) bool { return g[u] })
		if len(us) == 0 {
			_, err = tx.Exec(ctx, `DELETE FROM reading_provenance WHERE patient_id = $1 AND kind = $2 AND day = $3::date AND source = $4`,
				patient, d.kind, day, int16(src))
		} else {
			_, err = tx.Exec(ctx, `UPDATE reading_provenance SET instants = $5 WHERE patient_id = $1 AND kind = $2 AND day = $3::date AND source = $4`,
				patient, d.kind, day, int16(src), encodeInstants(day, us))
		}
		if err != nil {
			return fmt.Errorf("provenance: %w", err)
		}
	}
	return nil
}
