package population

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// table2 is a two-way table with margins: rows×cols cells, then the row
// totals, the column totals and the grand total, with the relations among
// them.
type table2 struct {
	rows, cols int
	values     []int
	rels       []Relation
}

func newTable2(cells [][]int) table2 {
	r, c := len(cells), len(cells[0])
	t := table2{rows: r, cols: c}
	idx := func(i, j int) int { return i*c + j }
	rowT := func(i int) int { return r*c + i }
	colT := func(j int) int { return r*c + r + j }
	grand := r*c + r + c
	t.values = make([]int, grand+1)
	for i := range r {
		for j := range c {
			v := cells[i][j]
			t.values[idx(i, j)] = v
			t.values[rowT(i)] += v
			t.values[colT(j)] += v
			t.values[grand] += v
		}
	}
	for i := range r {
		rel := Relation{Total: rowT(i)}
		for j := range c {
			rel.Parts = append(rel.Parts, idx(i, j))
		}
		t.rels = append(t.rels, rel)
	}
	for j := range c {
		rel := Relation{Total: colT(j)}
		for i := range r {
			rel.Parts = append(rel.Parts, idx(i, j))
		}
		t.rels = append(t.rels, rel)
	}
	all := Relation{Total: grand}
	for i := range r {
		all.Parts = append(all.Parts, rowT(i))
	}
	t.rels = append(t.rels, all)
	all = Relation{Total: grand}
	for j := range c {
		all.Parts = append(all.Parts, colT(j))
	}
	t.rels = append(t.rels, all)
	return t
}

// recoverable returns the suppressed cells whose value follows from the
// published ones through the relations, by an implementation independent
// of Suppress's: exact rational Gaussian elimination of the whole system
// (every relation, every suppressed cell an unknown), then the rank test
// rank(A) == rank([A; e_i]) for each unknown i.
func recoverable(values []int, rels []Relation, supp []bool) []int {
	var unknowns []int
	col := map[int]int{}
	for i, s := range supp {
		if s {
			col[i] = len(unknowns)
			unknowns = append(unknowns, i)
		}
	}
	var a [][]*big.Rat
	for _, r := range rels {
		row := make([]*big.Rat, len(unknowns))
		for j := range row {
			row[j] = new(big.Rat)
		}
		nz := false
		if j, ok := col[r.Total]; ok {
			row[j].Add(row[j], big.NewRat(1, 1))
			nz = true
		}
		for _, p := range r.Parts {
			if j, ok := col[p]; ok {
				row[j].Sub(row[j], big.NewRat(1, 1))
				nz = true
			}
		}
		if nz {
			a = append(a, row)
		}
	}
	base := rank(a, len(unknowns))
	var out []int
	for j, cell := range unknowns {
		e := make([]*big.Rat, len(unknowns))
		for k := range e {
			e[k] = new(big.Rat)
		}
		e[j].SetInt64(1)
		if rank(append(clone(a), e), len(unknowns)) == base {
			out = append(out, cell)
		}
	}
	return out
}

func clone(a [][]*big.Rat) [][]*big.Rat {
	out := make([][]*big.Rat, len(a))
	for i, row := range a {
		out[i] = make([]*big.Rat, len(row))
		for j, v := range row {
			out[i][j] = new(big.Rat).Set(v)
		}
	}
	return out
}

