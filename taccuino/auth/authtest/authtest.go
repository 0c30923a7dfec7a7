// Package authtest is a fake OpenID Connect provider for tests: an HTTPS
// server (httptest) that serves /.well-known/openid-configuration and its
// JWKS as a real provider does, and mints tokens with any claims, algorithm
// and key, including the forged ones a verifier must refuse.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testKeys holds RSA keys made for these tests only (never used anywhere
// else), because generating RSA keys is slow on a busy machine: rsa-1..3
// are the provider's first RS256 keys, rsa-4 the foreign key.
//
//go:embed testdata/rsa-*.pem
var testKeys embed.FS

// fixedRSAKey returns test key n (1-4).
func fixedRSAKey(n int) (*rsa.PrivateKey, error) {
	b, err := testKeys.ReadFile(fmt.Sprintf("testdata/rsa-%d.pem", n))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("rsa-%d.pem: no PEM block", n)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("rsa-%d.pem: %w", n, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("rsa-%d.pem: not an RSA key", n)
	}
	return rk, nil
}

// Audience is the aud of the tokens the Provider mints by default.
const Audience = "fsecgm"

// Provider is a fake OpenID Provider. Its methods are safe for concurrent
// use.
type Provider struct {
	srv       *httptest.Server
	closeOnce sync.Once

	mu       sync.Mutex
	keys     []*signingKey // published in the JWKS, in order
	all      []*signingKey // every key ever made, retired ones too
	current  map[string]*signingKey
	next     int
	rsaMade  int // RS256 keys made so far
	down     bool
	requests int
}

type signingKey struct {
	kid  string
	alg  string
	use  jwkset.USE
	priv crypto.Signer
}

// encKID is the kid of the provider's encryption key.
const encKID = "enc-1"

// New starts a Provider with one RS256 and one ES256 key; it stops when the
// test ends.
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{current: map[string]*signingKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.Close)
	p.Rotate(t, "RS256")
	p.Rotate(t, "ES256")
	// Like SPID/CIE providers, publish an encryption key beside the
	// signature keys.
	enc, err := fixedRSAKey(5)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	k := &signingKey{kid: encKID, alg: string(jwkset.AlgRSAOAEP256), use: jwkset.UseEnc, priv: enc}
	p.keys = append(p.keys, k)
	p.all = append(p.all, k)
	return p
}

// Issuer returns the provider's issuer (its base URL).
func (p *Provider) Issuer() string { return p.srv.URL }

// JWKSURL returns the URL of the provider's JWK Set.
func (p *Provider) JWKSURL() string { return p.srv.URL + "/jwks" }

// Client returns an HTTP client that trusts the provider's certificate.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// Config returns a verifier configuration for this provider. A token
// naming an unknown key id waits at most 50 ms for the key set to be
// fetched again (auth.Config.UnknownKIDInterval), so that the forged
// tokens of Rejections cost tests little.
func (p *Provider) Config() auth.Config {
	return auth.Config{
		Issuer:             p.Issuer(),
		Audience:           Audience,
		JWKSURL:            p.JWKSURL(),
		HTTPClient:         p.Client(),
		UnknownKIDInterval: 50 * time.Millisecond,
	}
}

// Close stops the server: from then on the JWKS cannot be fetched.
func (p *Provider) Close() { p.closeOnce.Do(p.srv.Close) }

// SetDown makes the JWKS endpoint answer 503 Service Unavailable (true) or
// serve again (false).
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// JWKSRequests returns how many times the JWKS has been requested.
func (p *Provider) JWKSRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Rotate adds a new signature key for alg ("RS256" or "ES256") to the JWKS and makes
// it the one that signs tokens of that alg; older keys stay published until
// Retire. It returns the new kid.
func (p *Provider) Rotate(t testing.TB, alg string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var priv crypto.Signer
	if alg == "RS256" && p.rsaMade < 3 {
		p.rsaMade++
		k, err := fixedRSAKey(p.rsaMade)
		if err != nil {
			t.Fatalf("authtest: %v", err)
		}
		priv = k
	} else {
		priv = newKey(t, alg)
	}
	p.next++
	k := &signingKey{kid: fmt.Sprintf("%s-%d", alg, p.next), alg: alg, use: jwkset.UseSig, priv: priv}
	p.keys = append(p.keys, k)
	p.all = append(p.all, k)
	p.current[alg] = k
	return k.kid
}

