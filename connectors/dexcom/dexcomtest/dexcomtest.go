// Package dexcomtest is a faithful fake of the Dexcom API v3 for tests and
// demos: the OAuth 2.0 authorization code flow (a login page where a user
// is chosen, as on Dexcom's sandbox, the consent and the redirect with code
// and state, or error=access_denied), the token endpoint (single-use codes
// that expire, PKCE when a challenge was sent, access tokens of two hours,
// single-use refresh tokens), and egvs, dataRange and devices in the wire
// format of developer.dexcom.com (see package dexcom), served from
// simulated patients (connectors/glucosim, a value every 5 minutes).
//
// Faults are switchable per user (server errors, delays, 429 with
// Retry-After, truncated or malformed JSON, a withdrawn consent), and the
// application's requests are limited per hour as Dexcom limits them
// (60,000 by default, Options.RequestsPerHour).
package dexcomtest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/dexcom"
	"fsecgm/connectors/glucosim"
)

// Defaults of [Options].
const (
	DefaultAccessLifetime  = 2 * time.Hour
	DefaultCodeLifetime    = 10 * time.Minute
	DefaultRefreshLifetime = 365 * 24 * time.Hour
)

// Options configure a [Server].
type Options struct {
	// Now is the server's clock (time.Now by default): token expiry and
	// the simulated glucose follow it.
	Now func() time.Time
	// ClientID and ClientSecret are the one application the fake knows;
	// RedirectURIs the redirect URIs registered for it (any http(s) URL
	// when empty).
	ClientID, ClientSecret string
	RedirectURIs           []string
	// RequestsPerHour limits the application's requests in each clock
	// hour (dexcom.RequestsPerHour by default).
	RequestsPerHour int
	// Lag is how long after its time an EGV becomes visible (the API is
	// retrospective); 0 by default.
	Lag time.Duration
	// History is how far back a user's data go (90 days by default).
	History time.Duration
	// AccessLifetime, CodeLifetime, RefreshLifetime: see the defaults.
	AccessLifetime, CodeLifetime, RefreshLifetime time.Duration
	// Logger receives one debug line per request (no secrets).
	Logger *slog.Logger
}

// User is a simulated Dexcom user.
type User struct {
	// Username is what the login page lists (and what a test names).
	Username string
	// Sim gives the glucose (its 5-minute historic points).
	Sim *glucosim.Patient
	// Generation is the transmitter generation ("g6", "g7"; g7 by
	// default); Unit the display unit (mg/dL by default).
	Generation string
	Unit       cgm.Unit
}

// Endpoint names the API's endpoints, for faults.
type Endpoint uint8

// The endpoints.
const (
	EndpointToken Endpoint = 1 << iota
	EndpointEGVs
	EndpointDataRange
	EndpointDevices
)

// Faults are the failures a user's requests meet; the zero value is none.
type Faults struct {
	// On limits the request faults to some endpoints; 0 means all.
	On Endpoint
	// Delay holds each request that long.
	Delay time.Duration
	// ServerError answers this 5xx status.
	ServerError int
	// RateLimit answers 429, with Retry-After of RetryAfter when positive.
	RateLimit  bool
	RetryAfter time.Duration
	// TruncatedJSON cuts the body in half; MalformedJSON makes it invalid.
	TruncatedJSON, MalformedJSON bool
}

// Stats counts what a user's requests met.
type Stats struct {
	Authorizations, Denials, Exchanges, Refreshes, RefusedGrants int
	EGVs, DataRanges, Devices, Unauthorized                      int
}

type counters struct {
	auth, denied, exchanges, refreshes, refused atomic.Int64
	egvs, ranges, devices, unauthorized         atomic.Int64
}

type user struct {
	spec          User
	id            string // userId: per user and application
	transmitterID string
	mu            sync.Mutex
	faults        Faults
	revoked       bool
	cnt           counters
}

