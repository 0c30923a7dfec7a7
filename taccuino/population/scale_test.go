package population

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// seedRegion writes n members spread over every zona-distretto (and a few
// without a known residence), every age band, sex and diabetes type, and
// centres of all sizes (most members cared for by one of them, some by
// two, some by none), with figures over each period, straight into the
// pseudonymised tables (COPY), with a fixed seed.
func seedRegion(t testing.TB, pool *pgxpool.Pool, n, centres int, periods []Period) {
	seedRegionShaped(t, pool, n, centres, periods, false)
}

// seedRegionShaped is seedRegion; sparse shapes the population as make
// bench-clinic loads it: adult men only, no diabetes type recorded, nobody
// with sufficient data over 90 days, no readings in the months.
func seedRegionShaped(t testing.TB, pool *pgxpool.Pool, n, centres int, periods []Period, sparse bool) {
	t.Helper()
	ctx := context.Background()
	geo, err := loadGeography(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(19, 12))
	types := []string{"type1", "type1", "type2", "type2", "type2", "gestational", "other", ""}
	var members, rows [][]any
	for i := range n {
		ps := fmt.Sprintf("%032x", i+1)
		var asl, district any
		if rng.IntN(40) > 0 {
			d := geo.Districts[rng.IntN(len(geo.Districts))]
			asl, district = geo.DistrictASL[d], d
		}
		var cs []string
		// Centres of unequal sizes: centre j takes about 1/(j+2) of the rest.
		for j := range centres {
			if rng.IntN(j+2) == 0 {
				cs = append(cs, "CENTRO-"+strconv.Itoa(j+1))
				break
			}
		}
		if len(cs) == 1 && rng.IntN(15) == 0 {
			if c := "CENTRO-" + strconv.Itoa(1+rng.IntN(centres)); c != cs[0] {
				cs = append(cs, c)
			}
		}
		if cs == nil {
			cs = []string{}
		}
		sex := "F"
		if rng.IntN(2) == 0 {
			sex = "M"
		}
		age, dtype := AgeBands[rng.IntN(len(AgeBands))].Code, types[rng.IntN(len(types))]
		if sparse {
			age, dtype, sex = AgeBands[4+rng.IntN(4)].Code, "", "M"
		}
		members = append(members, []any{ps, asl, district, cs, age, sex, dtype, periods[0].First.AddDate(-1, 0, 0)})
		for _, p := range periods {
			readings, active := 1344, 50+rng.Float64()*50
			if rng.IntN(8) == 0 || sparse && p.Kind == Month {
				readings, active = 0, 0
			}
			if sparse && p.Kind == Days90 {
				active = active * 14 / 90
			}
			row := []any{int16(p.Kind), p.First, p.Last, ps, readings, 14, active, readings > 0 && active >= 70}
			if readings > 0 {
				tir := 30 + rng.Float64()*65
				tbr := rng.Float64() * 8
				tar := 100 - tir - tbr
				gri := rng.Float64() * 100
				row = append(row, tir, tbr, tbr*rng.Float64()/2, tar, tar/3, 6+rng.Float64()*3, 25+rng.Float64()*20, gri, int16(min(4, int(gri/20)))+1)
			} else {
				row = append(row, nil, nil, nil, nil, nil, nil, nil, nil, nil)
			}
			rows = append(rows, row)
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"population_members"},
		[]string{"pseudonym", "authority", "district", "centres", "age_band", "sex", "diabetes_type", "enrolled_on"}, pgx.CopyFromRows(members)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"population_periods"},
		[]string{"kind", "start", "last", "pseudonym", "readings", "days_worn", "active_percent", "sufficient",
			"tir", "tbr", "tbr54", "tar", "tar250", "gmi", "cv", "gri", "gri_zone"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseTwelveCentres: the releases of a region of 2,400 patients in
// twelve centres over every zona-distretto, age band, sex and type (the
// 14 and 90 days by every breakdown, a month by the totals) are built, no
// published count is between 1 and k−1, and (exactly, modulo a large
// prime) no suppressed count of the 14 days follows from the published
// ones.
func TestReleaseTwelveCentres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	n := 2400
	if s := os.Getenv("FSECGM_POPULATION_SCALE"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	last := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	periods := []Period{
		{Kind: Days14, First: last.AddDate(0, 0, -13), Last: last},
		{Kind: Days90, First: last.AddDate(0, 0, -89), Last: last},
		{Kind: Month, First: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Last: last},
	}
	seedRegionShaped(t, pool, n, 12, periods, os.Getenv("FSECGM_POPULATION_SHAPE") == "bench")
	for _, p := range periods {
		start := time.Now()
		var tables []Table
		var s Suppression
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			tables, s, err = buildRelease(ctx, tx, p, DefaultK, last.Add(30*time.Hour))
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", p.Kind, err)
		}
		primary := 0
		for _, x := range s.Primary {
			if x {
				primary++
			}
		}
		t.Logf("%s: %d cells, %d primary, %d complements, %d rounds, in %v", p.Kind, len(s.Suppressed), primary, s.Secondary, s.Rounds,
			time.Since(start).Round(time.Millisecond))
		if p.Kind == Days14 {
			checkExactModP(t, pool, p)
		}
		for _, tb := range tables {
			for _, r := range tb.Rows {
				for name, v := range publishedCounts(r) {
					if v != nil && *v > 0 && *v < DefaultK {
						t.Errorf("%s %s by %s, %q: %s = %d published", p.Kind, tb.Scope, tb.Dim, r.Key, name, *v)
					}
				}
			}
		}
	}
}

// modP is the prime 2⁶¹−1 of the exact check.
const modP = 1<<61 - 1

func mulMod(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi, lo, modP)
	return r
}

