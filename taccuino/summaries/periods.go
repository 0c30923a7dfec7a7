package summaries

import (
	"context"
	"fmt"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
)

// Dates is a period of whole local calendar days, First to Last inclusive,
// given as dates (their year, month and day are used; the time and zone
// are not): each patient's period is those days in the patient's zone.
type Dates struct {
	First, Last time.Time
}

// Days returns the number of calendar days of d.
func (d Dates) Days() int {
	a := time.Date(d.First.Year(), d.First.Month(), d.First.Day(), 0, 0, 0, 0, time.UTC)
	b := time.Date(d.Last.Year(), d.Last.Month(), d.Last.Day(), 0, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()/24+0.5) + 1
}

// PeriodFigures is a patient's figures over one of the periods asked of
// EachPeriod.
type PeriodFigures struct {
	// PatientID is the patient's internal id.
	PatientID int64
	// Period is the index of the period in the slice given to EachPeriod.
	Period int
	// Figures are those of agp.Compute over the period in the patient's
	// zone (merged from the day rows, or computed from the readings where
	// the rows cannot give the exact figures).
	Figures Figures
}

// EachPeriod merges the day rows of every patient into the figures of each
// of periods, as the clinic list's periods are merged (mergeDays: equal to
// agp.Compute within 1e-9 relative), and calls fn for each patient and
// period in which the patient has at least one day row, patient by patient
// in increasing id order. It streams the day rows in one query, so that
// its memory follows one patient's rows, not the population's. Where the
// rows of a period cannot give the exact figures (an irregular day, a grid
// step the rows do not keep), the period is computed from the readings
// with agp.Compute through store (nil: such a period is skipped and
// counted in the returned fallbacks anyway). Days older than the updater's
// KeepDays are as the updater last wrote them.
func (s *Store) EachPeriod(ctx context.Context, store *cgmstore.Store, periods []Dates, fn func(PeriodFigures) error) (fallbacks int, err error) {
	if len(periods) == 0 {
		return 0, nil
	}
	lo, hi := periods[0].First, periods[0].Last
	for _, p := range periods[1:] {
		if p.First.Before(lo) {
			lo = p.First
		}
		if p.Last.After(hi) {
			hi = p.Last
		}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("summaries: periods: %w", err)
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `
		SELECT d.patient_id, p.time_zone, d.day, d.readings, d.mgdl_readings, d.scans, d.sum_mgdl, d.m2_mgdl, d.very_low,
			d.low, d.target, d.high, d.very_high, d.tight, d.mmol_bands, d.first_at, d.last_at, d.gaps, d.gap_counts,
			d.slots_1, d.slots_5, d.slots_15
		FROM patient_days d JOIN patients p ON p.id = d.patient_id
		WHERE d.day >= $1 AND d.day <= $2
		ORDER BY d.patient_id, d.day`, civil(lo), civil(hi))
	if err != nil {
		return 0, fmt.Errorf("summaries: periods: %w", err)
	}
	defer rows.Close()
	var (
		cur   int64 = -1
		curTZ string
		days  []day
		pid   int32
		tz    string
		row   dayScan
	)
	flush := func() error {
		if cur < 0 {
			return nil
		}
		loc, err := zoneOf(curTZ)
		if err != nil {
			return fmt.Errorf("patient %d: %w", cur, err)
		}
		for i := range days {
			days[i].date = local(days[i].date, loc)
		}
		for i, p := range periods {
			ap := agp.LocalDays(p.First, p.Last, loc)
			has := false
			for k := range days {
				if !days[k].date.Before(ap.Start) && days[k].date.Before(ap.End) {
					has = true
					break
				}
			}
			if !has {
				continue
			}
			f, ok := mergeDays(days, ap, loc)
			if !ok {
				fallbacks++
				if store == nil {
					continue
				}
				rs, err := store.Readings(ctx, cur, ap.Start, ap.End, cgm.Historic, cgm.Scan)
				if err != nil {
					return fmt.Errorf("patient %d: readings: %w", cur, err)
				}
				r, err := agp.Compute(rs, agp.Options{Location: loc, Period: &ap})
				if err != nil {
					return fmt.Errorf("patient %d: %w", cur, err)
				}
				f = FiguresOf(r)
			}
			if err := fn(PeriodFigures{PatientID: cur, Period: i, Figures: f}); err != nil {
				return err
			}
		}
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(append([]any{&pid, &tz}, row.dest()...)...); err != nil {
			return fallbacks, fmt.Errorf("summaries: periods: %w", err)
		}
		if int64(pid) != cur {
			if err := flush(); err != nil {
				return fallbacks, fmt.Errorf("summaries: periods: %w", err)
			}
			cur, curTZ, days = int64(pid), tz, days[:0]
		}
		days = append(days, row.day())
	}
	if err := rows.Err(); err != nil {
		return fallbacks, fmt.Errorf("summaries: periods: %w", err)
	}
	if err := flush(); err != nil {
		return fallbacks, fmt.Errorf("summaries: periods: %w", err)
	}
	return fallbacks, nil
}
