package records

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBase is the issuer base URL of the tests.
const testBase = "https://fsecgm.example.org/fhir"

// testCF returns a valid fiscal code (an adult born 1 January 1980), the
// n-th of a family (0-999).
func testCF(n int) string {
	return codicefiscale.Complete(fmt.Sprintf("RSSMRA80A01H%03d", n))
}

// env is a migrated database with the stores on it.
type env struct {
	pool    *pgxpool.Pool
	store   *cgmstore.Store
	consent *consent.Store
	rec     *Store
	logger  *slog.Logger
	te      *testenv.Env
}

func newEnv(t testing.TB) *env {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	te := testenv.New(t, testenv.WithLogger(logger))
	rec, err := New(te.Pool, Options{Base: testBase, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return &env{pool: te.Pool, store: te.Store, consent: te.Consent, rec: rec, logger: logger, te: te}
}

// patient creates the n-th test patient, with third-party consent granted
// or not.
func (e *env) patient(t testing.TB, n int, granted bool) cgmstore.Patient {
	t.Helper()
	p, _, err := e.store.EnsurePatient(context.Background(), testCF(n), "Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	e.setConsent(t, p, granted)
	return p
}

// setConsent grants or revokes the patient's third-party consent, as the
// patient.
func (e *env) setConsent(t testing.TB, p cgmstore.Patient, granted bool) {
	t.Helper()
	a := consent.Actor{Role: auth.RoleCitizen, FiscalCode: p.FiscalCode, RequestID: "test"}
	if _, err := e.consent.SetThirdPartyConsent(context.Background(), a, p.ID, granted); err != nil {
		t.Fatal(err)
	}
}

// care records a care relationship of the patient, as the registry.
func (e *env) care(t testing.TB, p cgmstore.Patient, kind consent.CareKind, party string) {
	t.Helper()
	a := consent.Actor{Role: auth.RoleService, ClientID: "anagrafe", Scopes: []string{consent.ScopeRegistry}, RequestID: "test"}
	r := consent.CareRelationship{PatientFiscalCode: p.FiscalCode, Kind: kind}
	if kind == consent.CareDiabetology {
		r.OrganizationID = party
	} else {
		r.PractitionerFiscalCode = party
	}
	if _, err := e.consent.UpsertCareRelationship(context.Background(), a, r); err != nil {
		t.Fatal(err)
	}
}

// subscribe stores a subscription to base with scope all unless given.
func (e *env) subscribe(t testing.TB, name, base string, mod func(*Subscription)) Subscription {
	t.Helper()
	s := Subscription{Name: name, Kind: KindEHR, BaseURL: base, Auth: Auth{Kind: AuthNone}, Scope: Scope{Kind: ScopeAll}, Active: true}
	if mod != nil {
		mod(&s)
	}
	out, err := e.rec.PutSubscription(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return loc
}()

// report computes the report of one local day of simulated readings of
// patient seed (Libre 2, 15-minute historic readings).
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

// examplePDF is a minimal PDF.
var examplePDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// publication returns the publication of patient p's summary of day.
func publication(t testing.TB, p cgmstore.Patient, seed uint64, day time.Time, pdf []byte) Publication {
	return Publication{
		PatientID: p.ID,
		Patient:   fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: "Rossi", Given: []string{"Mario"}},
		Devices:   []fhir.DeviceInfo{{Serial: fmt.Sprintf("SN%06d", p.ID), Manufacturer: "Abbott", Model: "FreeStyle Libre 2"}},
		Report:    report(t, seed, day),
		PDF:       pdf,
		Issued:    day.AddDate(0, 0, 1).Add(2 * time.Hour),
	}
}

// publish publishes pub in a transaction of its own.
func (e *env) publish(t testing.TB, pub Publication) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		return e.rec.PublishSummary(context.Background(), tx, pub)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// count returns the result of a count query.
func (e *env) count(t testing.TB, q string, args ...any) int {
	t.Helper()
	return e.te.Count(t, q, args...)
}
