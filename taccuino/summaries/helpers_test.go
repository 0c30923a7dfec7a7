package summaries

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/records"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fiscalCode returns the i-th of a family of valid codes.
func fiscalCode(i int) string {
	return codicefiscale.Complete(fmt.Sprintf("VRDLGU%02dA%02dH%03d", 50+i%50, 1+i%28, 100+i%900))
}

// env is a database with patients and readings.
type env struct {
	pool  *pgxpool.Pool
	store *cgmstore.Store
	clock *testenv.Clock
	te    *testenv.Env
	loc   *time.Location
	ids   []int64
}

// testNow is the clock of the tests: Sunday 5 April 2026, 10:00 in Rome;
// the current period is 22 March – 4 April (with the 23-hour 29 March).
func testNow(loc *time.Location) time.Time { return time.Date(2026, 4, 5, 10, 0, 0, 0, loc) }

// newEnv creates n patients in Europe/Rome with 40 days of simulated
// readings up to now (FreeStyle Libre 2 for even, Libre 3 for odd
// patients), ingested and marked dirty as the connectors do.
func newEnv(t testing.TB, n int) *env {
	t.Helper()
	ctx := context.Background()
	loc := mustZone(t, "Europe/Rome")
	te := testenv.New(t, testenv.WithClock(testNow(loc)))
	c := te.Clock
	e := &env{pool: te.Pool, store: te.Store, clock: c, loc: loc, te: te}
	if _, err := e.pool.Exec(ctx, `CREATE TABLE test_publications (patient_id int, at timestamptz DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p, _, err := e.store.EnsurePatient(ctx, fiscalCode(i), "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		e.ids = append(e.ids, p.ID)
		m := glucosim.Libre2
		if i%2 == 1 {
			m = glucosim.Libre3
		}
		rs := simSeries(uint64(100+i), m, loc, c.Now().AddDate(0, 0, -40), c.Now(), func(_ int, r *cgm.Reading) {
			r.Device = fmt.Sprintf("SIM%03d%06d", i, r.Time.Unix()/(14*86400))
		})
		e.ingest(t, p.ID, rs)
	}
	return e
}

// ingest stores readings in one transaction; the ingestion marks the
// patient dirty from the first new one.
func (e *env) ingest(t testing.TB, id int64, rs cgm.Series) {
	t.Helper()
	if len(rs) > 0 {
		e.te.Ingest(t, id, cgmstore.SourceSimulator, rs)
	}
}

func (e *env) count(t testing.TB, q string, args ...any) int {
	t.Helper()
	return e.te.Count(t, q, args...)
}

// fakePublisher records publications; it writes a row in the caller's
// transaction so that tests can see that the publication commits with it.
type fakePublisher struct {
	mu   sync.Mutex
	got  []records.Publication
	fail error
}

func (f *fakePublisher) PublishSummary(ctx context.Context, tx pgx.Tx, p records.Publication) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if !bytes.HasPrefix(p.PDF, []byte("%PDF-")) {
		return errors.New("not a PDF")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO test_publications (patient_id) VALUES ($1)`, p.PatientID); err != nil {
		return err
	}
	f.got = append(f.got, p)
	return nil
}

func (f *fakePublisher) calls() []records.Publication {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]records.Publication(nil), f.got...)
}
