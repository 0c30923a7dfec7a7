package consent

import (
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"
)

// Facts is what the store knows about one patient and one actor: all that
// Decide needs. The store gathers only the rows that concern the actor;
// Decide checks every match again, so Facts may hold more.
type Facts struct {
	// PatientFiscalCode is the patient's codice fiscale.
	PatientFiscalCode string
	// PatientBirthDate is the patient's date of birth (its year, month and
	// day, as returned by Date, are used; zero when unknown, in which case
	// it is read from the fiscal code: see codicefiscale.BirthDate).
	PatientBirthDate time.Time
	// PatientLocation is the patient's time zone, in which the 18th
	// birthday begins; nil means UTC.
	PatientLocation *time.Location
	// ThirdPartyConsent reports whether the patient's consent to
	// consultation by third parties stands (false when never recorded).
	ThirdPartyConsent bool
	// Guardianships are parent and tutor registrations for the patient.
	Guardianships []Guardianship
	// Delegations are delegations of the patient, in force or not.
	Delegations []Delegation
	// CareRelationships are the patient's care relationships.
	CareRelationships []CareRelationship
}

// Decide applies the authorization rules of fsecgm to actor a doing act on
// the patient described by f at instant now. It does no I/O. Anything not
// allowed below is refused (deny by default).
//
// Sources: the fsecgm issue, which states the FSE rules (FSE 2.0, D.M. 7
// settembre 2023: consent to consultation, representation of minors and
// of people under tutorship, delegation, the patient's view of accesses);
// art. 2 c.c. (majority); GDPR art. 25 (data protection by default).
//
// Rules:
//   - The patient (a citizen whose fiscal code is the patient's) may do
//     everything on their own record except writing registry data; a
//     minor patient (under 18 on the day, by the stored birth date or the
//     fiscal code's) reads and writes their data but does not change the
//     consent or the notification address, nor grant or revoke
//     delegations: those powers are their
//     parent's or tutor's (art. 316 and 357 c.c.: parental responsibility
//     and the tutor's representation of the minor; art. 2 c.c.).
//   - A parent acts for a minor until the start of the patient's 18th
//     birthday in the patient's time zone (art. 2 c.c.: majority is reached
//     on completing the 18th year; for 29 February births we take 28
//     February in common years, by analogy with art. 2963 c.c.), within the
//     validity of the registration; a tutor while the tutorship is
//     registered. Both can do what the patient can, consent and
//     delegations included. Without a birth date (stored or read from the
//     fiscal code) a parent is refused.
//   - A delegate, from the grant until expiry (exclusive) or revocation,
//     reads data, manages connections and imports, and reads the access
//     log; a delegate never changes consent and never delegates further. A
//     delegation granted by a parent ends at the patient's 18th birthday at
//     the latest.
//   - Representatives (parents, tutors, delegates) are not third parties:
//     the third-party consent does not limit them.
//   - A practitioner reads data (and nothing else) only with a care
//     relationship in force — the patient's MMG or PLS by fiscal code (the
//     token's practitioner role must be mmg or pls, matching), or a
//     diabetologist whose token carries the organization id of a
//     diabetology centre that takes care of the patient — and only while
//     the third-party consent stands.
//   - A service reads data (and nothing else) with scope ScopeReadData, and
//     only while the third-party consent stands.
//   - Revoked (or never granted) third-party consent refuses every
//     practitioner and service read, without exception: there is no
//     emergency override.
//   - The registry service (ScopeRegistry) reads and writes care
//     relationships and guardianships whatever the consent: they are not
//     the patient's data, and keeping them current is what ends access
//     (a tutorship or care relationship that ends).
//   - Practitioner tokens act only as clinicians: a clinician reading
//     their own record signs in as a citizen.
//   - An analyst (auth.RoleAnalyst) reads the population's aggregates
//     (package population), never a single person's record: every action
//     on a patient is refused to them, whatever the consent (GDPR art. 89:
//     secondary use only through safeguards such as pseudonymisation and
//     aggregation).
//
// The default third-party consent is "not granted" (privacy by default,
// GDPR art. 25): the patient grants it in the taccuino.
func Decide(f Facts, a Actor, act Action, now time.Time) Decision {
	if !knownAction(act) {
		return deny(BasisNone, ReasonUnknownAction)
	}
	switch a.Role {
	case auth.RoleCitizen:
		if a.FiscalCode == "" {
			return deny(BasisNone, ReasonUnauthenticated)
		}
		return decideCitizen(f, a, act, now)
	case auth.RolePractitioner:
		if a.FiscalCode == "" {
			return deny(BasisNone, ReasonUnauthenticated)
		}
		return decidePractitioner(f, a, act, now)
	case auth.RoleService:
		if a.ClientID == "" {
			return deny(BasisNone, ReasonUnauthenticated)
		}
		return decideService(f, a, act)
	case auth.RoleAnalyst:
		if a.FiscalCode == "" {
			return deny(BasisNone, ReasonUnauthenticated)
		}
		return deny(BasisNone, ReasonNotPermitted)
	}
	return deny(BasisNone, ReasonUnauthenticated)
}

