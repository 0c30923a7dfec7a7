package connsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testEnv is a database, a store, a fake LibreLinkUp with a settable
// clock, and a Syncer on them.
type testEnv struct {
	t        *testing.T
	pool     *pgxpool.Pool
	store    *cgmstore.Store
	fake     *librelinkuptest.Server
	clock    *librelinkuptest.Clock
	syncer   *Syncer
	logs     *testenv.Logs
	accounts []librelinkuptest.Account
	keys     *Keyring
}

// testKey returns a fixed test key (n selects one of several).
func testKey(n byte) []byte { return bytes.Repeat([]byte{n}, KeySize) }

// newEnv builds a testEnv with patients simulated patients (each with its
// own account) and followers follower accounts sharing them.
func newEnv(t *testing.T, patients, followers int, mod func(*Config)) *testEnv {
	t.Helper()
	te := testenv.New(t)
	e := &testEnv{t: t, pool: te.Pool, store: te.Store, logs: te.Logs}
	e.clock = librelinkuptest.NewClock(time.Now().Add(-36 * time.Hour).Truncate(time.Minute))
	e.fake = librelinkuptest.New(librelinkuptest.Options{Now: e.clock.Now})
	var err error
	if e.accounts, err = e.fake.Populate(7, patients, followers, "eu"); err != nil {
		t.Fatal(err)
	}
	url := e.fake.Start()
	t.Cleanup(e.fake.Close)
	if e.keys, err = NewKeyring(testKey(1)); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Pool: e.pool, Store: e.store, Keys: e.keys, Logger: te.Logger, Replica: "test-a",
		LibreLinkUp: librelinkup.Config{BaseURL: url, Now: e.clock.Now, HTTPClient: librelinkup.NewHTTPClient(2 * time.Second)},
		Interval:    time.Minute, LeaseTTL: 30 * time.Second, Workers: 4, LibreLinkUpBudget: testBudget,
	}
	if mod != nil {
		mod(&cfg)
	}
	if e.syncer, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// fiscalCode returns the n-th (0-999) of a family of valid codes.
func fiscalCode(n int) string {
	return codicefiscale.Complete(fmt.Sprintf("RSSMRA80A01H%03d", n))
}

// fiscalCodeOf returns the fiscal code of patient n: that of the person
// fake account n follows (derived from their names, so that the identity
// check of the binding holds); for n beyond the patient accounts, a code
// that agrees with no account.
func (e *testEnv) fiscalCodeOf(n int) string {
	if n < len(e.accounts) && e.accounts[n].FiscalCode != "" {
		return e.accounts[n].FiscalCode
	}
	return fiscalCode(n)
}

