package taccuino

import (
	"context"
	"net/http"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// PatientRequest is the body of POST /patients: open the taccuino of a
// person who has no record yet.
type PatientRequest struct {
	// Identifier is the person's codice fiscale (or
	// "http://hl7.it/sid/codiceFiscale|CF").
	Identifier string `json:"identifier"`
}

// activate opens (creates) the record of the person with fiscal code cf
// for citizen caller c: themself, or a minor or person in tutorship they
// represent (consent.Represented: bases self, parent, tutor). An existing
// record is returned as it is. The creation is recorded in the record's
// access log (as a data write) when the caller is not the patient.
func (s *Server) activate(c *echo.Context, cf string) (cgmstore.Patient, bool, error) {
	ctx := c.Request().Context()
	pr := web.Principal(c)
	if pr == nil {
		return cgmstore.Patient{}, false, web.Unauthenticated(web.AuthError(c))
	}
	if pr.Role != auth.RoleCitizen {
		return cgmstore.Patient{}, false, web.Forbidden()
	}
	reps, err := s.deps.Consent.Represented(ctx, web.Actor(c))
	if err != nil {
		return cgmstore.Patient{}, false, err
	}
	allowed := false
	for _, r := range reps {
		if r.PatientFiscalCode == cf && (r.Basis == consent.BasisSelf || r.Basis == consent.BasisParent || r.Basis == consent.BasisTutor) {
			allowed = true
		}
	}
	if !allowed {
		return cgmstore.Patient{}, false, web.Forbidden()
	}
	p, created, err := s.deps.Store.EnsurePatient(ctx, cf, cgmstore.DefaultTimeZone)
	if err != nil {
		return p, false, err
	}
	if p, err = s.recordIdentity(ctx, pr, p); err != nil {
		return p, false, err
	}
	if created {
		if err := s.deps.Access(c, p, consent.ActWriteData, "open taccuino", nil); err != nil {
			return p, false, err
		}
	}
	return p, created, nil
}

// apiCreatePatient opens the taccuino of the caller or of someone they
// represent: 201 with the new id, 200 when the record existed.
func (s *Server) apiCreatePatient(c *echo.Context) error {
	var req PatientRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		if web.Principal(c) == nil {
			return web.Unauthenticated(web.AuthError(c))
		}
		return err
	}
	if web.Principal(c) == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	cf, ok := parseIdentifier(req.Identifier)
	if !ok {
		return web.Invalid("/identifier", "identifier must be a codice fiscale")
	}
	p, created, err := s.activate(c, cf)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, PatientJSON{ID: p.PublicID, TimeZone: p.TimeZone})
}

// postActivate opens a taccuino from the home page.
func (s *Server) postActivate(c *echo.Context) error {
	cf, ok := parseIdentifier(c.FormValue("fiscal_code"))
	if !ok {
		return web.Invalid("fiscal_code", web.Lang(c).T("tac_bad_cf"))
	}
	p, _, err := s.activate(c, cf)
	if err != nil {
		return err
	}
	return seeOther(c, patientURL(p.PublicID, "", ""))
}

// privacyView is the privacy notice page.
type privacyView struct{ Version string }

// pagePrivacy shows the privacy notice (informativa) of the taccuino.
func (s *Server) pagePrivacy(c *echo.Context) error {
	return s.render(c, http.StatusOK, "privacy", s.newView(c, "tac_privacy", privacyView{Version: PrivacyNoticeVersion}))
}

// recordIdentity stores, on the patient's own record, the names that the
// identity provider asserts for them (SPID/CIE through the region's
// provider: the FSE identity), when the token carries both and they differ
// from the stored ones. They are the evidence against which the person a
// sensor account follows is compared (cgm/identity). Only the patient's
// own token speaks for their names: a parent's or a clinician's never does.
func (s *Server) recordIdentity(ctx context.Context, pr *auth.Principal, p cgmstore.Patient) (cgmstore.Patient, error) {
	if pr == nil || pr.Role != auth.RoleCitizen || pr.FiscalCode != p.FiscalCode || pr.GivenName == "" || pr.FamilyName == "" ||
		(pr.GivenName == p.GivenName && pr.FamilyName == p.FamilyName) {
		return p, nil
	}
	p.GivenName, p.FamilyName = pr.GivenName, pr.FamilyName
	return s.deps.Store.UpdatePatient(ctx, p)
}
