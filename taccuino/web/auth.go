package web

import (
	"context"
	"errors"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"

	"github.com/labstack/echo/v5"
)

// SessionCookie is the name of the cookie in which the HTML pages keep the
// caller's token (set by the login page in development, or by the FSE
// portal's hand-off in production). It is HttpOnly, SameSite=Lax and Secure
// over HTTPS.
const SessionCookie = "fsecgm_session"

const (
	principalKey = "web.principal"
	authErrKey   = "web.auth_error"
	tokenKey     = "web.token"
)

// SessionChecker says whether the session of a token was ended on the
// server (package taccuino/sessions).
type SessionChecker interface {
	Ended(ctx context.Context, token string) (bool, error)
}

// AuthOptions configure Authenticate.
type AuthOptions struct {
	// Verifier checks the tokens. Required.
	Verifier *auth.Verifier
	// Cookie, when not empty, is a cookie name (SessionCookie) whose token is
	// used when the request has no Authorization header: for HTML pages
	// only, which are protected by CSRF. The JSON API leaves it empty.
	Cookie string
	// Sessions, when set, refuses a token whose session was ended (sign
	// out), with auth.ErrRevoked.
	Sessions SessionChecker
}

// Authenticate is middleware that verifies the caller's bearer token (the
// Authorization header, else the cookie of opts.Cookie), refuses one whose
// session was ended (opts.Sessions), and records the outcome for
// Principal and AuthError. It never refuses a request itself: handlers
// decide (RequireAuth, Deps.Patient), so that a refused attempt on a
// patient's record can be written to that patient's access log.
func Authenticate(opts AuthOptions) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			raw, err := auth.FromRequest(r)
			if errors.Is(err, auth.ErrMissing) && len(r.Header.Values("Authorization")) == 0 && opts.Cookie != "" {
				raw, err = auth.FromCookie(r, opts.Cookie)
			}
			if err == nil {
				var p *auth.Principal
				p, err = opts.Verifier.Verify(r.Context(), raw)
				if err == nil && opts.Sessions != nil {
					var ended bool
					if ended, err = opts.Sessions.Ended(r.Context(), raw); err == nil && ended {
						err = auth.ErrRevoked
					}
				}
				if err == nil {
					c.Set(principalKey, p)
					c.Set(tokenKey, raw)
					c.SetRequest(r.WithContext(auth.NewContext(r.Context(), p)))
					return next(c)
				}
			}
			c.Set(authErrKey, err)
			return next(c)
		}
	}
}

// Token returns the token that authenticated the request ("" without a
// principal), for signing out.
func Token(c *echo.Context) string {
	t, _ := c.Get(tokenKey).(string)
	return t
}

// Principal returns the verified caller, or nil when the request has no
// valid token.
func Principal(c *echo.Context) *auth.Principal {
	p, _ := c.Get(principalKey).(*auth.Principal)
	return p
}

// AuthError returns why the request has no principal: an error wrapping
// auth.ErrMissing when no token was sent, another auth error for a refused
// token; nil when Principal is set.
func AuthError(c *echo.Context) error {
	if Principal(c) != nil {
		return nil
	}
	if err, ok := c.Get(authErrKey).(error); ok && err != nil {
		return err
	}
	return auth.ErrMissing
}

// Actor returns the consent.Actor of the request: the principal's identity
// with the request id (the zero Actor, with the request id, when there is
// no principal), the client address (c.RealIP) and the route, which tell
// repeated refusals apart when they are counted on one entry.
func Actor(c *echo.Context) consent.Actor {
	a := consent.ActorFrom(Principal(c), RequestIDOf(c))
	a.Client, a.Route = c.RealIP(), c.Request().Method+" "+routeOf(c)
	return a
}

// RequireAuth is middleware that answers 401 (503 when the identity
// provider's keys cannot be fetched) to requests without a valid token.
// Routes about one patient use Deps.Patient instead, which also logs the
// refusal in the patient's access log.
func RequireAuth() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if Principal(c) == nil {
				return Unauthenticated(AuthError(c))
			}
			return next(c)
		}
	}
}
