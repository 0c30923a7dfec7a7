package population

import (
	"fmt"
	"math"
	"slices"
)

// Relation says that a published count is the sum of others: the cells
// Parts add up to the cell Total (a margin and its row, a column and its
// cells, a count and the counts it splits into). Whoever knows all but one
// of them knows the last by subtraction.
type Relation struct {
	Total int
	Parts []int
}

// Suppression says which cells of a family of counts may not be
// published.
type Suppression struct {
	// Suppressed marks the cells not to publish: Primary and their
	// complements.
	Suppressed []bool
	// Primary marks the cells with fewer than k patients (and more than
	// none).
	Primary []bool
	// Secondary is the number of complements suppressed.
	Secondary int
	// Rounds is the number of audits the suppression took.
	Rounds int
}

// Suppress decides which of the counts values (patients in a cell) may be
// published with threshold k, given the relations among them:
//
//  1. primary suppression: every count from 1 to k−1 (a cell of fewer
//     than k patients; zero is published: it describes nobody);
//  2. secondary suppression: every relation with exactly one suppressed
//     member gets a second one — the smallest non-zero published part, or
//     the total when no part is left — so that no suppressed count is the
//     difference of published ones; repeated until no relation has a
//     lone suppressed member (a complement can leave another relation with
//     one);
//  3. audit: the suppressed counts are unknowns of the linear system the
//     relations make with the published counts; a suppressed count that
//     the system determines (its unit vector lies in the row space of the
//     system restricted to the unknowns, found by sparse Gauss–Jordan
//     elimination per connected group of unknowns: determinedUnknowns)
//     gets one more complement among its relations' published members
//     (every determined count of a round but those next to one already
//     handled in it), and steps 2–3 run again until the audit finds none.
//
// This is the classical cell-suppression heuristic of statistical
// disclosure control (Hundepool et al., "Statistical Disclosure Control",
// Wiley 2012, §4.2 and §4.4: threshold rule, secondary suppression in
// linked tables); the audit makes the protection exact against every
// linear combination of the published counts, not only the row and column
// sums. Bounds (an unknown narrowed to an interval by non-negativity) are
// not audited. Suppress is deterministic: the same values and relations
// give the same suppression whatever the order of the queries that read
// them, so that no two answers can be combined.
func Suppress(values []int, rels []Relation, k int) (Suppression, error) {
	return SuppressHidden(values, rels, k, nil)
}

// SuppressHidden is Suppress for a family in which some counts are never
// published (hidden: the region's patients outside a centre, which only
// link a centre's tables with the region's): they are unknowns from the
// start, neither primary nor complements, and protected like a primary
// cell only when they hold from 1 to k−1 patients (a hidden count of 0 or
// at least k may follow from the published ones: it is never shown, and
// it describes no small group). hidden may be nil.
func SuppressHidden(values []int, rels []Relation, k int, hidden []bool) (Suppression, error) {
	n := len(values)
	if hidden == nil {
		hidden = make([]bool, n)
	}
	if len(hidden) != n {
		return Suppression{}, fmt.Errorf("population: suppression: %d hidden marks for %d cells", len(hidden), n)
	}
	s := Suppression{Suppressed: make([]bool, n), Primary: make([]bool, n)}
	of := make([][]int, n) // relations of each cell
	for r, rel := range rels {
		for _, c := range append([]int{rel.Total}, rel.Parts...) {
			if c < 0 || c >= n {
				return s, fmt.Errorf("population: suppression: relation %d names cell %d of %d", r, c, n)
			}
			of[c] = append(of[c], r)
		}
	}
	for i, v := range values {
		if v < 0 {
			return s, fmt.Errorf("population: suppression: cell %d is negative (%d)", i, v)
		}
		if v > 0 && v < k {
			s.Primary[i], s.Suppressed[i] = true, true
		}
		if hidden[i] {
			s.Suppressed[i] = true
		}
	}
	// sensitive: a suppressed count that must not follow from the
	// published ones.
	sensitive := func(i int) bool { return s.Suppressed[i] && (!hidden[i] || s.Primary[i]) }
	for range 10_000 {
		s.Rounds++
		s.secondary(values, rels, of, sensitive)
		more, err := s.audit(values, rels, of, sensitive)
		if err != nil {
			return s, err
		}
		if !more {
			return s, nil
		}
	}
	return s, fmt.Errorf("population: suppression did not converge")
}

// secondary suppresses complements until no relation has exactly one
// suppressed member.
func (s *Suppression) secondary(values []int, rels []Relation, of [][]int, sensitive func(int) bool) {
	queue := make([]int, len(rels))
	in := make([]bool, len(rels))
	for i := range rels {
		queue[i], in[i] = i, true
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		in[r] = false
		rel := rels[r]
		lone, count := -1, 0
		for _, c := range append([]int{rel.Total}, rel.Parts...) {
			if s.Suppressed[c] {
				lone, count = c, count+1
			}
		}
		if count != 1 || !sensitive(lone) {
			continue
		}
		c := complement(values, s.Suppressed, rel, lone)
		if c < 0 {
			continue // every other member is a zero: nothing to hide (see complement)
		}
		s.Suppressed[c] = true
		s.Secondary++
		for _, r2 := range of[c] {
			if !in[r2] {
				queue, in[r2] = append(queue, r2), true
			}
		}
	}
}