func rank(a [][]*big.Rat, cols int) int {
	a = clone(a)
	r := 0
	for c := 0; c < cols && r < len(a); c++ {
		p := -1
		for i := r; i < len(a); i++ {
			if a[i][c].Sign() != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		a[r], a[p] = a[p], a[r]
		for i := range a {
			if i == r || a[i][c].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Quo(a[i][c], a[r][c])
			for k := c; k < cols; k++ {
				a[i][k].Sub(a[i][k], new(big.Rat).Mul(f, a[r][k]))
			}
		}
		r++
	}
	return r
}

// checkProtected fails when a count from 1 to k−1 is published, when a
// relation has exactly one suppressed member, or when a suppressed count
// can be recovered from the published ones.
func checkProtected(t *testing.T, name string, values []int, rels []Relation, s Suppression, k int) {
	t.Helper()
	for i, v := range values {
		if v > 0 && v < k && !s.Suppressed[i] {
			t.Errorf("%s: cell %d (%d < k) is published", name, i, v)
		}
	}
	for r, rel := range rels {
		n := 0
		for _, c := range append([]int{rel.Total}, rel.Parts...) {
			if s.Suppressed[c] {
				n++
			}
		}
		if n == 1 {
			t.Errorf("%s: relation %d has one suppressed member: recoverable by subtraction", name, r)
		}
	}
	if got := recoverable(values, rels, s.Suppressed); len(got) > 0 {
		t.Errorf("%s: suppressed cells %v are recoverable from the published ones", name, got)
	}
}

func TestSuppressRow(t *testing.T) {
	// One row and its total: 30 = 25 + 5. The 5 is suppressed (primary),
	// and then 25 (the only other part), or 30 − 25 gives it back.
	values := []int{30, 25, 5}
	rels := []Relation{{Total: 0, Parts: []int{1, 2}}}
	s, err := Suppress(values, rels, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, true}; !equalBools(s.Suppressed, want) {
		t.Errorf("suppressed %v, want %v", s.Suppressed, want)
	}
	if !s.Primary[2] || s.Primary[1] || s.Secondary != 1 {
		t.Errorf("primary %v, %d secondary", s.Primary, s.Secondary)
	}
	checkProtected(t, "row", values, rels, s, 10)

	// Zeros are published and never chosen as complements: 30 = 0 + 27 +
	// 3 suppresses 27 with the 3, not the zero.
	values = []int{30, 0, 27, 3}
	rels = []Relation{{Total: 0, Parts: []int{1, 2, 3}}}
	s, _ = Suppress(values, rels, 10)
	if want := []bool{false, false, true, true}; !equalBools(s.Suppressed, want) {
		t.Errorf("with a zero: suppressed %v, want %v", s.Suppressed, want)
	}
	// A small total: suppressed with... every part of it, or a part could
	// be read as total minus the others; here 8 = 8 + 0: the total and
	// its one non-zero part go together.
	values = []int{8, 8, 0}
	rels = []Relation{{Total: 0, Parts: []int{1, 2}}}
	s, _ = Suppress(values, rels, 10)
	if want := []bool{true, true, false}; !equalBools(s.Suppressed, want) {
		t.Errorf("small total: suppressed %v, want %v", s.Suppressed, want)
	}
}

// TestSuppressTwoWay: a cell suppressed in a two-way table with margins
// needs a complement in its row, then in the columns of both, and the
// margins must not give any of them back.
func TestSuppressTwoWay(t *testing.T) {
	tb := newTable2([][]int{
		{40, 3, 25},
		{30, 50, 20},
		{45, 35, 60},
	})
	s, err := Suppress(tb.values, tb.rels, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkProtected(t, "3×3", tb.values, tb.rels, s, 10)
	n := 0
	for _, v := range s.Suppressed {
		if v {
			n++
		}
	}
	// The 3 and at least three complements (a rectangle of four cells).
	if n < 4 || !s.Suppressed[1] {
		t.Errorf("%d cells suppressed (%v), want the 3 and at least three complements", n, s.Suppressed)
	}
	// The complements of the 3 are the smallest cells: 25 in its row, 35
	// in its column.
	if !s.Suppressed[2] || !s.Suppressed[7] {
		t.Errorf("complements %v: want the 25 of its row and the 35 of its column", s.Suppressed)
	}
}

// TestSuppressAudit: three unknowns x, y, z with the published sums x+y,
// x+z, y+z. Every relation holds two suppressed members, which row and
// column checks accept, yet x = ((x+y) + (x+z) − (y+z)) / 2: the audit
// finds it and suppresses more.
func TestSuppressAudit(t *testing.T) {
	// cells: 0 x, 1 y, 2 z, 3 x+y, 4 x+z, 5 y+z
	values := []int{4, 6, 30, 10, 34, 36}
	rels := []Relation{{Total: 3, Parts: []int{0, 1}}, {Total: 4, Parts: []int{0, 2}}, {Total: 5, Parts: []int{1, 2}}}
	if got := recoverable(values, rels, []bool{true, true, true, false, false, false}); len(got) != 3 {
		t.Fatalf("the fixture is wrong: %v recoverable, want x, y and z", got)
	}
	s, err := Suppress(values, rels, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkProtected(t, "triangle", values, rels, s, 10)
}

// TestSuppressRandom: random two- and three-way tables with margins and
// small counts (every k from 3 to 12) are protected: no published small
// count, no relation with a lone suppressed member, nothing recoverable.
func TestSuppressRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 10))
	for trial := range 300 {
		r, c := 2+rng.IntN(4), 2+rng.IntN(5)
		cells := make([][]int, r)
		for i := range cells {
			cells[i] = make([]int, c)
			for j := range cells[i] {
				switch rng.IntN(4) {
				case 0:
					cells[i][j] = 0
				case 1:
					cells[i][j] = 1 + rng.IntN(12)
				default:
					cells[i][j] = 10 + rng.IntN(60)
				}
			}
		}
		k := 3 + rng.IntN(10)
		tb := newTable2(cells)
		s, err := Suppress(tb.values, tb.rels, k)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		checkProtected(t, "random", tb.values, tb.rels, s, k)
		// Deterministic: the same input gives the same answer.
		s2, _ := Suppress(tb.values, tb.rels, k)
		if !equalBools(s.Suppressed, s2.Suppressed) {
			t.Fatalf("trial %d: two runs differ", trial)
		}
	}
}

