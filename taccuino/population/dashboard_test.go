package population

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// checkDashboards: every stored dashboard says what the per-table
// queries say of the same releases (each table, the trend, the funnel),
// for every scope and both periods; the funnel reaches whoever may
// compare the centres, the others unnamed for a centre's head; each view
// is one line of the query log.
func checkDashboards(t *testing.T, pool *pgxpool.Pool, clock func() time.Time) {
	t.Helper()
	ctx := context.Background()
	r := NewReader(pool, clock)
	region := Viewer{Role: "analyst", PopulationScope: "region", ID: "analyst"}
	var scopes []Scope
	rows, err := pool.Query(ctx, `SELECT DISTINCT scope FROM population_dashboards ORDER BY scope`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		scopes = append(scopes, Scope(s))
	}
	if rows.Err() != nil || len(scopes) != 1+3+2 {
		t.Fatalf("dashboards of %v (%v); want the region, 3 ASLs, 2 centres", scopes, rows.Err())
	}
	before := count(t, pool, `SELECT count(*) FROM population_audit`)
	for _, kind := range []PeriodKind{Days14, Days90} {
		for _, s := range scopes {
			d, err := r.Dashboard(ctx, region, s, kind)
			if err != nil {
				t.Fatalf("%s %s: %v", s, kind, err)
			}
			if len(d.Tables) != len(dimsOf(s)) {
				t.Errorf("%s %s: %d tables, want %d", s, kind, len(d.Tables), len(dimsOf(s)))
			}
			for _, dim := range dimsOf(s) {
				want, err := r.Table(ctx, region, Query{Scope: s, Dim: dim, Kind: kind})
				got, ok := d.Release(dim)
				if err != nil || !ok {
					if !(dim == DimCentre && !ok) {
						t.Errorf("%s %s by %s: %v, in the dashboard %t", s, kind, dim, err, ok)
					}
					continue
				}
				want.BuiltAt, got.BuiltAt = want.BuiltAt.UTC(), got.BuiltAt.UTC()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s by %s: dashboard %+v, table %+v", s, kind, dim, got, want)
				}
			}
			trend, err := r.Trend(ctx, region, s)
			if err != nil || len(trend) != 3 || !reflect.DeepEqual(d.Trend, trend) {
				t.Errorf("%s trend: dashboard %+v, Trend %+v (%v)", s, d.Trend, trend, err)
			}
			f, err := r.Funnel(ctx, region, kind, FunnelTarget)
			if err != nil || d.Funnel == nil || !reflect.DeepEqual(*d.Funnel, f) {
				t.Errorf("%s %s funnel: dashboard %+v, Funnel %+v (%v)", s, kind, d.Funnel, f, err)
			}
		}
	}
	// Everything above: one line per call.
	calls := 2 * len(scopes) * 3
	for _, s := range scopes {
		calls += 2 * len(dimsOf(s))
	}
	if got := count(t, pool, `SELECT count(*) FROM population_audit`) - before; got != calls {
		t.Errorf("%d lines logged, want %d", got, calls)
	}
	if got := count(t, pool, `SELECT count(*) FROM population_audit WHERE query LIKE 'dashboard %' AND outcome = 'allowed'`); got != 2*len(scopes) {
		t.Errorf("%d dashboard views logged, want %d", got, 2*len(scopes))
	}
	// The centre's head: the region and the centre, the other centre
	// unnamed on the funnel; an ASL's analyst: no funnel; a clinician,
	// nothing.
	head := Viewer{Role: "practitioner", Organization: "C1", OrganizationRole: "head"}
	d, err := r.Dashboard(ctx, head, CentreScope("C1"), Days14)
	if err != nil || d.Funnel == nil {
		t.Fatalf("head: %v %+v", err, d.Funnel)
	}
	for _, p := range d.Funnel.Points {
		if p.Centre != "" && p.Centre != "C1" {
			t.Errorf("head's funnel names %q", p.Centre)
		}
	}
	if _, err := r.Dashboard(ctx, head, CentreScope("C2"), Days14); err != ErrForbidden {
		t.Errorf("head, other centre: %v", err)
	}
	asl := Viewer{Role: "analyst", PopulationScope: "asl:TC"}
	if d, err := r.Dashboard(ctx, asl, ScopeRegion, Days90); err != nil || d.Funnel != nil {
		t.Errorf("ASL analyst: %v, funnel %+v", err, d.Funnel)
	}
	if _, err := r.Dashboard(ctx, Viewer{Role: "practitioner", Organization: "C1"}, CentreScope("C1"), Days14); err != ErrForbidden {
		t.Errorf("clinician: %v", err)
	}
	if _, err := r.Dashboard(ctx, region, ScopeRegion, Month); err != ErrNoRelease {
		t.Errorf("month: %v", err)
	}
	var denied int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM population_audit WHERE query LIKE 'dashboard %' AND outcome = 'denied'`).Scan(&denied); err != nil || denied != 2 {
		t.Errorf("%d denied views logged (%v), want 2", denied, err)
	}
}
