package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/notify/mailtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

// composeOne makes one pending message for Mario (mode each) and returns
// the number of e-mails received before it.
func composeOne(t *testing.T, e *env) (int, int64) {
	t.Helper()
	e.confirm(marioAddress, ModeEach, locale.IT)
	before := len(e.mail.Messages())
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	if n, err := e.comp.ComposeDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("compose: %d %v", n, err)
	}
	var id int64
	if err := e.pool.QueryRow(context.Background(), `SELECT max(id) FROM notification_messages`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return before, id
}

func (e *env) state(id int64) (string, int) {
	e.t.Helper()
	var st string
	var h int
	if err := e.pool.QueryRow(context.Background(), `SELECT state, (SELECT count(*) FROM notification_handoffs WHERE message_id = $1)
		FROM notification_messages WHERE id = $1`, id).Scan(&st, &h); err != nil {
		e.t.Fatal(err)
	}
	return st, h
}

// expireLeases makes every lease expire now (the crashed replica's).
func (e *env) expireLeases() {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), `UPDATE notification_messages SET lease_until = now() WHERE lease_until IS NOT NULL`); err != nil {
		e.t.Fatal(err)
	}
}

// TestCrashBetweenSendAndCommit: a crash after the SMTP server accepted a
// message and before its outcome committed sends it again, once; a second
// such crash sends it to the operator instead of a third copy. Every copy
// has the same Message-ID.
func TestCrashBetweenSendAndCommit(t *testing.T) {
	t.Parallel()
	for _, crashes := range []int{1, 2} {
		t.Run(fmt.Sprintf("crashes=%d", crashes), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
			before, id := composeOne(t, e)
			for i := range crashes {
				crashing, err := NewSender(e.store, e.mailer, SenderOptions{Replica: fmt.Sprintf("crash-%d", i), Timeout: 5 * time.Second,
					Lease: time.Minute, AfterSend: func(int64) error { return errors.New("kill -9") }})
				if err != nil {
					t.Fatal(err)
				}
				if n, err := crashing.SendDue(ctx); n != 1 || err != nil {
					t.Fatalf("crashing send: %d %v", n, err)
				}
				if st, h := e.state(id); st != "pending" || h != i+1 {
					t.Fatalf("after crash %d: %s, %d hand-offs", i+1, st, h)
				}
				// Nobody takes it while the crashed replica's lease runs.
				other, _ := NewSender(e.store, e.mailer, SenderOptions{Replica: "other", Timeout: 5 * time.Second, Lease: time.Minute})
				if n, _ := other.SendDue(ctx); n != 0 {
					t.Fatalf("another replica took a leased message")
				}
				e.expireLeases()
			}
			good, _ := NewSender(e.store, e.mailer, SenderOptions{Replica: "good", Timeout: 5 * time.Second, Lease: time.Minute})
			if _, err := good.SendDue(ctx); err != nil {
				t.Fatal(err)
			}
			got := e.mail.Messages()[before:]
			if len(got) != 2 {
				t.Fatalf("%d copies received after %d crashes, want 2", len(got), crashes)
			}
			if got[0].MessageID == "" || got[0].MessageID != got[1].MessageID {
				t.Errorf("Message-IDs %q and %q, want one stable id", got[0].MessageID, got[1].MessageID)
			}
			st, _ := e.state(id)
			want := map[int]string{1: "sent", 2: "dead"}[crashes]
			if st != want {
				t.Errorf("state %s, want %s", st, want)
			}
			if crashes == 2 {
				ms, err := e.store.Messages(ctx, MessageFilter{State: MessageDead})
				if err != nil || len(ms) != 1 || ms[0].Handoffs != 2 {
					t.Fatalf("dead letters: %+v %v", ms, err)
				}
				// The operator resends it: a third copy, by choice.
				if err := e.store.Resend(ctx, id); err != nil {
					t.Fatal(err)
				}
				if _, err := good.SendDue(ctx); err != nil {
					t.Fatal(err)
				}
				if st, h := e.state(id); st != "sent" || h != 0 || len(e.mail.Messages()[before:]) != 3 {
					t.Errorf("after resend: %s, %d hand-offs, %d copies", st, h, len(e.mail.Messages()[before:]))
				}
			}
		})
	}
}

// TestLostReply: the connection drops after the end of DATA (the server
// kept the message): the attempt counts as a possible copy, and the retry
// sends the second and last.
func TestLostReply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	before, id := composeOne(t, e)
	e.mail.DropAfterData(1)
	s, _ := NewSender(e.store, e.mailer, SenderOptions{Replica: "r", Timeout: 5 * time.Second, Lease: time.Minute, MinBackoff: time.Millisecond,
		MaxBackoff: time.Millisecond})
	if _, err := s.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	// SendDue retried at once (1 ms backoff).
	if st, h := e.state(id); st != "sent" || h != 0 || len(e.mail.Messages()[before:]) != 2 {
		t.Errorf("after the retry: %s, %d hand-offs, %d copies", st, h, len(e.mail.Messages()[before:]))
	}
}