// complement chooses the published member of rel to suppress beside lone:
// the part with the smallest non-zero count (then the lowest index), else
// the total when lone is a part. -1 when lone is the total and every part
// is zero (a zero total cannot be suppressed, so this does not happen).
func complement(values []int, supp []bool, rel Relation, lone int) int {
	best := -1
	for _, c := range rel.Parts {
		if c == lone || supp[c] || values[c] == 0 {
			continue
		}
		if best < 0 || values[c] < values[best] || values[c] == values[best] && c < best {
			best = c
		}
	}
	if best >= 0 {
		return best
	}
	if lone != rel.Total && !supp[rel.Total] {
		return rel.Total
	}
	return -1
}

// audit finds the suppressed counts that the published ones determine
// through the relations, and suppresses one more published member of a
// relation of each. It reports whether it suppressed anything.
func (s *Suppression) audit(values []int, rels []Relation, of [][]int, sensitive func(int) bool) (bool, error) {
	// Group the unknowns (suppressed cells) linked by relations.
	n := len(values)
	group := make([]int, n)
	for i := range group {
		group[i] = -1
	}
	var groups [][]int
	for i := range n {
		if !s.Suppressed[i] || group[i] >= 0 {
			continue
		}
		g := len(groups)
		members := []int{i}
		group[i] = g
		for q := 0; q < len(members); q++ {
			for _, r := range of[members[q]] {
				for _, c := range append([]int{rels[r].Total}, rels[r].Parts...) {
					if s.Suppressed[c] && group[c] < 0 {
						group[c] = g
						members = append(members, c)
					}
				}
			}
		}
		groups = append(groups, members)
	}
	changed := false
	for _, members := range groups {
		determined := determinedUnknowns(members, rels, of, s.Suppressed)
		// Each determined count gets a complement, in index order, but
		// not one whose relations share a count with those of a count
		// handled this round or of its complement: the new unknown most
		// likely hides it too, and the next round's audit decides. A
		// complement at a time would audit a release once per complement
		// (hundreds of eliminations of thousands of unknowns with a dozen
		// centres); this keeps the rounds few and the complements close
		// to that.
		near := map[int]bool{}
		for _, x := range determined {
			if !sensitive(x) || near[x] {
				continue
			}
			best := nearestPublished(x, values, rels, of, s.Suppressed)
			if best < 0 {
				return changed, fmt.Errorf("population: suppression: count %d is determined by the others and no published count can hide it", x)
			}
			s.Suppressed[best] = true
			s.Secondary++
			changed = true
			for _, c := range []int{x, best} {
				for _, r := range of[c] {
					near[rels[r].Total] = true
					for _, p := range rels[r].Parts {
						near[p] = true
					}
				}
			}
		}
	}
	return changed, nil
}

// nearestPublished returns the published non-zero count to suppress so
// that the determined unknown x is hidden again: the smallest among the
// members of x's relations, else among those of the relations one step
// further (through suppressed cells), and so on; -1 when there is none.
func nearestPublished(x int, values []int, rels []Relation, of [][]int, supp []bool) int {
	seenCell := map[int]bool{x: true}
	seenRel := map[int]bool{}
	frontier := []int{x}
	for len(frontier) > 0 {
		best := -1
		var next []int
		for _, c := range frontier {
			for _, r := range of[c] {
				if seenRel[r] {
					continue
				}
				seenRel[r] = true
				for _, m := range append([]int{rels[r].Total}, rels[r].Parts...) {
					if seenCell[m] {
						continue
					}
					seenCell[m] = true
					switch {
					case supp[m]:
						next = append(next, m)
					case values[m] > 0:
						if best < 0 || values[m] < values[best] || values[m] == values[best] && m < best {
							best = m
						}
					}
				}
			}
		}
		if best >= 0 {
			return best
		}
		frontier = next
	}
	return -1
}

