package connsync

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestFaults checks every LibreLinkUp fault at the connection level: the
// state and advice the connection shows, when it is tried again, how many
// logins it costs, that nothing stored is touched, and that once the
// fault is gone the connection recovers without losing a reading.
func TestFaults(t *testing.T) {
	t.Parallel()
	type fault struct {
		name   string
		inject func(e *testEnv, email string)
		clear  func(e *testEnv, email string)
		state  State
		kind   string
		// wait is the expected delay before the next attempt (0: the next
		// regular slot, half to one and a half 1-minute test intervals on).
		wait time.Duration
		// logins is the number of login requests the faulty sync makes.
		logins int
		// advice is a fragment of the Italian advice.
		advice string
	}
	setFaults := func(f librelinkuptest.Faults) func(*testEnv, string) {
		return func(e *testEnv, email string) {
			if err := e.fake.SetFaults(email, f); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	clearFaults := setFaults(librelinkuptest.Faults{})
	cases := []fault{
		{name: "bad credentials (status 2) after a 401", state: StateBadCredentials, kind: "bad credentials", logins: 1, advice: "non riprova",
			inject: func(e *testEnv, email string) {
				must(e.t, e.fake.SetPassword(email, "changed-in-the-app"))
				must(e.t, e.fake.ExpireTokens(email))
			}},
		{name: "step tou", state: StateActionNeeded, kind: "step required", wait: DefaultActionNeededRetry, logins: 1, advice: "condizioni d'uso",
			inject: func(e *testEnv, email string) {
				must(e.t, e.fake.SetSteps(email, "tou"))
				must(e.t, e.fake.ExpireTokens(email))
			},
			clear: func(e *testEnv, email string) { must(e.t, e.fake.SetSteps(email)) }},
		{name: "step pp", state: StateActionNeeded, kind: "step required", wait: DefaultActionNeededRetry, logins: 1, advice: "privacy",
			inject: func(e *testEnv, email string) {
				must(e.t, e.fake.SetSteps(email, "pp"))
				must(e.t, e.fake.ExpireTokens(email))
			},
			clear: func(e *testEnv, email string) { must(e.t, e.fake.SetSteps(email)) }},
		{name: "step verifyEmail", state: StateActionNeeded, kind: "step required", wait: DefaultActionNeededRetry, logins: 1, advice: "e-mail",
			inject: func(e *testEnv, email string) {
				must(e.t, e.fake.SetSteps(email, "verifyEmail"))
				must(e.t, e.fake.ExpireTokens(email))
			},
			clear: func(e *testEnv, email string) { must(e.t, e.fake.SetSteps(email)) }},
		{name: "locked", state: StateBackingOff, kind: "account locked", wait: librelinkuptest.DefaultLockoutDuration, logins: 1, advice: "bloccato",
			inject: func(e *testEnv, email string) {
				must(e.t, e.fake.Lock(email, librelinkuptest.DefaultLockoutDuration))
				must(e.t, e.fake.ExpireTokens(email))
			},
			clear: func(e *testEnv, email string) { must(e.t, e.fake.Lock(email, 0)) }},
		{name: "429 with Retry-After", state: StateBackingOff, kind: "rate limited", wait: 120 * time.Second, advice: "Troppe richieste",
			inject: setFaults(librelinkuptest.Faults{RateLimit: true, RetryAfter: 120 * time.Second}), clear: clearFaults},
		{name: "429 with a Retry-After date", state: StateBackingOff, kind: "rate limited", wait: 600 * time.Second, advice: "Troppe richieste",
			inject: setFaults(librelinkuptest.Faults{RateLimit: true, RetryAfter: 600 * time.Second, RetryAfterDate: true}), clear: clearFaults},
		{name: "429 without Retry-After", state: StateBackingOff, kind: "rate limited", wait: librelinkup.DefaultRateLimitWait, advice: "Troppe richieste",
			inject: setFaults(librelinkuptest.Faults{RateLimit: true}), clear: clearFaults},
		{name: "Cloudflare HTML page", state: StateBackingOff, kind: "HTML page instead of JSON", wait: librelinkup.DefaultHTMLPageWait, advice: "Cloudflare",
			inject: setFaults(librelinkuptest.Faults{Cloudflare: http.StatusForbidden}), clear: clearFaults},
		{name: "maintenance 911", state: StateBackingOff, kind: "maintenance (status 911)", wait: librelinkup.DefaultMaintenanceWait, advice: "manutenzione",
			inject: setFaults(librelinkuptest.Faults{Maintenance: true}), clear: clearFaults},
		{name: "401 on every call", state: StateError, kind: "unauthorized", logins: 1, advice: "token",
			inject: setFaults(librelinkuptest.Faults{Unauthorized: true}), clear: clearFaults},
		{name: "HTTP 503", state: StateError, kind: "server error", advice: "errore del server",
			inject: setFaults(librelinkuptest.Faults{ServerError: http.StatusServiceUnavailable}), clear: clearFaults},
		{name: "timeout", state: StateError, kind: "timeout", advice: "in tempo",
			inject: setFaults(librelinkuptest.Faults{Delay: 3 * time.Second, On: librelinkuptest.EndpointGraph}), clear: clearFaults},
		{name: "truncated JSON", state: StateError, kind: "malformed JSON", advice: "incompleta",
			inject: setFaults(librelinkuptest.Faults{TruncatedJSON: true}), clear: clearFaults},
		{name: "connection dropped mid-body", state: StateError, kind: "malformed JSON", advice: "incompleta",
			inject: setFaults(librelinkuptest.Faults{DropConnection: true}), clear: clearFaults},
		{name: "malformed JSON", state: StateError, kind: "malformed JSON", advice: "incompleta",
			inject: setFaults(librelinkuptest.Faults{MalformedJSON: true}), clear: clearFaults},
		// LibreLinkUp as it is in 2026 (reference librelinkup.md §8):
		// action needed, tried again rarely, never at each sync; the
		// advice names the LibreView website where documents may have to
		// be accepted.
		{name: "login refused: HTTP 430, empty body", state: StateActionNeeded, kind: "login refused (action needed)",
			wait: DefaultActionNeededRetry, logins: 1, advice: "www.libreview.com",
			inject: func(e *testEnv, email string) {
				setFaults(librelinkuptest.Faults{LoginRefused: 430})(e, email)
				must(e.t, e.fake.ExpireTokens(email))
			}, clear: clearFaults},
		{name: "login refused: HTTP 403, empty body", state: StateActionNeeded, kind: "login refused (action needed)",
			wait: DefaultActionNeededRetry, logins: 1, advice: "sito LibreView",
			inject: func(e *testEnv, email string) {
				setFaults(librelinkuptest.Faults{LoginRefused: http.StatusForbidden})(e, email)
				must(e.t, e.fake.ExpireTokens(email))
			}, clear: clearFaults},
		{name: "login without a token (two-factor)", state: StateActionNeeded, kind: "two-factor authentication",
			wait: DefaultActionNeededRetry, logins: 1, advice: "due fattori",
			inject: func(e *testEnv, email string) {
				setFaults(librelinkuptest.Faults{TwoFactor: true})(e, email)
				must(e.t, e.fake.ExpireTokens(email))
			}, clear: clearFaults},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 1, 0, nil)
			email := e.accounts[0].Email
			p, c := e.connect(0)
			first := e.clock.Now()
			e.syncDue()
			before := e.readingsSnapshot()
			stats := e.fake.Stats(email)

			e.clock.Advance(30 * time.Minute)
			tc.inject(e, email)
			e.due()
			st := e.syncDue()
			if st.Synced != 1 || st.Failed != 1 {
				t.Fatalf("faulty SyncDue = %+v, want one failed sync", st)
			}
			got := e.conn(p, c.ID)
			if got.State != tc.state || got.Problem == nil || got.Problem.Kind != tc.kind {
				t.Fatalf("connection = state %s, problem %+v; want state %s, kind %q", got.State, got.Problem, tc.state, tc.kind)
			}
			if !strings.Contains(got.Problem.Advice.IT, tc.advice) || got.Problem.Advice.EN == "" {
				t.Errorf("advice = %+v, want Italian advice containing %q and English advice", got.Problem.Advice, tc.advice)
			}
			if diff := cmp.Diff(before, e.readingsSnapshot()); diff != "" {
				t.Errorf("stored readings changed by a failed sync (-before +after):\n%s", diff)
			}
			after := e.fake.Stats(email)
			if n := (after.Logins - after.Redirects) - (stats.Logins - stats.Redirects); n != tc.logins {
				t.Errorf("login requests during the faulty sync = %d, want %d", n, tc.logins)
			}
			if after.Continues != 0 {
				t.Errorf("the sync accepted a step on the patient's behalf (%d continues)", after.Continues)
			}
			// When is it tried again?
			wait := got.NextSyncAt.Sub(got.LastSyncAt)
			if tc.wait > 0 {
				if wait < tc.wait-2*time.Second || wait > tc.wait+2*time.Second {
					t.Errorf("next attempt in %s, want %s", wait, tc.wait)
				}
				if got.Problem.RetryAt.IsZero() {
					t.Errorf("Problem.RetryAt is zero, want the next attempt")
				}
			} else if tc.state != StateBadCredentials && (wait < 30*time.Second || wait > 90*time.Second) {
				t.Errorf("next attempt in %s, want the first slot at least half the 1-minute interval later", wait)
			}
			if n := e.count(`SELECT count(*) FROM sync_runs WHERE outcome = $1`, tc.kind); n != 1 {
				t.Errorf("runs recorded with outcome %q = %d, want 1", tc.kind, n)
			}

			// Waiting for the patient: the regular ticks of the next
			// slots make no request (the next attempt is an hour away).
			if tc.state == StateActionNeeded {
				for range 3 {
					e.syncDue()
				}
				if again := e.fake.Stats(email); again.Logins != after.Logins || again.Graphs != after.Graphs {
					t.Errorf("requests while waiting for the patient: %+v, before %+v: want none", again, after)
				}
			}
			// While the fault lasts, no sync makes a new login for a
			// refused password or during a block.
			if tc.state == StateBadCredentials || tc.state == StateBackingOff {
				e.due()
				e.syncDue()
				again := e.fake.Stats(email)
				if again.Logins != after.Logins || again.Graphs != after.Graphs {
					t.Errorf("requests after %s: %+v, before %+v: want none", tc.state, again, after)
				}
			}

			// The fault goes; the connection recovers without losing a reading.
			if tc.state == StateBadCredentials {
				err := e.tx(func(tx pgx.Tx) error {
					_, err := e.syncer.UpdateCredentials(context.Background(), tx, p.ID, c.ID,
						ConnectRequest{Email: email, Password: "changed-in-the-app"})
					return err
				})
				if err != nil {
					t.Fatalf("UpdateCredentials: %v", err)
				}
			} else {
				tc.clear(e, email)
				e.unblock()
			}
			e.clock.Advance(3 * time.Hour)
			e.due()
			if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 {
				t.Fatalf("SyncDue after the fault = %+v, want one successful sync", st)
			}
			got = e.conn(p, c.ID)
			if got.State != StateActive || got.Problem != nil {
				t.Errorf("after the fault: state %s, problem %+v; want active", got.State, got.Problem)
			}
			if diff := cmp.Diff(wantHistoric(e.sim(0), first, e.clock.Now()), gotHistoric(e.historic(p))); diff != "" {
				t.Errorf("readings lost or duplicated across the fault (-want +got):\n%s", diff)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestVersionRaised: a 920 answer is retried once with the version the
// server asks for, the sync succeeds, and the operator is warned.
func TestVersionRaised(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	email := e.accounts[0].Email
	p, c := e.connect(0)
	must(t, e.fake.SetFaults(email, librelinkuptest.Faults{MinimumVersion: "4.99.0"}))
	if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("SyncDue = %+v, want one successful sync", st)
	}
	got := e.conn(p, c.ID)
	if got.State != StateActive || !strings.Contains(got.OperatorWarning, "4.99.0") {
		t.Errorf("connection = %s, warning %q; want active with an operator warning naming 4.99.0", got.State, got.OperatorWarning)
	}
	ws := e.syncer.Warnings()
	if len(ws) != 1 || ws[0].NewVersion != "4.99.0" {
		t.Errorf("Warnings() = %+v, want one naming 4.99.0", ws)
	}
	probs, err := e.syncer.Problems(context.Background(), e.pool)
	if err != nil || len(probs) != 1 || probs[0].ID != c.ID {
		t.Errorf("Problems() = %+v, %v; want the warned connection", probs, err)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN"`) {
		t.Errorf("no warning logged for the operator")
	}
}

// TestBadCredentialsAtMostOneFailedLogin: after a refused password, no
// sync, however often due, makes another login until the credentials
// change; wrong new credentials are refused at once and change nothing.
func TestBadCredentialsAtMostOneFailedLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, 0, nil)
	email := e.accounts[0].Email
	p, c := e.connect(0)
	must(t, e.fake.SetPassword(email, "new-password-1"))
	must(t, e.fake.ExpireTokens(email))
	for range 5 {
		e.due()
		e.exec(`UPDATE sync_connections SET state = 'error' WHERE state = 'bad_credentials'`) // even if it were claimed
		e.syncDue()
	}
	if st := e.fake.Stats(email); st.FailedLogins != 1 || st.Locked != 0 {
		t.Fatalf("fake stats = %+v, want exactly one failed login and no lockout", st)
	}
	// Wrong new credentials: refused at once, one more failed login.
	err := e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.UpdateCredentials(context.Background(), tx, p.ID, c.ID, ConnectRequest{Email: email, Password: "still-wrong"})
		return err
	})
	if librelinkup.KindOf(err) != librelinkup.KindBadCredentials {
		t.Fatalf("UpdateCredentials with a wrong password = %v, want a bad-credentials refusal", err)
	}
	if got := e.conn(p, c.ID); got.State != StateBadCredentials {
		t.Errorf("state = %s, want bad_credentials", got.State)
	}
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.UpdateCredentials(context.Background(), tx, p.ID, c.ID, ConnectRequest{Email: email, Password: "new-password-1"})
		return err
	})
	if err != nil {
		t.Fatalf("UpdateCredentials: %v", err)
	}
	if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("SyncDue with new credentials = %+v", st)
	}
	if st := e.fake.Stats(email); st.FailedLogins != 2 || st.Locked != 0 {
		t.Errorf("fake stats = %+v, want 2 failed logins (one per wrong password) and no lockout", st)
	}
}

