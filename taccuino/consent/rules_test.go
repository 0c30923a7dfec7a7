package consent

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/google/go-cmp/cmp"
)

// The capability sets of the matrix, written out from the issue (not from
// the code under test).
var (
	patientCan = []Action{ActReadData, ActWriteData, ActReadConsent, ActWriteConsent, ActReadDelegations, ActWriteDelegations, ActReadAccessLog, ActReadCareRelationships,
		ActReadNotifications, ActWriteNotifications}
	delegateCan = []Action{ActReadData, ActWriteData, ActReadAccessLog}
	readerCan   = []Action{ActReadData}
	// clinicianCan: a clinician in the patient's care also writes the
	// clinical record of the AGP report.
	clinicianCan = []Action{ActReadData, ActWriteClinicalInfo}
	registryCan  = []Action{ActReadCareRelationships, ActWriteCareRelationships}
)

// matrixRow is one actor of the authorization matrix.
type matrixRow struct {
	name  string
	actor Actor
	// facts adjusts the facts of the (adult) patient.
	facts func(f *Facts)
	// can is what the actor may do while consent stands; basis is the
	// basis of those decisions.
	can   []Action
	basis Basis
	// thirdParty: every allowed action needs the third-party consent.
	thirdParty bool
	// deny is the decision for the other actions, with per-action
	// exceptions in denyFor.
	deny    Decision
	denyFor map[Action]Decision
}

