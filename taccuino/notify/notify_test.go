package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
)

// rome is Mario's zone.
var rome, _ = time.LoadLocation("Europe/Rome")

// TestConfirmationRequired: no notification before the address is
// confirmed; the link works once, and not after 24 hours; setting and
// confirming are in the access log.
func TestConfirmationRequired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	ch, err := e.svc.Request(ctx, e.self(), e.patient.ID, Request{Email: "Mario.Rossi@Example.ORG", Mode: ModeEach})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Settings.State != StatePending || ch.Settings.Pending.Email != "Mario.Rossi@example.org" || ch.Token != "" {
		t.Fatalf("after the request: %+v", ch)
	}
	ms := e.mail.Wait(1, 5*time.Second)
	if len(ms) != 1 || ms[0].To[0] != "Mario.Rossi@example.org" {
		t.Fatalf("confirmation e-mails: %+v", ms)
	}
	tok := tokenIn(t, ms[0])
	// A third-party read before the confirmation: nothing queued, nothing sent.
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(5 * time.Minute))
	if got := e.deliver(1); len(got) != 0 {
		t.Fatalf("%d notifications before the confirmation", len(got))
	}
	var queued int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM notification_events`).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("queued before the confirmation: %d %v", queued, err)
	}
	// The token is stored only as its hash.
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM notification_settings s WHERE row_to_json(s)::text LIKE '%'||$1||'%')
			+ (SELECT count(*) FROM access_log a WHERE row_to_json(a)::text LIKE '%'||$1||'%')
			+ (SELECT count(*) FROM notification_settings WHERE token_hash = sha256(convert_to($1, 'UTF8')))`, tok).
		Scan(&n); err != nil || n != 1 {
		t.Fatalf("the token: %d rows (want only its hash), %v", n, err)
	}
	c, err := e.store.Confirm(ctx, tok, "req-confirm")
	if err != nil {
		t.Fatal(err)
	}
	if c.Settings.State != StateConfirmed || c.Settings.Email != "Mario.Rossi@example.org" || c.Settings.Mode != ModeEach {
		t.Fatalf("after the confirmation: %+v", c.Settings)
	}
	if _, err := e.store.Confirm(ctx, tok, "again"); !errors.Is(err, ErrToken) {
		t.Errorf("second use of the link: %v, want ErrToken", err)
	}
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	if got := e.deliver(1); len(got) != 1 {
		t.Fatalf("%d notifications after the confirmation, want 1", len(got))
	}
	// The log has the request (by the patient, logged anyway) and the
	// confirmation (by the link).
	rows, _ := e.pool.Query(ctx, `SELECT basis, detail FROM access_log WHERE action = 'notifications.write' ORDER BY id`)
	var got []string
	for rows.Next() {
		var b, d string
		_ = rows.Scan(&b, &d)
		got = append(got, b+": "+d)
	}
	if rows.Err() != nil || len(got) != 2 || !strings.HasPrefix(got[0], "self: notifications each to M***@e***.org") ||
		!strings.HasPrefix(got[1], "link: confirm notification address M***@e***.org") {
		t.Errorf("access log: %q %v", got, rows.Err())
	}

	// A new address expires after 24 hours; the confirmed one stays.
	if _, err := e.svc.Request(ctx, e.self(), e.patient.ID, Request{Email: "other@example.org", Mode: ModeDaily}); err != nil {
		t.Fatal(err)
	}
	ms = e.mail.Wait(3, 5*time.Second)
	tok = tokenIn(t, ms[len(ms)-1])
	e.clock.Set(e.clock.Now().Add(TokenValidity + time.Second))
	if _, err := e.store.Confirm(ctx, tok, "late"); !errors.Is(err, ErrExpired) {
		t.Errorf("expired link: %v, want ErrExpired", err)
	}
	st, err := e.store.Settings(ctx, e.self(), e.patient.ID)
	if err != nil || st.State != StateConfirmed || st.Email != "Mario.Rossi@example.org" || st.Pending != nil {
		t.Errorf("after the expired link: %+v %v", st, err)
	}
	checkClean(t, e.mail.Messages()[1:2])
}

