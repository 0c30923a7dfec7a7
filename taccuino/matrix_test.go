package taccuino

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/applehealth/applehealthtest"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/connectors/nightscout/nsupload"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
)

// matrixFixture is the population of the authorization matrix.
type matrixFixture struct {
	minor, adult cgmstore.Patient // the patients
	// throwaway delegations to revoke, per patient
	throwaway map[int64]int64
	values    []string // glucose values stored, as written in JSON
	// connection to disconnect, per patient; newAccount adds a fake
	// LibreLinkUp account following the patient, to connect
	connection map[int64]string
	newAccount func(cgmstore.Patient) librelinkuptest.Account
	// kept: a second connection per patient, never disconnected, whose
	// credentials are updated and sync requested; keptAccount its login
	kept        map[int64]string
	keptAccount map[int64]librelinkuptest.Account
	// uploader: a Nightscout uploader per patient, to revoke
	uploader map[int64]string
	// FHIR resources of each patient (submitted by the patient): a
	// reading Observation and a Device, as "Type/id"; their sensor serial
	// and the reading's identifier value, which the matrix's submissions
	// for the other patient reuse (identifiers are per patient).
	fhirObs, fhirDev, serial, ident map[int64]string
	// other returns the other patient of the fixture.
	other func(cgmstore.Patient) cgmstore.Patient
}

// The people of the matrix.
var (
	cfParent        = testCF(101)
	cfParentOfAdult = testCF(102)
	cfTutor         = testCF(103)
	cfDelegate      = testCF(104)
	cfExpired       = testCF(105)
	cfMMG           = testCF(106)
	cfMMGOther      = testCF(107)
	cfDiabetologist = testCF(108)
	cfNewDelegate   = testCF(109)
	cfThrowaway     = testCF(110)
	cfRegistryMMG   = testCF(111)
	cfAnalyst       = testCF(112)
	cfAnalystASL    = testCF(113)
)

const matrixCentre = "CENTRO-DIAB-1"

