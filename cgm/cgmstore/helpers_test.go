package cgmstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// newStore returns a store on a fresh migrated database.
func newStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.Pool(t)
	return New(pool, Options{}), pool
}

// fiscalCode returns the n-th (0-999) of a family of valid codes.
func fiscalCode(n int) string {
	return codicefiscale.Complete(fmt.Sprintf("RSSMRA80A01H%03d", n))
}

// newPatient stores a patient and returns its internal key.
func newPatient(t *testing.T, s *Store, n int) int64 {
	t.Helper()
	p, _, err := s.EnsurePatient(context.Background(), fiscalCode(n), "Europe/Rome")
	if err != nil {
		t.Fatalf("EnsurePatient: %v", err)
	}
	return p.ID
}

// historic returns n historic mg/dL readings every step from start, with
// values cycling through 70.0 … 199.9 in tenths.
func historic(start time.Time, step time.Duration, n int, device string) []cgm.Reading {
	rs := make([]cgm.Reading, n)
	for i := range rs {
		rs[i] = cgm.Reading{Time: start.Add(time.Duration(i) * step), Value: float64(700+(i*37)%1300) / 10,
			Unit: cgm.MgDL, Kind: cgm.Historic, Device: device}
	}
	return rs
}

// count returns the number of rows a query counts.
func count(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// snapshot returns every row the ingestion path writes, as text, to
// compare the database before and after an operation.
func snapshot(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT format('%s %s %s %s', measured_at, patient_id, value, meta) FROM readings ORDER BY 1",
		"SELECT format('%s %s %s %s %s %s %s', patient_id, measured_at, kind, old_value, old_meta, new_value, new_meta) FROM reading_revisions ORDER BY id",
		"SELECT format('%s %s %s %s %s', patient_id, kind, first_at, last_at, readings) FROM reading_coverage ORDER BY 1",
		"SELECT format('%s %s %s %s %s %s %s', patient_id, serial, model, source, activated_at, first_seen, last_seen) FROM devices ORDER BY 1",
	} {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
