// Package nssitetest is a faithful fake of Nightscout sites
// (cgm-remote-monitor) for tests and demos: several sites under one
// server (site name's URL is {server}/site/{name}), each with its
// API_SECRET (checked as its SHA-1 in the api-secret header or the secret
// parameter), access tokens (the token parameter of API v1, and the JWT of
// /api/v2/authorization/request/{token} for API v3), and the entries of a
// simulated patient (connectors/glucosim, an sgv every 5 minutes, as
// xDrip+ uploads them): GET /api/v1/status.json, /api/v1/entries.json (and
// /api/v1/entries/sgv.json) with find[date][$gt|$gte|$lt|$lte] and count,
// newest first, 10 by default; GET /api/v3/entries with date$gt, sort,
// limit, answering {"status":200,"result":[…]}. Faults are switchable per
// site.
package nssitetest

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"

	"github.com/golang-jwt/jwt/v5"
)

// Site is a simulated Nightscout site.
type Site struct {
	// Name is the site's path segment.
	Name string
	// APISecret is its API_SECRET (12 characters at least, as Nightscout
	// requires); Tokens the access tokens of subjects with the readable
	// role.
	APISecret string
	Tokens    []string
	// Public makes entries readable without a secret or token
	// (AUTH_DEFAULT_ROLES=readable).
	Public bool
	// Sim gives the entries; Device is the uploader's name in them
	// (default "xDrip-LibreReceiver").
	Sim    *glucosim.Patient
	Device string
	// Version is what status.json reports (default "15.0.3").
	Version string
}

// Faults are a site's failures.
type Faults struct {
	Delay       time.Duration
	ServerError int
	RateLimit   bool
	RetryAfter  time.Duration
	// HTMLPage answers 200 with a host's web page (a site asleep).
	HTMLPage bool
	// MalformedJSON and TruncatedJSON spoil the entries' bodies.
	MalformedJSON, TruncatedJSON bool
}

// Stats counts a site's requests.
type Stats struct {
	Requests, Entries, Authorizations, Unauthorized int
}

type site struct {
	spec                         Site
	key                          []byte
	mu                           sync.Mutex
	faults                       Faults
	reqs, entries, auths, unauth atomic.Int64
}

// Server is a fake Nightscout host. It is safe for concurrent use.
type Server struct {
	now   func() time.Time
	mu    sync.Mutex
	sites map[string]*site
	hs    *httptest.Server
}

// New returns a server without sites; now is its clock (time.Now when
// nil).
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, sites: map[string]*site{}}
}

// Start serves on a local port and returns the server's URL.
func (s *Server) Start() string {
	s.hs = httptest.NewServer(s)
	return s.hs.URL
}

