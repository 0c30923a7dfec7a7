package population

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The counts of a cell (quantities). A cell's patients are split three
// ways, each a count the suppression weighs: enrolled = with data +
// without; with data = sufficient + insufficient; sufficient = meeting +
// missing a target, for each target; sufficient = the five GRI zones.
const (
	qEnrolled = iota
	qWithData
	qNoData
	qSufficient
	qInsufficient
	qMeet0 // qMeet0+i: meeting Targets[i]
)

var (
	qMiss0 = qMeet0 + len(Targets)  // qMiss0+i: missing Targets[i]
	qZone0 = qMiss0 + len(Targets)  // qZone0+z: in GRI zone z
	nq     = qZone0 + len(GRIZones) // counts per cell
)

// cell is one cell's counts, quartiles and (for the totals of a scope)
// histograms.
type cell struct {
	counts []int
	// quart holds the quartiles (25th, 50th, 75th percentile) of each
	// metric over the cell's patients with sufficient data (with data for
	// sensor use); nil where there are none.
	quart map[string][]float64
	// hist holds the histogram of each metric, for the cells whose
	// histograms are published (scope totals), else nil.
	hist map[string][]int
	// derived: a hidden cell (the region's patients outside a centre),
	// computed by subtraction, never published.
	derived bool
}

func newCell() *cell { return &cell{counts: make([]int, nq)} }

// family is the cells of one period's release and the relations among
// their counts.
type family struct {
	geo     Geography
	centres []string
	full    bool // all breakdowns (14 and 90 days); false: totals (months)
	cells   map[key]*cell
}

// get returns the cell of k, making a zero one when the data had none.
func (f *family) get(k key) *cell {
	c, ok := f.cells[k]
	if !ok {
		c = newCell()
		f.cells[k] = c
	}
	return c
}

// base is the period's members as the release reads them: the
// pseudonymised tables only (population_members, population_periods),
// never an identifier.
const base = `WITH b AS (
	SELECT m.authority, m.district, m.age_band, m.sex, m.diabetes_type, m.centres,
		p.readings > 0 AS d, p.sufficient AS s, p.tir, p.tbr, p.tbr54, p.tar, p.tar250, p.gmi, p.cv, p.gri, p.gri_zone,
		p.active_percent
	FROM population_periods p JOIN population_members m ON m.pseudonym = p.pseudonym
	WHERE p.kind = $1 AND p.start = $2)
`

// aggregates are the figures of every group: counts, with FILTER, and
// quartiles with percentile_cont (PostgreSQL's ordered-set aggregate, the
// continuous percentile as R's type 7 quantile).
func aggregates() string {
	var b strings.Builder
	b.WriteString(`count(*), count(*) FILTER (WHERE d), count(*) FILTER (WHERE s)`)
	for _, t := range Targets {
		fmt.Fprintf(&b, `, count(*) FILTER (WHERE s AND %s)`, t.SQL)
	}
	for z := range GRIZones {
		fmt.Fprintf(&b, `, count(*) FILTER (WHERE s AND gri_zone = %d)`, z+1)
	}
	for _, m := range Metrics {
		cond := "s"
		if m.OverData {
			cond = "d"
		}
		fmt.Fprintf(&b, `, percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY %s) FILTER (WHERE %s)`, m.Column, cond)
	}
	return b.String()
}

// groupCols are the attributes of the groups, in the order of GROUPING().
var groupCols = []struct {
	col string
	dim Dim
}{{"authority", DimASL}, {"district", DimDistrict}, {"age_band", DimAge}, {"sex", DimSex}, {"diabetes_type", DimType}}

