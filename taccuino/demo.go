package taccuino

import (
	"context"
	"fmt"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/vitalsim"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"
)

// PrivacyNoticeVersion is the version of the privacy notice (informativa)
// the taccuino shows; connecting a sensor records its acceptance.
const PrivacyNoticeVersion = "2026-01"

// The demo people (development mode). Their fiscal codes are well formed,
// with correct check characters, and belong to nobody we know of.
const (
	DemoPatientCF       = "RSSMRA80A01H501U" // Mario Rossi, adult patient
	DemoMinorCF         = "BNCGLI14D45D612K" // Giulia Bianchi, born 2014, patient
	DemoParentCF        = "BNCNNA85M50D612T" // Anna Bianchi, Giulia's mother
	DemoMMGCF           = "VRDLCU68H12D612K" // dott. Luca Verdi, Mario's MMG
	DemoDiabetologistCF = "NRESRA75C55D612L" // dott.ssa Sara Neri, diabetology centre
	DemoDelegateCF      = "RSSPLA78E20D612O" // Paolo Rossi, delegated by Mario
	DemoAnalystCF       = "GLLMRC70A01D612Q" // Marco Galli, the Region's analyst
	// DemoCentre is the diabetology centre that takes care of both patients.
	DemoCentre = "ASL-TC-DIABETOLOGIA-FI"
	// demoClient is the registry client id used to load the demo registry.
	demoClient = "anagrafe-regionale-demo"
)

// demoDays is how many days of simulated readings the demo patients get.
const demoDays = 14

// DemoSensor is the FreeStyle Libre 2 of a demo patient as the development
// fake LibreLinkUp serves it: the same simulation (glucosim seed) as the
// readings SeedDemo stores, so that the two are one sensor and connecting
// it adds no second curve.
type DemoSensor struct {
	// GivenName and FamilyName are the patient's, as LibreLinkUp shows them.
	GivenName, FamilyName string
	// FiscalCode is the demo patient's.
	FiscalCode string
	// Seed is the simulation's seed.
	Seed uint64
	// Holder is the LibreLinkUp account that follows the patient in the
	// demo: their own, or their mother's for a child.
	HolderEmail, HolderGiven, HolderFamily string
}

// DemoSensors lists the demo patients' sensors.
func DemoSensors() []DemoSensor {
	return []DemoSensor{
		{GivenName: "Mario", FamilyName: "Rossi", FiscalCode: DemoPatientCF, Seed: 11,
			HolderEmail: "mario.rossi@example.invalid", HolderGiven: "Mario", HolderFamily: "Rossi"},
		{GivenName: "Giulia", FamilyName: "Bianchi", FiscalCode: DemoMinorCF, Seed: 12,
			HolderEmail: "anna.bianchi@example.invalid", HolderGiven: "Anna", HolderFamily: "Bianchi"},
	}
}

