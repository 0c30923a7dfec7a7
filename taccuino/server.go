package taccuino

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/notify/mailtest"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// Limits of the service.
const (
	// MaxBodyBytes bounds every request body but CSV uploads.
	MaxBodyBytes = web.MaxJSONBytes
	// MaxUploadBytes bounds a CSV upload (a LibreView export of a year of
	// 15-minute readings is about 3 MB).
	MaxUploadBytes = 16 << 20
	// RequestTimeout bounds the work of one request.
	RequestTimeout = 30 * time.Second
	// UploadTimeout bounds the work of one CSV upload.
	UploadTimeout = 2 * time.Minute
)

// Deps are what New needs. The embedded web.Deps are handed on to the FHIR
// API and the reports.
type Deps struct {
	web.Deps
	// Verifier checks bearer tokens: the regional identity provider's in
	// production, the development issuer's in development mode.
	Verifier *auth.Verifier
	// DevIssuer signs the tokens of the demo login page; set only in
	// development mode (Dev), where it is required.
	DevIssuer *auth.DevIssuer
	// Sessions records sign-outs and refuses the tokens of ended sessions
	// on every route (taccuino/sessions). Required: run its Run beside
	// the service, so that its checks are answered from memory.
	Sessions *sessions.Store
	// Sync manages the LibreLinkUp connections (connectors/connsync); nil
	// makes the connection routes answer 503.
	Sync *connsync.Syncer
	// Records is the FHIR resource store and outbox (taccuino/records);
	// nil leaves the FHIR API out.
	Records *records.Store
	// Notify sets and confirms the patients' notification addresses and
	// sends the confirmation e-mails (taccuino/notify); nil makes the
	// notification routes answer 503.
	Notify *notify.Service
	// DevMail is the in-process SMTP receiver of development mode, whose
	// messages /dev/mail shows; set only in development mode.
	DevMail interface{ Messages() []mailtest.Message }
	// Reports configures the AGP reports and the clinic view
	// (taccuino/reports); without Reports.Summaries they are left out.
	Reports reports.Options
	// Version is the service's version, shown in the FHIR
	// CapabilityStatement.
	Version string
	// Demo lists the personas of the demo login page (development mode).
	Demo []Persona
	// SensitiveRate and SensitiveBurst rate-limit the authentication-
	// sensitive routes (login, sensor credentials), per client IP:
	// requests per minute and burst; zero means 20 a minute, bursts of 10.
	// Lookups by fiscal code and the care relationships routes are under
	// Deps.Lookups (defaults of web.NewLookups when nil), which the FHIR
	// API shares.
	SensitiveRate  float64
	SensitiveBurst int
	// TrustProxy makes the client IP (rate limits) the first untrusted
	// address of X-Forwarded-For, for a service behind a reverse proxy on
	// a private network; otherwise the peer address is used.
	TrustProxy bool
}

// Server is the HTTP service. It is an http.Handler.
type Server struct {
	deps Deps
	e    *echo.Echo
	ui   *pages
	csrf web.CSRFOptions
}

// New builds the service: the echo instance with its middleware and all
// routes.
func New(d Deps) (*Server, error) {
	if err := d.Deps.Validate(); err != nil {
		return nil, err
	}
	if d.Verifier == nil {
		return nil, errors.New("taccuino: deps: missing Verifier")
	}
	if d.Sessions == nil {
		return nil, errors.New("taccuino: deps: missing Sessions")
	}
	if d.Dev && d.DevIssuer == nil {
		return nil, errors.New("taccuino: deps: development mode needs the DevIssuer")
	}
	if !d.Dev && (d.DevIssuer != nil || len(d.Demo) > 0 || d.DevMail != nil) {
		return nil, errors.New("taccuino: deps: the development issuer, demo personas and mailbox are for development mode only")
	}
	ui, err := newPages()
	if err != nil {
		return nil, err
	}
	if d.Lookups == nil {
		d.Lookups = web.NewLookups(web.LookupOptions{Now: d.Now})
	}
	s := &Server{deps: d, ui: ui}
	e := echo.New()
	e.Logger = d.Logger
	if d.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.HTTPErrorHandler = web.ErrorHandler(d.Logger, s.errorPage)
	s.e = e
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Routes returns the registered routes (method and path pattern, echo
// syntax: "/api/v1/patients/:id").
func (s *Server) Routes() []echo.RouteInfo {
	return s.e.Router().Routes()
}

// secure reports whether the service is reached over HTTPS.
func (s *Server) secure() bool { return strings.HasPrefix(s.deps.BaseURL, "https://") }
