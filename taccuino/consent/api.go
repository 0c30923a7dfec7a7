package consent

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/taccuino/auth"
)

// Errors returned by the package, possibly wrapped. Test with errors.Is.
var (
	// ErrDenied: the rules refuse the action. The error is a *DeniedError
	// that says why; it never carries patient data.
	ErrDenied = errors.New("consent: denied")
	// ErrNotFound: the patient, delegation or relationship does not exist.
	ErrNotFound = errors.New("consent: not found")
	// ErrInvalid: an argument is not acceptable (bad fiscal code, an
	// expiry in the past, a delegate who is not an adult, ...). The
	// message says which argument and why.
	ErrInvalid = errors.New("consent: invalid")
)

// DeniedError is the error of an access the rules refuse. It wraps
// ErrDenied. Its message holds the action and the reason code only, so it
// is safe to log and to return to the caller.
type DeniedError struct {
	// Action is what was attempted.
	Action Action
	// Reason says why it was refused.
	Reason Reason
}

// Error returns "consent: <action> denied: <reason>".
func (e *DeniedError) Error() string {
	return fmt.Sprintf("consent: %s denied: %s", e.Action, e.Reason)
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// Action is what an actor wants to do with a patient's record. The HTTP
// layer maps each endpoint to one Action.
type Action string

// The actions. Capabilities (see Decide):
//
//	                     patient  parent/tutor  delegate  practitioner*  service*       registry service
//	ReadData               yes       yes          yes       yes            yes (scope)    no
//	WriteData              yes       yes          yes       no             no             no
//	ReadConsent            yes       yes          no        no             no             no
//	WriteConsent           yes       yes          no        no             no             no
//	ReadDelegations        yes       yes          no        no             no             no
//	WriteDelegations       yes       yes          no        no             no             no
//	ReadAccessLog          yes       yes          yes       no             no             no
//	ReadCareRelationships  yes       yes          no        no             no             yes (scope)
//	WriteCareRelationships no        no           no        no             no             yes (scope)
//	ReadNotifications      yes       yes          no        no             no             no
//	WriteNotifications     yes (**)  yes          no        no             no             no
//	WriteClinicalInfo      no        no           no        yes            no             no
//
// (*) practitioners need a care relationship, services the scope
// ScopeReadData, and both need the patient's third-party consent.
//
// (**) not a minor patient: changing the consent, the delegations and the
// notification address is their parent's or tutor's power.
//
// A delegation carries no right over the notification address: the
// delegations of fsecgm have no per-right grants yet, and deny by default
// keeps delegates out until one exists.
const (
	// ActReadData: read glucose data (latest glucose, glucometrics,
	// readings, daily profiles, reports, FHIR reads).
	ActReadData Action = "data.read"
	// ActWriteData: manage the patient's sensor connections and imports,
	// including accepting the privacy notice when connecting a sensor.
	ActWriteData Action = "data.write"
	// ActReadConsent: read the third-party consent and privacy notice
	// acceptances.
	ActReadConsent Action = "consent.read"
	// ActWriteConsent: grant or revoke the third-party consent.
	ActWriteConsent Action = "consent.write"
	// ActReadDelegations: list the patient's delegations.
	ActReadDelegations Action = "delegations.read"
	// ActWriteDelegations: grant or revoke a delegation.
	ActWriteDelegations Action = "delegations.write"
	// ActReadAccessLog: read the patient's access log.
	ActReadAccessLog Action = "access-log.read"
	// ActReadCareRelationships: list the patient's care relationships and
	// guardianships (who may see the data).
	ActReadCareRelationships Action = "care-relationships.read"
	// ActWriteCareRelationships: write care relationships and
	// guardianships from the regional registry.
	ActWriteCareRelationships Action = "care-relationships.write"
	// ActReadNotifications: read the access notification settings (the
	// address, masked, and the mode).
	ActReadNotifications Action = "notifications.read"
	// ActWriteNotifications: set the address access notifications go to,
	// and their mode. Unlike other actions, it is logged even when the
	// patient does it: a change of the address must be visible to the
	// patient (package notify).
	ActWriteNotifications Action = "notifications.write"
	// ActWriteClinicalInfo: write the clinician's record shown on the AGP
	// report (diabetes type, therapy, a note): the patient's clinicians
	// only, under the same care relationship and consent as reading.
	ActWriteClinicalInfo Action = "clinical-info.write"
)

// Actions lists every Action, for exhaustive tests and documentation.
func Actions() []Action {
	return []Action{ActReadData, ActWriteData, ActReadConsent, ActWriteConsent, ActReadDelegations,
		ActWriteDelegations, ActReadAccessLog, ActReadCareRelationships, ActWriteCareRelationships,
		ActReadNotifications, ActWriteNotifications, ActWriteClinicalInfo}
}

// Scopes checked by the rules, matched with auth.Principal.HasScope (SMART
// App Launch scope rules: "system/Observation.read" or "system/*.rs" also
// grant ScopeReadData).
const (
	// ScopeReadData lets a service read patients' glucose data (FHIR
	// Observations and the metrics derived from them) while the patient's
	// third-party consent stands.
	ScopeReadData = "system/Observation.rs"
	// ScopeRegistry lets the regional registry service write and read care
	// relationships and guardianships.
	ScopeRegistry = "fsecgm/care-relationships.write"
)

// Basis is the relationship on which an actor acts for a patient.
type Basis string

// The bases.
const (
	// BasisNone: no relationship (anonymous callers, refused actors).
	BasisNone Basis = ""
	// BasisSelf: the actor is the patient.
	BasisSelf Basis = "self"
	// BasisParent: a parent of a minor patient.
	BasisParent Basis = "parent"
	// BasisTutor: the patient's registered tutor.
	BasisTutor Basis = "tutor"
	// BasisDelegate: an adult the patient (or their parent or tutor)
	// delegated.
	BasisDelegate Basis = "delegate"
	// BasisMMG: the patient's general practitioner.
	BasisMMG Basis = "mmg"
	// BasisPLS: the patient's family paediatrician.
	BasisPLS Basis = "pls"
	// BasisDiabetology: a diabetologist of a diabetology centre that takes
	// care of the patient.
	BasisDiabetology Basis = "diabetology"
	// BasisService: a service client with the needed scope.
	BasisService Basis = "service"
	// BasisRegistry: the regional registry service.
	BasisRegistry Basis = "registry"
	// BasisLink: whoever opened a single-use link fsecgm sent by e-mail
	// (the confirmation of a notification address): not authenticated,
	// but holding the secret sent to that address.
	BasisLink Basis = "link"
	// BasisUploader: an app uploading to the patient's Nightscout-
	// compatible door (connectors/nightscout/nsupload) with the secret of
	// an uploader the patient created; logged by Store.LogUploader.
	BasisUploader Basis = "uploader"
)

// Reason is a stable code saying why a decision was taken. Allowed
// decisions have ReasonAllowed; the others say why not.
type Reason string

// The reasons.
const (
	// ReasonAllowed: the action is allowed.
	ReasonAllowed Reason = "allowed"
	// ReasonUnauthenticated: no valid identity (anonymous, forged, expired
	// or wrong-audience token).
	ReasonUnauthenticated Reason = "unauthenticated"
	// ReasonUnknownAction: the action is not one of Actions().
	ReasonUnknownAction Reason = "unknown-action"
	// ReasonNotPermitted: the actor's role or relationship never allows
	// this action (e.g. a delegate delegating, a clinician writing).
	ReasonNotPermitted Reason = "not-permitted"
	// ReasonNoRelationship: the citizen is neither the patient nor a
	// current representative.
	ReasonNoRelationship Reason = "no-relationship"
	// ReasonCameOfAge: the actor is a parent, but the patient has turned 18.
	ReasonCameOfAge Reason = "came-of-age"
	// ReasonBirthDateUnknown: the actor is a parent, but the patient's birth
	// date is unknown, so being a minor cannot be established.
	ReasonBirthDateUnknown Reason = "birth-date-unknown"
	// ReasonGuardianshipEnded: the parent's or tutor's registration is not
	// in force now.
	ReasonGuardianshipEnded Reason = "guardianship-ended"
	// ReasonDelegationExpired: the delegation has expired.
	ReasonDelegationExpired Reason = "delegation-expired"
	// ReasonDelegationRevoked: the delegation was revoked.
	ReasonDelegationRevoked Reason = "delegation-revoked"
	// ReasonNoCareRelationship: the practitioner does not take care of the
	// patient.
	ReasonNoCareRelationship Reason = "no-care-relationship"
	// ReasonMissingScope: the service lacks the needed scope.
	ReasonMissingScope Reason = "missing-scope"
	// ReasonNoConsent: the patient's third-party consent is revoked or was
	// never granted.
	ReasonNoConsent Reason = "no-third-party-consent"
	// ReasonMinor: the patient is a minor, who reads their own data but
	// whose consent and delegations are their parent's or tutor's to give.
	ReasonMinor Reason = "minor"

	// Reasons of OutcomeError entries: the rules allowed the access but
	// serving it failed.

	// ReasonInvalidRequest: an argument was refused (ErrInvalid).
	ReasonInvalidRequest Reason = "invalid-request"
	// ReasonNotFound: what was asked for does not exist (ErrNotFound).
	ReasonNotFound Reason = "not-found"
	// ReasonError: any other failure.
	ReasonError Reason = "error"
)

// Decision is the outcome of Decide.
type Decision struct {
	// Allowed reports whether the action may proceed.
	Allowed bool
	// Basis is the relationship that allowed the action or, for a refusal,
	// the one the actor had or claimed (BasisNone when none).
	Basis Basis
	// Reason is ReasonAllowed or why the action was refused.
	Reason Reason
}

// Actor is who acts: the identity of an authenticated request, or the zero
// Actor (Role "") for a caller that could not be authenticated. Build it
// with ActorFrom. Actor formats and logs (slog.LogValuer) without its fiscal
// code or name.
type Actor struct {
	// Role is the kind of caller; "" means unauthenticated.
	Role auth.Role
	// FiscalCode is the normalized codice fiscale of a citizen or
	// practitioner. Never log it.
	FiscalCode string
	// PractitionerRole is set for practitioners.
	PractitionerRole auth.PractitionerRole
	// Organization is the organization the actor acts for (the
	// diabetology centre of a diabetologist), when the token carries one.
	Organization string
	// ClientID is the OAuth client of a service.
	ClientID string
	// Scopes are the granted scopes of a service.
	Scopes []string
	// Name is the display name recorded in the access log.
	Name string
	// RequestID identifies the request in the access log and in the
	// service's logs.
	RequestID string
	// Client is the caller's network address as the service sees it
	// (the client IP): it tells apart callers without a valid token when
	// their repeated refusals are counted on one entry (Store.LogDenied).
	// It is never stored (only within a hash), shown or logged.
	Client string
	// Route is the request's method and route pattern ("GET
	// /api/v1/patients/:id/glucometrics"), a small fixed set: repeated
	// refusals count on one entry only when they came through the same
	// route.
	Route string
}

// ActorFrom returns the Actor of principal p for the request requestID. A
// nil p gives the unauthenticated Actor.
func ActorFrom(p *auth.Principal, requestID string) Actor {
	if p == nil {
		return Actor{RequestID: requestID}
	}
	a := Actor{
		Role:             p.Role,
		FiscalCode:       p.FiscalCode,
		PractitionerRole: p.PractitionerRole,
		Organization:     p.Organization,
		ClientID:         p.ClientID,
		Scopes:           append([]string(nil), p.Scopes...),
		Name:             p.Name,
		RequestID:        requestID,
	}
	if a.Name == "" && a.Role == auth.RoleService {
		a.Name = a.ClientID
	}
	return a
}

// HasScope reports whether the actor was granted scope want, with the
// matching rules of auth.Principal.HasScope.
func (a Actor) HasScope(want string) bool {
	return auth.Principal{Scopes: a.Scopes}.HasScope(want)
}

// LogValue implements slog.LogValuer: role, practitioner role,
// organization, client id and request id, never the fiscal code or name.
func (a Actor) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("role", string(a.Role))}
	if a.PractitionerRole != "" {
		attrs = append(attrs, slog.String("practitioner_role", string(a.PractitionerRole)))
	}
	if a.Organization != "" {
		attrs = append(attrs, slog.String("org", a.Organization))
	}
	if a.Role == auth.RoleService {
		attrs = append(attrs, slog.String("client_id", a.ClientID))
	}
	if a.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", a.RequestID))
	}
	return slog.GroupValue(attrs...)
}