func TestDecideMatrix(t *testing.T) {
	t.Parallel()
	rome := mustLoc(t, "Europe/Rome")
	now := time.Date(2026, 5, 14, 10, 0, 0, 0, rome)
	day := 24 * time.Hour
	notPermitted := Decision{Reason: ReasonNotPermitted}
	noCare := map[Action]Decision{ActReadData: {Reason: ReasonNoCareRelationship}, ActWriteClinicalInfo: {Reason: ReasonNoCareRelationship}}
	noRegistryScope := map[Action]Decision{ActReadCareRelationships: {Reason: ReasonMissingScope},
		ActWriteCareRelationships: {Reason: ReasonMissingScope}}

	base := func() Facts {
		return Facts{
			PatientFiscalCode: cfPatient,
			PatientBirthDate:  time.Date(1980, 3, 10, 0, 0, 0, 0, time.UTC),
			PatientLocation:   rome,
		}
	}
	child := func(f *Facts) {
		f.PatientFiscalCode = cfChild
		f.PatientBirthDate = time.Date(2015, 6, 2, 0, 0, 0, 0, time.UTC)
	}
	guard := func(kind GuardianKind, cf string, from, to time.Time) func(*Facts) {
		return func(f *Facts) {
			f.Guardianships = append(f.Guardianships, Guardianship{Kind: kind, GuardianFiscalCode: cf,
				PatientFiscalCode: f.PatientFiscalCode, ValidFrom: from, ValidTo: to, Source: "anagrafe"})
		}
	}
	del := func(cf string, created, expires, revoked time.Time) func(*Facts) {
		return func(f *Facts) {
			f.Delegations = append(f.Delegations, Delegation{ID: 1, PatientID: 1, DelegateFiscalCode: cf,
				GrantedBy: cfPatient, GrantedAs: BasisSelf, CreatedAt: created, ExpiresAt: expires, RevokedAt: revoked})
		}
	}
	care := func(kind CareKind, cf, org string, from, to time.Time) func(*Facts) {
		return func(f *Facts) {
			f.CareRelationships = append(f.CareRelationships, CareRelationship{PatientFiscalCode: f.PatientFiscalCode,
				Kind: kind, PractitionerFiscalCode: cf, OrganizationID: org, ValidFrom: from, ValidTo: to})
		}
	}
	all := func(fs ...func(*Facts)) func(*Facts) {
		return func(f *Facts) {
			for _, fn := range fs {
				fn(f)
			}
		}
	}
	never := time.Time{}
	// A fully connected patient: every relationship of the matrix exists
	// for someone, so that each actor is checked against the others'.
	everyone := all(
		care(CareMMG, cfMMG, "", now.Add(-400*day), never),
		care(CarePLS, cfPLS, "", now.Add(-400*day), never),
		care(CareDiabetology, "", "ORG-DIAB-1", now.Add(-30*day), never),
		guard(GuardianTutor, cfTutor, now.Add(-day), never),
		del(cfDelegate, now.Add(-day), now.Add(30*day), never),
	)

	rows := []matrixRow{
		{name: "patient", actor: citizen(cfPatient), facts: everyone, can: patientCan, basis: BasisSelf,
			deny: Decision{Basis: BasisSelf, Reason: ReasonNotPermitted}},
		{name: "minor patient", actor: citizen(cfChild), facts: all(child, guard(GuardianParent, cfParent, time.Time{}, never)),
			can: []Action{ActReadData, ActWriteData, ActReadConsent, ActReadDelegations, ActReadAccessLog, ActReadCareRelationships,
				ActReadNotifications},
			basis: BasisSelf, deny: Decision{Basis: BasisSelf, Reason: ReasonNotPermitted},
			denyFor: map[Action]Decision{ActWriteConsent: {Basis: BasisSelf, Reason: ReasonMinor},
				ActWriteDelegations: {Basis: BasisSelf, Reason: ReasonMinor}, ActWriteNotifications: {Basis: BasisSelf, Reason: ReasonMinor}}},
		{name: "parent of minor", actor: citizen(cfParent),
			facts: all(child, guard(GuardianParent, cfParent, time.Time{}, never)), can: patientCan, basis: BasisParent,
			deny: Decision{Basis: BasisParent, Reason: ReasonNotPermitted}},
		{name: "parent after the child turns 18", actor: citizen(cfParent),
			facts: all(guard(GuardianParent, cfParent, time.Time{}, never)),
			deny:  Decision{Basis: BasisParent, Reason: ReasonCameOfAge}},
		{name: "parent whose registration ended", actor: citizen(cfParent),
			facts: all(child, guard(GuardianParent, cfParent, time.Time{}, now.Add(-time.Hour))),
			deny:  Decision{Basis: BasisParent, Reason: ReasonGuardianshipEnded}},
		{name: "tutor", actor: citizen(cfTutor), facts: everyone, can: patientCan, basis: BasisTutor,
			deny: Decision{Basis: BasisTutor, Reason: ReasonNotPermitted}},
		{name: "tutor not yet in force", actor: citizen(cfTutor),
			facts: guard(GuardianTutor, cfTutor, now.Add(time.Hour), never),
			deny:  Decision{Basis: BasisTutor, Reason: ReasonGuardianshipEnded}},
		{name: "tutorship ended", actor: citizen(cfTutor),
			facts: guard(GuardianTutor, cfTutor, now.Add(-400*day), now.Add(-day)),
			deny:  Decision{Basis: BasisTutor, Reason: ReasonGuardianshipEnded}},
		{name: "delegate", actor: citizen(cfDelegate), facts: everyone, can: delegateCan, basis: BasisDelegate,
			deny: Decision{Basis: BasisDelegate, Reason: ReasonNotPermitted}},
		{name: "expired delegate", actor: citizen(cfDelegate),
			facts: del(cfDelegate, now.Add(-30*day), now.Add(-time.Microsecond), never),
			deny:  Decision{Basis: BasisDelegate, Reason: ReasonDelegationExpired}},
		{name: "revoked delegate", actor: citizen(cfDelegate),
			facts: del(cfDelegate, now.Add(-30*day), now.Add(30*day), now.Add(-time.Hour)),
			deny:  Decision{Basis: BasisDelegate, Reason: ReasonDelegationRevoked}},
		{name: "delegate who is also tutor", actor: citizen(cfTutor),
			facts: all(guard(GuardianTutor, cfTutor, never, never), del(cfTutor, now.Add(-day), now.Add(day), never)),
			can:   patientCan, basis: BasisTutor, deny: Decision{Basis: BasisTutor, Reason: ReasonNotPermitted}},
		{name: "other citizen", actor: citizen(cfStranger), facts: everyone,
			deny: Decision{Reason: ReasonNoRelationship}},
		{name: "citizen with the patient's relationships of another kind", actor: citizen(cfMMG), facts: everyone,
			deny: Decision{Reason: ReasonNoRelationship}},
		{name: "MMG with relationship", actor: practitioner(cfMMG, auth.PractitionerMMG, ""), facts: everyone,
			can: clinicianCan, basis: BasisMMG, thirdParty: true, deny: notPermitted},
		{name: "MMG without relationship", actor: practitioner(cfStranger, auth.PractitionerMMG, ""), facts: everyone,
			deny: notPermitted, denyFor: noCare},
		{name: "MMG whose relationship ended", actor: practitioner(cfMMG, auth.PractitionerMMG, ""),
			facts: care(CareMMG, cfMMG, "", now.Add(-400*day), now),
			deny:  notPermitted, denyFor: noCare},
		{name: "MMG signed in with another practitioner role", actor: practitioner(cfMMG, auth.PractitionerOther, ""),
			facts: everyone,
			deny:  notPermitted, denyFor: noCare},
		{name: "practitioner who is the patient", actor: practitioner(cfPatient, auth.PractitionerMMG, ""),
			facts: everyone,
			deny:  notPermitted, denyFor: noCare},
		{name: "PLS with relationship", actor: practitioner(cfPLS, auth.PractitionerPLS, ""), facts: everyone,
			can: clinicianCan, basis: BasisPLS, thirdParty: true, deny: notPermitted},
		{name: "diabetologist of the centre", actor: practitioner(cfDiabetolo, auth.PractitionerDiabetologist, "ORG-DIAB-1"),
			facts: everyone, can: clinicianCan, basis: BasisDiabetology, thirdParty: true, deny: notPermitted},
		{name: "diabetologist of another centre", actor: practitioner(cfDiabetolo, auth.PractitionerDiabetologist, "ORG-DIAB-2"),
			facts: everyone,
			deny:  notPermitted, denyFor: noCare},
		{name: "diabetologist without organization", actor: practitioner(cfDiabetolo, auth.PractitionerDiabetologist, ""),
			facts: everyone,
			deny:  notPermitted, denyFor: noCare},
		{name: "MMG with the centre's organization id", actor: practitioner(cfMMG, auth.PractitionerOther, "ORG-DIAB-1"),
			facts: everyone,
			deny:  notPermitted, denyFor: noCare},
		{name: "service with read scope", actor: service("fse-toscana", ScopeReadData), facts: everyone,
			can: readerCan, basis: BasisService, thirdParty: true, deny: notPermitted, denyFor: noRegistryScope},
		{name: "service with SMART v1 wildcard scope", actor: service("ehr", "system/*.read"), facts: everyone,
			can: readerCan, basis: BasisService, thirdParty: true, deny: notPermitted, denyFor: noRegistryScope},
		{name: "service without scope", actor: service("other", "system/Patient.rs", "patient/Observation.rs"),
			facts: everyone,
			deny:  notPermitted, denyFor: map[Action]Decision{ActReadData: {Reason: ReasonMissingScope},
				ActReadCareRelationships: {Reason: ReasonMissingScope}, ActWriteCareRelationships: {Reason: ReasonMissingScope}}},
		{name: "registry service", actor: service("anagrafe", ScopeRegistry), facts: everyone,
			can: registryCan, basis: BasisRegistry, deny: notPermitted,
			denyFor: map[Action]Decision{ActReadData: {Reason: ReasonMissingScope}}},
		{name: "anonymous", actor: Actor{RequestID: "r"}, facts: everyone,
			deny: Decision{Reason: ReasonUnauthenticated}},
		{name: "citizen without fiscal code", actor: Actor{Role: auth.RoleCitizen}, facts: everyone,
			deny: Decision{Reason: ReasonUnauthenticated}},
		{name: "service without client id", actor: Actor{Role: auth.RoleService, Scopes: []string{ScopeReadData}},
			facts: everyone, deny: Decision{Reason: ReasonUnauthenticated}},
		{name: "unknown role", actor: Actor{Role: "admin", FiscalCode: cfStranger}, facts: everyone,
			deny: Decision{Reason: ReasonUnauthenticated}},
		// An analyst reads aggregates only: no action on any record, even
		// the analyst's own or one whose relationships name the analyst's
		// fiscal code.
		{name: "regional analyst", actor: analyst(cfStranger, "region"), facts: everyone, deny: notPermitted},
		{name: "analyst who is the patient's MMG by fiscal code", actor: analyst(cfMMG, "asl:TC"), facts: everyone, deny: notPermitted},
		{name: "analyst who is the patient", actor: analyst(cfPatient, "region"), facts: everyone, deny: notPermitted},
		{name: "analyst without fiscal code", actor: Actor{Role: auth.RoleAnalyst}, facts: everyone,
			deny: Decision{Reason: ReasonUnauthenticated}},
		// The head of a centre is a diabetologist of it: reads the centre's
		// patients like any of its diabetologists, nothing more.
		{name: "head of the centre", actor: head(cfDiabetolo, "ORG-DIAB-1"),
			facts: everyone, can: clinicianCan, basis: BasisDiabetology, thirdParty: true, deny: notPermitted},
		{name: "head of another centre", actor: head(cfDiabetolo, "ORG-DIAB-2"), facts: everyone,
			deny: notPermitted, denyFor: noCare},
	}

	n := 0
	for _, r := range rows {
		for _, consent := range []bool{true, false} {
			for _, act := range Actions() {
				f := base()
				if r.facts != nil {
					r.facts(&f)
				}
				f.ThirdPartyConsent = consent
				var want Decision
				switch {
				case slices.Contains(r.can, act) && (consent || !r.thirdParty):
					want = Decision{Allowed: true, Basis: r.basis, Reason: ReasonAllowed}
				case slices.Contains(r.can, act):
					want = Decision{Basis: r.basis, Reason: ReasonNoConsent}
				default:
					want = r.deny
					if d, ok := r.denyFor[act]; ok {
						want = d
					}
				}
				got := Decide(f, r.actor, act, now)
				if got != want {
					t.Errorf("%s, consent %v: Decide(%s) = %+v, want %+v", r.name, consent, act, got, want)
				}
				n++
			}
		}
	}
	if want := len(rows) * 2 * len(Actions()); n != want {
		t.Fatalf("checked %d cells, want %d", n, want)
	}
	t.Logf("%d actors × %d actions × 2 consent states = %d decisions", len(rows), len(Actions()), n)
}

