package population

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reader answers the analysts' and the centres' heads' queries from the
// published releases only (population_releases, population_cells): it
// never reads a per-patient row, pseudonymised or not. Every query is
// logged in population_audit (who, what, when, outcome), naming no
// patient.
type Reader struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewReader returns a reader on pool (a migrated database); now is the
// clock of the audit log (time.Now when nil).
func NewReader(pool *pgxpool.Pool, now func() time.Time) *Reader {
	if now == nil {
		now = time.Now
	}
	return &Reader{pool: pool, now: now}
}

// Viewer is who asks: an analyst with a population scope ("region" or
// "asl:CODE"), or a practitioner with an organization (a centre) and an
// organization role ("head" for the centre's head).
type Viewer struct {
	// Role is "analyst", "practitioner", "citizen" or "service".
	Role string
	// ID identifies the person (fiscal code) or client; Name is shown in
	// the audit log.
	ID, Name string
	// Organization and OrganizationRole: a practitioner's centre and
	// function in it.
	Organization, OrganizationRole string
	// PopulationScope is an analyst's scope.
	PopulationScope string
	// Route and RequestID say where the query came from, for the log.
	Route, RequestID string
}

// ViewerOf returns the population viewer of an authenticated principal,
// the query coming from route with request id requestID.
func ViewerOf(p *auth.Principal, route, requestID string) Viewer {
	v := Viewer{Role: string(p.Role), ID: p.FiscalCode, Name: p.Name, Organization: p.Organization,
		OrganizationRole: p.OrganizationRole, PopulationScope: p.PopulationScope, Route: route, RequestID: requestID}
	if p.Role == auth.RoleService {
		v.ID = p.ClientID
	}
	return v
}

// ErrForbidden: the viewer may not read that scope.
var ErrForbidden = errors.New("population: not allowed")

// ErrNoRelease: no release of that period was built yet.
var ErrNoRelease = errors.New("population: no release of that period")

// Scopes returns the scopes v may read: a regional analyst every one (the
// region, each ASL, each centre); an ASL's analyst the region (for
// comparison) and the ASL; a centre's head the region and the centre;
// anyone else none.
func (v Viewer) Scopes(asls, centres []string) []Scope {
	switch {
	case v.Role == "analyst" && v.PopulationScope == string(ScopeRegion):
		out := []Scope{ScopeRegion}
		for _, a := range asls {
			out = append(out, ASLScope(a))
		}
		for _, c := range centres {
			out = append(out, CentreScope(c))
		}
		return out
	case v.Role == "analyst" && strings.HasPrefix(v.PopulationScope, "asl:"):
		return []Scope{ScopeRegion, Scope(v.PopulationScope)}
	case v.Role == "practitioner" && v.OrganizationRole == "head" && v.Organization != "":
		return []Scope{ScopeRegion, CentreScope(v.Organization)}
	}
	return nil
}

// May reports whether v may read scope s.
func (v Viewer) May(s Scope) bool {
	switch {
	case v.Role == "analyst" && v.PopulationScope == string(ScopeRegion):
		return true
	case v.Role == "analyst" && strings.HasPrefix(v.PopulationScope, "asl:"):
		return s == ScopeRegion || s == Scope(v.PopulationScope)
	case v.Role == "practitioner" && v.OrganizationRole == "head" && v.Organization != "":
		return s == ScopeRegion || s == CentreScope(v.Organization)
	}
	return false
}

// IsViewer reports whether v may use the population view at all.
func (v Viewer) IsViewer() bool { return len(v.Scopes(nil, nil)) > 0 }

// Release is a published table of one period with its provenance.
type Release struct {
	Kind    PeriodKind `json:"period"`
	First   string     `json:"first_day"`
	Last    string     `json:"last_day"`
	K       int        `json:"k"`
	BuiltAt time.Time  `json:"built_at"`
	Table   Table      `json:"table"`
}

// Query names what is asked: a scope's table by a breakdown over the
// latest period of a kind (or the month starting Month).
type Query struct {
	Scope Scope
	Dim   Dim
	Kind  PeriodKind
	// Month, for Kind Month: the first day of the month (zero: the latest).
	Month time.Time
}

func (q Query) String() string {
	s := fmt.Sprintf("table scope=%s dim=%s period=%s", q.Scope, q.Dim, q.Kind)
	if !q.Month.IsZero() {
		s += " month=" + q.Month.Format("2006-01")
	}
	return s
}

// Table returns the published table q asks for, logging the query.
func (r *Reader) Table(ctx context.Context, v Viewer, q Query) (Release, error) {
	var rel Release
	if !v.May(q.Scope) {
		r.log(ctx, v, q.String(), "denied", "scope")
		return rel, ErrForbidden
	}
	rel, err := r.table(ctx, q)
	switch {
	case errors.Is(err, ErrNoRelease):
		r.log(ctx, v, q.String(), "error", "no-release")
	case err != nil:
		r.log(ctx, v, q.String(), "error", "internal")
	default:
		r.log(ctx, v, q.String(), "allowed", "")
	}
	return rel, err
}

