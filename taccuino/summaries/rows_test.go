package summaries

import (
	"context"
	"testing"
	"time"

	"fsecgm/internal/pgbin"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestRowsFormats reads the clinic list's rows (a patient with a name, a
// birth date and two periods of figures, one with figures of an ended
// period, one without any summary) in the three query modes: decoded from
// binary (pgbin) they equal pgx's Scan of the text format, figures decoded
// or kept as stored; and the statement's columns are the binary ones
// rowColumns names (else every page would take the slow path).
func TestRowsFormats(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now})
	if _, err := u.UpdateDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	none, _, err := e.store.EnsurePatient(ctx, fiscalCode(7), "Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE patients SET given_name = 'Niccolò', family_name = 'D''Àvila', birth_date = '1961-02-28'
		WHERE id = $1`, e.ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE patient_summaries SET stale_after = $2, tir_delta = NULL WHERE patient_id = $1`,
		e.ids[1], e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	ids := []any{int32s([]int64{e.ids[1], none.ID, e.ids[0]})}
	now := e.clock.Now()

	read := func(mode pgx.QueryExecMode, decode bool) []Row {
		t.Helper()
		cfg := e.pool.Config().Copy()
		cfg.ConnConfig.DefaultQueryExecMode = mode
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		got, err := rows(ctx, pool, "", ids, now, decode)
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		return got
	}
	for _, decode := range []bool{true, false} {
		want := read(pgx.QueryExecModeSimpleProtocol, decode) // text: Scan
		if len(want) != 3 || want[0].PatientID != e.ids[1] || !want[0].Stale || want[1].HasSummary || !want[2].HasSummary ||
			want[2].GivenName != "Niccolò" || want[2].BirthDate.IsZero() || want[2].PeriodStart == "" || want[2].TIRDelta == nil {
			t.Fatalf("decode %v: the rows do not hold the cases: %+v", decode, want)
		}
		if decode == (want[2].CurrentJSON != nil) || decode != (want[2].Current.Readings > 0) {
			t.Fatalf("decode %v: figures %+v, stored %s", decode, want[2].Current, want[2].CurrentJSON)
		}
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec} {
			if diff := gocmp.Diff(want, read(mode, decode)); diff != "" {
				t.Errorf("decode %v, mode %v: binary decoding differs from Scan (-scan +binary):\n%s", decode, mode, diff)
			}
		}
	}

	r, err := e.pool.Query(ctx, rowsSQL("", 2), ids[0], now)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !pgbin.Is(r.FieldDescriptions(), rowColumns...) {
		t.Errorf("the statement's columns are not rowColumns in binary: %+v", r.FieldDescriptions())
	}
}

// BenchmarkRows reads a page of 50 rows as the clinic list's API does
// (figures kept as stored) through pgx's Scan (the baseline) and through
// the binary decoding rows uses. The statement and its round trip are the
// same in both: compare the two ns/op and allocs/op.
func BenchmarkRows(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, 0)
	var page []int64
	for i := range 50 {
		p, _, err := e.store.EnsurePatient(ctx, fiscalCode(i), "Europe/Rome")
		if err != nil {
			b.Fatal(err)
		}
		page = append(page, p.ID)
	}
	doc := `{"readings":1344,"scans":0,"unit":"mg/dL","mean_glucose":{"mg_dl":151.5,"mmol_l":8.4},"sd_mg_dl":48.1,"cv_percent":31.7,` +
		`"gmi":{"percent":6.93,"mmol_per_mol":52.2},"time_in_ranges":{"very_low":0.5,"low":3.1,"target":68.2,"high":21.4,"very_high":6.8,` +
		`"tight":44.1},"gri":{"value":41.2,"zone":"C","hypo":4.05,"hyper":17.5},"active_percent":98.6,"days_worn":14,"days":14,"sufficient":true}`
	if _, err := e.pool.Exec(ctx, `INSERT INTO patient_summaries (patient_id, time_zone, period_start, period_end,
			stale_after, readings, active_percent, days_worn, sufficient, last_reading_at, category, severity, flags, figures_key, tir_delta)
		SELECT id, 'Europe/Rome', '2026-03-22', '2026-04-04', now() + interval '1 day', 1344, 98.6, 14, true, now(), 3, 2.5, 1, '', -1.5
		FROM unnest($1::int4[]) id`, int32s(page)); err != nil {
		b.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO patient_summary_figures SELECT id, $2, $2 FROM unnest($1::int4[]) id`,
		int32s(page), doc); err != nil {
		b.Fatal(err)
	}
	args := []any{int32s(page)}
	for _, bc := range []struct {
		name string
		raw  bool
	}{{"scan", false}, {"binary", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := readRows(ctx, e.pool, "", args, e.clock.Now(), false, bc.raw)
				if err != nil || len(got) != 50 || got[49].CurrentJSON == nil {
					b.Fatalf("%d rows, %v", len(got), err)
				}
			}
		})
	}
}