// Close stops a started server.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// AddSite adds a site and returns its path ("/site/{name}"), to append to
// the server's URL.
func (s *Server) AddSite(sp Site) (string, error) {
	if sp.Name == "" || strings.ContainsAny(sp.Name, "/?#") || sp.Sim == nil {
		return "", errors.New("nssitetest: a site needs a name and a simulator")
	}
	if sp.APISecret != "" && len(sp.APISecret) < 12 {
		return "", errors.New("nssitetest: API_SECRET must have at least 12 characters")
	}
	if sp.Device == "" {
		sp.Device = "xDrip-LibreReceiver"
	}
	if sp.Version == "" {
		sp.Version = "15.0.3"
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sites[sp.Name]; dup {
		return "", fmt.Errorf("nssitetest: site %q exists", sp.Name)
	}
	s.sites[sp.Name] = &site{spec: sp, key: key[:]}
	return "/site/" + sp.Name, nil
}

func (s *Server) site(name string) *site {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sites[name]
}

// SetFaults sets a site's faults.
func (s *Server) SetFaults(name string, f Faults) error {
	st := s.site(name)
	if st == nil {
		return fmt.Errorf("nssitetest: no site %q", name)
	}
	st.mu.Lock()
	st.faults = f
	st.mu.Unlock()
	return nil
}

// SetSecret changes a site's API_SECRET (the old one stops working).
func (s *Server) SetSecret(name, secret string) error {
	st := s.site(name)
	if st == nil {
		return fmt.Errorf("nssitetest: no site %q", name)
	}
	st.mu.Lock()
	st.spec.APISecret = secret
	st.mu.Unlock()
	return nil
}

// Stats returns a site's counters.
func (s *Server) Stats(name string) Stats {
	st := s.site(name)
	if st == nil {
		return Stats{}
	}
	return Stats{Requests: int(st.reqs.Load()), Entries: int(st.entries.Load()), Authorizations: int(st.auths.Load()),
		Unauthorized: int(st.unauth.Load())}
}

// ServeHTTP serves the sites.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/site/")
	name, path, _ := strings.Cut(rest, "/")
	st := s.site(name)
	if !ok || st == nil {
		writeJSON(w, http.StatusNotFound, `{"status":404,"message":"Not Found"}`)
		return
	}
	st.reqs.Add(1)
	path = "/" + path
	if s.fault(w, r, st) {
		return
	}
	switch {
	case path == "/api/v1/status.json" && r.Method == http.MethodGet:
		s.status(w, st)
	case (path == "/api/v1/entries.json" || path == "/api/v1/entries/sgv.json" || path == "/api/v1/entries") && r.Method == http.MethodGet:
		if !s.authorizedV1(r, st) {
			st.unauth.Add(1)
			writeJSON(w, http.StatusUnauthorized, `{"status":401,"message":"Unauthorized","description":"Invalid/Missing"}`)
			return
		}
		s.entriesV1(w, r, st)
	case strings.HasPrefix(path, "/api/v2/authorization/request/") && r.Method == http.MethodGet:
		s.authorization(w, st, strings.TrimPrefix(path, "/api/v2/authorization/request/"))
	case path == "/api/v3/entries" && r.Method == http.MethodGet:
		if !s.validJWT(r, st) {
			st.unauth.Add(1)
			writeJSON(w, http.StatusUnauthorized, `{"status":401,"message":"Missing or bad access token or JWT"}`)
			return
		}
		s.entriesV3(w, r, st)
	default:
		writeJSON(w, http.StatusNotFound, `{"status":404,"message":"Not Found"}`)
	}
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, st *site) bool {
	st.mu.Lock()
	f := st.faults
	st.mu.Unlock()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	switch {
	case f.RateLimit:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		}
		writeJSON(w, http.StatusTooManyRequests, `{"status":429,"message":"Too Many Requests"}`)
	case f.ServerError != 0:
		w.WriteHeader(f.ServerError)
	case f.HTMLPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Application Error</title></head><body>An error occurred in the application.</body></html>"))
	default:
		return false
	}
	return true
}

func (s *Server) status(w http.ResponseWriter, st *site) {
	now := s.now()
	b, _ := json.Marshal(map[string]any{"status": "ok", "name": "nightscout", "version": st.spec.Version,
		"serverTime": now.UTC().Format("2006-01-02T15:04:05.000Z"), "serverTimeEpoch": now.UnixMilli(), "apiEnabled": true,
		"careportalEnabled": true, "boluscalcEnabled": false, "settings": map[string]any{"units": "mg/dl"},
		"extendedSettings": map[string]any{}, "authorized": nil})
	writeJSON(w, http.StatusOK, string(b))
}

// authorizedV1 reports whether an API v1 read is allowed.
func (s *Server) authorizedV1(r *http.Request, st *site) bool {
	st.mu.Lock()
	secret := st.spec.APISecret
	st.mu.Unlock()
	if st.spec.Public {
		return true
	}
	given := r.Header.Get("api-secret")
	if given == "" {
		given = r.URL.Query().Get("secret")
	}
	if secret != "" && given != "" {
		sum := sha1.Sum([]byte(secret))
		if strings.EqualFold(given, hex.EncodeToString(sum[:])) {
			return true
		}
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		for _, t := range st.spec.Tokens {
			if t == tok {
				return true
			}
		}
	}
	return s.validJWT(r, st)
}

func (s *Server) authorization(w http.ResponseWriter, st *site, token string) {
	ok := false
	for _, t := range st.spec.Tokens {
		if t == token {
			ok = true
		}
	}
	if !ok {
		st.unauth.Add(1)
		writeJSON(w, http.StatusUnauthorized, `{"status":401,"message":"Unauthorized"}`)
		return
	}
	st.auths.Add(1)
	now := s.now()
	sub, _, _ := strings.Cut(token, "-")
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"accessToken": token,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString(st.key)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, `{"status":500}`)
		return
	}
	b, _ := json.Marshal(map[string]any{"token": tok, "sub": sub, "permissions": map[string]any{"api:entries:read": true},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	writeJSON(w, http.StatusOK, string(b))
}

func (s *Server) validJWT(r *http.Request, st *site) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	t, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return st.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.now))
	return err == nil && t.Valid
}