// TestThreeReplicas: three senders, each with its own pool, on one
// database: every message is received exactly once.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	e.confirm(marioAddress, ModeEach, locale.IT)
	before := len(e.mail.Messages())
	// 60 accesses in 60 different minutes: 60 messages.
	t0 := e.clock.Now()
	for i := range 60 {
		e.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		e.read(gp(), "latest glucose")
	}
	e.clock.Set(t0.Add(2 * time.Hour))
	if n, err := e.comp.ComposeDue(ctx); err != nil || n != 60 {
		t.Fatalf("compose: %d %v", n, err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 3 {
		pool, err := pgxpool.New(ctx, e.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		s, err := NewSender(New(pool, e.consent, Options{Now: e.clock.Now}), e.mailer, SenderOptions{
			Replica: fmt.Sprintf("replica-%d", i), Concurrency: 3, Poll: 20 * time.Millisecond, Timeout: 5 * time.Second, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = s.Run(rctx) })
	}
	got := e.mail.Wait(before+60, 30*time.Second)[before:]
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive by now
	stop()
	wg.Wait()
	got = e.mail.Messages()[before:]
	ids := map[string]int{}
	for _, m := range got {
		ids[m.MessageID]++
	}
	if len(got) != 60 || len(ids) != 60 {
		t.Errorf("%d messages received, %d distinct, want 60 and 60", len(got), len(ids))
	}
	var sent int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM notification_messages WHERE state = 'sent'`).Scan(&sent); err != nil || sent != 60 {
		t.Errorf("%d sent, want 60 (%v)", sent, err)
	}
	checkClean(t, got)
}

// TestBounce: a permanent refusal (550) marks the address bounced; nothing
// more is queued or sent to it until an address is confirmed again; a
// temporary refusal (450) is retried.
func TestBounce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	before, id := composeOne(t, e)
	s, _ := NewSender(e.store, e.mailer, SenderOptions{Replica: "r", Timeout: 5 * time.Second, Lease: time.Minute})
	// Temporary: retried, then sent.
	e.mail.Refuse(marioAddress, 450)
	if _, err := s.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(id); st != "pending" {
		t.Fatalf("after a 450: %s, want pending", st)
	}
	e.mail.Refuse(marioAddress, 0)
	if _, err := e.pool.Exec(ctx, `UPDATE notification_messages SET next_attempt_at = now()`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(id); st != "sent" {
		t.Fatalf("after the retry: %s, want sent", st)
	}
	// Permanent: bounced.
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	e.read(diabetologist(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	if n, err := e.comp.ComposeDue(ctx); err != nil || n != 2 {
		t.Fatalf("compose: %d %v", n, err)
	}
	e.mail.Refuse(marioAddress, 550)
	if _, err := s.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.store.Settings(ctx, e.self(), e.patient.ID)
	if err != nil || st.State != StateBounced || st.Active() {
		t.Fatalf("settings after a 550: %+v %v", st, err)
	}
	ms, _ := e.store.Messages(ctx, MessageFilter{})
	var states []MessageState
	for _, m := range ms {
		states = append(states, m.State)
	}
	if fmt.Sprint(states) != "[sent bounced cancelled]" {
		t.Errorf("message states %v, want [sent bounced cancelled]", states)
	}
	e.read(gp(), "latest glucose")
	var queued int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM notification_events`).Scan(&queued); err != nil || queued != 0 {
		t.Errorf("%d accesses queued for a bounced address", queued)
	}
	// Confirmed again: told again.
	e.mail.Refuse(marioAddress, 0)
	e.confirm(marioAddress, ModeEach, locale.IT)
	n := len(e.mail.Messages())
	e.read(gp(), "latest glucose")
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	if got := e.deliver(n); len(got) != 1 {
		t.Errorf("%d messages after the address was confirmed again, want 1", len(got))
	}
	if len(e.mail.Messages()[before:]) != 3 { // the first, the new confirmation, the last
		t.Errorf("%d e-mails in all after the first", len(e.mail.Messages()[before:]))
	}
}

// TestDeadAfterMaxAttempts: a message that keeps failing goes to the
// operator.
func TestDeadAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, time.Date(2026, 5, 4, 10, 0, 0, 0, rome))
	_, id := composeOne(t, e)
	e.mail.FailEnds(451, 451, 451)
	s, _ := NewSender(e.store, e.mailer, SenderOptions{Replica: "r", Timeout: 5 * time.Second, Lease: time.Minute,
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxAttempts: 3})
	for range 3 { // SendDue retries at once (1 ms backoff): one call may do all three
		time.Sleep(10 * time.Millisecond)
		if _, err := s.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st, h := e.state(id); st != "dead" || h != 0 {
		t.Errorf("after 3 refusals at the end of DATA: %s, %d hand-offs; want dead, 0", st, h)
	}
	stats, err := e.store.Stats(ctx)
	if err != nil || stats.Dead != 1 {
		t.Errorf("stats %+v %v", stats, err)
	}
}