// seedMatrix stores the patients, relationships, delegations and readings.
func seedMatrix(t *testing.T, e *testEnv, granted bool) matrixFixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	birthMinor := time.Date(now.Year()-12, 4, 5, 0, 0, 0, 0, time.UTC)
	// The adult turned 18 ten days ago.
	adultBirth := now.AddDate(-18, 0, -10)
	adultBirth = time.Date(adultBirth.Year(), adultBirth.Month(), adultBirth.Day(), 0, 0, 0, 0, time.UTC)
	f := matrixFixture{throwaway: map[int64]int64{}, connection: map[int64]string{}, newAccount: e.accountFor,
		kept: map[int64]string{}, keptAccount: map[int64]librelinkuptest.Account{}, uploader: map[int64]string{},
		fhirObs: map[int64]string{}, fhirDev: map[int64]string{}, serial: map[int64]string{}, ident: map[int64]string{}}
	f.minor = e.newPatient(cfBornAs("Giulia", "Segreti", 1, birthMinor), "Giulia", "Segreti", birthMinor)
	f.adult = e.newPatient(cfBornAs("Marta", "Riservati", 2, adultBirth), "Marta", "Riservati", adultBirth)
	vals := []float64{63.4, 118.2, 187.9, 251.3}
	e.ingest(f.minor, now.Add(-3*time.Minute), 96, vals)
	e.ingest(f.adult, now.Add(-3*time.Minute), 8, vals)
	f.values = []string{"63.4", "118.2", "187.9", "251.3"}

	for _, g := range []consent.Guardianship{
		{Kind: consent.GuardianParent, GuardianFiscalCode: cfParent, PatientFiscalCode: f.minor.FiscalCode},
		{Kind: consent.GuardianTutor, GuardianFiscalCode: cfTutor, PatientFiscalCode: f.minor.FiscalCode},
		{Kind: consent.GuardianParent, GuardianFiscalCode: cfParentOfAdult, PatientFiscalCode: f.adult.FiscalCode},
	} {
		if _, err := e.consent.UpsertGuardianship(ctx, registryActor, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []consent.CareRelationship{
		{PatientFiscalCode: f.minor.FiscalCode, Kind: consent.CareMMG, PractitionerFiscalCode: cfMMG},
		{PatientFiscalCode: f.minor.FiscalCode, Kind: consent.CareDiabetology, OrganizationID: matrixCentre},
		{PatientFiscalCode: f.adult.FiscalCode, Kind: consent.CareMMG, PractitionerFiscalCode: cfMMG},
	} {
		if _, err := e.consent.UpsertCareRelationship(ctx, registryActor, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []cgmstore.Patient{f.minor, f.adult} {
		self := selfActor(p.FiscalCode)
		if _, err := e.consent.AcceptPrivacyNotice(ctx, self, p.ID, PrivacyNoticeVersion); err != nil {
			t.Fatal(err)
		}
		grantor := self
		if p.ID == f.minor.ID {
			grantor = selfActor(cfParent) // a minor does not delegate: the parent does
		}
		d, err := e.consent.GrantDelegation(ctx, grantor, p.ID, cfThrowaway, now.Add(20*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		f.throwaway[p.ID] = d.ID
		e.setConsentAs(grantor, p, granted)
		err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			a := e.accountFor(p)
			c, err := e.syncer.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: a.Email, Password: a.Password})
			if err != nil {
				return err
			}
			f.connection[p.ID] = c.ID
			k := e.accountFor(p)
			kc, err := e.syncer.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: k.Email, Password: k.Password})
			f.kept[p.ID], f.keptAccount[p.ID] = kc.ID, k
			if err != nil {
				return err
			}
			u, _, err := nsupload.Create(ctx, tx, p.ID, "xDrip+")
			f.uploader[p.ID] = u.ID
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.consent.GrantDelegation(ctx, selfActor(cfParent), f.minor.ID, cfDelegate,
		now.Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Each patient submits a reading of their sensor through the FHIR API,
	// among the readings above (a record whose only other reading is days
	// older makes GET /reports/agp/:id answer 500 today: not this test's
	// subject).
	f.other = func(p cgmstore.Patient) cgmstore.Patient {
		if p.ID == f.minor.ID {
			return f.adult
		}
		return f.minor
	}
	for i, p := range []cgmstore.Patient{f.minor, f.adult} {
		f.serial[p.ID], f.ident[p.ID] = fmt.Sprintf("MATRIX-SN-%d", i), fmt.Sprintf("matrix-reading-%d", i)
		res := e.request(http.MethodPost, "/fhir/$submit-cgm-bundle", e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: p.FiscalCode}),
			"application/fhir+json", matrixSubmission(p, f.serial[p.ID], f.ident[p.ID], now.Add(-100*time.Minute)), nil)
		var rb fhir.Bundle
		if err := json.Unmarshal(res.body, &rb); err != nil || res.status != 200 || len(rb.Entry) != 3 {
			t.Fatalf("seeding the FHIR resources of patient %d: %d %s", p.ID, res.status, truncate(res.body))
		}
		f.fhirDev[p.ID] = rb.Entry[1].Response.Location
		f.fhirObs[p.ID] = strings.TrimSuffix(rb.Entry[2].Response.Location, "/_history/1")
	}
	// A delegation that expired ten days ago, granted with a clock 40 days
	// back.
	past := consent.New(e.pool, consent.Options{Now: func() time.Time { return now.Add(-40 * 24 * time.Hour) }})
	if _, err := past.GrantDelegation(ctx, selfActor(cfParent), f.minor.ID, cfExpired,
		now.Add(-10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return f
}

// matrixSubmission is a platform's $submit-cgm-bundle for patient p: the
// Patient, the sensor with serial, and one reading at `at` with the
// platform's identifier ident (conditional create on it). It panics on
// what cannot happen with valid arguments.
func matrixSubmission(p cgmstore.Patient, serial, ident string, at time.Time) []byte {
	const platform = "https://platform.example/fhir"
	b, err := fhir.ReadingsBundle(fhir.ReadingsInput{Base: platform, Patient: fhir.PatientInfo{ID: "plat-1", FiscalCode: p.FiscalCode},
		Devices:  []fhir.DeviceInfo{{Serial: serial, Manufacturer: "Abbott", Model: "FreeStyle Libre 3"}},
		Readings: []cgm.Reading{{Time: at.Truncate(time.Minute), Value: 123, Unit: cgm.MgDL, Kind: cgm.Historic, Device: serial}},
		Type:     fhir.BundleTransaction, Timestamp: time.Now()})
	if err != nil {
		panic(err)
	}
	o := b.Entry[2].Resource.(*fhir.Observation)
	o.Identifier = []fhir.Identifier{{System: platform + "/readings", Value: ident}}
	b.Entry[2].Request.IfNoneExist = "identifier=" + platform + "/readings|" + ident
	data, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	return data
}

// persona is a caller of the matrix.
type persona struct {
	name  string
	token string // empty: anonymous
	adult bool   // targets the adult patient instead of the minor
	// self: the caller is the patient (allowed accesses are not logged).
	self bool
	// unauth: no valid token.
	unauth bool
	// may says whether the persona may do act, given the consent.
	may func(act consent.Action, granted bool) bool
}

// The rules the matrix expects, written from the text (not from
// consent.Decide).
func all(act consent.Action, _ bool) bool { return act != consent.ActWriteCareRelationships }

// minorMay is what a minor patient may do on their own record: everything
// but changing consent, delegations and the notification address, their
// parent's or tutor's powers.
func minorMay(act consent.Action, granted bool) bool {
	return all(act, granted) && act != consent.ActWriteConsent && act != consent.ActWriteDelegations &&
		act != consent.ActWriteNotifications
}
func none(consent.Action, bool) bool { return false }
func delegateMay(act consent.Action, _ bool) bool {
	return act == consent.ActReadData || act == consent.ActWriteData || act == consent.ActReadAccessLog
}
func clinicianMay(act consent.Action, granted bool) bool {
	return act == consent.ActReadData && granted
}
func registryMay(act consent.Action, _ bool) bool {
	return act == consent.ActReadCareRelationships || act == consent.ActWriteCareRelationships
}

func matrixPersonas(e *testEnv, f matrixFixture) []persona {
	citizen := func(cf string) string {
		return e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Test"})
	}
	practitioner := func(cf string, r auth.PractitionerRole, org string) string {
		return e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: cf, PractitionerRole: r, Organization: org, Name: "Dott. Test"})
	}
	analyst := func(cf, scope string) string {
		return e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: cf, PopulationScope: scope, Name: "Analista"})
	}
	ps := []persona{
		{name: "patient (minor)", token: citizen(f.minor.FiscalCode), self: true, may: minorMay},
		{name: "patient (adult)", token: citizen(f.adult.FiscalCode), self: true, adult: true, may: all},
		{name: "parent of minor", token: citizen(cfParent), may: all},
		{name: "parent after the child turned 18", token: citizen(cfParentOfAdult), adult: true, may: none},
		{name: "tutor", token: citizen(cfTutor), may: all},
		{name: "delegate", token: citizen(cfDelegate), may: delegateMay},
		{name: "expired delegate", token: citizen(cfExpired), may: none},
		{name: "MMG with relationship", token: practitioner(cfMMG, auth.PractitionerMMG, ""), may: clinicianMay},
		{name: "MMG without relationship", token: practitioner(cfMMGOther, auth.PractitionerMMG, ""), may: none},
		{name: "diabetologist", token: practitioner(cfDiabetologist, auth.PractitionerDiabetologist, matrixCentre), may: clinicianMay},
		{name: "service", token: e.token(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "mmg-record",
			Scopes: []string{consent.ScopeReadData}}), may: clinicianMay},
		{name: "registry service", token: e.token(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "registry",
			Scopes: []string{consent.ScopeRegistry}}), may: registryMay},
		{name: "anonymous", unauth: true, may: none},
		// The population view's analysts (issue 19): aggregates only, never
		// a single person's data, whatever the scope.
		{name: "regional analyst", token: analyst(cfAnalyst, auth.PopulationRegion), may: none},
		{name: "ASL analyst", token: analyst(cfAnalystASL, auth.PopulationASLPrefix+"TC"), may: none},
		{name: "ASL analyst (adult)", token: analyst(cfAnalystASL, auth.PopulationASLPrefix+"TC"), adult: true, may: none},
	}
	// The patient's token after the patient signed out: the session is
	// ended on the server, the token refused everywhere.
	ended := citizen(f.minor.FiscalCode)
	if err := e.sessions.End(context.Background(), ended, time.Now().Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	ps = append(ps, persona{name: "patient after sign-out", token: ended, unauth: true, may: none})
	// Forged, expired and misdirected tokens, each claiming to be the
	// patient; the rejections include tokens without the typ at+jwt of an
	// access token (an ID token), refused in production mode.
	for _, r := range e.idp.Rejections() {
		ps = append(ps, persona{name: "token: " + r.Name, unauth: true, may: none,
			token: e.idp.Token(e.t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: f.minor.FiscalCode}, r.Opts...)})
	}
	return ps
}

