package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// HeaderRequestID is the header that carries the request id, in both
// directions.
const HeaderRequestID = "X-Request-Id"

const (
	requestIDKey = "web.request_id"
	loggerKey    = "web.logger"
)

// RequestID is middleware that gives every request an id: the incoming
// X-Request-Id when it is a safe token (1 to 64 characters of
// [A-Za-z0-9._-], as set by a proxy), else 16 random bytes in hex. The id
// is echoed in the response header, recorded in access-log entries (Actor)
// and carried by every log line of the request (Logger).
func RequestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			id := c.Request().Header.Get(HeaderRequestID)
			if !safeID(id) {
				id = newID()
			}
			c.Set(requestIDKey, id)
			c.Response().Header().Set(HeaderRequestID, id)
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), requestIDCtxKey{}, id)))
			return next(c)
		}
	}
}

func safeID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestIDOf returns the id RequestID gave the request ("" without it).
func RequestIDOf(c *echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// requestIDCtxKey keys the request id in the request's context.
type requestIDCtxKey struct{}

// RequestIDFromContext returns the id RequestID gave the request whose
// context ctx is (or derives from); "" outside a request. It lets code
// that only has a context (stores, slog handlers) name the request.
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDCtxKey{}).(string)
	return id
}

// RouteNote carries the route pattern of a request out of echo, for
// middleware that wraps the whole service as an http.Handler (the HTTP
// metrics of package telemetry): such middleware puts a RouteNote in the
// request's context with WithRouteNote, and RequestLogger fills it in
// after the response. Route is "" when the request never reached
// RequestLogger.
type RouteNote struct {
	Route string
}

type routeNoteKey struct{}

// WithRouteNote returns ctx carrying n, for RequestLogger to fill in.
func WithRouteNote(ctx context.Context, n *RouteNote) context.Context {
	return context.WithValue(ctx, routeNoteKey{}, n)
}

// Logger returns the request's logger: the one RequestLogger installed,
// which adds the request id to every line, or echo's logger.
func Logger(c *echo.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey).(*slog.Logger); ok {
		return l
	}
	return c.Logger()
}

// routeOf returns the route pattern of the request ("/api/v1/patients/:id"),
// never the raw path.
func routeOf(c *echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "(no route)"
}

// RequestLogger is middleware that logs one line per request at level
// Info ("request"), after the response: method, route pattern, status,
// duration in milliseconds, response bytes, request id and the caller
// (role and subject hash; see auth.Principal.LogValue). It hands errors to
// the echo error handler itself, so that the status logged is the one
// sent. Nothing that may hold personal data is logged: not the path, the
// query, headers, cookies or bodies.
func RequestLogger(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			start := time.Now()
			l := logger.With(slog.String("request_id", RequestIDOf(c)))
			c.Set(loggerKey, l)
			err := next(c)
			if err != nil {
				c.Echo().HTTPErrorHandler(c, err)
			}
			route := routeOf(c)
			if n, ok := c.Request().Context().Value(routeNoteKey{}).(*RouteNote); ok {
				n.Route = route
			}
			resp, status := echo.ResolveResponseStatus(c.Response(), nil)
			var size int64
			if resp != nil {
				size = resp.Size
			}
			attrs := []slog.Attr{
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes", size),
			}
			if p := Principal(c); p != nil {
				attrs = append(attrs, slog.Any("principal", p))
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			l.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		}
	}
}

// Recover is middleware that turns a panic into a 500 error, logging the
// panic value's type and the stack (never the value itself, which could
// hold data).
func Recover() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					Logger(c).Error("panic in handler", slog.String("route", routeOf(c)),
						slog.String("panic_type", fmt.Sprintf("%T", r)))
					err = NewError(http.StatusInternalServerError, CodeInternal,
						"internal error; the request id identifies it in the service log")
				}
			}()
			return next(c)
		}
	}
}

// SecurityOptions configure SecurityHeaders.
type SecurityOptions struct {
	// HSTS sends Strict-Transport-Security (set it when the service is
	// reached over HTTPS).
	HSTS bool
	// CSP overrides the default Content-Security-Policy.
	CSP string
}

// DefaultCSP allows the page's own styles, scripts and images (and data:
// images) and nothing else: no inline scripts, no framing, forms posting
// to the service only.
const DefaultCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// SecurityHeaders is middleware that sets the security headers of every
// response: Content-Security-Policy, X-Content-Type-Options nosniff,
// X-Frame-Options DENY, Referrer-Policy same-origin (URLs never leave the
// service, while same-origin form posts keep their Origin header for CSRF;
// with no-referrer browsers send "Origin: null"), Cross-Origin-Opener-Policy and -Resource-Policy same-origin,
// a Permissions-Policy denying device features, Cache-Control no-store
// (patient data must not be cached) unless a handler sets its own, and
// Strict-Transport-Security when opts.HSTS.
func SecurityHeaders(opts SecurityOptions) echo.MiddlewareFunc {
	csp := opts.CSP
	if csp == "" {
		csp = DefaultCSP
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
			h.Set("Cache-Control", "no-store")
			if opts.HSTS {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			return next(c)
		}
	}
}

// BodyLimit is middleware that refuses request bodies over n bytes with 413,
// by Content-Length before reading and while reading otherwise.
func BodyLimit(n int64) echo.MiddlewareFunc { return middleware.BodyLimit(n) }

// Timeout is middleware that bounds the request's context by d: database
// work still running at the deadline is cancelled and the request ends
// with 503.
func Timeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// RateLimit is middleware that allows each client IP (c.RealIP(): the
// peer address unless the echo instance has an IPExtractor for a trusted
// proxy) perMinute requests a minute with bursts of burst, and answers 429
// with Retry-After beyond. Use it on authentication-sensitive routes
// (login, credential submission, lookups by fiscal code). Idle clients
// are forgotten after ten minutes, lazily: no goroutine.
func RateLimit(perMinute float64, burst int) echo.MiddlewareFunc {
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: perMinute / 60, Burst: burst, ExpiresIn: 10 * time.Minute,
	})
	retry := strconv.Itoa(int(math.Ceil(60 / perMinute)))
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: store,
		IdentifierExtractor: func(c *echo.Context) (string, error) {
			return c.RealIP(), nil
		},
		DenyHandler: func(c *echo.Context, _ string, _ error) error {
			h := http.Header{}
			h.Set("Retry-After", retry)
			return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
				Message: "too many attempts; wait a moment and try again", Header: h}
		},
		ErrorHandler: func(c *echo.Context, err error) error {
			return NewError(http.StatusInternalServerError, CodeInternal, "rate limiter failure").Wrap(err)
		},
	})
}

// NoCache marks a response as cacheable by nobody (already the default of
// SecurityHeaders); helper for handlers that reset headers.
func NoCache(c *echo.Context) { c.Response().Header().Set("Cache-Control", "no-store") }
