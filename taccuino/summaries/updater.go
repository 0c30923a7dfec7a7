package summaries

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/records"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PeriodDays is the length of the current and previous periods: 14 local
// days, the consensus minimum (Battelino et al. 2019; ADA Standards of Care
// Table 6.2, "recommend 14 days").
const PeriodDays = 14

// Publisher stores a patient's new summary in the record inside the
// caller's transaction: records.Store.PublishSummary.
type Publisher interface {
	PublishSummary(ctx context.Context, tx pgx.Tx, p records.Publication) error
}

// LabHbA1c reads the laboratory HbA1c results of a patient taken in
// [from, to): records.Store.LabHbA1c, adapted.
type LabHbA1c func(ctx context.Context, patientID int64, from, to time.Time) ([]agpdoc.LabResult, error)

// Options configure an Updater. The zero value is usable.
type Options struct {
	// Logger receives the updater's warnings (internal patient ids only).
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Publisher, when set, receives every summary whose figures changed,
	// with the AGP report PDF.
	Publisher Publisher
	// HbA1c, when set, puts laboratory HbA1c results on the published PDF.
	HbA1c LabHbA1c
	// VitalsPublisher, when set, receives the daily summaries of the
	// patients' devices whose figures changed (see UpdateVitals).
	VitalsPublisher VitalsPublisher
	// Batch is the number of patients updated per transaction (default 100).
	Batch int
	// Interval is the pause of Run between rounds (default 10 s).
	Interval time.Duration
	// KeepDays is how many local days of day rows are kept and
	// recomputed (default 90; at least 2 × PeriodDays).
	KeepDays int
	// PublishRetry is the wait after a failed publication (default 10 min).
	PublishRetry time.Duration
}

// Updater keeps the day rows and summaries of every patient up to date from
// the dirty marks of patient_metrics_dirty. It is safe for concurrent use,
// and any number of replicas may run it: marks and summaries are claimed
// with FOR UPDATE SKIP LOCKED.
type Updater struct {
	pool  *pgxpool.Pool
	store *cgmstore.Store
	o     Options
	log   *slog.Logger
}

// NewUpdater returns an updater on pool (a migrated database) reading the
// readings through store.
func NewUpdater(pool *pgxpool.Pool, store *cgmstore.Store, o Options) *Updater {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.KeepDays < 2*PeriodDays {
		o.KeepDays = 90
	}
	if o.PublishRetry <= 0 {
		o.PublishRetry = 10 * time.Minute
	}
	return &Updater{pool: pool, store: store, o: o, log: o.Logger}
}

// Result counts what UpdateDirty did.
type Result struct {
	// Patients is the number of dirty marks consumed.
	Patients int
	// Days is the number of day rows written.
	Days int
	// Changed is the number of summaries whose current period or figures
	// changed.
	Changed int
	// Fallbacks is the number of periods computed from the readings
	// because their day rows could not give the exact figures.
	Fallbacks int
	// Published is the number of summaries published to the record.
	Published int
}

func (r *Result) add(o Result) {
	r.Patients += o.Patients
	r.Days += o.Days
	r.Changed += o.Changed
	r.Fallbacks += o.Fallbacks
	r.Published += o.Published
}

