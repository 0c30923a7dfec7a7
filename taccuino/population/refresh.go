package population

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/summaries"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultK is the threshold of the suppression: a cell of fewer than 10
// patients is not published (the threshold of the Italian statistical
// system's guidance for health data, and of many health authorities'
// publication rules; configurable).
const DefaultK = 10

// DefaultMonths is how many complete calendar months the trends go back.
const DefaultMonths = 24

// ErrBusy: another replica is refreshing the population view now.
var ErrBusy = errors.New("population: another refresh is in progress")

// Options configure a Refresher. The zero value is usable.
type Options struct {
	// K is the suppression threshold (DefaultK when 0; at least 2).
	K int
	// Months is how many complete months the trends cover (DefaultMonths
	// when 0).
	Months int
	// Zone is the region's calendar, which decides today and the months
	// (Europe/Rome when nil). Each patient's periods are those days in the
	// patient's own zone.
	Zone *time.Location
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives the job's lines (no patient is ever named).
	Logger *slog.Logger
	// Interval is how often Run looks for work (10 minutes when 0).
	Interval time.Duration
}

func (o Options) withDefaults() Options {
	if o.K <= 0 {
		o.K = DefaultK
	}
	o.K = max(o.K, 2)
	if o.Months <= 0 {
		o.Months = DefaultMonths
	}
	if o.Zone == nil {
		o.Zone, _ = cgm.Zone(cgmstore.DefaultTimeZone)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Minute
	}
	return o
}

// Refresher keeps the population view: it pseudonymises the patients and
// their periods' figures (population_members, population_periods) and
// builds the statistical releases from them. It is the only part of the
// package that reads identified tables. Safe for concurrent use; one
// replica refreshes at a time.
type Refresher struct {
	pool      *pgxpool.Pool
	summaries *summaries.Store
	store     *cgmstore.Store
	o         Options
}

// NewRefresher returns a refresher on pool (a migrated database), reading
// readings through store where day rows cannot give a period's figures.
func NewRefresher(pool *pgxpool.Pool, store *cgmstore.Store, o Options) *Refresher {
	return &Refresher{pool: pool, summaries: summaries.NewStore(pool), store: store, o: o.withDefaults()}
}

// K returns the suppression threshold.
func (r *Refresher) K() int { return r.o.K }

// Period is one period of the population view: whole local days First to
// Last (dates).
type Period struct {
	Kind        PeriodKind
	First, Last time.Time
}

// Periods returns the periods of the view at now: the 14 and 90 days
// ending yesterday (in the region's calendar), and the last Months complete
// calendar months, oldest first.
func (r *Refresher) Periods(now time.Time) []Period {
	y, m, d := now.In(r.o.Zone).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	out := []Period{
		{Kind: Days14, First: today.AddDate(0, 0, -14), Last: today.AddDate(0, 0, -1)},
		{Kind: Days90, First: today.AddDate(0, 0, -90), Last: today.AddDate(0, 0, -1)},
	}
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	for i := r.o.Months; i >= 1; i-- {
		s := first.AddDate(0, -i, 0)
		out = append(out, Period{Kind: Month, First: s, Last: s.AddDate(0, 1, -1)})
	}
	return out
}

// lockID serialises refreshes across replicas (a transaction-level
// advisory lock): the crc32 of "fsecgm population".
const lockID = 1921191019

// Result counts what Refresh did.
type Result struct {
	// Members is the number of patients in the view; Opposed the number
	// left out for their opposition to secondary use.
	Members, Opposed int
	// PeriodRows is the number of (patient, period) rows written, and
	// Fallbacks the periods computed from the readings.
	PeriodRows, Fallbacks int
	// Releases is the number of releases built; Suppressed and Secondary
	// count their suppressed cells (all, and complements).
	Releases, Suppressed, Secondary int
}

