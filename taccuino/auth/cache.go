package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers the Principals of tokens whose signature and
// claims verified, so that a client sending the same bearer token on every
// request (every client does, until the token expires) costs one signature
// verification per ttl instead of one per request: an ES256 verification
// is most of what authentication costs (about a fifth of a patient read's
// CPU time in the load test).
//
// An entry is used only while both its ttl and its token's expiry have not
// passed, so the cache never accepts a token Verify would refuse for
// expiry, and only while the issuer's key set has not dropped or changed a
// key since (its generation), so that a withdrawn key stops being trusted
// as soon as the key set is fetched again (Config.RefreshInterval).
// Entries are keyed by the SHA-256 of the
// token: the cache holds no token. It is bounded to max entries: when full,
// expired entries are dropped, then, if still full, all of them.
type verifiedCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	p     *Principal
	until time.Time // the earlier of verification + ttl and the token's expiry
	gen   uint64    // the key set's generation when verified
}

// newVerifiedCache returns a cache keeping entries for ttl; nil when ttl is
// not positive (no cache).
func newVerifiedCache(ttl time.Duration, max int) *verifiedCache {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	return &verifiedCache{ttl: ttl, max: max, entries: make(map[[sha256.Size]byte]cacheEntry)}
}

// get returns a copy of the Principal of raw if it verified less than ttl
// ago, with the key set of generation gen (no key dropped or changed
// since), and has not expired at now.
func (c *verifiedCache) get(raw string, now time.Time, gen uint64) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	k := sha256.Sum256([]byte(raw))
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || e.gen != gen {
		return nil, false
	}
	p := *e.p
	return &p, true
}

// put remembers p, the Principal of raw verified at now with the key set
// of generation gen.
func (c *verifiedCache) put(raw string, p *Principal, now time.Time, gen uint64) {
	if c == nil || p.Expiry.IsZero() {
		return
	}
	until := now.Add(c.ttl)
	if p.Expiry.Before(until) {
		until = p.Expiry
	}
	if !now.Before(until) {
		return
	}
	cp := *p
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = cacheEntry{p: &cp, until: until, gen: gen}
}
