package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by Verify and the request helpers. Each error returned
// wraps exactly one of them (ErrKeySetUnavailable also wraps its cause); no
// message ever contains the token or a value taken from an unverified token.
var (
	// ErrMissing means no bearer token was presented.
	ErrMissing = errors.New("auth: no bearer token")
	// ErrMalformed means the token is not a well-formed compact JWS.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrExpired means the token's exp is past (beyond the leeway).
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid means the token's nbf is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrBadSignature means the signature does not verify with any key of
	// the issuer (forged, tampered, or signed by an unknown key).
	ErrBadSignature = errors.New("auth: bad token signature")
	// ErrWrongIssuer means iss is missing or not the configured issuer.
	ErrWrongIssuer = errors.New("auth: wrong token issuer")
	// ErrWrongAudience means aud is missing or does not hold the configured
	// audience.
	ErrWrongAudience = errors.New("auth: wrong token audience")
	// ErrAlgorithm means the token's alg is not RS256 or ES256, or does not
	// fit the key it names ("none", HMAC with a public key, ...).
	ErrAlgorithm = errors.New("auth: token algorithm refused")
	// ErrClaims means a genuine token lacks an identity claim or has a bad
	// one (role, fiscal code, practitioner role, client id, types).
	ErrClaims = errors.New("auth: invalid token claims")
	// ErrRevoked means the token verified but its session was ended on the
	// server (the caller signed out: package taccuino/sessions). Verify
	// never returns it; the HTTP layer does.
	ErrRevoked = errors.New("auth: token revoked (its session was ended)")
	// ErrKeySetUnavailable means the token names a key that is not cached
	// and the issuer's JWKS could not be fetched: a server-side failure
	// (HTTP 503), not the caller's.
	ErrKeySetUnavailable = errors.New("auth: issuer key set unavailable")
)

// Defaults of Config.
const (
	DefaultLeeway = 30 * time.Second
	// DefaultRefreshInterval is how often the issuer's key set is fetched
	// again: a key the issuer withdraws stops being trusted within it.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultUnknownKIDInterval is the least time between two fetches
	// asked for by tokens naming an unknown key id (see keySet).
	DefaultUnknownKIDInterval = 5 * time.Second
	DefaultHTTPTimeout        = 10 * time.Second
	// DefaultTokenType is the typ header access tokens carry (RFC 9068
	// §2.1), required unless Config.ClientIDs says otherwise.
	DefaultTokenType = "at+jwt"
	// DefaultCacheTTL is how long a verified token is remembered (see
	// Config.CacheTTL).
	DefaultCacheTTL = time.Minute
	// cacheEntries bounds the verified-token cache: a few times the
	// clients active within DefaultCacheTTL.
	cacheEntries = 50_000
)

// MaxTokenBytes is the longest token Verify accepts.
const MaxTokenBytes = 16 << 10