// Retire removes the key kid from the JWKS.
func (p *Provider) Retire(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, k := range p.keys {
		if k.kid == kid {
			p.keys = append(p.keys[:i:i], p.keys[i+1:]...)
			return
		}
	}
}

// KeyID returns the kid currently signing tokens of alg.
func (p *Provider) KeyID(alg string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.current[alg]; k != nil {
		return k.kid
	}
	return ""
}

func newKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "RS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("authtest: unsupported key algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("authtest: generate %s key: %v", alg, err)
	}
	return k
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                p.Issuer(),
		"jwks_uri":                              p.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid", "profile"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "https://attributes.eid.gov.it/fiscal_number"},
	})
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	down := p.down
	keys := append([]*signingKey(nil), p.keys...)
	p.mu.Unlock()
	if down {
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(k.alg), KID: k.kid, USE: k.use},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	json.NewEncoder(w).Encode(set)
}

// Option changes how Token builds or signs a token.
type Option func(*plan)

// plan is what Token will sign.
type plan struct {
	header map[string]any
	claims jwt.MapClaims
	alg    string // signing algorithm of a provider key: RS256 or ES256
	sign   func(p *Provider, pl *plan, signingInput string) (string, error)
}

// Token mints a token for spec: signed RS256 by the provider's current key,
// issuer and audience of the provider, issued now, valid for one hour,
// with a jti, and identity claims from auth.DefaultClaimNames. Options
// change any of it.
func (p *Provider) Token(t testing.TB, spec auth.PrincipalSpec, opts ...Option) string {
	t.Helper()
	ids, err := auth.DefaultClaimNames().Encode(spec)
	if err != nil {
		t.Fatalf("authtest: token claims: %v", err)
	}
	now := time.Now()
	jti := make([]byte, 12)
	rand.Read(jti)
	pl := &plan{
		header: map[string]any{"typ": "at+jwt"},
		claims: jwt.MapClaims(maps.Clone(ids)),
		alg:    "RS256",
	}
	pl.claims["iss"] = p.Issuer()
	pl.claims["aud"] = Audience
	pl.claims["iat"] = now.Unix()
	pl.claims["nbf"] = now.Unix()
	pl.claims["exp"] = now.Add(time.Hour).Unix()
	pl.claims["jti"] = base64.RawURLEncoding.EncodeToString(jti)
	for _, o := range opts {
		o(pl)
	}
	tok, err := p.sign(pl)
	if err != nil {
		t.Fatalf("authtest: sign token: %v", err)
	}
	return tok
}

func (p *Provider) sign(pl *plan) (string, error) {
	p.mu.Lock()
	k := p.current[pl.alg]
	p.mu.Unlock()
	if k == nil {
		return "", fmt.Errorf("no %s key", pl.alg)
	}
	if _, ok := pl.header["alg"]; !ok {
		pl.header["alg"] = pl.alg
	}
	if _, ok := pl.header["kid"]; !ok {
		pl.header["kid"] = k.kid
	}
	for name, v := range pl.header {
		if v == (removed{}) {
			delete(pl.header, name)
		}
	}
	input, err := signingInput(pl.header, pl.claims)
	if err != nil {
		return "", err
	}
	if pl.sign != nil {
		return pl.sign(p, pl, input)
	}
	return signWith(input, pl.alg, k.priv)
}

func signingInput(header map[string]any, claims jwt.MapClaims) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c), nil
}

