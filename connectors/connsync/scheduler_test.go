package connsync

import (
	"context"
	"testing"
	"time"
)

// TestRun: the gocron scheduler syncs a due connection on its own, runs the
// upkeep (old sync runs pruned), and stops when its context ends.
func TestRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, func(c *Config) { c.Tick = 100 * time.Millisecond; c.RunRetention = time.Hour })
	_, c := e.connect(0)
	e.exec(`INSERT INTO sync_runs (connection_id, scheduled_for, started_at, finished_at, replica, outcome)
		SELECT id, now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', 'old', 'ok'
		FROM sync_connections WHERE public_id = $1`, c.ID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.syncer.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.count(`SELECT count(*) FROM sync_runs WHERE replica = 'test-a'`) == 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no sync within 10 s of starting the scheduler")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for e.count(`SELECT count(*) FROM sync_runs WHERE replica = 'old'`) != 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("old sync runs not pruned")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