func (r *Reader) table(ctx context.Context, q Query) (Release, error) {
	var rel Release
	var id int64
	var first, last time.Time
	sql := `SELECT id, kind, start, last, k, built_at FROM population_releases WHERE kind = $1`
	args := []any{int16(q.Kind)}
	if !q.Month.IsZero() {
		sql += ` AND start = $2`
		args = append(args, civilDate(q.Month))
	}
	sql += ` ORDER BY start DESC LIMIT 1`
	err := r.pool.QueryRow(ctx, sql, args...).Scan(&id, &rel.Kind, &first, &last, &rel.K, &rel.BuiltAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return rel, ErrNoRelease
	}
	if err != nil {
		return rel, fmt.Errorf("population: table: %w", err)
	}
	rel.First, rel.Last = first.Format(time.DateOnly), last.Format(time.DateOnly)
	rel.Table = Table{Scope: q.Scope, Dim: q.Dim}
	rows, err := r.pool.Query(ctx, `SELECT figures FROM population_cells WHERE release_id = $1 AND scope = $2 AND dim = $3`,
		id, string(q.Scope), string(q.Dim))
	if err != nil {
		return rel, fmt.Errorf("population: table: %w", err)
	}
	var js []byte
	if _, err := pgx.ForEachRow(rows, []any{&js}, func() error {
		var row Row
		if err := json.Unmarshal(js, &row); err != nil {
			return err
		}
		rel.Table.Rows = append(rel.Table.Rows, row)
		return nil
	}); err != nil {
		return rel, fmt.Errorf("population: table: %w", err)
	}
	if len(rel.Table.Rows) == 0 {
		return rel, ErrNoRelease
	}
	r.order(ctx, &rel.Table)
	return rel, nil
}

