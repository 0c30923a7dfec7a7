package librelinkup_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
)

const (
	email    = "mario.rossi@example.invalid"
	password = "Corretta-123"
)

// fixture is a fake LibreLinkUp with one patient following themselves, a
// client pointed at it, and a shared clock.
type fixture struct {
	fake      *librelinkuptest.Server
	clock     *librelinkuptest.Clock
	client    *librelinkup.Client
	url       string
	patientID string
	sim       *glucosim.Patient

	mu       sync.Mutex
	warnings []librelinkup.Warning
}

type setup struct {
	opts   librelinkuptest.Options
	cfg    librelinkup.Config
	model  glucosim.Model
	now    time.Time
	region string
}

func newFixture(t *testing.T, s setup) *fixture {
	t.Helper()
	if s.now.IsZero() {
		s.now = time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	}
	if s.model == 0 {
		s.model = glucosim.Libre3
	}
	if s.region == "" {
		s.region = "eu"
	}
	f := &fixture{clock: librelinkuptest.NewClock(s.now)}
	s.opts.Now = f.clock.Now
	f.fake = librelinkuptest.New(s.opts)
	f.url = f.fake.Start()
	t.Cleanup(f.fake.Close)
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	f.sim = glucosim.New(42, s.model, loc)
	f.patientID, err = f.fake.AddPatient(librelinkuptest.Patient{FirstName: "Mario", LastName: "Rossi", Sim: f.sim})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.fake.AddAccount(librelinkuptest.Account{Email: email, Password: password, Region: s.region,
		FirstName: "Mario", LastName: "Rossi", Follows: []string{f.patientID}}); err != nil {
		t.Fatal(err)
	}
	cfg := s.cfg
	if cfg.BaseURL == "" {
		cfg.BaseURL = f.url
	}
	cfg.Now = f.clock.Now
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = librelinkup.NewHTTPClient(5 * time.Second)
	}
	cfg.OnWarning = func(w librelinkup.Warning) {
		f.mu.Lock()
		f.warnings = append(f.warnings, w)
		f.mu.Unlock()
	}
	f.client, err = librelinkup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) account() *librelinkup.Account {
	return &librelinkup.Account{Credentials: librelinkup.Credentials{Email: email, Password: password}}
}

func (f *fixture) setFaults(t *testing.T, fl librelinkuptest.Faults) {
	t.Helper()
	if err := f.fake.SetFaults(email, fl); err != nil {
		t.Fatal(err)
	}
}

// asError returns err as *librelinkup.Error, failing the test otherwise.
func asError(t *testing.T, err error) *librelinkup.Error {
	t.Helper()
	var e *librelinkup.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *librelinkup.Error", err, err)
	}
	return e
}

func TestLoginFollowsRegionRedirectOnce(t *testing.T) {
	for _, region := range []string{"eu", "eu2", "de", "us", "ru", "cn", "la"} {
		t.Run(region, func(t *testing.T) {
			f := newFixture(t, setup{region: region})
			s, err := f.client.Login(context.Background(), email, password)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			want, _ := f.fake.AccountIDOf(email)
			if s.Region != region || s.AccountID != want || s.Token == "" {
				t.Errorf("session region %q account %q, want %q %q", s.Region, s.AccountID, region, want)
			}
			if got, want := s.Expires, f.clock.Now().Add(librelinkuptest.TokenLifetime); !got.Equal(want) {
				t.Errorf("session expires %v, want %v (180 days)", got, want)
			}
			st := f.fake.Stats(email)
			if st.Logins != 2 || st.Redirects != 1 || st.SuccessfulLogins != 1 || st.FailedLogins != 0 {
				t.Errorf("fake saw %+v, want 2 logins (global, then %s) and 1 redirect", st, region)
			}
		})
	}
}

func TestLoginAtConfiguredRegionSkipsRedirect(t *testing.T) {
	f := newFixture(t, setup{cfg: librelinkup.Config{Region: "eu"}})
	if _, err := f.client.Login(context.Background(), email, password); err != nil {
		t.Fatal(err)
	}
	if st := f.fake.Stats(email); st.Logins != 1 || st.Redirects != 0 {
		t.Errorf("fake saw %+v, want a single login and no redirect", st)
	}
}

