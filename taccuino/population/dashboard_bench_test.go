package population

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
)

// regionDashboard builds the region's 14-day dashboard of 13,200 seeded
// patients in twelve centres, with a trend of 24 months.
func regionDashboard(b *testing.B) Dashboard {
	ctx := context.Background()
	pool := dbtest.Pool(b)
	last := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	periods := []Period{{Kind: Days14, First: last.AddDate(0, 0, -13), Last: last},
		{Kind: Month, First: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Last: last}}
	seedRegion(b, pool, 13200, 12, periods)
	var rels []built
	for _, p := range periods {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			tables, _, err := buildRelease(ctx, tx, p, DefaultK, last.Add(30*time.Hour))
			rels = append(rels, built{p: p, tables: tables})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range 23 {
		rels = append(rels, rels[1])
	}
	for _, d := range dashboards(rels, DefaultK, last) {
		if d.Scope == ScopeRegion {
			return d
		}
	}
	b.Fatal("no region dashboard")
	return Dashboard{}
}

// BenchmarkDashboardDecode: decoding the region's stored dashboard, the
// part of Reader.Dashboard that grows with the breakdowns.
func BenchmarkDashboardDecode(b *testing.B) {
	d := regionDashboard(b)
	js, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	bin := encodeDashboard(d)
	b.Logf("%d bytes of JSON, %d of the stored form", len(js), len(bin))
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var x Dashboard
			if err := json.Unmarshal(js, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stored", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeDashboard(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}