// patient stores patient n with the names of fake account n.
func (e *testEnv) patient(n int) cgmstore.Patient {
	e.t.Helper()
	ctx := context.Background()
	p, _, err := e.store.EnsurePatient(ctx, e.fiscalCodeOf(n), "Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	if n < len(e.accounts) {
		p.GivenName, p.FamilyName = e.accounts[n].FirstName, e.accounts[n].LastName
		if p, err = e.store.UpdatePatient(ctx, p); err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

// tx runs fn in a transaction that commits when fn returns nil.
func (e *testEnv) tx(fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(context.Background(), e.pool, fn)
}

// connect connects patient n with fake account n's credentials.
func (e *testEnv) connect(n int) (cgmstore.Patient, Connection) {
	e.t.Helper()
	p := e.patient(n)
	var c Connection
	err := e.tx(func(tx pgx.Tx) error {
		var err error
		c, err = e.syncer.Connect(context.Background(), tx, p.ID, ConnectRequest{Email: e.accounts[n].Email, Password: e.accounts[n].Password})
		return err
	})
	if err != nil {
		e.t.Fatalf("Connect: %v", err)
	}
	return p, c
}

// due makes every connection and follower list due now (time passing).
func (e *testEnv) due() {
	e.t.Helper()
	e.exec(`UPDATE sync_connections SET next_sync_at = now() - interval '1 ms' WHERE state <> 'disconnected'`)
	e.exec(`UPDATE llu_accounts SET next_list_at = now() - interval '1 ms' WHERE kind = 'follower'`)
}

// unblock ends every account block (its wait has passed).
func (e *testEnv) unblock() {
	e.t.Helper()
	e.exec(`UPDATE llu_accounts SET blocked_until = NULL`)
	e.exec(`UPDATE sync_budgets SET blocked_until = NULL, tokens = burst, rate = max_rate`)
	e.exec(`UPDATE sync_connections SET next_sync_at = now() - interval '1 ms' WHERE state = 'backing_off'`)
}

func (e *testEnv) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

func (e *testEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// syncDue runs SyncDue and fails the test on error.
func (e *testEnv) syncDue() TickStats {
	e.t.Helper()
	st, err := e.syncer.SyncDue(context.Background())
	if err != nil {
		e.t.Fatalf("SyncDue: %v", err)
	}
	return st
}

// conn returns a connection as the patient sees it.
func (e *testEnv) conn(p cgmstore.Patient, id string) Connection {
	e.t.Helper()
	c, err := e.syncer.Connection(context.Background(), e.pool, p.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// sim returns the simulator of fake account n's patient.
func (e *testEnv) sim(n int) *glucosim.Patient {
	e.t.Helper()
	fp, ok := e.fake.Patient(e.accounts[n].Follows[0])
	if !ok {
		e.t.Fatalf("no fake patient for account %d", n)
	}
	return fp.Sim
}

// historic returns the stored historic readings of a patient.
func (e *testEnv) historic(p cgmstore.Patient) cgm.Series {
	e.t.Helper()
	// Every series (cgmstore: a second source's readings in between are
	// a second series, which Readings leaves out).
	srs, err := e.store.SourcedReadings(context.Background(), p.ID, time.Unix(0, 0), time.Now().Add(48*time.Hour), cgm.Historic)
	if err != nil {
		e.t.Fatal(err)
	}
	rs := make(cgm.Series, len(srs))
	for i, r := range srs {
		rs[i] = r.Reading
	}
	return rs
}

// wantHistoric returns the simulator's historic points that the graphs
// served at the instants syncs (fake clock) cover: [first-12h,
// last-17m), as (time, mg/dL) pairs.
func wantHistoric(sim *glucosim.Patient, first, last time.Time) []string {
	var out []string
	for _, pt := range sim.Historic(first.Add(-librelinkuptest.DefaultGraphSpan), last.Add(-librelinkuptest.DefaultGraphLag)) {
		out = append(out, fmt.Sprintf("%s %d", pt.Time.UTC().Format(time.RFC3339), pt.MgDL))
	}
	return out
}

// gotHistoric formats stored readings as wantHistoric does.
func gotHistoric(rs cgm.Series) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %d", r.Time.UTC().Format(time.RFC3339), int(r.Value)))
	}
	return out
}

// readingsSnapshot returns every reading, revision and coverage row.
func (e *testEnv) readingsSnapshot() []string {
	e.t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT format('%s %s %s %s', measured_at, patient_id, value, meta) FROM readings ORDER BY 1",
		"SELECT format('%s %s %s', patient_id, measured_at, new_value) FROM reading_revisions ORDER BY id",
		"SELECT format('%s %s %s %s %s', patient_id, kind, first_at, last_at, readings) FROM reading_coverage ORDER BY 1",
	} {
		rows, _ := e.pool.Query(context.Background(), q)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, got...)
	}
	slices.Sort(out)
	return out
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
func errorsIs(err, target error) bool     { return errors.Is(err, target) }

// testBudget is the LibreLinkUp request budget of the tests that are not
// about the budget: far above what they send.
var testBudget = BudgetConfig{PerMinute: 600000, Burst: 10000}