// TestSTARTTLSAndAuth: the mailer upgrades with STARTTLS, authenticates,
// and refuses a server without STARTTLS when told to require it.
func TestSTARTTLSAndAuth(t *testing.T) {
	t.Parallel()
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate (127.0.0.1) and root pool
	defer ts.Close()
	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv, err := mailtest.Start(mailtest.Options{Username: "fsecgm", Password: "s3cret", TLS: ts.TLS})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg, err := ParseSMTPURL("smtp://fsecgm:s3cret@"+srv.Addr()+"?tls=required", "n@example.org")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	raw := []byte("Subject: hi\r\n\r\nhello\r\n")
	if err := NewSMTPMailer(cfg).Send(context.Background(), "to@example.org", raw, nil); err != nil {
		t.Fatal(err)
	}
	if ms := srv.Messages(); len(ms) != 1 || ms[0].From != "n@example.org" {
		t.Errorf("received %+v", ms)
	}
	cfg.Password = "wrong"
	var se *SendError
	if err := NewSMTPMailer(cfg).Send(context.Background(), "to@example.org", raw, nil); !errors.As(err, &se) || se.Stage != StageAuth || se.Bounce() {
		t.Errorf("wrong password: %v", err)
	}
	plain, _ := mailtest.Start(mailtest.Options{})
	defer plain.Close()
	pc, _ := ParseSMTPURL("smtp://"+plain.Addr()+"?tls=required", "n@example.org")
	if err := NewSMTPMailer(pc).Send(context.Background(), "to@example.org", raw, nil); !errors.As(err, &se) || se.Stage != StageConnect {
		t.Errorf("tls=required without STARTTLS: %v", err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, addr, tls, user, redacted string
		bad                            bool
	}{
		{url: "smtp://user:pa%40ss@mail.example.org:587", addr: "mail.example.org:587", tls: TLSOpportunistic, user: "user",
			redacted: "smtp://user@mail.example.org:587"},
		{url: "smtp://mail.example.org", addr: "mail.example.org:587", tls: TLSOpportunistic, redacted: "smtp://mail.example.org:587"},
		{url: "smtps://u:p@mail.example.org", addr: "mail.example.org:465", tls: TLSImplicit, user: "u", redacted: "smtps://u@mail.example.org:465"},
		{url: "smtp://127.0.0.1:2525?tls=none", addr: "127.0.0.1:2525", tls: TLSNone, redacted: "smtp://127.0.0.1:2525?tls=none"},
		{url: "smtp://u:p@relay.example.org:25?tls=none", bad: true},
		{url: "smtps://h?tls=none", bad: true},
		{url: "http://mail.example.org", bad: true},
		{url: "smtp://", bad: true},
		{url: "smtp://h?tls=maybe", bad: true},
		{url: "smtp://h?from=not-an-address", bad: true},
	} {
		cfg, err := ParseSMTPURL(c.url, "notifiche@example.org")
		if c.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", c.url, err)
			}
			continue
		}
		if err != nil || cfg.Addr != c.addr || cfg.TLS != c.tls || cfg.Username != c.user || cfg.Redacted() != c.redacted {
			t.Errorf("%s: %+v (%s) %v", c.url, cfg, cfg.Redacted(), err)
		}
		if c.user == "user" && cfg.Password != "pa@ss" {
			t.Errorf("%s: password %q", c.url, cfg.Password)
		}
	}
}

func TestEmails(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, norm, mask string }{
		{"mario.rossi@example.org", "mario.rossi@example.org", "m***@e***.org"},
		{" Mario@Example.ORG ", "Mario@example.org", "M***@e***.org"},
		{"a+b@sub.example.co.uk", "a+b@sub.example.co.uk", "a***@s***.uk"},
	} {
		n, err := NormalizeEmail(c.in)
		if err != nil || n != c.norm || MaskEmail(n) != c.mask {
			t.Errorf("%q: %q %q %v", c.in, n, MaskEmail(n), err)
		}
	}
	for _, bad := range []string{"", "a", "a@b", "@example.org", "a@@example.org", "Name <a@example.org>", "à@example.org",
		"a@[127.0.0.1]", "a b@example.org", "a@example.org.", string(make([]byte, 300))} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}
