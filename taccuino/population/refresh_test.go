package population

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/internal/testenv"
	"fsecgm/taccuino/summaries"

	"github.com/jackc/pgx/v5"
)

// TestRefresh: twelve patients with 20 days of simulated readings, one of
// them opposed to secondary use, one living in Prato: the view holds the
// eleven others under pseudonyms, with their 14-day figures (sufficient
// data), the opposed patient nowhere; no population table holds a fiscal
// code or an internal id; Forget removes a member at once and asks for a
// rebuild.
func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loc, _ := time.LoadLocation("Europe/Rome")
	now := time.Date(2026, 4, 5, 10, 0, 0, 0, loc)
	te := testenv.New(t, testenv.WithClock(now))
	pool, store, clock := te.Pool, te.Store, te.Clock.Now
	var ids []int64
	var cfs []string
	for i := range 12 {
		cf := codicefiscale.Complete(fmt.Sprintf("VRDLGU%02dA%02dH%03d", 60+i, 41+i, 100+i))
		p, _, err := store.EnsurePatient(ctx, cf, "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		ids, cfs = append(ids, p.ID), append(cfs, cf)
		sim := glucosim.New(uint64(500+i), glucosim.Libre2, loc)
		var rs []cgm.Reading
		for _, pt := range sim.Historic(now.AddDate(0, 0, -20), now) {
			rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: pt.Flags})
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := store.IngestTx(ctx, tx, cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceSimulator, Readings: cgm.NewSeries(rs)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE patients SET created_at = $1`, now.AddDate(0, -2, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := summaries.NewUpdater(pool, store, summaries.Options{Now: clock}).UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO secondary_use_oppositions (patient_id, opposed, changed_at) VALUES ($1, true, $2)`, ids[0], now); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO residences (patient_fiscal_code, municipality, updated_at) VALUES ($1, '100005', $2)`, cfs[1], now); err != nil {
		t.Fatal(err)
	}
	for i, cf := range cfs {
		for _, c := range [][]string{{"C1"}, {"C2"}, {"C1", "C2"}}[i%3] {
			if _, err := pool.Exec(ctx, `INSERT INTO care_relationships (patient_fiscal_code, kind, party, updated_at)
				VALUES ($1, 'diabetology', $2, $3)`, cf, c, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := NewRefresher(pool, store, Options{Now: clock, Months: 3})
	res, err := r.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Members != 11 || res.Opposed != 1 || res.Releases != 5 {
		t.Errorf("refresh %+v, want 11 members, 1 opposed, 5 releases", res)
	}
	var n, sufficient int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE sufficient AND tir IS NOT NULL AND gri_zone IS NOT NULL)
		FROM population_periods WHERE kind = 1`).Scan(&n, &sufficient); err != nil {
		t.Fatal(err)
	}
	if n != 11 || sufficient < 9 {
		t.Errorf("14 days: %d rows, %d with sufficient data; want 11, most sufficient", n, sufficient)
	}
	if got := count(t, pool, `SELECT count(*) FROM population_members WHERE pseudonym = $1`, pseudonymOf(t, pool, ids[0])); got != 0 {
		t.Error("the opposed patient is in the view")
	}
	if got := count(t, pool, `SELECT count(*) FROM population_members WHERE authority = 'TC' AND district IS NOT NULL`); got != 1 {
		t.Errorf("%d members in Prato's ASL, want 1", got)
	}
	// Nothing identifying in the population tables.
	for _, tbl := range []string{"population_members", "population_periods", "population_cells", "population_releases", "population_dashboards"} {
		for i, cf := range cfs {
			q := fmt.Sprintf(`SELECT count(*) FROM %s x WHERE strpos(x::text, $1) > 0 OR strpos(x::text, $2) > 0`, tbl)
			if got := count(t, pool, q, cf, fmt.Sprintf(`"%d"`, ids[i])); got != 0 {
				t.Errorf("%s names patient %d", tbl, i)
			}
		}
	}
	// The release's region total: 11 enrolled, published (k = 10).
	rel, err := NewReader(pool, clock).Table(ctx, Viewer{Role: "analyst", PopulationScope: "region"}, Query{Scope: ScopeRegion, Dim: DimTotal, Kind: Days14})
	if err != nil {
		t.Fatal(err)
	}
	if row := rel.Table.Rows[0]; row.Enrolled == nil || *row.Enrolled != 11 {
		t.Errorf("region total %+v", row)
	}
	checkDashboards(t, pool, clock)
	// Forget, as the opposition's transaction does.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return Forget(ctx, tx, ids[2]) }); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, `SELECT count(*) FROM population_members`); got != 10 {
		t.Errorf("%d members after Forget, want 10", got)
	}
	if due, err := r.due(ctx); err != nil || !due {
		t.Errorf("after Forget: due %v, %v", due, err)
	}
}

func count(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pseudonymOf(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id int64) string {
	t.Helper()
	var secret []byte
	if err := pool.QueryRow(context.Background(), `SELECT secret FROM population_key`).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	return pseudonym(secret, id)
}