// compute fills f's cells from the pseudonymised tables in tx.
func (f *family) compute(ctx context.Context, tx pgx.Tx, kind PeriodKind, start time.Time) error {
	sets := []string{"()", "(authority)"}
	csets := []string{"(centre)"}
	if f.full {
		sets = append(sets, "(district)", "(age_band)", "(sex)", "(diabetes_type)",
			"(authority, age_band)", "(authority, sex)", "(authority, diabetes_type)")
		csets = append(csets, "(centre, authority)", "(centre, district)", "(centre, age_band)", "(centre, sex)", "(centre, diabetes_type)")
	}
	cols := `coalesce(authority, ''), coalesce(district, ''), coalesce(nullif(age_band, '?'), ''), coalesce(sex, ''), coalesce(diabetes_type, '')`
	grouping := `GROUPING(authority, district, age_band, sex, diabetes_type)`
	grouping1, grouping2 := grouping, grouping
	if !f.full {
		// GROUPING names only grouped columns: the months group by the
		// ASL alone (bit 16), the centres by nothing else.
		grouping1, grouping2 = `GROUPING(authority) * 16 + 15`, `31`
		cols = `coalesce(authority, ''), '', '', '', ''`
	}
	q1 := base + `SELECT ` + grouping1 + `, '', ` + cols + `, ` + aggregates() + `
		FROM b GROUP BY GROUPING SETS (` + strings.Join(sets, ", ") + `)`
	cols2 := cols
	if !f.full {
		cols2 = `'', '', '', '', ''`
	}
	q2 := base + `SELECT ` + grouping2 + `, centre, ` + cols2 + `, ` + aggregates() + `
		FROM b CROSS JOIN LATERAL unnest(b.centres) AS c(centre)
		GROUP BY GROUPING SETS (` + strings.Join(csets, ", ") + `)`
	for _, q := range []string{q1, q2} {
		rows, err := tx.Query(ctx, q, int16(kind), civilDate(start))
		if err != nil {
			return fmt.Errorf("aggregates: %w", err)
		}
		err = f.scanGroups(rows, q == q2)
		if err != nil {
			return fmt.Errorf("aggregates: %w", err)
		}
	}
	if f.full {
		if err := f.computeHistograms(ctx, tx, kind, start); err != nil {
			return fmt.Errorf("histograms: %w", err)
		}
	}
	return nil
}

// scanGroups reads the rows of a grouping-sets query into cells.
func (f *family) scanGroups(rows pgx.Rows, centred bool) error {
	defer rows.Close()
	var (
		g       int32
		centre  string
		attrs   = make([]string, len(groupCols))
		counts  = make([]int64, 3+len(Targets)+len(GRIZones))
		quarts  = make([][]float64, len(Metrics))
		targets = make([]any, 0, 2+len(attrs)+len(counts)+len(quarts))
	)
	targets = append(targets, &g, &centre)
	for i := range attrs {
		targets = append(targets, &attrs[i])
	}
	for i := range counts {
		targets = append(targets, &counts[i])
	}
	for i := range quarts {
		targets = append(targets, &quarts[i])
	}
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		var cs []constraint
		if centred {
			cs = append(cs, centreIs(centre))
		}
		for i, gc := range groupCols {
			// GROUPING's bit is 1 for an attribute not grouped by; the
			// first argument is the most significant bit.
			if g&(1<<(len(groupCols)-1-i)) == 0 {
				cs = append(cs, eq(gc.dim, attrs[i]))
			}
		}
		k := makeKey(cs...)
		if _, dup := f.cells[k]; dup {
			continue // the unknown district is the unknown ASL, read twice
		}
		c := newCell()
		c.counts[qEnrolled], c.counts[qWithData], c.counts[qSufficient] = int(counts[0]), int(counts[1]), int(counts[2])
		c.counts[qNoData] = c.counts[qEnrolled] - c.counts[qWithData]
		c.counts[qInsufficient] = c.counts[qWithData] - c.counts[qSufficient]
		for i := range Targets {
			c.counts[qMeet0+i] = int(counts[3+i])
			c.counts[qMiss0+i] = c.counts[qSufficient] - c.counts[qMeet0+i]
		}
		for z := range GRIZones {
			c.counts[qZone0+z] = int(counts[3+len(Targets)+z])
		}
		c.quart = map[string][]float64{}
		for i, m := range Metrics {
			if quarts[i] != nil {
				c.quart[m.Code] = slices.Clone(quarts[i])
			}
		}
		f.cells[k] = c
	}
	return rows.Err()
}