// allowedAlgs are the only signature algorithms accepted.
var allowedAlgs = []string{"RS256", "ES256"}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact iss expected (the OpenID Provider's issuer URL).
	Issuer string
	// Audience must be one of the token's aud values, exactly.
	Audience string
	// JWKSURL is the provider's JWK Set (https, or http on a loopback host).
	// Exactly one of JWKSURL and KeySet is set.
	JWKSURL string
	// KeySet is a static JWK Set (JSON), used instead of JWKSURL; the
	// development issuer's set is passed here.
	KeySet []byte
	// TokenType is the typ header tokens must carry (compared
	// case-insensitively, with or without the "application/" prefix), so
	// that ID tokens and other JWTs of the same issuer and audience are not
	// taken as access tokens (RFC 9068 §2.1 and §4, RFC 8725 §3.11).
	// Empty means DefaultTokenType, "at+jwt".
	TokenType string
	// ClientIDs lists OAuth clients whose tokens are accepted without the
	// typ header, for providers that issue JWT access tokens without it:
	// such a token must name one of them in its client id claim
	// (ClaimNames.ClientID: client_id, RFC 9068 §2.2, else azp). Empty:
	// every token needs the typ.
	ClientIDs []string
	// Claims maps identity claims; empty fields take DefaultClaimNames.
	Claims ClaimNames
	// Leeway is the clock skew allowed on exp and nbf; zero means
	// DefaultLeeway, negative means none.
	Leeway time.Duration
	// HTTPClient fetches the JWKS; nil means a client with HTTPTimeout.
	HTTPClient *http.Client
	// HTTPTimeout bounds each JWKS fetch; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// RefreshInterval is how often the JWKS is refetched in the background;
	// zero means DefaultRefreshInterval. A key the issuer removes from its
	// set stops being trusted within it (tokens verified with it before
	// are verified again).
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two fetches asked for
	// by tokens naming a key id not in the cache (key rotation). Such a
	// token is first checked as far as it can be without the key (header,
	// issuer, audience, times: see Verifier.mayFetch); then it waits for
	// the fetch in flight or the next one allowed (see keySet). Zero means
	// DefaultUnknownKIDInterval.
	UnknownKIDInterval time.Duration
	// Logger receives JWKS refresh failures; nil discards them.
	Logger *slog.Logger
	// LogKey keys the subject hash of Principal.SubjectRef; nil means a
	// random key, so references are stable for the life of the Verifier.
	LogKey []byte
	// CacheTTL is how long a token that verified is remembered, so that
	// the same token presented again within it is not verified again (its
	// expiry is still enforced: see verifiedCache). Zero means
	// DefaultCacheTTL, negative means no cache.
	CacheTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies bearer JWTs of one issuer and maps them to Principals.
// It is safe for concurrent use.
type Verifier struct {
	issuer    string
	audience  string
	typ       string
	clientIDs []string
	leeway    time.Duration
	names     ClaimNames
	parser    *jwt.Parser
	keys      *keySet
	logKey    []byte
	now       func() time.Time
	cache     *verifiedCache
}

// NewVerifier returns a Verifier for cfg. With a JWKSURL it fetches the key
// set once (a failure is logged and retried on the next token, so the
// service can start while the provider is down) and refreshes it in the
// background until ctx is done.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: verifier: no issuer configured")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: verifier: no audience configured")
	}
	if (cfg.JWKSURL == "") == (len(cfg.KeySet) == 0) {
		return nil, errors.New("auth: verifier: configure exactly one of a JWKS URL and a static key set")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.TokenType == "" {
		cfg.TokenType = DefaultTokenType
	}
	logKey := cfg.LogKey
	if len(logKey) == 0 {
		logKey = make([]byte, 32)
		rand.Read(logKey)
	}
	var (
		keys *keySet
		err  error
	)
	if cfg.JWKSURL != "" {
		keys, err = newRemoteKeySet(ctx, cfg)
	} else {
		keys, err = newStaticKeySet(cfg.KeySet)
	}
	if err != nil {
		return nil, err
	}
	return &Verifier{
		issuer:    cfg.Issuer,
		audience:  cfg.Audience,
		typ:       normalizeTyp(cfg.TokenType),
		clientIDs: slices.Clone(cfg.ClientIDs),
		leeway:    cfg.Leeway,
		names:     cfg.Claims.withDefaults(),
		keys:      keys,
		logKey:    logKey,
		now:       cfg.Now,
		cache:     newVerifiedCache(cfg.CacheTTL, cacheEntries),
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// Issuer returns the issuer this Verifier accepts.
func (v *Verifier) Issuer() string { return v.issuer }

// VerifyRequest verifies the bearer token of r (see FromRequest).
func (v *Verifier) VerifyRequest(r *http.Request) (*Principal, error) {
	raw, err := FromRequest(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), raw)
}

// Verify checks raw (a compact JWS) and returns its Principal: the alg is
// RS256 or ES256 and fits the key named by kid, the signature verifies with
// the issuer's key, iss and aud are exact, exp is present and, like nbf,
// respected within the leeway, the typ header is at+jwt (or the client is
// one of Config.ClientIDs), and the identity claims are complete (see
// ClaimNames). The error wraps one of the Err values of this package.
// A token that verified within Config.CacheTTL and has not expired is not
// verified again, unless the issuer's key set dropped or changed a key
// since.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	now := v.now()
	gen := v.keys.generation()
	if p, ok := v.cache.get(raw, now, gen); ok {
		return p, nil
	}
	p, err := v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(raw, p, now, gen)
	return p, nil
}