func TestDecideUnknownAction(t *testing.T) {
	t.Parallel()
	f := Facts{PatientFiscalCode: cfPatient, ThirdPartyConsent: true}
	got := Decide(f, citizen(cfPatient), Action("data.delete"), time.Now())
	if want := (Decision{Reason: ReasonUnknownAction}); got != want {
		t.Errorf("Decide(unknown action) = %+v, want %+v", got, want)
	}
}

// TestRevokedConsentBlocksEveryThirdParty checks the one rule with no
// exception: whatever relationship or scope, no practitioner or service
// reads data without consent, and representatives are not affected.
func TestRevokedConsentBlocksEveryThirdParty(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f := Facts{PatientFiscalCode: cfPatient, PatientBirthDate: time.Date(1980, 3, 10, 0, 0, 0, 0, time.UTC)}
	for _, k := range []struct {
		kind CareKind
		cf   string
		org  string
	}{{CareMMG, cfMMG, ""}, {CarePLS, cfPLS, ""}, {CareDiabetology, "", "ORG"}} {
		f.CareRelationships = append(f.CareRelationships, CareRelationship{PatientFiscalCode: cfPatient, Kind: k.kind,
			PractitionerFiscalCode: k.cf, OrganizationID: k.org})
	}
	f.Guardianships = []Guardianship{{Kind: GuardianTutor, GuardianFiscalCode: cfTutor, PatientFiscalCode: cfPatient}}
	f.Delegations = []Delegation{{DelegateFiscalCode: cfDelegate, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}}
	var thirdParties []Actor
	for _, role := range []auth.PractitionerRole{auth.PractitionerMMG, auth.PractitionerPLS, auth.PractitionerDiabetologist, auth.PractitionerOther} {
		for _, cf := range []string{cfMMG, cfPLS, cfDiabetolo} {
			thirdParties = append(thirdParties, practitioner(cf, role, "ORG"))
		}
	}
	for _, scopes := range [][]string{{ScopeReadData}, {"system/*.*"}, {"system/Observation.read", ScopeRegistry}} {
		thirdParties = append(thirdParties, service("svc", scopes...))
	}
	for _, consent := range []bool{false, true} {
		f.ThirdPartyConsent = consent
		allowed := 0
		for _, a := range thirdParties {
			for _, act := range Actions() {
				if act == ActReadCareRelationships || act == ActWriteCareRelationships {
					continue // registry data, not the patient's
				}
				d := Decide(f, a, act, now)
				if d.Allowed {
					allowed++
					if !consent {
						t.Errorf("consent revoked: Decide(%v, %s) = %+v, want denied", a, act, d)
					}
				}
			}
		}
		if consent && allowed == 0 {
			t.Errorf("consent granted: no third party allowed anything; the check above proves nothing")
		}
		for _, cf := range []string{cfTutor, cfDelegate} {
			if d := Decide(f, citizen(cf), ActReadData, now); !d.Allowed {
				t.Errorf("consent %v: representative %s refused: %+v", consent, d.Basis, d)
			}
		}
	}
}

