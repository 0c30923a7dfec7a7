package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records/recordtest"
	"fsecgm/taccuino/records/recordtest/fhircheck"

	"github.com/google/go-cmp/cmp"
)

// fastOptions are delivery options for tests: short backoff and lease.
func fastOptions(replica string) DeliveryOptions {
	return DeliveryOptions{Replica: replica, Concurrency: 2, Lease: 5 * time.Second, Poll: 20 * time.Millisecond,
		MaxAttempts: 10, MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, Timeout: 2 * time.Second,
		Grace: time.Second}
}

func (e *env) deliverer(t testing.TB, o DeliveryOptions) *Deliverer {
	t.Helper()
	if o.Logger == nil {
		o.Logger = e.logger
	}
	d, err := NewDeliverer(e.rec, e.consent, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fakeRecords(t testing.TB, o recordtest.Options) *recordtest.Server {
	t.Helper()
	srv, err := recordtest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestDeliver: a summary reaches the record server as a transaction Bundle
// that creates every resource once; delivering again changes nothing; the
// delivery is in the patient's access log; what was sent is valid R4.
func TestDeliver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	srv := fakeRecords(t, recordtest.Options{Token: "s3cret"})
	e.subscribe(t, "diab", srv.URL(), func(s *Subscription) {
		s.Kind, s.Auth = KindDiabetology, Auth{Kind: AuthBearer, SecretEnv: "TEST_DIAB_TOKEN"}
	})
	// A receiver that takes the IG's profiles only.
	srvIG := fakeRecords(t, recordtest.Options{})
	e.subscribe(t, "ig", srvIG.URL(), func(s *Subscription) { s.IGOnly = true })
	p := e.patient(t, 10, true)
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, rome)
	e.publish(t, publication(t, p, 3, day, examplePDF))
	o := fastOptions("r1")
	o.Getenv = func(k string) string { return map[string]string{"TEST_DIAB_TOKEN": "s3cret"}[k] }
	d := e.deliverer(t, o)
	n, err := d.DeliverDue(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DeliverDue = %d, %v; want 2, nil", n, err)
	}
	ms, err := e.rec.Messages(ctx, MessageFilter{Subscription: "diab"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].State != StateDelivered || ms[0].Attempts != 1 || ms[0].LastStatus != 200 {
		t.Fatalf("message after delivery: %+v", ms)
	}
	// Patient, Device, 19 Observations, the DiagnosticReport.
	want := map[string]int{"Patient": 1, "Device": 1, "Observation": 19, "DiagnosticReport": 1}
	got := map[string]int{}
	for _, r := range srv.Resources("") {
		got[r.Type]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources on the record server (-want +got):\n%s", diff)
	}
	for _, id := range ms[0].Identifiers {
		if c := srv.Identifiers("")[id]; c != 1 {
			t.Errorf("identifier %s held %d times", id, c)
		}
	}

	// Published again with changed figures: one more message; its
	// conditional creates find what is there.
	changed := publication(t, p, 4, day, examplePDF)
	e.publish(t, changed)
	if _, err := d.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if dups := srv.Duplicates(); len(dups) > 0 {
		t.Errorf("duplicates on the record server: %v", dups)
	}
	// Finished messages are purged after their retention, not before.
	if n, err := e.rec.PurgeFinished(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purge of messages finished before an hour ago: %d, %v", n, err)
	}
	defer func() {
		if n, err := e.rec.PurgeFinished(ctx, time.Now().Add(time.Minute)); err != nil || n != 4 {
			t.Errorf("purge of every finished message: %d, %v; want 4", n, err)
		}
	}()
	if n := len(srv.Resources("")); n != 22 {
		t.Errorf("record server holds %d resources, want 22", n)
	}
	// The access log shows both deliveries, by the subscription.
	if n := e.count(t, `SELECT count(*) FROM access_log WHERE patient_id = $1 AND actor_id = 'fsecgm-delivery/diab'
		AND outcome = 'allowed' AND action = 'data.read' AND detail LIKE 'CGM summary 2024-05-01..2024-05-01 sent to diab'`, p.ID); n != 2 {
		t.Errorf("access-log entries of the deliveries: %d, want 2", n)
	}

	// Every Bundle sent is valid R4 (Google's validator) and passes the
	// IG's profiles (node validator, when ../shared is there).
	r4 := fhircheck.NewR4(t)
	bundles := map[string][]byte{}
	for i, b := range srv.Bodies() {
		if err := r4.Validate(b); err != nil {
			t.Errorf("delivered Bundle %d is not valid R4: %v", i, err)
		}
		bundles[fmt.Sprintf("delivered-%d", i)] = b
	}
	if len(bundles) != 2 {
		t.Fatalf("%d bodies received, want 2", len(bundles))
	}
	igBodies := srvIG.Bodies()
	if len(igBodies) != 2 || len(srvIG.Resources("Observation")) != 8 {
		t.Fatalf("IG-only receiver: %d bodies, %d Observations; want 2 and 8", len(igBodies), len(srvIG.Resources("Observation")))
	}
	for i, b := range igBodies {
		if err := r4.Validate(b); err != nil {
			t.Errorf("IG-only Bundle %d is not valid R4: %v", i, err)
		}
	}
	node := fhircheck.NewNode(t)
	code, rep := node.Validate(t, nil, bundles)
	if code != 0 || !rep.Valid {
		t.Fatalf("node validator: exit %d:\n%s", code, strings.Join(rep.Errors(), "\n"))
	}
	// 2 Bundles × (Device + 8 IG Observations + report + the Bundle).
	if n := rep.Profiled(); n < 22 {
		t.Errorf("only %d resources were checked against a CGM profile", n)
	}
	// The IG-only Bundles: every resource falls under a CGM profile.
	code, rep = node.Validate(t, []string{"--require-profile"}, map[string][]byte{"ig-0": igBodies[0], "ig-1": igBodies[1]})
	if code != 0 || !rep.Valid {
		t.Fatalf("node validator --require-profile: exit %d:\n%s", code, strings.Join(rep.Errors(), "\n"))
	}
}

// TestDeliverConsentRevoked: a message whose patient revoked the consent
// after publication is cancelled without being sent, and the refusal is in
// the patient's access log.
func TestDeliverConsentRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	srv := fakeRecords(t, recordtest.Options{})
	e.subscribe(t, "ehr", srv.URL(), nil)
	p := e.patient(t, 11, true)
	e.publish(t, publication(t, p, 3, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), nil))
	e.setConsent(t, p, false)
	if _, err := e.deliverer(t, fastOptions("r1")).DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ := e.rec.Messages(ctx, MessageFilter{PatientID: p.ID})
	if len(ms) != 1 || ms[0].State != StateCancelled || !strings.Contains(ms[0].LastError, string(consent.ReasonNoConsent)) {
		t.Fatalf("message: %+v; want cancelled for %s", ms, consent.ReasonNoConsent)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the record server", n)
	}
	if n := e.count(t, `SELECT count(*) FROM access_log WHERE patient_id = $1 AND outcome = 'denied'
		AND reason = 'no-third-party-consent' AND actor_id = 'fsecgm-delivery/ehr'`, p.ID); n != 1 {
		t.Errorf("denials in the access log: %d, want 1", n)
	}
	// The care relationship ends: the message for a care subscription is
	// cancelled too.
	q := e.patient(t, 12, true)
	e.care(t, q, consent.CareMMG, testCF(500))
	e.subscribe(t, "mmg", srv.URL(), func(s *Subscription) {
		s.Kind, s.Scope = KindMMG, Scope{Kind: ScopeCare, CareKind: consent.CareMMG}
	})
	e.publish(t, publication(t, q, 3, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), nil))
	reg := consent.Actor{Role: "service", ClientID: "anagrafe", Scopes: []string{consent.ScopeRegistry}}
	if _, err := e.consent.EndCareRelationship(ctx, reg, consent.CareRelationship{PatientFiscalCode: q.FiscalCode,
		Kind: consent.CareMMG, PractitionerFiscalCode: testCF(500)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deliverer(t, fastOptions("r1")).DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	ms, _ = e.rec.Messages(ctx, MessageFilter{PatientID: q.ID, Subscription: "mmg"})
	if len(ms) != 1 || ms[0].State != StateCancelled {
		t.Errorf("message after the care relationship ended: %+v; want cancelled", ms)
	}
}

// TestDeliverPoisoned: a message that keeps failing is poisoned after
// MaxAttempts and shown to the operator; one refused for good (422) at
// once; Retry puts it back.
func TestDeliverPoisoned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	status := http.StatusServiceUnavailable
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	t.Cleanup(bad.Close)
	e.subscribe(t, "down", bad.URL+"/fhir", nil)
	p := e.patient(t, 13, true)
	e.publish(t, publication(t, p, 3, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), nil))
	o := fastOptions("r1")
	o.MaxAttempts, o.MinBackoff, o.MaxBackoff = 3, time.Millisecond, time.Millisecond
	d := e.deliverer(t, o)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		ps, err := e.rec.Poisoned(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 {
			if ps[0].Attempts != 3 || ps[0].LastStatus != 503 || !strings.Contains(ps[0].LastError, "503") {
				t.Errorf("poisoned message: %+v", ps[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message was never poisoned")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, err := e.rec.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Poisoned != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	// The operator fixes nothing; the server now refuses the Bundle for
	// good: poisoned at the first attempt.
	status = http.StatusUnprocessableEntity
	ps, _ := e.rec.Poisoned(ctx)
	if err := e.rec.Retry(ctx, ps[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.rec.Retry(ctx, ps[0].ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("Retry of a pending message: %v, want ErrInvalid", err)
	}
	if _, err := d.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	ps, _ = e.rec.Poisoned(ctx)
	if len(ps) != 1 || ps[0].Attempts != 1 || ps[0].LastStatus != 422 {
		t.Errorf("after retry against a 422: %+v", ps)
	}
}

// TestDeliverClientCredentials: the access token comes from the record's
// token endpoint, with the secret from a file, and is reused.
func TestDeliverClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	srv := fakeRecords(t, recordtest.Options{Clients: map[string]string{"fsecgm": "pa$$ word"}})
	e.subscribe(t, "cc", srv.URL(), func(s *Subscription) {
		s.Auth = Auth{Kind: AuthClientCredentials, TokenURL: srv.TokenURL(), ClientID: "fsecgm", SecretFile: "/run/secrets/cc", Scope: "system/*.c"}
	})
	p := e.patient(t, 14, true)
	for i := range 2 {
		e.publish(t, publication(t, p, 3, time.Date(2024, 5, 1+i, 0, 0, 0, 0, rome), nil))
	}
	o := fastOptions("r1")
	reads := 0
	o.ReadFile = func(name string) ([]byte, error) {
		reads++
		if name != "/run/secrets/cc" {
			return nil, errors.New("no such file")
		}
		return []byte("pa$$ word\n"), nil
	}
	if n, err := e.deliverer(t, o).DeliverDue(ctx); err != nil || n != 2 {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	ms, _ := e.rec.Messages(ctx, MessageFilter{State: StateDelivered})
	if len(ms) != 2 {
		t.Fatalf("delivered %d of 2 (last error %q)", len(ms), lastError(t, e))
	}
	if reads != 2 || srv.TokensIssued() != 1 {
		t.Errorf("secret read %d times, %d tokens issued; want 2 and 1 (the token is reused)", reads, srv.TokensIssued())
	}
	// A wrong secret: the delivery fails and is retried, never sent
	// without a token.
	o.ReadFile = func(string) ([]byte, error) { return []byte("wrong"), nil }
	e.publish(t, publication(t, p, 3, time.Date(2024, 5, 9, 0, 0, 0, 0, rome), nil))
	d := e.deliverer(t, o)
	if _, err := d.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	pending, _ := e.rec.Messages(ctx, MessageFilter{State: StatePending})
	if len(pending) != 1 || !strings.Contains(pending[0].LastError, "token endpoint: HTTP 401") {
		t.Errorf("pending after a refused token request: %+v", pending)
	}
}

func lastError(t *testing.T, e *env) string {
	ms, _ := e.rec.Messages(context.Background(), MessageFilter{})
	var s []string
	for _, m := range ms {
		s = append(s, string(m.State)+": "+m.LastError)
	}
	return strings.Join(s, "; ")
}

// TestCheckResponse: what counts as a delivered transaction.
func TestCheckResponse(t *testing.T) {
	t.Parallel()
	resp := func(statuses ...string) []byte {
		var es []map[string]any
		for _, s := range statuses {
			es = append(es, map[string]any{"response": map[string]any{"status": s}})
		}
		b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": es})
		return b
	}
	for _, tc := range []struct {
		name      string
		got       []byte
		ok        bool
		permanent bool
	}{
		{"created and found", resp("201 Created", "200 OK"), true, false},
		{"412 on an entry", resp("201 Created", "412 Precondition Failed"), false, true},
		{"400 on an entry", resp("400 Bad Request", "201"), false, true},
		{"500 on an entry", resp("500 Internal Server Error", "201"), false, false},
		{"429 on an entry", resp("429", "201"), false, false},
		{"an entry missing", resp("201 Created"), false, false},
		{"not a transaction-response", []byte(`{"resourceType":"Bundle","type":"batch-response"}`), false, false},
		{"not JSON", []byte(`<html>`), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkResponse(2, tc.got)
			if (err == nil) != tc.ok {
				t.Fatalf("checkResponse = %v, want ok %v", err, tc.ok)
			}
			var de *deliveryError
			if err != nil && (!errors.As(err, &de) || de.permanent != tc.permanent) {
				t.Errorf("permanent = %v, want %v", de != nil && de.permanent, tc.permanent)
			}
		})
	}
}

// TestBackoff: exponential with jitter over the upper half, capped, and
// Retry-After honoured up to the cap.
func TestBackoff(t *testing.T) {
	t.Parallel()
	d := &Deliverer{o: DeliveryOptions{MinBackoff: time.Second, MaxBackoff: 60 * time.Second}}
	for _, tc := range []struct {
		n        int
		after    time.Duration
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, 2 * time.Second},
		{4, 0, 4 * time.Second, 8 * time.Second},
		{20, 0, 30 * time.Second, 60 * time.Second},
		{1, 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{1, time.Hour, 60 * time.Second, 60 * time.Second},
	} {
		for range 50 {
			if b := d.backoff(tc.n, tc.after); b < tc.min || b > tc.max {
				t.Fatalf("backoff(%d, %v) = %v, want in [%v, %v]", tc.n, tc.after, b, tc.min, tc.max)
			}
		}
	}
}

// Bundles of the IG are what is delivered: a check that the fhir
// package's transaction Bundle says conditional create on every entry.
func TestDeliveredBundleIsConditional(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(t, 15, true)
	e.subscribe(t, "ehr", "https://ehr.example/fhir", nil)
	e.publish(t, publication(t, p, 3, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), examplePDF))
	var raw string
	if err := e.pool.QueryRow(context.Background(), `SELECT bundle::text FROM outbox`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var b fhir.Bundle
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != fhir.BundleTransaction || b.Timestamp == "" {
		t.Errorf("bundle type %q timestamp %q", b.Type, b.Timestamp)
	}
	for i, en := range b.Entry {
		if en.Request == nil || en.Request.Method != "POST" || !strings.HasPrefix(en.Request.IfNoneExist, "identifier=") {
			t.Errorf("entry %d: request %+v, want a conditional create", i, en.Request)
		}
	}
}

// TestDeliverShutdown: at shutdown a delivery still running after Grace is
// handed back (lease released, attempt not counted), and Run returns.
func TestDeliverShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	arrived := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then a closed connection cancels r's context
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	e.subscribe(t, "slow", slow.URL+"/fhir", nil)
	p := e.patient(t, 16, true)
	e.publish(t, publication(t, p, 3, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), nil))
	o := fastOptions("r1")
	o.Timeout, o.Lease, o.Grace = 5*time.Second, 30*time.Second, 100*time.Millisecond
	d := e.deliverer(t, o)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never started")
	}
	stopped := time.Now()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	if d := time.Since(stopped); d > 2*time.Second {
		t.Errorf("Run took %v to return after shutdown (grace 100ms)", d)
	}
	ms, _ := e.rec.Messages(ctx, MessageFilter{})
	if len(ms) != 1 || ms[0].State != StatePending || ms[0].Attempts != 0 {
		t.Fatalf("message after shutdown: %+v; want pending with the attempt not counted", ms)
	}
	var leased bool
	if err := e.pool.QueryRow(ctx, `SELECT lease_owner IS NOT NULL FROM outbox`).Scan(&leased); err != nil || leased {
		t.Errorf("lease kept after hand-back: %v %v", leased, err)
	}
}