type code struct {
	user        *user
	redirect    string
	challenge   string
	expires     time.Time
	used        bool
	fromRefresh bool
}

type token struct {
	user    *user
	expires time.Time
}

// Server is the fake Dexcom API. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	users    map[string]*user // by username
	order    []*user
	codes    map[string]*code  // authorization codes
	access   map[string]*token // access tokens
	refresh  map[string]*token // refresh tokens
	hour     time.Time
	hourReqs int

	rateLimited atomic.Int64
	hs          *httptest.Server
}

// New returns a fake with no users.
func New(opts Options) *Server {
	s := &Server{opts: opts, now: opts.Now, log: opts.Logger, users: map[string]*user{}, codes: map[string]*code{},
		access: map[string]*token{}, refresh: map[string]*token{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.ClientID == "" {
		s.opts.ClientID = "fsecgm-test-client"
	}
	if s.opts.ClientSecret == "" {
		s.opts.ClientSecret = "fsecgm-test-secret"
	}
	if s.opts.RequestsPerHour <= 0 {
		s.opts.RequestsPerHour = dexcom.RequestsPerHour
	}
	if s.opts.History <= 0 {
		s.opts.History = 90 * 24 * time.Hour
	}
	if s.opts.AccessLifetime <= 0 {
		s.opts.AccessLifetime = DefaultAccessLifetime
	}
	if s.opts.CodeLifetime <= 0 {
		s.opts.CodeLifetime = DefaultCodeLifetime
	}
	if s.opts.RefreshLifetime <= 0 {
		s.opts.RefreshLifetime = DefaultRefreshLifetime
	}
	return s
}

// ClientID and ClientSecret return the application's credentials.
func (s *Server) ClientID() string     { return s.opts.ClientID }
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Start serves the fake on a local port and returns its base URL.
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

// AddUser adds a simulated user and returns the userId the application
// sees.
func (s *Server) AddUser(u User) (string, error) {
	if u.Username == "" || u.Sim == nil {
		return "", errors.New("dexcomtest: a user needs a username and a simulator")
	}
	if u.Generation == "" {
		u.Generation = "g7"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.users[u.Username]; dup {
		return "", fmt.Errorf("dexcomtest: user %q exists", u.Username)
	}
	sum := sha256.Sum256([]byte(s.opts.ClientID + "/" + u.Username))
	tx := strings.ToUpper(hex.EncodeToString(sum[:3]))
	us := &user{spec: u, id: hex.EncodeToString(sum[:]), transmitterID: tx}
	s.users[u.Username] = us
	s.order = append(s.order, us)
	return us.id, nil
}

func (s *Server) user(name string) (*user, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil, fmt.Errorf("dexcomtest: no user %q", name)
	}
	return u, nil
}

// SetFaults sets a user's faults.
func (s *Server) SetFaults(username string, f Faults) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.faults = f
	u.mu.Unlock()
	return nil
}

// Revoke withdraws a user's consent: their tokens stop working (401) and
// refreshing answers invalid_grant, until they authorize again.
func (s *Server) Revoke(username string) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.access {
		if t.user == u {
			delete(s.access, k)
		}
	}
	for k, t := range s.refresh {
		if t.user == u {
			delete(s.refresh, k)
		}
	}
	u.mu.Lock()
	u.revoked = true
	u.mu.Unlock()
	return nil
}

// ExpireAccess makes every access token of a user expired (their refresh
// tokens still work).
func (s *Server) ExpireAccess(username string) error {
	u, err := s.user(username)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.access {
		if t.user == u {
			t.expires = s.now()
		}
	}
	return nil
}

// Stats returns a user's counters.
func (s *Server) Stats(username string) Stats {
	u, err := s.user(username)
	if err != nil {
		return Stats{}
	}
	c := &u.cnt
	return Stats{Authorizations: int(c.auth.Load()), Denials: int(c.denied.Load()), Exchanges: int(c.exchanges.Load()),
		Refreshes: int(c.refreshes.Load()), RefusedGrants: int(c.refused.Load()), EGVs: int(c.egvs.Load()),
		DataRanges: int(c.ranges.Load()), Devices: int(c.devices.Load()), Unauthorized: int(c.unauthorized.Load())}
}