// computeHistograms counts, for the scope totals (the region, each ASL,
// each centre), the patients in each bin of each metric.
func (f *family) computeHistograms(ctx context.Context, tx pgx.Tx, kind PeriodKind, start time.Time) error {
	var vals []string
	args := []any{int16(kind), civilDate(start)}
	for _, m := range Metrics {
		args = append(args, m.Edges)
		cond := "s"
		if m.OverData {
			cond = "d"
		}
		vals = append(vals, fmt.Sprintf("('%s', width_bucket(b.%s, $%d::float8[]), b.%s)", m.Code, m.Column, len(args), cond))
	}
	lateral := `LATERAL (VALUES ` + strings.Join(vals, ", ") + `) AS v(metric, bin, inc)`
	q := base + `SELECT GROUPING(authority), coalesce(authority, ''), '', v.metric, v.bin, count(*)
		FROM b, ` + lateral + ` WHERE v.inc
		GROUP BY GROUPING SETS ((v.metric, v.bin), (authority, v.metric, v.bin))
		UNION ALL
		SELECT 1, '', c.centre, v.metric, v.bin, count(*)
		FROM b CROSS JOIN LATERAL unnest(b.centres) AS c(centre), ` + lateral + ` WHERE v.inc
		GROUP BY c.centre, v.metric, v.bin`
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	var (
		g              int32
		asl, centre, m string
		bin            int32
		n              int64
	)
	_, err = pgx.ForEachRow(rows, []any{&g, &asl, &centre, &m, &bin, &n}, func() error {
		var k key
		switch {
		case centre != "":
			k = makeKey(centreIs(centre))
		case g == 0:
			k = makeKey(eq(DimASL, asl))
		default:
			k = makeKey()
		}
		c := f.get(k)
		c.histogram(m)[bin] = int(n)
		return nil
	})
	return err
}

// histogram returns the cell's bins of metric m, made when missing.
func (c *cell) histogram(m string) []int {
	if c.hist == nil {
		c.hist = map[string][]int{}
	}
	h, ok := c.hist[m]
	if !ok {
		for _, x := range Metrics {
			if x.Code == m {
				h = make([]int, len(x.Edges)+1)
			}
		}
		c.hist[m] = h
	}
	return h
}

// ensure makes the zero cells of the family that no patient fills: every
// row of every published table, the unknown ASL by each attribute, and the
// histograms of the scope totals, so that every relation among them is
// known to the suppression.
func (f *family) ensure() {
	for _, sc := range f.scopes() {
		for _, d := range f.dims(sc) {
			for _, r := range rowsOf(sc, d, f.geo, f.centres) {
				f.get(cellOf(sc, d, r))
			}
		}
	}
	if !f.full {
		return
	}
	for _, d := range []Dim{DimAge, DimSex, DimType} {
		for _, v := range categories(d, f.geo, nil) {
			f.get(makeKey(eq(DimASL, Unknown), eq(d, v)))
		}
	}
	totals := []key{makeKey(), makeKey(eq(DimASL, Unknown))}
	for _, a := range f.geo.ASLs {
		totals = append(totals, makeKey(eq(DimASL, a)))
	}
	for _, c := range f.centres {
		totals = append(totals, makeKey(centreIs(c)))
	}
	for _, k := range totals {
		for _, m := range Metrics {
			f.get(k).histogram(m.Code)
		}
	}
}

// scopes returns the scopes of the family's tables: the region, each ASL,
// each centre.
func (f *family) scopes() []Scope {
	out := []Scope{ScopeRegion}
	for _, a := range f.geo.ASLs {
		out = append(out, ASLScope(a))
	}
	for _, c := range f.centres {
		out = append(out, CentreScope(c))
	}
	return out
}

// dims returns the breakdowns of scope sc in this family: every one of
// dimsOf for 14 and 90 days; for the months, the totals and the region by
// ASL and by centre (the trends' points).
func (f *family) dims(sc Scope) []Dim {
	if f.full {
		return dimsOf(sc)
	}
	if sc == ScopeRegion {
		return []Dim{DimTotal, DimASL, DimCentre}
	}
	return []Dim{DimTotal}
}

// complements makes the hidden cells of the region's patients outside each
// centre: the region's cell minus the centre's, for every cell a centre's
// table has a twin of in the region's.
func (f *family) complements() {
	for _, c := range f.centres {
		for _, parts := range f.baseFilters() {
			in := f.get(makeKey(with(parts, centreIs(c))...))
			all := f.get(makeKey(parts...))
			out := newCell()
			out.derived = true
			for q := range out.counts {
				out.counts[q] = all.counts[q] - in.counts[q]
			}
			if len(parts) == 0 && f.full {
				for _, m := range Metrics {
					h := out.histogram(m.Code)
					for b := range h {
						h[b] = all.histogram(m.Code)[b] - in.histogram(m.Code)[b]
					}
				}
			}
			f.cells[makeKey(with(parts, notCentre(c))...)] = out
		}
	}
}