// endpoint is a route of the matrix.
type endpoint struct {
	method string
	route  string // echo pattern, to match the registered routes
	act    consent.Action
	ok     int  // status when allowed
	html   bool // an HTML page
	// selfLogged: logged even when the patient does it (the notification
	// address).
	selfLogged bool
	fhir       bool // the FHIR API: errors are OperationOutcomes
	// refused is the status of a refusal when it is not 403: 404 for a
	// FHIR read of a resource (as for an id of nothing), 200 for a FHIR
	// Patient search (found nothing).
	refused int
	// check, when set, checks the answer further.
	check func(t *testing.T, what string, f matrixFixture, p cgmstore.Patient, res response, allowed bool)
	// path returns the request path for patient p.
	path func(f matrixFixture, p cgmstore.Patient) string
	// body returns the content type and body (nil for none).
	body func(f matrixFixture, p cgmstore.Patient, reqID string) (string, []byte)
}

func matrixEndpoints() []endpoint {
	pp := func(suffix string) func(matrixFixture, cgmstore.Patient) string {
		return func(_ matrixFixture, p cgmstore.Patient) string { return "/api/v1/patients/" + p.PublicID + suffix }
	}
	jsonBody := func(s string) func(matrixFixture, cgmstore.Patient, string) (string, []byte) {
		return func(matrixFixture, cgmstore.Patient, string) (string, []byte) { return "application/json", []byte(s) }
	}
	now := time.Now()
	return []endpoint{
		{method: "GET", route: "/api/v1/patients/:id/glucose/latest", act: consent.ActReadData, ok: 200, path: pp("/glucose/latest")},
		{method: "GET", route: "/api/v1/patients/:id/glucometrics", act: consent.ActReadData, ok: 200, path: pp("/glucometrics")},
		{method: "GET", route: "/api/v1/reports/agp/:id", act: consent.ActReadData, ok: 200,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/api/v1/reports/agp/" + p.PublicID }},
		{method: "GET", route: "/reports/agp/:id", act: consent.ActReadData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/reports/agp/" + p.PublicID }},
		{method: "GET", route: "/api/v1/patients/:id/readings", act: consent.ActReadData, ok: 200, path: pp("/readings")},
		{method: "GET", route: "/api/v1/patients/:id/daily-profiles", act: consent.ActReadData, ok: 200, path: pp("/daily-profiles")},
		{method: "POST", route: "/api/v1/patients/:id/imports", act: consent.ActWriteData, ok: 200, path: pp("/imports"),
			body: func(matrixFixture, cgmstore.Patient, string) (string, []byte) {
				return "text/csv", []byte(longCSV(now.Add(-26*time.Hour), 101, 102, 103))
			}},
		{method: "GET", route: "/api/v1/patients/:id/export", act: consent.ActReadData, ok: 200, path: pp("/export?format=csv")},
		{method: "GET", route: "/taccuino/p/:id/export", act: consent.ActReadData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string {
				return "/taccuino/p/" + p.PublicID + "/export?format=fhir"
			}},
		{method: "GET", route: "/api/v1/patients/:id/vitals", act: consent.ActReadData, ok: 200, path: pp("/vitals")},
		{method: "GET", route: "/api/v1/patients/:id/vitals/sources", act: consent.ActReadData, ok: 200, path: pp("/vitals/sources")},
		{method: "PUT", route: "/api/v1/patients/:id/vitals/sources", act: consent.ActWriteData, ok: 200, path: pp("/vitals/sources"),
			body: jsonBody(`{"order":[]}`)},
		{method: "POST", route: "/api/v1/patients/:id/vitals/imports", act: consent.ActWriteData, ok: 200, path: pp("/vitals/imports"),
			body: func(matrixFixture, cgmstore.Patient, string) (string, []byte) {
				var b bytes.Buffer
				if _, err := applehealthtest.Write(&b, applehealthtest.Options{Start: now.AddDate(0, 0, -3), Days: 1}); err != nil {
					panic(err)
				}
				return "application/xml", b.Bytes()
			}},
		{method: "GET", route: "/api/v1/patients/:id/consent/third-party", act: consent.ActReadConsent, ok: 200, path: pp("/consent/third-party")},
		{method: "PUT", route: "/api/v1/patients/:id/consent/third-party", act: consent.ActWriteConsent, ok: 200, path: pp("/consent/third-party")},
		{method: "GET", route: "/api/v1/patients/:id/consent/privacy-notice", act: consent.ActReadConsent, ok: 200, path: pp("/consent/privacy-notice")},
		{method: "GET", route: "/api/v1/patients/:id/delegations", act: consent.ActReadDelegations, ok: 200, path: pp("/delegations")},
		{method: "POST", route: "/api/v1/patients/:id/delegations", act: consent.ActWriteDelegations, ok: 201, path: pp("/delegations"),
			body: jsonBody(`{"delegate_fiscal_code":"` + cfNewDelegate + `","expires_at":"` + now.Add(10*24*time.Hour).UTC().Format(time.RFC3339) + `"}`)},
		{method: "DELETE", route: "/api/v1/patients/:id/delegations/:delegation", act: consent.ActWriteDelegations, ok: 200,
			path: func(f matrixFixture, p cgmstore.Patient) string {
				return "/api/v1/patients/" + p.PublicID + "/delegations/" + strconv.FormatInt(f.throwaway[p.ID], 10)
			}},
		{method: "GET", route: "/api/v1/patients/:id/access-log", act: consent.ActReadAccessLog, ok: 200, path: pp("/access-log")},
		{method: "GET", route: "/api/v1/patients/:id/care-relationships", act: consent.ActReadCareRelationships, ok: 200, path: pp("/care-relationships")},
		{method: "GET", route: "/api/v1/patients", act: consent.ActReadData, ok: 200,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/api/v1/patients?identifier=" + p.FiscalCode }},
		{method: "POST", route: "/api/v1/care-relationships", act: consent.ActWriteCareRelationships, ok: 200,
			path: func(matrixFixture, cgmstore.Patient) string { return "/api/v1/care-relationships" },
			body: func(_ matrixFixture, p cgmstore.Patient, reqID string) (string, []byte) {
				// A new source each time, so that every allowed write changes
				// something (unchanged writes are not logged).
				return "application/json", []byte(`{"kind":"mmg","patient_fiscal_code":"` + p.FiscalCode +
					`","practitioner_fiscal_code":"` + cfRegistryMMG + `","source":"m-` + reqID + `"}`)
			}},
		{method: "GET", route: "/api/v1/patients/:id/connections", act: consent.ActReadData, ok: 200, path: pp("/connections")},
		{method: "POST", route: "/api/v1/patients/:id/connections", act: consent.ActWriteData, ok: 201, path: pp("/connections"),
			body: func(f matrixFixture, p cgmstore.Patient, _ string) (string, []byte) {
				// A new LibreLinkUp account each time: one account connects once.
				a := f.newAccount(p)
				b, _ := json.Marshal(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient,
					Email: a.Email, Password: a.Password})
				return "application/json", b
			}},
		{method: "DELETE", route: "/api/v1/patients/:id/connections/:connection", act: consent.ActWriteData, ok: 200,
			path: func(f matrixFixture, p cgmstore.Patient) string {
				return "/api/v1/patients/" + p.PublicID + "/connections/" + f.connection[p.ID] + "?keep_readings=true"
			}},
		{method: "PUT", route: "/api/v1/patients/:id/connections/:connection/credentials", act: consent.ActWriteData, ok: 200,
			path: func(f matrixFixture, p cgmstore.Patient) string {
				return "/api/v1/patients/" + p.PublicID + "/connections/" + f.kept[p.ID] + "/credentials"
			},
			body: func(f matrixFixture, p cgmstore.Patient, _ string) (string, []byte) {
				a := f.keptAccount[p.ID]
				b, _ := json.Marshal(CredentialsRequest{Email: a.Email, Password: a.Password})
				return "application/json", b
			}},
		{method: "POST", route: "/api/v1/patients/:id/connections/:connection/sync", act: consent.ActWriteData, ok: 202,
			path: func(f matrixFixture, p cgmstore.Patient) string {
				return "/api/v1/patients/" + p.PublicID + "/connections/" + f.kept[p.ID] + "/sync"
			}},
		{method: "GET", route: "/api/v1/patients/:id/uploaders", act: consent.ActReadData, ok: 200, path: pp("/uploaders")},
		{method: "POST", route: "/api/v1/patients/:id/uploaders", act: consent.ActWriteData, ok: 201, path: pp("/uploaders"),
			body: func(_ matrixFixture, _ cgmstore.Patient, _ string) (string, []byte) {
				return "application/json", []byte(`{"label":"Juggluco"}`)
			}},
		{method: "DELETE", route: "/api/v1/patients/:id/uploaders/:uploader", act: consent.ActWriteData, ok: 200,
			path: func(f matrixFixture, p cgmstore.Patient) string {
				return "/api/v1/patients/" + p.PublicID + "/uploaders/" + f.uploader[p.ID]
			}},
		{method: "GET", route: "/api/v1/patients/:id/notifications", act: consent.ActReadNotifications, ok: 200, path: pp("/notifications")},
		{method: "PUT", route: "/api/v1/patients/:id/notifications", act: consent.ActWriteNotifications, ok: 202, path: pp("/notifications"),
			selfLogged: true,
			body: func(_ matrixFixture, _ cgmstore.Patient, reqID string) (string, []byte) {
				// A new address each time: each allowed change sends a
				// confirmation e-mail (202).
				return "application/json", []byte(`{"email":"` + strings.ToLower(strings.ReplaceAll(reqID, "-", ".")) + `@example.org","mode":"each"}`)
			}},
		{method: "GET", route: "/taccuino/p/:id", act: consent.ActReadData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/taccuino/p/" + p.PublicID }},
		{method: "GET", route: "/taccuino/p/:id/vitals", act: consent.ActReadData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/taccuino/p/" + p.PublicID + "/vitals" }},
		{method: "GET", route: "/taccuino/p/:id/vitals/day", act: consent.ActReadData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/taccuino/p/" + p.PublicID + "/vitals/day" }},
		// The uploaders' page: a page of who manages the data, as the
		// API's creation and revocation (its forms: TestUploadersPageAccess).
		{method: "GET", route: "/taccuino/p/:id/uploaders", act: consent.ActWriteData, ok: 200, html: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/taccuino/p/" + p.PublicID + "/uploaders" }},

		// The FHIR API: the same rules. A resource of a patient the caller
		// may not read answers as an id of nothing (404).
		{method: "GET", route: "/fhir/Patient/:id", act: consent.ActReadData, ok: 200, fhir: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/fhir/Patient/" + p.PublicID }},
		{method: "GET", route: "/fhir/Observation/:id", act: consent.ActReadData, ok: 200, fhir: true, refused: 404,
			path: func(f matrixFixture, p cgmstore.Patient) string { return "/fhir/" + f.fhirObs[p.ID] }},
		{method: "GET", route: "/fhir/Device/:id", act: consent.ActReadData, ok: 200, fhir: true, refused: 404,
			path: func(f matrixFixture, p cgmstore.Patient) string { return "/fhir/" + f.fhirDev[p.ID] }},
		{method: "GET", route: "/fhir/Observation", act: consent.ActReadData, ok: 200, fhir: true,
			path: func(_ matrixFixture, p cgmstore.Patient) string { return "/fhir/Observation?patient=" + p.PublicID }},
		{method: "GET", route: "/fhir/Patient", act: consent.ActReadData, ok: 200, fhir: true, refused: 200,
			path: func(_ matrixFixture, p cgmstore.Patient) string {
				return "/fhir/Patient?identifier=" + url.QueryEscape(fhir.FiscalCodeSystem+"|"+p.FiscalCode)
			},
			check: func(t *testing.T, what string, _ matrixFixture, _ cgmstore.Patient, res response, allowed bool) {
				var b struct{ Total int }
				if err := json.Unmarshal(res.body, &b); err != nil || allowed != (b.Total == 1) {
					t.Errorf("%s: search found %d (allowed %v)", what, b.Total, allowed)
				}
			}},
		// A submission reusing the other patient's sensor serial and
		// reading identifier (conditionally): new resources of this patient,
		// never a conflict nor the other patient's location.
		{method: "POST", route: "/fhir/$submit-cgm-bundle", act: consent.ActWriteData, ok: 200, fhir: true,
			path: func(matrixFixture, cgmstore.Patient) string { return "/fhir/$submit-cgm-bundle" },
			body: func(f matrixFixture, p cgmstore.Patient, reqID string) (string, []byte) {
				o := f.other(p)
				return "application/fhir+json", matrixSubmission(p, f.serial[o.ID], f.ident[o.ID], time.Now().Add(-110*time.Minute))
			},
			check: func(t *testing.T, what string, f matrixFixture, p cgmstore.Patient, res response, allowed bool) {
				if !allowed {
					return
				}
				var rb fhir.Bundle
				if err := json.Unmarshal(res.body, &rb); err != nil || len(rb.Entry) != 3 {
					t.Errorf("%s: %s", what, truncate(res.body))
					return
				}
				o := f.other(p)
				for i, en := range rb.Entry {
					if !strings.HasPrefix(en.Response.Status, "20") || en.Response.Location == f.fhirDev[o.ID] ||
						strings.HasPrefix(en.Response.Location, f.fhirObs[o.ID]) {
						t.Errorf("%s: entry %d %s %s (the other patient's serial and identifier)", what, i, en.Response.Status, en.Response.Location)
					}
				}
			}},
	}
}

// TestAuthorizationMatrix calls every endpoint about a patient as every
// persona of the issue, with the third-party consent granted and revoked,
// and checks the status, that refusals carry no data, and that every
// access by someone other than the patient and every refusal is in the
// patient's access log under the request's id.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	for _, granted := range []bool{true, false} {
		t.Run(fmt.Sprintf("consent=%v", granted), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := seedMatrix(t, e, granted)
			consentBody := fmt.Sprintf(`{"granted":%v}`, granted)
			personas := matrixPersonas(e, f)
			endpoints := matrixEndpoints()
			requests, denied, logged := 0, 0, 0
			for _, ps := range personas {
				target := f.minor
				if ps.adult {
					target = f.adult
				}
				for i, ep := range endpoints {
					reqID := fmt.Sprintf("m%v-%d-%s", granted, i, strings.NewReplacer(" ", "-", ":", "", ",", "", "(", "", ")", "").Replace(ps.name))
					if len(reqID) > 64 {
						reqID = reqID[:64]
					}
					var ct string
					var body []byte
					if ep.body != nil {
						ct, body = ep.body(f, target, reqID)
					} else if ep.method == http.MethodPut {
						ct, body = "application/json", []byte(consentBody)
					}
					res := e.request(ep.method, ep.path(f, target), ps.token, ct, body, map[string]string{web.HeaderRequestID: reqID})
					requests++
					allowed := !ps.unauth && ps.may(ep.act, granted)
					want := ep.ok
					switch {
					case ps.unauth:
						want = http.StatusUnauthorized
					case !allowed && ep.refused != 0:
						want = ep.refused
					case !allowed:
						want = http.StatusForbidden
					}
					what := fmt.Sprintf("%s %s as %s", ep.method, ep.route, ps.name)
					if res.status != want {
						t.Errorf("%s: status %d, want %d; body %s", what, res.status, want, truncate(res.body))
						continue
					}
					if !allowed {
						denied++
						checkNoData(t, what, res, f, target, ep.html, ep.fhir)
					}
					if ep.check != nil {
						ep.check(t, what, f, target, res, allowed)
					}
					entries := e.accessLog(reqID)
					switch {
					case ps.unauth:
						if len(entries) != 1 || entries[0].Outcome != consent.OutcomeDenied ||
							entries[0].Reason != consent.ReasonUnauthenticated || entries[0].ID != target.ID {
							t.Errorf("%s: access log %+v, want one denial for unauthenticated", what, entries)
						}
					case !allowed:
						if !hasOutcome(entries, target.ID, consent.OutcomeDenied) {
							t.Errorf("%s: access log %+v, want a denial", what, entries)
						}
					case ps.self && ep.selfLogged:
						if len(entries) != 1 || entries[0].Outcome != consent.OutcomeAllowed || entries[0].Basis != consent.BasisSelf {
							t.Errorf("%s: access log %+v, want the patient's own change logged", what, entries)
						}
					case ps.self:
						if len(entries) != 0 {
							t.Errorf("%s: access log %+v, want nothing for the patient's own access", what, entries)
						}
					default:
						if len(entries) == 0 {
							t.Errorf("%s: no access-log entry for an allowed access", what)
						}
						for _, en := range entries {
							if en.Outcome != consent.OutcomeAllowed || en.ID != target.ID {
								t.Errorf("%s: access-log entry %+v, want allowed on patient %d", what, en, target.ID)
							}
						}
					}
					logged += len(entries)
				}
			}
			// Nothing personal in the service's log: no fiscal code, token,
			// name or glucose value.
			secrets := []string{f.minor.FiscalCode, f.adult.FiscalCode, cfParent, cfDelegate, cfMMG, f.minor.FamilyName, f.adult.FamilyName}
			for _, a := range e.fake.Accounts() {
				secrets = append(secrets, a.Email, a.Password)
			}
			for _, ps := range personas {
				if ps.token != "" {
					secrets = append(secrets, ps.token, ps.token[strings.LastIndexByte(ps.token, '.')+1:])
				}
			}
			checkLogs(t, e.logs.String(), secrets, f.values)
			t.Logf("consent=%v: %d personas × %d endpoints = %d requests, %d refused, %d access-log entries checked",
				granted, len(personas), len(endpoints), requests, denied, logged)
		})
	}
}

func hasOutcome(es []consent.AccessEntry, patient int64, o consent.Outcome) bool {
	for _, e := range es {
		if e.Outcome == o && e.ID == patient {
			return true
		}
	}
	return false
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// checkNoData fails when a refusal carries anything about the patient: a
// JSON refusal must be exactly {"error": {"code", "message"}} with the
// generic code; any refusal must hold no fiscal code, name or glucose
// value of the patient.
func checkNoData(t *testing.T, what string, res response, f matrixFixture, p cgmstore.Patient, html, fhirAPI bool) {
	t.Helper()
	secrets := []string{p.FiscalCode, p.GivenName, p.FamilyName}
	if fhirAPI && bytes.Contains(res.body, []byte(`"resourceType":"Bundle"`)) {
		secrets = secrets[1:] // an empty searchset's self link repeats the caller's query
	}
	if fhirAPI {
		// A FHIR refusal does not even repeat the patient's id, nor the
		// value of the submitted reading.
		secrets = append(secrets, p.PublicID, `"value":123`)
	}
	for _, secret := range secrets {
		if bytes.Contains(res.body, []byte(secret)) {
			t.Errorf("%s: the refusal holds patient data %q", what, secret)
		}
	}
	if fhirAPI {
		var oo struct {
			ResourceType string
			Total        int
			Entry        []any
		}
		if err := json.Unmarshal(res.body, &oo); err != nil || (oo.ResourceType != "OperationOutcome" &&
			!(oo.ResourceType == "Bundle" && oo.Total == 0 && len(oo.Entry) == 0)) {
			t.Errorf("%s: refusal %s is neither an OperationOutcome nor an empty searchset", what, truncate(res.body))
		}
		return
	}
	if html {
		if bytes.Contains(res.body, []byte("latest-value")) || bytes.Contains(res.body, []byte("<path")) {
			t.Errorf("%s: the refusal page shows glucose data", what)
		}
		return
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(res.body, &body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Errorf("%s: refusal body %s is not a bare error object", what, truncate(res.body))
		return
	}
	eb := body["error"]
	for k := range eb {
		if k != "code" && k != "message" {
			t.Errorf("%s: refusal body has member %q", what, k)
		}
	}
	wantCode := web.CodeForbidden
	if res.status == http.StatusUnauthorized {
		wantCode = web.CodeUnauthenticated
	}
	if eb["code"] != wantCode {
		t.Errorf("%s: error code %v, want %s", what, eb["code"], wantCode)
	}
	for _, v := range f.values {
		if bytes.Contains(res.body, []byte(v)) {
			t.Errorf("%s: the refusal holds the glucose value %s", what, v)
		}
	}
}

// TestMatrixCoversEveryPatientRoute fails when a route about a patient, or
// a JSON API route that writes, is missing from the matrix.
func TestMatrixCoversEveryPatientRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	covered := map[string]bool{}
	for _, ep := range matrixEndpoints() {
		covered[ep.method+" "+ep.route] = true
	}
	// Routes checked elsewhere: pages that need a CSRF token (the browser
	// tests), the caller's own description, the creation of a record.
	exempt := map[string]string{
		"GET /fhir/CodeSystem/:id":       "fsecgm's code system: public, about no patient",
		"GET /fhir/DiagnosticReport/:id": "the read of GET /fhir/Observation/:id: fhirapi.TestOtherPatientsIDs, TestAuthorization",
		"GET /api/v1/me":                 "describes the caller only",
		"POST /api/v1/patients":          "creates a record: TestCreatePatient",
		// The clinic list is not about one patient: it shows the patients
		// consent.VisibleSQL lets the caller see (care relationship and
		// consent), one access-log entry each: reports.TestClinicList.
		"GET /api/v1/clinic":         "practitioner's list: reports.TestClinicList",
		"POST /api/v1/clinic/search": "practitioner's list: reports.TestClinicList",
		// The clinician's record of the AGP report: an HTML form with CSRF,
		// allowed to the patient's clinicians only (consent.ActWriteClinicalInfo).
		"POST /reports/agp/:id/clinical": "clinician's form: reports.TestClinicalInfo",
		// The population view: aggregates of a release, about no patient;
		// analysts and centres' heads only.
		"GET /api/v1/population/dashboard": "aggregates only: TestPopulationAPI",
		"GET /api/v1/population/tables":    "aggregates only: TestPopulationAPI",
		"GET /api/v1/population/trend":     "aggregates only: TestPopulationAPI",
		"GET /api/v1/population/funnel":    "aggregates only: TestPopulationAPI",
		"GET /fhir/Measure/:id":            "an indicator's definition, no patient: TestCapabilityTellsTheTruth",
	}
	for _, r := range e.srv.Routes() {
		key := r.Method + " " + r.Path
		if !(strings.Contains(r.Path, ":id") || strings.HasPrefix(r.Path, "/api/v1/")) || r.Method == "echo_route_not_found" ||
			r.Path == "/api/v1/openapi.json" || strings.HasSuffix(r.Path, "/*") {
			continue
		}
		if strings.HasPrefix(r.Path, "/taccuino/p/:id/") && r.Method == http.MethodPost {
			// HTML forms: same handlers' gate, exercised with CSRF in
			// TestPages and the browser tests; the uploaders' forms as every
			// persona in TestUploadersPageAccess.
			continue
		}
		if covered[key] || exempt[key] != "" {
			continue
		}
		if strings.HasPrefix(r.Path, "/fhir/") && r.Method != http.MethodGet {
			continue // the FHIR API answers 405 to what it does not serve (fhirapi.TestErrors)
		}
		t.Errorf("route %s is not in the authorization matrix", key)
	}
}

// checkLogs fails when a log line holds one of secrets, a glucose value, or
// a fiscal code.
func checkLogs(t *testing.T, logs string, secrets, values []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < 2 {
		t.Fatalf("only %d log lines: the check would prove nothing", len(lines))
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line %d is not JSON: %s", i+1, truncate([]byte(line)))
			continue
		}
		if _, ok := m["request_id"]; !ok && m["msg"] == "request" {
			t.Errorf("log line %d has no request id: %s", i+1, truncate([]byte(line)))
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line %d holds a secret (%.6s…): %s", i+1, s, truncate([]byte(line)))
			}
		}
		for _, v := range values {
			// The value as a number of its own: not the digits of another
			// one ("duration_ms":63.448 is not 63.4).
			if regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(v) + `([^0-9]|$)`).MatchString(line) {
				t.Errorf("log line %d holds the glucose value %s: %s", i+1, v, truncate([]byte(line)))
			}
		}
		if cfPattern.MatchString(line) {
			t.Errorf("log line %d holds a fiscal code: %s", i+1, truncate([]byte(line)))
		}
	}
}

// cfPattern matches a codice fiscale.
var cfPattern = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

// TestAuthorizationMatrixLookupLimits is the matrix's part about the
// lookup limits: once the requests naming a patient have spent that
// patient's limit, every persona — allowed or not, authenticated or not —
// gets 429 with Retry-After on every route that names the patient by
// fiscal code or asks about its care relationships, with no data and no
// access-log entry.
func TestAuthorizationMatrixLookupLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := seedMatrix(t, e, true)
	s, err := New(Deps{Deps: web.Deps{Logger: slog.New(slog.DiscardHandler), Pool: e.pool, Store: e.store, Consent: e.consent,
		Lookups: web.NewLookups(web.LookupOptions{PatientPerMinute: 0.001, PatientBurst: 1})},
		Verifier: mustVerifier(t, e), Sessions: e.sessions, Records: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	p := f.minor
	lookups := []struct{ method, route, path, ct, body string }{
		{"GET", "/api/v1/patients", "/api/v1/patients?identifier=" + p.FiscalCode, "", ""},
		{"GET", "/fhir/Patient", "/fhir/Patient?identifier=" + url.QueryEscape(fhir.FiscalCodeSystem+"|"+p.FiscalCode), "", ""},
		{"POST", "/api/v1/care-relationships", "/api/v1/care-relationships", "application/json",
			`{"kind":"mmg","patient_fiscal_code":"` + p.FiscalCode + `","practitioner_fiscal_code":"` + cfRegistryMMG + `"}`},
		{"GET", "/api/v1/patients/:id/care-relationships", "/api/v1/patients/" + p.PublicID + "/care-relationships", "", ""},
	}
	send := func(method, path, token, ct, body, reqID string) response {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set(web.HeaderRequestID, reqID)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return response{status: r.StatusCode, header: r.Header, body: b}
	}
	// One lookup spends the patient's limit.
	if r := send("GET", lookups[0].path, e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: p.FiscalCode}), "", "", "spend"); r.status != 200 {
		t.Fatalf("the first lookup: %d %s", r.status, r.body)
	}
	n := 0
	for _, ps := range matrixPersonas(e, f) {
		for i, l := range lookups {
			reqID := fmt.Sprintf("limit-%d-%s", i, strings.NewReplacer(" ", "-", ":", "", ",", "", "(", "", ")", "").Replace(ps.name))
			if len(reqID) > 64 {
				reqID = reqID[:64]
			}
			what := l.method + " " + l.route + " as " + ps.name + " beyond the patient's limit"
			r := send(l.method, l.path, ps.token, l.ct, l.body, reqID)
			n++
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Errorf("%s: %d, Retry-After %q", what, r.status, r.header.Get("Retry-After"))
				continue
			}
			for _, secret := range []string{p.FamilyName, p.GivenName, p.PublicID} {
				if bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("%s: the answer holds %q", what, secret)
				}
			}
			if es := e.accessLog(reqID); len(es) != 0 {
				t.Errorf("%s: access-log entries %+v", what, es)
			}
		}
	}
	t.Logf("%d lookups beyond the limit, all 429", n)
}