// Run updates summaries until ctx is done: each round marks the summaries
// whose period has ended (MarkStale), consumes the dirty marks
// (UpdateDirty), retries due publications and updates the daily summaries
// of the patients' devices (UpdateVitals), then waits Options.Interval.
// Errors of a round are logged and the next round tries again.
func (u *Updater) Run(ctx context.Context) error {
	t := time.NewTicker(u.o.Interval)
	defer t.Stop()
	for {
		if _, err := u.MarkStale(ctx); err != nil && ctx.Err() == nil {
			u.log.Error("summaries: marking ended periods", slog.String("err", err.Error()))
		}
		for ctx.Err() == nil {
			res, err := u.UpdateDirty(ctx, 10*u.o.Batch)
			if err != nil {
				if ctx.Err() == nil {
					u.log.Error("summaries: update", slog.String("err", err.Error()))
				}
				break
			}
			if res.Patients < 10*u.o.Batch {
				break
			}
		}
		if u.o.Publisher != nil && ctx.Err() == nil {
			if _, err := u.PublishPending(ctx, u.o.Batch); err != nil && ctx.Err() == nil {
				u.log.Error("summaries: publication", slog.String("err", err.Error()))
			}
		}
		for ctx.Err() == nil {
			res, err := u.UpdateVitals(ctx, u.o.Batch)
			if err != nil {
				if ctx.Err() == nil {
					u.log.Error("summaries: device measures", slog.String("err", err.Error()))
				}
				break
			}
			if res.Patients < u.o.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// MarkStale marks for recomputation (cgmstore.Store.MarkDirty) the
// patients whose summary period has ended (the day rolled over in their
// zone), whose zone changed (every kept day is recomputed), and those
// without a summary yet (new patients, with or without readings: every
// patient has a summary row, so that the clinic list joins them all). It
// returns how many it marked.
func (u *Updater) MarkStale(ctx context.Context) (int64, error) {
	now := u.o.Now().UTC()
	keep := now.AddDate(0, 0, -u.o.KeepDays-1)
	const q = `
		SELECT s.patient_id, CASE WHEN s.time_zone <> p.time_zone THEN $2::timestamptz ELSE $1::timestamptz END
		FROM patient_summaries s JOIN patients p ON p.id = s.patient_id
		WHERE s.stale_after <= $1::timestamptz OR s.time_zone <> p.time_zone
		UNION ALL
		SELECT p.id, greatest(coalesce(min(c.first_at), $1::timestamptz), $2::timestamptz)
		FROM patients p LEFT JOIN reading_coverage c ON c.patient_id = p.id
		WHERE NOT EXISTS (SELECT 1 FROM patient_summaries s WHERE s.patient_id = p.id)
		GROUP BY p.id`
	var n int64
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, q, now, keep)
		marks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cgmstore.DirtyMark, error) {
			var m cgmstore.DirtyMark
			err := r.Scan(&m.Patient, &m.Since)
			return m, err
		})
		if err != nil {
			return err
		}
		n = int64(len(marks))
		return u.store.MarkDirty(ctx, tx, marks)
	})
	if err != nil {
		return 0, fmt.Errorf("summaries: mark stale summaries: %w", err)
	}
	return n, nil
}

// UpdateDirty consumes up to limit dirty marks, in transactions of
// Options.Batch patients: for each patient it recomputes the day rows of
// the local days from the mark's instant on (at most KeepDays back) from
// the readings, merges the current and previous periods from the day rows,
// stores the summary and deletes the mark, in one transaction per batch.
// Then it publishes the summaries whose figures changed (Options.Publisher),
// each in a transaction of its own.
func (u *Updater) UpdateDirty(ctx context.Context, limit int) (Result, error) {
	var total Result
	for total.Patients < limit {
		n := min(u.o.Batch, limit-total.Patients)
		res, changed, err := u.batch(ctx, n)
		total.add(res)
		if err != nil {
			return total, err
		}
		if u.o.Publisher != nil {
			for _, id := range changed {
				ok, err := u.publish(ctx, id)
				if err != nil {
					return total, err
				}
				if ok {
					total.Published++
				}
			}
		}
		if res.Patients < n {
			break
		}
	}
	return total, nil
}

