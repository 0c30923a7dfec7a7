package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v5"
)

// Error codes of the JSON error body, one per kind of failure.
const (
	CodeBadRequest       = "bad_request"            // 400: malformed request (syntax, parameters)
	CodeUnauthenticated  = "unauthenticated"        // 401: no valid bearer token or session
	CodeForbidden        = "forbidden"              // 403: refused by the rules (or unknown patient id)
	CodeNotFound         = "not_found"              // 404
	CodeMethodNotAllowed = "method_not_allowed"     // 405
	CodeConflict         = "conflict"               // 409
	CodeTooLarge         = "payload_too_large"      // 413
	CodeUnsupportedType  = "unsupported_media_type" // 415
	CodeInvalid          = "invalid"                // 422: well-formed but unacceptable (see Field)
	CodeRateLimited      = "rate_limited"           // 429
	CodeInternal         = "internal"               // 500
	CodeUnavailable      = "unavailable"            // 503: database or identity provider down, timeout
)

// Error is an HTTP error with the body {"error": {"code", "message",
// "field", "details"}}. Message is shown to the caller, so it must not hold
// anything the caller may not see; Field names the offending parameter or
// JSON member (a JSON pointer such as "/expires_at" for bodies); Details is
// an optional list (e.g. the rejected lines of an import).
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	Details any
	// Key is the catalogue key (package locale) of what a page tells the
	// person, in their language, and Args its values (Say); the JSON body
	// keeps Message. Without a Key a page says what the status means.
	Key  string
	Args []any
	// Header holds extra response headers (WWW-Authenticate, Retry-After).
	Header http.Header
	err    error
}

// NewError returns an Error with the given status, code and message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Invalid returns a 422 error naming field.
func Invalid(field, message string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Message: message, Field: field}
}

// BadRequest returns a 400 error naming field (may be empty).
func BadRequest(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: message, Field: field}
}

// Forbidden returns the one 403 error of the service: the same body for a
// refusal by the rules and for an unknown patient (see the package
// documentation).
func Forbidden() *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
		Message: "access to this record is not allowed"}
}

// NotFound returns a 404 error.
func NotFound(message string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: message}
}

// Say sets the catalogue key and values of what a page shows for e, and
// returns e.
func (e *Error) Say(key string, args ...any) *Error { e.Key, e.Args = key, args; return e }

// Text returns what a page shows for e in l: the text of its Key, or ""
// when it has none.
func (e *Error) Text(l locale.Lang) string {
	if e.Key == "" {
		return ""
	}
	return l.F(e.Key, e.Args...)
}

// Wrap records cause in e (for errors.Is and the server log of 5xx errors)
// and returns e.
func (e *Error) Wrap(cause error) *Error { e.err = cause; return e }

// Error returns "<status> <code>: <message>".
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the cause given to Wrap.
func (e *Error) Unwrap() error { return e.err }

// StatusCode implements echo.HTTPStatusCoder.
func (e *Error) StatusCode() int { return e.Status }

// MarshalJSON writes the error body.
func (e *Error) MarshalJSON() ([]byte, error) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		Details any    `json:"details,omitempty"`
	}
	return json.Marshal(struct {
		Error body `json:"error"`
	}{body{e.Code, e.Message, e.Field, e.Details}})
}

