package fhirapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// ScopeSubmit is the SMART scope a service needs to submit data
// ($submit-cgm-bundle, Observation create), matched with
// auth.Principal.HasScope ("system/Observation.*" or "system/*.cruds"
// grant it too).
const ScopeSubmit = "system/Observation.cu"

// ContentType is the media type of every answer.
const ContentType = "application/fhir+json; charset=utf-8"

// Limits of the API.
const (
	// DefaultMaxSubmissionBytes bounds a $submit-cgm-bundle body unless
	// Options say otherwise: 14 days of 1-minute readings as FHIR JSON
	// are about 28 MB.
	DefaultMaxSubmissionBytes = 32 << 20
	// MaxResourceBytes bounds the body of a single resource (Observation
	// create).
	MaxResourceBytes = 256 << 10
	// MaxCount is the largest page a search returns (_count above it is
	// lowered to it); DefaultCount is the page without _count.
	MaxCount     = 100
	DefaultCount = 20
)

// Options configure the API. The zero value is usable.
type Options struct {
	// MaxSubmissionBytes bounds a $submit-cgm-bundle body (default
	// DefaultMaxSubmissionBytes, at most fhir.MaxSubmissionBytes).
	MaxSubmissionBytes int64
	// Version is the software version written in the
	// CapabilityStatement ("dev" when empty).
	Version string
	// LookupPerMinute and LookupBurst limit Patient searches (lookups by
	// codice fiscale) per client when the Deps carry no web.Lookups (the
	// service passes its own, shared with the taccuino's lookups): see
	// web.LookupOptions for the defaults. A negative LookupPerMinute turns
	// the limits off (tests).
	LookupPerMinute float64
	LookupBurst     int
	// RequestTimeout bounds a request's work (default 30 seconds);
	// SubmitTimeout a submission's (default 2 minutes). The API applies
	// its own limits: the service's global body limit and timeout must
	// not apply to /fhir routes.
	RequestTimeout, SubmitTimeout time.Duration
}

// api holds what the handlers share.
type api struct {
	d    web.Deps
	rec  *records.Store
	base string // the FHIR base URL, without trailing slash
	opts Options
}

// Register adds the FHIR API's routes to g, a group at /fhir whose
// requests went through web.Authenticate (bearer tokens from the
// Authorization header only). The base URL of the API (fullUrls, links,
// identifier systems) is rec.Base(), which must be the external URL of g.
//
// The global body limit must not cut a submission short: the group's
// routes apply their own limits (Options.MaxSubmissionBytes for
// $submit-cgm-bundle, MaxResourceBytes for the rest) and answer 413 with an
// OperationOutcome.
func Register(g *echo.Group, d web.Deps, rec *records.Store, opts Options) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("fhirapi: %w", err)
	}
	if rec == nil {
		return errors.New("fhirapi: no records store")
	}
	if opts.MaxSubmissionBytes <= 0 {
		opts.MaxSubmissionBytes = DefaultMaxSubmissionBytes
	}
	opts.MaxSubmissionBytes = min(opts.MaxSubmissionBytes, fhir.MaxSubmissionBytes)
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.SubmitTimeout <= 0 {
		opts.SubmitTimeout = 2 * time.Minute
	}
	if d.Lookups == nil && opts.LookupPerMinute >= 0 {
		d.Lookups = web.NewLookups(web.LookupOptions{ClientPerMinute: opts.LookupPerMinute, ClientBurst: opts.LookupBurst, Now: d.Now})
	}
	a := &api{d: d, rec: rec, base: rec.Base(), opts: opts}
	g.Use(a.outcomes, a.negotiate)
	a.route(g, "/metadata", map[string]echo.HandlerFunc{http.MethodGet: a.metadata})
	a.route(g, "/Patient", map[string]echo.HandlerFunc{http.MethodGet: a.searchPatients})
	a.route(g, "/Patient/:id", map[string]echo.HandlerFunc{http.MethodGet: a.readPatient})
	a.route(g, "/Observation", map[string]echo.HandlerFunc{http.MethodGet: a.search("Observation"), http.MethodPost: a.createObservation})
	a.route(g, "/Observation/:id", map[string]echo.HandlerFunc{http.MethodGet: a.read("Observation")})
	a.route(g, "/DiagnosticReport", map[string]echo.HandlerFunc{http.MethodGet: a.search("DiagnosticReport")})
	a.route(g, "/DiagnosticReport/:id", map[string]echo.HandlerFunc{http.MethodGet: a.read("DiagnosticReport")})
	a.route(g, "/Device", nil)
	a.route(g, "/Device/:id", map[string]echo.HandlerFunc{http.MethodGet: a.read("Device")})
	a.route(g, "/CodeSystem", nil)
	a.route(g, "/CodeSystem/:id", map[string]echo.HandlerFunc{http.MethodGet: a.readCodeSystem})
	a.route(g, "/Measure", map[string]echo.HandlerFunc{http.MethodGet: a.searchMeasures})
	a.route(g, "/Measure/:id", map[string]echo.HandlerFunc{http.MethodGet: a.readMeasure})
	a.route(g, "/MeasureReport", map[string]echo.HandlerFunc{http.MethodGet: a.searchMeasureReports})
	a.route(g, "/$submit-cgm-bundle", map[string]echo.HandlerFunc{http.MethodPost: web.Timeout(opts.SubmitTimeout)(a.submit)})
	notFound := func(c *echo.Context) error {
		return fail(http.StatusNotFound, "not-found", "", "no such resource type or interaction on this server (see /fhir/metadata)")
	}
	g.RouteNotFound("", notFound)
	g.RouteNotFound("/*", notFound)
	return nil
}

