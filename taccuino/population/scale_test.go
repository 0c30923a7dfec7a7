package population

import (
	"context"
	"fmt"
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
// 14 and 90 days by every breakdown, a month by the totals) are built, and
// no published count is between 1 and k−1.
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
