package fileimport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is a store on a fresh database.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *cgmstore.Store
}

func newEnv(t *testing.T) *env {
	te := testenv.New(t)
	return &env{t: t, pool: te.Pool, store: te.Store}
}

// patient stores a patient whose fiscal code derives from the given names
// and date of birth, with those names recorded as the FSE holds them.
func (e *env) patient(given, family string, born time.Time, female bool) cgmstore.Patient {
	e.t.Helper()
	ctx := context.Background()
	cf, ok := codicefiscale.Derive(codicefiscale.Person{Surname: family, GivenName: given, Birth: born, Female: female, Place: "D612"})
	if !ok {
		e.t.Fatalf("no fiscal code for %s %s", given, family)
	}
	p, _, err := e.store.EnsurePatient(ctx, cf, "Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	p.GivenName, p.FamilyName, p.BirthDate = given, family, born
	if p, err = e.store.UpdatePatient(ctx, p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// imp imports f for p in a transaction of its own.
func (e *env) imp(p cgmstore.Patient, f *File, o ImportOptions) (Result, error) {
	var res Result
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		res, err = Import(context.Background(), tx, e.store, p, f, o)
		return err
	})
	return res, err
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestImportChunks: a file written in many small chunks gives the same
// counts and readings as one batch; a bad reading refuses the whole file
// unless SkipInvalid; importing again changes nothing; the store marks the
// patient's summaries dirty from the first reading.
func TestImportChunks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC) // crosses a month
	var b strings.Builder
	b.WriteString("id,time,gl\n")
	for i := range 400 {
		fmt.Fprintf(&b, "p,%s,%d\n", start.Add(time.Duration(i)*15*time.Minute).Format(time.RFC3339), 60+i%300)
	}
	f, err := Parse("f.csv", []byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	born := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	one, chunked := e.patient("Mario", "Rossi", born, false), e.patient("Maria", "Rossi", born, true)
	r1, err := e.imp(one, f, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.imp(chunked, f, ImportOptions{Chunk: 7})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Inserted != 400 || fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Fatalf("one batch %+v, chunks %+v; want 400 inserted, alike", r1, r2)
	}
	if n := e.count(`SELECT count(*) FROM patient_metrics_dirty WHERE patient_id = $1 AND since = $2`, chunked.ID, start); n != 1 {
		t.Errorf("the patient's summaries are not marked dirty from the first reading")
	}
	r3, err := e.imp(chunked, f, ImportOptions{Chunk: 7})
	if err != nil || r3.Inserted != 0 || r3.Revised != 0 || r3.Duplicate != 400 {
		t.Errorf("re-import = %+v, %v; want every reading a duplicate", r3, err)
	}

	// A reading in the future and a parser rejection: nothing is written.
	bad := strings.Replace(b.String(), "id,time,gl\n", "id,time,gl\np,"+time.Now().Add(72*time.Hour).UTC().Format(time.RFC3339)+",100\np,yesterday,100\n", 1)
	fb, err := Parse("bad.csv", []byte(bad), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := e.patient("Luca", "Verdi", born, false)
	_, err = e.imp(fresh, fb, ImportOptions{Chunk: 7})
	var re *RejectedError
	if !errors.As(err, &re) || len(re.Lines) != 2 || !errors.Is(err, ErrInvalid) || re.Lines[0].Line != 2 || re.Lines[1].Line != 3 {
		t.Fatalf("import of a bad file = %v, want a RejectedError of lines 2 and 3", err)
	}
	if n := e.count(`SELECT count(*) FROM readings WHERE patient_id = $1`, fresh.ID); n != 0 {
		t.Errorf("%d readings written by a refused import", n)
	}
	r4, err := e.imp(fresh, fb, ImportOptions{Chunk: 7, SkipInvalid: true})
	if err != nil || r4.Rejected != 2 || r4.Inserted != 400 || len(r4.Rejections) != 2 {
		t.Errorf("import with SkipInvalid = %+v, %v", r4, err)
	}
	// Several subjects, and nothing to import.
	two, _ := Parse("two.csv", []byte("id,time,gl\nA,2026-01-01T00:00:00Z,100\nB,2026-01-01T00:00:00Z,100\n"), Options{})
	if _, err := e.imp(fresh, two, ImportOptions{}); !errors.Is(err, ErrSubjects) {
		t.Errorf("two subjects: %v", err)
	}
	empty, _ := Parse("empty.csv", []byte("id,time,gl\n"), Options{})
	if _, err := e.imp(fresh, empty, ImportOptions{}); !errors.Is(err, ErrNoReadings) {
		t.Errorf("no readings: %v", err)
	}
}

// TestImportPerson: a file that names someone else is refused, naming
// them, and stores nothing; the same file imports for the person it names;
// a placeholder name matches nobody.
func TestImportPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := readFixture(t, "..", "clarity", "testdata", "g7_mmol_gap.csv") // Marco Rossi, born 1 January 1980
	f, err := Parse("clarity.csv", data, Options{Location: rome(t)})
	if err != nil {
		t.Fatal(err)
	}
	other := e.patient("Giulia", "Bianchi", time.Date(2014, 4, 5, 0, 0, 0, 0, time.UTC), true)
	_, err = e.imp(other, f, ImportOptions{SkipInvalid: true})
	var pe *PersonError
	if !errors.As(err, &pe) || pe.Person.String() != "Marco Rossi" || pe.Line != 2 || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "Marco Rossi") {
		t.Fatalf("import for another person = %v, want a PersonError naming Marco Rossi", err)
	}
	if n := e.count(`SELECT count(*) FROM readings WHERE patient_id = $1`, other.ID); n != 0 {
		t.Errorf("%d readings stored for another person", n)
	}
	marco := e.patient("Marco", "Rossi", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), false)
	if res, err := e.imp(marco, f, ImportOptions{SkipInvalid: true}); err != nil || res.Inserted != len(f.Subjects[0].Readings) {
		t.Errorf("import for the person named = %+v, %v", res, err)
	}
	// Born another day: the date of birth the file gives must agree.
	marco2 := e.patient("Marco", "Rossi", time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC), false)
	if _, err := e.imp(marco2, f, ImportOptions{SkipInvalid: true}); !errors.As(err, &pe) || pe.Failed != "birth_date" {
		t.Errorf("another Marco Rossi: %v, want a birth date mismatch", err)
	}
	// A placeholder is a name like any other.
	anon := strings.NewReplacer("Marco", "Anonymised", "Rossi", "Anonymised").Replace(string(data))
	fa, err := Parse("anon.csv", []byte(anon), Options{Location: rome(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.imp(marco, fa, ImportOptions{SkipInvalid: true}); !errors.As(err, &pe) || pe.Person.String() != "Anonymised Anonymised" {
		t.Errorf("an anonymised file for Marco Rossi: %v, want a PersonError", err)
	}
}

// TestStoredRange checks what cgmstore marks dirty after a file import
// whose first rows are already stored: from the first new reading, not
// from the file's first row (connsync used to mark from the batch's
// first reading).
func TestStoredRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient("Anna", "Neri", time.Date(1975, 3, 15, 0, 0, 0, 0, time.UTC), true)
	day := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	csv := func(n int) []byte {
		var b strings.Builder
		b.WriteString("id,time,gl\n")
		for i := range n {
			fmt.Fprintf(&b, "p,%s,%d\n", day.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), 100+i)
		}
		return []byte(b.String())
	}
	f1, _ := Parse("a.csv", csv(3), Options{})
	if _, err := e.imp(p, f1, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(context.Background(), `DELETE FROM patient_metrics_dirty`); err != nil {
		t.Fatal(err)
	}
	f2, _ := Parse("b.csv", csv(5), Options{})
	if _, err := e.imp(p, f2, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var since time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT since FROM patient_metrics_dirty WHERE patient_id = $1`, p.ID).Scan(&since); err != nil {
		t.Fatal(err)
	}
	if want := day.Add(3 * time.Hour); !since.Equal(want) {
		t.Errorf("dirty since %v, want %v (the first new reading)", since.UTC(), want)
	}
}

// kindStats are a kind's count and mean.
type kindStats struct {
	N    int
	Mean float64
}

// storedStats reads a patient's stored readings back and sums them per
// kind.
func (e *env) storedStats(p cgmstore.Patient) map[cgm.Kind]kindStats {
	e.t.Helper()
	rs, err := e.store.Readings(context.Background(), p.ID, time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(48*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	sum := map[cgm.Kind]float64{}
	out := map[cgm.Kind]kindStats{}
	for _, r := range rs {
		s := out[r.Kind]
		s.N++
		out[r.Kind] = s
		sum[r.Kind] += r.Value
	}
	for k, s := range out {
		s.Mean = sum[k] / float64(s.N)
		out[k] = s
	}
	return out
}

// approx compares counts exactly and means to 1e-9 relative.
var approx = cmp.Comparer(func(a, b kindStats) bool {
	d := a.Mean - b.Mean
	if d < 0 {
		d = -d
	}
	return a.N == b.N && d <= 1e-9*max(1, a.Mean)
})