func signWith(input, alg string, key any) (string, error) {
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return "", fmt.Errorf("unknown alg %q", alg)
	}
	sig, err := m.Sign(input, key)
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// WithAlg signs with the provider's current key for alg (RS256 or ES256).
func WithAlg(alg string) Option { return func(pl *plan) { pl.alg = alg } }

// WithKID puts kid in the header instead of the signing key's.
func WithKID(kid string) Option { return func(pl *plan) { pl.header["kid"] = kid } }

// WithHeader sets a header parameter (nil removes it).
func WithHeader(name string, value any) Option {
	return func(pl *plan) {
		if value == nil {
			value = removed{}
		}
		pl.header[name] = value
	}
}

// removed marks a header parameter that sign must neither default nor send.
type removed struct{}

// WithClaim sets a claim (nil removes it).
func WithClaim(name string, value any) Option {
	return func(pl *plan) {
		if value == nil {
			delete(pl.claims, name)
			return
		}
		pl.claims[name] = value
	}
}

// WithIssuer sets iss.
func WithIssuer(iss string) Option { return WithClaim("iss", iss) }

// WithAudience sets aud (a string or a []string).
func WithAudience(aud any) Option { return WithClaim("aud", aud) }

// ExpiredFor makes the token expired since d ago (issued an hour earlier).
func ExpiredFor(d time.Duration) Option {
	return func(pl *plan) {
		now := time.Now()
		pl.claims["exp"] = now.Add(-d).Unix()
		pl.claims["iat"] = now.Add(-d - time.Hour).Unix()
		pl.claims["nbf"] = now.Add(-d - time.Hour).Unix()
	}
}

// NotBefore makes the token valid only from now+d.
func NotBefore(d time.Duration) Option {
	return func(pl *plan) {
		now := time.Now()
		pl.claims["nbf"] = now.Add(d).Unix()
		pl.claims["exp"] = now.Add(d + time.Hour).Unix()
	}
}

// SignedBy signs with the provider's key kid (current, older or retired),
// with its alg and kid.
func SignedBy(kid string) Option {
	return func(pl *plan) {
		pl.sign = func(p *Provider, pl *plan, _ string) (string, error) {
			p.mu.Lock()
			var k *signingKey
			for _, c := range p.all {
				if c.kid == kid {
					k = c
				}
			}
			p.mu.Unlock()
			if k == nil {
				return "", fmt.Errorf("no key %q", kid)
			}
			pl.header["alg"] = k.alg
			pl.header["kid"] = k.kid
			input, err := signingInput(pl.header, pl.claims)
			if err != nil {
				return "", err
			}
			return signWith(input, k.alg, k.priv)
		}
	}
}

