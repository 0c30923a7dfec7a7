package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"fsecgm/cgm/codicefiscale"
)

// ClaimNames says in which token claims the identity is found. Empty fields
// take the value of DefaultClaimNames.
type ClaimNames struct {
	// FiscalCode lists the claims that may carry the fiscal code, tried in
	// order; the first present is used. Values may be a bare codice fiscale
	// or carry the ETSI EN 319 412-1 prefix "TINIT-".
	FiscalCode []string
	// Role is the claim with the Role: a string, or an array of strings of
	// which exactly one is a known role (others are ignored, as in provider
	// role lists).
	Role string
	// PractitionerRole is the claim with the PractitionerRole.
	PractitionerRole string
	// Organization is the claim with the organization (centre) id.
	Organization string
	// OrganizationRole is the claim with the practitioner's function in
	// the organization (OrganizationHead).
	OrganizationRole string
	// PopulationScope is the claim with an analyst's population scope.
	PopulationScope string
	// Name is the display name claim; when absent, given_name and
	// family_name (OpenID Connect Core 1.0 §5.1) are joined.
	Name string
	// ClientID lists the claims that may carry the client id, tried in order.
	ClientID []string
	// Scope lists the claims that may carry scopes, each a space-separated
	// string or an array of strings; all present ones are merged.
	Scope []string
}

// DefaultClaimNames returns the claim mapping used when Config.Claims leaves
// a field empty:
//
//   - fiscal code: "https://attributes.eid.gov.it/fiscal_number", the
//     SPID/CIE OpenID Connect user attribute (AgID/IPZS, "SPID/CIE OpenID
//     Connect" technical rules, table "User attributes", value
//     "TINIT-<CodiceFiscale>"); then "fiscal_number", the same attribute as
//     exposed under a short name by regional OIDC proxies; then
//     "fiscalNumber", the SPID SAML attribute name kept by SAML-to-OIDC
//     brokers;
//   - role: "role"; practitioner role: "practitioner_role"; organization:
//     "organization_id"; the practitioner's function in it:
//     "organization_role" ("head" for the head of a diabetology centre);
//     an analyst's population scope: "population_scope" ("region" or
//     "asl:CODE") (fsecgm conventions: no standard claim exists; the
//     regional provider maps them);
//   - name: "name" (OpenID Connect Core 1.0 §5.1);
//   - client id: "client_id" (RFC 9068 §2.2, RFC 8693 §4.3), then "azp"
//     (OpenID Connect Core 1.0 §2);
//   - scopes: "scope" (RFC 9068 §2.2.3, space-separated) and "scp" (array,
//     used by several providers).
func DefaultClaimNames() ClaimNames {
	return ClaimNames{
		FiscalCode:       []string{"https://attributes.eid.gov.it/fiscal_number", "fiscal_number", "fiscalNumber"},
		Role:             "role",
		PractitionerRole: "practitioner_role",
		Organization:     "organization_id",
		OrganizationRole: "organization_role",
		PopulationScope:  "population_scope",
		Name:             "name",
		ClientID:         []string{"client_id", "azp"},
		Scope:            []string{"scope", "scp"},
	}
}

// withDefaults fills empty fields from DefaultClaimNames.
func (n ClaimNames) withDefaults() ClaimNames {
	d := DefaultClaimNames()
	if len(n.FiscalCode) == 0 {
		n.FiscalCode = d.FiscalCode
	}
	if n.Role == "" {
		n.Role = d.Role
	}
	if n.PractitionerRole == "" {
		n.PractitionerRole = d.PractitionerRole
	}
	if n.Organization == "" {
		n.Organization = d.Organization
	}
	if n.OrganizationRole == "" {
		n.OrganizationRole = d.OrganizationRole
	}
	if n.PopulationScope == "" {
		n.PopulationScope = d.PopulationScope
	}
	if n.Name == "" {
		n.Name = d.Name
	}
	if len(n.ClientID) == 0 {
		n.ClientID = d.ClientID
	}
	if len(n.Scope) == 0 {
		n.Scope = d.Scope
	}
	return n
}

