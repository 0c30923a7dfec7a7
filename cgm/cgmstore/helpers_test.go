package cgmstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
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
// compare the database before and after an operation; readings in either
// form (plain or compact) are written alike, so that moving a day between
// forms is no change.
func snapshot(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var out []string
	rows, _ := pool.Query(context.Background(), "SELECT patient_id, kind, day, data FROM readings_compact")
	var (
		pid  int32
		kind int16
		day  time.Time
		data []byte
		rs   = []string{} // non-nil: sorted with the plain readings
	)
	_, err := pgx.ForEachRow(rows, []any{&pid, &kind, &day, &data}, func() error {
		dec, err := decodeCompact(nil, day, kind, data)
		for _, r := range dec {
			rs = append(rs, fmt.Sprintf("%s %d %d %d", time.UnixMicro(r.us).UTC().Format("2006-01-02 15:04:05.999999+00"), pid, r.value, r.meta))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT format('%s+00 %s %s %s', measured_at AT TIME ZONE 'UTC', patient_id, value, meta) FROM readings ORDER BY 1",
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
		if rs != nil { // after the plain readings: all readings, in one order
			out = append(out, rs...)
			slices.Sort(out)
			rs = nil
		}
	}
	return out
}

// The forms of readings a test runs on: as ingested, and compacted
// (settle) after each write, so that reads and writes are shown to give
// the same results on both.
var forms = []string{"plain", "compact"}

// settle compacts every reading of the store when form is "compact" (on
// native partitions; on TimescaleDB CompactHistory does nothing and the
// form is plain), and checks that none is left plain.
func settle(t *testing.T, s *Store, pool *pgxpool.Pool, form string) {
	t.Helper()
	if form != "compact" {
		return
	}
	res, err := s.CompactHistory(context.Background(), time.Now().Add(72*time.Hour))
	if err != nil {
		t.Fatalf("CompactHistory: %v", err)
	}
	if res.Storage == "native partitions" {
		if n := count(t, pool, "SELECT count(*) FROM readings"); n != 0 {
			t.Fatalf("%d readings left plain after compacting everything", n)
		}
	}
	checkForms(t, pool)
}

// checkForms fails the test if a patient's kind and UTC day is stored in
// both forms, or if reading_coverage disagrees with what is stored.
func checkForms(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if n := count(t, pool, `SELECT count(*) FROM readings_compact c WHERE EXISTS (
			SELECT 1 FROM readings r WHERE r.patient_id = c.patient_id AND (r.meta & 7) = c.kind
				AND r.measured_at >= c.day::timestamp AT TIME ZONE 'UTC'
				AND r.measured_at < (c.day + 1)::timestamp AT TIME ZONE 'UTC')`); n != 0 {
		t.Errorf("%d compact days also have plain readings", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM (
			SELECT patient_id, kind, first_at, last_at, readings FROM reading_coverage
			EXCEPT
			SELECT patient_id, kind, min(first_at), max(last_at), sum(n) FROM (
				SELECT patient_id, (meta & 7) AS kind, min(measured_at) AS first_at, max(measured_at) AS last_at, count(*) AS n
				FROM readings GROUP BY 1, 2
				UNION ALL
				SELECT patient_id, kind, min(first_at), max(last_at), sum(n) FROM readings_compact GROUP BY 1, 2
			) u GROUP BY 1, 2) x`); n != 0 {
		t.Errorf("%d coverage rows disagree with the stored readings", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM reading_coverage c WHERE EXISTS (
			SELECT 1 FROM readings r WHERE r.patient_id = c.patient_id AND (r.meta & 7) = c.kind
				AND r.measured_at < coalesce(c.plain_from, c.first_at))`); n != 0 {
		t.Errorf("%d coverage rows have plain readings before their plain_from", n)
	}
}