// TestAnalystReachesNoPatient: the routes the matrix leaves out because
// they are about no single patient (the clinic list and its search, the
// FHIR searches, the caller's description) give an analyst, regional or
// of an ASL, nothing about any patient of the matrix: a refusal, or an
// answer that names none of them.
func TestAnalystReachesNoPatient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := seedMatrix(t, e, true)
	for _, scope := range []string{auth.PopulationRegion, auth.PopulationASLPrefix + "TC"} {
		token := e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: cfAnalyst, PopulationScope: scope, Name: "Analista"})
		for _, c := range []struct {
			method, path, ct, body string
		}{
			{"GET", "/api/v1/clinic", "", ""},
			{"POST", "/api/v1/clinic/search", "application/json", `{"q":"` + f.minor.FamilyName + `"}`},
			{"POST", "/api/v1/clinic/search", "application/json", `{"gri_zone":"A"}`},
			{"GET", "/fhir/Observation", "", ""},
			{"GET", "/fhir/Observation?code=97507-8", "", ""},
			{"GET", "/fhir/Patient?name=" + url.QueryEscape(f.adult.FamilyName), "", ""},
			{"GET", "/api/v1/patients?identifier=" + f.adult.FiscalCode, "", ""},
			{"GET", "/api/v1/me", "", ""},
		} {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			res := e.request(c.method, c.path, token, c.ct, body, nil)
			what := fmt.Sprintf("%s %s as analyst %s", c.method, c.path, scope)
			if res.status >= 500 {
				t.Errorf("%s: status %d", what, res.status)
			}
			for _, p := range []cgmstore.Patient{f.minor, f.adult} {
				for _, s := range []string{p.FiscalCode, p.FamilyName, p.GivenName, p.PublicID} {
					if s != "" && bytes.Contains(res.body, []byte(s)) {
						t.Errorf("%s: status %d, the answer holds %q of a patient", what, res.status, s)
					}
				}
			}
			for _, v := range f.values {
				if res.status == http.StatusOK && bytes.Contains(res.body, []byte(`"value":`+v)) {
					t.Errorf("%s: the answer holds the glucose value %s", what, v)
				}
			}
		}
	}
}