// RateLimited counts the requests refused by the hourly limit.
func (s *Server) RateLimited() int64 { return s.rateLimited.Load() }

// UserID returns the userId the application sees for a user.
func (s *Server) UserID(username string) string {
	u, err := s.user(username)
	if err != nil {
		return ""
	}
	return u.id
}

// Approve does what the user's browser does on the login page: it takes
// an authorization URL (as dexcom.Client.AuthorizeURL makes it), logs
// username in, consents (or declines when allow is false) and returns the
// URL Dexcom redirects the browser to.
func (s *Server) Approve(authorizeURL, username string, allow bool) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return "", err
	}
	return s.decide(u.Query(), username, allow)
}

// decide validates an authorization request and returns the redirect.
func (s *Server) decide(q url.Values, username string, allow bool) (string, error) {
	if q.Get("client_id") != s.opts.ClientID {
		return "", errors.New("unknown client_id")
	}
	if q.Get("response_type") != "code" || q.Get("scope") != "offline_access" {
		return "", errors.New("response_type must be code and scope offline_access")
	}
	redirect := q.Get("redirect_uri")
	if !s.redirectAllowed(redirect) {
		return "", errors.New("redirect_uri is not registered")
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" {
		return "", errors.New("code_challenge_method must be S256")
	}
	back, _ := url.Parse(redirect)
	rq := back.Query()
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	u, err := s.user(username)
	if err != nil {
		return "", err
	}
	if !allow {
		u.cnt.denied.Add(1)
		rq.Set("error", "access_denied")
		back.RawQuery = rq.Encode()
		return back.String(), nil
	}
	c := newSecret()
	s.mu.Lock()
	s.codes[c] = &code{user: u, redirect: redirect, challenge: q.Get("code_challenge"), expires: s.now().Add(s.opts.CodeLifetime)}
	s.mu.Unlock()
	u.mu.Lock()
	u.revoked = false
	u.mu.Unlock()
	u.cnt.auth.Add(1)
	rq.Set("code", c)
	back.RawQuery = rq.Encode()
	return back.String(), nil
}

func (s *Server) redirectAllowed(r string) bool {
	u, err := url.Parse(r)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if len(s.opts.RedirectURIs) == 0 {
		return true
	}
	for _, ok := range s.opts.RedirectURIs {
		if ok == r {
			return true
		}
	}
	return false
}

// newSecret returns 32 random bytes in hex.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.log.Debug("dexcomtest: request", "method", r.Method, "path", r.URL.Path)
	switch p := strings.TrimSuffix(r.URL.Path, "/"); {
	case p == "/v2/oauth2/login" && r.Method == http.MethodGet:
		s.loginPage(w, r)
	case p == "/v2/oauth2/login" && r.Method == http.MethodPost:
		s.loginPost(w, r)
	case p == "/v2/oauth2/token" && r.Method == http.MethodPost:
		if !s.countRequest(w) {
			return
		}
		s.handleToken(w, r)
	case (p == "/v3/users/self/egvs" || p == "/v3/users/self/dataRange" || p == "/v3/users/self/devices") && r.Method == http.MethodGet:
		if !s.countRequest(w) {
			return
		}
		s.handleData(w, r, p)
	default:
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
	}
}

