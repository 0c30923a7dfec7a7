// Package ui holds what every page of the service shares: the head
// (viewport, favicon), the header (the way home, the signed-in person, the
// language, "Esci") and its stylesheet, and the favicon. The taccuino's
// pages, the clinic list and the AGP report page (packages taccuino and
// reports) draw their header with it, so that a person finds the same
// controls on every page.
package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"sync"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

//go:embed chrome.html chrome.css favicon.svg favicon.ico
var assets embed.FS

// Parse adds the templates "ui-head" and "ui-header" (data: Chrome) to t.
func Parse(t *template.Template) (*template.Template, error) {
	t, err := t.ParseFS(assets, "chrome.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	return t, nil
}

// CSS returns the header's stylesheet, to be appended to a page's own.
func CSS() []byte { return mustRead("chrome.css") }

// FaviconICO and FaviconSVG return the favicon (a white drop on the FSE
// blue; the ICO holds a 32 × 32 PNG).
func FaviconICO() []byte { return mustRead("favicon.ico") }

// FaviconSVG returns the favicon as SVG.
func FaviconSVG() []byte { return mustRead("favicon.svg") }

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic("ui: embedded " + name + ": " + err.Error())
	}
	return b
}

// Link is a link of the header.
type Link struct {
	Href, Text string
	Current    bool
}

// Chrome is the data of the header.
type Chrome struct {
	L locale.Lang
	// Who is the signed-in person ("Mario Rossi · cittadino"), empty when
	// nobody is signed in.
	Who  string
	CSRF string
	// Links are the person's places: their home and, for clinicians, the
	// clinic list.
	Links []Link
	// LangIT and LangEN are the current page in each language.
	LangIT, LangEN string
}

// Options say what the header offers.
type Options struct {
	// Clinic adds the clinic list for clinicians (when it is served).
	Clinic bool
	// Path is the page's address for the language links, when it is not
	// the request's (a form posted to another address shows its page).
	Path string
	// Query is the current page's query to keep in the language links
	// (nil: none); its "lang" is replaced.
	Query url.Values
}

// ChromeOf fills the header for the request.
func ChromeOf(c *echo.Context, o Options) Chrome {
	l := web.Lang(c)
	ch := Chrome{L: l, CSRF: web.CSRFToken(c)}
	path := c.Request().URL.Path
	if o.Path != "" {
		path = o.Path
	}
	lang := func(to locale.Lang) string {
		q := url.Values{}
		for k, v := range o.Query {
			q[k] = v
		}
		q.Set("lang", string(to))
		return path + "?" + q.Encode()
	}
	ch.LangIT, ch.LangEN = lang(locale.IT), lang(locale.EN)
	p := web.Principal(c)
	if p == nil {
		return ch
	}
	ch.Who = WhoLabel(l, p)
	switch p.Role {
	case auth.RolePractitioner:
		ch.Links = append(ch.Links, Link{Href: "/taccuino", Text: l.T("tac_home_practitioner_title"), Current: path == "/taccuino"})
		if o.Clinic {
			ch.Links = append(ch.Links, Link{Href: "/clinic", Text: l.T("clinic_title"), Current: path == "/clinic"})
		}
	case auth.RoleCitizen:
		ch.Links = append(ch.Links, Link{Href: "/taccuino", Text: l.T("tac_home"), Current: path == "/taccuino"})
	}
	return ch
}

// WhoLabel describes a signed-in person: name (or client id) and role.
func WhoLabel(l locale.Lang, p *auth.Principal) string {
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

// parsed holds chrome.html parsed alone, for pages whose templates cannot
// include it (the AGP report page of package agpdoc).
var parsed = sync.OnceValues(func() (*template.Template, error) { return Parse(template.New("ui")) })

// Head returns the head elements ("ui-head") as HTML.
func Head() (template.HTML, error) { return exec("ui-head", nil) }

// Header returns the header ("ui-header") of ch as HTML.
func Header(ch Chrome) (template.HTML, error) { return exec("ui-header", ch) }

func exec(name string, data any) (template.HTML, error) {
	t, err := parsed()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("ui: %s: %w", name, err)
	}
	return template.HTML(b.String()), nil // html/template escaped every value
}

// FS returns the package's templates and files (the catalogue's test reads
// the templates).
func FS() fs.FS { return assets }