// TestComingOfAgeInRome: a parent acts until the last instant before the
// child's 18th birthday begins in the patient's zone, not in UTC.
func TestComingOfAgeInRome(t *testing.T) {
	t.Parallel()
	rome := mustLoc(t, "Europe/Rome")
	child := makeCF("BNCSFO", 2008, time.May, 14, true)
	g := []Guardianship{{Kind: GuardianParent, GuardianFiscalCode: cfParent, PatientFiscalCode: child}}
	// 14 May 2026 00:00 in Rome (CEST, UTC+2) is 13 May 22:00 UTC.
	birthday := time.Date(2026, 5, 13, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		birth time.Time // stored birth date; zero: read from the fiscal code
		loc   *time.Location
		at    time.Time
		want  Reason
	}{
		{"17y364d, last instant", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), rome, birthday.Add(-time.Microsecond), ReasonAllowed},
		{"18th birthday, first instant", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), rome, birthday, ReasonCameOfAge},
		{"17y364d at noon", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), rome, time.Date(2026, 5, 13, 12, 0, 0, 0, rome), ReasonAllowed},
		{"birthday evening", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), rome, time.Date(2026, 5, 14, 23, 0, 0, 0, rome), ReasonCameOfAge},
		{"in UTC the birthday has not begun yet, in Rome it has", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), rome, birthday.Add(time.Hour), ReasonCameOfAge},
		{"patient zone UTC", time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), time.UTC, birthday.Add(time.Hour), ReasonAllowed},
		{"from the fiscal code, last instant", time.Time{}, rome, birthday.Add(-time.Microsecond), ReasonAllowed},
		{"from the fiscal code, birthday", time.Time{}, rome, birthday, ReasonCameOfAge},
		{"stored date wins over the fiscal code", time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC), rome, birthday, ReasonAllowed},
	}
	for _, tt := range tests {
		f := Facts{PatientFiscalCode: child, PatientBirthDate: tt.birth, PatientLocation: tt.loc, Guardianships: g}
		got := Decide(f, citizen(cfParent), ActWriteConsent, tt.at)
		if got.Reason != tt.want || got.Basis != BasisParent {
			t.Errorf("%s: Decide(parent, %s) = %+v, want reason %s, basis parent", tt.name, tt.at.UTC(), got, tt.want)
		}
	}
}

