package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v5"
)

// CSRF names.
const (
	// CSRFCookie holds the double-submit token: a __Host- cookie (RFC 6265bis
	// §4.1.3.2: Secure, Path=/, no Domain, so that no other host, subdomain
	// or plain-http page can set or overwrite it), HttpOnly, SameSite=Strict.
	CSRFCookie = "__Host-fsecgm_csrf"
	// CSRFFallbackCookie is the name used instead where a browser refuses
	// Secure cookies: a page served over plain http to a host that is not
	// the loopback (the demo opened from a phone at http://192.0.2.2:8080).
	// Chromium keeps Secure, and so __Host-, cookies from http://localhost
	// and http://127.0.0.1 and refuses them from other plain-http hosts
	// (TestCSRFCookieChromium), as Go's cookie jar does. It is never read
	// by a service reached over HTTPS.
	CSRFFallbackCookie = "fsecgm_csrf"
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
	// Secure says the service is reached over HTTPS: the cookie is always
	// CSRFCookie. Otherwise it is CSRFCookie for a loopback host and
	// CSRFFallbackCookie for another.
	Secure bool
	// SessionCookie is the cookie holding the session's token
	// (SessionCookie), to which tokens are bound.
	SessionCookie string
}

// CSRF is middleware protecting HTML forms against cross-site request
// forgery with the OWASP CSRF Prevention Cheat Sheet's signed
// double-submit cookie, bound to the session, and origin verification.
//
// Every request gets a token that pages put in their forms (CSRFToken): a
// random nonce and an HMAC of it keyed by the session (the SHA-256 of the
// session cookie's value; no session is a session too, the anonymous
// one), kept in the CSRFCookie cookie and reused while it is bound to the
// current session. A token of another session (before sign-in, after
// sign-out, another user's) is replaced, so signing in or out rotates it
// (RotateCSRF does so at once). Unsafe requests (anything but GET, HEAD,
// OPTIONS) are refused with 403 unless the form field CSRFField (or the
// header CSRFHeader) equals the cookie, the cookie is bound to the
// request's session, and, when the browser sends an Origin header (or,
// without it, a Referer), that origin is the service's own.
func CSRF(opts CSRFOptions) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := c.Request()
			name, secure := csrfCookieName(r, opts.Secure)
			session := ""
			if opts.SessionCookie != "" {
				if ck, err := r.Cookie(opts.SessionCookie); err == nil {
					session = ck.Value
				}
			}
			token := ""
			if ck, err := r.Cookie(name); err == nil && csrfBound(ck.Value, session) {
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
				token = setCSRFCookie(c, name, secure, session)
			}
			c.Set(csrfKey, token)
			return next(c)
		}
	}
}

// RotateCSRF gives the response a new CSRF token bound to session (the new
// session cookie's value; "" after sign-out) and returns it. The sign-in
// and sign-out handlers call it, so that no token of the previous session
// is accepted afterwards.
func RotateCSRF(c *echo.Context, opts CSRFOptions, session string) string {
	name, secure := csrfCookieName(c.Request(), opts.Secure)
	t := setCSRFCookie(c, name, secure, session)
	c.Set(csrfKey, t)
	return t
}

func setCSRFCookie(c *echo.Context, name string, secure bool, session string) string {
	token := NewCSRFToken(session)
	c.SetCookie(&http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
	return token
}

// csrfCookieName returns the CSRF cookie's name for r and whether it is
// Secure: CSRFCookie over HTTPS and on a loopback host, else the
// fallback.
func csrfCookieName(r *http.Request, https bool) (string, bool) {
	if https || loopbackHost(r.Host) {
		return CSRFCookie, true
	}
	return CSRFFallbackCookie, false
}

// loopbackHost reports whether a Host header names the loopback:
// localhost (or a name under .localhost), 127.0.0.0/8 or ::1.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// csrfNonce is the length of a token's random part, and csrfMAC of its
// HMAC, in bytes (hex doubles both).
const (
	csrfNonce = 16
	csrfMAC   = 16
)

// NewCSRFToken returns a new token bound to session: a random nonce and
// the first 16 bytes of HMAC-SHA256(key = SHA-256 of the session, nonce),
// in hex (64 characters).
func NewCSRFToken(session string) string {
	var nonce [csrfNonce]byte
	_, _ = rand.Read(nonce[:])
	return hex.EncodeToString(nonce[:]) + hex.EncodeToString(csrfSign(nonce[:], session))
}

func csrfSign(nonce []byte, session string) []byte {
	key := sha256.Sum256([]byte("fsecgm csrf\x00" + session))
	m := hmac.New(sha256.New, key[:])
	m.Write(nonce)
	return m.Sum(nil)[:csrfMAC]
}

// csrfBound reports whether token is well-formed and bound to session.
func csrfBound(token, session string) bool {
	if len(token) != 2*(csrfNonce+csrfMAC) {
		return false
	}
	b, err := hex.DecodeString(token)
	if err != nil {
		return false
	}
	return hmac.Equal(b[csrfNonce:], csrfSign(b[:csrfNonce], session))
}

func csrfError(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg, Key: "err_csrf"}
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
