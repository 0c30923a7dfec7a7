package taccuino

import (
	"net/http"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// homeView is the landing page.
type homeView struct {
	Role        auth.Role
	Represented []repView
	Patients    []repView
	// Clinic offers the clinic list to a clinician (when it is served).
	Clinic bool
	// Form is the fiscal-code form shown again with its error.
	Form *form
}

type repView struct {
	ID, Name, FiscalCode, Basis, Until string
	// Self is the person's own taccuino.
	Self bool
}

// pageHome lists the patients the caller may open.
func (s *Server) pageHome(c *echo.Context) error {
	return s.showHome(c, nil)
}

// showHome renders the home page, with f (the fiscal-code form shown
// again) when not nil.
func (s *Server) showHome(c *echo.Context, f *form) error {
	pr := web.Principal(c)
	if pr == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	l := web.Lang(c)
	me, err := s.me(c.Request().Context(), c)
	if err != nil {
		return err
	}
	hv := homeView{Role: me.Role, Form: f, Clinic: s.deps.Reports.Summaries != nil}
	for _, r := range me.Represented {
		rv := repView{ID: r.ID, Name: r.Name, FiscalCode: r.FiscalCode, Basis: l.T("tac_basis_" + string(r.Basis)),
			Self: r.Basis == consent.BasisSelf}
		if rv.Self && rv.Name == "" {
			// The person's own card names them even before their taccuino
			// exists (their name comes from the identity provider).
			rv.Name = pr.Name
		}
		if r.Until != nil {
			rv.Until = locale.Until(l, *r.Until, romeOr(nil))
		}
		hv.Represented = append(hv.Represented, rv)
	}
	for _, p := range me.Patients {
		pt, err := s.deps.Store.PatientByPublicID(c.Request().Context(), p.ID)
		if err != nil {
			return err
		}
		hv.Patients = append(hv.Patients, repView{ID: p.ID, Name: strings.TrimSpace(pt.GivenName + " " + pt.FamilyName)})
	}
	title := "tac_home"
	switch me.Role {
	case auth.RolePractitioner:
		title = "tac_home_practitioner_title"
	case auth.RoleService:
		title = "tac_home_service_title"
	}
	status := http.StatusOK
	if f != nil {
		status = f.Status
	}
	return s.render(c, status, "home", s.newViewText(c, l.T(title), hv, "/taccuino"))
}

// romeOr returns loc, or the default patient zone.
func romeOr(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	l, err := cgm.Zone(cgmstore.DefaultTimeZone)
	if err != nil {
		return time.UTC
	}
	return l
}

// postFind opens a patient's page from a fiscal code typed in a form (a
// POST, so that the code stays out of URLs and browser history). A code
// that is not valid is shown again with the error next to it.
func (s *Server) postFind(c *echo.Context) error {
	if err := s.deps.Lookups.Client(c); err != nil {
		return err
	}
	if web.Principal(c) == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	typed := c.FormValue("fiscal_code")
	cf, ok := parseIdentifier(typed)
	if !ok {
		l := web.Lang(c)
		return s.showHome(c, &form{Name: "find", Values: map[string]string{"fiscal_code": typed},
			Errors: map[string]string{"fiscal_code": l.T("err_cf")}, Status: http.StatusUnprocessableEntity})
	}
	p, err := s.findPatient(c, cf)
	if err != nil {
		return err
	}
	return seeOther(c, patientURL(p.PublicID, "", ""))
}