func allow(b Basis) Decision { return Decision{Allowed: true, Basis: b, Reason: ReasonAllowed} }

func deny(b Basis, r Reason) Decision { return Decision{Basis: b, Reason: r} }

func knownAction(act Action) bool {
	for _, k := range Actions() {
		if k == act {
			return true
		}
	}
	return false
}

// patientActions are what the patient, and a parent or tutor for them, may
// do: everything but the registry's writes and the clinician's record.
func patientAction(act Action) bool {
	return act != ActWriteCareRelationships && act != ActWriteClinicalInfo
}

// representativeAction reports the powers that, for a minor, belong to
// their parent or tutor: changing the consent, the delegations and the
// address the accesses are notified to (which the FSE shows with the
// consent).
func representativeAction(act Action) bool {
	return act == ActWriteConsent || act == ActWriteDelegations || act == ActWriteNotifications
}

// delegateAction reports what a delegate may do.
func delegateAction(act Action) bool {
	switch act {
	case ActReadData, ActWriteData, ActReadAccessLog:
		return true
	}
	return false
}

func decideCitizen(f Facts, a Actor, act Action, now time.Time) Decision {
	if f.PatientFiscalCode != "" && a.FiscalCode == f.PatientFiscalCode {
		if !patientAction(act) {
			return deny(BasisSelf, ReasonNotPermitted)
		}
		if representativeAction(act) {
			adult, ok := majority(f, now)
			if !ok {
				return deny(BasisSelf, ReasonBirthDateUnknown)
			}
			if now.Before(adult) {
				return deny(BasisSelf, ReasonMinor)
			}
		}
		return allow(BasisSelf)
	}
	// The closest refusal found so far, by rank: a relationship that
	// exists but does not allow the action ranks above one that has ended,
	// which ranks above none.
	best, rank := deny(BasisNone, ReasonNoRelationship), 0
	refuse := func(d Decision, r int) {
		if r > rank {
			best, rank = d, r
		}
	}
	for _, g := range f.Guardianships {
		if g.GuardianFiscalCode != a.FiscalCode || g.PatientFiscalCode != f.PatientFiscalCode {
			continue
		}
		b, r := guardianshipInForce(g, f, now)
		if r != ReasonAllowed {
			refuse(deny(b, r), 1)
			continue
		}
		if patientAction(act) {
			return allow(b)
		}
		refuse(deny(b, ReasonNotPermitted), 3)
	}
	var latest time.Time // of the ended delegations, the latest says why
	for _, d := range f.Delegations {
		if d.DelegateFiscalCode != a.FiscalCode {
			continue
		}
		r := delegationInForce(d, now)
		if r == ReasonAllowed && d.GrantedAs == BasisParent {
			// A parent's authority, and what they delegated with it, ends
			// when the patient comes of age (GrantDelegation also caps the
			// expiry there; this holds if the birth date changes later).
			if adult, ok := majority(f, now); !ok || !now.Before(adult) {
				r = ReasonDelegationExpired
			}
		}
		if r != ReasonAllowed {
			if rank <= 1 && !d.CreatedAt.Before(latest) {
				best, rank, latest = deny(BasisDelegate, r), 1, d.CreatedAt
			}
			continue
		}
		if delegateAction(act) {
			return allow(BasisDelegate)
		}
		refuse(deny(BasisDelegate, ReasonNotPermitted), 2)
	}
	return best
}

// guardianshipInForce says whether g lets its guardian act for the patient
// at now: ReasonAllowed or why not, with the guardian's basis.
func guardianshipInForce(g Guardianship, f Facts, now time.Time) (Basis, Reason) {
	switch g.Kind {
	case GuardianTutor:
		if !inForce(g.ValidFrom, g.ValidTo, now) {
			return BasisTutor, ReasonGuardianshipEnded
		}
		return BasisTutor, ReasonAllowed
	case GuardianParent:
		if !inForce(g.ValidFrom, g.ValidTo, now) {
			return BasisParent, ReasonGuardianshipEnded
		}
		adult, ok := majority(f, now)
		if !ok {
			return BasisParent, ReasonBirthDateUnknown
		}
		if !now.Before(adult) {
			return BasisParent, ReasonCameOfAge
		}
		return BasisParent, ReasonAllowed
	}
	return BasisNone, ReasonNoRelationship
}

