package connsync

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// secondReplica returns another Syncer on e's database and fake.
func (e *testEnv) secondReplica(name string) *Syncer {
	e.t.Helper()
	cfg := Config{Pool: e.pool, Store: e.store, Keys: e.keys, Replica: name, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		LibreLinkUp: e.syncer.clientConfig, Interval: time.Minute, LeaseTTL: 30 * time.Second, Workers: 4, LibreLinkUpBudget: testBudget}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestOverlappingSyncs: two replicas race for the same due connections,
// several times; each connection is synced once per round, and no reading
// is stored twice.
func TestOverlappingSyncs(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newEnv(t, n, 0, nil)
	b := e.secondReplica("test-b")
	for i := range n {
		e.connect(i)
	}
	first := e.clock.Now()
	for round := range 3 {
		if round > 0 {
			e.clock.Advance(20 * time.Minute)
			e.due()
		}
		var wg sync.WaitGroup
		var sa, sb TickStats
		wg.Go(func() { sa, _ = e.syncer.SyncDue(context.Background()) })
		wg.Go(func() { sb, _ = b.SyncDue(context.Background()) })
		wg.Wait()
		if sa.Synced+sb.Synced != n || sa.Lost+sb.Lost != 0 {
			t.Fatalf("round %d: replica a %+v, b %+v; want %d syncs in all, none lost", round, sa, sb, n)
		}
	}
	if got := e.count(`SELECT count(*) FROM sync_runs`); got != 3*n {
		t.Errorf("sync runs = %d, want %d", got, 3*n)
	}
	if got := e.count(`SELECT count(*) FROM (SELECT connection_id, scheduled_for FROM sync_runs
		GROUP BY 1, 2 HAVING count(*) > 1) d`); got != 0 {
		t.Errorf("%d slots synced twice", got)
	}
	for i := range n {
		p := e.patient(i)
		if diff := cmp.Diff(wantHistoric(e.sim(i), first, e.clock.Now()), gotHistoric(e.historic(p))); diff != "" {
			t.Errorf("patient %d: readings (-want +got):\n%s", i, diff)
		}
	}
}

// TestLeaseExpiry: a replica that claims a connection and dies keeps it
// only until the lease expires; another replica then syncs it, and the
// dead replica's late work cannot commit.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	b := e.secondReplica("test-b")
	p, c := e.connect(0)
	claims, err := e.syncer.claimDue(context.Background(), 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claimDue = %v, %v; want one claim", claims, err)
	}
	// Replica a "dies" holding the lease: b finds nothing to do.
	if st, err := b.SyncDue(context.Background()); err != nil || st.Synced != 0 {
		t.Fatalf("b.SyncDue during a's lease = %+v, %v; want nothing", st, err)
	}
	// The lease expires (database clock).
	e.exec(`UPDATE sync_connections SET lease_expires_at = now() - interval '1 ms'`)
	if st, err := b.SyncDue(context.Background()); err != nil || st.Synced != 1 {
		t.Fatalf("b.SyncDue after the lease expired = %+v, %v; want one sync", st, err)
	}
	// a comes back and tries to finish its sync: it cannot commit.
	if r := e.syncer.syncConnection(context.Background(), claims[0]); !r.lost || r.committed {
		t.Errorf("a's late sync = %+v, want lost", r)
	}
	if got := e.count(`SELECT count(*) FROM sync_runs`); got != 1 {
		t.Errorf("sync runs = %d, want 1", got)
	}
	var replica string
	if err := e.pool.QueryRow(context.Background(), `SELECT replica FROM sync_runs`).Scan(&replica); err != nil || replica != "test-b" {
		t.Errorf("run by %q, %v; want test-b", replica, err)
	}
	if got := e.conn(p, c.ID); got.State != StateActive || got.Syncs != 1 {
		t.Errorf("connection = %+v", got)
	}
}

// TestSlots: after a sync, a connection is due at the next slot of its
// phase, within one interval, and slots of many connections spread over
// the interval.
func TestSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	ctx := context.Background()
	var got []time.Time
	for _, q := range []string{
		`SELECT sync_next_slot('2026-01-01 00:00:10+00', interval '5 minutes', 0.5)`,
		`SELECT sync_next_slot('2026-01-01 00:02:30+00', interval '5 minutes', 0.5)`,
		`SELECT sync_next_slot('2026-01-01 00:02:31+00', interval '5 minutes', 0.5)`,
		`SELECT sync_next_slot('2026-01-01 00:04:59+00', interval '5 minutes', 0)`,
	} {
		var t0 time.Time
		if err := e.pool.QueryRow(ctx, q).Scan(&t0); err != nil {
			t.Fatal(err)
		}
		got = append(got, t0.UTC())
	}
	want := []time.Time{
		time.Date(2026, 1, 1, 0, 2, 30, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 7, 30, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 7, 30, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sync_next_slot (-want +got):\n%s", diff)
	}
}