// AsError maps any error to an *Error:
//
//   - an *Error (possibly wrapped) as it is;
//   - consent.ErrDenied: 403 Forbidden();
//   - consent.ErrNotFound, cgmstore.ErrNotFound: 404;
//   - consent.ErrInvalid, cgmstore.ErrInvalid: 422 with the error's
//     message (those messages name arguments, never stored values);
//   - cgmstore.ErrConflict: 409;
//   - auth errors: 401 with WWW-Authenticate (503 for ErrKeySetUnavailable);
//   - context deadline: 503; echo's status errors (404 route, 405, 413 body
//     limit, 415): their status;
//   - anything else: 500 with a generic message.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, consent.ErrDenied):
		return Forbidden().Wrap(err)
	case errors.Is(err, consent.ErrNotFound), errors.Is(err, cgmstore.ErrNotFound):
		return NotFound("not found").Wrap(err)
	case errors.Is(err, consent.ErrInvalid), errors.Is(err, cgmstore.ErrInvalid):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Message: err.Error(), err: err}
	case errors.Is(err, cgmstore.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the change conflicts with stored data", err: err}
	case errors.Is(err, auth.ErrKeySetUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the identity provider cannot be reached; try again later", err: err}
	case isAuthError(err):
		return Unauthenticated(err)
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the request took too long; try again later", err: err}
	case DatabaseUnavailable(err):
		h := http.Header{}
		h.Set("Retry-After", "5")
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the service cannot reach its database; try again later", Header: h, err: err}
	}
	switch status := echo.StatusCode(err); status {
	case 0:
	case http.StatusNotFound:
		return &Error{Status: status, Code: CodeNotFound, Message: "no such resource", err: err}
	case http.StatusMethodNotAllowed:
		return &Error{Status: status, Code: CodeMethodNotAllowed, Message: "method not allowed on this resource", err: err}
	case http.StatusRequestEntityTooLarge:
		return &Error{Status: status, Code: CodeTooLarge, Message: "the request body is too large", err: err}
	case http.StatusUnsupportedMediaType:
		return &Error{Status: status, Code: CodeUnsupportedType, Message: "unsupported content type", err: err}
	case http.StatusTooManyRequests:
		return &Error{Status: status, Code: CodeRateLimited, Message: "too many requests; slow down", err: err}
	case http.StatusUnauthorized:
		return Unauthenticated(err)
	case http.StatusForbidden:
		return Forbidden().Wrap(err)
	case http.StatusServiceUnavailable:
		return &Error{Status: status, Code: CodeUnavailable, Message: "service unavailable", err: err}
	default:
		if status >= 400 && status < 500 {
			return &Error{Status: status, Code: CodeBadRequest, Message: http.StatusText(status), err: err}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "internal error; the request id identifies it in the service log", err: err}
}

// DatabaseUnavailable reports whether err says that the database cannot be
// reached: a connection that could not be made (server down, refused,
// socket missing), one the server ended (SQLSTATE classes 08 and 57P: shut
// down, crashed, starting up), a connection lost in the middle of a
// query, or a closed pool. The stores flatten server errors into text
// ("postgres: ... (SQLSTATE 57P01)"), which is recognised too. AsError
// answers these 503 with Retry-After, at once, instead of 500.
func DatabaseUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	var ne *net.OpError
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"(SQLSTATE 08", "(SQLSTATE 57P", "closed pool", "conn closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isAuthError reports whether err is a token verification failure.
func isAuthError(err error) bool {
	for _, k := range []error{auth.ErrMissing, auth.ErrMalformed, auth.ErrExpired, auth.ErrNotYetValid,
		auth.ErrBadSignature, auth.ErrWrongIssuer, auth.ErrWrongAudience, auth.ErrAlgorithm, auth.ErrClaims, auth.ErrRevoked} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// Realm is the realm of WWW-Authenticate headers.
const Realm = "fsecgm"

// Unauthenticated returns the 401 error for the verification failure err
// (nil or auth.ErrMissing: no credentials), with its WWW-Authenticate
// header (RFC 6750 §3).
func Unauthenticated(err error) *Error {
	msg := "a valid bearer token is required"
	if err != nil && !errors.Is(err, auth.ErrMissing) {
		msg = "the bearer token was refused"
	}
	if errors.Is(err, auth.ErrKeySetUnavailable) || err != nil && !errors.Is(err, auth.ErrMissing) && !isAuthError(err) {
		// Not the caller's token: the identity provider's keys or the
		// sessions' database could not be read (503), or a fault (500).
		return AsError(err)
	}
	h := http.Header{}
	h.Set("WWW-Authenticate", auth.WWWAuthenticate(Realm, err))
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: msg, Header: h, err: err}
}

// HTMLErrorFunc renders an error page for a request marked as an HTML page
// (see MarkHTML). It returns an error only when it could not write.
type HTMLErrorFunc func(c *echo.Context, e *Error) error

// ErrorHandler returns the echo error handler of the service: it maps err
// with AsError, logs 5xx errors (message and cause, which never hold
// patient data: store and consent errors name ids and constraints only)
// with the request id, and writes the JSON body, or calls html for a
// request marked by MarkHTML (when html is not nil).
func ErrorHandler(logger *slog.Logger, html HTMLErrorFunc) echo.HTTPErrorHandler {
	return func(c *echo.Context, err error) {
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
			return
		}
		e := AsError(err)
		if e.Status >= 500 {
			Logger(c).LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
				slog.String("route", routeOf(c)), slog.Int("status", e.Status), slog.String("err", errText(e)))
		}
		for k, vs := range e.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if html != nil && IsHTML(c) {
			if werr := html(c, e); werr == nil {
				return
			}
		}
		var werr error
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(e.Status)
		} else {
			werr = c.JSON(e.Status, e)
		}
		if werr != nil {
			Logger(c).Debug("could not write the error response", slog.String("err", werr.Error()))
		}
	}
}

// errText returns the message and cause of e for the server log.
func errText(e *Error) string {
	if e.err != nil {
		return e.err.Error()
	}
	return e.Message
}

// WriteError writes err as the handler's response (mapped with AsError)
// and returns nil, for handlers that answer an error themselves.
func WriteError(c *echo.Context, err error) error {
	e := AsError(err)
	for k, vs := range e.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	return c.JSON(e.Status, e)
}

const htmlKey = "web.html"

// MarkHTML is middleware that marks the requests of a group as HTML pages,
// so that ErrorHandler renders their errors as pages.
func MarkHTML() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.Set(htmlKey, true)
			return next(c)
		}
	}
}

// IsHTML reports whether MarkHTML marked the request.
func IsHTML(c *echo.Context) bool {
	v, _ := c.Get(htmlKey).(bool)
	return v
}
