package connsync

import (
	"context"
	"net/http"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/jackc/pgx/v5"
)

// TestRepeatedLockWaitsLonger: a LibreLinkUp account that is locked again
// after its lock ended waits twice as long each time (the lockout the
// server names, doubled per earlier lock), and a good login resets it.
func TestRepeatedLockWaitsLonger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	email := e.accounts[0].Email
	p, c := e.connect(0)
	e.syncDue()
	for i, want := range []time.Duration{300 * time.Second, 600 * time.Second, 1200 * time.Second} {
		must(t, e.fake.Lock(email, librelinkuptest.DefaultLockoutDuration))
		must(t, e.fake.ExpireTokens(email))
		e.due()
		if st := e.syncDue(); st.Failed != 1 {
			t.Fatalf("lock %d: SyncDue = %+v, want one failed sync", i+1, st)
		}
		got := e.conn(p, c.ID)
		wait := got.NextSyncAt.Sub(got.LastSyncAt)
		if got.State != StateBackingOff || wait < want-2*time.Second || wait > want+2*time.Second {
			t.Fatalf("lock %d: state %s, next attempt in %s; want backing_off, %s", i+1, got.State, wait, want)
		}
		var blocked time.Time
		must(t, e.pool.QueryRow(context.Background(), `SELECT a.blocked_until - now() + now() FROM llu_accounts a
			JOIN llu_links l ON l.account_id = a.id JOIN sync_connections c ON c.id = l.connection_id
			WHERE c.public_id = $1`, c.ID).Scan(&blocked))
		if d := time.Until(blocked); d < want-5*time.Second || d > want+5*time.Second {
			t.Errorf("lock %d: account blocked for %s, want %s", i+1, d, want)
		}
		// The wait passes (the lock ends on the server too).
		must(t, e.fake.Lock(email, 0))
		e.unblock()
	}
	// A good login resets the count: the next lock waits its lockout.
	e.due()
	if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("SyncDue after the locks = %+v", st)
	}
	if n := e.count(`SELECT lockouts FROM llu_accounts WHERE kind = 'patient'`); n != 0 {
		t.Errorf("lockouts after a good login = %d, want 0", n)
	}
}

// TestConnectWhileLoginRefused: connecting an account whose login is
// refused without a reason (HTTP 430, 2026) stores the connection waiting
// for the patient, with the advice naming the LibreView website; nothing is
// stored until the patient acts, and the first sync then checks whose data
// it is like any other.
func TestConnectWhileLoginRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	email := e.accounts[0].Email
	must(t, e.fake.SetFaults(email, librelinkuptest.Faults{LoginRefused: 430}))
	p := e.patient(0)
	var c Connection
	must(t, e.tx(func(tx pgx.Tx) error {
		var err error
		c, err = e.syncer.Connect(context.Background(), tx, p.ID, ConnectRequest{Email: email, Password: e.accounts[0].Password})
		return err
	}))
	if c.State != StateActionNeeded || c.Problem == nil || c.Problem.Kind != librelinkup.KindLoginRefused.String() {
		t.Fatalf("connection = %+v, want action_needed, login refused", c)
	}
	if n := e.count(`SELECT count(*) FROM readings`); n != 0 {
		t.Fatalf("%d readings stored before the patient acted", n)
	}
	// Regular ticks make no request.
	before := e.fake.Stats(email)
	e.syncDue()
	if after := e.fake.Stats(email); after.Logins != before.Logins {
		t.Errorf("logins while waiting: %d, want %d", after.Logins, before.Logins)
	}
	// The patient accepts the documents and asks for a sync.
	must(t, e.fake.SetFaults(email, librelinkuptest.Faults{}))
	must(t, e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.SyncSoon(context.Background(), tx, p.ID, c.ID)
		return err
	}))
	if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 || st.Inserted == 0 {
		t.Fatalf("SyncDue after the patient acted = %+v", st)
	}
	if got := e.conn(p, c.ID); got.State != StateActive || got.Problem != nil {
		t.Errorf("connection = %+v, want active", got)
	}
}

// TestAddressBudget: every replica behind one egress address shares one
// LibreLinkUp request budget. Below the address's limit, syncing many
// connections at once never trips it; when the budget is set above the
// limit, the first 429 cuts it in half (and blocks it for the
// Retry-After) so that the replicas adapt together.
func TestAddressBudget(t *testing.T) {
	t.Parallel()
	const n = 16
	// The budget's waits happen inside the HTTP client's timeout (the
	// budget's transport): the tests' 2 s would leave a wait of 1 s.
	e := newEnv(t, n, 0, func(c *Config) { c.LibreLinkUp.HTTPClient = librelinkup.NewHTTPClient(30 * time.Second) })
	b := e.secondReplica("test-b")
	for i := range n {
		e.connect(i)
	}
	// The address's limit (wall clock): 10 requests in 2 s, 5 a second.
	// The budget: 3 a second, burst 1: requests leave at most 1 + 3 × 2 =
	// 7 in any 2 s, so that a request delayed by up to a second on a
	// loaded machine (-race, other tests) still keeps under the limit.
	e.fake.SetAddressLimit(10, 2*time.Second)
	e.exec(`UPDATE sync_budgets SET rate = 3, max_rate = 3, min_rate = 0.1, burst = 1, tokens = 0, at = now()`)
	deadline := time.Now().Add(60 * time.Second)
	synced := 0
	for synced < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections synced within a minute", synced, n)
		}
		for _, r := range []*Syncer{e.syncer, b} {
			st, err := r.SyncDue(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Failed != 0 {
				rows, _ := e.pool.Query(context.Background(), `SELECT error_message FROM sync_connections WHERE error_message IS NOT NULL`)
				msgs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
				t.Fatalf("SyncDue = %+v: a sync failed under the budget: %q", st, msgs)
			}
			synced += st.Synced
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.fake.AddressRefusals(); got != 0 {
		t.Errorf("the address's limit refused %d requests under a budget below it", got)
	}
	st, err := e.syncer.Budgets(context.Background())
	if err != nil || len(st) != 1 || st[0].Cuts != 0 || st[0].Requests < n {
		t.Fatalf("Budgets = %+v, %v; want one budget, no cut, at least %d requests", st, err, n)
	}

	// A budget above the limit: the limit answers 429, and the budget is
	// cut for every replica.
	e.exec(`UPDATE sync_budgets SET rate = 100, max_rate = 100, burst = 100, tokens = 100, at = now()`)
	e.due()
	r1, _ := e.syncer.SyncDue(context.Background())
	if got := e.fake.AddressRefusals(); got == 0 {
		t.Fatalf("no request refused by the address's limit with a budget of 100 a second (%+v)", r1)
	}
	st, err = b.Budgets(context.Background())
	if err != nil || len(st) != 1 || st[0].Cuts == 0 || st[0].PerMinute >= 100*60 || st[0].BlockedUntil.IsZero() {
		t.Fatalf("Budgets after the 429 = %+v, %v; want a cut rate and a block", st, err)
	}
	// Connections that met the 429 back off; none is in error.
	rows, _ := e.pool.Query(context.Background(), `SELECT error_message FROM sync_connections WHERE state = 'error'`)
	if msgs, err := pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(msgs) != 0 {
		t.Errorf("connections in error after the 429s: %q, %v; want them backing off", msgs, err)
	}
	_ = http.StatusTooManyRequests
}