// String returns the same safe description as LogValue.
func (a Actor) String() string { return a.LogValue().String() }

// GoString is like String, for %#v.
func (a Actor) GoString() string { return "consent.Actor{" + a.String() + "}" }

// GuardianKind is the kind of a guardianship.
type GuardianKind string

// The guardianship kinds.
const (
	// GuardianParent: a parent, who acts for the patient until the patient's
	// 18th birthday.
	GuardianParent GuardianKind = "parent"
	// GuardianTutor: a tutor (or other legal representative), who acts for
	// the patient while the tutorship is registered.
	GuardianTutor GuardianKind = "tutor"
)

// Guardianship is a registered parent or tutor of a patient, as loaded from
// the regional registry. Its natural key is (Kind, GuardianFiscalCode,
// PatientFiscalCode).
type Guardianship struct {
	// Kind is parent or tutor.
	Kind GuardianKind
	// GuardianFiscalCode is the parent's or tutor's codice fiscale.
	GuardianFiscalCode string
	// PatientFiscalCode is the patient's codice fiscale; the patient need
	// not have connected a sensor yet.
	PatientFiscalCode string
	// ValidFrom is when the guardianship began; zero means "always".
	ValidFrom time.Time
	// ValidTo is when it ended (exclusive); zero means it is in force.
	ValidTo time.Time
	// Source names the registry the record came from.
	Source string
}

