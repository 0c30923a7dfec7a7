package pgbin_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"fsecgm/internal/pgbin"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestRowAgainstScan decodes values of every type that PostgreSQL sent in
// binary format and compares them with what pgx's Scan makes of the same
// values: limits, dates and times before and after the epoch, a float's
// last digit, NULL; and checks the errors of infinite and misshapen values.
func TestRowAgainstScan(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	cases := []struct {
		name string
		sql  string
	}{
		{"values", `SELECT 32767::int2, (-2147483648)::int4, (0.1 + 0.2)::float8, true, 'Niccolò 🩸'::text,
			'1999-12-31'::date, '2000-01-01 00:00:00.000001+00'::timestamptz, '{"a": 1}'::json`},
		{"more values", `SELECT (-32768)::int2, 2147483647::int4, (-0.0)::float8, false, ''::text,
			'2028-02-29'::date, '1969-07-20 20:17:40.123456+00'::timestamptz, '[]'::json`},
		{"infinities", `SELECT 0::int2, 0::int4, 'Infinity'::float8, true, 'x'::text,
			'2026-03-29'::date, '2026-03-29 01:30:00+02'::timestamptz, 'null'::json`},
	}
	oids := []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Float8OID, pgtype.BoolOID, pgtype.TextOID,
		pgtype.DateOID, pgtype.TimestamptzOID, pgtype.JSONOID}
	for _, c := range cases {
		rows, err := pool.Query(ctx, c.sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("%s: no row: %v", c.name, rows.Err())
		}
		if !pgbin.Is(rows.FieldDescriptions(), oids...) {
			t.Fatalf("%s: not the binary columns %v: %+v", c.name, oids, rows.FieldDescriptions())
		}
		var r pgbin.Row
		r.Reset(rows.RawValues())
		var (
			i2    int16
			i4    int32
			f8    float64
			b     bool
			s     string
			d, ts time.Time
			j     []byte
		)
		if err := rows.Scan(&i2, &i4, &f8, &b, &s, &d, &ts, &j); err != nil {
			t.Fatal(err)
		}
		got := []any{r.Int2(0), r.Int4(1), r.Float8(2), r.Bool(3), r.Text(4), r.Date(5), r.Time(6), string(r.Bytes(7))}
		want := []any{i2, i4, f8, b, s, d, ts, string(j)}
		for k := range got {
			if gt, ok := got[k].(time.Time); ok {
				if wt := want[k].(time.Time); !gt.Equal(wt) || gt.Location() != wt.Location() {
					t.Errorf("%s: column %d = %v, want %v", c.name, k+1, gt, wt)
				}
			} else if gf, ok := got[k].(float64); ok {
				if math.Float64bits(gf) != math.Float64bits(want[k].(float64)) {
					t.Errorf("%s: column %d = %v, want %v", c.name, k+1, gf, want[k])
				}
			} else if got[k] != want[k] {
				t.Errorf("%s: column %d = %v, want %v", c.name, k+1, got[k], want[k])
			}
		}
		if r.Err() != nil || r.Null(0) {
			t.Errorf("%s: Err %v, Null %v", c.name, r.Err(), r.Null(0))
		}
		rows.Close()
	}
	// A column in text format that has another binary form.
	fds := []pgconn.FieldDescription{{DataTypeOID: pgtype.Int4OID, Format: pgx.TextFormatCode}}
	if pgbin.Is(fds, pgtype.Int4OID) {
		t.Error("Is accepts an int4 in text format")
	}

	// NULL, and the errors: an infinite date or time, a value of the
	// wrong size.
	rows, err := pool.Query(ctx, `SELECT NULL::int4, 'infinity'::date, '-infinity'::timestamptz`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	var r pgbin.Row
	r.Reset(rows.RawValues())
	if !r.Null(0) || r.Null(1) {
		t.Errorf("Null = %v, %v; want true, false", r.Null(0), r.Null(1))
	}
	if d := r.Date(1); !d.IsZero() || r.Err() == nil || !strings.Contains(r.Err().Error(), "column 2: infinite date") {
		t.Errorf("infinite date: %v, %v", d, r.Err())
	}
	r.Reset(rows.RawValues())
	if ts := r.Time(2); !ts.IsZero() || r.Err() == nil || !strings.Contains(r.Err().Error(), "column 3: infinite timestamptz") {
		t.Errorf("infinite time: %v, %v", ts, r.Err())
	}
	r.Reset([][]byte{{1, 2, 3}, {0, 1}})
	if v := r.Int4(0); v != 0 || r.Err() == nil || r.Err().Error() != "column 1: int4 of 3 bytes, want 4" {
		t.Errorf("a misshapen int4: %v, %v", v, r.Err())
	}
	if r.Int2(1); r.Err().Error() != "column 1: int4 of 3 bytes, want 4" {
		t.Errorf("Err = %v, want the first error kept", r.Err())
	}
	if pgbin.Is(rows.FieldDescriptions(), pgtype.Int4OID, pgtype.DateOID) {
		t.Error("Is accepts two OIDs for three columns")
	}
}
