package web

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"
)

// Limiter is a set of token buckets, one per key: each key may spend burst
// requests at once and earns perMinute a minute back. It keeps at most a
// fixed number of keys: when full, it forgets the buckets that have filled
// up again (which is what a forgotten key gets anyway); when every bucket
// is in use, it refuses new keys until some fill up (under a flood from
// that many clients, failing closed protects the patients named). It is
// safe for concurrent use.
type Limiter struct {
	perSecond float64
	burst     float64
	max       int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultLimiterKeys bounds the keys a Limiter keeps (about 100 bytes
// each).
const DefaultLimiterKeys = 200_000

// NewLimiter returns a Limiter of perMinute requests a minute and bursts
// of burst per key, keeping at most maxKeys keys (DefaultLimiterKeys when
// not positive).
func NewLimiter(perMinute float64, burst, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterKeys
	}
	return &Limiter{perSecond: perMinute / 60, burst: float64(max(burst, 1)), max: maxKeys, buckets: map[string]*bucket{}}
}

// Allow spends one request of key at now; when none is left it returns
// false and how long until one is.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		if len(l.buckets) >= l.max {
			return false, l.wait(0)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return false, l.wait(b.tokens)
	}
	b.tokens--
	return true, 0
}

// wait is the time to earn one request back from tokens.
func (l *Limiter) wait(tokens float64) time.Duration {
	if l.perSecond <= 0 {
		return time.Hour
	}
	return time.Duration((1 - tokens) / l.perSecond * float64(time.Second))
}

// sweep forgets the buckets that are full again.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of keys kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// LookupOptions configure Lookups; zero fields take the defaults.
type LookupOptions struct {
	// ClientPerMinute and ClientBurst limit each client: 120 a minute,
	// bursts of 60 (a record server looking up its patients' ids).
	ClientPerMinute float64
	ClientBurst     int
	// PatientPerMinute and PatientBurst limit the requests naming each
	// patient, from all clients together: 30 a minute, bursts of 20.
	PatientPerMinute float64
	PatientBurst     int
	// MaxKeys bounds the clients and the patients kept (each;
	// DefaultLimiterKeys).
	MaxKeys int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Lookups is the one rate limit of the requests that name a patient by
// fiscal code or ask about a patient's care relationships (GET
// /api/v1/patients?identifier=, the taccuino's search form, GET
// /fhir/Patient?identifier=, the care relationships routes): per client
// (the caller's verified identity, else the client IP) and per patient
// named (whoever asks), shared by the taccuino API, the pages and the FHIR
// API. Beyond it the answer is 429 with Retry-After, before anything is
// looked up or written to an access log, so that probing fiscal codes is
// slow and a flood of refusals cannot fill a patient's access log. A nil
// *Lookups limits nothing.
type Lookups struct {
	client, patient *Limiter
	now             func() time.Time
}

// NewLookups returns the limits of o.
func NewLookups(o LookupOptions) *Lookups {
	if o.ClientPerMinute <= 0 {
		o.ClientPerMinute, o.ClientBurst = 120, 60
	}
	if o.PatientPerMinute <= 0 {
		o.PatientPerMinute, o.PatientBurst = 30, 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Lookups{client: NewLimiter(o.ClientPerMinute, o.ClientBurst, o.MaxKeys),
		patient: NewLimiter(o.PatientPerMinute, o.PatientBurst, o.MaxKeys), now: o.Now}
}

// ClientKey identifies the caller for the limits: its verified identity
// (issuer and subject, as a keyed hash), else its IP address (c.RealIP:
// the peer, or X-Forwarded-For behind a trusted proxy).
func ClientKey(c *echo.Context) string {
	if p := Principal(c); p != nil {
		return "p:" + p.SubjectRef()
	}
	return "ip:" + c.RealIP()
}

// Client spends one request of the caller's limit: call it first, before
// any work. The error is a 429 *Error with Retry-After.
func (l *Lookups) Client(c *echo.Context) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.client.Allow(ClientKey(c), l.now()); !ok {
		return tooMany(wait)
	}
	return nil
}

// Patient spends one request of the limit of the patient named by key:
// the patient's fiscal code ("cf:" + code) when there is one, else what
// the request named. The error is a 429 *Error with Retry-After.
func (l *Lookups) Patient(key string) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.patient.Allow(key, l.now()); !ok {
		return tooMany(wait)
	}
	return nil
}

// tooMany is the 429 of a spent limit.
func tooMany(wait time.Duration) *Error {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: "too many requests about patients; wait and try again", Header: h}
}
