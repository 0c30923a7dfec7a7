package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Role is the kind of caller a token identifies.
type Role string

// The roles a token may carry.
const (
	// RoleCitizen is a patient (or a person acting for one) identified by a
	// fiscal code.
	RoleCitizen Role = "citizen"
	// RolePractitioner is a clinician identified by a fiscal code and a
	// PractitionerRole.
	RolePractitioner Role = "practitioner"
	// RoleService is a machine client (OAuth 2.0 client credentials grant)
	// identified by its client id and limited by its scopes.
	RoleService Role = "service"
	// RoleAnalyst is a person of the regional health authority or of an
	// ASL, identified by a fiscal code, who reads the population's
	// aggregates (package population) within a PopulationScope, and never
	// a single person's data.
	RoleAnalyst Role = "analyst"
)

// ParseRole returns the Role named by s (case-insensitive, surrounding
// spaces ignored).
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleCitizen, RolePractitioner, RoleService, RoleAnalyst:
		return r, nil
	}
	return "", fmt.Errorf("auth: unknown role %q (want citizen, practitioner, service or analyst)", s)
}

// OrganizationHead is the value of the organization role claim of the head
// of the organization (the responsabile of a diabetology centre), who reads
// the centre's aggregates (package population).
const OrganizationHead = "head"

// The population scopes of an analyst's token: the whole region, or one
// ASL ("asl:" followed by the ASL's code, as package population names
// them).
const (
	// PopulationRegion is the scope of a regional analyst.
	PopulationRegion = "region"
	// PopulationASLPrefix starts the scope of an ASL's analyst.
	PopulationASLPrefix = "asl:"
)

// ParsePopulationScope checks an analyst's population scope: "region", or
// "asl:" followed by 1 to 16 upper-case letters or digits (the ASL's
// code, e.g. "asl:TC"). Whether the ASL exists is for package population.
func ParsePopulationScope(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == PopulationRegion {
		return s, nil
	}
	code, ok := strings.CutPrefix(s, PopulationASLPrefix)
	if ok && code != "" && len(code) <= 16 {
		for _, r := range code {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				ok = false
			}
		}
		if ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("auth: population scope %q: want region or asl:CODE", s)
}

// PractitionerRole is what kind of clinician a practitioner is.
type PractitionerRole string

// The practitioner roles of the Tuscan diabetes care pathway.
const (
	// PractitionerMMG is a general practitioner (medico di medicina generale).
	PractitionerMMG PractitionerRole = "mmg"
	// PractitionerPLS is a family paediatrician (pediatra di libera scelta).
	PractitionerPLS PractitionerRole = "pls"
	// PractitionerDiabetologist is a diabetologist of a diabetology centre.
	PractitionerDiabetologist PractitionerRole = "diabetologist"
	// PractitionerOther is any other clinician (nurse, dietitian, ...).
	PractitionerOther PractitionerRole = "other"
)

// ParsePractitionerRole returns the PractitionerRole named by s
// (case-insensitive, surrounding spaces ignored).
func ParsePractitionerRole(s string) (PractitionerRole, error) {
	switch r := PractitionerRole(strings.ToLower(strings.TrimSpace(s))); r {
	case PractitionerMMG, PractitionerPLS, PractitionerDiabetologist, PractitionerOther:
		return r, nil
	}
	return "", fmt.Errorf("auth: unknown practitioner role %q (want mmg, pls, diabetologist or other)", s)
}

// Principal is the verified identity behind a request.
//
// A Principal holds a fiscal code, yet a Principal (value or pointer) is
// safe to log and format: LogValue, String and GoString print only the role,
// a keyed hash of the subject and non-personal identifiers. Its fields are
// not: never log FiscalCode, Name or Subject.
type Principal struct {
	// Issuer is the token's iss claim.
	Issuer string
	// Subject is the token's sub claim: the provider's identifier of the
	// person or client (may be pairwise; never assume it is a fiscal code).
	Subject string
	// Role is the kind of caller.
	Role Role
	// FiscalCode is the normalized, validated codice fiscale of a citizen or
	// practitioner; empty for services.
	FiscalCode string
	// PractitionerRole is set for practitioners only.
	PractitionerRole PractitionerRole
	// Organization is the optional organization (e.g. diabetology centre) id.
	Organization string
	// OrganizationRole is the practitioner's function in Organization,
	// when the token says it: OrganizationHead for the head of a
	// diabetology centre (who reads the centre's aggregates).
	OrganizationRole string
	// PopulationScope is an analyst's scope (PopulationRegion or
	// "asl:CODE"); empty for anyone else.
	PopulationScope string
	// ClientID is the OAuth client the token was issued to (client_id or
	// azp); always set for services.
	ClientID string
	// Scopes are the granted scopes of a service; empty for people, whose
	// access is decided by role, consent and care relationships.
	Scopes []string
	// Name is the display name, when the token carries one.
	Name string
	// GivenName and FamilyName are the person's names as the identity
	// provider asserts them (OpenID Connect Core 1.0 §5.1 given_name and
	// family_name; SPID's name and familyName attributes), when the token
	// carries them: a citizen's FSE identity, against which the person a
	// sensor account follows is compared.
	GivenName, FamilyName string
	// TokenID is the jti claim, when present.
	TokenID string
	// Expiry is when the token expires.
	Expiry time.Time

	// ref is the keyed subject hash computed by the Verifier for logs.
	ref string
}

