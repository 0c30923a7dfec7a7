package taccuino

import (
	"net/http"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// Persona is a demo user of the development login page.
type Persona struct {
	// Key identifies the persona in the login form ("patient", "parent"...).
	Key string
	// Spec is what the development token says about them.
	Spec auth.PrincipalSpec
	// Landing is the page opened after login.
	Landing string
}

// sessionTTL is the life of a development session token.
const sessionTTL = 8 * time.Hour

type loginView struct {
	Dev      bool
	Personas []personaView
}

type personaView struct {
	Key, Name, Role, Description string
}

// pageLogin shows the demo personas (development mode) or explains that
// signing in happens through the regional identity provider.
func (s *Server) pageLogin(c *echo.Context) error {
	l := web.Lang(c)
	lv := loginView{Dev: s.deps.Dev}
	for _, p := range s.deps.Demo {
		role := l.T("tac_role_" + string(p.Spec.Role))
		if p.Spec.PractitionerRole != "" {
			role = l.T("tac_prole_" + string(p.Spec.PractitionerRole))
		}
		lv.Personas = append(lv.Personas, personaView{Key: p.Key, Name: p.Spec.Name, Role: role,
			Description: l.T("tac_persona_" + p.Key)})
	}
	return s.render(c, http.StatusOK, "login", s.newView(c, "tac_login", lv))
}

// postLogin signs in as a demo persona (development mode only): it sets
// the session cookie to a development token for the persona.
func (s *Server) postLogin(c *echo.Context) error {
	key := c.FormValue("persona")
	for _, p := range s.deps.Demo {
		if p.Key != key {
			continue
		}
		tok, err := s.deps.DevIssuer.Issue(p.Spec, sessionTTL)
		if err != nil {
			return err
		}
		c.SetCookie(&http.Cookie{Name: web.SessionCookie, Value: tok, Path: "/", HttpOnly: true,
			Secure: s.secure(), SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL / time.Second)})
		web.RotateCSRF(c, s.csrf, tok)
		return seeOther(c, p.Landing)
	}
	return web.Invalid("persona", "unknown demo persona")
}

// postLogout ends the session on the server: the token that authenticated
// the request (the session cookie's) is refused from now on, on every
// replica and on every route, as a cookie and as a bearer token
// (taccuino/sessions); the cookie is cleared and the CSRF token rotated.
func (s *Server) postLogout(c *echo.Context) error {
	if p := web.Principal(c); p != nil {
		if err := s.deps.Sessions.End(c.Request().Context(), web.Token(c), p.Expiry); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: web.SessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.secure(), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	web.RotateCSRF(c, s.csrf, "")
	return seeOther(c, "/login")
}
