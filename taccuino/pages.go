package taccuino

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pages holds the parsed page templates.
type pages struct {
	t      map[string]*template.Template
	static map[string][]byte
}

func newPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}, static: map[string][]byte{}}
	// Each page of templates/ is rendered inside layout.html.
	// Partials some pages include, each in a file of its own.
	partials := map[string][]string{"patient": {"templates/notifications.html"}}
	for _, name := range []string{"login", "home", "patient", "import", "error", "privacy", "confirm", "devmail"} {
		files := append([]string{"templates/layout.html", "templates/" + name + ".html"}, partials[name]...)
		t, err := template.New("layout.html").Funcs(template.FuncMap{
			"add": func(a, b int) int { return a + b },
		}).ParseFS(assets, files...)
		if err != nil {
			return nil, fmt.Errorf("taccuino: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	files, err := fs.ReadDir(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("taccuino: static files: %w", err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(assets, "static/"+f.Name())
		if err != nil {
			return nil, fmt.Errorf("taccuino: static file %s: %w", f.Name(), err)
		}
		p.static[f.Name()] = b
	}
	return p, nil
}

// view is what every page shows: the layout's data and the page's own.
type view struct {
	L     locale.Lang
	Title string
	CSRF  string
	// Who is the caller's display line ("Mario Rossi · cittadino"); empty
	// when not signed in.
	Who string
	// Path is the current path (for the language links).
	Path string
	Dev  bool
	Page any
}

// newView fills the layout data for c.
func (s *Server) newView(c *echo.Context, title string, page any) view {
	l := web.Lang(c)
	v := view{L: l, Title: l.T(title), CSRF: web.CSRFToken(c), Path: c.Request().URL.Path, Dev: s.deps.Dev, Page: page}
	if p := web.Principal(c); p != nil {
		v.Who = whoLabel(l, p)
	}
	return v
}

// whoLabel describes a signed-in caller: name (or client id) and role.
func whoLabel(l locale.Lang, p *auth.Principal) string {
	name := p.Name
	if name == "" {
		name = p.ClientID
	}
	role := l.T("tac_role_" + string(p.Role))
	if p.PractitionerRole != "" {
		role = l.T("tac_prole_" + string(p.PractitionerRole))
	}
	if name == "" {
		return role
	}
	return name + " · " + role
}

// render writes page name with status.
func (s *Server) render(c *echo.Context, status int, name string, v view) error {
	var b bytes.Buffer
	if err := s.ui.t[name].ExecuteTemplate(&b, "layout.html", v); err != nil {
		return fmt.Errorf("taccuino: render %s: %w", name, err)
	}
	c.Response().Header().Set("Content-Language", string(v.L))
	return c.HTMLBlob(status, b.Bytes())
}

// static serves the embedded stylesheet and icons.
func (s *Server) static(c *echo.Context) error {
	name := c.Param("file")
	b, ok := s.ui.static[name]
	if !ok {
		return web.NotFound("no such file")
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, ct, b)
}

// errorView is the page of an error.
type errorView struct {
	Status  int
	Heading string
	Message string
	// Login offers the login page (401).
	Login bool
	// Back is a link back, when known.
	Back string
}

// errorPage renders e as a page (the web.HTMLErrorFunc of the service).
func (s *Server) errorPage(c *echo.Context, e *web.Error) error {
	l := web.Lang(c)
	ev := errorView{Status: e.Status, Message: e.Message}
	switch e.Status {
	case http.StatusUnauthorized:
		ev.Heading, ev.Message, ev.Login = l.T("tac_err_401"), l.T("tac_err_401_text"), true
	case http.StatusForbidden:
		ev.Heading = l.T("tac_err_403")
		if e.Message == web.Forbidden().Message {
			ev.Message = l.T("tac_err_403_text")
		}
	case http.StatusNotFound:
		ev.Heading, ev.Message = l.T("tac_err_404"), l.T("tac_err_404_text")
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		ev.Heading = l.T("tac_err_invalid")
	case http.StatusTooManyRequests:
		ev.Heading, ev.Message = l.T("tac_err_429"), l.T("tac_err_429_text")
	case http.StatusRequestEntityTooLarge:
		ev.Heading, ev.Message = l.T("tac_err_413"), l.T("tac_err_413_text")
	default:
		ev.Heading, ev.Message = l.T("tac_err_500"), l.T("tac_err_500_text")
	}
	if id := c.Param(web.PatientParam); id != "" && e.Status == http.StatusUnprocessableEntity {
		ev.Back = "/taccuino/p/" + id
	}
	return s.render(c, e.Status, "error", s.newView(c, "tac_error", ev))
}

// seeOther redirects after a form post.
func seeOther(c *echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}

// patientURL is the page of a patient, with an optional message key and
// anchor.
func patientURL(id, msg, anchor string) string {
	u := "/taccuino/p/" + id
	if msg != "" {
		u += "?msg=" + msg
	}
	if anchor != "" {
		u += "#" + anchor
	}
	return u
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
