package taccuino

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/summaries"
)

// seedRegion gives the population view n simulated people (glucosim,
// FreeStyle Libre 2: a value every 15 minutes) with sensors worn over the
// last 70 days (the two months of the trend and the 14 and 90 days; one in
// five leaves a day in three without it, under the 70 % that counts as
// sufficient), born 1940-2009, women and men in turn, living in the
// registry's comuni in turn, cared for by four diabetology centres of
// uneven sizes, enrolled four months ago; then it builds their summaries
// and the population view's releases, so that its pages show published
// figures, not only suppressed ones.
func seedRegion(t *testing.T, e *testEnv, n int) {
	t.Helper()
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	to := time.Now().Truncate(time.Minute)
	from := to.AddDate(0, 0, -70)
	centres := []string{"DIABETOLOGIA-EMPOLI", "DIABETOLOGIA-PRATO", "DIABETOLOGIA-PISA", "DIABETOLOGIA-SIENA"}
	for i := range n {
		birth := time.Date(1940+i%70, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)
		day := birth.Day()
		if i%2 == 1 {
			day += 40 // a woman (D.M. 13813/1976: the day of birth plus 40)
		}
		cf := codicefiscale.Complete(fmt.Sprintf("PPLSMN%02d%c%02dD%03d", birth.Year()%100, "ABCDEHLMPRST"[birth.Month()-1], day, i%1000))
		p, _, err := e.store.EnsurePatient(ctx, cf, "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		sim := glucosim.New(uint64(7000+i), glucosim.Libre2, loc)
		var rs []cgm.Reading
		for _, pt := range sim.Historic(from, to) {
			if i%5 == 0 && (pt.Time.Unix()/86400)%3 == 0 {
				continue
			}
			rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: pt.Flags})
		}
		if _, err := e.store.Ingest(ctx, cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceSimulator, Readings: rs}); err != nil {
			t.Fatal(err)
		}
		// Uneven centres: 3 in 7 to the first, 2 to the second, 1 to each
		// of the others.
		centre := centres[[]int{0, 0, 0, 1, 1, 2, 3}[i%7]]
		if _, err := e.pool.Exec(ctx, `INSERT INTO care_relationships (patient_fiscal_code, kind, party, updated_at)
			VALUES ($1, 'diabetology', $2, now()) ON CONFLICT DO NOTHING`, cf, centre); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(ctx, `
		INSERT INTO residences (patient_fiscal_code, municipality, updated_at)
		SELECT p.fiscal_code, m.istat, now() FROM patients p
		JOIN (SELECT istat, row_number() OVER (ORDER BY istat) - 1 AS n FROM municipalities) m
			ON m.n = p.id % (SELECT count(*) FROM municipalities)
		ON CONFLICT DO NOTHING;
		UPDATE patients SET created_at = now() - interval '120 days'`); err != nil {
		t.Fatal(err)
	}
	if _, err := summaries.NewUpdater(e.pool, e.store, summaries.Options{}).UpdateDirty(ctx, n+10); err != nil {
		t.Fatal(err)
	}
	if _, err := population.NewRefresher(e.pool, e.store, population.Options{Months: 2}).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}