// order sorts a table's rows as the dashboard shows them (the categories'
// order, the unknown last).
func (r *Reader) order(ctx context.Context, t *Table) {
	geo, err := loadGeography(ctx, r.pool)
	if err != nil {
		return
	}
	cats := categories(t.Dim, geo, nil)
	pos := func(k string) int {
		if i := slices.Index(cats, k); i >= 0 && k != Unknown {
			return i
		}
		if k == Unknown {
			return len(cats) + 1
		}
		return len(cats)
	}
	slices.SortStableFunc(t.Rows, func(a, b Row) int {
		if d := pos(a.Key) - pos(b.Key); d != 0 {
			return d
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// TrendPoint is one month of a trend: the scope's total row of that
// month's release.
type TrendPoint struct {
	Month string `json:"month"`
	Row   Row    `json:"row"`
}

// Trend returns the scope's totals month by month (every monthly release,
// oldest first), each with the number of patients behind it, logging the
// query.
func (r *Reader) Trend(ctx context.Context, v Viewer, s Scope) ([]TrendPoint, error) {
	what := "trend scope=" + string(s)
	if !v.May(s) {
		r.log(ctx, v, what, "denied", "scope")
		return nil, ErrForbidden
	}
	rows, err := r.pool.Query(ctx, `SELECT r.start, c.figures FROM population_releases r
		JOIN population_cells c ON c.release_id = r.id AND c.scope = $2 AND c.dim = 'total'
		WHERE r.kind = $1 ORDER BY r.start`, int16(Month), string(s))
	if err != nil {
		r.log(ctx, v, what, "error", "internal")
		return nil, fmt.Errorf("population: trend: %w", err)
	}
	var (
		out   []TrendPoint
		start time.Time
		js    []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&start, &js}, func() error {
		p := TrendPoint{Month: start.Format("2006-01")}
		if err := json.Unmarshal(js, &p.Row); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		r.log(ctx, v, what, "error", "internal")
		return nil, fmt.Errorf("population: trend: %w", err)
	}
	r.log(ctx, v, what, "allowed", "")
	return out, nil
}

// FunnelPoint is a centre on the funnel plot.
type FunnelPoint struct {
	// Centre is the centre's id; empty for another centre than a head's
	// own (a head compares the centre with the others, unnamed).
	Centre string `json:"centre"`
	// N is the centre's patients with sufficient data; Meeting those
	// meeting the target; Proportion = Meeting / N.
	N          int      `json:"n"`
	Meeting    int      `json:"meeting"`
	Proportion float64  `json:"proportion"`
	Position   Position `json:"position"`
}

// Funnel is the funnel plot of a target over the centres.
type Funnel struct {
	Target string `json:"target"`
	// Theta0 is the region's proportion meeting the target.
	Theta0 float64       `json:"theta0"`
	Points []FunnelPoint `json:"points"`
	// Limits are the control limits drawn from n = 1 to the largest
	// centre.
	Limits []Limits `json:"limits"`
	// Suppressed is the number of centres not plotted (suppressed counts).
	Suppressed int `json:"suppressed"`
}

// Funnel returns the funnel plot of target over the centres in the latest
// release of kind (Spiegelhalter 2005): θ0 the region's share, each
// centre with published counts a point. A centre's head sees the other
// centres unnamed; an ASL's analyst may not (the region's centres are
// not its scope).
func (r *Reader) Funnel(ctx context.Context, v Viewer, kind PeriodKind, target string) (Funnel, error) {
	what := fmt.Sprintf("funnel period=%s target=%s", kind, target)
	f := Funnel{Target: target}
	head := v.Role == "practitioner"
	if !(v.Role == "analyst" && v.PopulationScope == string(ScopeRegion)) && !(head && v.May(ScopeRegion)) {
		r.log(ctx, v, what, "denied", "scope")
		return f, ErrForbidden
	}
	total, err := r.table(ctx, Query{Scope: ScopeRegion, Dim: DimTotal, Kind: kind})
	if err == nil {
		var byCentre Release
		byCentre, err = r.table(ctx, Query{Scope: ScopeRegion, Dim: DimCentre, Kind: kind})
		if errors.Is(err, ErrNoRelease) {
			err = nil // no centre has patients
		}
		if err == nil {
			f = funnelOf(total.Table.Rows[0], byCentre.Table.Rows, target)
		}
	}
	if err != nil {
		r.log(ctx, v, what, "error", "no-release")
		return f, err
	}
	if head {
		for i := range f.Points {
			if f.Points[i].Centre != v.Organization {
				f.Points[i].Centre = ""
			}
		}
	}
	r.log(ctx, v, what, "allowed", "")
	return f, nil
}

// funnelOf builds the funnel of target from the region's total row and
// its rows by centre. When the region's share is not published (too few
// patients) there is no funnel: every centre is counted as suppressed.
func funnelOf(total Row, centres []Row, target string) Funnel {
	f := Funnel{Target: target, Points: []FunnelPoint{}, Limits: []Limits{}}
	t, ok := total.Targets[target]
	if !ok || t.Patients == nil || total.Sufficient == nil || *total.Sufficient == 0 {
		f.Suppressed = len(centres)
		return f
	}
	f.Theta0 = float64(*t.Patients) / float64(*total.Sufficient)
	hi := 1
	for _, c := range centres {
		s := c.Targets[target]
		if c.Sufficient == nil || s.Patients == nil || *c.Sufficient == 0 {
			f.Suppressed++
			continue
		}
		n, m := *c.Sufficient, *s.Patients
		x := float64(m) / float64(n)
		f.Points = append(f.Points, FunnelPoint{Centre: c.Key, N: n, Meeting: m, Proportion: x, Position: PositionOf(x, f.Theta0, n)})
		hi = max(hi, n)
	}
	f.Limits = FunnelLimits(f.Theta0, FunnelNs(1, hi+hi/10+1))
	return f
}

// auditFields are a viewer's fields of a population_audit line, cut to
// the columns' sizes.
type auditFields struct {
	role, id, name, organization, scope, route, requestID string
}

// cut returns s cut to n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// auditOf returns v's fields of an audit line.
func auditOf(v Viewer) auditFields {
	role := v.Role
	switch role {
	case "", "citizen", "practitioner", "service", "analyst":
	default:
		role = ""
	}
	return auditFields{role: role, id: cut(v.ID, 256), name: cut(v.Name, 256), organization: cut(v.Organization, 256),
		scope: cut(v.PopulationScope, 64), route: cut(v.Route, 128), requestID: cut(v.RequestID, 128)}
}

// log writes one line of population_audit; a failure to log is returned
// nowhere (the query's answer is not held back) but is rare: the table
// has no foreign keys.
func (r *Reader) log(ctx context.Context, v Viewer, what, outcome, reason string) {
	e := auditOf(v)
	_, _ = r.pool.Exec(context.WithoutCancel(ctx), `INSERT INTO population_audit
		(at, actor_role, actor_id, actor_name, organization, population_scope, route, query, outcome, reason, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.now(), e.role, e.id, e.name, e.organization, e.scope, e.route, cut(what, 512), outcome, reason, e.requestID)
}

// AuditEntry is a line of the population view's query log.
type AuditEntry struct {
	At                                  time.Time
	Role, ID, Organization, Scope, What string
	Outcome, Reason                     string
}

// Audit returns the query log from since, oldest first (for the operator
// and the data protection officer).
func (r *Reader) Audit(ctx context.Context, since time.Time) ([]AuditEntry, error) {
	rows, err := r.pool.Query(ctx, `SELECT at, actor_role, actor_id, organization, population_scope, query, outcome, reason
		FROM population_audit WHERE at >= $1 ORDER BY at, id`, since)
	if err != nil {
		return nil, fmt.Errorf("population: audit: %w", err)
	}
	var out []AuditEntry
	var e AuditEntry
	_, err = pgx.ForEachRow(rows, []any{&e.At, &e.Role, &e.ID, &e.Organization, &e.Scope, &e.What, &e.Outcome, &e.Reason}, func() error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("population: audit: %w", err)
	}
	return out, nil
}