// TestRequestRules: who may set the address, what is valid, and a
// refused address withdraws the change.
func TestRequestRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	for _, a := range []consent.Actor{gp(), diabetologist(), stranger(), {RequestID: "anon"}} {
		_, err := e.svc.Request(ctx, a, e.patient.ID, Request{Email: "x@example.org", Mode: ModeEach})
		if !errors.Is(err, consent.ErrDenied) {
			t.Errorf("%v sets the address: %v, want denied", a, err)
		}
	}
	for _, bad := range []Request{{Email: "not an address", Mode: ModeEach}, {Email: "Mario <m@example.org>", Mode: ModeEach},
		{Email: "m@localhost", Mode: ModeEach}, {Email: "m@example.org", Mode: "weekly"}, {Email: "", Mode: ModeDaily}} {
		if _, err := e.svc.Request(ctx, e.self(), e.patient.ID, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	e.mail.Refuse("nobody@example.org", 550)
	_, err := e.svc.Request(ctx, e.self(), e.patient.ID, Request{Email: "nobody@example.org", Mode: ModeEach})
	var sf *SendFailure
	if !errors.As(err, &sf) || !sf.Refused {
		t.Fatalf("refused address: %v", err)
	}
	st, err := e.store.Settings(ctx, e.self(), e.patient.ID)
	if err != nil || st.State != StateNone || st.Pending != nil {
		t.Errorf("after a refused address: %+v %v", st, err)
	}
	// Mode changes on the confirmed address need no confirmation; off
	// stops at once.
	e.confirm(marioAddress, ModeEach, locale.IT)
	sent := len(e.mail.Messages())
	ch, err := e.svc.Request(ctx, e.self(), e.patient.ID, Request{Email: marioAddress, Mode: ModeDaily, Lang: locale.EN})
	if err != nil || ch.Settings.State != StateConfirmed || ch.Settings.Mode != ModeDaily || ch.Settings.Lang != locale.EN ||
		len(e.mail.Messages()) != sent {
		t.Errorf("mode change: %+v %v", ch.Settings, err)
	}
	ch, err = e.svc.Request(ctx, e.self(), e.patient.ID, Request{Mode: ModeOff})
	if err != nil || ch.Settings.Active() {
		t.Errorf("off: %+v %v", ch.Settings, err)
	}
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(48 * time.Hour))
	if got := e.deliver(sent); len(got) != 0 {
		t.Errorf("%d notifications while off", len(got))
	}
}

// TestEachMode: one message per access, the accesses of one person in one
// minute together, denials told, the patient's own reads never.
func TestEachMode(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 4, 10, 15, 2, 0, rome)
	e := newEnv(t, t0)
	e.confirm(marioAddress, ModeEach, locale.IT)
	before := len(e.mail.Messages())
	e.read(gp(), "latest glucose")
	e.clock.Set(t0.Add(20 * time.Second))
	e.read(gp(), "glucometrics 2026-04-20..2026-05-03")
	e.read(diabetologist(), "AGP report 2026-04-20..2026-05-03")
	e.read(e.self(), "taccuino 2026-04-20..2026-05-03") // the patient: never told
	e.clock.Set(t0.Add(40 * time.Second))
	e.read(stranger(), "latest glucose") // refused: told
	// Not yet due: the minute has not ended.
	if got := e.deliver(before); len(got) != 0 {
		t.Fatalf("%d messages before the minute ended", len(got))
	}
	e.clock.Set(t0.Add(65 * time.Second)) // 10:16:07: minute 10:15 ended 7 s ago
	got := e.deliver(before)
	if len(got) != 3 {
		t.Fatalf("%d messages for the minute 10:15, want 3 (GP, diabetologist, stranger)", len(got))
	}
	e.clock.Set(t0.Add(70 * time.Second))
	e.read(gp(), "readings 2026-05-03..2026-05-04") // next minute: another message
	e.clock.Set(t0.Add(2*time.Minute + 10*time.Second))
	got = e.deliver(before)
	if len(got) != 4 {
		t.Fatalf("%d messages in all, want 4", len(got))
	}
	want := []struct{ who, what []string }{
		{[]string{"Luca Verdi, medico di medicina generale"}, []string{"10:15:02 — ha consultato l'ultima glicemia — consentito",
			"10:15:22 — ha consultato il profilo glicemico (metriche del sensore) dal 20/04/2026 al 03/05/2026 — consentito"}},
		{[]string{"Sara Neri, diabetologo, " + centre}, []string{"ha consultato il referto AGP"}},
		{[]string{"Paolo Bianchi, medico di medicina generale", "Tentativo di accesso negato"},
			[]string{"ha tentato di consultare l'ultima glicemia — negato (nessuna relazione di cura)"}},
		{[]string{"Luca Verdi"}, []string{"10:16:12 — ha consultato le letture del sensore"}},
	}
	for i, w := range want {
		m := got[i]
		for _, s := range append(w.who, w.what...) {
			if !strings.Contains(m.Subject+"\n"+m.Body, s) {
				t.Errorf("message %d lacks %q:\n%s\n%s", i, s, m.Subject, m.Body)
			}
		}
		if !strings.Contains(m.Body, base+"/taccuino/p/"+e.patient.PublicID+"#access-log") || m.To[0] != marioAddress {
			t.Errorf("message %d: no link to the access log, or wrong recipient %v", i, m.To)
		}
		if !strings.Contains(m.Body, "(CEST)") || !strings.Contains(m.Body, "Europe/Rome") {
			t.Errorf("message %d: not in local time:\n%s", i, m.Body)
		}
	}
	var told, own int
	if err := e.pool.QueryRow(context.Background(), `SELECT
			(SELECT sum(cardinality(access_log_ids)) FROM notification_messages),
			(SELECT count(*) FROM notification_messages m JOIN access_log a ON a.id = ANY(m.access_log_ids) WHERE a.basis = 'self')`).
		Scan(&told, &own); err != nil || told != 5 || own != 0 {
		t.Errorf("accesses told %d (want 5), the patient's own among them %d: %v", told, own, err)
	}
	checkClean(t, got)
	// Nothing left: every access told once.
	e.clock.Set(t0.Add(time.Hour))
	if again := e.deliver(before); len(again) != 4 {
		t.Errorf("%d messages after another round, want still 4", len(again))
	}
}

