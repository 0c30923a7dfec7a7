package dexcom

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"fsecgm/connectors/internal/upstream"
)

// The operations, as named in errors.
const (
	opAuthorize = "authorize"
	opToken     = "token"
	opRefresh   = "refresh"
	opEGVs      = "egvs"
	opDataRange = "dataRange"
	opDevices   = "devices"
)

// Token is a user's authorization: an access token and the single-use
// refresh token that renews it. It is a secret: never log it.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expires      time.Time `json:"expires"`
}

// LogValue keeps the tokens out of logs.
func (t Token) LogValue() slog.Value { return slog.StringValue("redacted") }

// Fresh reports whether the access token is valid at now for at least
// margin.
func (t Token) Fresh(now time.Time, margin time.Duration) bool {
	return t.AccessToken != "" && now.Add(margin).Before(t.Expires)
}

// NewVerifier returns a PKCE code verifier (RFC 7636 §4.1: 32 random bytes,
// 43 characters of base64url) and its S256 challenge (§4.2).
func NewVerifier() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("dexcom: code verifier: %w", err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	return verifier, Challenge(verifier), nil
}

// Challenge returns the S256 challenge of a code verifier (RFC 7636 §4.2).
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizeURL returns the Dexcom page where the patient logs in and
// consents; Dexcom then sends the browser to the redirect URI with code
// and state. challenge is the PKCE challenge of the verifier Exchange will
// send (empty: none).
func (c *Client) AuthorizeURL(state, challenge string) string {
	q := url.Values{}
	q.Set("client_id", c.clientID)
	q.Set("redirect_uri", c.redirectTo)
	q.Set("response_type", "code")
	q.Set("scope", "offline_access")
	q.Set("state", state)
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return c.base + "/v2/oauth2/login?" + q.Encode()
}

// CallbackError returns the error of a redirect that carries error
// (error=access_denied when the patient declined); nil when it carries
// none.
func CallbackError(q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	kind := KindUnexpected
	if code == "access_denied" {
		kind = KindAccessDenied
	}
	return &Error{Kind: kind, Op: opAuthorize, Code: upstream.Clean(code), Message: upstream.Clean(q.Get("error_description"))}
}

// tokenReply is the token endpoint's answer.
type tokenReply struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
}

// Exchange trades an authorization code (and the PKCE verifier of its
// challenge) for the patient's token.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (Token, error) {
	f := url.Values{}
	f.Set("client_id", c.clientID)
	f.Set("client_secret", c.secret)
	f.Set("code", code)
	f.Set("grant_type", "authorization_code")
	f.Set("redirect_uri", c.redirectTo)
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return c.token(ctx, opToken, f)
}

// Refresh trades a refresh token for a new token; the refresh token given
// must not be used again, so the caller stores the new one before anything
// else.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	f := url.Values{}
	f.Set("client_id", c.clientID)
	f.Set("client_secret", c.secret)
	f.Set("refresh_token", refreshToken)
	f.Set("grant_type", "refresh_token")
	f.Set("redirect_uri", c.redirectTo)
	return c.token(ctx, opRefresh, f)
}

func (c *Client) token(ctx context.Context, op string, f url.Values) (Token, error) {
	now := c.now()
	r, err := c.send(ctx, op, http.MethodPost, c.base+"/v2/oauth2/token", f, "")
	if err != nil {
		return Token{}, err
	}
	if e := c.check(op, r); e != nil {
		return Token{}, e
	}
	var tr tokenReply
	if err := json.Unmarshal(r.body, &tr); err != nil {
		return Token{}, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: r.status, Err: err}
	}
	switch {
	case tr.AccessToken == "" || len(tr.AccessToken) > 16<<10:
		return Token{}, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: r.status, Message: "access_token missing or implausible"}
	case tr.RefreshToken == "" || len(tr.RefreshToken) > 16<<10:
		return Token{}, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: r.status, Message: "refresh_token missing or implausible"}
	case tr.ExpiresIn <= 0 || tr.ExpiresIn > 366*24*3600:
		return Token{}, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: r.status, Message: fmt.Sprintf("expires_in %d", tr.ExpiresIn)}
	}
	return Token{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		Expires: now.Add(time.Duration(tr.ExpiresIn) * time.Second).UTC()}, nil
}