// SeedDemo creates (or tops up) the demo data in the database of d and
// returns the personas of the development login page. It is idempotent:
// existing patients, relationships and choices are kept (a consent the
// demo user revoked stays revoked), and the readings of the last 14 days
// up to now are ingested again (duplicates change nothing). For
// development mode only.
func SeedDemo(ctx context.Context, d web.Deps) ([]Persona, error) {
	now := d.Clock()
	registry := consent.Actor{Role: auth.RoleService, ClientID: demoClient,
		Scopes: []string{consent.ScopeRegistry}, RequestID: "demo-seed"}
	type demoPatient struct {
		cf, given, family string
		birth             time.Time
		seed              uint64
	}
	births := map[string]time.Time{
		DemoPatientCF: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
		DemoMinorCF:   time.Date(2014, 4, 5, 0, 0, 0, 0, time.UTC),
	}
	var pts []demoPatient
	for _, ds := range DemoSensors() {
		pts = append(pts, demoPatient{ds.FiscalCode, ds.GivenName, ds.FamilyName, births[ds.FiscalCode], ds.Seed})
	}
	if _, err := d.Consent.UpsertGuardianship(ctx, registry, consent.Guardianship{Kind: consent.GuardianParent,
		GuardianFiscalCode: DemoParentCF, PatientFiscalCode: DemoMinorCF, Source: "demo"}); err != nil {
		return nil, fmt.Errorf("taccuino: demo: guardianship: %w", err)
	}
	ids := map[string]cgmstore.Patient{}
	for _, dp := range pts {
		p, _, err := d.Store.EnsurePatient(ctx, dp.cf, cgmstore.DefaultTimeZone)
		if err != nil {
			return nil, fmt.Errorf("taccuino: demo: patient: %w", err)
		}
		p.GivenName, p.FamilyName, p.BirthDate = dp.given, dp.family, dp.birth
		if p, err = d.Store.UpdatePatient(ctx, p); err != nil {
			return nil, fmt.Errorf("taccuino: demo: patient: %w", err)
		}
		ids[dp.cf] = p
		self := consent.Actor{Role: auth.RoleCitizen, FiscalCode: dp.cf, Name: dp.given + " " + dp.family, RequestID: "demo-seed"}
		if dp.cf == DemoMinorCF {
			// A minor's consent is their parent's to give.
			self = consent.Actor{Role: auth.RoleCitizen, FiscalCode: DemoParentCF, Name: "Anna Bianchi", RequestID: "demo-seed"}
		}
		st, err := d.Consent.ThirdPartyConsent(ctx, self, p.ID)
		if err != nil {
			return nil, fmt.Errorf("taccuino: demo: consent: %w", err)
		}
		if len(st.History) == 0 {
			if _, err := d.Consent.SetThirdPartyConsent(ctx, self, p.ID, true); err != nil {
				return nil, fmt.Errorf("taccuino: demo: consent: %w", err)
			}
			if _, err := d.Consent.AcceptPrivacyNotice(ctx, self, p.ID, PrivacyNoticeVersion); err != nil {
				return nil, fmt.Errorf("taccuino: demo: privacy notice: %w", err)
			}
		}
		if err := seedReadings(ctx, d, p, dp.seed, now); err != nil {
			return nil, err
		}
	}
	for _, r := range []consent.CareRelationship{
		{PatientFiscalCode: DemoPatientCF, Kind: consent.CareMMG, PractitionerFiscalCode: DemoMMGCF, Source: "demo"},
		{PatientFiscalCode: DemoPatientCF, Kind: consent.CareDiabetology, OrganizationID: DemoCentre, Source: "demo"},
		{PatientFiscalCode: DemoMinorCF, Kind: consent.CareDiabetology, OrganizationID: DemoCentre, Source: "demo"},
	} {
		if _, err := d.Consent.UpsertCareRelationship(ctx, registry, r); err != nil {
			return nil, fmt.Errorf("taccuino: demo: care relationship: %w", err)
		}
	}
	mario := ids[DemoPatientCF]
	self := consent.Actor{Role: auth.RoleCitizen, FiscalCode: DemoPatientCF, RequestID: "demo-seed"}
	dels, err := d.Consent.Delegations(ctx, self, mario.ID)
	if err != nil {
		return nil, fmt.Errorf("taccuino: demo: delegations: %w", err)
	}
	if len(dels) == 0 {
		if _, err := d.Consent.GrantDelegation(ctx, self, mario.ID, DemoDelegateCF, now.AddDate(0, 3, 0)); err != nil {
			return nil, fmt.Errorf("taccuino: demo: delegation: %w", err)
		}
	}
	citizen := func(cf, name string) auth.PrincipalSpec {
		return auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: name}
	}
	return []Persona{
		{Key: "patient", Spec: citizen(DemoPatientCF, "Mario Rossi"), Landing: "/taccuino/p/" + mario.PublicID},
		{Key: "parent", Spec: citizen(DemoParentCF, "Anna Bianchi"), Landing: "/taccuino"},
		{Key: "mmg", Spec: auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: DemoMMGCF,
			PractitionerRole: auth.PractitionerMMG, Name: "dott. Luca Verdi"}, Landing: "/taccuino"},
		{Key: "diabetologist", Spec: auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: DemoDiabetologistCF,
			PractitionerRole: auth.PractitionerDiabetologist, Organization: DemoCentre, Name: "dott.ssa Sara Neri"}, Landing: "/taccuino"},
		{Key: "delegate", Spec: citizen(DemoDelegateCF, "Paolo Rossi"), Landing: "/taccuino"},
		{Key: "analyst", Spec: auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: DemoAnalystCF,
			PopulationScope: auth.PopulationRegion, Name: "Marco Galli"}, Landing: "/popolazione"},
	}, nil
}

// seedReadings ingests demoDays of simulated FreeStyle Libre 2 readings
// (historic every 15 minutes) up to now, and the current value with its
// trend arrow.
func seedReadings(ctx context.Context, d web.Deps, p cgmstore.Patient, seed uint64, now time.Time) error {
	loc, err := p.Location()
	if err != nil {
		return err
	}
	sim := glucosim.New(seed, glucosim.Libre2, loc)
	var rs []cgm.Reading
	for _, pt := range sim.Historic(now.Add(-demoDays*24*time.Hour), now) {
		rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: pt.Flags})
	}
	if pt, ok := sim.Current(now); ok {
		rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Current,
			Flags: pt.Flags, Trend: pt.Trend})
	}
	if _, err := d.Store.Ingest(ctx, cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceSimulator, Readings: rs}); err != nil {
		return fmt.Errorf("taccuino: demo: readings: %w", err)
	}
	// The same person's watch, phone and blood-pressure monitor
	// (connectors/vitalsim: they walk, sleep, and their pulse moves with
	// this glucose).
	ms := vitalsim.New(sim).Measurements(now.Add(-demoDays*24*time.Hour), now)
	if _, err := d.Store.IngestMeasurements(ctx, cgmstore.MeasurementBatch{Patient: p.ID, Channel: cgmstore.ChannelSimulator, Measurements: ms}); err != nil {
		return fmt.Errorf("taccuino: demo: measurements: %w", err)
	}
	return nil
}