// verify is Verify without the cache.
func (v *Verifier) verify(ctx context.Context, raw string) (*Principal, error) {
	if err := precheck(raw); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		k, err := v.key(ctx, t)
		if err != nil {
			return nil, &keyError{err}
		}
		return k, nil
	})
	if err != nil {
		return nil, classify(err, claims, v.issuer, v.audience)
	}
	p, err := v.names.principal(claims)
	if err != nil {
		return nil, err
	}
	if !v.typeOK(tok.Header, p.ClientID) {
		return nil, fmt.Errorf("%w: typ header is not %q (and the client is not one accepted without it)", ErrClaims, v.typ)
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.Expiry = exp.UTC()
	}
	m := hmac.New(sha256.New, v.logKey)
	m.Write([]byte(p.Issuer + "\x00" + p.Subject))
	p.ref = hex.EncodeToString(m.Sum(nil)[:8])
	return p, nil
}

// normalizeTyp lower-cases a media type and drops "application/".
func normalizeTyp(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.TrimPrefix(s, "application/")
}

// precheck validates the structure of a compact JWS with messages of its
// own (the JSON and base64 errors of the standard library may quote input)
// and refuses algorithms before any key lookup.
func precheck(raw string) error {
	if raw == "" {
		return ErrMissing
	}
	if len(raw) > MaxTokenBytes {
		return fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) == 5 {
		return fmt.Errorf("%w: encrypted tokens (JWE) are not accepted", ErrMalformed)
	}
	if len(parts) != 3 {
		return fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	var header map[string]any
	if err := decodeSegment(parts[0], &header); err != nil {
		return fmt.Errorf("%w: header %s", ErrMalformed, err)
	}
	var payload map[string]any
	if err := decodeSegment(parts[1], &payload); err != nil {
		return fmt.Errorf("%w: payload %s", ErrMalformed, err)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(parts[2]); err != nil {
		return fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	alg, _ := header["alg"].(string)
	if !isAllowedAlg(alg) {
		return fmt.Errorf("%w: alg %s is not RS256 or ES256", ErrAlgorithm, printable(alg))
	}
	if _, ok := header["crit"]; ok {
		return fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	}
	if kid, _ := header["kid"].(string); kid == "" {
		return fmt.Errorf("%w: header has no key id (kid)", ErrMalformed)
	}
	if parts[2] == "" {
		return fmt.Errorf("%w: no signature", ErrBadSignature)
	}
	return nil
}

// decodeSegment decodes one base64url JSON object segment.
func decodeSegment(seg string, v *map[string]any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return errors.New("is not base64url")
	}
	if err := json.Unmarshal(b, v); err != nil || *v == nil {
		return errors.New("is not a JSON object")
	}
	return nil
}

func isAllowedAlg(alg string) bool {
	for _, a := range allowedAlgs {
		if alg == a {
			return true
		}
	}
	return false
}

// printable quotes a short alphanumeric value and hides anything else.
func printable(s string) string {
	if s == "" {
		return "(missing)"
	}
	if len(s) > 12 {
		return "(unrecognized)"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "(unrecognized)"
		}
	}
	return fmt.Sprintf("%q", s)
}

// key returns the verification key named by the token's kid, checked
// against the token's alg. Its errors already carry this package's kinds.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kid, _ := t.Header["kid"].(string)
	jwk, ok := v.keys.lookup(kid)
	if !ok {
		if !v.keys.remote() || !v.mayFetch(t) {
			return nil, fmt.Errorf("%w: the issuer has no key with the token's kid", ErrBadSignature)
		}
		var err error
		if jwk, err = v.keys.fetchFor(ctx, kid); err != nil {
			return nil, err
		}
	}
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("%w: the key named by kid is not a signature key", ErrBadSignature)
	}
	if m.ALG != "" && string(m.ALG) != alg {
		return nil, fmt.Errorf("%w: token alg does not match the key's alg", ErrAlgorithm)
	}
	key := jwk.Key()
	switch k := key.(type) {
	case *rsa.PrivateKey:
		key = &k.PublicKey
	case *ecdsa.PrivateKey:
		key = &k.PublicKey
	}
	switch alg {
	case "RS256":
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: RS256 token names a non-RSA key", ErrAlgorithm)
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("%w: RSA key shorter than %d bits", ErrAlgorithm, minRSABits)
		}
	case "ES256":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ES256 token names a key that is not EC P-256", ErrAlgorithm)
		}
	default:
		return nil, fmt.Errorf("%w: alg is not RS256 or ES256", ErrAlgorithm)
	}
	return key, nil
}