func TestLoginRedirectWithoutPlaceholder(t *testing.T) {
	f := newFixture(t, setup{})
	c, err := librelinkup.New(librelinkup.Config{BaseURL: strings.TrimSuffix(f.url, "/{region}"), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(context.Background(), email, password)
	e := asError(t, err)
	if e.Kind != librelinkup.KindWrongRegion || e.Action() != librelinkup.ActionOperator {
		t.Errorf("Login via a fixed URL = %v, want KindWrongRegion for the operator", err)
	}
}

func TestLoginRedirectLoop(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":0,"data":{"redirect":true,"region":"eu2"}}`))
	}))
	defer srv.Close()
	c, _ := librelinkup.New(librelinkup.Config{BaseURL: srv.URL + "/{region}"})
	_, err := c.Login(context.Background(), email, password)
	if e := asError(t, err); e.Kind != librelinkup.KindWrongRegion {
		t.Errorf("Login = %v, want KindWrongRegion", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d login requests, want 2 (the redirect is followed once)", n.Load())
	}
}

func TestBadCredentialsOneFailedLogin(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		f := newFixture(t, setup{})
		a := f.account()
		a.Credentials.Password = "Sbagliata-1"
		_, err := f.client.Connections(context.Background(), a)
		e := asError(t, err)
		if e.Kind != librelinkup.KindBadCredentials || e.Action() != librelinkup.ActionStopCredentials || e.Status != 2 {
			t.Errorf("Connections = %v, want bad credentials (status 2) and stop", err)
		}
		if st := f.fake.Stats(email); st.FailedLogins != 1 || st.Connections != 0 {
			t.Errorf("fake saw %+v, want exactly 1 failed login and no data call", st)
		}
		if !a.Session.IsZero() {
			t.Error("a failed login left a session")
		}
	})
	t.Run("fault", func(t *testing.T) {
		f := newFixture(t, setup{})
		f.setFaults(t, librelinkuptest.Faults{BadCredentials: true})
		_, err := f.client.Login(context.Background(), email, password)
		if e := asError(t, err); e.Kind != librelinkup.KindBadCredentials || e.Message != "notAuthenticated" {
			t.Errorf("Login = %v, want bad credentials notAuthenticated", err)
		}
		if st := f.fake.Stats(email); st.FailedLogins != 1 {
			t.Errorf("fake saw %d failed logins, want 1", st.FailedLogins)
		}
	})
	t.Run("relogin after 401 with a changed password", func(t *testing.T) {
		f := newFixture(t, setup{})
		a := f.account()
		if _, err := f.client.Connections(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if err := f.fake.SetPassword(email, "Nuova-456"); err != nil {
			t.Fatal(err)
		}
		if err := f.fake.ExpireTokens(email); err != nil {
			t.Fatal(err)
		}
		_, err := f.client.Connections(context.Background(), a)
		if e := asError(t, err); e.Kind != librelinkup.KindBadCredentials {
			t.Errorf("Connections = %v, want bad credentials", err)
		}
		if st := f.fake.Stats(email); st.FailedLogins != 1 {
			t.Errorf("fake saw %d failed logins, want 1", st.FailedLogins)
		}
	})
}

func TestStepRequiredIsNeverAccepted(t *testing.T) {
	for _, step := range []string{"tou", "pp", "verifyEmail"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t, setup{})
			if err := f.fake.SetSteps(email, step); err != nil {
				t.Fatal(err)
			}
			_, err := f.client.Connections(context.Background(), f.account())
			e := asError(t, err)
			if e.Kind != librelinkup.KindStepRequired || e.Step != step || e.Action() != librelinkup.ActionWaitPatient {
				t.Errorf("Connections = %v, want step %q for the patient", err, step)
			}
			adv := e.Advice()
			if adv.IT == "" || adv.EN == "" || adv == librelinkup.KindStepRequired.Advice() {
				t.Errorf("advice for step %s = %+v, want a step-specific text in both languages", step, adv)
			}
			if st := f.fake.Stats(email); st.Continues != 0 || st.Steps != 1 {
				t.Errorf("fake saw %+v, want one step answer and no /auth/continue", st)
			}
			// The patient completes the step in the app: the next sync works.
			if err := f.fake.SetSteps(email); err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.Connections(context.Background(), f.account()); err != nil {
				t.Errorf("Connections after the patient acted: %v", err)
			}
		})
	}
	t.Run("new terms while a session exists", func(t *testing.T) {
		f := newFixture(t, setup{})
		a := f.account()
		if _, err := f.client.Connections(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if err := f.fake.SetSteps(email, "tou", "pp"); err != nil {
			t.Fatal(err)
		}
		_, err := f.client.Connections(context.Background(), a)
		if e := asError(t, err); e.Kind != librelinkup.KindStepRequired || e.Step != "tou" {
			t.Errorf("Connections = %v, want step tou (via 401 and one login)", err)
		}
		if st := f.fake.Stats(email); st.Continues != 0 || st.Unauthorized != 1 {
			t.Errorf("fake saw %+v, want one 401 and no /auth/continue", st)
		}
	})
}