// ComingOfAge returns the instant a patient comes of age: the start of
// their 18th birthday in loc (nil: UTC), from birth or, when birth is
// zero, from the date their fiscal code encodes; ok is false when neither
// gives a date.
func ComingOfAge(fiscalCode string, birth time.Time, loc *time.Location, now time.Time) (time.Time, bool) {
	return majority(Facts{PatientFiscalCode: fiscalCode, PatientBirthDate: birth, PatientLocation: loc}, now)
}

// majority returns the instant the patient of f comes of age; ok is false
// when the birth date is unknown and cannot be read from the fiscal code.
func majority(f Facts, now time.Time) (time.Time, bool) {
	loc := f.PatientLocation
	if loc == nil {
		loc = time.UTC
	}
	birth := f.PatientBirthDate
	if birth.IsZero() {
		var ok bool
		if birth, ok = codicefiscale.BirthDate(f.PatientFiscalCode, now.In(loc)); !ok {
			return time.Time{}, false
		}
	}
	return comingOfAge(birth, loc), true
}

// comingOfAge returns the start, in loc, of the 18th birthday of a person
// born on birth's date. Someone born on 29 February comes of age on 28
// February of a common year (by analogy with art. 2963 c.c.: a term whose
// day is missing in the final month ends on that month's last day).
func comingOfAge(birth time.Time, loc *time.Location) time.Time {
	y, m, d := birth.Date()
	y += 18
	if m == time.February && d == 29 && !leap(y) {
		d = 28
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// delegationInForce says whether d is in force at now: from CreatedAt
// (inclusive) to ExpiresAt (exclusive), unless revoked before now.
func delegationInForce(d Delegation, now time.Time) Reason {
	if !d.RevokedAt.IsZero() && !now.Before(d.RevokedAt) {
		return ReasonDelegationRevoked
	}
	if now.Before(d.CreatedAt) || !now.Before(d.ExpiresAt) {
		return ReasonDelegationExpired
	}
	return ReasonAllowed
}

// inForce reports whether now is in [from, to), a zero bound being open.
func inForce(from, to, now time.Time) bool {
	return (from.IsZero() || !now.Before(from)) && (to.IsZero() || now.Before(to))
}

func decidePractitioner(f Facts, a Actor, act Action, now time.Time) Decision {
	if act != ActReadData && act != ActWriteClinicalInfo {
		return deny(BasisNone, ReasonNotPermitted)
	}
	basis := BasisNone
	for _, c := range f.CareRelationships {
		if c.PatientFiscalCode != f.PatientFiscalCode || !inForce(c.ValidFrom, c.ValidTo, now) {
			continue
		}
		if b := careBasis(c, a); b != BasisNone {
			basis = b
			break
		}
	}
	if basis == BasisNone {
		return deny(BasisNone, ReasonNoCareRelationship)
	}
	if !f.ThirdPartyConsent {
		return deny(basis, ReasonNoConsent)
	}
	return allow(basis)
}

// careBasis returns the basis on which c lets practitioner a read, or
// BasisNone.
func careBasis(c CareRelationship, a Actor) Basis {
	switch c.Kind {
	case CareMMG:
		if a.PractitionerRole == auth.PractitionerMMG && c.PractitionerFiscalCode == a.FiscalCode {
			return BasisMMG
		}
	case CarePLS:
		if a.PractitionerRole == auth.PractitionerPLS && c.PractitionerFiscalCode == a.FiscalCode {
			return BasisPLS
		}
	case CareDiabetology:
		if a.PractitionerRole == auth.PractitionerDiabetologist && a.Organization != "" &&
			c.OrganizationID == a.Organization {
			return BasisDiabetology
		}
	}
	return BasisNone
}

// careKey returns the (kind, party) under which care relationships name
// practitioner a, or ok false when a's role has none.
func careKey(a Actor) (kind CareKind, party string, ok bool) {
	if a.Role != auth.RolePractitioner {
		return "", "", false
	}
	switch a.PractitionerRole {
	case auth.PractitionerMMG:
		return CareMMG, a.FiscalCode, a.FiscalCode != ""
	case auth.PractitionerPLS:
		return CarePLS, a.FiscalCode, a.FiscalCode != ""
	case auth.PractitionerDiabetologist:
		return CareDiabetology, a.Organization, a.Organization != ""
	}
	return "", "", false
}

func decideService(f Facts, a Actor, act Action) Decision {
	switch act {
	case ActReadData:
		if !a.HasScope(ScopeReadData) {
			return deny(BasisNone, ReasonMissingScope)
		}
		if !f.ThirdPartyConsent {
			return deny(BasisService, ReasonNoConsent)
		}
		return allow(BasisService)
	case ActReadCareRelationships, ActWriteCareRelationships:
		if !a.HasScope(ScopeRegistry) {
			return deny(BasisNone, ReasonMissingScope)
		}
		return allow(BasisRegistry)
	}
	return deny(BasisNone, ReasonNotPermitted)
}