// CareKind is the kind of a care relationship.
type CareKind string

// The care relationship kinds.
const (
	// CareMMG: the patient's general practitioner (by fiscal code).
	CareMMG CareKind = "mmg"
	// CarePLS: the patient's family paediatrician (by fiscal code).
	CarePLS CareKind = "pls"
	// CareDiabetology: a diabetology centre that takes care of the patient
	// (by organization id).
	CareDiabetology CareKind = "diabetology"
)

// CareRelationship says that a clinician or a centre takes care of a
// patient, as loaded from the regional registry. Its natural key is
// (PatientFiscalCode, Kind, PractitionerFiscalCode or OrganizationID).
type CareRelationship struct {
	// PatientFiscalCode is the patient's codice fiscale; the patient need
	// not have connected a sensor yet.
	PatientFiscalCode string
	// Kind is mmg, pls or diabetology.
	Kind CareKind
	// PractitionerFiscalCode is set for mmg and pls, empty for
	// diabetology.
	PractitionerFiscalCode string
	// OrganizationID is the centre's id for diabetology, empty otherwise.
	OrganizationID string
	// ValidFrom is when the relationship began; zero means "always".
	ValidFrom time.Time
	// ValidTo is when it ended (exclusive); zero means it is in force.
	ValidTo time.Time
	// Source names the registry the record came from.
	Source string
}