// SignedByForeignKey signs with a key of the same type that the provider
// never publishes, keeping the kid of the provider's key: a forgery.
func SignedByForeignKey() Option {
	return func(pl *plan) {
		pl.sign = func(_ *Provider, pl *plan, input string) (string, error) {
			var key any
			var err error
			switch pl.alg {
			case "RS256":
				key, err = fixedRSAKey(4)
			default:
				key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
			if err != nil {
				return "", err
			}
			return signWith(input, pl.alg, key)
		}
	}
}

// SignedByEncryptionKey signs RS256 with the provider's encryption key
// (use "enc"), naming it by its kid.
func SignedByEncryptionKey() Option {
	return func(pl *plan) {
		pl.header["kid"] = encKID
		pl.sign = func(_ *Provider, pl *plan, input string) (string, error) {
			k, err := fixedRSAKey(5)
			if err != nil {
				return "", err
			}
			return signWith(input, "RS256", k)
		}
	}
}

// AlgNone produces an unsigned token with alg "none" (RFC 7519 §6).
func AlgNone() Option {
	return func(pl *plan) {
		pl.header["alg"] = "none"
		pl.sign = func(_ *Provider, _ *plan, input string) (string, error) {
			return input + ".", nil
		}
	}
}

// HS256WithPublicKey signs with HMAC-SHA256 keyed by the PEM encoding of the
// provider's RSA public key, keeping that key's kid: the algorithm
// confusion attack on verifiers that take the alg from the token.
func HS256WithPublicKey() Option {
	return func(pl *plan) {
		pl.alg = "RS256"
		pl.header["alg"] = "HS256"
		pl.sign = func(p *Provider, pl *plan, input string) (string, error) {
			p.mu.Lock()
			k := p.current["RS256"]
			p.mu.Unlock()
			der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
			if err != nil {
				return "", err
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return signWith(input, "HS256", secret)
		}
	}
}

// Tamper signs normally, then changes the payload (sub becomes
// "someone-else"), so the signature no longer matches.
func Tamper() Option {
	return func(pl *plan) {
		pl.sign = func(p *Provider, pl *plan, input string) (string, error) {
			p.mu.Lock()
			k := p.current[pl.alg]
			p.mu.Unlock()
			tok, err := signWith(input, pl.alg, k.priv)
			if err != nil {
				return "", err
			}
			forged := maps.Clone(pl.claims)
			forged["sub"] = "someone-else"
			in2, err := signingInput(pl.header, forged)
			if err != nil {
				return "", err
			}
			return in2 + tok[len(input):], nil
		}
	}
}

// Rejection is a token a verifier for the provider must refuse, with the
// error it must wrap.
type Rejection struct {
	Name string
	Opts []Option
	Want error
}

// Rejections lists the forged, expired and misdirected tokens every
// protected endpoint must refuse. Apply them to any valid PrincipalSpec.
func (p *Provider) Rejections() []Rejection {
	return []Rejection{
		{"alg none", []Option{AlgNone()}, auth.ErrAlgorithm},
		{"HS256 keyed with the RSA public key", []Option{HS256WithPublicKey()}, auth.ErrAlgorithm},
		{"RS384", []Option{WithHeader("alg", "RS384")}, auth.ErrAlgorithm},
		{"ES256 header on the RSA key", []Option{WithHeader("alg", "ES256"), WithKID(p.KeyID("RS256"))}, auth.ErrAlgorithm},
		{"signed by a foreign RSA key", []Option{SignedByForeignKey()}, auth.ErrBadSignature},
		{"signed by a foreign EC key", []Option{WithAlg("ES256"), SignedByForeignKey()}, auth.ErrBadSignature},
		{"signed by the encryption key", []Option{SignedByEncryptionKey()}, auth.ErrBadSignature},
		{"tampered payload", []Option{Tamper()}, auth.ErrBadSignature},
		{"unknown kid", []Option{WithKID("no-such-key")}, auth.ErrBadSignature},
		{"expired 2 minutes ago", []Option{ExpiredFor(2 * time.Minute)}, auth.ErrExpired},
		{"not valid for 5 minutes", []Option{NotBefore(5 * time.Minute)}, auth.ErrNotYetValid},
		{"no exp", []Option{WithClaim("exp", nil)}, auth.ErrClaims},
		{"wrong audience", []Option{WithAudience("another-service")}, auth.ErrWrongAudience},
		{"no audience", []Option{WithAudience(nil)}, auth.ErrWrongAudience},
		{"wrong issuer", []Option{WithIssuer("https://evil.example")}, auth.ErrWrongIssuer},
		{"issuer with trailing slash", []Option{WithIssuer(p.Issuer() + "/")}, auth.ErrWrongIssuer},
		{"no issuer", []Option{WithIssuer("")}, auth.ErrWrongIssuer},
		{"dev issuer", []Option{WithIssuer(auth.DevIssuerID)}, auth.ErrWrongIssuer},
		{"ID token (typ JWT)", []Option{WithHeader("typ", "JWT")}, auth.ErrClaims},
		{"no typ", []Option{WithHeader("typ", nil)}, auth.ErrClaims},
	}
}
