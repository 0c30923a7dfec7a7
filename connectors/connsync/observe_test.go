package connsync

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/google/go-cmp/cmp"
)

// eventLog collects SyncEvents.
type eventLog struct {
	mu sync.Mutex
	es []SyncEvent
}

func (l *eventLog) add(e SyncEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.es = append(l.es, e)
}

// take returns the events so far (outcome/kind/inserted>0) and forgets them.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.es {
		s := e.Outcome
		if e.Follower {
			s = "list " + s
		}
		if e.Kind != "" {
			s += " " + e.Kind
		}
		if e.Inserted > 0 {
			s += " +readings"
		}
		if e.Duration <= 0 {
			s += " (no duration)"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	l.es = nil
	return out
}

// TestObserve checks that Config.Observe is told how every sync and
// follower list run ended: ok, failed with the LibreLinkUp error kind,
// lost to another replica, released at shutdown.
func TestObserve(t *testing.T) {
	t.Parallel()
	var log eventLog
	e := newEnv(t, 2, 1, func(c *Config) { c.Observe = log.add })
	e.connect(0)
	e.connect(1)
	if err := e.fake.SetFaults(e.accounts[1].Email, librelinkuptest.Faults{ServerError: 503, On: librelinkuptest.EndpointGraph}); err != nil {
		t.Fatal(err)
	}
	follower := e.accounts[2]
	if _, err := e.syncer.AddFollowerAccount(context.Background(), "regione", "", librelinkup.Credentials{Email: follower.Email, Password: follower.Password}); err != nil {
		t.Fatal(err)
	}
	e.due()
	e.syncDue()
	if diff := cmp.Diff([]string{"failed server error", "list ok", "ok +readings"}, log.take()); diff != "" {
		t.Errorf("first round (-want +got):\n%s", diff)
	}

	// Another replica took the lease in the middle of a sync: lost.
	e.due()
	if err := e.fake.SetFaults(e.accounts[1].Email, librelinkuptest.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.SetFaults(e.accounts[0].Email, librelinkuptest.Faults{Delay: 1500 * time.Millisecond, On: librelinkuptest.EndpointGraph}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		e.exec(`UPDATE sync_connections SET lease_token = lease_token + 1000000 WHERE lease_token IS NOT NULL`)
	}()
	e.syncDue()
	got := log.take()
	if !slices.Contains(got, "lost") {
		t.Errorf("second round: %v, want a lost sync", got)
	}

	// Shutdown in the middle of a sync: released.
	e.exec(`UPDATE sync_connections SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`)
	e.due()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	_, _ = e.syncer.SyncDue(ctx)
	got = log.take()
	if !slices.Contains(got, "released") {
		t.Errorf("third round: %v, want a released sync", got)
	}
	if n := e.count(`SELECT count(*) FROM sync_connections WHERE lease_token IS NOT NULL`); n != 0 {
		t.Errorf("%d leases kept after the shutdown", n)
	}
}
