// Package webenv adds to a test environment (package testenv) the parts of
// the running service its HTTP tests need: the fake identity provider and
// a verifier of its tokens, the FHIR resource store, echo with the web
// middleware as the service mounts it, the LibreLinkUp syncer on a fake
// LibreLinkUp, the notification service on a fake SMTP server, and the
// sessions store. A test asks for the parts it needs with options; the
// others stay nil.
//
// It imports those parts' packages, so their own tests use package
// testenv, below this one. Only tests import it (testenv's
// TestOnlyTestsImport).
package webenv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/internal/testenv"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/notify/mailtest"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// Env is a test environment with the service's parts asked for.
type Env struct {
	*testenv.Env
	// IDP is the fake identity provider; Verifier checks its tokens (in
	// production mode: typ at+jwt, audience, issuer).
	IDP      *authtest.Provider
	Verifier *auth.Verifier
	// Records is the FHIR resource store (WithRecords).
	Records *records.Store
	// Syncer syncs from LLU, a fake LibreLinkUp populated with Accounts
	// (WithSyncer).
	Syncer   *connsync.Syncer
	LLU      *librelinkuptest.Server
	Accounts []librelinkuptest.Account
	// Notify sends the access notifications to Mail, a fake SMTP server
	// (WithNotify).
	Notify *notify.Service
	Mail   *mailtest.Server
	// Sessions records sign-outs; its listener runs for the test
	// (WithSessions).
	Sessions *sessions.Store
}

// Option asks for a part.
type Option func(*options)

type options struct {
	core       []testenv.Option
	records    *string
	syncer     bool
	syncMod    func(*connsync.Config)
	notifyBase string
	sessions   bool
}

// Core passes options to testenv.New.
func Core(opts ...testenv.Option) Option {
	return func(o *options) { o.core = append(o.core, opts...) }
}

// WithRecords adds the FHIR resource store, whose resources' full URLs
// start with base (the FHIR API's address: ".../fhir").
func WithRecords(base string) Option {
	return func(o *options) { o.records = &base }
}

// WithSyncer adds a fake LibreLinkUp with 40 simulated patients (seed 7,
// region "eu") and a syncer on it (a fixed key, a 1-minute interval, no
// rate budget to speak of); mod, when not nil, changes the syncer's
// configuration before it is built.
func WithSyncer(mod func(*connsync.Config)) Option {
	return func(o *options) { o.syncer, o.syncMod = true, mod }
}

// WithNotify adds the notification service, sending to a fake SMTP
// server; its links start with base (the service's address).
func WithNotify(base string) Option {
	return func(o *options) { o.notifyBase = base }
}

// WithSessions adds the sessions store, its listener running until the
// test ends.
func WithSessions() Option {
	return func(o *options) { o.sessions = true }
}

// New builds the environment of t with the parts asked for.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e := &Env{Env: testenv.New(t, o.core...)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.IDP = authtest.New(t)
	cfg := e.IDP.Config()
	cfg.Logger = e.Logger
	var err error
	if e.Verifier, err = auth.NewVerifier(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if o.records != nil {
		ro := records.Options{Base: *o.records, Logger: e.Logger}
		if e.Clock != nil {
			ro.Now = e.Clock.Now
		}
		if e.Records, err = records.New(e.Pool, ro); err != nil {
			t.Fatal(err)
		}
	}
	if o.syncer {
		e.LLU = librelinkuptest.New(librelinkuptest.Options{})
		if e.Accounts, err = e.LLU.Populate(7, 40, 0, "eu"); err != nil {
			t.Fatal(err)
		}
		url := e.LLU.Start()
		t.Cleanup(e.LLU.Close)
		keys, err := connsync.NewKeyring(bytes.Repeat([]byte{7}, connsync.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		sc := connsync.Config{Pool: e.Pool, Store: e.Store, Keys: keys, Logger: e.Logger, Replica: "test",
			LibreLinkUp: librelinkup.Config{BaseURL: url, HTTPClient: librelinkup.NewHTTPClient(5 * time.Second)},
			Interval:    time.Minute, LibreLinkUpBudget: connsync.BudgetConfig{PerMinute: 1e6}}
		if o.syncMod != nil {
			o.syncMod(&sc)
		}
		if e.Syncer, err = connsync.New(sc); err != nil {
			t.Fatal(err)
		}
	}
	if o.notifyBase != "" {
		if e.Mail, err = mailtest.Start(mailtest.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Mail.Close() })
		smtp, err := notify.ParseSMTPURL(e.Mail.URL(), "notifiche@taccuino.example.org")
		if err != nil {
			t.Fatal(err)
		}
		e.Notify = &notify.Service{Store: notify.New(e.Pool, e.Consent, notify.Options{Logger: e.Logger}),
			Mailer: notify.NewSMTPMailer(smtp), BaseURL: o.notifyBase}
	}
	if o.sessions {
		e.Sessions = sessions.New(e.Pool, sessions.Options{Logger: e.Logger})
		go e.Sessions.Run(ctx)
	}
	return e
}

// Token mints a valid token of the identity provider for spec.
func (e *Env) Token(t testing.TB, spec auth.PrincipalSpec) string { return e.IDP.Token(t, spec) }

// Echo returns echo with the web kit's middleware and error handler, as
// the service (taccuino/server.go, routes.go) sets them, logging to
// logger; a package's tests mount its routes on it.
func Echo(logger *slog.Logger) *echo.Echo {
	ec := echo.New()
	ec.Logger = logger
	ec.HTTPErrorHandler = web.ErrorHandler(logger, nil)
	ec.Use(web.RequestID(), web.RequestLogger(logger), web.Recover(), web.SecurityHeaders(web.SecurityOptions{}))
	return ec
}

// Response is what a request answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request with client and reads the answer: the bearer token
// when not empty, the body (nil for none) with its content type, and the
// header's fields. It fails t when the request cannot be sent or read.
func Do(t testing.TB, client *http.Client, method, url, token, contentType string, body []byte, header map[string]string) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}
