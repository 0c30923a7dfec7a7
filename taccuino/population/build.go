package population

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// loadGeography reads the ASLs and their zone-distretto (migration 00100),
// in code order.
func loadGeography(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (Geography, error) {
	g := Geography{ASLNames: map[string]string{}, DistrictASL: map[string]string{}, DistrictNames: map[string]string{}}
	rows, err := q.Query(ctx, `SELECT code, name FROM health_authorities ORDER BY code`)
	if err != nil {
		return g, err
	}
	var code, name, asl string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name}, func() error {
		g.ASLs = append(g.ASLs, code)
		g.ASLNames[code] = name
		return nil
	}); err != nil {
		return g, err
	}
	rows, err = q.Query(ctx, `SELECT code, name, authority FROM health_districts ORDER BY authority, code`)
	if err != nil {
		return g, err
	}
	_, err = pgx.ForEachRow(rows, []any{&code, &name, &asl}, func() error {
		g.Districts = append(g.Districts, code)
		g.DistrictNames[code] = name
		g.DistrictASL[code] = asl
		return nil
	})
	return g, err
}

// buildRelease computes the release of period p from the pseudonymised
// tables in tx (population_members, population_periods), suppresses its
// small cells and their complements with threshold k, and replaces the
// period's release (population_releases, population_cells). The 14 and 90
// days are published by every breakdown; the months by the totals (the
// region by ASL and by centre, each ASL and centre alone), the trends'
// points.
func buildRelease(ctx context.Context, tx pgx.Tx, p Period, k int, now time.Time) ([]Table, Suppression, error) {
	geo, err := loadGeography(ctx, tx)
	if err != nil {
		return nil, Suppression{}, fmt.Errorf("geography: %w", err)
	}
	var centres []string
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}')
		FROM population_members m, unnest(m.centres) c`).Scan(&centres); err != nil {
		return nil, Suppression{}, fmt.Errorf("centres: %w", err)
	}
	f := &family{geo: geo, centres: centres, full: p.Kind != Month, cells: map[key]*cell{}}
	if err := f.compute(ctx, tx, p.Kind, p.First); err != nil {
		return nil, Suppression{}, err
	}
	f.ensure()
	f.complements()
	tables, s, err := f.tables(k)
	if err != nil {
		return nil, s, err
	}
	var members int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM population_periods WHERE kind = $1 AND start = $2`,
		int16(p.Kind), civilDate(p.First)).Scan(&members); err != nil {
		return nil, s, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM population_releases WHERE kind = $1 AND start = $2`, int16(p.Kind), civilDate(p.First)); err != nil {
		return nil, s, err
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO population_releases (kind, start, last, k, members, built_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		int16(p.Kind), civilDate(p.First), civilDate(p.Last), k, members, now).Scan(&id); err != nil {
		return nil, s, err
	}
	var rows [][]any
	for _, t := range tables {
		for _, r := range t.Rows {
			js, err := figuresJSON(r)
			if err != nil {
				return nil, s, err
			}
			rows = append(rows, []any{id, string(t.Scope), string(t.Dim), r.Key, js})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"population_cells"}, []string{"release_id", "scope", "dim", "key", "figures"},
		pgx.CopyFromRows(rows)); err != nil {
		return nil, s, err
	}
	return tables, s, nil
}