// baseFilters are the cells that a centre's tables split in two (the
// centre's patients, and the others): the region, and its rows by every
// attribute but the centre (the region alone for the months).
func (f *family) baseFilters() [][]constraint {
	out := [][]constraint{nil}
	if !f.full {
		return out // the months' centres are totals only
	}
	for _, d := range []Dim{DimASL, DimDistrict, DimAge, DimSex, DimType} {
		for _, v := range categories(d, f.geo, nil) {
			if d == DimDistrict && v == Unknown {
				continue // the unknown ASL's cell, already there
			}
			out = append(out, []constraint{eq(d, v)})
		}
	}
	return out
}

// relations returns every linear relation among the family's counts as
// Relations over indexes: the index of count q of cell k is idx[k]*nq+q;
// the histograms' bins follow.
func (f *family) relations() (keys []key, values []int, rels []Relation, histAt map[key]map[string]int) {
	for k := range f.cells {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic: the same data, the same suppression
	idx := make(map[key]int, len(keys))
	for i, k := range keys {
		idx[k] = i
		values = append(values, f.cells[k].counts...)
	}
	histAt = map[key]map[string]int{}
	for _, k := range keys {
		c := f.cells[k]
		if c.hist == nil {
			continue
		}
		histAt[k] = map[string]int{}
		for _, m := range Metrics {
			histAt[k][m.Code] = len(values)
			values = append(values, c.histogram(m.Code)...)
		}
	}
	at := func(k key, q int) int { return idx[k]*nq + q }
	has := func(ks ...key) bool {
		for _, k := range ks {
			if _, ok := idx[k]; !ok {
				return false
			}
		}
		return true
	}
	// A partition: parent = Σ children, for every count (and every bin of
	// the histograms both sides have).
	partition := func(parent key, children []key) {
		if !has(append([]key{parent}, children...)...) {
			return
		}
		for q := range nq {
			r := Relation{Total: at(parent, q)}
			for _, c := range children {
				r.Parts = append(r.Parts, at(c, q))
			}
			rels = append(rels, r)
		}
		if histAt[parent] == nil {
			return
		}
		for _, c := range children {
			if histAt[c] == nil {
				return
			}
		}
		for _, m := range Metrics {
			for b := range len(m.Edges) + 1 {
				r := Relation{Total: histAt[parent][m.Code] + b}
				for _, c := range children {
					r.Parts = append(r.Parts, histAt[c][m.Code]+b)
				}
				rels = append(rels, r)
			}
		}
	}
	split := func(parent []constraint, d Dim) {
		var children []key
		if rest, a, ok := aslOf(parent); ok && d == DimDistrict {
			// An ASL's districts: the district stands for the ASL.
			for _, v := range f.geo.districtsOf(a) {
				children = append(children, makeKey(with(rest, eq(DimDistrict, v))...))
			}
		} else {
			for _, v := range categories(d, f.geo, nil) {
				children = append(children, makeKey(with(parent, eq(d, v))...))
			}
		}
		partition(makeKey(parent...), children)
	}
	attrs := []Dim{DimAge, DimSex, DimType}
	// The region by ASL, and by district.
	split(nil, DimASL)
	if f.full {
		split(nil, DimDistrict)
		for _, d := range attrs {
			split(nil, d)
			// Each category by ASL.
			for _, v := range categories(d, f.geo, nil) {
				split([]constraint{eq(d, v)}, DimASL)
			}
		}
		// Each ASL by district and by every other attribute.
		for _, a := range append(slices.Clone(f.geo.ASLs), Unknown) {
			if a != Unknown {
				split([]constraint{eq(DimASL, a)}, DimDistrict)
			}
			for _, d := range attrs {
				split([]constraint{eq(DimASL, a)}, d)
			}
		}
	}
	// Each centre and its complement, by every attribute; each of their
	// ASLs by district; and every cell the centre splits.
	for _, c := range f.centres {
		for _, x := range []constraint{centreIs(c), notCentre(c)} {
			if f.full {
				for _, d := range append([]Dim{DimASL, DimDistrict}, attrs...) {
					split([]constraint{x}, d)
				}
				for _, a := range f.geo.ASLs {
					split([]constraint{x, eq(DimASL, a)}, DimDistrict)
				}
			}
		}
		for _, parts := range f.baseFilters() {
			partition(makeKey(parts...), []key{makeKey(with(parts, centreIs(c))...), makeKey(with(parts, notCentre(c))...)})
		}
	}
	// Within each cell.
	for _, k := range keys {
		rels = append(rels,
			Relation{Total: at(k, qEnrolled), Parts: []int{at(k, qWithData), at(k, qNoData)}},
			Relation{Total: at(k, qWithData), Parts: []int{at(k, qSufficient), at(k, qInsufficient)}})
		for i := range Targets {
			rels = append(rels, Relation{Total: at(k, qSufficient), Parts: []int{at(k, qMeet0+i), at(k, qMiss0+i)}})
		}
		zones := Relation{Total: at(k, qSufficient)}
		for z := range GRIZones {
			zones.Parts = append(zones.Parts, at(k, qZone0+z))
		}
		rels = append(rels, zones)
		if h := histAt[k]; h != nil {
			for _, m := range Metrics {
				total := qSufficient
				if m.OverData {
					total = qWithData
				}
				r := Relation{Total: at(k, total)}
				for b := range len(m.Edges) + 1 {
					r.Parts = append(r.Parts, h[m.Code]+b)
				}
				rels = append(rels, r)
			}
		}
	}
	return keys, values, rels, histAt
}

// aslOf returns, when parent holds an ASL constraint of a known ASL, the
// parent without it and the ASL.
func aslOf(parent []constraint) ([]constraint, string, bool) {
	for i, c := range parent {
		if c.dim == DimASL && c.val != Unknown {
			return slices.Delete(slices.Clone(parent), i, i+1), c.val, true
		}
	}
	return parent, "", false
}

// civilDate returns the date of t as a UTC midnight (how dates travel to
// PostgreSQL date columns).
func civilDate(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Share is a number of patients and the percentage of the row's patients
// with sufficient data it makes; both nil when suppressed.
type Share struct {
	Patients *int     `json:"patients"`
	Percent  *float64 `json:"percent"`
}

// Quartiles are the 25th, 50th and 75th percentiles of a metric over a
// row's patients.
type Quartiles struct {
	Q1     float64 `json:"q1"`
	Median float64 `json:"median"`
	Q3     float64 `json:"q3"`
}

// Row is one published row of a table of the population view: a scope's
// patients, or those of one category of a breakdown. A count is nil when
// it is suppressed (fewer than k patients, or a complement); figures are
// given only over published counts of at least k patients.
type Row struct {
	// Key is the category ("" for the scope's total).
	Key string `json:"key"`
	// Enrolled are the patients in the population view (not opposed to
	// secondary use) enrolled by the period's end or with data in it;
	// WithData those with readings in the period; Sufficient those with at
	// least 70 % of the period's readings (Battelino et al. 2019).
	Enrolled   *int `json:"enrolled"`
	WithData   *int `json:"with_data"`
	Sufficient *int `json:"sufficient"`
	// Suppressed is true when any count of the row is suppressed.
	Suppressed bool `json:"suppressed"`
	// Targets are the patients meeting each consensus target (Targets),
	// among those with sufficient data.
	Targets map[string]Share `json:"targets"`
	// GRIZones are the patients in each zone of the Glycemia Risk Index.
	GRIZones map[string]Share `json:"gri_zones"`
	// Distributions are the quartiles of each metric (sensor use over the
	// patients with data, the others over those with sufficient data).
	Distributions map[string]Quartiles `json:"distributions"`
	// Histograms are the patients in each bin of each metric (Metric.Edges),
	// nil bins suppressed; scope totals only.
	Histograms map[string][]*int `json:"histograms,omitempty"`
}

// publish returns the published row of cell k with the suppression s.
func (f *family) publish(k key, label string, at func(key, int) int, histAt map[key]map[string]int, values []int, s Suppression, kmin int) Row {
	c := f.cells[k]
	val := func(i int) *int {
		if s.Suppressed[i] {
			return nil
		}
		v := values[i]
		return &v
	}
	r := Row{Key: label, Enrolled: val(at(k, qEnrolled)), WithData: val(at(k, qWithData)), Sufficient: val(at(k, qSufficient)),
		Targets: map[string]Share{}, GRIZones: map[string]Share{}, Distributions: map[string]Quartiles{}}
	for q := range nq {
		if s.Suppressed[at(k, q)] {
			r.Suppressed = true
		}
	}
	share := func(i int) Share {
		n := val(i)
		if n == nil || r.Sufficient == nil || *r.Sufficient == 0 {
			return Share{Patients: n}
		}
		p := float64(*n) / float64(*r.Sufficient) * 100
		return Share{Patients: n, Percent: &p}
	}
	for i, t := range Targets {
		r.Targets[t.Code] = share(at(k, qMeet0+i))
	}
	for z, name := range GRIZones {
		r.GRIZones[name] = share(at(k, qZone0+z))
	}
	for _, m := range Metrics {
		n := r.Sufficient
		if m.OverData {
			n = r.WithData
		}
		q := c.quart[m.Code]
		if n == nil || *n < kmin || len(q) != 3 || slices.ContainsFunc(q, math.IsNaN) {
			continue
		}
		r.Distributions[m.Code] = Quartiles{Q1: q[0], Median: q[1], Q3: q[2]}
	}
	if h := histAt[k]; h != nil {
		r.Histograms = map[string][]*int{}
		for _, m := range Metrics {
			bins := make([]*int, len(m.Edges)+1)
			for b := range bins {
				bins[b] = val(h[m.Code] + b)
			}
			r.Histograms[m.Code] = bins
		}
	}
	return r
}

// Table is a published table: a scope's rows by a breakdown.
type Table struct {
	Scope Scope `json:"scope"`
	Dim   Dim   `json:"dim"`
	Rows  []Row `json:"rows"`
}

// tables returns the published tables of the family.
func (f *family) tables(kmin int) ([]Table, Suppression, error) {
	keys, values, _, histAt, _, s, err := f.suppress(kmin)
	idx := make(map[key]int, len(keys))
	for i, k := range keys {
		idx[k] = i
	}
	at := func(k key, q int) int { return idx[k]*nq + q }
	if err != nil {
		return nil, s, err
	}
	var out []Table
	for _, sc := range f.scopes() {
		for _, d := range f.dims(sc) {
			t := Table{Scope: sc, Dim: d}
			for _, r := range rowsOf(sc, d, f.geo, f.centres) {
				k := cellOf(sc, d, r)
				if _, ok := idx[k]; !ok {
					return nil, s, fmt.Errorf("population: release: cell %q of %s by %s is not in the family", k, sc, d)
				}
				t.Rows = append(t.Rows, f.publish(k, r, at, histAt, values, s, kmin))
			}
			out = append(out, t)
		}
	}
	return out, s, nil
}

// suppress returns the family's counts, their relations and the
// suppression of threshold kmin, the hidden cells (the region's patients
// outside a centre: derived, never published) marked hidden.
func (f *family) suppress(kmin int) (keys []key, values []int, rels []Relation, histAt map[key]map[string]int, hidden []bool, s Suppression, err error) {
	keys, values, rels, histAt = f.relations()
	idx := make(map[key]int, len(keys))
	for i, k := range keys {
		idx[k] = i
	}
	at := func(k key, q int) int { return idx[k]*nq + q }
	hidden = make([]bool, len(values))
	for _, k := range keys {
		if !f.cells[k].derived {
			continue
		}
		for q := range nq {
			hidden[at(k, q)] = true
		}
		for _, m := range Metrics {
			if h, ok := histAt[k]; ok {
				for b := range len(m.Edges) + 1 {
					hidden[h[m.Code]+b] = true
				}
			}
		}
	}
	s, err = SuppressHidden(values, rels, kmin, hidden)
	return keys, values, rels, histAt, hidden, s, err
}

// figuresJSON encodes a row for population_cells.
func figuresJSON(r Row) ([]byte, error) { return json.Marshal(r) }
