package summaries

import (
	"context"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// TestEachPeriod: the figures EachPeriod merges for arbitrary periods (a
// calendar month across the change to summer time, 30 days, 14 days, one
// day, a period before any reading) equal agp.Compute's over the
// readings, for every patient, and a period without day rows is not
// reported.
func TestEachPeriod(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now})
	if _, err := u.UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}
	d := func(m time.Month, day int) time.Time { return time.Date(2026, m, day, 0, 0, 0, 0, time.UTC) }
	periods := []Dates{
		{d(3, 1), d(3, 31)},  // March: 29 March has 23 hours in Rome
		{d(3, 5), d(4, 3)},   // 30 days
		{d(3, 21), d(4, 3)},  // 14 days
		{d(4, 4), d(4, 4)},   // one day
		{d(1, 1), d(1, 31)},  // before any reading
		{d(4, 1), d(4, 30)},  // April, partly in the future
		{d(2, 20), d(2, 28)}, // ends before the first day with readings
	}
	seen := map[[2]int64]bool{}
	fallbacks, err := NewStore(e.pool).EachPeriod(ctx, e.store, periods, func(p PeriodFigures) error {
		seen[[2]int64{p.PatientID, int64(p.Period)}] = true
		ap := agp.LocalDays(periods[p.Period].First, periods[p.Period].Last, e.loc)
		rs, err := e.store.Readings(ctx, p.PatientID, ap.Start, ap.End, cgm.Historic, cgm.Scan)
		if err != nil {
			return err
		}
		rep, err := agp.Compute(rs, agp.Options{Location: e.loc, Period: &ap})
		if err != nil {
			return err
		}
		if rep.Readings == 0 {
			t.Errorf("patient %d, period %d: reported without readings", p.PatientID, p.Period)
		}
		for _, diff := range compareFigures(p.Figures, rep) {
			t.Errorf("patient %d, period %d: %s", p.PatientID, p.Period, diff)
		}
		if got, want := p.Figures.Days, float64(periods[p.Period].Days()); got != want {
			t.Errorf("patient %d, period %d: %v days, want %v", p.PatientID, p.Period, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fallbacks != 0 {
		t.Errorf("%d fallbacks, want none", fallbacks)
	}
	// 40 days of data up to 5 April: from 24 February.
	for _, id := range e.ids {
		for i, want := range []bool{true, true, true, true, false, true, true} {
			if seen[[2]int64{id, int64(i)}] != want {
				t.Errorf("patient %d, period %d: reported %v, want %v", id, i, !want, want)
			}
		}
	}
	if got := (Dates{d(3, 1), d(3, 31)}).Days(); got != 31 {
		t.Errorf("March has %d days", got)
	}
}
