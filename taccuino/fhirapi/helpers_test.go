package fhirapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/internal/testenv"
	"fsecgm/internal/testenv/webenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testCF returns a valid fiscal code (an adult born 1 January 1980), the
// n-th of a family (0-999).
func testCF(n int) string {
	return codicefiscale.Complete(fmt.Sprintf("RSSMRA80A01H%03d", n))
}

var rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return loc
}()

// env is the FHIR API on a fresh database behind echo with the web
// middleware, as the service mounts it, and a fake identity provider.
type env struct {
	t       *testing.T
	pool    *pgxpool.Pool
	store   *cgmstore.Store
	consent *consent.Store
	rec     *records.Store
	idp     *authtest.Provider
	srv     *httptest.Server
	base    string
	client  *http.Client
	trace   *sqlTrace
	te      *testenv.Env
}

func newEnv(t *testing.T, opts ...Options) *env {
	t.Helper()
	o := Options{Version: "test", LookupPerMinute: -1}
	if len(opts) > 0 {
		o = opts[0]
	}
	// The service's statements are traced (TestOtherPatientsIDs).
	trace := &sqlTrace{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	base := srv.URL + "/fhir"
	w := webenv.New(t, webenv.Core(testenv.WithTracer(trace), testenv.WithLogger(logger)), webenv.WithRecords(base))
	e := &env{t: t, pool: w.Pool, rec: w.Records, idp: w.IDP, srv: srv, base: base, client: srv.Client(), trace: trace,
		store: w.Store, consent: w.Consent, te: w.Env}
	ec := webenv.Echo(logger)
	d := web.Deps{Logger: logger, Pool: e.pool, Store: e.store, Consent: e.consent}
	if err := Register(ec.Group("/fhir", web.Authenticate(web.AuthOptions{Verifier: w.Verifier})), d, e.rec, o); err != nil {
		t.Fatal(err)
	}
	h = ec
	return e
}

// Tokens of the principals of the tests.
func (e *env) citizen(cf string) string {
	return e.idp.Token(e.t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
}

func (e *env) service(client string, scopes ...string) string {
	return e.idp.Token(e.t, auth.PrincipalSpec{Role: auth.RoleService, ClientID: client, Scopes: scopes})
}

func (e *env) practitioner(cf string, role auth.PractitionerRole, org string) string {
	return e.idp.Token(e.t, auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: cf, PractitionerRole: role, Organization: org})
}

// patient creates the n-th patient, with third-party consent granted or
// not.
func (e *env) patient(n int, granted bool) cgmstore.Patient {
	e.t.Helper()
	p, _, err := e.store.EnsurePatient(context.Background(), testCF(n), "Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	p.GivenName, p.FamilyName = "Mario", "Rossi"
	if p, err = e.store.UpdatePatient(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
	e.setConsent(p, granted)
	return p
}

func (e *env) setConsent(p cgmstore.Patient, granted bool) {
	e.t.Helper()
	a := consent.Actor{Role: auth.RoleCitizen, FiscalCode: p.FiscalCode, RequestID: "test"}
	if _, err := e.consent.SetThirdPartyConsent(context.Background(), a, p.ID, granted); err != nil {
		e.t.Fatal(err)
	}
}

// report computes one local day of simulated readings.
func report(t testing.TB, seed uint64, day time.Time) agp.Report {
	t.Helper()
	sim := glucosim.New(seed, glucosim.Libre2, rome)
	per := agp.LocalDays(day, day, rome)
	var rs []cgm.Reading
	for _, pt := range sim.Historic(per.Start, per.End) {
		rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: pt.Flags})
	}
	r, err := agp.Compute(cgm.NewSeries(rs), agp.Options{Patient: "p", Location: rome, Period: &per})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var examplePDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// publish stores the summaries of days [from, from+n) of patient p, as
// the summaries code does.
func (e *env) publish(p cgmstore.Patient, from time.Time, n int, pdf []byte) {
	e.t.Helper()
	for d := range n {
		day := from.AddDate(0, 0, d)
		pub := records.Publication{PatientID: p.ID,
			Patient: fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: p.FamilyName, Given: []string{p.GivenName}},
			Devices: []fhir.DeviceInfo{{Serial: fmt.Sprintf("SN%06d", p.ID), Manufacturer: "Abbott", Model: "FreeStyle Libre 2"}},
			Report:  report(e.t, uint64(p.ID)*100+uint64(d), day), PDF: pdf, Issued: day.AddDate(0, 0, 1)}
		if err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
			return e.rec.PublishSummary(context.Background(), tx, pub)
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %v\n%s", r.status, err, r.body)
	}
	return m
}

// do sends a request to path (relative to the server root or absolute).
func (e *env) do(method, path, token string, body []byte, header ...string) response {
	e.t.Helper()
	url := path
	if len(path) > 0 && path[0] == '/' {
		url = e.srv.URL + path
	}
	ct := ""
	if body != nil {
		ct = "application/fhir+json"
	}
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	r := webenv.Do(e.t, e.client, method, url, token, ct, body, h)
	return response{status: r.Status, header: r.Header, body: r.Body}
}

func (e *env) get(path, token string) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, token, nil)
}

// count returns the result of a count query.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	return e.te.Count(e.t, q, args...)
}

// outcome checks that r is an OperationOutcome with status and returns
// its first issue's code and expression.
func outcome(t testing.TB, r response, status int) (code, expression string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q, want %q", ct, ContentType)
	}
	var oo fhir.OperationOutcome
	if err := json.Unmarshal(r.body, &oo); err != nil || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome: %v\n%s", err, r.body)
	}
	if len(oo.Issue[0].Expression) > 0 {
		expression = oo.Issue[0].Expression[0]
	}
	return oo.Issue[0].Code, expression
}