// batch claims and processes up to n dirty marks in one transaction. It
// returns the patients whose summary changed and has data to publish.
func (u *Updater) batch(ctx context.Context, n int) (Result, []int64, error) {
	var res Result
	var publish []int64
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		claims, err := u.store.ClaimDirty(ctx, tx, n)
		if err != nil {
			return err
		}
		if len(claims) == 0 {
			return nil
		}
		slices.SortFunc(claims, func(a, b cgmstore.DirtyMark) int { return cmp.Compare(a.Patient, b.Patient) })
		res.Patients = len(claims)
		now := u.o.Now()
		var (
			delIDs   []int32
			delFrom  []time.Time
			copyRows [][]any
			pats     []patientZone
		)
		reader := u.store.InTx(tx)
		for _, c := range claims {
			loc, err := zoneOf(c.TimeZone)
			if err != nil {
				return fmt.Errorf("patient %d: %w", c.Patient, err)
			}
			pats = append(pats, patientZone{id: c.Patient, tz: c.TimeZone, loc: loc})
			today := localMidnight(now, loc)
			from := localMidnight(c.Since, loc)
			if h := today.AddDate(0, 0, -u.o.KeepDays); from.Before(h) {
				from = h
			}
			if from.After(today) {
				from = today
			}
			rs, err := reader.Readings(ctx, c.Patient, from, now.Add(48*time.Hour), cgm.Historic, cgm.Scan)
			if err != nil {
				return fmt.Errorf("patient %d: %w", c.Patient, err)
			}
			delIDs = append(delIDs, int32(c.Patient))
			delFrom = append(delFrom, civil(from))
			for _, d := range buildDays(rs, loc) {
				copyRows = append(copyRows, dayRow(c.Patient, d))
			}
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM patient_days d USING unnest($1::int4[], $2::date[]) u(pid, day0)
			WHERE d.patient_id = u.pid AND d.day >= u.day0`, delIDs, delFrom); err != nil {
			return fmt.Errorf("delete day rows: %w", err)
		}
		if len(copyRows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"patient_days"}, dayColumns, pgx.CopyFromRows(copyRows)); err != nil {
				return fmt.Errorf("write day rows: %w", err)
			}
		}
		res.Days = len(copyRows)
		r, pub, err := u.rebuild(ctx, tx, pats, now)
		if err != nil {
			return err
		}
		res.Changed, res.Fallbacks, publish = r.Changed, r.Fallbacks, pub
		return u.store.ConsumeDirty(ctx, tx, claims)
	})
	if err != nil {
		return Result{}, nil, fmt.Errorf("summaries: update: %w", err)
	}
	return res, publish, nil
}

// zoneOf returns the time zone named tz (cgm.Zone, loaded once per
// process), naming it in the error.
func zoneOf(tz string) (*time.Location, error) {
	loc, err := cgm.Zone(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return loc, nil
}

// civil returns the date of a local midnight as a UTC midnight (how dates
// travel to PostgreSQL date columns).
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// local returns the local midnight of a date read from a date column.
func local(d time.Time, loc *time.Location) time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

var dayColumns = []string{"patient_id", "day", "readings", "mgdl_readings", "scans", "sum_mgdl", "m2_mgdl",
	"very_low", "low", "target", "high", "very_high", "tight", "mmol_bands", "first_at", "last_at", "gaps", "gap_counts",
	"slots_1", "slots_5", "slots_15"}

func dayRow(id int64, d day) []any {
	var mmol any
	if d.mmol != nil {
		mmol = d.mmol[:]
	}
	var first, last any
	if d.n > 0 {
		first, last = d.first, d.last
	}
	var gaps, counts any
	if d.gaps != nil {
		gaps, counts = d.gaps, d.gapCounts
	}
	b := d.bands
	return []any{int32(id), civil(d.date), d.n, d.nMgDL, d.scans, d.sum, d.m2,
		b[bandVeryLow], b[bandLow], b[bandTarget], b[bandHigh], b[bandVeryHigh], b[bandTight], mmol, first, last, gaps, counts,
		d.slots[0], d.slots[1], d.slots[2]}
}

// dayScan reads what dayScan writes: the columns dayColumns[1:] (after the
// patient) of a patient_days row. dest are the scan targets, day the row
// read (a copy that shares nothing with the next row's).
type dayScan struct {
	d           day
	date        time.Time
	mmol        []int32
	first, last *time.Time
	gaps        []float64
	counts      []int32
}

func (r *dayScan) dest() []any {
	return []any{&r.date, &r.d.n, &r.d.nMgDL, &r.d.scans, &r.d.sum, &r.d.m2,
		&r.d.bands[bandVeryLow], &r.d.bands[bandLow], &r.d.bands[bandTarget], &r.d.bands[bandHigh], &r.d.bands[bandVeryHigh],
		&r.d.bands[bandTight], &r.mmol, &r.first, &r.last, &r.gaps, &r.counts, &r.d.slots[0], &r.d.slots[1], &r.d.slots[2]}
}

// day returns the row read, its date as stored (civil).
func (r *dayScan) day() day {
	x := r.d
	x.date = r.date
	x.mmol = nil
	if r.mmol != nil {
		var m [nBands]int32
		copy(m[:], r.mmol)
		x.mmol = &m
	}
	x.first, x.last = time.Time{}, time.Time{}
	if r.first != nil {
		x.first, x.last = *r.first, *r.last
	}
	x.gaps, x.gapCounts = r.gaps, r.counts
	return x
}

// patientZone is a patient and its zone.
type patientZone struct {
	id  int64
	tz  string
	loc *time.Location
}

// periods returns the current and previous periods of a patient at now:
// the PeriodDays complete local days ending yesterday, and the PeriodDays
// before them.
func periods(now time.Time, loc *time.Location) (cur, prev agp.Period) {
	today := localMidnight(now, loc)
	cur = agp.LocalDays(today.AddDate(0, 0, -PeriodDays), today.AddDate(0, 0, -1), loc)
	prev = agp.LocalDays(today.AddDate(0, 0, -2*PeriodDays), today.AddDate(0, 0, -PeriodDays-1), loc)
	return cur, prev
}

// rebuild merges the current and previous periods of pats from their day
// rows (or from the readings where the rows cannot give exact figures) and
// stores their summaries in tx. It returns the patients whose current
// figures changed and have data to publish.
func (u *Updater) rebuild(ctx context.Context, tx pgx.Tx, pats []patientZone, now time.Time) (Result, []int64, error) {
	var res Result
	if len(pats) == 0 {
		return res, nil, nil
	}
	ids := make([]int32, len(pats))
	lo, hi := time.Time{}, time.Time{}
	for i, p := range pats {
		ids[i] = int32(p.id)
		cur, prev := periods(now, p.loc)
		if s := civil(prev.Start.In(p.loc)); lo.IsZero() || s.Before(lo) {
			lo = s
		}
		if e := civil(cur.End.In(p.loc)); e.After(hi) {
			hi = e
		}
	}
	byPatient := map[int64][]day{}
	rows, _ := tx.Query(ctx, `
		SELECT patient_id, day, readings, mgdl_readings, scans, sum_mgdl, m2_mgdl, very_low, low, target, high, very_high,
			tight, mmol_bands, first_at, last_at, gaps, gap_counts, slots_1, slots_5, slots_15
		FROM patient_days WHERE patient_id = ANY($1) AND day >= $2 AND day < $3
		ORDER BY patient_id, day`, ids, lo, hi)
	var (
		pid int32
		row dayScan
	)
	_, err := pgx.ForEachRow(rows, append([]any{&pid}, row.dest()...), func() error {
		// The date is civil; made local below.
		byPatient[int64(pid)] = append(byPatient[int64(pid)], row.day())
		return nil
	})
	if err != nil {
		return res, nil, fmt.Errorf("read day rows: %w", err)
	}
	lastAt := map[int64]time.Time{}
	old := map[int64]string{}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT patient_id, last_at FROM reading_coverage WHERE kind = 1 AND patient_id = ANY($1)`, ids)
	batch.Queue(`SELECT patient_id, figures_key FROM patient_summaries WHERE patient_id = ANY($1)`, ids)
	br := tx.SendBatch(ctx, batch)
	rows, _ = br.Query()
	var at time.Time
	var key string
	if _, err := pgx.ForEachRow(rows, []any{&pid, &at}, func() error { lastAt[int64(pid)] = at; return nil }); err != nil {
		br.Close()
		return res, nil, fmt.Errorf("read coverage: %w", err)
	}
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&pid, &key}, func() error { old[int64(pid)] = key; return nil }); err != nil {
		br.Close()
		return res, nil, fmt.Errorf("read summaries: %w", err)
	}
	if err := br.Close(); err != nil {
		return res, nil, err
	}

	write := &pgx.Batch{}
	var publish []int64
	reader := u.store.InTx(tx)
	for _, p := range pats {
		ds := byPatient[p.id]
		for i := range ds {
			ds[i].date = local(ds[i].date, p.loc)
		}
		cur, prev := periods(now, p.loc)
		fc, ok1 := mergeDays(ds, cur, p.loc)
		fp, ok2 := mergeDays(ds, prev, p.loc)
		if !ok1 || !ok2 {
			res.Fallbacks++
			rs, err := reader.Readings(ctx, p.id, prev.Start, cur.End, cgm.Historic, cgm.Scan)
			if err != nil {
				return res, nil, fmt.Errorf("patient %d: fallback readings: %w", p.id, err)
			}
			if !ok1 {
				r, err := agp.Compute(rs, agp.Options{Location: p.loc, Period: &cur})
				if err != nil {
					return res, nil, fmt.Errorf("patient %d: %w", p.id, err)
				}
				fc = FiguresOf(r)
			}
			if !ok2 {
				r, err := agp.Compute(rs, agp.Options{Location: p.loc, Period: &prev})
				if err != nil {
					return res, nil, fmt.Errorf("patient %d: %w", p.id, err)
				}
				fp = FiguresOf(r)
			}
		}
		s := newSummary(p, cur, fc, fp, lastAt[p.id])
		if s.key != old[p.id] {
			res.Changed++
			if fc.Readings > 0 {
				publish = append(publish, p.id)
			}
		}
		if err := queueUpsert(write, s); err != nil {
			return res, nil, err
		}
	}
	if err := tx.SendBatch(ctx, write).Close(); err != nil {
		return res, nil, fmt.Errorf("write summaries: %w", err)
	}
	return res, publish, nil
}