// Delegation lets an adult act for a patient until it expires or is
// revoked. A delegate reads data, manages connections and reads the access
// log; a delegate cannot change consent or delegate further.
type Delegation struct {
	// ID identifies the delegation (for RevokeDelegation).
	ID int64
	// PatientID is the patient's internal id.
	PatientID int64
	// DelegateFiscalCode is the delegate's codice fiscale.
	DelegateFiscalCode string
	// GrantedBy is the fiscal code of who granted it (the patient, a
	// parent or a tutor), with GrantedAs their basis.
	GrantedBy string
	GrantedAs Basis
	// CreatedAt is when it was granted; it is in force from then.
	CreatedAt time.Time
	// ExpiresAt is when it ends (exclusive).
	ExpiresAt time.Time
	// RevokedAt is when it was revoked (zero if not), and RevokedBy by whom
	// (fiscal code).
	RevokedAt time.Time
	RevokedBy string
}

// ConsentState is a patient's consent to consultation of their data by
// third parties (clinicians and services).
type ConsentState struct {
	// Granted reports whether the consent stands now. When none was ever
	// recorded it is false: privacy by default; the patient grants it in
	// the taccuino.
	Granted bool
	// History lists every change, oldest first; empty when none was ever
	// recorded.
	History []ConsentChange
}

