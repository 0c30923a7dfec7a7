package population

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"

	"gonum.org/v1/gonum/mat"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// seedPseudonymised writes n members and their 14-day rows straight into
// the pseudonymised tables: for each group, its ASL, district, centres and
// size; the attributes and figures vary with a fixed seed.
func seedPseudonymised(t *testing.T, pool *pgxpool.Pool, p Period, groups []seedGroup) int {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(19, 1))
	ages := []string{"25-44", "45-64", "45-64"}
	types := []string{"type1", "type2", "type2"}
	n := 0
	for _, g := range groups {
		for range g.size {
			n++
			ps := fmt.Sprintf("%032x", n)
			centres := g.centres
			if centres == nil {
				centres = []string{}
			}
			var asl, district any
			if g.asl != "" {
				asl, district = g.asl, g.district
			}
			sex := "F"
			if rng.IntN(2) == 0 {
				sex = "M"
			}
			if _, err := pool.Exec(ctx, `INSERT INTO population_members (pseudonym, authority, district, centres, age_band, sex, diabetes_type, enrolled_on)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, ps, asl, district, centres, ages[rng.IntN(len(ages))], sex,
				types[rng.IntN(len(types))], p.First.AddDate(0, -3, 0)); err != nil {
				t.Fatal(err)
			}
			readings, active, sufficient := 1344, 60+rng.Float64()*40, true
			if rng.IntN(8) == 0 {
				readings, active = 0, 0
			}
			sufficient = readings > 0 && active >= 70
			tir := 30 + rng.Float64()*65
			tbr := rng.Float64() * 8
			tbr54 := tbr * rng.Float64() / 2
			tar := 100 - tir - tbr
			gri := rng.Float64() * 100
			zone := int16(min(4, int(gri/20))) + 1
			args := []any{int16(p.Kind), p.First, p.Last, ps, readings, 14, active, sufficient}
			if readings > 0 {
				args = append(args, tir, tbr, tbr54, tar, tar/3, 6+rng.Float64()*3, 25+rng.Float64()*20, gri, zone)
			} else {
				args = append(args, nil, nil, nil, nil, nil, nil, nil, nil, nil)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO population_periods (kind, start, last, pseudonym, readings, days_worn, active_percent,
				sufficient, tir, tbr, tbr54, tar, tar250, gmi, cv, gri, gri_zone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
				args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}

type seedGroup struct {
	asl, district string
	centres       []string
	size          int
}

// publishedCounts returns every count a row publishes.
func publishedCounts(r Row) map[string]*int {
	out := map[string]*int{"enrolled": r.Enrolled, "with_data": r.WithData, "sufficient": r.Sufficient}
	for k, s := range r.Targets {
		out["target "+k] = s.Patients
	}
	for k, s := range r.GRIZones {
		out["zone "+k] = s.Patients
	}
	for m, bins := range r.Histograms {
		for i, b := range bins {
			out[fmt.Sprintf("hist %s %d", m, i)] = b
		}
	}
	return out
}

// TestReleaseSuppresses builds a real release from pseudonymised rows (three
// ASLs of 600, 264 and 3 patients, a centre of 350 and one of 4) and checks
// that no published count is between 1 and k−1, that the small ASL and the
// small centre are suppressed with a complement each, that nothing
// suppressed follows from the published counts through any relation of
// the release (exact rational elimination, independent of Suppress), and
// that the reader gives each viewer only its scopes and logs every query.
func TestReleaseSuppresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := Period{Kind: Days14, First: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC)}
	// Two zone-distretto per ASL (this test's own database): the exact
	// audit below is a dense decomposition of the release's relations,
	// which grow with the districts.
	if _, err := pool.Exec(ctx, `
		DELETE FROM municipalities WHERE district NOT IN (SELECT code FROM (
			SELECT code, row_number() OVER (PARTITION BY authority ORDER BY code) n FROM health_districts
			WHERE code IN (SELECT district FROM municipalities)) d WHERE n <= 2);
		DELETE FROM health_districts WHERE code NOT IN (SELECT district FROM municipalities)`); err != nil {
		t.Fatal(err)
	}
	geo, err := loadGeography(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	tc, no, se := geo.districtsOf("TC"), geo.districtsOf("NO"), geo.districtsOf("SE")
	if len(tc) < 2 || len(no) < 1 || len(se) < 1 || len(geo.Districts) > 6 {
		t.Fatalf("districts %v", geo.Districts)
	}
	seedPseudonymised(t, pool, p, []seedGroup{
		{"TC", tc[0], []string{"C1"}, 350},
		{"TC", tc[1], nil, 250},
		{"NO", no[0], nil, 260},
		{"NO", no[0], []string{"C2"}, 4},
		{"SE", se[0], nil, 3},
	})
	const k = 10
	var s Suppression
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, s, err = buildRelease(ctx, tx, p, k, p.Last.Add(30*time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release built: %d secondary", s.Secondary)
	if s.Secondary == 0 {
		t.Error("no complement suppressed")
	}
	// Every published count: 0 or at least k.
	rows, err := pool.Query(ctx, `SELECT scope, dim, key, figures FROM population_cells`)
	if err != nil {
		t.Fatal(err)
	}
	var scope, dim, rowKey string
	var row Row
	cells := 0
	_, err = pgx.ForEachRow(rows, []any{&scope, &dim, &rowKey, &row}, func() error {
		cells++
		for name, v := range publishedCounts(row) {
			if v != nil && *v > 0 && *v < k {
				t.Errorf("%s by %s, %q: %s = %d is published", scope, dim, rowKey, name, *v)
			}
		}
		row = Row{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cells < 100 {
		t.Errorf("%d cells published", cells)
	}
	// The exact audit over the whole release.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		f := &family{geo: geo, centres: []string{"C1", "C2"}, full: true, cells: map[key]*cell{}}
		if err := f.compute(ctx, tx, p.Kind, p.First); err != nil {
			return err
		}
		f.ensure()
		f.complements()
		_, values, rels, _, hidden, s2, err := f.suppress(k)
		if err != nil {
			return err
		}
		checkProtectedSVD(t, values, rels, s2, hidden, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	r := NewReader(pool, nil)
	regional := Viewer{Role: "analyst", ID: "RSSMRA80A01H501U", PopulationScope: "region"}
	byASL, err := r.Table(ctx, regional, Query{Scope: ScopeRegion, Dim: DimASL, Kind: Days14})
	if err != nil {
		t.Fatal(err)
	}
	supp := 0
	for _, row := range byASL.Table.Rows {
		if row.Key == "SE" && row.Enrolled != nil {
			t.Errorf("the ASL of 3 patients is published: %d", *row.Enrolled)
		}
		if row.Enrolled == nil {
			supp++
		}
	}
	if supp < 2 {
		t.Errorf("region by ASL: %d rows suppressed, want the small one and a complement", supp)
	}
	if got := byASL.Table.Rows[0].Key; got != "NO" {
		t.Errorf("first row %q, want the ASLs in order", got)
	}
	byCentre, err := r.Table(ctx, regional, Query{Scope: ScopeRegion, Dim: DimCentre, Kind: Days14})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range byCentre.Table.Rows {
		if row.Key == "C2" && row.Enrolled != nil {
			t.Errorf("the centre of 4 patients is published")
		}
		if row.Key == "C1" && (row.Enrolled == nil || *row.Enrolled != 350) {
			t.Errorf("the centre of 350: %v", row.Enrolled)
		}
	}
	for _, c := range []struct {
		v    Viewer
		s    Scope
		want error
	}{
		{Viewer{Role: "analyst", PopulationScope: "asl:NO"}, ASLScope("NO"), nil},
		{Viewer{Role: "analyst", PopulationScope: "asl:NO"}, ScopeRegion, nil},
		{Viewer{Role: "analyst", PopulationScope: "asl:NO"}, ASLScope("TC"), ErrForbidden},
		{Viewer{Role: "analyst", PopulationScope: "asl:NO"}, CentreScope("C1"), ErrForbidden},
		{Viewer{Role: "practitioner", Organization: "C1", OrganizationRole: "head"}, CentreScope("C1"), nil},
		{Viewer{Role: "practitioner", Organization: "C1", OrganizationRole: "head"}, CentreScope("C2"), ErrForbidden},
		{Viewer{Role: "practitioner", Organization: "C1"}, CentreScope("C1"), ErrForbidden},
		{Viewer{Role: "citizen", ID: "RSSMRA80A01H501U"}, ScopeRegion, ErrForbidden},
		{Viewer{Role: "service"}, ScopeRegion, ErrForbidden},
	} {
		_, err := r.Table(ctx, c.v, Query{Scope: c.s, Dim: DimTotal, Kind: Days14})
		if !errors.Is(err, c.want) {
			t.Errorf("%+v reading %s: %v, want %v", c.v, c.s, err, c.want)
		}
	}
	if _, err := r.Funnel(ctx, Viewer{Role: "analyst", PopulationScope: "asl:NO"}, Days14, "tir"); !errors.Is(err, ErrForbidden) {
		t.Errorf("an ASL's analyst read the region's funnel: %v", err)
	}
	fu, err := r.Funnel(ctx, Viewer{Role: "practitioner", Organization: "C1", OrganizationRole: "head"}, Days14, "tir")
	if err != nil {
		t.Fatal(err)
	}
	if len(fu.Points) != 1 || fu.Points[0].Centre != "C1" || fu.Suppressed != 1 || fu.Theta0 <= 0 || len(fu.Limits) == 0 {
		t.Errorf("the head's funnel: %+v", fu)
	}
	for _, pt := range fu.Points {
		if pt.Centre != "C1" && pt.Centre != "" {
			t.Errorf("the head sees another centre named: %+v", pt)
		}
	}
	total, err := r.Table(ctx, regional, Query{Scope: ScopeRegion, Dim: DimTotal, Kind: Days14})
	if err != nil || total.Table.Rows[0].Enrolled == nil || *total.Table.Rows[0].Enrolled != 867 {
		t.Errorf("the region's total: %+v, %v", total.Table.Rows, err)
	}
	audit, err := r.Audit(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 14 {
		t.Errorf("%d queries logged, want 14", len(audit))
	}
	denied := 0
	for _, a := range audit {
		if a.Outcome == "denied" {
			denied++
		}
		if strings.Contains(a.What, "0000000000") {
			t.Errorf("the log names a pseudonym: %s", a.What)
		}
	}
	if denied != 7 {
		t.Errorf("%d refusals logged, want 7", denied)
	}
}

// checkProtectedSVD is checkProtected for a family too large for exact
// rational elimination: the suppressed counts are the unknowns of the
// system A x = b the relations make; an unknown is determined by the
// published counts exactly when every vector of A's null space is zero in
// its coordinate. The null space of each group of linked unknowns comes
// from a singular value decomposition (gonum), independent of Suppress's
// elimination.
func checkProtectedSVD(t *testing.T, values []int, rels []Relation, s Suppression, hidden []bool, k int) {
	t.Helper()
	// A hidden count (never published) may follow from the published
	// ones unless it is a small one.
	sensitive := func(i int) bool { return !hidden[i] || values[i] > 0 && values[i] < k }
	// Union-find of the suppressed counts linked by a relation.
	parent := map[int]int{}
	var find func(int) int
	find = func(x int) int {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	for i, v := range values {
		if v > 0 && v < k && !s.Suppressed[i] {
			t.Errorf("count %d (%d < k) is published", i, v)
		}
		if hidden[i] && !s.Suppressed[i] {
			t.Errorf("hidden count %d is published", i)
		}
		if s.Suppressed[i] {
			parent[i] = i
		}
	}
	for r, rel := range rels {
		var in []int
		for _, c := range append([]int{rel.Total}, rel.Parts...) {
			if s.Suppressed[c] {
				in = append(in, c)
			}
		}
		if len(in) == 1 && sensitive(in[0]) {
			t.Errorf("relation %d has one suppressed member", r)
		}
		for _, c := range in[min(1, len(in)):] {
			parent[find(c)] = find(in[0])
		}
	}
	groups := map[int][]int{}
	for c := range parent {
		groups[find(c)] = append(groups[find(c)], c)
	}
	relsOf := map[int][]int{}
	for r, rel := range rels {
		for _, c := range append([]int{rel.Total}, rel.Parts...) {
			if s.Suppressed[c] {
				relsOf[find(c)] = append(relsOf[find(c)], r)
				break
			}
		}
	}
	determined, largest := 0, 0
	for g, members := range groups {
		largest = max(largest, len(members))
		col := map[int]int{}
		for j, c := range members {
			col[c] = j
		}
		n := len(members)
		var data []float64
		m := 0
		for _, r := range relsOf[g] {
			row := make([]float64, n)
			if j, ok := col[rels[r].Total]; ok {
				row[j]++
			}
			for _, p := range rels[r].Parts {
				if j, ok := col[p]; ok {
					row[j]--
				}
			}
			data = append(data, row...)
			m++
		}
		for m < n {
			data = append(data, make([]float64, n)...)
			m++
		}
		var svd mat.SVD
		if !svd.Factorize(mat.NewDense(m, n, data), mat.SVDFullV) {
			t.Fatal("SVD failed")
		}
		sv := svd.Values(nil)
		var v mat.Dense
		svd.VTo(&v)
		tol := 1e-9 * float64(max(m, n)) * max(sv[0], 1)
		rank := 0
		for _, x := range sv {
			if x > tol {
				rank++
			}
		}
		for j := range n {
			free := false
			for c := rank; c < n; c++ {
				if math.Abs(v.At(j, c)) > 1e-8 {
					free = true
					break
				}
			}
			if !free && sensitive(members[j]) {
				determined++
			}
		}
	}
	if determined > 0 {
		t.Errorf("%d suppressed counts follow from the published ones", determined)
	}
	t.Logf("%d suppressed counts in %d linked groups (the largest %d): none recoverable", len(parent), len(groups), largest)
}
