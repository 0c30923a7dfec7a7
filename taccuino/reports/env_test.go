package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// centre is the diabetology centre of the tests' diabetologist.
const centre = "ORG-DIAB-FI"

// makeCF builds a valid codice fiscale (born in Firenze).
func makeCF(names string, y int, m time.Month, d int, female bool) string {
	if female {
		d += 40
	}
	return codicefiscale.Complete(fmt.Sprintf("%s%02d%c%02dD612", names, y%100, "ABCDEHLMPRST"[m-1], d))
}

var (
	cfDoctor   = makeCF("MDCDTT", 1970, time.May, 3, false)
	cfStranger = makeCF("STRNGR", 1971, time.June, 4, false)
)

// person is a test patient: the simulator's seed, how its readings are
// changed and whether it consented.
type person struct {
	given, family string
	cf            string
	seed          uint64
	shift         func(at time.Time) float64 // mg/dL added (nil: none)
	keep          func(at time.Time) bool    // readings kept (nil: all)
	noReadings    bool
	noConsent     bool
}

// fixed clock of the tests: Sunday 5 April 2026, 10:00 in Rome. The current
// period is 22 March – 4 April 2026 (with the 23-hour 29 March).
func testNow(loc *time.Location) time.Time { return time.Date(2026, 4, 5, 10, 0, 0, 0, loc) }

// people returns the patients of the tests, chosen to fall in different
// TIDE categories.
func people(loc *time.Location) []person {
	now := testNow(loc)
	cur := now.AddDate(0, 0, -14)
	return []person{
		{given: "Anna", family: "Bianchi", cf: makeCF("BNCNNA", 1950, time.January, 10, true), seed: 11,
			shift: func(time.Time) float64 { return -75 }},
		{given: "Bruno", family: "Conti", cf: makeCF("CNTBRN", 1961, time.February, 11, false), seed: 12},
		{given: "Carla", family: "Dini", cf: makeCF("DNICRL", 1972, time.March, 12, true), seed: 13,
			shift: func(time.Time) float64 { return 90 }},
		{given: "Dario", family: "Esposito", cf: makeCF("SPSDRA", 1983, time.April, 13, false), seed: 14,
			keep: func(at time.Time) bool { return at.In(loc).Day()%3 == 0 }},
		{given: "Elena", family: "Fabbri", cf: makeCF("FBBLNE", 1994, time.May, 14, true), seed: 15,
			shift: func(time.Time) float64 { return -25 }},
		{given: "Fabio", family: "Galli", cf: makeCF("GLLFBA", 1945, time.June, 15, false), seed: 16,
			keep: func(at time.Time) bool { return at.Before(now.AddDate(0, 0, -20)) }},
		{given: "Giulia", family: "Neri", cf: makeCF("NREGLI", 1956, time.July, 16, true), noReadings: true},
		{given: "Hugo", family: "Orsi", cf: makeCF("RSOHGU", 1967, time.August, 17, false), seed: 18, noConsent: true},
		{given: "Irene", family: "Pini", cf: makeCF("PNIRNI", 1978, time.September, 18, true), seed: 19,
			shift: func(at time.Time) float64 {
				if at.Before(cur) {
					return -30
				}
				return 60
			}},
	}
}

// env is a database with the test patients, the summaries updated, and
// the reports served by an in-process echo server with the web kit's
// middleware, as taccuino/routes.go mounts it.
type env struct {
	pool     *pgxpool.Pool
	store    *cgmstore.Store
	consent  *consent.Store
	sums     *summaries.Store
	updater  *summaries.Updater
	records  *records.Store
	loc      *time.Location
	clock    *testenv.Clock
	idp      *authtest.Provider
	srv      *httptest.Server
	patients []cgmstore.Patient // in the order of people()
	people   []person
	logs     *testenv.Logs // the service log (JSON lines)
	te       *testenv.Env
}

