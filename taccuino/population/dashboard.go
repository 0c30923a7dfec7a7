package population

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dashboard is everything the population view's dashboard shows of one
// scope over one period kind (14 or 90 days): the scope's tables by every
// breakdown of the latest release, the scope's trend (the total of every
// monthly release, oldest first) and the funnel plot of the TIR target over
// the centres. Every figure is as published: the refresh builds it from
// the releases, after their suppression.
type Dashboard struct {
	Scope   Scope      `json:"scope"`
	Kind    PeriodKind `json:"period"`
	First   string     `json:"first_day"`
	Last    string     `json:"last_day"`
	K       int        `json:"k"`
	BuiltAt time.Time  `json:"built_at"`
	// Tables are the scope's tables, one per breakdown of the scope, in
	// the order of Dims (the total first).
	Tables []Table `json:"tables"`
	// Trend is the scope's total month by month.
	Trend []TrendPoint `json:"trend"`
	// Funnel is the funnel plot of the TIR target over the region's
	// centres; nil for a viewer who may not see it (an ASL's analyst), and
	// the other centres unnamed for a centre's head.
	Funnel *Funnel `json:"funnel,omitempty"`
}

// FunnelTarget is the target of the dashboard's funnel plot: the share of
// patients with TIR > 70 % (Battelino et al. 2019), the consensus' primary
// target.
const FunnelTarget = "tir"

// Table returns the dashboard's table by breakdown d.
func (d Dashboard) Table(dim Dim) (Table, bool) {
	for _, t := range d.Tables {
		if t.Dim == dim {
			return t, true
		}
	}
	return Table{}, false
}

// Release returns the dashboard's table by breakdown d as a release (what
// Reader.Table answers).
func (d Dashboard) Release(dim Dim) (Release, bool) {
	t, ok := d.Table(dim)
	if !ok || len(t.Rows) == 0 {
		return Release{}, false
	}
	return Release{Kind: d.Kind, First: d.First, Last: d.Last, K: d.K, BuiltAt: d.BuiltAt, Table: t}, true
}

// built is a release as the refresh made it: its period and its tables.
type built struct {
	p      Period
	tables []Table
}

// dashboards assembles the dashboard of every scope and period kind (14
// and 90 days) from the releases of one refresh (rels, the periods' order:
// the months oldest first).
func dashboards(rels []built, k int, now time.Time) []Dashboard {
	// The trend of each scope: its total row in every month.
	trends := map[Scope][]TrendPoint{}
	for _, b := range rels {
		if b.p.Kind != Month {
			continue
		}
		for _, t := range b.tables {
			if t.Dim == DimTotal && len(t.Rows) == 1 {
				trends[t.Scope] = append(trends[t.Scope], TrendPoint{Month: b.p.First.Format("2006-01"), Row: t.Rows[0]})
			}
		}
	}
	var out []Dashboard
	for _, b := range rels {
		if b.p.Kind == Month {
			continue
		}
		var f *Funnel
		var total *Row
		var centres []Row
		for _, t := range b.tables {
			switch {
			case t.Scope == ScopeRegion && t.Dim == DimTotal && len(t.Rows) == 1:
				total = &t.Rows[0]
			case t.Scope == ScopeRegion && t.Dim == DimCentre:
				centres = t.Rows
			}
		}
		if total != nil {
			x := funnelOf(*total, centres, FunnelTarget)
			f = &x
		}
		at := map[Scope]int{}
		for _, t := range b.tables {
			i, ok := at[t.Scope]
			if !ok {
				i = len(out)
				at[t.Scope] = i
				trend := trends[t.Scope]
				if trend == nil {
					trend = []TrendPoint{}
				}
				out = append(out, Dashboard{Scope: t.Scope, Kind: b.p.Kind, First: b.p.First.Format(time.DateOnly),
					Last: b.p.Last.Format(time.DateOnly), K: k, BuiltAt: now, Trend: trend, Funnel: f})
			}
			out[i].Tables = append(out[i].Tables, t)
		}
	}
	return out
}

// writeDashboards replaces population_dashboards with ds.
func writeDashboards(ctx context.Context, tx pgx.Tx, ds []Dashboard) error {
	if _, err := tx.Exec(ctx, `DELETE FROM population_dashboards`); err != nil {
		return err
	}
	rows := make([][]any, len(ds))
	for i, d := range ds {
		rows[i] = []any{int16(d.Kind), string(d.Scope), d.BuiltAt, encodeDashboard(d)}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"population_dashboards"}, []string{"kind", "scope", "built_at", "body"}, pgx.CopyFromRows(rows))
	return err
}

// dashboardSQL reads a stored dashboard and writes the query's line in
// population_audit in one statement (one round trip, one commit): the
// line says "allowed" when the dashboard is there, else "error" for want
// of a release.
const dashboardSQL = `WITH d AS (SELECT body FROM population_dashboards WHERE kind = $1 AND scope = $2),
	a AS (INSERT INTO population_audit
		(at, actor_role, actor_id, actor_name, organization, population_scope, route, query, outcome, reason, request_id)
		SELECT $3, $4, $5, $6, $7, $8, $9, $10,
			CASE WHEN EXISTS (SELECT FROM d) THEN 'allowed' ELSE 'error' END,
			CASE WHEN EXISTS (SELECT FROM d) THEN '' ELSE 'no-release' END, $11)
	SELECT body FROM d`

// Dashboard returns the dashboard of scope s over the latest period of
// kind (Days14 or Days90) as the last refresh stored it, logging the view
// as one query (who, what, when). The funnel plot is given to whoever may
// compare the centres (Reader.Funnel's rule), the other centres unnamed
// for a centre's head.
func (r *Reader) Dashboard(ctx context.Context, v Viewer, s Scope, kind PeriodKind) (Dashboard, error) {
	what := fmt.Sprintf("dashboard scope=%s period=%s", s, kind)
	var d Dashboard
	if !v.May(s) {
		r.log(ctx, v, what, "denied", "scope")
		return d, ErrForbidden
	}
	if kind != Days14 && kind != Days90 {
		r.log(ctx, v, what, "error", "no-release")
		return d, ErrNoRelease
	}
	e := auditOf(v)
	var body []byte
	err := r.pool.QueryRow(context.WithoutCancel(ctx), dashboardSQL, int16(kind), string(s),
		r.now(), e.role, e.id, e.name, e.organization, e.scope, e.route, cut(what, 512), e.requestID).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNoRelease
	}
	if err != nil {
		return d, fmt.Errorf("population: dashboard: %w", err)
	}
	if d, err = decodeDashboard(body); err != nil {
		r.log(ctx, v, what, "error", "internal")
		return Dashboard{}, fmt.Errorf("population: dashboard: %w", err)
	}
	switch {
	case d.Funnel == nil:
	case v.Role == "analyst" && v.PopulationScope == string(ScopeRegion):
	case v.Role == "practitioner" && v.May(ScopeRegion):
		for i := range d.Funnel.Points {
			if d.Funnel.Points[i].Centre != v.Organization {
				d.Funnel.Points[i].Centre = ""
			}
		}
	default:
		d.Funnel = nil
	}
	return d, nil
}