// invMod returns a⁻¹ mod modP (Fermat: a^(p−2)).
func invMod(a uint64) uint64 {
	r, e := uint64(1), uint64(modP-2)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulMod(r, a)
		}
		a = mulMod(a, a)
	}
	return r
}

// determinedModP returns the unknowns (suppressed counts) that the
// relations determine, by Gauss–Jordan elimination in exact arithmetic
// modulo a large prime, independent of determinedUnknowns' floating point:
// an unknown determined over the rationals is determined modulo p (unless
// p divides a denominator of the elimination, which for counts linked by
// sums with coefficients ±1 does not happen at these sizes), so none found
// here means none over the rationals.
func determinedModP(values []int, rels []Relation, supp []bool) []int {
	col := map[int]int{}
	var unknowns []int
	for i, s := range supp {
		if s {
			col[i] = len(unknowns)
			unknowns = append(unknowns, i)
		}
	}
	var rows []map[int]uint64
	add := func(row map[int]uint64, c int, v uint64) {
		row[c] = (row[c] + v) % modP
		if row[c] == 0 {
			delete(row, c)
		}
	}
	for _, r := range rels {
		row := map[int]uint64{}
		if supp[r.Total] {
			add(row, col[r.Total], 1)
		}
		for _, p := range r.Parts {
			if supp[p] {
				add(row, col[p], modP-1)
			}
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	at := make([]map[int]bool, len(unknowns))
	for j := range at {
		at[j] = map[int]bool{}
	}
	for i, row := range rows {
		for j := range row {
			at[j][i] = true
		}
	}
	used := make([]bool, len(rows))
	pivot := map[int]int{}
	for j := range unknowns {
		p := -1
		for i := range at[j] {
			if !used[i] && (p < 0 || len(rows[i]) < len(rows[p]) || len(rows[i]) == len(rows[p]) && i < p) {
				p = i
			}
		}
		if p < 0 {
			continue
		}
		inv := invMod(rows[p][j])
		for k, v := range rows[p] {
			rows[p][k] = mulMod(v, inv)
		}
		for i := range at[j] {
			if i == p {
				continue
			}
			f := rows[i][j]
			for k, v := range rows[p] {
				_, had := rows[i][k]
				add(rows[i], k, modP-mulMod(f, v))
				if _, has := rows[i][k]; has && !had {
					at[k][i] = true
				} else if !has && had && k != j {
					delete(at[k], i)
				}
			}
		}
		at[j] = map[int]bool{p: true}
		used[p] = true
		pivot[j] = p
	}
	var out []int
	for j, p := range pivot {
		if len(rows[p]) == 1 {
			out = append(out, unknowns[j])
		}
	}
	return out
}

// checkExactModP rebuilds the family of period p as buildRelease does and
// checks, modulo a large prime (determinedModP), that no sensitive
// suppressed count (primary, or hidden and small) follows from the
// published ones.
func checkExactModP(t *testing.T, pool *pgxpool.Pool, p Period) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		geo, err := loadGeography(ctx, tx)
		if err != nil {
			return err
		}
		var centres []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}') FROM population_members m, unnest(m.centres) c`).Scan(&centres); err != nil {
			return err
		}
		f := &family{geo: geo, centres: centres, full: p.Kind != Month, cells: map[key]*cell{}}
		if err := f.compute(ctx, tx, p.Kind, p.First); err != nil {
			return err
		}
		f.ensure()
		f.complements()
		_, values, rels, _, hidden, s, err := f.suppress(DefaultK)
		if err != nil {
			return err
		}
		n := 0
		for _, x := range determinedModP(values, rels, s.Suppressed) {
			if !hidden[x] || s.Primary[x] {
				t.Errorf("suppressed count %d (%d patients) follows from the published ones", x, values[x])
				n++
			}
		}
		t.Logf("exact check modulo 2^61-1: %d sensitive counts recoverable", n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
