package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// maxJWKSBytes bounds a JWKS or discovery response.
const maxJWKSBytes = 1 << 20

// keySet is where a Verifier finds keys: a static set, or the issuer's
// JWKS fetched over HTTP, kept in memory and fetched again
//
//   - every Config.RefreshInterval (a key the issuer removed stops being
//     trusted within that time: the fetched set replaces the cached one);
//   - on a token naming a key id not in the cache (key rotation), once the
//     token's header and claims have passed the checks a genuine token of
//     this issuer passes (see Verifier.mayFetch), at most once per
//     Config.UnknownKIDInterval.
//
// Fetches are single-flight: however many requests want one, one request
// goes to the issuer, and every request waiting for it gets its result.
// A request with an unknown key id never gets a refusal because other
// requests used up the fetch rate (which junk tokens could do at will): it
// waits for the fetch in flight, or for the next one allowed, which is
// scheduled for it, at most UnknownKIDInterval plus the fetch's own time
// away (bounded by its context). So junk can make the issuer's key set be
// fetched no more than once per interval, and cannot delay a genuine
// token with a new key id by more than that.
//
// jwkset parses and validates the keys (types, curves, sizes); this type
// decides when to fetch.
type keySet struct {
	url      string // empty for a static set
	client   *http.Client
	timeout  time.Duration
	interval time.Duration // least time between two fetches on unknown key ids
	logger   *slog.Logger
	life     context.Context // the Verifier's life: fetches end with it
	now      func() time.Time

	gen atomic.Uint64 // bumped when a fetched set drops or changes a key

	mu        sync.Mutex
	keys      map[string]jwkset.JWK
	lastErr   error     // the last fetch's failure; nil after a success
	lastStart time.Time // when the last fetch started
	flight    *flight   // the fetch in flight, or scheduled, or nil
	fetches   int
}

// flight is one fetch of the key set, in flight or scheduled; done is
// closed when it has finished.
type flight struct {
	done      chan struct{}
	scheduled bool // waiting for its time, not running yet
}

func newStaticKeySet(raw []byte) (*keySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("auth: static key set: not a JWK Set: %w", err)
	}
	keys := map[string]jwkset.JWK{}
	for i, m := range set.Keys {
		// Public material only: private parameters in the set are ignored.
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, fmt.Errorf("auth: static key set: key %d: %w", i, err)
		}
		keys[k.Marshal().KID] = k
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("auth: static key set: no keys")
	}
	return &keySet{keys: keys}, nil
}

func newRemoteKeySet(ctx context.Context, cfg Config) (*keySet, error) {
	if err := checkFetchURL(cfg.JWKSURL); err != nil {
		return nil, fmt.Errorf("auth: JWKS URL: %w", err)
	}
	ks := &keySet{url: cfg.JWKSURL, timeout: cfg.HTTPTimeout, interval: cfg.UnknownKIDInterval,
		logger: cfg.Logger, life: ctx, now: time.Now, keys: map[string]jwkset.JWK{}}
	if ks.timeout <= 0 {
		ks.timeout = DefaultHTTPTimeout
	}
	if ks.interval <= 0 {
		ks.interval = DefaultUnknownKIDInterval
	}
	refresh := cfg.RefreshInterval
	if refresh <= 0 {
		refresh = DefaultRefreshInterval
	}
	ks.client = limitedClient(cfg.HTTPClient, ks.timeout)
	// The first fetch, before serving: a failure is logged and remembered
	// (tokens get ErrKeySetUnavailable until a fetch succeeds), so that the
	// service can start while the provider is down.
	<-ks.start(true).done
	go func() {
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				ks.start(true)
			}
		}
	}()
	return ks, nil
}

// lookup returns the cached key named kid.
func (ks *keySet) lookup(kid string) (jwkset.JWK, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, ok := ks.keys[kid]
	return k, ok
}

// generation changes whenever a fetch drops or changes a key, so that
// what was verified with the old set is verified again.
func (ks *keySet) generation() uint64 { return ks.gen.Load() }

// remote reports whether the set is fetched (not static).
func (ks *keySet) remote() bool { return ks.url != "" }