// summary is a row of patient_summaries to write.
type summary struct {
	id         int64
	tz         string
	start, end time.Time // local midnights of the first and last day
	staleAfter time.Time
	cur, prev  Figures
	delta      *float64
	lastAt     time.Time
	cat        Category
	severity   float64
	flags      Flags
	key        string
}

func newSummary(p patientZone, cur agp.Period, fc, fp Figures, lastAt time.Time) summary {
	start := cur.Start.In(p.loc)
	end := cur.End.In(p.loc).AddDate(0, 0, -1)
	end = time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, p.loc)
	s := summary{id: p.id, tz: p.tz, start: start, end: end, cur: fc, prev: fp, lastAt: lastAt,
		staleAfter: time.Date(end.Year(), end.Month(), end.Day()+2, 0, 0, 0, 0, p.loc)}
	if fc.TimeInRanges != nil && fp.TimeInRanges != nil {
		d := fc.TimeInRanges.Target - fp.TimeInRanges.Target
		s.delta = &d
	}
	s.cat, s.severity, s.flags = Categorize(fc, fp)
	s.key = figuresKey(start, end, fc)
	return s
}

// figuresKey identifies a period and its figures: a new key means new
// figures to publish.
func figuresKey(start, end time.Time, f Figures) string {
	b, _ := json.Marshal(f)
	h := sha256.New()
	fmt.Fprintf(h, "%s/%s/", start.Format(time.DateOnly), end.Format(time.DateOnly))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

const upsertSQL = `
	INSERT INTO patient_summaries (patient_id, time_zone, period_start, period_end, stale_after, readings,
		mean_mgdl, gmi_percent, cv_percent, very_low, low, target, high, very_high, active_percent, days_worn, sufficient,
		prev_target, tir_delta, last_reading_at, category, severity, flags, figures_key, published_key, gri, gri_zone, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
		$25, $26, $27, now())
	ON CONFLICT (patient_id) DO UPDATE SET time_zone = excluded.time_zone, period_start = excluded.period_start,
		period_end = excluded.period_end, stale_after = excluded.stale_after,
		readings = excluded.readings, mean_mgdl = excluded.mean_mgdl, gmi_percent = excluded.gmi_percent,
		cv_percent = excluded.cv_percent, very_low = excluded.very_low, low = excluded.low, target = excluded.target,
		high = excluded.high, very_high = excluded.very_high, active_percent = excluded.active_percent,
		days_worn = excluded.days_worn, sufficient = excluded.sufficient,
		prev_target = excluded.prev_target, tir_delta = excluded.tir_delta, last_reading_at = excluded.last_reading_at,
		category = excluded.category, severity = excluded.severity, flags = excluded.flags,
		figures_key = excluded.figures_key, gri = excluded.gri, gri_zone = excluded.gri_zone,
		published_key = coalesce(excluded.published_key, patient_summaries.published_key),
		publish_after = CASE WHEN patient_summaries.figures_key = excluded.figures_key
			THEN patient_summaries.publish_after END,
		updated_at = now()`

func queueUpsert(b *pgx.Batch, s summary) error {
	cur, err := json.Marshal(s.cur)
	if err != nil {
		return err
	}
	prev, err := json.Marshal(s.prev)
	if err != nil {
		return err
	}
	f := s.cur
	var mean, gmi, vl, lo, tg, hi, vh, prevTarget *float64
	if f.MeanGlucose != nil {
		mean = &f.MeanGlucose.MgDL
	}
	if f.GMI != nil {
		gmi = &f.GMI.Percent
	}
	if r := f.TimeInRanges; r != nil {
		vl, lo, tg, hi, vh = &r.VeryLow, &r.Low, &r.Target, &r.High, &r.VeryHigh
	}
	if r := s.prev.TimeInRanges; r != nil {
		prevTarget = &r.Target
	}
	var lastAt *time.Time
	if !s.lastAt.IsZero() {
		lastAt = &s.lastAt
	}
	var published *string
	if f.Readings == 0 {
		published = &s.key // nothing to publish without data
	}
	var gri *float64
	var griZone *int16
	if g := f.GRI; g != nil {
		z := int16(strings.Index("ABCDE", g.Zone) + 1)
		gri, griZone = &g.Value, &z
	}
	b.Queue(upsertSQL, int32(s.id), s.tz, civil(s.start), civil(s.end), s.staleAfter, f.Readings,
		mean, gmi, f.CVPercent, vl, lo, tg, hi, vh, finite(f.ActivePercent), f.DaysWorn, f.Sufficient,
		prevTarget, s.delta, lastAt, int16(s.cat), s.severity, int32(s.flags), s.key, published, gri, griZone)
	b.Queue(`INSERT INTO patient_summary_figures (patient_id, figures, prev_figures) VALUES ($1, $2, $3)
		ON CONFLICT (patient_id) DO UPDATE SET figures = excluded.figures, prev_figures = excluded.prev_figures
		WHERE (patient_summary_figures.figures::text, patient_summary_figures.prev_figures::text)
			IS DISTINCT FROM (excluded.figures::text, excluded.prev_figures::text)`,
		int32(s.id), cur, prev)
	return nil
}

// finite guards a NOT NULL float column against NaN.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// Refresh re-derives, from the day rows, the summaries of the patients in
// ids whose period has ended, so that a list read just after midnight shows
// the new period before the updater's next round. Rows being updated
// elsewhere are skipped (SKIP LOCKED). The record is left to the updater,
// whose next round publishes the new period (PublishPending). It returns
// how many summaries it refreshed.
func (u *Updater) Refresh(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	now := u.o.Now()
	n := 0
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
			SELECT s.patient_id, p.time_zone FROM patient_summaries s JOIN patients p ON p.id = s.patient_id
			WHERE s.patient_id = ANY($1) AND s.stale_after <= $2 AND s.time_zone = p.time_zone
			ORDER BY s.patient_id
			FOR UPDATE OF s SKIP LOCKED`, ids, now)
		var pats []patientZone
		var id int64
		var tz string
		_, err := pgx.ForEachRow(rows, []any{&id, &tz}, func() error {
			loc, err := zoneOf(tz)
			if err != nil {
				return err
			}
			pats = append(pats, patientZone{id: id, tz: tz, loc: loc})
			return nil
		})
		if err != nil {
			return err
		}
		n = len(pats)
		_, _, err = u.rebuild(ctx, tx, pats, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("summaries: refresh: %w", err)
	}
	return n, nil
}
