package records

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestPublishSummary: resources are stored by identifier, re-publishing
// the same figures changes nothing, changed figures make a new version
// with the same id, and an outbox row is written per serving subscription
// only when something changed and the consent stands.
func TestPublishSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(t, 1, true)
	e.subscribe(t, "ehr", "https://ehr.example/fhir", nil)
	e.subscribe(t, "off", "https://off.example/fhir", func(s *Subscription) { s.Active = false })
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, rome)
	pub := publication(t, p, 7, day, examplePDF)
	e.publish(t, pub)

	// 8 IG Observations + 10 local ones, 1 Device, 1 DiagnosticReport.
	got := map[string]int{}
	rows, _ := e.pool.Query(ctx, `SELECT resource_type, count(*) FROM fhir_resources WHERE patient_id = $1 GROUP BY 1`, p.ID)
	var typ string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&typ, &n}, func() error { got[typ] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"Observation": 19, "Device": 1, "DiagnosticReport": 1}, got); diff != "" {
		t.Errorf("stored resources (-want +got):\n%s", diff)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE patient_id = $1`, p.ID); n != 1 {
		t.Fatalf("outbox rows after the first publication: %d, want 1 (one active subscription)", n)
	}
	// The period is the local day: [00:00, 24:00) in Rome.
	var start, end time.Time
	if err := e.pool.QueryRow(ctx, `SELECT effective_start, effective_end FROM fhir_resources
		WHERE patient_id = $1 AND $2 = ANY(codes)`, p.ID, fhir.LOINC+"|"+fhir.CodeGMI).Scan(&start, &end); err != nil {
		t.Fatal(err)
	}
	if !start.Equal(day) || !end.Equal(day.AddDate(0, 0, 1)) {
		t.Errorf("GMI effective range %v..%v, want %v..%v", start, end, day, day.AddDate(0, 0, 1))
	}

	// The same figures, issued later: nothing changes, no new row.
	again := pub
	again.Issued = pub.Issued.Add(24 * time.Hour)
	e.publish(t, again)
	if n := e.count(t, `SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND version > 1`, p.ID); n != 0 {
		t.Errorf("%d resources got a new version from unchanged figures", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE patient_id = $1`, p.ID); n != 1 {
		t.Errorf("outbox rows after an unchanged publication: %d, want 1", n)
	}

	// Late readings change the figures of the same period.
	changed := pub
	changed.Report = report(t, 8, day)
	var gmiID string
	if err := e.pool.QueryRow(ctx, `SELECT id FROM fhir_resources WHERE patient_id = $1 AND $2 = ANY(codes)`,
		p.ID, fhir.LOINC+"|"+fhir.CodeGMI).Scan(&gmiID); err != nil {
		t.Fatal(err)
	}
	e.publish(t, changed)
	r, err := e.rec.Get(ctx, e.pool, "Observation", gmiID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 {
		t.Errorf("GMI version %d after changed figures, want 2 (same id %s)", r.Version, gmiID)
	}
	var o fhir.Observation
	if err := json.Unmarshal(r.Body, &o); err != nil {
		t.Fatal(err)
	}
	want, _ := fhir.NewPercent(changed.Report.GMI.Percent)
	if o.ValueQuantity == nil || o.ValueQuantity.Value != want {
		t.Errorf("stored GMI %v, want the new figure %s", o.ValueQuantity, want)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE patient_id = $1`, p.ID); n != 2 {
		t.Errorf("outbox rows after changed figures: %d, want 2", n)
	}
}

// TestPublishServesBySubscriptionScope: all, care relationship (kind and
// party) and explicit list, and never without consent.
func TestPublishServesBySubscriptionScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withCare := e.patient(t, 2, true)
	e.care(t, withCare, consent.CareDiabetology, "ORG-DIAB-1")
	other := e.patient(t, 3, true)
	e.care(t, other, consent.CareDiabetology, "ORG-DIAB-2")
	listed := e.patient(t, 4, true)
	noConsent := e.patient(t, 5, false)
	e.care(t, noConsent, consent.CareDiabetology, "ORG-DIAB-1")

	e.subscribe(t, "ehr", "https://ehr.example/fhir", nil)
	e.subscribe(t, "diab-1", "https://diab1.example/fhir", func(s *Subscription) {
		s.Kind, s.Scope = KindDiabetology, Scope{Kind: ScopeCare, CareKind: consent.CareDiabetology, CareParty: "ORG-DIAB-1"}
	})
	e.subscribe(t, "all-diab", "https://diab.example/fhir", func(s *Subscription) {
		s.Kind, s.Scope = KindDiabetology, Scope{Kind: ScopeCare, CareKind: consent.CareDiabetology}
	})
	e.subscribe(t, "list", "https://list.example/fhir", func(s *Subscription) {
		s.Kind, s.Scope, s.IGOnly = KindMMG, Scope{Kind: ScopeList, Patients: []int64{listed.ID}}, true
	})
	day := time.Date(2024, 5, 2, 0, 0, 0, 0, rome)
	e.publish(t, publication(t, withCare, 1, day, nil))
	e.publish(t, publication(t, other, 2, day, nil))
	e.publish(t, publication(t, listed, 3, day, nil))
	e.publish(t, publication(t, noConsent, 4, day, nil))

	got := map[string][]string{}
	rows, _ := e.pool.Query(context.Background(), `SELECT p.fiscal_code, s.name FROM outbox o
		JOIN subscriptions s ON s.id = o.subscription_id JOIN patients p ON p.id = o.patient_id ORDER BY 1, 2`)
	var cf, name string
	if _, err := pgx.ForEachRow(rows, []any{&cf, &name}, func() error { got[cf] = append(got[cf], name); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		withCare.FiscalCode: {"all-diab", "diab-1", "ehr"},
		other.FiscalCode:    {"all-diab", "ehr"},
		listed.FiscalCode:   {"ehr", "list"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outbox rows by patient (-want +got):\n%s", diff)
	}
	// The IG-only subscription gets no local figures.
	var bundle string
	if err := e.pool.QueryRow(context.Background(), `SELECT o.bundle::text FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
		WHERE s.name = 'list'`).Scan(&bundle); err != nil {
		t.Fatal(err)
	}
	var b fhir.Bundle
	if err := json.Unmarshal([]byte(bundle), &b); err != nil {
		t.Fatal(err)
	}
	for _, en := range b.Entry {
		if o, ok := en.Resource.(*fhir.Observation); ok && o.Code.Coding[0].System != fhir.LOINC {
			t.Errorf("IG-only bundle has local figure %s", o.Code.Coding[0].Code)
		}
	}
}

// TestPublishWithoutSummary: a report without enough data publishes
// nothing and is not an error.
func TestPublishWithoutSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(t, 6, true)
	e.subscribe(t, "ehr", "https://ehr.example/fhir", nil)
	pub := publication(t, p, 1, time.Date(2024, 5, 3, 0, 0, 0, 0, rome), nil)
	pub.Report = agp.Report{TimeZone: "Europe/Rome"}
	e.publish(t, pub)
	if n := e.count(t, `SELECT count(*) FROM fhir_resources`) + e.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("%d rows written for a report without a summary", n)
	}
	bad := publication(t, p, 1, time.Date(2024, 5, 3, 0, 0, 0, 0, rome), []byte("not a pdf"))
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		return e.rec.PublishSummary(context.Background(), tx, bad)
	})
	if err == nil {
		t.Error("a PDF without %PDF- header was accepted")
	}
}