// missing is the error for a key id the set does not have: the last
// fetch's failure when it failed (a server-side problem), else a bad
// signature.
func (ks *keySet) missing() error {
	ks.mu.Lock()
	last := ks.lastErr
	ks.mu.Unlock()
	if last != nil {
		return fmt.Errorf("%w: JWKS %s: %w", ErrKeySetUnavailable, ks.url, last)
	}
	return fmt.Errorf("%w: the issuer has no key with the token's kid", ErrBadSignature)
}

// fetchFor waits for a fetch that may bring kid (the one in flight, or
// the next one allowed) and returns the key, or the error of missing. A
// fetch already under way when the request came may have left before the
// issuer published the key: when it does not bring kid, the request waits
// for the next one too.
func (ks *keySet) fetchFor(ctx context.Context, kid string) (jwkset.JWK, error) {
	for round := 0; round < 2; round++ {
		if k, ok := ks.lookup(kid); ok {
			return k, nil
		}
		ks.mu.Lock()
		under := ks.flight != nil && !ks.flight.scheduled
		ks.mu.Unlock()
		f := ks.start(false)
		ks.mu.Lock()
		down := f.scheduled && ks.lastErr != nil
		ks.mu.Unlock()
		if down {
			// The last fetch failed and the next is not due yet: say so now
			// (503) rather than hold the request.
			return jwkset.JWK{}, ks.missing()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return jwkset.JWK{}, fmt.Errorf("%w: waiting for the JWKS: %w", ErrKeySetUnavailable, ctx.Err())
		}
		if !under {
			break
		}
	}
	if k, ok := ks.lookup(kid); ok {
		return k, nil
	}
	return jwkset.JWK{}, ks.missing()
}

// start returns the fetch to wait for: the one in flight or scheduled;
// else a new one, started now when force is set or the last one started
// at least interval ago, otherwise scheduled for then.
func (ks *keySet) start(force bool) *flight {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.flight != nil {
		return ks.flight
	}
	f := &flight{done: make(chan struct{})}
	ks.flight = f
	wait := time.Duration(0)
	if !force && !ks.lastStart.IsZero() {
		wait = ks.interval - ks.now().Sub(ks.lastStart)
	}
	if wait <= 0 {
		ks.lastStart = ks.now()
		go ks.run(f)
		return f
	}
	f.scheduled = true
	time.AfterFunc(wait, func() {
		ks.mu.Lock()
		ks.lastStart, f.scheduled = ks.now(), false
		ks.mu.Unlock()
		ks.run(f)
	})
	return f
}

// run fetches the set for flight f and ends it.
func (ks *keySet) run(f *flight) {
	var err error
	if ks.life.Err() != nil {
		err = ks.life.Err()
	} else {
		ctx, cancel := context.WithTimeout(ks.life, ks.timeout)
		var keys map[string]jwkset.JWK
		keys, err = ks.fetch(ctx)
		cancel()
		if err == nil {
			ks.replace(keys)
		}
	}
	ks.mu.Lock()
	ks.fetches++
	if err != nil && ks.life.Err() == nil {
		ks.lastErr = err
		ks.logger.Warn("auth: JWKS fetch failed", "url", ks.url, "err", err)
	}
	ks.flight = nil
	ks.mu.Unlock()
	close(f.done)
}

// replace installs a fetched set, bumping the generation when a key was
// dropped or changed.
func (ks *keySet) replace(keys map[string]jwkset.JWK) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for kid, old := range ks.keys {
		k, ok := keys[kid]
		if !ok || !sameKey(old, k) {
			ks.gen.Add(1)
			break
		}
	}
	ks.keys, ks.lastErr = keys, nil
}

// sameKey reports whether two JWKs carry the same public key and metadata.
func sameKey(a, b jwkset.JWK) bool {
	ma, errA := json.Marshal(a.Marshal())
	mb, errB := json.Marshal(b.Marshal())
	return errA == nil && errB == nil && string(ma) == string(mb)
}

// fetch reads the JWK Set at ks.url. Keys of types jwkset does not support
// are skipped (a provider may publish keys for other uses); a key that is
// malformed fails the fetch, so that a broken set never replaces a good one.
func (ks *keySet) fetch(ctx context.Context) (map[string]jwkset.JWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	keys := make(map[string]jwkset.JWK, len(set.Keys))
	for i, m := range set.Keys {
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue
		case err != nil:
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys[k.Marshal().KID] = k
	}
	return keys, nil
}

// fetchCount returns how many fetches have finished (tests).
func (ks *keySet) fetchCount() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
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