// TestDailyDST: one digest per local day, composed at 08:00 of the next
// day, on the days the clocks go forward (29 March 2026, 23 hours) and back
// (25 October 2026, 25 hours) in Europe/Rome.
func TestDailyDST(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Date(2026, 3, 27, 12, 0, 0, 0, rome))
	e.confirm(marioAddress, ModeDaily, locale.EN)
	before := len(e.mail.Messages())
	at := func(t time.Time) { e.clock.Set(t); e.read(gp(), "latest glucose") }
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	// 28 March (CET, UTC+1).
	at(utc(2026, 3, 27, 23, 30)) // 00:30 on the 28th
	at(utc(2026, 3, 28, 22, 59)) // 23:59 on the 28th
	// 29 March: 23 hours; 02:00 CET becomes 03:00 CEST (01:00 UTC).
	at(utc(2026, 3, 28, 23, 0))  // 00:00 CET on the 29th
	at(utc(2026, 3, 29, 0, 59))  // 01:59 CET
	at(utc(2026, 3, 29, 1, 0))   // 03:00 CEST
	at(utc(2026, 3, 29, 21, 59)) // 23:59 CEST on the 29th
	at(utc(2026, 3, 29, 22, 0))  // 00:00 CEST on the 30th
	// 25 October: 25 hours; 03:00 CEST becomes 02:00 CET (01:00 UTC):
	// 02:30 happens twice.
	at(utc(2026, 10, 24, 22, 0))  // 00:00 CEST on the 25th
	at(utc(2026, 10, 25, 0, 30))  // 02:30 CEST
	at(utc(2026, 10, 25, 1, 30))  // 02:30 CET
	at(utc(2026, 10, 25, 22, 59)) // 23:59 CET on the 25th
	at(utc(2026, 10, 25, 23, 0))  // 00:00 CET on the 26th

	type step struct {
		now  time.Time
		want []string // subjects of the digests composed by then (new ones)
	}
	steps := []step{
		{time.Date(2026, 3, 29, 7, 59, 0, 0, rome), nil},
		{time.Date(2026, 3, 29, 8, 0, 0, 0, rome), []string{"Accesses to your glucose notebook on 28/03/2026: 2"}},
		{time.Date(2026, 3, 30, 7, 59, 0, 0, rome), nil},
		{time.Date(2026, 3, 30, 8, 0, 0, 0, rome), []string{"Accesses to your glucose notebook on 29/03/2026: 4"}},
		{time.Date(2026, 3, 31, 8, 0, 0, 0, rome), []string{"Accesses to your glucose notebook on 30/03/2026: 1"}},
		{time.Date(2026, 10, 26, 7, 59, 0, 0, rome), nil},
		{time.Date(2026, 10, 26, 8, 0, 0, 0, rome), []string{"Accesses to your glucose notebook on 25/10/2026: 4"}},
		{time.Date(2026, 10, 27, 8, 0, 0, 0, rome), []string{"Accesses to your glucose notebook on 26/10/2026: 1"}},
		{time.Date(2026, 10, 28, 8, 0, 0, 0, rome), nil},
	}
	seen := 0
	for _, s := range steps {
		e.clock.Set(s.now)
		got := e.deliver(before + seen)
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		if strings.Join(subjects, "|") != strings.Join(s.want, "|") {
			t.Errorf("at %s: digests %q, want %q", s.now.Format(time.RFC3339), subjects, s.want)
		}
		seen += len(got)
	}
	all := e.mail.Messages()[before:]
	if len(all) != 5 {
		t.Fatalf("%d digests, want 5", len(all))
	}
	for _, w := range []struct {
		digest int
		lines  []string
	}{
		{1, []string{"Sunday 29/03/2026", "00:00:00 CET", "01:59:00 CET", "03:00:00 CEST", "23:59:00 CEST"}},
		{3, []string{"Sunday 25/10/2026", "00:00:00 CEST", "02:30:00 CEST", "02:30:00 CET", "23:59:00 CET"}},
	} {
		for _, l := range w.lines {
			if !strings.Contains(all[w.digest].Body, l) {
				t.Errorf("digest %d lacks %q:\n%s", w.digest, l, all[w.digest].Body)
			}
		}
	}
	checkClean(t, all)
}

// TestOwnReadsNotTold: the patient's own reads and settings changes queue
// nothing.
func TestOwnReadsNotTold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	e.confirm(marioAddress, ModeEach, locale.IT)
	before := len(e.mail.Messages())
	for range 5 {
		e.read(e.self(), "latest glucose")
	}
	if _, err := e.svc.Request(context.Background(), e.self(), e.patient.ID, Request{Email: marioAddress, Mode: ModeEach}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if got := e.deliver(before); len(got) != 0 {
		t.Errorf("%d messages for the patient's own reads", len(got))
	}
}