// typeOK reports whether a token with header h and client id is an access
// token this Verifier takes: typ at+jwt (RFC 9068 §2.1), or a client of
// Config.ClientIDs.
func (v *Verifier) typeOK(h map[string]any, clientID string) bool {
	if typ, _ := h["typ"].(string); normalizeTyp(typ) == v.typ {
		return true
	}
	return clientID != "" && slices.Contains(v.clientIDs, clientID)
}

// maxKIDBytes bounds a key id worth fetching the key set for.
const maxKIDBytes = 256

// mayFetch reports whether a token whose key id is not in the cache is
// worth fetching the issuer's key set for: everything that can be checked
// without the key holds, as it does for a genuine access token of this
// issuer signed with a key it has just published. The header: an allowed
// alg (checked before), a key id of printable ASCII, the typ (or a client
// of Config.ClientIDs); the claims, unverified: iss exactly the issuer, aud
// a string or an array of strings holding the audience, exp a number not
// past and nbf, when given, not ahead (within the leeway). Anything else
// is refused without a fetch, so that the key set is fetched for nothing
// but tokens that claim to be this issuer's for this service.
func (v *Verifier) mayFetch(t *jwt.Token) bool {
	kid, _ := t.Header["kid"].(string)
	if kid == "" || len(kid) > maxKIDBytes {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return false
		}
	}
	c, ok := t.Claims.(jwt.MapClaims)
	if !ok {
		return false
	}
	if iss, _ := c["iss"].(string); iss != v.issuer {
		return false
	}
	switch aud := c["aud"].(type) {
	case string:
		if aud != v.audience {
			return false
		}
	case []any:
		found := false
		for _, a := range aud {
			s, isString := a.(string)
			if !isString {
				return false
			}
			found = found || s == v.audience
		}
		if !found {
			return false
		}
	default:
		return false
	}
	now := v.now()
	exp, ok := c["exp"].(float64)
	if !ok || time.Unix(int64(exp), 0).Add(v.leeway).Before(now) {
		return false
	}
	if nbf, present := c["nbf"]; present {
		n, ok := nbf.(float64)
		if !ok || time.Unix(int64(n), 0).Add(-v.leeway).After(now) {
			return false
		}
	}
	clientID := ""
	for _, name := range v.names.ClientID {
		if s, _ := c[name].(string); s != "" {
			clientID = s
			break
		}
	}
	return v.typeOK(t.Header, clientID)
}

// keyError carries an error of key() through jwt.Parser, which wraps it.
type keyError struct{ err error }

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// classify maps an error of jwt.Parser to this package's errors.
func classify(err error, claims jwt.MapClaims, issuer, audience string) error {
	var ke *keyError
	if errors.As(err, &ke) {
		return ke.err
	}
	if !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return fmt.Errorf("%w: not a compact JWS", ErrMalformed)
		}
		return fmt.Errorf("%w: signature does not verify with the issuer's key", ErrBadSignature)
	}
	// The signature is genuine: report the claim problem, issuer and
	// audience first (a token for someone else), then time.
	iss, _ := claims.GetIssuer()
	aud, _ := claims.GetAudience()
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: want %q", ErrWrongIssuer, issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: want %q", ErrWrongAudience, audience)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && iss == "":
		return fmt.Errorf("%w: no iss claim (want %q)", ErrWrongIssuer, issuer)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && (len(aud) == 0 || len(aud) == 1 && aud[0] == ""):
		return fmt.Errorf("%w: no aud claim (want %q)", ErrWrongAudience, audience)
	case errors.Is(err, jwt.ErrInvalidType):
		return fmt.Errorf("%w: a registered claim (exp, nbf, iat, iss, aud, sub) has the wrong type", ErrClaims)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: no exp claim", ErrClaims)
	case errors.Is(err, jwt.ErrTokenExpired):
		if exp, e := claims.GetExpirationTime(); e == nil && exp != nil {
			return fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
		}
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		if nbf, e := claims.GetNotBefore(); e == nil && nbf != nil {
			return fmt.Errorf("%w: not before %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
		}
		return ErrNotYetValid
	}
	return fmt.Errorf("%w: rejected by the JWT validator", ErrClaims)
}