// Encode returns the identity claims (sub, role, fiscal code, practitioner
// role, organization, client id, scope, name) that describe spec under these
// claim names; the registered claims (iss, aud, exp, ...) are the issuer's.
// The fiscal code is written with the "TINIT-" prefix, as SPID/CIE do.
func (n ClaimNames) Encode(spec PrincipalSpec) (map[string]any, error) {
	n = n.withDefaults()
	spec, err := spec.validate()
	if err != nil {
		return nil, err
	}
	c := map[string]any{n.Role: string(spec.Role)}
	sub := spec.Subject
	switch spec.Role {
	case RoleCitizen, RolePractitioner, RoleAnalyst:
		c[n.FiscalCode[0]] = tinPrefix + spec.FiscalCode
		if sub == "" {
			h := sha256.Sum256([]byte(string(spec.Role) + ":" + spec.FiscalCode))
			sub = "dev-" + hex.EncodeToString(h[:10])
		}
		if spec.Role == RolePractitioner {
			pr, _ := ParsePractitionerRole(string(spec.PractitionerRole))
			c[n.PractitionerRole] = string(pr)
		}
	case RoleService:
		if sub == "" {
			sub = spec.ClientID
		}
	}
	c["sub"] = sub
	if spec.ClientID != "" {
		c[n.ClientID[0]] = spec.ClientID
	}
	if len(spec.Scopes) > 0 {
		c[n.Scope[0]] = strings.Join(spec.Scopes, " ")
	}
	if spec.Organization != "" {
		c[n.Organization] = spec.Organization
	}
	if spec.OrganizationRole != "" {
		c[n.OrganizationRole] = spec.OrganizationRole
	}
	if spec.PopulationScope != "" {
		c[n.PopulationScope] = spec.PopulationScope
	}
	if spec.Name != "" {
		c[n.Name] = spec.Name
	}
	if spec.GivenName != "" {
		c["given_name"] = spec.GivenName
	}
	if spec.FamilyName != "" {
		c["family_name"] = spec.FamilyName
	}
	return c, nil
}

// tinPrefix is the ETSI EN 319 412-1 semantic identifier prefix of an
// Italian tax identification number, used by SPID and CIE.
const tinPrefix = "TINIT-"

// normalizeFiscalCode strips the TINIT- prefix, normalizes and validates.
func normalizeFiscalCode(s string) (string, error) {
	cf := codicefiscale.Normalize(s)
	cf = strings.TrimPrefix(cf, tinPrefix)
	if err := codicefiscale.Validate(cf); err != nil {
		return "", err
	}
	return cf, nil
}