// query holds the date filters and paging of a request.
type query struct {
	gt, gte, lt, lte int64 // 0: none
	count            int
	asc              bool
}

func (q query) keep(ms int64) bool {
	return (q.gt == 0 || ms > q.gt) && (q.gte == 0 || ms >= q.gte) && (q.lt == 0 || ms < q.lt) && (q.lte == 0 || ms <= q.lte)
}

// entries returns the site's entries that q keeps, up to q.count, in its
// order (newest first unless asc).
func (s *Server) entries(st *site, q query) []map[string]any {
	now := s.now()
	from := now.Add(-90 * 24 * time.Hour)
	if q.gt > 0 {
		from = time.UnixMilli(q.gt)
	}
	if q.gte > 0 {
		from = time.UnixMilli(q.gte)
	}
	to := now
	if q.lt > 0 && time.UnixMilli(q.lt).Before(to) {
		to = time.UnixMilli(q.lt)
	}
	if q.lte > 0 && time.UnixMilli(q.lte).Add(time.Millisecond).Before(to) {
		to = time.UnixMilli(q.lte).Add(time.Millisecond)
	}
	var pts []glucosim.Point
	if to.After(from) {
		pts = st.spec.Sim.Historic(from, to)
	}
	var out []map[string]any
	add := func(pt glucosim.Point) bool {
		ms := pt.Time.UnixMilli()
		if !q.keep(ms) {
			return true
		}
		sgv := pt.MgDL
		switch {
		case pt.Flags&cgm.FlagLow != 0:
			sgv = 39
		case pt.Flags&cgm.FlagHigh != 0:
			sgv = 401
		}
		id := sha256.Sum256(fmt.Appendf(nil, "%s/%d", st.spec.Name, ms))
		out = append(out, map[string]any{"_id": hex.EncodeToString(id[:12]), "identifier": hex.EncodeToString(id[:16]),
			"type": "sgv", "sgv": sgv, "date": ms, "dateString": pt.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
			"direction": "Flat", "device": st.spec.Device, "utcOffset": 0, "sysTime": pt.Time.UTC().Format("2006-01-02T15:04:05.000Z")})
		return len(out) < q.count
	}
	if q.asc {
		for _, pt := range pts {
			if !add(pt) {
				break
			}
		}
	} else {
		for i := len(pts) - 1; i >= 0; i-- {
			if !add(pts[i]) {
				break
			}
		}
	}
	return out
}

func parseMillis(v string) int64 {
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0
	}
	return int64(n)
}

func (s *Server) entriesV1(w http.ResponseWriter, r *http.Request, st *site) {
	st.entries.Add(1)
	v := r.URL.Query()
	q := query{gt: parseMillis(v.Get("find[date][$gt]")), gte: parseMillis(v.Get("find[date][$gte]")),
		lt: parseMillis(v.Get("find[date][$lt]")), lte: parseMillis(v.Get("find[date][$lte]")), count: 10}
	if n, err := strconv.Atoi(v.Get("count")); err == nil && n > 0 {
		q.count = n
	}
	b, _ := json.Marshal(s.entries(st, q))
	if string(b) == "null" {
		b = []byte("[]")
	}
	s.writeEntries(w, st, b)
}

func (s *Server) entriesV3(w http.ResponseWriter, r *http.Request, st *site) {
	st.entries.Add(1)
	v := r.URL.Query()
	q := query{gt: parseMillis(v.Get("date$gt")), gte: parseMillis(v.Get("date$gte")), lt: parseMillis(v.Get("date$lt")),
		lte: parseMillis(v.Get("date$lte")), count: 10, asc: v.Get("sort") == "date"}
	if n, err := strconv.Atoi(v.Get("limit")); err == nil && n > 0 {
		q.count = n
	}
	es := s.entries(st, q)
	if es == nil {
		es = []map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{"status": 200, "result": es})
	s.writeEntries(w, st, b)
}

func (s *Server) writeEntries(w http.ResponseWriter, st *site, b []byte) {
	st.mu.Lock()
	f := st.faults
	st.mu.Unlock()
	switch {
	case f.TruncatedJSON:
		b = b[:len(b)/2]
	case f.MalformedJSON:
		b = append([]byte(`[{"type":"sgv",`), b...)
	}
	writeJSON(w, http.StatusOK, string(b))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