func TestLockout(t *testing.T) {
	f := newFixture(t, setup{cfg: librelinkup.Config{Region: "eu"}})
	ctx := context.Background()
	for i := range 3 {
		_, err := f.client.Login(ctx, email, "Sbagliata-1")
		if e := asError(t, err); e.Kind != librelinkup.KindBadCredentials {
			t.Fatalf("bad login %d = %v", i+1, err)
		}
	}
	_, err := f.client.Login(ctx, email, password)
	e := asError(t, err)
	if e.Kind != librelinkup.KindLocked || e.Status != 429 || e.RetryAfter != 300*time.Second ||
		e.Backoff() != 300*time.Second || e.Action() != librelinkup.ActionBackOff {
		t.Fatalf("login with the right password while locked = %v (retry after %v), want locked for 300 s", err, e.RetryAfter)
	}
	f.clock.Advance(299 * time.Second)
	if _, err := f.client.Login(ctx, email, password); librelinkup.KindOf(err) != librelinkup.KindLocked {
		t.Errorf("login after 299 s = %v, want still locked", err)
	}
	f.clock.Advance(2 * time.Second)
	if _, err := f.client.Login(ctx, email, password); err != nil {
		t.Errorf("login after the lockout: %v", err)
	}
	if err := f.fake.Lock(email, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Login(ctx, email, password); librelinkup.KindOf(err) != librelinkup.KindLocked {
		t.Errorf("login on a locked account = %v, want locked", err)
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name   string
		faults librelinkuptest.Faults
		kind   librelinkup.ErrorKind
		retry  time.Duration // server's Retry-After
		wait   time.Duration // Backoff
	}{
		{"retry-after seconds", librelinkuptest.Faults{RateLimit: true, RetryAfter: 120 * time.Second}, librelinkup.KindRateLimited, 120 * time.Second, 120 * time.Second},
		{"retry-after date", librelinkuptest.Faults{RateLimit: true, RetryAfter: 90 * time.Second, RetryAfterDate: true}, librelinkup.KindRateLimited, 90 * time.Second, 90 * time.Second},
		{"no retry-after", librelinkuptest.Faults{RateLimit: true}, librelinkup.KindRateLimited, 0, librelinkup.DefaultRateLimitWait},
		{"cloudflare 429", librelinkuptest.Faults{Cloudflare: 429, RetryAfter: 600 * time.Second}, librelinkup.KindHTMLPage, 600 * time.Second, 600 * time.Second},
		{"cloudflare 403", librelinkuptest.Faults{Cloudflare: 403}, librelinkup.KindHTMLPage, 0, librelinkup.DefaultHTMLPageWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			a := f.account()
			if _, err := f.client.Connections(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			tt.faults.On = librelinkuptest.EndpointGraph
			f.setFaults(t, tt.faults)
			g, err := f.client.Graph(context.Background(), a, f.patientID)
			e := asError(t, err)
			if g != nil || e.Kind != tt.kind || e.RetryAfter != tt.retry || e.Backoff() != tt.wait || e.Action() != librelinkup.ActionBackOff {
				t.Errorf("Graph = %v (retry after %v, backoff %v), want %v, %v, %v", err, e.RetryAfter, e.Backoff(), tt.kind, tt.retry, tt.wait)
			}
			if st := f.fake.Stats(email); st.Graphs != 1 || st.SuccessfulLogins != 1 {
				t.Errorf("fake saw %+v, want one graph request and no new login (no retry)", st)
			}
		})
	}
}

func TestVersionRaisedOnce(t *testing.T) {
	f := newFixture(t, setup{opts: librelinkuptest.Options{MinVersion: "4.18.0"}})
	a := f.account()
	if _, err := f.client.Connections(context.Background(), a); err != nil {
		t.Fatalf("Connections with a 920 answer: %v", err)
	}
	if got := f.client.Version(); got != "4.18.0" {
		t.Errorf("Version() = %q, want 4.18.0", got)
	}
	if _, err := f.client.Graph(context.Background(), a, f.patientID); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.warnings) != 1 || f.warnings[0].OldVersion != "4.17.0" || f.warnings[0].NewVersion != "4.18.0" || f.warnings[0].Text.IT == "" {
		t.Errorf("warnings %+v, want one 4.17.0 → 4.18.0 warning", f.warnings)
	}
	if st := f.fake.Stats(email); st.Connections != 2 || st.Graphs != 1 {
		t.Errorf("fake saw %+v, want 2 connections requests (920, retry) and 1 graph", st)
	}
}

