package notify

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/notify/mailtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is a database with the notification stores, a patient (Mario), his
// GP and a diabetology centre, and an in-process SMTP receiver.
type env struct {
	t       *testing.T
	pool    *pgxpool.Pool
	clock   *testenv.Clock
	consent *consent.Store
	store   *Store
	svc     *Service
	mail    *mailtest.Server
	mailer  *SMTPMailer
	comp    *Composer
	patient cgmstore.Patient
}

const (
	base         = "https://taccuino.example.org"
	centre       = "ASL-TC-DIABETOLOGIA-FI"
	marioAddress = "mario.rossi@example.org"
)

var (
	cfMario    = codicefiscale.Complete("RSSMRA80A01H501")
	cfGP       = codicefiscale.Complete("VRDLCU68H12D612")
	cfDiab     = codicefiscale.Complete("NRESRA75C55D612")
	cfStranger = codicefiscale.Complete("BNCPLA70A01D612")
	// values are glucose values stored for Mario: no message may hold one.
	values = []float64{63.4, 118.2, 187.9, 251.3}
)

func newEnv(t *testing.T, start time.Time) *env {
	t.Helper()
	ctx := context.Background()
	te := testenv.New(t, testenv.WithClock(start))
	pool, ck := te.Pool, te.Clock
	e := &env{t: t, pool: pool, clock: ck, consent: te.Consent}
	e.store = New(pool, e.consent, Options{Now: ck.Now})
	var err error
	if e.mail, err = mailtest.Start(mailtest.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.mail.Close() })
	cfg, err := ParseSMTPURL(e.mail.URL(), "notifiche@taccuino.example.org")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	e.mailer = NewSMTPMailer(cfg)
	e.svc = &Service{Store: e.store, Mailer: e.mailer, BaseURL: base, Now: ck.Now}
	if e.comp, err = NewComposer(e.store, ComposerOptions{BaseURL: base, From: e.mailer.From(), DigestHour: 8}); err != nil {
		t.Fatal(err)
	}
	cs := te.Store
	if e.patient, _, err = cs.EnsurePatient(ctx, cfMario, "Europe/Rome"); err != nil {
		t.Fatal(err)
	}
	var rs []cgm.Reading
	for i := range 96 {
		rs = append(rs, cgm.Reading{Time: start.Add(-time.Duration(i+1) * 15 * time.Minute).Truncate(time.Minute),
			Value: values[i%len(values)], Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	if _, err := cs.Ingest(ctx, cgmstore.Batch{Patient: e.patient.ID, Source: cgmstore.SourceLibreView, Readings: rs}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []consent.CareRelationship{
		{PatientFiscalCode: cfMario, Kind: consent.CareMMG, PractitionerFiscalCode: cfGP},
		{PatientFiscalCode: cfMario, Kind: consent.CareDiabetology, OrganizationID: centre},
	} {
		if _, err := e.consent.UpsertCareRelationship(ctx, registry, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.consent.SetThirdPartyConsent(ctx, e.self(), e.patient.ID, true); err != nil {
		t.Fatal(err)
	}
	return e
}

var registry = consent.Actor{Role: auth.RoleService, ClientID: "registry", Scopes: []string{consent.ScopeRegistry}, RequestID: "setup"}

func (e *env) self() consent.Actor {
	return consent.Actor{Role: auth.RoleCitizen, FiscalCode: cfMario, Name: "Mario Rossi", RequestID: "self"}
}

func gp() consent.Actor {
	return consent.Actor{Role: auth.RolePractitioner, FiscalCode: cfGP, PractitionerRole: auth.PractitionerMMG,
		Name: "Luca Verdi", RequestID: "gp"}
}

func diabetologist() consent.Actor {
	return consent.Actor{Role: auth.RolePractitioner, FiscalCode: cfDiab, PractitionerRole: auth.PractitionerDiabetologist,
		Organization: centre, Name: "Sara Neri", RequestID: "diab"}
}

func stranger() consent.Actor {
	return consent.Actor{Role: auth.RolePractitioner, FiscalCode: cfStranger, PractitionerRole: auth.PractitionerMMG,
		Name: "Paolo Bianchi", RequestID: "stranger"}
}

// read is a read of Mario's data by a at the clock's time; refusals are
// expected for strangers.
func (e *env) read(a consent.Actor, detail string) {
	e.t.Helper()
	err := e.consent.Access(context.Background(), a, e.patient.ID, consent.ActReadData, detail, nil)
	if err != nil && !strings.Contains(err.Error(), "denied") {
		e.t.Fatal(err)
	}
}

// confirm sets Mario's address in mode and opens the link of the e-mail
// it sent.
func (e *env) confirm(address string, mode Mode, lang locale.Lang) {
	e.t.Helper()
	before := len(e.mail.Messages())
	if _, err := e.svc.Request(context.Background(), e.self(), e.patient.ID, Request{Email: address, Mode: mode, Lang: lang}); err != nil {
		e.t.Fatal(err)
	}
	ms := e.mail.Wait(before+1, 5*time.Second)
	if len(ms) != before+1 {
		e.t.Fatalf("no confirmation e-mail: %d messages", len(ms))
	}
	tok := tokenIn(e.t, ms[len(ms)-1])
	if _, err := e.store.Confirm(context.Background(), tok, "confirm"); err != nil {
		e.t.Fatal(err)
	}
}

var tokenRE = regexp.MustCompile(`/notifications/confirm\?token=([A-Za-z0-9_-]+)`)

func tokenIn(t *testing.T, m mailtest.Message) string {
	t.Helper()
	g := tokenRE.FindStringSubmatch(m.Body)
	if g == nil {
		t.Fatalf("no confirmation link in %q", m.Body)
	}
	return g[1]
}

// deliver composes and sends everything due at the clock's time and
// returns the messages received since before.
func (e *env) deliver(before int) []mailtest.Message {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.comp.ComposeDue(ctx); err != nil {
		e.t.Fatal(err)
	}
	s, err := NewSender(e.store, e.mailer, SenderOptions{Replica: "test", Timeout: 5 * time.Second, Lease: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := s.SendDue(ctx); err != nil {
		e.t.Fatal(err)
	}
	return e.mail.Messages()[before:]
}

// cfRE matches a codice fiscale.
var cfRE = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

// diagnosisRE matches words naming a diagnosis (the clinicians' roles,
// "diabetologo", are expected).
var diagnosisRE = regexp.MustCompile(`(?i)\bdiabete\b|\bdiabetes\b|\btipo [12]\b|\btype [12]\b|\bE1[0-4]\b`)

// checkClean fails when a notification holds a glucose value, a fiscal
// code, a diagnosis or a confirmation token.
func checkClean(t *testing.T, ms []mailtest.Message) {
	t.Helper()
	for i, m := range ms {
		text := string(m.Data) + "\n" + m.Subject + "\n" + m.Body
		if cfRE.MatchString(text) {
			t.Errorf("message %d holds a fiscal code: %s", i, cfRE.FindString(text))
		}
		for _, v := range values {
			for _, s := range []string{fmt.Sprint(v), strings.Replace(fmt.Sprint(v), ".", ",", 1)} {
				if strings.Contains(text, s) {
					t.Errorf("message %d holds the glucose value %s", i, s)
				}
			}
		}
		if diagnosisRE.MatchString(text) {
			t.Errorf("message %d names a diagnosis: %q", i, diagnosisRE.FindString(text))
		}
		if strings.Contains(text, "token=") {
			t.Errorf("message %d holds a confirmation token", i)
		}
	}
}