// ConsentChange is one grant or revocation of the third-party consent.
type ConsentChange struct {
	// Granted is the state after the change.
	Granted bool
	// At is when it changed.
	At time.Time
	// By is the fiscal code of who changed it, acting as As (self, parent
	// or tutor).
	By string
	As Basis
}

// PrivacyNoticeAcceptance records that a version of the privacy notice
// (informativa) was accepted, when and by whom.
type PrivacyNoticeAcceptance struct {
	// Version is the accepted notice's version.
	Version string
	// AcceptedAt is when.
	AcceptedAt time.Time
	// AcceptedBy is the fiscal code of who accepted, acting as As.
	AcceptedBy string
	As         Basis
}

// Outcome is how an access ended.
type Outcome string

// The outcomes recorded in the access log.
const (
	// OutcomeAllowed: the rules allowed it and it was served.
	OutcomeAllowed Outcome = "allowed"
	// OutcomeDenied: the rules refused it.
	OutcomeDenied Outcome = "denied"
	// OutcomeError: the rules allowed it but serving it failed; nothing
	// was served.
	OutcomeError Outcome = "error"
)

// AccessEntry is one entry of a patient's access log.
type AccessEntry struct {
	// ID identifies the entry.
	ID int64
	// At is when the access was decided.
	At time.Time
	// ActorRole is citizen, practitioner, service, or "" for an
	// unauthenticated caller.
	ActorRole auth.Role
	// ActorID is the fiscal code of a person or the client id of a
	// service; empty for an unauthenticated caller. Shown to the patient,
	// never logged.
	ActorID string
	// ActorName is the display name, when known.
	ActorName string
	// PractitionerRole is set for practitioners.
	PractitionerRole auth.PractitionerRole
	// OnBehalfOf is the organization the actor acted for (the diabetology
	// centre), when known.
	OnBehalfOf string
	// Basis is the relationship the actor acted on.
	Basis Basis
	// Action is what was done, and Detail what exactly (e.g.
	// "glucometrics 2026-05-01..2026-05-14").
	Action Action
	Detail string
	// Outcome is allowed, denied or error, and Reason why.
	Outcome Outcome
	Reason  Reason
	// RequestID identifies the request (the first, for a repeated
	// refusal).
	RequestID string
	// Count is how many times the same refusal happened within the
	// repeat window (Options.RepeatWindow), counted on this entry; 1 for
	// every other entry. LastAt and LastRequestID are the last
	// occurrence's (equal to At and RequestID when Count is 1).
	Count         int
	LastAt        time.Time
	LastRequestID string
}

// AccessLogPage is one page of a patient's access log, newest first.
type AccessLogPage struct {
	// Entries are the entries of the page.
	Entries []AccessEntry
	// Next is the cursor of the following (older) page, to pass as before
	// to AccessLog; empty on the last page.
	Next string
}

// Representation is a patient a citizen may act for (Represented).
type Representation struct {
	// PatientFiscalCode is the patient's codice fiscale.
	PatientFiscalCode string
	// PatientID is the patient's internal id, or 0 when the patient has no
	// record in fsecgm yet (no sensor connected).
	PatientID int64
	// Basis is self, parent, tutor or delegate.
	Basis Basis
	// Until is when the right ends (18th birthday, end of tutorship,
	// delegation expiry); zero when open-ended.
	Until time.Time
}