// principal maps verified claims to a Principal. Errors wrap ErrClaims and
// name the claim, never its value.
func (n ClaimNames) principal(c map[string]any) (*Principal, error) {
	p := &Principal{}
	var err error
	if p.Issuer, _, err = stringClaim(c, "iss"); err != nil {
		return nil, err
	}
	if p.Subject, _, err = stringClaim(c, "sub"); err != nil {
		return nil, err
	}
	if p.Subject == "" {
		return nil, claimErr("sub", "missing")
	}
	if p.TokenID, _, err = stringClaim(c, "jti"); err != nil {
		return nil, err
	}
	if p.Role, err = n.role(c); err != nil {
		return nil, err
	}
	if p.Organization, _, err = stringClaim(c, n.Organization); err != nil {
		return nil, err
	}
	if p.OrganizationRole, _, err = stringClaim(c, n.OrganizationRole); err != nil {
		return nil, err
	}
	p.OrganizationRole = strings.ToLower(strings.TrimSpace(p.OrganizationRole))
	if p.OrganizationRole != "" && (p.Role != RolePractitioner || p.Organization == "") {
		// A function in an organization means something only for a
		// practitioner of one: ignored otherwise, never a power.
		p.OrganizationRole = ""
	}
	for _, name := range n.ClientID {
		var ok bool
		if p.ClientID, ok, err = stringClaim(c, name); err != nil {
			return nil, err
		} else if ok && p.ClientID != "" {
			break
		}
	}
	if p.Name, err = n.name(c); err != nil {
		return nil, err
	}
	if p.GivenName, _, err = stringClaim(c, "given_name"); err != nil {
		return nil, err
	}
	if p.FamilyName, _, err = stringClaim(c, "family_name"); err != nil {
		return nil, err
	}
	p.GivenName, p.FamilyName = strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName)

	switch p.Role {
	case RoleAnalyst:
		if p.FiscalCode, err = n.fiscalCode(c); err != nil {
			return nil, err
		}
		s, ok, err := stringClaim(c, n.PopulationScope)
		if err != nil {
			return nil, err
		}
		if !ok || s == "" {
			return nil, claimErr(n.PopulationScope, "missing for an analyst")
		}
		if p.PopulationScope, err = ParsePopulationScope(s); err != nil {
			return nil, claimErr(n.PopulationScope, "not region or asl:CODE")
		}
	case RoleCitizen, RolePractitioner:
		if p.FiscalCode, err = n.fiscalCode(c); err != nil {
			return nil, err
		}
		if p.Role == RolePractitioner {
			s, ok, err := stringClaim(c, n.PractitionerRole)
			if err != nil {
				return nil, err
			}
			if !ok || s == "" {
				return nil, claimErr(n.PractitionerRole, "missing for a practitioner")
			}
			if p.PractitionerRole, err = ParsePractitionerRole(s); err != nil {
				return nil, claimErr(n.PractitionerRole, "not one of mmg, pls, diabetologist, other")
			}
		}
	case RoleService:
		if p.ClientID == "" {
			return nil, fmt.Errorf("%w: no client id claim (%s): required for services", ErrClaims, quoteAll(n.ClientID))
		}
		if p.Scopes, err = n.scopes(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (n ClaimNames) role(c map[string]any) (Role, error) {
	v, ok := c[n.Role]
	if !ok {
		return "", claimErr(n.Role, "missing")
	}
	var found []Role
	switch v := v.(type) {
	case string:
		r, err := ParseRole(v)
		if err != nil {
			return "", claimErr(n.Role, "not one of citizen, practitioner, service, analyst")
		}
		return r, nil
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", claimErr(n.Role, "must be a string or an array of strings")
			}
			if r, err := ParseRole(s); err == nil && !slices.Contains(found, r) {
				found = append(found, r)
			}
		}
	default:
		return "", claimErr(n.Role, "must be a string or an array of strings")
	}
	switch len(found) {
	case 0:
		return "", claimErr(n.Role, "holds none of citizen, practitioner, service, analyst")
	case 1:
		return found[0], nil
	}
	return "", claimErr(n.Role, "holds more than one role")
}

func (n ClaimNames) fiscalCode(c map[string]any) (string, error) {
	for _, name := range n.FiscalCode {
		s, ok, err := stringClaim(c, name)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		cf, err := normalizeFiscalCode(s)
		if err != nil {
			return "", fmt.Errorf("%w: claim %q: %w", ErrClaims, name, err)
		}
		return cf, nil
	}
	return "", fmt.Errorf("%w: no fiscal code claim (%s): required for citizens, practitioners and analysts", ErrClaims, quoteAll(n.FiscalCode))
}

func (n ClaimNames) name(c map[string]any) (string, error) {
	s, _, err := stringClaim(c, n.Name)
	if err != nil || s != "" {
		return strings.TrimSpace(s), err
	}
	given, _, err := stringClaim(c, "given_name")
	if err != nil {
		return "", err
	}
	family, _, err := stringClaim(c, "family_name")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimSpace(given) + " " + strings.TrimSpace(family)), nil
}

func (n ClaimNames) scopes(c map[string]any) ([]string, error) {
	var out []string
	add := func(s string) {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	for _, name := range n.Scope {
		switch v := c[name].(type) {
		case nil:
		case string:
			add(v)
		case []any:
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, claimErr(name, "must be a string or an array of strings")
				}
				add(s)
			}
		default:
			return nil, claimErr(name, "must be a string or an array of strings")
		}
	}
	return out, nil
}

// stringClaim returns claim name as a string; ok is false when absent.
func stringClaim(c map[string]any, name string) (s string, ok bool, err error) {
	v, ok := c[name]
	if !ok || v == nil {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", true, claimErr(name, "must be a string")
	}
	return s, true, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func claimErr(name, reason string) error {
	return fmt.Errorf("%w: claim %q %s", ErrClaims, name, reason)
}