// countRequest counts a request of the application against its hourly
// limit, and answers 429 beyond it.
func (s *Server) countRequest(w http.ResponseWriter) bool {
	now := s.now()
	s.mu.Lock()
	hour := now.Truncate(time.Hour)
	if !hour.Equal(s.hour) {
		s.hour, s.hourReqs = hour, 0
	}
	s.hourReqs++
	over := s.hourReqs > s.opts.RequestsPerHour
	s.mu.Unlock()
	if over {
		s.rateLimited.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(int(hour.Add(time.Hour).Sub(now).Seconds())+1))
		writeJSON(w, http.StatusTooManyRequests, `{"message":"Too Many Requests"}`)
		return false
	}
	return true
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dexcom (fake) – Authorize</title></head>
<body><h1>Dexcom (fake): log in and share your data</h1>
<form method="post" action="/v2/oauth2/login">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<label for="username">User</label> <select id="username" name="username">{{range .Users}}<option>{{.}}</option>{{end}}</select>
<button name="decision" value="allow">Authorize</button> <button name="decision" value="deny">Deny</button>
</form></body></html>`))

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID || !s.redirectAllowed(q.Get("redirect_uri")) {
		http.Error(w, "invalid client_id or redirect_uri", http.StatusBadRequest)
		return
	}
	params := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method"} {
		if v := q.Get(k); v != "" {
			params[k] = v
		}
	}
	s.mu.Lock()
	names := make([]string, len(s.order))
	for i, u := range s.order {
		names[i] = u.spec.Username
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginTmpl.Execute(w, map[string]any{"Params": params, "Users": names})
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	back, err := s.decide(r.PostForm, r.PostForm.Get("username"), r.PostForm.Get("decision") != "deny")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, back, http.StatusFound)
}

// oauthError writes an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	writeJSON(w, status, string(b))
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	f := r.PostForm
	if subtle.ConstantTimeCompare([]byte(f.Get("client_id")), []byte(s.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	now := s.now()
	var u *user
	switch f.Get("grant_type") {
	case "authorization_code":
		s.mu.Lock()
		c := s.codes[f.Get("code")]
		ok := c != nil && !c.used && now.Before(c.expires) && c.redirect == f.Get("redirect_uri")
		if ok && c.challenge != "" {
			ok = dexcom.Challenge(f.Get("code_verifier")) == c.challenge
		}
		if c != nil {
			c.used = true // single use, even when refused
		}
		s.mu.Unlock()
		if !ok {
			if c != nil {
				c.user.cnt.refused.Add(1)
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code invalid, expired, used, or PKCE verifier wrong")
			return
		}
		u = c.user
		u.cnt.exchanges.Add(1)
	case "refresh_token":
		s.mu.Lock()
		t := s.refresh[f.Get("refresh_token")]
		delete(s.refresh, f.Get("refresh_token")) // single use
		s.mu.Unlock()
		if t == nil || !now.Before(t.expires) {
			if t != nil {
				t.user.cnt.refused.Add(1)
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token invalid, expired or used")
			return
		}
		u = t.user
		u.cnt.refreshes.Add(1)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	if s.fault(w, r, u, EndpointToken) {
		return
	}
	access, refresh := newSecret(), newSecret()
	s.mu.Lock()
	s.access[access] = &token{user: u, expires: now.Add(s.opts.AccessLifetime)}
	s.refresh[refresh] = &token{user: u, expires: now.Add(s.opts.RefreshLifetime)}
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"access_token": access, "expires_in": int(s.opts.AccessLifetime / time.Second),
		"token_type": "Bearer", "refresh_token": refresh})
	s.write(w, http.StatusOK, b, u)
}

// fault applies a user's request faults; it reports whether it answered.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, u *user, e Endpoint) bool {
	u.mu.Lock()
	f := u.faults
	u.mu.Unlock()
	if f.On != 0 && f.On&e == 0 {
		return false
	}
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
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		writeJSON(w, http.StatusTooManyRequests, `{"message":"Too Many Requests"}`)
	case f.ServerError != 0:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.ServerError)
		_, _ = w.Write([]byte(http.StatusText(f.ServerError)))
	default:
		return false
	}
	return true
}

// write writes a JSON body, truncated or malformed as the user's faults
// say.
func (s *Server) write(w http.ResponseWriter, status int, body []byte, u *user) {
	u.mu.Lock()
	f := u.faults
	u.mu.Unlock()
	switch {
	case f.TruncatedJSON:
		body = body[:len(body)/2]
	case f.MalformedJSON:
		body = append([]byte("{\"records\":[{,"), body...)
	}
	writeJSON(w, status, string(body))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// bearer returns the user of a request's valid access token.
func (s *Server) bearer(r *http.Request) *user {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[tok]
	if t == nil || !s.now().Before(t.expires) {
		return nil
	}
	return t.user
}

func (s *Server) handleData(w http.ResponseWriter, r *http.Request, path string) {
	u := s.bearer(r)
	if u == nil {
		writeJSON(w, http.StatusUnauthorized, `{"fault":{"faultstring":"Invalid Access Token","detail":{"errorcode":"keymanagement.service.invalid_access_token"}}}`)
		return
	}
	switch path {
	case "/v3/users/self/egvs":
		u.cnt.egvs.Add(1)
		if s.fault(w, r, u, EndpointEGVs) {
			return
		}
		s.egvs(w, r, u)
	case "/v3/users/self/dataRange":
		u.cnt.ranges.Add(1)
		if s.fault(w, r, u, EndpointDataRange) {
			return
		}
		s.dataRange(w, u)
	default:
		u.cnt.devices.Add(1)
		if s.fault(w, r, u, EndpointDevices) {
			return
		}
		s.devices(w, u)
	}
}

// visible returns the instant up to which a user's data are visible.
func (s *Server) visible() time.Time { return s.now().Add(-s.opts.Lag) }

// first returns when a user's data start.
func (s *Server) first() time.Time { return s.now().Add(-s.opts.History) }

func (s *Server) egvs(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	start, err1 := time.ParseInLocation(dexcom.TimeLayout, q.Get("startDate"), time.UTC)
	end, err2 := time.ParseInLocation(dexcom.TimeLayout, q.Get("endDate"), time.UTC)
	switch {
	case err1 != nil || err2 != nil:
		writeJSON(w, http.StatusBadRequest, `{"errors":[{"message":"startDate and endDate must be date-times (2006-01-02T15:04:05)"}]}`)
		return
	case !end.After(start):
		writeJSON(w, http.StatusBadRequest, `{"errors":[{"message":"endDate must be after startDate"}]}`)
		return
	case end.Sub(start) > dexcom.MaxWindow:
		writeJSON(w, http.StatusBadRequest, `{"errors":[{"message":"the time window may not exceed 30 days"}]}`)
		return
	}
	from, to := maxTime(start, s.first()), minTime(end, s.visible())
	var pts []glucosim.Point
	if to.After(from) {
		// 15 minutes more for the trend of the first points.
		pts = u.spec.Sim.Historic(from.Add(-15*time.Minute), to)
	}
	skip := 0
	for skip < len(pts) && pts[skip].Time.Before(from) {
		skip++
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"recordType":"egv","recordVersion":"3.0","userId":%q,"records":[`, u.id)
	loc := u.spec.Sim.Location()
	for i := len(pts) - 1; i >= skip; i-- { // newest first
		pt := pts[i]
		if i != len(pts)-1 {
			b.WriteByte(',')
		}
		rate, rateOK := rateOf(pts, i)
		value, status := "null", "null"
		switch {
		case pt.Flags&cgm.FlagLow != 0 || pt.MgDL < 40:
			status = `"low"`
		case pt.Flags&cgm.FlagHigh != 0 || pt.MgDL > 400:
			status = `"high"`
		case u.spec.Unit == cgm.MmolL:
			value = strconv.FormatFloat(float64(pt.MgDL)/cgm.MgDLPerMmolL, 'f', 1, 64)
		default:
			value = strconv.Itoa(pt.MgDL)
		}
		unit, rateUnit := "mg/dL", "mg/dL/min"
		if u.spec.Unit == cgm.MmolL {
			unit, rateUnit = "mmol/L", "mmol/L/min"
		}
		rec := sha256.Sum256(fmt.Appendf(nil, "%s/%d", u.id, pt.Time.Unix()))
		fmt.Fprintf(&b, `{"recordId":%q,"systemTime":%q,"displayTime":%q,"transmitterId":%q,"transmitterTicks":%d,"value":%s,"status":%s,"trend":%q,"trendRate":%s,"unit":%q,"rateUnit":%q,"displayDevice":"android","transmitterGeneration":%q}`,
			uuidOf(rec[:16]), pt.Time.UTC().Format("2006-01-02T15:04:05Z"), pt.Time.In(loc).Format("2006-01-02T15:04:05-07:00"),
			u.transmitterID, pt.Time.Unix()-s.first().Unix(), value, status, trendOf(rate, rateOK), trendRate(rate, rateOK),
			unit, rateUnit, u.spec.Generation)
	}
	b.WriteString("]}")
	s.write(w, http.StatusOK, []byte(b.String()), u)
}