// unknownRows returns the relations linking the unknowns of members (the
// suppressed counts of one group) as rows of coefficients by the
// unknown's index in members: the published counts go to the right-hand
// side, which does not matter to which unknowns are determined; rows
// without an unknown are left out.
func unknownRows(members []int, rels []Relation, of [][]int, supp []bool) []map[int]float64 {
	col := make(map[int]int, len(members))
	for i, c := range members {
		col[c] = i
	}
	seen := map[int]bool{}
	var rows []map[int]float64
	for _, c := range members {
		for _, r := range of[c] {
			if seen[r] {
				continue
			}
			seen[r] = true
			row := map[int]float64{}
			if supp[rels[r].Total] {
				row[col[rels[r].Total]] += 1
			}
			for _, p := range rels[r].Parts {
				if supp[p] {
					row[col[p]] -= 1
				}
			}
			for k, v := range row {
				if v == 0 {
					delete(row, k)
				}
			}
			if len(row) > 0 {
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// determinedUnknowns returns the unknowns of members (suppressed cells)
// whose values the relations determine from the published counts: the
// relations' coefficients on the unknowns (the published counts go to the
// right-hand side and do not matter) brought to reduced row echelon form,
// then an unknown is determined when its pivot row holds no free unknown
// (its unit vector lies in the row space).
//
// The elimination is sparse (Gauss–Jordan on sparse rows with each
// column's rows indexed, Duff, Erisman and Reid, "Direct Methods for Sparse
// Matrices", 2nd ed., Oxford 2017, ch. 7): a column's pivot is the
// shortest row holding it, the columns are taken fewest rows first (in
// the spirit of Markowitz's criterion, ibid. §7.2, which keeps the fill-in
// low), and each pivot is
// eliminated from the rows holding that column only, so that the cost
// follows the non-zeros, not the square of the unknowns: the thousands of
// unknowns a release with a dozen centres links into one group (the
// hidden cells of the patients outside each centre tie every table to the
// region's) are reduced in well under a second. Which column is a pivot
// may differ from a dense elimination's, but not whether an unknown is
// determined: that is a property of the row space.
func determinedUnknowns(members []int, rels []Relation, of [][]int, supp []bool) []int {
	rows := unknownRows(members, rels, of, supp)
	const eps = 1e-9
	// at[j]: the rows holding column j.
	at := make([]map[int]struct{}, len(members))
	for j := range at {
		at[j] = map[int]struct{}{}
	}
	for i, row := range rows {
		for j := range row {
			at[j][i] = struct{}{}
		}
	}
	used := make([]bool, len(rows))
	done := make([]bool, len(members))
	pivotRow := make(map[int]int, len(members)) // column → row of its pivot
	// Columns by how many rows not yet pivots hold them, fewest first
	// (a heap with stale entries skipped).
	open := func(j int) int {
		n := 0
		for i := range at[j] {
			if !used[i] {
				n++
			}
		}
		return n
	}
	h := &colHeap{}
	for j := range members {
		h.push(colCount{j, len(at[j])})
	}
	for h.len() > 0 {
		cc := h.pop()
		j := cc.col
		if done[j] {
			continue
		}
		if n := open(j); n != cc.n {
			h.push(colCount{j, n}) // stale: requeue with its count
			continue
		}
		done[j] = true
		// The shortest row not yet a pivot holding column j with an entry
		// at least a tenth of the column's largest (threshold pivoting,
		// ibid., against the growth of round-off).
		big := 0.0
		for i := range at[j] {
			if !used[i] {
				big = max(big, math.Abs(rows[i][j]))
			}
		}
		p := -1
		for i := range at[j] {
			if used[i] || math.Abs(rows[i][j]) <= eps || math.Abs(rows[i][j]) < big/10 {
				continue
			}
			if p < 0 || len(rows[i]) < len(rows[p]) || len(rows[i]) == len(rows[p]) && i < p {
				p = i
			}
		}
		if p < 0 {
			continue // a free column
		}
		pv := rows[p][j]
		for k := range rows[p] {
			rows[p][k] /= pv
		}
		rows[p][j] = 1
		for i := range at[j] {
			if i == p {
				continue
			}
			row := rows[i]
			f, ok := row[j]
			if !ok {
				continue
			}
			for k, v := range rows[p] {
				nv := row[k] - f*v
				if k == j || math.Abs(nv) <= eps {
					if _, had := row[k]; had {
						delete(row, k)
						if k != j {
							delete(at[k], i)
						}
					}
					continue
				}
				if _, had := row[k]; !had {
					at[k][i] = struct{}{}
				}
				row[k] = nv
			}
		}
		at[j] = map[int]struct{}{p: {}}
		pivotRow[j] = p
		used[p] = true
	}
	var out []int
	for j, p := range pivotRow {
		if len(rows[p]) == 1 {
			out = append(out, members[j])
		}
	}
	slices.Sort(out)
	return out
}

// colCount is a column and its number of rows, for the Markowitz order.
type colCount struct{ col, n int }

// colHeap is a min-heap of columns by their rows, then by column.
type colHeap struct{ a []colCount }

func (h *colHeap) len() int { return len(h.a) }

func (h *colHeap) less(i, j int) bool {
	return h.a[i].n < h.a[j].n || h.a[i].n == h.a[j].n && h.a[i].col < h.a[j].col
}

func (h *colHeap) push(c colCount) {
	h.a = append(h.a, c)
	for i := len(h.a) - 1; i > 0; {
		up := (i - 1) / 2
		if !h.less(i, up) {
			break
		}
		h.a[i], h.a[up] = h.a[up], h.a[i]
		i = up
	}
}

func (h *colHeap) pop() colCount {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.less(l, m) {
			m = l
		}
		if r < len(h.a) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return top
}
