package consent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// regionPatients is the size of the Tuscan CGM population the clinic list
// must serve.
const regionPatients = 13200

// seedRegion loads regionPatients patients, 90% of them with consent; every
// ninth is a patient of cfMMG, and all are patients of the centre "ORG".
// Other MMGs get the rest, so the MMG index range is realistic.
func seedRegion(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	var patients, consents, cares [][]any
	now := time.Now().UTC()
	for i := range regionPatients {
		n := i
		name := make([]byte, 6)
		for k := range name {
			name[k] = byte('A' + n%26)
			n /= 26
		}
		cf := makeCF(string(name), 1940+i%80, time.Month(1+i%12), 1+i%28, i%2 == 0)
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		patients = append(patients, []any{hex.EncodeToString(id), cf})
		if i%10 != 0 {
			consents = append(consents, []any{int32(i + 1), true, now})
		}
		mmg := makeCF("MMGXXX", 1960, time.January, 1+i%9, false)
		if i%9 == 0 {
			mmg = cfMMG
		}
		cares = append(cares, []any{cf, "mmg", mmg, now}, []any{cf, "diabetology", "ORG", now})
	}
	copyIn := func(table string, cols []string, rows [][]any) {
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			b.Fatalf("load %s: %v", table, err)
		}
	}
	copyIn("patients", []string{"public_id", "fiscal_code"}, patients)
	copyIn("third_party_consents", []string{"patient_id", "granted", "changed_at"}, consents)
	copyIn("care_relationships", []string{"patient_fiscal_code", "kind", "party", "updated_at"}, cares)
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVisiblePatients measures the clinic list at regional size, and
// reports its time as a ratio to a baseline measured in the same run:
// reading all 13,200 patient ids (SELECT id FROM patients ORDER BY id).
func BenchmarkVisiblePatients(b *testing.B) {
	pool := dbtest.Pool(b)
	seedRegion(b, pool)
	s := New(pool, Options{})
	ctx := context.Background()

	baseline := func() time.Duration {
		const runs = 31
		ds := make([]time.Duration, runs)
		for i := range ds {
			t0 := time.Now()
			rows, _ := pool.Query(ctx, `SELECT id FROM patients ORDER BY id`)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil || len(ids) != regionPatients {
				b.Fatalf("baseline: %d ids, %v", len(ids), err)
			}
			ds[i] = time.Since(t0)
		}
		slices.Sort(ds)
		return ds[runs/2]
	}

	for _, tc := range []struct {
		name  string
		actor Actor
		want  int
	}{
		{"mmg", practitioner(cfMMG, auth.PractitionerMMG, ""), 1320},                        // every 9th, 90% consenting
		{"centre", practitioner(cfDiabetolo, auth.PractitionerDiabetologist, "ORG"), 11880}, // all, 90% consenting
	} {
		b.Run(tc.name, func(b *testing.B) {
			ids, err := s.VisiblePatients(ctx, tc.actor)
			if err != nil || len(ids) != tc.want {
				b.Fatalf("VisiblePatients = %d ids, %v; want %d", len(ids), err, tc.want)
			}
			base := baseline()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.VisiblePatients(ctx, tc.actor); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perOp)/float64(base), "x_all_ids")
			b.ReportMetric(float64(base.Microseconds()), "baseline_us")
		})
	}
}

// BenchmarkAccess measures the gate of every read: facts, decision, log
// entry and commit for a diabetologist's read, as a ratio to a baseline
// measured in the same run: a transaction that inserts one access-log row.
func BenchmarkAccess(b *testing.B) {
	pool := dbtest.Pool(b)
	seedRegion(b, pool)
	s := New(pool, Options{})
	ctx := context.Background()
	a := practitioner(cfDiabetolo, auth.PractitionerDiabetologist, "ORG")
	e := entry{patientID: 2, at: time.Now(), actor: a, action: ActReadData, outcome: OutcomeAllowed, reason: ReasonAllowed}
	const runs = 201
	ds := make([]time.Duration, runs)
	for i := range ds {
		t0 := time.Now()
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return writeEntry(ctx, tx, e) }); err != nil {
			b.Fatal(err)
		}
		ds[i] = time.Since(t0)
	}
	slices.Sort(ds)
	base := ds[runs/2]
	b.ResetTimer()
	i := 0
	for b.Loop() {
		pid := int64(2 + i%(regionPatients-1))
		if pid%10 == 1 {
			pid++ // no consent
		}
		i++
		if err := s.Access(ctx, a, pid, ActReadData, fmt.Sprintf("bench %d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed()/time.Duration(b.N))/float64(base), "x_log_insert_tx")
	b.ReportMetric(float64(base.Microseconds()), "baseline_us")
}