func TestComingOfAgeLeapDay(t *testing.T) {
	t.Parallel()
	rome := mustLoc(t, "Europe/Rome")
	tests := []struct {
		birth time.Time
		want  time.Time
	}{
		{time.Date(2008, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(2012, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2030, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(2010, 2, 29-1, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(2014, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2032, 3, 1, 0, 0, 0, 0, rome)}, // 2014-02-29 is 1 March
		{time.Date(2016, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2034, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(2004, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2022, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(1982, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2000, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(1990, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2008, 2, 28, 0, 0, 0, 0, rome)},
		{time.Date(2006, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, rome)}, // normalised to 1 March 2006
	}
	for _, tt := range tests {
		if got := comingOfAge(tt.birth, rome); !got.Equal(tt.want) {
			t.Errorf("comingOfAge(%s) = %s, want %s", tt.birth.Format(time.DateOnly), got, tt.want)
		}
	}
	// A leap-day birth in a leap 18th year keeps its day.
	if got, want := comingOfAge(time.Date(2010, 2, 28, 0, 0, 0, 0, time.UTC), rome), time.Date(2028, 2, 28, 0, 0, 0, 0, rome); !got.Equal(want) {
		t.Errorf("comingOfAge(2010-02-28) = %s, want %s", got, want)
	}
	if got, want := comingOfAge(time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), rome), time.Date(2018, 2, 28, 0, 0, 0, 0, rome); !got.Equal(want) {
		t.Errorf("comingOfAge(2000-02-29) = %s, want %s", got, want)
	}
}

// TestDelegationBoundaries: in force from CreatedAt (inclusive) to
// ExpiresAt (exclusive), until RevokedAt.
func TestDelegationBoundaries(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	expires := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	revoked := time.Date(2026, 4, 1, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		revoked time.Time
		at      time.Time
		want    Reason
	}{
		{"before grant", time.Time{}, created.Add(-time.Microsecond), ReasonDelegationExpired},
		{"at grant", time.Time{}, created, ReasonAllowed},
		{"last instant", time.Time{}, expires.Add(-time.Microsecond), ReasonAllowed},
		{"at expiry", time.Time{}, expires, ReasonDelegationExpired},
		{"after expiry", time.Time{}, expires.Add(24 * time.Hour), ReasonDelegationExpired},
		{"before revocation", revoked, revoked.Add(-time.Microsecond), ReasonAllowed},
		{"at revocation", revoked, revoked, ReasonDelegationRevoked},
	}
	for _, tt := range tests {
		f := Facts{PatientFiscalCode: cfPatient, Delegations: []Delegation{{DelegateFiscalCode: cfDelegate,
			CreatedAt: created, ExpiresAt: expires, RevokedAt: tt.revoked}}}
		got := Decide(f, citizen(cfDelegate), ActReadData, tt.at)
		if got.Reason != tt.want {
			t.Errorf("%s: Decide(delegate) at %s = %+v, want %s", tt.name, tt.at, got, tt.want)
		}
	}
}

// TestParentsDelegationEndsAtMajority: even with a later expiry stored, a
// delegation granted by a parent ends when the patient comes of age.
func TestParentsDelegationEndsAtMajority(t *testing.T) {
	t.Parallel()
	rome := mustLoc(t, "Europe/Rome")
	child := makeCF("BNCSFO", 2008, time.May, 14, true)
	birthday := time.Date(2026, 5, 14, 0, 0, 0, 0, rome)
	for _, tc := range []struct {
		as   Basis
		at   time.Time
		want Reason
	}{
		{BasisParent, birthday.Add(-time.Microsecond), ReasonAllowed},
		{BasisParent, birthday, ReasonDelegationExpired},
		{BasisTutor, birthday, ReasonAllowed},
		{BasisSelf, birthday, ReasonAllowed},
	} {
		f := Facts{PatientFiscalCode: child, PatientLocation: rome, Delegations: []Delegation{{DelegateFiscalCode: cfDelegate,
			GrantedBy: cfParent, GrantedAs: tc.as, CreatedAt: birthday.AddDate(-1, 0, 0), ExpiresAt: birthday.AddDate(1, 0, 0)}}}
		if got := Decide(f, citizen(cfDelegate), ActReadData, tc.at); got.Reason != tc.want {
			t.Errorf("delegation granted as %s, at %s: Decide = %+v, want %s", tc.as, tc.at, got, tc.want)
		}
	}
}

// TestDelegateCannotDelegate: whatever else holds, a delegate never
// writes delegations or consent.
func TestDelegateCannotDelegate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f := Facts{PatientFiscalCode: cfPatient, ThirdPartyConsent: true, Delegations: []Delegation{{
		DelegateFiscalCode: cfDelegate, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}}}
	for _, act := range []Action{ActWriteDelegations, ActReadDelegations, ActWriteConsent, ActReadConsent} {
		got := Decide(f, citizen(cfDelegate), act, now)
		if want := (Decision{Basis: BasisDelegate, Reason: ReasonNotPermitted}); got != want {
			t.Errorf("Decide(delegate, %s) = %+v, want %+v", act, got, want)
		}
	}
}

func TestActorNeverFormatsFiscalCode(t *testing.T) {
	t.Parallel()
	a := citizen(cfPatient)
	a.Name = "Mario Rossi"
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s", a, a, a, a), a.LogValue().String()} {
		if s == "" || containsAny(s, cfPatient, "Mario") {
			t.Errorf("Actor formats as %q: holds the fiscal code or name, or nothing", s)
		}
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestActorFrom(t *testing.T) {
	t.Parallel()
	p := &auth.Principal{Role: auth.RoleService, ClientID: "fse", Scopes: []string{"system/Observation.read"}}
	a := ActorFrom(p, "req-1")
	want := Actor{Role: auth.RoleService, ClientID: "fse", Scopes: []string{"system/Observation.read"}, Name: "fse", RequestID: "req-1"}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("ActorFrom(service) mismatch (-want +got):\n%s", diff)
	}
	if !a.HasScope(ScopeReadData) {
		t.Errorf("HasScope(%s) = false for system/Observation.read", ScopeReadData)
	}
	p.Scopes[0] = "changed"
	if a.Scopes[0] != "system/Observation.read" {
		t.Errorf("ActorFrom shares the principal's scopes slice")
	}
	if got := ActorFrom(nil, "req-2"); got.Role != "" || got.RequestID != "req-2" {
		t.Errorf("ActorFrom(nil) = %#v, want the unauthenticated actor", got)
	}
}