// HasScope reports whether the principal was granted scope want.
//
// Matching rules (HL7 SMART App Launch 2.0.0, "Scopes for requesting FHIR
// resources"):
//   - a granted scope equal to want matches;
//   - SMART resource scopes "context/Resource.perms" with context patient,
//     user or system match when the context is the same, the granted
//     resource is the same or "*", and the granted permissions include the
//     wanted ones. Permissions are SMART v2 letters in the order c r u d s
//     (create, read, update, delete, search) or SMART v1 words, read as their
//     v2 equivalents: "read" = "rs", "write" = "cud", "*" = "cruds". So
//     "system/Observation.rs" grants "system/Observation.read",
//     "system/Observation.r" and "system/Observation.s", and
//     "system/*.rs" grants them for every resource type;
//   - a wanted "*" resource is granted only by a "*" resource;
//   - contexts never imply each other (system/ does not grant patient/);
//   - scopes with SMART v2 granular parameters ("?category=...") and any other
//     scope string match only exactly.
func (p Principal) HasScope(want string) bool {
	w, wok := parseSMARTScope(want)
	for _, g := range p.Scopes {
		if g == want {
			return true
		}
		if !wok {
			continue
		}
		if gs, ok := parseSMARTScope(g); ok && gs.grants(w) {
			return true
		}
	}
	return false
}

// SMART v2 permission bits, in canonical order.
const (
	permC = 1 << iota
	permR
	permU
	permD
	permS
)

type smartScope struct {
	context  string
	resource string
	perms    uint8
}

func (g smartScope) grants(w smartScope) bool {
	return g.context == w.context &&
		(g.resource == "*" || g.resource == w.resource) &&
		g.perms&w.perms == w.perms
}

// parseSMARTScope parses "context/Resource.perms"; ok is false for anything
// else, including scopes with granular parameters.
func parseSMARTScope(s string) (smartScope, bool) {
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok || (ctx != "patient" && ctx != "user" && ctx != "system") {
		return smartScope{}, false
	}
	res, perm, ok := strings.Cut(rest, ".")
	if !ok || !validResource(res) {
		return smartScope{}, false
	}
	var bits uint8
	switch perm {
	case "read":
		bits = permR | permS
	case "write":
		bits = permC | permU | permD
	case "*":
		bits = permC | permR | permU | permD | permS
	default:
		last := -1
		for i := 0; i < len(perm); i++ {
			pos := strings.IndexByte("cruds", perm[i])
			if pos <= last { // unknown letter, repeated or out of order
				return smartScope{}, false
			}
			last = pos
			bits |= 1 << pos
		}
		if bits == 0 {
			return smartScope{}, false
		}
	}
	return smartScope{context: ctx, resource: res, perms: bits}, true
}

// validResource reports whether s is "*" or a FHIR resource type name.
func validResource(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// SubjectRef returns a short hash of the issuer and subject, stable for one
// Verifier, that identifies the principal in logs without revealing who it
// is. Principals not built by a Verifier get an unkeyed hash.
func (p Principal) SubjectRef() string {
	if p.ref != "" {
		return p.ref
	}
	h := sha256.Sum256([]byte("fsecgm/auth\x00" + p.Issuer + "\x00" + p.Subject))
	return hex.EncodeToString(h[:8])
}

// LogValue implements slog.LogValuer. It never includes the fiscal code, the
// name or the token: only the role, the subject reference, the practitioner
// role, the organization, the client id of a service and the token id.
func (p Principal) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("role", string(p.Role)),
		slog.String("sub_ref", p.SubjectRef()),
	}
	if p.PractitionerRole != "" {
		attrs = append(attrs, slog.String("practitioner_role", string(p.PractitionerRole)))
	}
	if p.Organization != "" {
		attrs = append(attrs, slog.String("org", p.Organization))
	}
	if p.OrganizationRole != "" {
		attrs = append(attrs, slog.String("org_role", p.OrganizationRole))
	}
	if p.PopulationScope != "" {
		attrs = append(attrs, slog.String("population_scope", p.PopulationScope))
	}
	if p.Role == RoleService && p.ClientID != "" {
		attrs = append(attrs, slog.String("client_id", p.ClientID))
	}
	if p.TokenID != "" {
		attrs = append(attrs, slog.String("jti", p.TokenID))
	}
	return slog.GroupValue(attrs...)
}