// Refresh rebuilds the population view in one transaction: the members
// (the patients not opposed to secondary use, with their attributes and a
// pseudonym), their figures over every period, and the releases of every
// period. Analysts read the previous view until it commits. ErrBusy when
// another replica is refreshing.
func (r *Refresher) Refresh(ctx context.Context) (Result, error) {
	res, _, err := r.refresh(ctx, nil)
	return res, err
}

// RefreshIfDue refreshes the view as Refresh does when it is Due for a
// schedule whose latest run was due at since, deciding under the
// refresh's lock, so that replicas whose schedules fire together refresh
// once: the first refreshes, the others get ErrBusy meanwhile, or find the
// view fresh after. It reports whether it refreshed.
func (r *Refresher) RefreshIfDue(ctx context.Context, since time.Time) (Result, bool, error) {
	return r.refresh(ctx, &since)
}

// errFresh: the view was not due (RefreshIfDue).
var errFresh = errors.New("population: fresh")

func (r *Refresher) refresh(ctx context.Context, since *time.Time) (Result, bool, error) {
	var res Result
	now := r.o.Now()
	periods := r.Periods(now)
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, lockID).Scan(&got); err != nil {
			return err
		}
		if !got {
			return ErrBusy
		}
		if since != nil {
			if due, err := r.dueTx(ctx, tx, *since); err != nil || !due {
				return cmpOr(err, errFresh)
			}
		}
		secret, err := ensureKey(ctx, tx, now)
		if err != nil {
			return err
		}
		members, opposed, err := r.members(ctx, tx, secret, now)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		res.Members, res.Opposed = len(members), opposed
		if err := writeMembers(ctx, tx, members); err != nil {
			return fmt.Errorf("members: %w", err)
		}
		n, fb, err := r.writePeriods(ctx, tx, members, periods)
		if err != nil {
			return fmt.Errorf("periods: %w", err)
		}
		res.PeriodRows, res.Fallbacks = n, fb
		rels := make([]built, 0, len(periods))
		for _, p := range periods {
			start := time.Now()
			tables, s, err := buildRelease(ctx, tx, p, r.o.K, now)
			r.o.Logger.Debug("population: release", slog.String("period", p.Kind.String()), slog.String("start", p.First.Format(time.DateOnly)),
				slog.Int("counts", len(s.Suppressed)), slog.Int("complements", s.Secondary), slog.Int("rounds", s.Rounds),
				slog.Duration("took", time.Since(start)))
			if err != nil {
				return fmt.Errorf("release %s %s: %w", p.Kind, p.First.Format(time.DateOnly), err)
			}
			rels = append(rels, built{p: p, tables: tables})
			res.Releases++
			res.Secondary += s.Secondary
			for _, x := range s.Suppressed {
				if x {
					res.Suppressed++
				}
			}
		}
		if err := writeDashboards(ctx, tx, dashboards(rels, r.o.K, now)); err != nil {
			return fmt.Errorf("dashboards: %w", err)
		}
		// Releases of periods no longer in the view.
		kinds, starts := make([]int16, len(periods)), make([]time.Time, len(periods))
		for i, p := range periods {
			kinds[i], starts[i] = int16(p.Kind), p.First
		}
		if _, err := tx.Exec(ctx, `DELETE FROM population_releases r WHERE NOT EXISTS (
			SELECT 1 FROM unnest($1::int2[], $2::date[]) u(kind, start) WHERE u.kind = r.kind AND u.start = r.start)`,
			kinds, starts); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE population_state SET dirty = false, refreshed_at = $1, k = $2 WHERE id = 1`, now, r.o.K)
		return err
	})
	switch {
	case errors.Is(err, errFresh):
		return Result{}, false, nil
	case errors.Is(err, ErrBusy):
		return res, false, ErrBusy
	case err != nil:
		return res, false, fmt.Errorf("population: refresh: %w", err)
	}
	return res, true, nil
}

// cmpOr returns err when it is not nil, else or.
func cmpOr(err, or error) error {
	if err != nil {
		return err
	}
	return or
}

// ensureKey returns the pseudonyms' secret, making it at the first
// refresh (32 random bytes).
func ensureKey(ctx context.Context, tx pgx.Tx, now time.Time) ([]byte, error) {
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO population_key (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`, s, now); err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	var secret []byte
	if err := tx.QueryRow(ctx, `SELECT secret FROM population_key WHERE id = 1`).Scan(&secret); err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	return secret, nil
}