func (e *env) logText() string { return e.logs.String() }

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Logs{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	w := webenv.New(t, webenv.Core(testenv.WithClock(testNow(loc)), testenv.WithLogger(logger)),
		webenv.WithRecords("https://fsecgm.example.org/fhir"))
	e := &env{pool: w.Pool, loc: loc, clock: w.Clock, people: people(loc), logs: logs, store: w.Store, consent: w.Consent,
		records: w.Records, idp: w.IDP, te: w.Env}
	clock := e.clock.Now
	e.sums = summaries.NewStore(e.pool)
	e.updater = summaries.NewUpdater(e.pool, e.store, summaries.Options{Now: clock, Logger: logger})
	registry := consent.Actor{Role: auth.RoleService, ClientID: "anagrafe", Scopes: []string{consent.ScopeRegistry}}
	for i, pp := range e.people {
		p, _, err := e.store.EnsurePatient(ctx, pp.cf, "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		p.GivenName, p.FamilyName = pp.given, pp.family
		p.BirthDate = time.Date(1950+i, time.Month(1+i), 10+i, 0, 0, 0, 0, time.UTC)
		if p, err = e.store.UpdatePatient(ctx, p); err != nil {
			t.Fatal(err)
		}
		e.patients = append(e.patients, p)
		if _, err := e.consent.UpsertCareRelationship(ctx, registry, consent.CareRelationship{PatientFiscalCode: pp.cf,
			Kind: consent.CareDiabetology, OrganizationID: centre, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		if !pp.noConsent {
			self := consent.Actor{Role: auth.RoleCitizen, FiscalCode: pp.cf}
			if _, err := e.consent.SetThirdPartyConsent(ctx, self, p.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		if !pp.noReadings {
			e.ingest(t, p.ID, e.series(pp, i, clock().AddDate(0, 0, -30), clock()))
		}
	}
	// A round of the updater, as Run does it: every patient gets a summary.
	if _, err := e.updater.MarkStale(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.updater.UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}

	// Anna Bianchi's laboratory HbA1c of 25 March 2026.
	e.submitLab(t, e.patients[0], "2026-03-25T08:30:00+01:00", "6.9")

	v := w.Verifier
	deps := web.Deps{Logger: logger, Pool: e.pool, Store: e.store, Consent: e.consent, Now: clock}
	ec := webenv.Echo(logger)
	api := ec.Group("/api/v1", web.Authenticate(web.AuthOptions{Verifier: v}))
	html := ec.Group("", web.MarkHTML(), web.Authenticate(web.AuthOptions{Verifier: v, Cookie: web.SessionCookie}),
		web.CSRF(web.CSRFOptions{}))
	err = Register(html, api, deps, Options{Summaries: e.sums, Refresher: e.updater, HbA1c: summaries.RecordsHbA1c(e.records)})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(ec)
	t.Cleanup(e.srv.Close)
	return e
}

// submitLab stores a laboratory HbA1c for patient p as the FHIR API does
// (records.Store.StoreSubmitted): LOINC 4548-4, in %.
func (e *env) submitLab(t testing.TB, p cgmstore.Patient, at string, value string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"resourceType": "Observation", "status": "final",
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "4548-4"}}},
		"subject":           map[string]any{"reference": "Patient/" + p.PublicID},
		"effectiveDateTime": at,
		"valueQuantity":     map[string]any{"value": json.Number(value), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.records.StoreSubmitted(context.Background(), e.pool, records.Submitted{PatientID: p.ID, Submitter: "lab-careggi",
		Type: "Observation", Body: body, Zone: e.loc})
	if err != nil {
		t.Fatal(err)
	}
}

// series returns person pp's readings from..to, with a sensor serial.
func (e *env) series(pp person, i int, from, to time.Time) cgm.Series {
	sim := glucosim.New(pp.seed, glucosim.Libre2, e.loc)
	var rs []cgm.Reading
	for _, p := range sim.Historic(from, to) {
		if pp.keep != nil && !pp.keep(p.Time) {
			continue
		}
		v := float64(p.MgDL)
		if pp.shift != nil {
			v += pp.shift(p.Time)
		}
		v = min(max(v, 40), 500)
		rs = append(rs, cgm.Reading{Time: p.Time, Value: v, Unit: cgm.MgDL, Kind: cgm.Historic,
			Device: fmt.Sprintf("TESTSN%02d", i)})
	}
	return cgm.NewSeries(rs)
}

func (e *env) ingest(t testing.TB, id int64, rs cgm.Series) {
	t.Helper()
	e.te.Ingest(t, id, cgmstore.SourceSimulator, rs) // the ingestion marks the patient dirty
}

// doctor returns a token of the centre's diabetologist.
func (e *env) doctor(t testing.TB) string {
	return e.idp.Token(t, auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: cfDoctor,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: centre, Name: "Dott. Medico"})
}

// do sends a request with a bearer token (empty: none) and returns the
// response and its body.
func (e *env) do(t testing.TB, method, path, token string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// getJSON gets path with token and decodes the JSON answer into v.
func (e *env) getJSON(t testing.TB, path, token string, v any) {
	t.Helper()
	resp, b := e.do(t, http.MethodGet, path, token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// accessLog returns the access-log entries of a patient: "outcome detail".
func (e *env) accessLog(t testing.TB, id int64) []string {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT outcome || ' ' || detail FROM access_log
		WHERE patient_id = $1 AND action = 'data.read' ORDER BY id`, id)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) byName(family string) cgmstore.Patient {
	for i, pp := range e.people {
		if pp.family == family {
			return e.patients[i]
		}
	}
	panic("no patient " + family)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
