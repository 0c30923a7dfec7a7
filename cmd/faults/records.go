package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/records/recordtest"
)

// scenarioRecords is scenario d: the service publishes the patients'
// summaries to a fake FHIR record server (an EHR) that fails 30 % of the
// requests (500, 503, answers that never come, dropped
// connections, failures after the transaction was applied) and holds
// failed answers for 3 s, then is down for a while: every summary must
// reach it exactly once, and the service must keep serving.
func scenarioRecords(ctx context.Context, h *harness, r *report) error {
	const secretEnv = "FSECGM_FAULTS_EHR_SECRET"
	rs, err := recordtest.New(recordtest.Options{Clients: map[string]string{"fsecgm": "faults-secret"},
		FailRate: 0.3, Seed: 7, Hang: 3 * time.Second})
	if err != nil {
		return err
	}
	go func() { _ = rs.Serve(ctx) }()
	defer rs.Close()
	subs := []map[string]any{{"name": "ehr-faults", "kind": "ehr", "base_url": rs.URL(),
		"auth":  map[string]string{"kind": "client_credentials", "token_url": rs.TokenURL(), "client_id": "fsecgm", "secret_env": secretEnv},
		"scope": map[string]string{"kind": "all"}}}
	b, err := json.Marshal(subs)
	if err != nil {
		return err
	}
	file := filepath.Join(h.dir, "subscriptions.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	// The service starts again with the subscription.
	if _, err := h.svc.Stop(shutdownTimeout + 5*time.Second); err != nil {
		return fmt.Errorf("stop the service: %w", err)
	}
	h.env["FSECGM_SUBSCRIPTIONS_FILE"] = file
	h.env[secretEnv] = "faults-secret"
	if err := h.start(ctx); err != nil {
		return err
	}

	// Each patient grants the third-party consent; the service's
	// summaries updater then publishes each patient's summary (with its
	// PDF report) to the records, one outbox message per patient for the
	// record server.
	cs := consent.New(h.pool, consent.Options{})
	for _, p := range h.patients {
		self := consent.Actor{Role: auth.RoleCitizen, FiscalCode: p.FiscalCode, RequestID: "faults"}
		if _, err := cs.SetThirdPartyConsent(ctx, self, p.ID, true); err != nil {
			return err
		}
	}
	// LibreLinkUp serves 12 hours of history: after about noon in Rome it
	// does not reach into the summary's period (the 14 local days ending
	// yesterday), which then has no CGM reading and no summary to
	// publish. Each patient uploads an export of the 14 days before that
	// history, as a patient who joins with past data does.
	for _, p := range h.patients {
		code, body, err := h.post(ctx, "/api/v1/patients/"+p.PublicID+"/imports?format=long", p.token, "text/csv",
			historyCSV(time.Now().Add(-13*time.Hour), 14))
		if err != nil {
			return err
		}
		if code != 200 && code != 201 {
			return fmt.Errorf("d: upload of the past 14 days: %d %.300s", code, body)
		}
	}
	// A summary the upload left unchanged was published before the
	// subscription existed: mark them all unpublished, as new figures
	// would, so that the updater publishes them now.
	if err := h.exec(ctx, `UPDATE patient_summaries SET published_key = NULL, publish_after = NULL WHERE patient_id = ANY($1::int[])`,
		h.ids()); err != nil {
		return err
	}
	var messages int
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if messages, err = h.count(ctx, `SELECT count(DISTINCT patient_id) FROM outbox WHERE patient_id = ANY($1::int[])`, h.ids()); err != nil {
			return err
		}
		if messages >= len(h.patients) || time.Now().After(deadline) {
			break
		}
	}
	if !r.check(messages == len(h.patients), "d: the service published the summaries of the %d patients, each to the record server's outbox (%d patients)",
		len(h.patients), messages) {
		return nil
	}
	var want int
	if err := h.pool.QueryRow(ctx, `SELECT count(DISTINCT i) FROM outbox, unnest(identifiers) AS i`).Scan(&want); err != nil {
		return err
	}

	l := h.startLoad(ctx, 2)
	start := time.Now()
	// Down for 10 s in the middle: deliveries fail and wait.
	var downAt, upAt time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for ctx.Err() == nil {
		pending, err := h.count(ctx, `SELECT count(*) FROM outbox WHERE state = 'pending'`)
		if err != nil {
			l.end()
			return err
		}
		delivered, err := h.count(ctx, `SELECT count(*) FROM outbox WHERE state = 'delivered'`)
		if err != nil {
			l.end()
			return err
		}
		switch {
		case downAt.IsZero() && delivered >= len(h.patients)/3:
			rs.Stop()
			downAt = time.Now()
			logf(h.stderr, "record server down after %d deliveries", delivered)
		case !downAt.IsZero() && upAt.IsZero() && time.Since(downAt) > 10*time.Second:
			if err := rs.Restart(); err != nil {
				l.end()
				return err
			}
			upAt = time.Now()
			logf(h.stderr, "record server up again")
		}
		if pending == 0 && !upAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			l.end()
			r.check(false, "d: the outbox did not empty within 3 minutes (%d pending)", pending)
			return nil
		}
		// The retry waits (30 s and more) pass at once.
		if err := h.exec(ctx, `UPDATE outbox SET next_attempt_at = now() WHERE state = 'pending' AND next_attempt_at > now() AND lease_owner IS NULL`); err != nil {
			l.end()
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
	took := time.Since(start)
	samples := l.end()
	var st struct{ delivered, poisoned, cancelled, attempts int }
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state = 'poisoned'),
		count(*) FILTER (WHERE state = 'cancelled'), coalesce(sum(attempts), 0) FROM outbox`).
		Scan(&st.delivered, &st.poisoned, &st.cancelled, &st.attempts); err != nil {
		return err
	}
	failures := map[string]int{}
	for _, q := range rs.Requests() {
		if q.Failure != recordtest.FailNone {
			failures[q.Failure.String()]++
		}
	}
	r.check(len(failures) >= 3, "d: the record server failed requests in several ways: %v, and was down for 10 s", failures)
	total, err := h.count(ctx, `SELECT count(*) FROM outbox`)
	if err != nil {
		return err
	}
	r.check(st.delivered == total && st.poisoned == 0 && st.cancelled == 0,
		"d: every message delivered in %s after %d attempts (%d of %d delivered, %d poisoned, %d cancelled)",
		took.Round(time.Second), st.attempts, st.delivered, total, st.poisoned, st.cancelled)
	got := 0
	for _, typ := range []string{"Observation", "Device", "DiagnosticReport", "Patient"} {
		got += len(rs.Identifiers(typ))
	}
	dups := rs.Duplicates()
	r.check(len(dups) == 0 && got >= want, "d: the record server holds every resource once: %d identifiers of %d sent, %d duplicated",
		got, want, len(dups))
	reads := between(samples, start, time.Now(), "patient")
	r.check(only(reads, 200), "d: the read path kept answering 200 meanwhile (%s)", fmtStatuses(statuses(reads)))
	if v := h.metric(ctx, `fsecgm_outbox_messages{state="pending"}`); true {
		r.check(v == 0, "d: /metrics shows the outbox empty (pending %v)", v)
	}
	return nil
}

// historyCSV returns a long CSV of one subject: days of 15-minute readings
// ending at end.
func historyCSV(end time.Time, days int) []byte {
	var b bytes.Buffer
	b.WriteString("id,time,gl\n")
	start := end.Add(-time.Duration(days) * 24 * time.Hour).Truncate(15 * time.Minute)
	for i, t := 0, start; t.Before(end); i, t = i+1, t.Add(15*time.Minute) {
		v := 140 + 60*math.Sin(2*math.Pi*float64(i%96)/96) + float64((i*7919)%41) - 20
		fmt.Fprintf(&b, "p,%s,%d\n", t.UTC().Format(time.RFC3339), int(v))
	}
	return b.Bytes()
}