// pseudonym returns the member pseudonym of patient id: HMAC-SHA256 under
// secret (RFC 2104), 128 bits in hex. It cannot be turned back into the id
// without the secret, which the release and the analysts' queries never
// read.
func pseudonym(secret []byte, id int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fsecgm population member\x00" + strconv.FormatInt(id, 10)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// member is a patient of the view, with its attributes.
type member struct {
	id                     int64
	pseudonym              string
	authority, district    *string
	centres                []string
	ageBand, sex, diabetes string
	enrolledOn             time.Time
	loc                    *time.Location
}

// members reads the patients not opposed to secondary use with what the
// breakdowns need: the residence's district and ASL, the diabetology
// centres caring for them now, the diabetes type (clinical_info, the
// clinician's record, when that table exists), age band and sex. It
// returns them and the number of opposed patients.
func (r *Refresher) members(ctx context.Context, tx pgx.Tx, secret []byte, now time.Time) ([]member, int, error) {
	var hasClinical bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('clinical_info') IS NOT NULL`).Scan(&hasClinical); err != nil {
		return nil, 0, err
	}
	dtype := `''`
	join := ``
	if hasClinical {
		dtype, join = `coalesce(ci.diabetes_type, '')`, ` LEFT JOIN clinical_info ci ON ci.patient_id = p.id`
	}
	q := `SELECT p.id, p.fiscal_code, p.birth_date, p.created_at, p.time_zone, d.authority, m.district, ` + dtype + `,
			coalesce((SELECT array_agg(DISTINCT c.party ORDER BY c.party) FROM care_relationships c
				WHERE c.patient_fiscal_code = p.fiscal_code AND c.kind = 'diabetology'
					AND (c.valid_from IS NULL OR c.valid_from <= $1) AND (c.valid_to IS NULL OR c.valid_to > $1)), '{}'),
			EXISTS (SELECT 1 FROM (` + consent.OpposedSQL() + `) o WHERE o.id = p.id)
		FROM patients p
		LEFT JOIN residences r ON r.patient_fiscal_code = p.fiscal_code
		LEFT JOIN municipalities m ON m.istat = r.municipality
		LEFT JOIN health_districts d ON d.code = m.district` + join + `
		ORDER BY p.id`
	rows, err := tx.Query(ctx, q, now)
	if err != nil {
		return nil, 0, err
	}
	today := now.In(r.o.Zone)
	var (
		out     []member
		opposed int
		x       member
		cf, tz  string
		birth   *time.Time
		created time.Time
		isOpp   bool
	)
	_, err = pgx.ForEachRow(rows, []any{&x.id, &cf, &birth, &created, &tz, &x.authority, &x.district, &x.diabetes, &x.centres, &isOpp}, func() error {
		if isOpp {
			opposed++
			return nil
		}
		m := x
		m.centres = slices.Clone(x.centres)
		if x.authority != nil {
			a := *x.authority
			m.authority = &a
		}
		if x.district != nil {
			d := *x.district
			m.district = &d
		}
		m.pseudonym = pseudonym(secret, x.id)
		var stored time.Time
		if birth != nil {
			stored = *birth
		}
		m.ageBand = Unknown
		if b, ok := BirthOf(stored, cf, today); ok {
			m.ageBand = AgeBandOf(b, today)
		}
		m.sex, _ = SexOf(cf)
		loc, err := cgm.Zone(tz)
		if err != nil {
			return fmt.Errorf("patient %d: time zone: %w", x.id, err)
		}
		m.loc = loc
		y, mo, d := created.In(loc).Date()
		m.enrolledOn = time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		out = append(out, m)
		return nil
	})
	return out, opposed, err
}

// writeMembers replaces population_members with members: the rows of
// patients no longer in the view (opposed, deleted) go, with their
// periods.
func writeMembers(ctx context.Context, tx pgx.Tx, members []member) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE population_members_new (LIKE population_members) ON COMMIT DROP`); err != nil {
		return err
	}
	rows := make([][]any, len(members))
	for i, m := range members {
		sex := m.sex
		if sex == "" {
			sex = "M" // cannot happen: every stored fiscal code is valid
		}
		age := m.ageBand
		if age == "" {
			age = "?"
		}
		rows[i] = []any{m.pseudonym, m.authority, m.district, m.centres, age, sex, m.diabetes, m.enrolledOn}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"population_members_new"},
		[]string{"pseudonym", "authority", "district", "centres", "age_band", "sex", "diabetes_type", "enrolled_on"},
		pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		DELETE FROM population_members m WHERE NOT EXISTS (SELECT 1 FROM population_members_new n WHERE n.pseudonym = m.pseudonym);
		INSERT INTO population_members SELECT * FROM population_members_new
		ON CONFLICT (pseudonym) DO UPDATE SET authority = excluded.authority, district = excluded.district,
			centres = excluded.centres, age_band = excluded.age_band, sex = excluded.sex,
			diabetes_type = excluded.diabetes_type, enrolled_on = excluded.enrolled_on`)
	return err
}

// writePeriods replaces population_periods with every member's figures over
// every period: merged from the summaries' day rows
// (summaries.Store.EachPeriod), a row of no readings for a member enrolled
// by the period's end without data in it.
func (r *Refresher) writePeriods(ctx context.Context, tx pgx.Tx, members []member, periods []Period) (int, int, error) {
	byID := make(map[int64]int, len(members))
	for i, m := range members {
		byID[m.id] = i
	}
	dates := make([]summaries.Dates, len(periods))
	for i, p := range periods {
		dates[i] = summaries.Dates{First: p.First, Last: p.Last}
	}
	have := map[[2]int]bool{}
	var rows [][]any
	fallbacks, err := r.summaries.EachPeriod(ctx, r.store, dates, func(pf summaries.PeriodFigures) error {
		i, ok := byID[pf.PatientID]
		if !ok {
			return nil // opposed, or created after the members were read
		}
		have[[2]int{i, pf.Period}] = true
		rows = append(rows, periodRow(members[i].pseudonym, periods[pf.Period], pf.Figures))
		return nil
	})
	if err != nil {
		return 0, fallbacks, err
	}
	for i, m := range members {
		for j, p := range periods {
			if !have[[2]int{i, j}] && !m.enrolledOn.After(p.Last) {
				rows = append(rows, periodRow(m.pseudonym, p, summaries.Figures{}))
			}
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM population_periods`); err != nil {
		return 0, fallbacks, err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"population_periods"},
		[]string{"kind", "start", "last", "pseudonym", "readings", "days_worn", "active_percent", "sufficient",
			"tir", "tbr", "tbr54", "tar", "tar250", "gmi", "cv", "gri", "gri_zone"}, pgx.CopyFromRows(rows))
	return len(rows), fallbacks, err
}

