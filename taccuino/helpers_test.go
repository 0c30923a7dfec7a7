package taccuino

import (
	"context"
	"fmt"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/summaries"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/internal/testenv"
	"fsecgm/internal/testenv/webenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/notify/mailtest"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testCF returns a valid fiscal code of a man born on 1 January 1980
// (an adult), the n-th of a family (0-999).
func testCF(n int) string {
	return codicefiscale.Complete(fmt.Sprintf("RSSMRA80A01H%03d", n))
}

// cfBornAs returns the fiscal code of a woman with these names born on d
// in the n-th comune of a family (Dnnn).
func cfBornAs(given, family string, n int, d time.Time) string {
	cf, ok := codicefiscale.Derive(codicefiscale.Person{Surname: family, GivenName: given, Birth: d, Female: true,
		Place: fmt.Sprintf("D%03d", n)})
	if !ok {
		panic("cfBornAs: " + given + " " + family)
	}
	return cf
}

// cfBorn returns a valid fiscal code encoding the birth date d.
func cfBorn(n int, d time.Time) string {
	return codicefiscale.Complete(fmt.Sprintf("BNCGLI%02d%c%02dD%03d", d.Year()%100, "ABCDEHLMPRST"[d.Month()-1], d.Day()+40, n))
}

// testEnv is a running service on a fresh database, with a fake identity
// provider.
type testEnv struct {
	t       *testing.T
	pool    *pgxpool.Pool
	store   *cgmstore.Store
	consent *consent.Store
	idp     *authtest.Provider
	srv     *Server
	http    *httptest.Server
	logs    *testenv.Logs
	client  *http.Client
	// fake is the fake LibreLinkUp, with accounts; syncer syncs from it.
	fake     *librelinkuptest.Server
	accounts []librelinkuptest.Account
	syncer   *connsync.Syncer
	// accountsMade numbers the accounts accountFor adds.
	accountsMade atomic.Int64
	// mail receives the notification e-mails (package notify); notify
	// sends them there.
	mail   *mailtest.Server
	notify *notify.Service
	// sessions records sign-outs; its listener runs for the test.
	sessions *sessions.Store
	// rec is the FHIR resource store behind /fhir.
	rec *records.Store
	// te is the environment the service stands on (testenv).
	te *testenv.Env
}

// newEnv starts the service in production mode (the fake provider's
// tokens) on a new database, with every part (testenv, webenv): the FHIR
// API, the LibreLinkUp syncer on a fake, notifications, sessions.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	// The FHIR API is mounted too (the authorization matrix reads through
	// it); its base is the test server's, known once it listens.
	hs := httptest.NewUnstartedServer(nil)
	w := webenv.New(t, webenv.WithRecords("http://"+hs.Listener.Addr().String()+"/fhir"), webenv.WithSyncer(nil),
		webenv.WithNotify("https://taccuino.example.org"), webenv.WithSessions())
	env := &testEnv{t: t, pool: w.Pool, idp: w.IDP, logs: w.Logs, store: w.Store, consent: w.Consent, http: hs,
		fake: w.LLU, accounts: w.Accounts, syncer: w.Syncer, mail: w.Mail, notify: w.Notify, sessions: w.Sessions, rec: w.Records, te: w.Env}
	var err error
	env.srv, err = New(Deps{
		Notify: env.notify,
		Deps: web.Deps{Logger: w.Logger, Pool: env.pool, Store: env.store, Consent: env.consent,
			Lookups: web.NewLookups(web.LookupOptions{ClientPerMinute: 1e6, ClientBurst: 1e6, PatientPerMinute: 1e6, PatientBurst: 1e6})},
		Sessions:       env.sessions,
		Records:        env.rec,
		Sync:           env.syncer,
		Reports:        reports.Options{Summaries: summaries.NewStore(env.pool)},
		Verifier:       w.Verifier,
		SensitiveRate:  1e6,
		SensitiveBurst: 1e6,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.http.Config.Handler = env.srv
	env.http.Start()
	t.Cleanup(env.http.Close)
	env.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 30 * time.Second}
	return env
}

// token mints a valid token for spec.
func (e *testEnv) token(spec auth.PrincipalSpec) string { return e.idp.Token(e.t, spec) }

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request sends a request; token may be empty; body may be nil.
func (e *testEnv) request(method, path, token, contentType string, body []byte, header map[string]string) response {
	e.t.Helper()
	r := webenv.Do(e.t, e.client, method, e.http.URL+path, token, contentType, body, header)
	return response{status: r.Status, header: r.Header, body: r.Body}
}

func (e *testEnv) get(path, token string) response {
	e.t.Helper()
	return e.request(http.MethodGet, path, token, "", nil, nil)
}

func (e *testEnv) sendJSON(method, path, token, body string) response {
	e.t.Helper()
	return e.request(method, path, token, "application/json", []byte(body), nil)
}

// registry is the actor that loads the registry in tests.
var registryActor = consent.Actor{Role: auth.RoleService, ClientID: "test-registry",
	Scopes: []string{consent.ScopeRegistry}, RequestID: "test-setup"}

// selfActor is the patient acting on their own record.
func selfActor(cf string) consent.Actor {
	return consent.Actor{Role: auth.RoleCitizen, FiscalCode: cf, RequestID: "test-setup"}
}

// newPatient stores a patient with names and birth date.
func (e *testEnv) newPatient(cf, given, family string, birth time.Time) cgmstore.Patient {
	e.t.Helper()
	ctx := context.Background()
	p, _, err := e.store.EnsurePatient(ctx, cf, "Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	p.GivenName, p.FamilyName, p.BirthDate = given, family, birth
	if p, err = e.store.UpdatePatient(ctx, p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// accountFor adds to the fake LibreLinkUp a new account that follows a new
// simulated person named as patient p, so that connecting it to p passes
// the identity check of the binding (the names must be p's FSE names and
// give p's fiscal code's first six letters).
func (e *testEnv) accountFor(p cgmstore.Patient) librelinkuptest.Account {
	e.t.Helper()
	if p.GivenName == "" || p.FamilyName == "" ||
		codicefiscale.SurnameCode(p.FamilyName)+codicefiscale.NameCode(p.GivenName) != p.FiscalCode[:6] {
		e.t.Fatalf("test patient %q %q: give it names whose codes begin its fiscal code %s", p.GivenName, p.FamilyName, p.FiscalCode)
	}
	n := e.accountsMade.Add(1)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := e.fake.AddPatient(librelinkuptest.Patient{FirstName: p.GivenName, LastName: p.FamilyName,
		Sim: glucosim.New(1000+uint64(n), glucosim.Libre2, rome)})
	if err != nil {
		e.t.Fatal(err)
	}
	a := librelinkuptest.Account{Email: fmt.Sprintf("segue%04d@example.invalid", n), Password: fmt.Sprintf("Segue-%04d", n),
		Region: "eu", FirstName: p.GivenName, LastName: p.FamilyName, Follows: []string{id}}
	if err := e.fake.AddAccount(a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// cfFor returns a valid fiscal code derived from a person's names (born
// in Firenze in 1980 on a day that differs with n < 336), for test patients
// that connect a sensor.
func cfFor(given, family string, n int) string {
	cf, ok := codicefiscale.Derive(codicefiscale.Person{Surname: family, GivenName: given,
		Birth: time.Date(1980, time.Month(1+n/28%12), 1+n%28, 0, 0, 0, 0, time.UTC), Place: "D612"})
	if !ok {
		panic("cfFor: " + given + " " + family)
	}
	return cf
}

// ingest stores n historic readings every 15 minutes ending at end, with
// values from vals cycled, and a current reading with a trend at end.
func (e *testEnv) ingest(p cgmstore.Patient, end time.Time, n int, vals []float64) []cgm.Reading {
	e.t.Helper()
	var rs []cgm.Reading
	start := end.Add(-time.Duration(n) * 15 * time.Minute).Truncate(time.Minute)
	for i := range n {
		rs = append(rs, cgm.Reading{Time: start.Add(time.Duration(i) * 15 * time.Minute), Value: vals[i%len(vals)],
			Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	rs = append(rs, cgm.Reading{Time: end.Truncate(time.Minute), Value: vals[0], Unit: cgm.MgDL, Kind: cgm.Current,
		Trend: cgm.TrendRising})
	if _, err := e.store.Ingest(context.Background(), cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceLibreView, Readings: rs}); err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// setConsent sets the patient's third-party consent as the patient.
func (e *testEnv) setConsent(p cgmstore.Patient, granted bool) {
	e.t.Helper()
	e.setConsentAs(selfActor(p.FiscalCode), p, granted)
}

// setConsentAs sets the patient's third-party consent as a (the parent
// or tutor of a minor).
func (e *testEnv) setConsentAs(a consent.Actor, p cgmstore.Patient, granted bool) {
	e.t.Helper()
	if _, err := e.consent.SetThirdPartyConsent(context.Background(), a, p.ID, granted); err != nil {
		e.t.Fatal(err)
	}
}

// accessLog returns the access-log entries of a request id: written by it,
// or, for a repeated refusal counted on an earlier entry, last counted by
// it.
func (e *testEnv) accessLog(requestID string) []consent.AccessEntry {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(),
		`SELECT patient_id, outcome, reason, action, basis FROM access_log
		WHERE request_id = $1 OR last_request_id = $1 ORDER BY id`, requestID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []consent.AccessEntry
	for rows.Next() {
		var pid int64
		var en consent.AccessEntry
		if err := rows.Scan(&pid, &en.Outcome, &en.Reason, &en.Action, &en.Basis); err != nil {
			e.t.Fatal(err)
		}
		en.ID = pid // the patient id, for the checks
		out = append(out, en)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// longCSV returns a long CSV of readings of the hours before end.
func longCSV(end time.Time, vals ...float64) string {
	var b strings.Builder
	b.WriteString("id,time,gl\n")
	for i, v := range vals {
		fmt.Fprintf(&b, "me,%s,%g\n", end.Add(-time.Duration(len(vals)-i)*15*time.Minute).UTC().Format(time.RFC3339), v)
	}
	return b.String()
}