// TestConnectRefusals: a wrong password is reported at once, without
// retry, and nothing is stored; a pending step stores the connection in
// action_needed.
func TestConnectRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p := e.patient(0)
	err := e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Connect(context.Background(), tx, p.ID, ConnectRequest{Email: e.accounts[0].Email, Password: "wrong"})
		return err
	})
	var ue *UserError
	if !errorsAs(err, &ue) || ue.Code != "bad_credentials" || !errorsIs(err, ErrRefused) {
		t.Fatalf("Connect with a wrong password = %v, want a bad_credentials refusal", err)
	}
	if st := e.fake.Stats(e.accounts[0].Email); st.FailedLogins != 1 {
		t.Errorf("failed logins = %d, want 1", st.FailedLogins)
	}
	if n := e.count(`SELECT count(*) FROM sync_connections`) + e.count(`SELECT count(*) FROM llu_accounts`); n != 0 {
		t.Errorf("rows stored after a refusal: %d", n)
	}

	must(t, e.fake.SetSteps(e.accounts[1].Email, "tou"))
	p1 := e.patient(1)
	var c Connection
	err = e.tx(func(tx pgx.Tx) error {
		var err error
		c, err = e.syncer.Connect(context.Background(), tx, p1.ID, ConnectRequest{Email: e.accounts[1].Email, Password: e.accounts[1].Password})
		return err
	})
	if err != nil || c.State != StateActionNeeded || c.Problem == nil {
		t.Fatalf("Connect with a pending step = %+v, %v; want action_needed", c, err)
	}
	// The patient accepts in the app and says so.
	must(t, e.fake.SetSteps(e.accounts[1].Email))
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.SyncSoon(context.Background(), tx, p1.ID, c.ID)
		return err
	})
	must(t, err)
	if st := e.syncDue(); st.Synced != 1 || st.Failed != 0 {
		t.Fatalf("SyncDue after the step = %+v", st)
	}
	if got := e.conn(p1, c.ID); got.State != StateActive || got.NewestReadingAt.IsZero() {
		t.Errorf("after the step: %+v", got)
	}
	// The same account cannot be connected twice.
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Connect(context.Background(), tx, p.ID, ConnectRequest{Email: strings.ToUpper(e.accounts[1].Email), Password: e.accounts[1].Password})
		return err
	})
	if !errorsIs(err, ErrConflict) {
		t.Errorf("second Connect of one account = %v, want ErrConflict", err)
	}
}
