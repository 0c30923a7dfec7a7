package records

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records/recordtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestDeliveryUnderFailures is the delivery run of the FHIR issue: 1,000
// summaries delivered by three replicas (each with its own pool and
// replica id; leases in the database) to a record server that fails 30 %
// of the requests (500, 503, responses that never come, dropped
// connections, some after applying the transaction) and is restarted twice
// during the run. Some patients revoke their consent after their summaries
// were queued. Afterwards the server holds every Observation (and every
// other resource) exactly once by identifier, none is missing, and nothing
// of the patients who revoked their consent reached it.
func TestDeliveryUnderFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the 1,000-summary delivery run did not run")
	}
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	srv := fakeRecords(t, recordtest.Options{FailRate: 0.3, Seed: 42, Hang: 200 * time.Millisecond})
	e.subscribe(t, "ehr", srv.URL(), nil)

	const patients, days, revokers = 50, 20, 5
	ps := make([]cgmstore.Patient, patients)
	for i := range ps {
		ps[i] = e.patient(t, 100+i, true)
	}
	start := time.Date(2024, 4, 1, 0, 0, 0, 0, rome)
	// One report per day, shared by the patients: the identifiers are
	// the patient's, the figures need not differ.
	pubs := make([]Publication, days)
	for d := range pubs {
		pubs[d] = publication(t, ps[0], uint64(d+1), start.AddDate(0, 0, d), nil)
	}
	publishStart := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, patients)
	for i, p := range ps {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Errorf("patient %d: %v", i, r)
				}
			}()
			for _, pub := range pubs {
				pub.PatientID = p.ID
				pub.Patient.ID, pub.Patient.FiscalCode = p.PublicID, p.FiscalCode
				pub.Devices = []fhir.DeviceInfo{{Serial: fmt.Sprintf("SN%06d", p.ID), Manufacturer: "Abbott", Model: "FreeStyle Libre 2"}}
				e.publish(t, pub)
			}
		})
		if i%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	publishTime := time.Since(publishStart)
	if n := e.count(t, `SELECT count(*) FROM outbox`); n != patients*days {
		t.Fatalf("%d outbox messages, want %d", n, patients*days)
	}
	// Some patients revoke their consent before delivery.
	revoked := map[int64]bool{}
	for _, p := range ps[:revokers] {
		e.setConsent(t, p, false)
		revoked[p.ID] = true
	}
	// Three replicas, each with its own pool.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var replicas sync.WaitGroup
	for r := range 3 {
		cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 6
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		rec, err := New(pool, Options{Base: testBase, Logger: e.logger})
		if err != nil {
			t.Fatal(err)
		}
		o := fastOptions(fmt.Sprintf("replica-%d", r))
		o.Concurrency, o.MaxAttempts, o.Timeout = 4, 30, time.Second
		o.MinBackoff, o.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
		d, err := NewDeliverer(rec, e.consent, o)
		if err != nil {
			t.Fatal(err)
		}
		replicas.Go(func() { _ = d.Run(runCtx) })
	}
	runStart := time.Now()
	// Restart the server twice, after a third and two thirds of the
	// deliveries.
	restarts := 0
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := e.rec.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		finished := st.Delivered + st.Cancelled + st.Poisoned
		if restarts < 2 && finished >= (restarts+1)*patients*days/3 {
			srv.Stop()
			time.Sleep(150 * time.Millisecond)
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			restarts++
		}
		if st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery did not finish: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	runTime := time.Since(runStart)
	stop()
	replicas.Wait()
	if restarts != 2 {
		t.Errorf("the server was restarted %d times, want 2", restarts)
	}

	ms, err := e.rec.Messages(ctx, MessageFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != patients*days {
		t.Fatalf("%d messages listed", len(ms))
	}
	held := srv.Identifiers("")
	states := map[State]int{}
	attempts := 0
	for _, m := range ms {
		states[m.State]++
		attempts += m.Attempts
		switch {
		case revoked[m.PatientID]:
			if m.State != StateCancelled {
				t.Errorf("message %d of a patient who revoked consent: %s", m.ID, m.State)
			}
			for _, id := range m.Identifiers {
				if held[id] > 0 {
					t.Errorf("message %d: %s reached the server after the consent was revoked", m.ID, id)
				}
			}
		case m.State != StateDelivered:
			t.Errorf("message %d: %s after %d attempts (%s)", m.ID, m.State, m.Attempts, m.LastError)
		default:
			for _, id := range m.Identifiers {
				if held[id] != 1 {
					t.Errorf("message %d: %s held %d times, want exactly once", m.ID, id, held[id])
				}
			}
		}
	}
	if dups := srv.Duplicates(); len(dups) > 0 {
		t.Errorf("%d duplicated identifiers on the server, e.g. %s", len(dups), dups[0])
	}
	// Nothing else reached the server: its resources are exactly those of
	// the delivered messages (Patient and Device shared by a patient's
	// messages).
	want := map[string]bool{}
	obs := 0
	for _, m := range ms {
		if m.State == StateDelivered {
			for _, id := range m.Identifiers {
				want[id] = true
			}
		}
	}
	for _, r := range srv.Resources("") {
		if r.Type == "Observation" {
			obs++
		}
		known := false
		for _, id := range r.Identifiers {
			known = known || want[id]
		}
		if !known {
			t.Errorf("the server holds %s/%s, which no delivered message carried", r.Type, r.ID)
		}
	}
	if len(srv.Resources("")) != len(want) {
		t.Errorf("the server holds %d resources for %d identifiers", len(srv.Resources("")), len(want))
	}
	reqs := srv.Requests()
	failed := map[recordtest.Failure]int{}
	for _, r := range reqs {
		failed[r.Failure]++
	}
	t.Logf("%d summaries published in %v; delivered %d, cancelled %d, poisoned %d in %v by 3 replicas; "+
		"%d attempts, %d requests reached the server (injected: %d×500, %d×503, %d after commit, %d timeouts, %d dropped), 2 restarts; "+
		"the server holds %d Observations, %d resources",
		patients*days, publishTime.Round(time.Millisecond), states[StateDelivered], states[StateCancelled], states[StatePoisoned],
		runTime.Round(time.Millisecond), attempts, len(reqs), failed[recordtest.Fail500], failed[recordtest.Fail503],
		failed[recordtest.FailAfterCommit], failed[recordtest.FailTimeout], failed[recordtest.FailDrop], obs, len(srv.Resources("")))
	if states[StateDelivered] != (patients-revokers)*days || states[StateCancelled] != revokers*days {
		t.Errorf("states %v, want %d delivered and %d cancelled", states, (patients-revokers)*days, revokers*days)
	}
}