// periodRow is a population_periods row of f.
func periodRow(pseudonym string, p Period, f summaries.Figures) []any {
	var tir, tbr, tbr54, tar, tar250, gmi, gri *float64
	var zone *int16
	if r := f.TimeInRanges; r != nil && f.Readings > 0 {
		a, b, c, d, e := r.Target, r.Low+r.VeryLow, r.VeryLow, r.High+r.VeryHigh, r.VeryHigh
		tir, tbr, tbr54, tar, tar250 = &a, &b, &c, &d, &e
	}
	if f.GMI != nil {
		g := f.GMI.Percent
		gmi = &g
	}
	if f.GRI != nil && f.Readings > 0 {
		g := f.GRI.Value
		gri = &g
		for i, z := range GRIZones {
			if z == f.GRI.Zone {
				zz := int16(i + 1)
				zone = &zz
			}
		}
	}
	active := f.ActivePercent
	if active != active { // NaN
		active = 0
	}
	return []any{int16(p.Kind), p.First, p.Last, pseudonym, f.Readings, f.DaysWorn, active,
		f.Readings > 0 && f.Sufficient, tir, tbr, tbr54, tar, tar250, gmi, f.CVPercent, gri, zone}
}

// Forget removes patient patientID from the population view in tx (the
// transaction that records their opposition to secondary use): their
// pseudonymised rows go at once, and the releases are rebuilt at the
// refresh job's next round (population_state.dirty).
func Forget(ctx context.Context, tx pgx.Tx, patientID int64) error {
	var secret []byte
	err := tx.QueryRow(ctx, `SELECT secret FROM population_key WHERE id = 1`).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // no view yet
	}
	if err != nil {
		return fmt.Errorf("population: forget: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM population_members WHERE pseudonym = $1`, pseudonym(secret, patientID)); err != nil {
		return fmt.Errorf("population: forget: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE population_state SET dirty = true WHERE id = 1`); err != nil {
		return fmt.Errorf("population: forget: %w", err)
	}
	return nil
}

// Run refreshes the view until ctx is done: at start, then whenever the
// region's day changed since the last refresh, the threshold changed, or a
// change asks for it (an opposition: Forget), looking every
// Options.Interval. Errors are logged and the next round tries again.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		if due, err := r.due(ctx); err != nil {
			if ctx.Err() == nil {
				r.o.Logger.Error("population: state", slog.String("err", err.Error()))
			}
		} else if due {
			start := time.Now()
			res, err := r.Refresh(ctx)
			switch {
			case errors.Is(err, ErrBusy):
			case err != nil:
				if ctx.Err() == nil {
					r.o.Logger.Error("population: refresh", slog.String("err", err.Error()))
				}
			default:
				r.o.Logger.Info("population: refreshed", slog.Int("members", res.Members), slog.Int("opposed", res.Opposed),
					slog.Int("period_rows", res.PeriodRows), slog.Int("releases", res.Releases),
					slog.Int("suppressed", res.Suppressed), slog.Duration("took", time.Since(start)))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Due reports whether the view needs a refresh for a schedule whose latest
// run was due at since: never refreshed, a change asks for it (an
// opposition: Forget), the threshold changed, or the last refresh was
// before since (the scheduled run was missed: the service was down, or
// the run failed).
func (r *Refresher) Due(ctx context.Context, since time.Time) (bool, error) {
	return r.dueTx(ctx, r.pool, since)
}

func (r *Refresher) dueTx(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, since time.Time) (bool, error) {
	var dirty bool
	var at *time.Time
	var k *int
	if err := q.QueryRow(ctx, `SELECT dirty, refreshed_at, k FROM population_state WHERE id = 1`).Scan(&dirty, &at, &k); err != nil {
		return false, fmt.Errorf("population: state: %w", err)
	}
	return dirty || at == nil || k == nil || *k != r.o.K || at.Before(since), nil
}

// Zone returns the region's calendar of the refresher.
func (r *Refresher) Zone() *time.Location { return r.o.Zone }

// due reports whether the view needs a refresh.
func (r *Refresher) due(ctx context.Context) (bool, error) {
	var dirty bool
	var at *time.Time
	var k *int
	if err := r.pool.QueryRow(ctx, `SELECT dirty, refreshed_at, k FROM population_state WHERE id = 1`).Scan(&dirty, &at, &k); err != nil {
		return false, err
	}
	if dirty || at == nil || k == nil || *k != r.o.K {
		return true, nil
	}
	y1, m1, d1 := at.In(r.o.Zone).Date()
	y2, m2, d2 := r.o.Now().In(r.o.Zone).Date()
	return y1 != y2 || m1 != m2 || d1 != d2, nil
}
