package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"
)

// maxJWKSBytes bounds a JWKS or discovery response.
const maxJWKSBytes = 1 << 20

// keySet is where a Verifier finds keys: a static set, or a JWKS URL cached
// and refreshed by jwkset (periodically, and on an unknown kid at most once
// per UnknownKIDInterval).
type keySet struct {
	store jwkset.Storage
	url   string // empty for a static set
	state *fetchState
}

// fetchState remembers whether the last JWKS fetch failed.
type fetchState struct {
	mu      sync.Mutex
	lastErr error
}

func (s *fetchState) set(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

func (s *fetchState) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// trackedStore is the cache behind jwkset's HTTP storage: jwkset replaces
// its content only after a successful fetch, which clears the failure.
type trackedStore struct {
	*jwkset.MemoryJWKSet
	state *fetchState
}

func (s trackedStore) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	s.state.set(nil)
	return nil
}

func newStaticKeySet(raw []byte) (*keySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("auth: static key set: not a JWK Set: %w", err)
	}
	store := jwkset.NewMemoryStorage()
	for i, m := range set.Keys {
		// Public material only: private parameters in the set are ignored.
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, fmt.Errorf("auth: static key set: key %d: %w", i, err)
		}
		if err := store.KeyWrite(context.Background(), k); err != nil {
			return nil, fmt.Errorf("auth: static key set: key %d: %w", i, err)
		}
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("auth: static key set: no keys")
	}
	return &keySet{store: store}, nil
}

func newRemoteKeySet(ctx context.Context, cfg Config) (*keySet, error) {
	if err := checkFetchURL(cfg.JWKSURL); err != nil {
		return nil, fmt.Errorf("auth: JWKS URL: %w", err)
	}
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	refresh := cfg.RefreshInterval
	if refresh <= 0 {
		refresh = DefaultRefreshInterval
	}
	unknown := cfg.UnknownKIDInterval
	if unknown <= 0 {
		unknown = DefaultUnknownKIDInterval
	}
	client := limitedClient(cfg.HTTPClient, timeout)
	state := &fetchState{}
	logger := cfg.Logger
	u := cfg.JWKSURL
	onError := func(_ context.Context, err error) {
		if errors.Is(err, context.Canceled) {
			return // the request that triggered the fetch went away
		}
		state.set(err)
		logger.Warn("auth: JWKS fetch failed", "url", u, "err", err)
	}
	httpStore, err := jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               timeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       onError,
		RefreshInterval:           refresh,
		Storage:                   trackedStore{MemoryJWKSet: jwkset.NewMemoryStorage(), state: state},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS %s: %w", u, err)
	}
	store, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{u: httpStore},
		RateLimitWaitMax:  timeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknown), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS %s: %w", u, err)
	}
	return &keySet{store: store, url: u, state: state}, nil
}

// read returns the key named kid, or an error of this package's kinds.
func (ks *keySet) read(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := ks.store.KeyRead(ctx, kid)
	if err == nil {
		return k, nil
	}
	if ks.state != nil {
		if last := ks.state.get(); last != nil {
			return jwkset.JWK{}, fmt.Errorf("%w: JWKS %s: %w", ErrKeySetUnavailable, ks.url, last)
		}
	}
	return jwkset.JWK{}, fmt.Errorf("%w: the issuer has no key with the token's kid", ErrBadSignature)
}

// checkFetchURL allows https, and http only on loopback hosts (a local
// development provider).
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: http is allowed only on a loopback host; use https", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}

// limitedClient returns c (or a new client with timeout) whose responses
// are cut at maxJWKSBytes.
func limitedClient(c *http.Client, timeout time.Duration) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: timeout}
	}
	cc := *c
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = limitTransport{base}
	return &cc
}

type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("response larger than %d bytes", maxJWKSBytes)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// DiscoverJWKSURL reads the OpenID Provider configuration of issuer
// (OpenID Connect Discovery 1.0 §4) and returns its jwks_uri, after checking
// that the document names exactly this issuer (§4.3). A nil client means a
// client with DefaultHTTPTimeout.
func DiscoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	if err := checkFetchURL(issuer); err != nil {
		return "", fmt.Errorf("auth: discovery: issuer %w", err)
	}
	client = limitedClient(client, DefaultHTTPTimeout)
	u := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("auth: discovery %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("auth: discovery %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auth: discovery %s: HTTP status %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("auth: discovery %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("auth: discovery %s: document names issuer %q, want %q", u, doc.Issuer, issuer)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("auth: discovery %s: jwks_uri %w", u, err)
	}
	return doc.JWKSURI, nil
}
