package sessions

import (
	"context"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ended is Ended without its error.
func ended(t *testing.T, s *Store, tok string) bool {
	t.Helper()
	e, err := s.Ended(t.Context(), tok)
	if err != nil {
		t.Fatalf("Ended: %v", err)
	}
	return e
}

// TestEndAcrossReplicas: a session ended on one replica is refused on
// another (a Store of its own on the same database) as soon as the
// notification arrives, from memory; before its listener is up, the other
// replica asks the database; an expired record no longer counts.
func TestEndAcrossReplicas(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := New(pool, Options{}), New(pool, Options{Retry: 50 * time.Millisecond})
	// b without a listener: every check is a query.
	if err := a.End(ctx, "tok-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !ended(t, a, "tok-1") || !ended(t, b, "tok-1") || ended(t, b, "tok-2") {
		t.Fatal("ended sessions not seen through the database")
	}
	go b.Run(ctx)
	waitFor(t, "listener live", b.Live)
	if !ended(t, b, "tok-1") {
		t.Error("an end recorded before the listener started is not loaded")
	}
	if err := a.End(ctx, "tok-2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the notification of tok-2", func() bool { return ended(t, b, "tok-2") })
	// Ending twice is harmless; an end past its token's expiry counts no more.
	if err := a.End(ctx, "tok-2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.End(ctx, "tok-3", time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ended(t, a, "tok-3") {
		t.Error("a token past its expiry still counts as ended (the verifier refuses it anyway)")
	}

	// The listener's connection is cut: b checks the database meanwhile,
	// then connects again and loads what it missed.
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, ListenerName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the listener to notice", func() bool { return !b.Live() })
	if err := a.End(ctx, "tok-4", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !ended(t, b, "tok-4") {
		t.Error("an end while the listener was down is not seen")
	}
	waitFor(t, "the listener back", b.Live)
	if !ended(t, b, "tok-4") || !ended(t, b, "tok-1") {
		t.Error("ends lost across the reconnection")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ended_sessions WHERE token_digest = $1`, func() []byte { d := Digest("tok-1"); return d[:] }()).Scan(&n); err != nil || n != 1 {
		t.Errorf("stored by digest: %d %v", n, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ended_sessions WHERE encode(token_digest, 'escape') LIKE '%tok-%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a token stored as it is: %d %v", n, err)
	}
}

// TestUpkeep: expired ends are forgotten and their rows deleted.
func TestUpkeep(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	ctx := t.Context()
	now := time.Now()
	s := New(pool, Options{Now: func() time.Time { return now }})
	if err := s.End(ctx, "old", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.End(ctx, "new", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	now = now.Add(2 * time.Minute)
	if err := s.upkeep(ctx, conn.Conn()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ended_sessions`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows after upkeep: %d %v", n, err)
	}
	if len(s.ended) != 1 || !ended(t, s, "new") {
		t.Errorf("in memory after upkeep: %d", len(s.ended))
	}
}