func TestVersionStillTooOld(t *testing.T) {
	tests := []struct {
		name     string
		minimum  string
		requests int32
	}{
		{"minimum not above ours: no retry", "4.16.0", 1},
		{"minimum above ours: one retry", "4.20.0", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"data":{"minimumVersion":"` + tt.minimum + `"},"status":920}`))
			}))
			defer srv.Close()
			c, _ := librelinkup.New(librelinkup.Config{BaseURL: srv.URL + "/{region}"})
			a := &librelinkup.Account{Session: librelinkup.Session{Token: "t", Expires: time.Now().Add(time.Hour), AccountID: "x", Region: "eu"}}
			_, err := c.Connections(context.Background(), a)
			e := asError(t, err)
			if e.Kind != librelinkup.KindVersionTooOld || e.MinimumVersion != tt.minimum || e.HTTPStatus != 403 || e.Action() != librelinkup.ActionOperator {
				t.Errorf("Connections = %v, want version too old (%s)", err, tt.minimum)
			}
			if n.Load() != tt.requests {
				t.Errorf("%d requests, want %d", n.Load(), tt.requests)
			}
		})
	}
}

func TestExpiredTokenLogsInAgainOnce(t *testing.T) {
	t.Run("revoked token", func(t *testing.T) {
		f := newFixture(t, setup{})
		a := f.account()
		if _, err := f.client.Connections(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		before := a.Session
		if err := f.fake.ExpireTokens(email); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.Graph(context.Background(), a, f.patientID); err != nil {
			t.Fatalf("Graph after the token was revoked: %v", err)
		}
		if a.Session.Equal(before) {
			t.Error("the session was not renewed")
		}
		if st := f.fake.Stats(email); st.SuccessfulLogins != 2 || st.Unauthorized != 1 || st.Graphs != 1 {
			t.Errorf("fake saw %+v, want 1 401, 1 new login, then the graph", st)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		f := newFixture(t, setup{})
		s, err := f.client.Login(context.Background(), email, password)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.fake.ExpireTokens(email); err != nil {
			t.Fatal(err)
		}
		_, err = f.client.Connections(context.Background(), &librelinkup.Account{Session: s})
		if e := asError(t, err); e.Kind != librelinkup.KindUnauthorized || e.HTTPStatus != 401 || e.Action() != librelinkup.ActionLogin {
			t.Errorf("Connections = %v, want 401 unauthorized", err)
		}
	})
	t.Run("401 persists", func(t *testing.T) {
		f := newFixture(t, setup{})
		a := f.account()
		if _, err := f.client.Connections(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		f.setFaults(t, librelinkuptest.Faults{Unauthorized: true})
		_, err := f.client.Connections(context.Background(), a)
		if e := asError(t, err); e.Kind != librelinkup.KindUnauthorized {
			t.Errorf("Connections = %v, want unauthorized", err)
		}
		if st := f.fake.Stats(email); st.SuccessfulLogins != 2 || st.Unauthorized != 2 {
			t.Errorf("fake saw %+v, want exactly one new login between two 401s", st)
		}
	})
	t.Run("expired after 180 days", func(t *testing.T) {
		f := newFixture(t, setup{})
		s, err := f.client.Login(context.Background(), email, password)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(181 * 24 * time.Hour)
		_, err = f.client.Connections(context.Background(), &librelinkup.Account{Session: s})
		if e := asError(t, err); e.Kind != librelinkup.KindUnauthorized || e.HTTPStatus != 0 {
			t.Errorf("Connections with an expired session and no credentials = %v, want unauthorized without a request", err)
		}
	})
}

func TestTokenReuse(t *testing.T) {
	f := newFixture(t, setup{})
	a := f.account()
	ctx := context.Background()
	for range 3 {
		if _, err := f.client.Graph(ctx, a, f.patientID); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(5 * time.Minute)
	}
	if st := f.fake.Stats(email); st.SuccessfulLogins != 1 {
		t.Errorf("%d logins for 3 polls, want 1 (token reused)", st.SuccessfulLogins)
	}
	// Shortly before expiry (within RenewBefore, 24 h) the client logs in
	// again before calling, instead of waiting for a 401.
	f.clock.Set(a.Session.Expires.Add(-2 * time.Hour))
	if _, err := f.client.Graph(ctx, a, f.patientID); err != nil {
		t.Fatal(err)
	}
	if st := f.fake.Stats(email); st.SuccessfulLogins != 2 || st.Unauthorized != 0 {
		t.Errorf("fake saw %+v, want a second login and no 401", st)
	}
	// The session survives a JSON round trip (the sync stores it).
	if _, err := f.client.Graph(ctx, &librelinkup.Account{Session: roundTrip(t, a.Session)}, f.patientID); err != nil {
		t.Errorf("Graph with a stored session: %v", err)
	}
}

func TestServerFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults librelinkuptest.Faults
		kind   librelinkup.ErrorKind
		action librelinkup.Action
	}{
		{"500", librelinkuptest.Faults{ServerError: 500}, librelinkup.KindServerError, librelinkup.ActionRetry},
		{"503", librelinkuptest.Faults{ServerError: 503}, librelinkup.KindServerError, librelinkup.ActionRetry},
		{"timeout", librelinkuptest.Faults{Delay: 2 * time.Second}, librelinkup.KindTimeout, librelinkup.ActionRetry},
		{"truncated JSON", librelinkuptest.Faults{TruncatedJSON: true}, librelinkup.KindMalformedJSON, librelinkup.ActionRetry},
		{"connection dropped mid-body", librelinkuptest.Faults{DropConnection: true}, librelinkup.KindMalformedJSON, librelinkup.ActionRetry},
		{"malformed JSON", librelinkuptest.Faults{MalformedJSON: true}, librelinkup.KindMalformedJSON, librelinkup.ActionRetry},
		{"maintenance 911", librelinkuptest.Faults{Maintenance: true}, librelinkup.KindMaintenance, librelinkup.ActionBackOff},
		{"cloudflare page", librelinkuptest.Faults{Cloudflare: 403}, librelinkup.KindHTMLPage, librelinkup.ActionBackOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, setup{cfg: librelinkup.Config{HTTPClient: librelinkup.NewHTTPClient(300 * time.Millisecond)}})
			a := f.account()
			s, err := f.client.Login(context.Background(), email, password)
			if err != nil {
				t.Fatal(err)
			}
			a.Session = s
			f.setFaults(t, tt.faults)
			before := a.Session
			l, err := f.client.Connections(context.Background(), a)
			e := asError(t, err)
			if l != nil || e.Kind != tt.kind || e.Action() != tt.action {
				t.Errorf("Connections = %v, %v; want nil and %v (%v)", l, err, tt.kind, tt.action)
			}
			g, err := f.client.Graph(context.Background(), a, f.patientID)
			if g != nil || librelinkup.KindOf(err) != tt.kind {
				t.Errorf("Graph = %v, %v; want nil and %v", g, err, tt.kind)
			}
			if !a.Session.Equal(before) {
				t.Error("a failed call changed the session")
			}
			if strings.Contains(err.Error(), a.Session.Token) || strings.Contains(err.Error(), password) {
				t.Errorf("error %q reveals a secret", err)
			}
			// The fault clears: the same account works again.
			f.setFaults(t, librelinkuptest.Faults{})
			if _, err := f.client.Graph(context.Background(), a, f.patientID); err != nil {
				t.Errorf("Graph after the fault cleared: %v", err)
			}
		})
	}
}

func TestPatientNotFound(t *testing.T) {
	f := newFixture(t, setup{})
	a := f.account()
	for _, call := range []func() error{
		func() error {
			_, err := f.client.Graph(context.Background(), a, "00000000-0000-4000-8000-000000000000")
			return err
		},
		func() error {
			_, err := f.client.Logbook(context.Background(), a, "00000000-0000-4000-8000-000000000000")
			return err
		},
	} {
		e := asError(t, call())
		if e.Kind != librelinkup.KindPatientNotFound || e.Message != "couldNotLoadPatient" || e.Action() != librelinkup.ActionRelink {
			t.Errorf("error %v, want patient not found (couldNotLoadPatient)", e)
		}
	}
	// A patient who stops sharing disappears from the list and from graphs.
	if err := f.fake.Unfollow(email, f.patientID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Graph(context.Background(), a, f.patientID); librelinkup.KindOf(err) != librelinkup.KindPatientNotFound {
		t.Errorf("Graph of an unshared patient = %v, want patient not found", err)
	}
	if l, err := f.client.Connections(context.Background(), a); err != nil || len(l.Connections) != 0 {
		t.Errorf("Connections after unsharing = %v, %v; want none", l, err)
	}
}

func TestRequiredHeaderMissing(t *testing.T) {
	f := newFixture(t, setup{})
	s, err := f.client.Login(context.Background(), email, password)
	if err != nil {
		t.Fatal(err)
	}
	s.AccountID = ""
	_, err = f.client.Connections(context.Background(), &librelinkup.Account{Session: s})
	if e := asError(t, err); e.Kind != librelinkup.KindRequiredHeaderMissing || e.HTTPStatus != 400 || e.Action() != librelinkup.ActionOperator {
		t.Errorf("Connections without Account-Id = %v, want required header missing", err)
	}
}

func TestDegradedPayloads(t *testing.T) {
	f := newFixture(t, setup{})
	a := f.account()
	ctx := context.Background()

	f.setFaults(t, librelinkuptest.Faults{EmptyConnections: true})
	l, err := f.client.Connections(ctx, a)
	if err != nil || len(l.Connections) != 0 {
		t.Errorf("empty connections = %v, %v; want an empty list and no error", l, err)
	}

	f.setFaults(t, librelinkuptest.Faults{SensorNull: true})
	l, err = f.client.Connections(ctx, a)
	if err != nil || len(l.Connections) != 1 || l.Connections[0].Sensor != nil || l.Connections[0].Current == nil {
		t.Fatalf("sensor null = %+v, %v; want one connection without sensor, with its current reading", l, err)
	}
	g, err := f.client.Graph(ctx, a, f.patientID)
	if err != nil || len(g.Readings) == 0 || g.Readings[0].Device != "" {
		t.Errorf("graph with sensor null = %v; want readings without device", err)
	}

	f.setFaults(t, librelinkuptest.Faults{NoActiveSensors: true})
	g, err = f.client.Graph(ctx, a, f.patientID)
	if err != nil || len(g.Readings) == 0 || g.Problems.Skipped != 0 {
		t.Fatalf("graph without activeSensors: %v", err)
	}
	if sn, _ := f.sim.SensorAt(f.clock.Now()); g.Connection.Sensor == nil || g.Connection.Sensor.Serial != sn.Serial {
		t.Errorf("graph without activeSensors: connection sensor %+v, want %s", g.Connection.Sensor, sn.Serial)
	}
}

// TestGraphMatchesSimulator checks the translation end to end: every graph
// point is the simulator's historic point (UTC instant, mg/dL value), the
// current reading is its 1-minute value with its arrow, and Device is the
// serial of the sensor worn.
func TestGraphMatchesSimulator(t *testing.T) {
	for _, tt := range []struct {
		model glucosim.Model
		step  time.Duration
	}{{glucosim.Libre3, 5 * time.Minute}, {glucosim.Libre2, 15 * time.Minute}} {
		t.Run(tt.model.String(), func(t *testing.T) {
			f := newFixture(t, setup{model: tt.model})
			now := f.clock.Now()
			g, err := f.client.Graph(context.Background(), f.account(), f.patientID)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []cgm.Reading
			for _, r := range g.Readings {
				if r.Kind == cgm.Historic {
					got = append(got, r)
				}
			}
			for _, p := range f.sim.Historic(now.Add(-librelinkuptest.DefaultGraphSpan), now.Add(-librelinkuptest.DefaultGraphLag)) {
				s, _ := f.sim.SensorAt(p.Time)
				want = append(want, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags, Device: s.Serial})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("graph points differ from the simulator (-want +got):\n%s", diff)
			}
			if n := len(got); n < int(11*time.Hour/tt.step) {
				t.Errorf("%d graph points, want about 12 h at %v", n, tt.step)
			}
			for i := 1; i < len(got); i++ {
				if d := got[i].Time.Sub(got[i-1].Time); d < tt.step || d%tt.step != 0 && d < time.Hour {
					t.Errorf("points %v and %v are %v apart, want %v", got[i-1].Time, got[i].Time, d, tt.step)
				}
			}
			cur, ok := g.Readings.Latest(cgm.Current)
			p, pok := f.sim.Current(now)
			if !ok || !pok {
				t.Fatalf("current reading %v, simulator %v", ok, pok)
			}
			s, _ := f.sim.SensorAt(now)
			wantCur := cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Current, Flags: p.Flags, Trend: p.Trend, Device: s.Serial}
			if diff := cmp.Diff(wantCur, cur); diff != "" {
				t.Errorf("current reading (-want +got):\n%s", diff)
			}
			if g.Connection.Sensor == nil || !g.Connection.Sensor.Activated.Equal(s.Activated) || g.Connection.Sensor.WarmUp != time.Hour {
				t.Errorf("connection sensor %+v, want activation %v and 60-min warm-up", g.Connection.Sensor, s.Activated)
			}
			if last := got[len(got)-1].Time; now.Sub(last) < 15*time.Minute || now.Sub(last) > 35*time.Minute {
				t.Errorf("last graph point %v before now, want about 15–20 min (plus one interval)", now.Sub(last))
			}
		})
	}
}

// TestWorkingLockedWorking: a connection works, gets locked (someone else
// tried wrong passwords on the patient's account) and has its token
// revoked, backs off, and works again; the readings fetched after recovery
// cover the gap as far as the 12-h graph allows.
func TestWorkingLockedWorking(t *testing.T) {
	f := newFixture(t, setup{cfg: librelinkup.Config{Region: "eu"}})
	ctx := context.Background()
	a := f.account()
	start := f.clock.Now()
	seen := map[time.Time]cgm.Reading{}
	poll := func() error {
		g, err := f.client.Graph(ctx, a, f.patientID)
		if err != nil {
			return err
		}
		for _, r := range g.Readings {
			if r.Kind == cgm.Historic {
				seen[r.Time] = r
			}
		}
		return nil
	}
	if err := poll(); err != nil {
		t.Fatal(err)
	}
	// Locked: three bad logins by someone else, and the token revoked.
	for range 3 {
		_, _ = f.client.Login(ctx, email, "Altra-app-sbagliata")
	}
	if err := f.fake.ExpireTokens(email); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	err := poll()
	e := asError(t, err)
	if e.Kind != librelinkup.KindLocked || e.Backoff() != 300*time.Second {
		t.Fatalf("poll while locked = %v, want locked with a 300 s back-off", err)
	}
	// The sync backs off; meanwhile 3 hours pass without data (the lock
	// persisted, as users report).
	f.clock.Advance(3 * time.Hour)
	if err := poll(); err != nil {
		t.Fatalf("poll after the lockout: %v", err)
	}
	end := f.clock.Now().Add(-librelinkuptest.DefaultGraphLag)
	for _, p := range f.sim.Historic(start.Add(-librelinkuptest.DefaultGraphSpan), end) {
		r, ok := seen[p.Time]
		if !ok {
			t.Errorf("reading of %v lost across the lockout", p.Time)
			continue
		}
		if r.Value != float64(p.MgDL) {
			t.Errorf("reading of %v = %v, want %d", p.Time, r.Value, p.MgDL)
		}
	}
	if st := f.fake.Stats(email); st.FailedLogins != 3 || st.Locked != 1 {
		t.Errorf("fake saw %+v, want the 3 foreign failures and a single locked answer to fsecgm", st)
	}
}

// TestFollowerAccount: a regional follower account with many connections;
// each connection carries the evidence (sensor serial, names) that binds it
// to a patient.
func TestFollowerAccount(t *testing.T) {
	f := newFixture(t, setup{})
	accounts, err := f.fake.Populate(7, 30, 2, "eu")
	if err != nil {
		t.Fatal(err)
	}
	follower := accounts[30]
	a := &librelinkup.Account{Credentials: librelinkup.Credentials{Email: follower.Email, Password: follower.Password}}
	ctx := context.Background()
	l, err := f.client.Connections(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Connections) != len(follower.Follows) || len(l.Connections) != 15 {
		t.Fatalf("%d connections, want 15", len(l.Connections))
	}
	for _, c := range l.Connections {
		p, ok := f.fake.Patient(c.PatientID)
		if !ok {
			t.Fatalf("connection for unknown patient %s", c.PatientID)
		}
		if c.FirstName != p.FirstName || c.LastName != p.LastName || c.Unit != cmpUnit(p.Unit) {
			t.Errorf("connection %s: %s %s %v, want %s %s %v", c.PatientID, c.FirstName, c.LastName, c.Unit, p.FirstName, p.LastName, p.Unit)
		}
		sn, ok := p.Sim.SensorAt(f.clock.Now())
		if !ok {
			continue
		}
		printed := sn.Serial[:9] // Libre 3: the app shows sn without the final 0
		if p.Sim.Model() == glucosim.Libre2 {
			printed = "3" + sn.Serial
		}
		if c.Sensor == nil || !c.Sensor.SerialMatches(strings.ToLower(printed)) {
			t.Errorf("connection %s: sensor %+v does not match printed serial %s", c.PatientID, c.Sensor, printed)
		}
		if c.Sensor != nil && c.Sensor.SerialMatches("0E0FAKESN") {
			t.Errorf("sensor %s matches a foreign serial", c.Sensor.Serial)
		}
		g, err := f.client.Graph(ctx, a, c.PatientID)
		if err != nil || len(g.Readings) == 0 {
			t.Errorf("graph of %s: %v", c.PatientID, err)
		}
	}
	if st := f.fake.Stats(follower.Email); st.SuccessfulLogins != 1 || st.Graphs != 15 {
		t.Errorf("follower stats %+v, want 1 login and 15 graphs", st)
	}
}

func roundTrip(t *testing.T, s librelinkup.Session) librelinkup.Session {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back librelinkup.Session
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Equal(s) {
		t.Errorf("session after a JSON round trip = %v, want %v", back, s)
	}
	return back
}

func cmpUnit(u cgm.Unit) cgm.Unit {
	if u == 0 {
		return cgm.MgDL
	}
	return u
}

// TestConnectionReuse: polling many graphs opens one TCP connection.
func TestConnectionReuse(t *testing.T) {
	clock := librelinkuptest.NewClock(time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC))
	fake := librelinkuptest.New(librelinkuptest.Options{Now: clock.Now})
	accounts, err := fake.Populate(3, 20, 1, "eu")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := librelinkup.New(librelinkup.Config{BaseURL: librelinkuptest.TemplateURL(srv.URL), Now: clock.Now, Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, acc := range accounts[:20] {
		a := &librelinkup.Account{Credentials: librelinkup.Credentials{Email: acc.Email, Password: acc.Password}}
		if _, err := c.Graph(ctx, a, acc.Follows[0]); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TCP connections for 40 sequential requests, want 1", n)
	}
}

func TestLogbook(t *testing.T) {
	f := newFixture(t, setup{})
	lb, err := f.client.Logbook(context.Background(), f.account(), f.patientID)
	if err != nil {
		t.Fatal(err)
	}
	if lb.Problems.Skipped != 0 || len(lb.Readings) == 0 {
		t.Fatalf("logbook: %d readings, problems %+v", len(lb.Readings), lb.Problems)
	}
	alarmReadings := 0
	for _, al := range lb.Alarms {
		if al.HasReading {
			alarmReadings++
		}
	}
	if lb.Readings.Count(cgm.Scan) == 0 || lb.Readings.Count(cgm.Current) != alarmReadings {
		t.Errorf("logbook: %d scans, %d current for %d alarms with readings", lb.Readings.Count(cgm.Scan), lb.Readings.Count(cgm.Current), alarmReadings)
	}
	for _, r := range lb.Readings {
		p, ok := f.sim.Current(r.Time)
		if !ok || float64(p.MgDL) != r.Value || p.Trend != r.Trend {
			t.Errorf("logbook reading %v = %v (trend %d), simulator %v (trend %d)", r.Time, r.Value, r.Trend, p.MgDL, p.Trend)
		}
		if now := f.clock.Now(); r.Time.Before(now.Add(-14*24*time.Hour)) || r.Time.After(now) {
			t.Errorf("logbook reading at %v outside the last 14 days", r.Time)
		}
	}
}

// TestDSTChanges: around the Europe/Rome changes the local Timestamp jumps
// or repeats an hour, but readings follow FactoryTimestamp (UTC) and stay
// strictly ascending, one per simulator point.
func TestDSTChanges(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2024, 3, 31, 6, 0, 0, 0, time.UTC),  // 02:00 CET became 03:00 CEST at 01:00 UTC
		time.Date(2024, 10, 27, 7, 0, 0, 0, time.UTC), // 03:00 CEST became 02:00 CET at 01:00 UTC
	} {
		t.Run(now.Format("2006-01-02"), func(t *testing.T) {
			f := newFixture(t, setup{now: now})
			g, err := f.client.Graph(context.Background(), f.account(), f.patientID)
			if err != nil {
				t.Fatal(err)
			}
			var times []time.Time
			for _, r := range g.Readings {
				if r.Kind == cgm.Historic {
					times = append(times, r.Time)
				}
			}
			var want []time.Time
			for _, p := range f.sim.Historic(now.Add(-librelinkuptest.DefaultGraphSpan), now.Add(-librelinkuptest.DefaultGraphLag)) {
				want = append(want, p.Time)
			}
			if diff := cmp.Diff(want, times); diff != "" {
				t.Errorf("reading instants differ from the simulator across the DST change (-want +got):\n%s", diff)
			}
			change := time.Date(now.Year(), now.Month(), now.Day(), 1, 0, 0, 0, time.UTC)
			if len(times) == 0 || !times[0].Before(change) || !times[len(times)-1].After(change) {
				t.Errorf("graph %v–%v does not span the change at %v", times[0], times[len(times)-1], change)
			}
		})
	}
}
