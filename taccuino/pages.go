package taccuino

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/ui"
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
	for _, name := range []string{"login", "home", "patient", "error", "privacy", "confirm", "devmail", "vitals", "vitalsday", "population", "uploaders"} {
		files := append([]string{"templates/layout.html", "templates/" + name + ".html"}, partials[name]...)
		t, err := ui.Parse(template.New("layout.html").Funcs(template.FuncMap{
			"add": func(a, b int) int { return a + b },
		}))
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(assets, files...); err != nil {
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
		if f.Name() == "taccuino.css" {
			b = append(append(b, '\n'), ui.CSS()...)
		}
		p.static[f.Name()] = b
	}
	p.static["favicon.svg"] = ui.FaviconSVG()
	return p, nil
}

// view is what every page shows: the layout's data and the page's own.
type view struct {
	L      locale.Lang
	Title  string
	CSRF   string
	Chrome ui.Chrome
	Dev    bool
	Page   any
}

// newView fills the layout data for c; title is a catalogue key.
func (s *Server) newView(c *echo.Context, title string, page any) view {
	return s.newViewText(c, web.Lang(c).T(title), page)
}

// newViewText fills the layout data for c with a title already written.
// A page shown in answer to a form (a POST) offers its languages at its
// own address, path.
func (s *Server) newViewText(c *echo.Context, title string, page any, path ...string) view {
	l := web.Lang(c)
	o := ui.Options{Clinic: s.deps.Reports.Summaries != nil}
	if c.Request().Method == http.MethodGet {
		o.Query = c.Request().URL.Query()
		o.Query.Del("msg")
	} else {
		o.Path = "/taccuino"
	}
	if len(path) > 0 {
		o.Path = path[0]
	}
	return view{L: l, Title: title, CSRF: web.CSRFToken(c), Dev: s.deps.Dev, Page: page, Chrome: ui.ChromeOf(c, o)}
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

// favicon serves the icon browsers ask for at /favicon.ico.
func (s *Server) favicon(c *echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "image/x-icon", ui.FaviconICO())
}

// errorView is the page of an error that is not about a form (the forms
// show their errors next to their fields).
type errorView struct {
	Status  int
	Heading string
	Message string
	// Login offers the login page (401).
	Login bool
	// Back is a link back, BackText its text.
	Back, BackText string
	// RequestID identifies a failure of the service in its log.
	RequestID string
}

// errorPage renders e as a page (the web.HTMLErrorFunc of the service),
// in the person's language: the text of e's catalogue key when it has one,
// the reason of a refusal by the rules, or what the status means.
func (s *Server) errorPage(c *echo.Context, e *web.Error) error {
	l := web.Lang(c)
	ev := errorView{Status: e.Status, Message: e.Text(l), Back: "/taccuino", BackText: l.T("err_back_home")}
	def := func(heading, text string) {
		ev.Heading = l.T(heading)
		if ev.Message == "" {
			ev.Message = l.T(text)
		}
	}
	switch e.Status {
	case http.StatusUnauthorized:
		ev.Heading, ev.Message, ev.Login = l.T("tac_err_401"), l.T("tac_err_401_text"), true
	case http.StatusForbidden:
		var de *consent.DeniedError
		if ev.Message == "" && errors.As(e, &de) && locale.Has("err_403_"+string(de.Reason)) {
			ev.Message = l.T("err_403_" + string(de.Reason))
		}
		def("tac_err_403", "tac_err_403_text")
	case http.StatusNotFound:
		def("tac_err_404", "tac_err_404_text")
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		def("tac_err_invalid", "err_invalid")
	case http.StatusConflict:
		def("tac_err_invalid", "err_conflict")
	case http.StatusTooManyRequests:
		def("tac_err_429", "tac_err_429_text")
	case http.StatusRequestEntityTooLarge:
		def("tac_err_413", "tac_err_413_text")
	case http.StatusServiceUnavailable:
		ev.Heading, ev.Message = l.T("tac_err_500"), l.T("err_unavailable")
	default:
		ev.Heading, ev.Message = l.T("tac_err_500"), l.T("tac_err_500_text")
		ev.RequestID = web.RequestIDOf(c)
	}
	if id := c.Param(web.PatientParam); id != "" && e.Status != http.StatusForbidden && e.Status != http.StatusUnauthorized {
		ev.Back, ev.BackText = "/taccuino/p/"+strings.TrimSuffix(id, ".pdf"), l.T("tac_back")
	}
	if strings.HasPrefix(c.Request().URL.Path, "/clinic") && e.Status != http.StatusForbidden {
		ev.Back, ev.BackText = "/clinic", l.T("err_back_clinic")
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
