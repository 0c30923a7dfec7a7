package main

import (
	"context"
	"fmt"
	"time"

	"fsecgm/migrations/pgserver"
)

// scenarioPostgresDown is scenario b: PostgreSQL stops for outage under a
// read load and starts again; the service is not touched.
func scenarioPostgresDown(ctx context.Context, h *harness, r *report, outage time.Duration) error {
	pid := h.svc.Pid()
	if err := h.due(ctx); err != nil {
		return err
	}
	before, err := h.count(ctx, `SELECT count(*) FROM readings`)
	if err != nil {
		return err
	}
	l := h.startLoad(ctx, 4)
	time.Sleep(3 * time.Second)
	down := time.Now()
	h.pool.Reset()
	if err := h.pg.Stop(); err != nil {
		l.end()
		return fmt.Errorf("stop PostgreSQL: %w", err)
	}
	stopped := time.Now()
	logf(h.stderr, "PostgreSQL stopped (%s); down for %s", stopped.Sub(down).Round(time.Millisecond), outage)
	select {
	case <-time.After(outage):
	case <-ctx.Done():
		l.end()
		return ctx.Err()
	}
	up := time.Now()
	h.pg, err = pgserver.Start(ctx, pgserver.Options{DataDir: h.dataDir})
	if err != nil {
		l.end()
		return fmt.Errorf("start PostgreSQL again: %w", err)
	}
	started := time.Now()
	h.pool.Reset()
	logf(h.stderr, "PostgreSQL started again (%s)", started.Sub(up).Round(time.Millisecond))
	// Wait until the read path answers 200 again, by itself.
	var recovered time.Time
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		p := h.patients[0]
		code, _, err := h.get(ctx, "/api/v1/patients/"+p.PublicID+"/glucose/latest", p.token)
		rc, _, rerr := h.get(ctx, "/readyz", "")
		if err == nil && rerr == nil && code == 200 && rc == 200 {
			recovered = time.Now()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // the load goes on after the recovery
	samples := l.end()

	// Answered before the stop began (those in flight then may see it).
	var base []sample
	for _, s := range between(samples, down.Add(-3*time.Second), down, "patient") {
		if s.at.Add(s.latency).Before(down) {
			base = append(base, s)
		}
	}
	r.check(only(base, 200), "b: before the outage the read path answers 200 (%s)", fmtStatuses(statuses(base)))
	// From a second after the stop (requests in flight at the stop may
	// see the connection cut) to the restart.
	during := between(samples, stopped.Add(time.Second), up, "patient")
	r.check(only(during, 503), "b: with PostgreSQL down, the read path answers 503 (%s)", fmtStatuses(statuses(during)))
	r.check(len(during) > 0 && p99(during) < time.Second, "b: and fails fast: p99 %s over %d requests (bound 1 s)",
		p99(during).Round(time.Millisecond), len(during))
	ready := between(samples, stopped.Add(time.Second), up, "/readyz")
	r.check(only(ready, 503), "b: /readyz answers 503 while PostgreSQL is down (%s)", fmtStatuses(statuses(ready)))
	live := between(samples, down, up, "/healthz")
	r.check(only(live, 200), "b: /healthz (liveness) stays 200 (%s)", fmtStatuses(statuses(live)))
	if !r.check(!recovered.IsZero(), "b: the service recovers by itself, without a restart, %s after PostgreSQL is back",
		recovered.Sub(started).Round(time.Millisecond)) {
		return nil
	}
	after := between(samples, recovered, time.Now(), "patient")
	r.check(only(after, 200), "b: after the recovery the read path answers 200 again (%s)", fmtStatuses(statuses(after)))
	r.check(!h.svc.Exited() && h.svc.Pid() == pid, "b: the same process served throughout (pid %d)", pid)

	// Nothing lost: the readings are all there, and the syncs that failed
	// during the outage catch up.
	if err := h.due(ctx); err != nil {
		return err
	}
	err = h.waitSynced(ctx, started, 60*time.Second)
	r.check(err == nil, "b: every connection syncs again after the outage%s", suffixErr(err))
	now, err := h.count(ctx, `SELECT count(*) FROM readings`)
	if err != nil {
		return err
	}
	diff, total, err := h.checkReadings(ctx)
	if err != nil {
		return err
	}
	r.check(now >= before && diff == "", "b: nothing lost: %d readings before, %d after; the %d synced readings are exactly what the fake served%s",
		before, now, total, suffix(diff))
	return nil
}
