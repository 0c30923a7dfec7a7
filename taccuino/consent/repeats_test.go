package consent

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
)

// TestRepeatedDenials: the same refusal of the same caller for the same
// patient within the hour is one access-log entry with a count and the
// last occurrence's time and request id, so that a flood cannot bury the
// patient's entries or fill the disk; other refusals, other callers, the
// next hour and every granted access get entries of their own.
func TestRepeatedDenials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	e.care(CareMMG, cfPatient, cfMMG, "")
	e.setConsent(pid, cfPatient, true)
	stranger := practitioner(cfStranger, auth.PractitionerMMG, "")
	entries := func() int {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM access_log WHERE patient_id = $1`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	base := entries()

	// 200 refusals of one stranger, with different details (periods):
	// one entry.
	for i := range 200 {
		e.clock.Set(e.clock.Now().Add(time.Second))
		a := stranger
		a.RequestID = fmt.Sprintf("req-flood-%d", i)
		wantDenied(t, e.s.Access(ctx, a, pid, ActReadData, fmt.Sprintf("glucometrics day %d", i), nil), ReasonNoCareRelationship)
	}
	// 50 at once: still the same entry (one statement, no race).
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			a := stranger
			a.RequestID = fmt.Sprintf("req-burst-%d", i)
			e.s.Access(ctx, a, pid, ActReadData, "readings", nil)
		})
	}
	wg.Wait()
	if n := entries() - base; n != 1 {
		t.Fatalf("%d entries for 250 identical refusals, want 1", n)
	}
	page, err := e.s.AccessLog(ctx, citizen(cfPatient), pid, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var flood AccessEntry
	for _, en := range page.Entries {
		if en.ActorID == cfStranger {
			flood = en
		}
	}
	if flood.Count != 250 || flood.Detail != "glucometrics day 0" || flood.RequestID != "req-flood-0" ||
		!flood.LastAt.After(flood.At) || flood.LastAt.Sub(flood.At) < 199*time.Second {
		t.Errorf("merged entry %+v, want count 250, the first detail and request id, the last time", flood)
	}
	// Another reason, another caller, an unauthenticated caller from two
	// addresses and two routes: an entry each; each of them repeated: no
	// more entries.
	other := practitioner(makeCF("BRNLCA", 1960, time.May, 5, false), auth.PractitionerMMG, "")
	for range 3 {
		wantDenied(t, e.s.Access(ctx, stranger, pid, ActWriteConsent, "revoke", nil), ReasonNotPermitted)
		wantDenied(t, e.s.Access(ctx, other, pid, ActReadData, "readings", nil), ReasonNoCareRelationship)
		for _, client := range []string{"192.0.2.1", "198.51.100.7"} {
			for _, detail := range []string{"GET readings: expired token", "GET glucometrics: no token"} {
				if err := e.s.LogDenied(ctx, pid, ActReadData, detail, Actor{RequestID: "anon", Client: client}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if n := entries() - base; n != 1+2+4 {
		t.Errorf("%d entries, want 7 (one per distinct refusal)", n)
	}
	// Granted accesses: one entry each.
	mmg := practitioner(cfMMG, auth.PractitionerMMG, "")
	for range 3 {
		if err := e.read(mmg, pid); err != nil {
			t.Fatal(err)
		}
	}
	if n := entries() - base; n != 7+3 {
		t.Errorf("%d entries after 3 granted reads, want 10", n)
	}
	// The next hour: a new entry for the same refusal.
	e.clock.Set(e.clock.Now().Add(time.Hour))
	wantDenied(t, e.s.Access(ctx, stranger, pid, ActReadData, "again", nil), ReasonNoCareRelationship)
	if n := entries() - base; n != 11 {
		t.Errorf("%d entries after the hour, want 11", n)
	}
}

// TestRepeatedDenialsNotifyOnce: the access notifications (package
// notify, whose trigger queues every access-log entry it inserts) are
// queued once for a repeated refusal: counting a repeat inserts no entry.
func TestRepeatedDenialsNotifyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pid := e.patient(cfPatient, time.Time{})
	if _, err := e.pool.Exec(ctx, `INSERT INTO notification_settings (patient_id, email, mode, confirmed_at, changed_at)
		VALUES ($1, 'paziente@example.org', 'each', now(), now())`, pid); err != nil {
		t.Fatal(err)
	}
	stranger := practitioner(cfStranger, auth.PractitionerMMG, "")
	for range 20 {
		wantDenied(t, e.s.Access(ctx, stranger, pid, ActReadData, "readings", nil), ReasonNoCareRelationship)
	}
	var events, occ int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notification_events WHERE patient_id = $1),
		(SELECT sum(occurrences) FROM access_log WHERE patient_id = $1)`, pid).Scan(&events, &occ); err != nil {
		t.Fatal(err)
	}
	if events != 1 || occ != 20 {
		t.Errorf("%d notifications queued for one refusal repeated %d times, want 1 for 20", events, occ)
	}
}