// String returns the same safe description as LogValue, so that formatting a
// Principal with %v or %s never prints its fiscal code.
func (p Principal) String() string {
	var b strings.Builder
	b.WriteString(string(p.Role))
	b.WriteString(" sub_ref=")
	b.WriteString(p.SubjectRef())
	if p.PractitionerRole != "" {
		b.WriteString(" practitioner_role=" + string(p.PractitionerRole))
	}
	if p.PopulationScope != "" {
		b.WriteString(" population_scope=" + p.PopulationScope)
	}
	if p.Role == RoleService && p.ClientID != "" {
		b.WriteString(" client_id=" + p.ClientID)
	}
	return b.String()
}

// GoString is like String, for %#v.
func (p Principal) GoString() string { return "auth.Principal{" + p.String() + "}" }

// PrincipalSpec describes a principal to put in a token: it is what a token
// issuer (the development issuer, or the fake provider in authtest) needs.
type PrincipalSpec struct {
	// Role is required.
	Role Role
	// Subject is the sub claim; when empty a stable pseudonym is derived
	// from the role and fiscal code (people) or the client id (services).
	Subject string
	// FiscalCode is required for citizens and practitioners.
	FiscalCode string
	// PractitionerRole is required for practitioners.
	PractitionerRole PractitionerRole
	// Organization is optional.
	Organization string
	// OrganizationRole is optional, for practitioners with an
	// Organization (OrganizationHead).
	OrganizationRole string
	// PopulationScope is required for analysts (PopulationRegion or
	// "asl:CODE").
	PopulationScope string
	// ClientID is required for services; optional otherwise (azp).
	ClientID string
	// Scopes are granted to services.
	Scopes []string
	// Name is optional.
	Name string
	// GivenName and FamilyName are optional (given_name, family_name).
	GivenName, FamilyName string
}

// validate reports what is missing or wrong in s, and returns a copy with the
// fiscal code normalized.
func (s PrincipalSpec) validate() (PrincipalSpec, error) {
	if s.PopulationScope != "" && s.Role != RoleAnalyst {
		return s, fmt.Errorf("auth: only an analyst has a population scope")
	}
	if s.OrganizationRole != "" && (s.Role != RolePractitioner || s.Organization == "") {
		return s, fmt.Errorf("auth: an organization role needs a practitioner with an organization")
	}
	switch s.Role {
	case RoleAnalyst:
		cf, err := normalizeFiscalCode(s.FiscalCode)
		if err != nil {
			return s, fmt.Errorf("auth: analyst fiscal code: %w", err)
		}
		s.FiscalCode = cf
		if s.PractitionerRole != "" {
			return s, fmt.Errorf("auth: an analyst has no practitioner role")
		}
		if s.PopulationScope, err = ParsePopulationScope(s.PopulationScope); err != nil {
			return s, err
		}
	case RoleCitizen, RolePractitioner:
		cf, err := normalizeFiscalCode(s.FiscalCode)
		if err != nil {
			return s, fmt.Errorf("auth: %s fiscal code: %w", s.Role, err)
		}
		s.FiscalCode = cf
		if s.Role == RolePractitioner {
			if _, err := ParsePractitionerRole(string(s.PractitionerRole)); err != nil {
				return s, err
			}
		} else if s.PractitionerRole != "" {
			return s, fmt.Errorf("auth: a citizen has no practitioner role")
		}
	case RoleService:
		if s.ClientID == "" {
			return s, fmt.Errorf("auth: a service needs a client id")
		}
		if s.FiscalCode != "" || s.PractitionerRole != "" {
			return s, fmt.Errorf("auth: a service has no fiscal code or practitioner role")
		}
	default:
		_, err := ParseRole(string(s.Role))
		return s, err
	}
	for _, sc := range s.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return s, fmt.Errorf("auth: scope %q: must be non-empty, without spaces, quotes or backslashes", sc)
		}
	}
	s.Scopes = slices.Clone(s.Scopes)
	return s, nil
}
