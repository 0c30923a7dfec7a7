package taccuino

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// CareRelationshipJSON is a care relationship (kind mmg, pls or
// diabetology) or a guardianship (kind parent or tutor) from the regional
// registry: the body of POST /care-relationships and the items of GET
// /patients/{id}/care-relationships.
type CareRelationshipJSON struct {
	Kind                   string     `json:"kind"`
	PatientFiscalCode      string     `json:"patient_fiscal_code"`
	PractitionerFiscalCode string     `json:"practitioner_fiscal_code,omitempty"`
	OrganizationID         string     `json:"organization_id,omitempty"`
	GuardianFiscalCode     string     `json:"guardian_fiscal_code,omitempty"`
	ValidFrom              *time.Time `json:"valid_from,omitempty"`
	ValidTo                *time.Time `json:"valid_to,omitempty"`
	Source                 string     `json:"source,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func careJSON(r consent.CareRelationship) CareRelationshipJSON {
	return CareRelationshipJSON{Kind: string(r.Kind), PatientFiscalCode: r.PatientFiscalCode,
		PractitionerFiscalCode: r.PractitionerFiscalCode, OrganizationID: r.OrganizationID,
		ValidFrom: timePtr(r.ValidFrom), ValidTo: timePtr(r.ValidTo), Source: r.Source}
}

func guardianJSON(g consent.Guardianship) CareRelationshipJSON {
	return CareRelationshipJSON{Kind: string(g.Kind), PatientFiscalCode: g.PatientFiscalCode,
		GuardianFiscalCode: g.GuardianFiscalCode, ValidFrom: timePtr(g.ValidFrom), ValidTo: timePtr(g.ValidTo), Source: g.Source}
}

// apiPutCareRelationship records (creates, updates or ends, with valid_to)
// a care relationship or guardianship: the regional registry service only.
// Idempotent.
//
// It is under the lookup limits (web.Lookups): the caller's, unless it is
// the registry service, which loads every resident's relationships, and
// the named patient's, before anything is looked up or logged.
func (s *Server) apiPutCareRelationship(c *echo.Context) error {
	if p := web.Principal(c); p == nil || !p.HasScope(consent.ScopeRegistry) {
		if err := s.deps.Lookups.Client(c); err != nil {
			return err
		}
	}
	var req CareRelationshipJSON
	if err := web.DecodeJSON(c, &req); err != nil {
		if web.Principal(c) == nil {
			return web.Unauthenticated(web.AuthError(c))
		}
		return err
	}
	if err := s.deps.Lookups.Patient("cf:" + codicefiscale.Normalize(req.PatientFiscalCode)); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if web.Principal(c) == nil {
		// Log the refused attempt in the patient's access log, when there
		// is such a patient.
		if p, err := s.deps.Store.PatientByFiscalCode(ctx, req.PatientFiscalCode); err == nil {
			detail := "POST /api/v1/care-relationships: " + web.AuthFailure(web.AuthError(c))
			if err := s.deps.Consent.LogDenied(ctx, p.ID, consent.ActWriteCareRelationships, detail, web.Actor(c)); err != nil {
				return err
			}
		}
		return web.Unauthenticated(web.AuthError(c))
	}
	a := web.Actor(c)
	var (
		out CareRelationshipJSON
		err error
	)
	switch kind := req.Kind; kind {
	case string(consent.CareMMG), string(consent.CarePLS), string(consent.CareDiabetology):
		if req.GuardianFiscalCode != "" {
			return web.Invalid("/guardian_fiscal_code", "guardian_fiscal_code is for kinds parent and tutor")
		}
		var r consent.CareRelationship
		r, err = s.deps.Consent.UpsertCareRelationship(ctx, a, consent.CareRelationship{
			PatientFiscalCode: req.PatientFiscalCode, Kind: consent.CareKind(kind),
			PractitionerFiscalCode: req.PractitionerFiscalCode, OrganizationID: req.OrganizationID,
			ValidFrom: timeOrZero(req.ValidFrom), ValidTo: timeOrZero(req.ValidTo), Source: req.Source})
		out = careJSON(r)
	case string(consent.GuardianParent), string(consent.GuardianTutor):
		if req.PractitionerFiscalCode != "" || req.OrganizationID != "" {
			return web.Invalid("/kind", "practitioner_fiscal_code and organization_id are for kinds mmg, pls and diabetology")
		}
		var g consent.Guardianship
		g, err = s.deps.Consent.UpsertGuardianship(ctx, a, consent.Guardianship{
			Kind: consent.GuardianKind(kind), GuardianFiscalCode: req.GuardianFiscalCode,
			PatientFiscalCode: req.PatientFiscalCode, ValidFrom: timeOrZero(req.ValidFrom),
			ValidTo: timeOrZero(req.ValidTo), Source: req.Source})
		out = guardianJSON(g)
	default:
		if a.HasScope(consent.ScopeRegistry) {
			return web.Invalid("/kind", "kind must be mmg, pls, diabetology, parent or tutor")
		}
		// Refuse (and log the refusal) before saying anything about the body.
		_, err = s.deps.Consent.UpsertCareRelationship(ctx, a, consent.CareRelationship{PatientFiscalCode: req.PatientFiscalCode})
	}
	if err != nil {
		return registryError(err)
	}
	return c.JSON(statusOK, out)
}

// registryError names the member an ErrInvalid of the registry writes is
// about.
func registryError(err error) error {
	e := web.AsError(err)
	if e.Status != http.StatusUnprocessableEntity || e.Field != "" {
		return e
	}
	for _, k := range []struct{ word, field string }{
		{"patient fiscal code", "/patient_fiscal_code"},
		{"practitioner fiscal code", "/practitioner_fiscal_code"},
		{"guardian fiscal code", "/guardian_fiscal_code"},
		{"organization id", "/organization_id"},
		{"source", "/source"},
		{"valid_to", "/valid_to"},
		{"kind", "/kind"},
	} {
		if containsAny(e.Message, k.word) {
			e.Field = k.field
			break
		}
	}
	return e
}

func containsAny(s, word string) bool { return strings.Contains(strings.ToLower(s), word) }

// CareRelationshipsJSON is the answer of GET /patients/{id}/care-relationships.
type CareRelationshipsJSON struct {
	CareRelationships []CareRelationshipJSON `json:"care_relationships"`
	Guardianships     []CareRelationshipJSON `json:"guardianships"`
}

// apiListCareRelationships lists who takes care of and who represents the
// patient.
func (s *Server) apiListCareRelationships(c *echo.Context) error {
	p, err := s.deps.LookupPatient(c, consent.ActReadCareRelationships)
	if err != nil {
		return err
	}
	cs, gs, err := s.deps.Consent.CareRelationships(c.Request().Context(), web.Actor(c), p.ID)
	if err != nil {
		return err
	}
	out := CareRelationshipsJSON{CareRelationships: make([]CareRelationshipJSON, len(cs)),
		Guardianships: make([]CareRelationshipJSON, len(gs))}
	for i, r := range cs {
		out.CareRelationships[i] = careJSON(r)
	}
	for i, g := range gs {
		out.Guardianships[i] = guardianJSON(g)
	}
	return c.JSON(statusOK, out)
}

// PatientJSON identifies a patient.
type PatientJSON struct {
	// ID is the opaque id used in URLs.
	ID       string `json:"id"`
	TimeZone string `json:"time_zone"`
}

// parseIdentifier reads a codice fiscale given alone or as a FHIR token
// "http://hl7.it/sid/codiceFiscale|CF".
func parseIdentifier(s string) (string, bool) {
	if sys, v, ok := strings.Cut(s, "|"); ok {
		if sys != codicefiscale.System {
			return "", false
		}
		s = v
	}
	cf := codicefiscale.Normalize(s)
	return cf, codicefiscale.Validate(cf) == nil
}

// findPatient resolves a fiscal code for the request's caller: the patient
// when the caller may read its data (the lookup is logged as a data read),
// else an error: 401 without a token (logged in the patient's access log
// when the patient exists), 403 when refused or unknown, 404 for a citizen
// looking up themself before any data was stored, 429 beyond the limit of
// the lookups naming this fiscal code (web.Lookups; the caller's own limit
// is spent by the handler before anything else).
func (s *Server) findPatient(c *echo.Context, cf string) (cgmstore.Patient, error) {
	ctx := c.Request().Context()
	if err := s.deps.Lookups.Patient("cf:" + cf); err != nil {
		return cgmstore.Patient{}, err
	}
	p, err := s.deps.Store.PatientByFiscalCode(ctx, cf)
	found := err == nil
	if err != nil && !errors.Is(err, cgmstore.ErrNotFound) && !errors.Is(err, cgmstore.ErrInvalid) {
		return p, err
	}
	if web.Principal(c) == nil {
		if found {
			detail := c.Request().Method + " " + c.Path() + ": " + web.AuthFailure(web.AuthError(c))
			if err := s.deps.Consent.LogDenied(ctx, p.ID, consent.ActReadData, detail, web.Actor(c)); err != nil {
				return p, err
			}
		}
		return p, web.Unauthenticated(web.AuthError(c))
	}
	if !found {
		if pr := web.Principal(c); pr.Role == auth.RoleCitizen && pr.FiscalCode == cf {
			return p, web.NotFound("no data of yours is stored yet: connect a sensor or import a file")
		}
		return p, web.Forbidden()
	}
	if err := s.deps.Access(c, p, consent.ActReadData, "find patient by fiscal code", nil); err != nil {
		return p, err
	}
	return p, nil
}

// apiFindPatient finds a patient by fiscal code: ?identifier=CF (the
// codice fiscale appears in the query only, never in a path or a log).
func (s *Server) apiFindPatient(c *echo.Context) error {
	if err := s.deps.Lookups.Client(c); err != nil {
		return err
	}
	cf, ok := parseIdentifier(c.QueryParam("identifier"))
	if !ok && web.Principal(c) != nil {
		return web.Invalid("identifier", "identifier must be a codice fiscale (optionally "+codicefiscale.System+"|CF)")
	}
	p, err := s.findPatient(c, cf)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, map[string][]PatientJSON{"patients": {{ID: p.PublicID, TimeZone: p.TimeZone}}})
}

// MeJSON describes the caller.
type MeJSON struct {
	Role             auth.Role             `json:"role"`
	FiscalCode       string                `json:"fiscal_code,omitempty"`
	PractitionerRole auth.PractitionerRole `json:"practitioner_role,omitempty"`
	Organization     string                `json:"organization,omitempty"`
	ClientID         string                `json:"client_id,omitempty"`
	Name             string                `json:"name,omitempty"`
	// Represented lists, for a citizen, the patients they may act for:
	// themself first, then minors, people in tutorship and delegators.
	Represented []RepresentationJSON `json:"represented,omitempty"`
	// Patients lists, for a practitioner, the patients they may read now.
	Patients []PatientJSON `json:"patients,omitempty"`
}

// RepresentationJSON is a patient a citizen may act for.
type RepresentationJSON struct {
	// ID is the patient's id, or "" when nothing is stored for them yet.
	ID         string        `json:"id"`
	FiscalCode string        `json:"fiscal_code"`
	Name       string        `json:"name,omitempty"`
	Basis      consent.Basis `json:"basis"`
	Until      *time.Time    `json:"until,omitempty"`
}

// maxListed bounds the patients listed for a practitioner.
const maxListed = 500

// me builds the description of the caller.
func (s *Server) me(ctx context.Context, c *echo.Context) (MeJSON, error) {
	p := web.Principal(c)
	out := MeJSON{Role: p.Role, FiscalCode: p.FiscalCode, PractitionerRole: p.PractitionerRole,
		Organization: p.Organization, Name: p.Name}
	if p.Role == auth.RoleService {
		out.ClientID = p.ClientID
	}
	a := web.Actor(c)
	switch p.Role {
	case auth.RoleCitizen:
		reps, err := s.deps.Consent.Represented(ctx, a)
		if err != nil {
			return out, err
		}
		for _, r := range reps {
			rj := RepresentationJSON{FiscalCode: r.PatientFiscalCode, Basis: r.Basis, Until: timePtr(r.Until)}
			if r.PatientID != 0 {
				pt, err := s.deps.Store.PatientByID(ctx, r.PatientID)
				if err != nil {
					return out, err
				}
				if r.Basis == consent.BasisSelf {
					if pt, err = s.recordIdentity(ctx, p, pt); err != nil {
						return out, err
					}
				}
				rj.ID = pt.PublicID
				rj.Name = strings.TrimSpace(pt.GivenName + " " + pt.FamilyName)
			}
			out.Represented = append(out.Represented, rj)
		}
	case auth.RolePractitioner:
		ids, err := s.deps.Consent.VisiblePatients(ctx, a)
		if err != nil {
			return out, err
		}
		for i, id := range ids {
			if i == maxListed {
				web.Logger(c).Warn("patient list truncated", slog.Int("listed", maxListed), slog.Int("visible", len(ids)))
				break
			}
			pt, err := s.deps.Store.PatientByID(ctx, id)
			if err != nil {
				return out, err
			}
			out.Patients = append(out.Patients, PatientJSON{ID: pt.PublicID, TimeZone: pt.TimeZone})
		}
	}
	return out, nil
}

// apiMe describes the caller and the patients they may act for.
func (s *Server) apiMe(c *echo.Context) error {
	out, err := s.me(c.Request().Context(), c)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}
