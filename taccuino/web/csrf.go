package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v5"
)

// CSRF names.
const (
	// CSRFCookie holds the double-submit token (SameSite=Strict, HttpOnly).
	CSRFCookie = "fsecgm_csrf"
	// CSRFField is the form field in which pages repeat the token.
	CSRFField = "csrf_token"
	// CSRFHeader is the header in which scripts repeat the token.
	CSRFHeader = "X-CSRF-Token"
)

const csrfKey = "web.csrf"

// CSRFOptions configure CSRF.
type CSRFOptions struct {
	// Origin is the service's own origin (scheme://host[:port]); empty
	// means the origin of the request's own Host (scheme from TLS or
	// X-Forwarded-Proto is not trusted: only the host is compared then).
	Origin string
	// Secure marks the cookie Secure (HTTPS deployments).
	Secure bool
}

// CSRF is middleware protecting HTML forms against cross-site request
// forgery (OWASP CSRF Prevention Cheat Sheet: double-submit cookie, plus
// origin verification). Every request gets a token (a random value kept in
// the CSRFCookie cookie, reused while it lasts) that pages put in their
// forms with CSRFToken. Unsafe requests (anything but GET, HEAD, OPTIONS)
// are refused with 403 unless the form field CSRFField (or the header
// CSRFHeader) equals the cookie, and, when the browser sends an Origin
// header (or, without it, a Referer), that origin is the service's own.
func CSRF(opts CSRFOptions) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			token := ""
			if ck, err := r.Cookie(CSRFCookie); err == nil && safeID(ck.Value) && len(ck.Value) == 32 {
				token = ck.Value
			}
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				if !sameOrigin(r, opts.Origin) {
					return csrfError("the form was not sent by this site")
				}
				sent := r.Header.Get(CSRFHeader)
				if sent == "" {
					sent = c.FormValue(CSRFField)
				}
				if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sent)) != 1 {
					return csrfError("the form has expired or was not sent by this site; reload the page and try again")
				}
			}
			if token == "" {
				token = newID()
				c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: token, Path: "/", HttpOnly: true,
					Secure: opts.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
			}
			c.Set(csrfKey, token)
			return next(c)
		}
	}
}

func csrfError(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
}

// sameOrigin checks the Origin (else Referer) header against origin (else
// the request's Host). A request with neither header passes this check
// (old browsers, privacy settings) and relies on the token.
func sameOrigin(r *http.Request, origin string) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return src == ""
		}
		src = ref
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return false
	}
	if origin != "" {
		return strings.EqualFold(u.Scheme+"://"+u.Host, origin)
	}
	return strings.EqualFold(u.Host, r.Host)
}

// CSRFToken returns the request's CSRF token for forms ("" without CSRF).
func CSRFToken(c *echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	return t
}
