package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// FromRequest returns the bearer token of r's Authorization header
// (RFC 6750 §2.1; the scheme is case-insensitive). It returns an error
// wrapping ErrMissing when there is no bearer token and ErrMalformed when
// the header is repeated or the token has characters outside b64token.
func FromRequest(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrMissing
	case 1:
	default:
		return "", fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization header does not use the Bearer scheme", ErrMissing)
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", fmt.Errorf("%w: empty Bearer credentials", ErrMissing)
	}
	if !isB64Token(tok) {
		return "", fmt.Errorf("%w: Bearer credentials have characters outside b64token (RFC 6750 §2.1)", ErrMalformed)
	}
	return tok, nil
}

// FromCookie returns the token held in the cookie name of r, for the
// server-rendered pages that keep the token in a session cookie. It returns
// an error wrapping ErrMissing when the cookie is absent or empty.
func FromCookie(r *http.Request, name string) (string, error) {
	c, err := r.Cookie(name)
	if errors.Is(err, http.ErrNoCookie) || err == nil && c.Value == "" {
		return "", fmt.Errorf("%w: no %s cookie", ErrMissing, name)
	}
	if err != nil {
		return "", fmt.Errorf("%w: cookie %s: %w", ErrMalformed, name, err)
	}
	if !isB64Token(c.Value) {
		return "", fmt.Errorf("%w: cookie %s does not hold a token", ErrMalformed, name)
	}
	return c.Value, nil
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// StatusCode returns the HTTP status for a verification error: 503 when
// the issuer's key set is unavailable, 401 otherwise.
func StatusCode(err error) int {
	if errors.Is(err, ErrKeySetUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// WWWAuthenticate returns the WWW-Authenticate header value for a 401 caused
// by err (RFC 6750 §3): no error code when no token was sent, and
// error="invalid_token" with a fixed description otherwise.
func WWWAuthenticate(realm string, err error) string {
	h := fmt.Sprintf("Bearer realm=%q", realm)
	if err == nil || errors.Is(err, ErrMissing) {
		return h
	}
	desc := "the access token is invalid"
	for _, k := range []struct {
		err  error
		desc string
	}{
		{ErrExpired, "the access token expired"},
		{ErrNotYetValid, "the access token is not yet valid"},
		{ErrWrongAudience, "the access token is for another audience"},
		{ErrWrongIssuer, "the access token is from another issuer"},
		{ErrRevoked, "the session of the access token was ended"},
	} {
		if errors.Is(err, k.err) {
			desc = k.desc
			break
		}
	}
	return h + `, error="invalid_token", error_description="` + desc + `"`
}

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by NewContext.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