// allMethods are the methods answered on every route: those a route does
// not implement get 405 with an OperationOutcome (the router's own 405
// would bypass the group's middleware).
var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// route registers the handlers of path, and 405 for the other methods.
func (a *api) route(g *echo.Group, path string, hs map[string]echo.HandlerFunc) {
	var allow []string
	for _, m := range allMethods {
		if _, ok := hs[m]; ok {
			allow = append(allow, m)
		}
	}
	notAllowed := func(c *echo.Context) error {
		c.Response().Header().Set("Allow", strings.Join(allow, ", "))
		return fail(http.StatusMethodNotAllowed, fhir.IssueNotSupported, "",
			c.Request().Method+" is not supported here (see /fhir/metadata)")
	}
	for _, m := range allMethods {
		h, ok := hs[m]
		if !ok {
			h = notAllowed
		} else if path != "/$submit-cgm-bundle" {
			h = web.Timeout(a.opts.RequestTimeout)(h)
		}
		g.Add(m, path, h)
	}
}

// outcomeError is an error answered with its status and OperationOutcome.
type outcomeError struct {
	status int
	oo     fhir.OperationOutcome
	header http.Header
}

// Error returns the status and the first issue's diagnostics.
func (e *outcomeError) Error() string {
	if len(e.oo.Issue) > 0 {
		return fmt.Sprintf("fhirapi: %d: %s", e.status, e.oo.Issue[0].Diagnostics)
	}
	return fmt.Sprintf("fhirapi: %d", e.status)
}

// fail returns an error answered with status and one issue (code an R4
// issue-type; expression may be empty).
func fail(status int, code, expression, diagnostics string) error {
	is := fhir.OperationOutcomeIssue{Severity: fhir.SeverityError, Code: code, Diagnostics: diagnostics}
	if expression != "" {
		is.Expression = []string{expression}
	}
	return &outcomeError{status: status, oo: fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{is}}}
}

// badParam returns the 400 of a bad search parameter.
func badParam(name, diagnostics string) error {
	return fail(http.StatusBadRequest, fhir.IssueInvalid, name, name+": "+diagnostics)
}

// issueCode returns the R4 issue-type code of an HTTP status.
func issueCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "login"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		return fhir.IssueNotSupported
	case http.StatusConflict, http.StatusPreconditionFailed:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return fhir.IssueTooCostly
	case http.StatusUnprocessableEntity:
		return "business-rule"
	case http.StatusTooManyRequests:
		return "throttled"
	case http.StatusServiceUnavailable:
		return "transient"
	case http.StatusGatewayTimeout:
		return "timeout"
	}
	if status >= 500 {
		return "exception"
	}
	return fhir.IssueInvalid
}

// outcomeOf maps any error to its status, OperationOutcome and headers:
// the API's own errors as they are, everything else through web.AsError
// (consent denials 403, auth errors 401 with WWW-Authenticate, body limit
// 413, ...).
func outcomeOf(err error) (*outcomeError, *web.Error) {
	var oe *outcomeError
	if errors.As(err, &oe) {
		return oe, nil
	}
	we := web.AsError(err)
	is := fhir.OperationOutcomeIssue{Severity: fhir.SeverityError, Code: issueCode(we.Status), Diagnostics: we.Message}
	if we.Field != "" {
		is.Expression = []string{we.Field}
	}
	return &outcomeError{status: we.Status, oo: fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{is}}, header: we.Header}, we
}

// outcomes is the group's middleware that answers every error of its
// handlers with an OperationOutcome (5xx are logged with the request id,
// as web.ErrorHandler does for the JSON API).
func (a *api) outcomes(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		err := next(c)
		if err == nil {
			return nil
		}
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
			return nil
		}
		oe, we := outcomeOf(err)
		if oe.status >= 500 {
			cause := err.Error()
			if we != nil && we.Unwrap() != nil {
				cause = we.Unwrap().Error()
			}
			web.Logger(c).LogAttrs(c.Request().Context(), slog.LevelError, "fhir request failed",
				slog.String("route", c.Path()), slog.Int("status", oe.status), slog.String("err", cause))
		}
		for k, vs := range oe.header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if c.Request().Method == http.MethodHead {
			return c.NoContent(oe.status)
		}
		return writeResource(c, oe.status, oe.oo)
	}
}

// negotiate refuses requests that accept no JSON (406) or ask for another
// _format.
func (a *api) negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if f := c.QueryParams()["_format"]; len(f) > 0 {
			switch f[0] {
			case "json", "application/json", "application/fhir+json":
			default:
				return fail(http.StatusNotAcceptable, fhir.IssueNotSupported, "_format", "_format: only json is supported")
			}
		} else if acc := c.Request().Header.Get("Accept"); acc != "" && !acceptsJSON(acc) {
			return fail(http.StatusNotAcceptable, fhir.IssueNotSupported, "", "only application/fhir+json (or application/json) is served")
		}
		return next(c)
	}
}

// acceptsJSON reports whether an Accept header allows FHIR JSON.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q := params["q"]; q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
			continue
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/*", "*/*", "application/json+fhir":
			return true
		}
	}
	return false
}

// writeResource writes v (a resource) as FHIR JSON with status.
func writeResource(c *echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fhirapi: encode: %w", err)
	}
	return writeJSON(c, status, b)
}

// writeJSON writes FHIR JSON bytes with status.
func writeJSON(c *echo.Context, status int, b []byte) error {
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set("Content-Type", ContentType)
		return c.NoContent(status)
	}
	return c.Blob(status, ContentType, b)
}