// trendOf and trendRate derive the arrow and the rate (mg/dL a minute)
// from the 15-minute change of the simulator's glucose.
func trendOf(rate float64, ok bool) string {
	switch {
	case !ok:
		return "notComputable"
	case rate <= -3:
		return "doubleDown"
	case rate <= -2:
		return "singleDown"
	case rate <= -1:
		return "fortyFiveDown"
	case rate < 1:
		return "flat"
	case rate < 2:
		return "fortyFiveUp"
	case rate < 3:
		return "singleUp"
	}
	return "doubleUp"
}

func trendRate(rate float64, ok bool) string {
	if !ok {
		return "null"
	}
	return strconv.FormatFloat(rate, 'f', 1, 64)
}

// rateOf returns the change per minute from the point 15 minutes before
// pts[i] (pts are 5 minutes apart where the sensor gave values).
func rateOf(pts []glucosim.Point, i int) (float64, bool) {
	if i < 3 || pts[i].Flags != 0 || pts[i-3].Flags != 0 || pts[i].Time.Sub(pts[i-3].Time) != 15*time.Minute {
		return 0, false
	}
	return float64(pts[i].MgDL-pts[i-3].MgDL) / 15, true
}

func (s *Server) dataRange(w http.ResponseWriter, u *user) {
	pts := u.spec.Sim.Historic(s.first(), s.visible())
	var egvs string
	if len(pts) > 0 {
		loc := u.spec.Sim.Location()
		moment := func(t time.Time) string {
			return fmt.Sprintf(`{"systemTime":%q,"displayTime":%q}`, t.UTC().Format("2006-01-02T15:04:05Z"), t.In(loc).Format("2006-01-02T15:04:05-07:00"))
		}
		egvs = fmt.Sprintf(`,"egvs":{"start":%s,"end":%s}`, moment(pts[0].Time), moment(pts[len(pts)-1].Time))
	}
	body := fmt.Sprintf(`{"recordType":"dataRange","recordVersion":"3.0","userId":%q%s}`, u.id, egvs)
	s.write(w, http.StatusOK, []byte(body), u)
}

func (s *Server) devices(w http.ResponseWriter, u *user) {
	app := "G7Android"
	if u.spec.Generation == "g6" {
		app = "G6Android"
	}
	body := fmt.Sprintf(`{"recordType":"device","recordVersion":"3.0","userId":%q,"records":[{"transmitterGeneration":%q,"displayDevice":"android","displayApp":%q,"lastUploadDate":%q,"transmitterId":%q,"alertSchedules":[]}]}`,
		u.id, u.spec.Generation, app, s.visible().UTC().Format("2006-01-02T15:04:05Z"), u.transmitterID)
	s.write(w, http.StatusOK, []byte(body), u)
}

func uuidOf(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Users returns the usernames, in the order they were added.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.order))
	for i, u := range s.order {
		out[i] = u.spec.Username
	}
	return out
}