func TestSuppressRejects(t *testing.T) {
	if _, err := Suppress([]int{1, 2}, []Relation{{Total: 0, Parts: []int{5}}}, 10); err == nil {
		t.Error("a relation naming a cell out of range was accepted")
	}
	if _, err := Suppress([]int{-1}, nil, 10); err == nil {
		t.Error("a negative count was accepted")
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSuppressHidden: a hidden count (never published: the region's
// patients outside a centre) is an unknown from the start. region = C +
// notC with C = 4: C is suppressed and notC, hidden, hides it; nothing
// else goes. A small hidden count is protected like a primary one: region
// = C + notC with notC = 3 hidden must not follow from the published
// region and centre, so the centre goes too.
func TestSuppressHidden(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []int
		want   []bool
	}{
		{"small centre", []int{100, 4, 96}, []bool{false, true, true}},
		{"small outside", []int{100, 97, 3}, []bool{false, true, true}},
		{"both large", []int{100, 60, 40}, []bool{false, false, true}},
	} {
		rels := []Relation{{Total: 0, Parts: []int{1, 2}}}
		s, err := SuppressHidden(c.values, rels, 10, []bool{false, false, true})
		if err != nil {
			t.Fatal(err)
		}
		if !equalBools(s.Suppressed, c.want) {
			t.Errorf("%s: suppressed %v, want %v", c.name, s.Suppressed, c.want)
		}
	}
	if _, err := SuppressHidden([]int{1, 2}, nil, 10, []bool{true}); err == nil {
		t.Error("hidden marks of the wrong length were accepted")
	}
}

// determinedDense is the dense elimination determinedUnknowns replaced,
// kept as its reference: it returns the unknowns of members (suppressed cells)
// whose values the relations determine from the published counts: Gaussian
// elimination of the relations' coefficients on the unknowns (the
// published counts go to the right-hand side and do not matter), then an
// unknown is determined when its pivot row holds no free unknown.
func determinedDense(members []int, rels []Relation, of [][]int, supp []bool) []int {
	rows := unknownRows(members, rels, of, supp)
	const eps = 1e-9
	pivotRow := map[int]int{} // column → row index of its pivot
	used := make([]bool, len(rows))
	var pivots []int
	for j := range members {
		// A row not yet used as a pivot with a non-zero entry in column j.
		p := -1
		for i, row := range rows {
			if used[i] {
				continue
			}
			if v := row[j]; math.Abs(v) > eps {
				if p < 0 || len(row) < len(rows[p]) {
					p = i
				}
			}
		}
		if p < 0 {
			continue
		}
		pv := rows[p][j]
		for k := range rows[p] {
			rows[p][k] /= pv
		}
		for i, row := range rows {
			if i == p {
				continue
			}
			f, ok := row[j]
			if !ok || math.Abs(f) <= eps {
				continue
			}
			for k, v := range rows[p] {
				nv := row[k] - f*v
				if math.Abs(nv) <= eps {
					delete(row, k)
				} else {
					row[k] = nv
				}
			}
		}
		pivotRow[j] = p
		used[p] = true
		pivots = append(pivots, j)
	}
	var out []int
	for _, j := range pivots {
		row := rows[pivotRow[j]]
		alone := true
		for k, v := range row {
			if k != j && math.Abs(v) > eps {
				alone = false
				break
			}
		}
		if alone {
			out = append(out, members[j])
		}
	}
	slices.Sort(out)
	return out
}

// TestDeterminedSparse: on random systems of relations (random sums over
// random cells, random unknowns, several linked hierarchies), the sparse
// elimination finds exactly the unknowns the exact rational elimination
// (recoverable), the dense one and the one modulo a prime (the scale
// test's exact check) find.
func TestDeterminedSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 19))
	some, notAll := 0, 0
	for trial := range 250 {
		n := 6 + rng.IntN(40)
		var rels []Relation
		for range 1 + rng.IntN(n) {
			total := rng.IntN(n)
			var parts []int
			for _, c := range rng.Perm(n)[:1+rng.IntN(min(n-1, 6))] {
				if c != total {
					parts = append(parts, c)
				}
			}
			if len(parts) > 0 {
				rels = append(rels, Relation{Total: total, Parts: parts})
			}
		}
		supp := make([]bool, n)
		var members []int
		for i := range supp {
			if rng.IntN(3) > 0 {
				supp[i] = true
				members = append(members, i)
			}
		}
		of := make([][]int, n)
		for r, rel := range rels {
			for _, c := range append([]int{rel.Total}, rel.Parts...) {
				of[c] = append(of[c], r)
			}
		}
		values := make([]int, n)
		got := determinedUnknowns(members, rels, of, supp)
		dense := determinedDense(members, rels, of, supp)
		exact := recoverable(values, rels, supp)
		slices.Sort(exact)
		modp := determinedModP(values, rels, supp)
		slices.Sort(modp)
		if !slices.Equal(got, dense) || !slices.Equal(got, exact) || !slices.Equal(modp, exact) {
			t.Fatalf("trial %d: sparse %v, dense %v, modulo p %v, exact %v", trial, got, dense, modp, exact)
		}
		if len(got) > 0 {
			some++
		}
		if len(got) < len(members) {
			notAll++
		}
	}
	if some < 50 || notAll < 50 {
		t.Errorf("the fixture is weak: %d systems with a determined unknown, %d with a free one", some, notAll)
	}
}
