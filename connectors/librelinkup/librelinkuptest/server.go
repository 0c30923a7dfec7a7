package librelinkuptest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

// Defaults of [Options].
const (
	// DefaultMinVersion is the minimum app version since 8 October 2025
	// (Abbott's e-mail quoted in timoschlueter/nightscout-librelink-up issue
	// #201; the 920 body in pachi81/GlucoDataHandler commit 1eb94ec0).
	DefaultMinVersion = "4.16.0"
	// TokenLifetime is the lifetime of a login token: 180 days
	// (authTicket.duration 15552000000 ms).
	TokenLifetime = 180 * 24 * time.Hour
	// StepTokenLifetime is the lifetime of the token of a step reply.
	StepTokenLifetime = time.Hour
	// DefaultGraphSpan and DefaultGraphLag place graphData: about 12 h
	// ending about 17 minutes before now (timoschlueter/nightscout-librelink-up
	// tests/data/graph.json; gui-dos/DiaBLE's "17-minute delay").
	DefaultGraphSpan = 12 * time.Hour
	DefaultGraphLag  = 17 * time.Minute
	// Lockout: 3 failures within 60 s lock the account for 300 s (the
	// fields of the "locked" body, timoschlueter/nightscout-librelink-up
	// issues #146 and #218).
	DefaultLockoutFailures = 3
	DefaultLockoutWindow   = 60 * time.Second
	DefaultLockoutDuration = 300 * time.Second
)

// Options configures a [Server]. The zero value is ready to use.
type Options struct {
	// Now is the server's clock (time.Now by default). Give it a [Clock]'s
	// Now to move time in tests; token expiry, lockouts and the simulated
	// glucose all follow it.
	Now func() time.Time
	// MinVersion is the minimum version header of the data calls
	// (DefaultMinVersion); below it they answer 403 with status 920.
	MinVersion string
	// Secret is the HS256 key of the tokens (a fixed test key by default).
	Secret []byte
	// WrongAccountIDStatus is the HTTP status of a data call whose
	// Account-Id header is present but wrong: 401 (default) or 403. The real
	// server's answer is unknown: no client or report shows it.
	WrongAccountIDStatus int
	// StrangerHost911 makes a login on a regional host other than the
	// account's answer {"status":911} instead of a redirect.
	StrangerHost911 bool
	// GraphSpan and GraphLag place graphData (DefaultGraphSpan,
	// DefaultGraphLag).
	GraphSpan, GraphLag time.Duration
	// LockoutFailures failed logins within LockoutWindow lock the account
	// for LockoutDuration (3, 60 s, 300 s).
	LockoutFailures int
	LockoutWindow   time.Duration
	LockoutDuration time.Duration
	// Logger receives one debug line per request (no secrets). Default:
	// discard.
	Logger *slog.Logger
	// AddressLimit, when positive, is how many requests one client address
	// may make in each AddressWindow (default a minute, on the wall clock,
	// not Now) before every further request of the window answers HTTP 429
	// Too Many Requests with a Retry-After to the window's end: the limit
	// per source address that LibreLinkUp (or Cloudflare in front of it)
	// applies since 2026 (reference librelinkup.md §8; its size is not
	// published).
	AddressLimit  int
	AddressWindow time.Duration
}

// Patient is a simulated person whose sensor data the fake serves.
type Patient struct {
	// ID is the patientId; derived from the simulator's seed when empty.
	ID string
	// FirstName and LastName are the names shown in the connection.
	FirstName, LastName string
	// Country is an ISO 3166-1 alpha-2 code ("IT" by default).
	Country string
	// Unit is the unit of the patient's app: `Value` fields and uom follow
	// it (mg/dL by default). ValueInMgPerDl is always mg/dL.
	Unit cgm.Unit
	// Sim produces the glucose; required. Its Location is the zone of the
	// `Timestamp` fields.
	Sim *glucosim.Patient
	// TargetLow and TargetHigh are the target range in mg/dL (70/180).
	TargetLow, TargetHigh int
	// AlarmLow and AlarmHigh are the alarm thresholds in mg/dL (70/250);
	// the logbook has an alarm where glucose crosses them.
	AlarmLow, AlarmHigh int
}

// Account is a LibreLinkUp account: a patient following themselves, or a
// follower (a caregiver, or the region's account) following many patients.
type Account struct {
	// Email and Password are the credentials; the e-mail is matched
	// without regard to case.
	Email, Password string
	// Region is the account's home region ("eu" by default): a login
	// elsewhere is redirected there.
	Region string
	// Country is an ISO 3166-1 alpha-2 code ("IT" by default).
	Country string
	// FirstName and LastName are the account holder's names.
	FirstName, LastName string
	// Unit is the unit of the account (uom), mg/dL by default.
	Unit cgm.Unit
	// Follows lists the IDs of the patients whose data the account sees.
	Follows []string
	// Steps are pending steps, completed in order: "tou", "pp",
	// "verifyEmail".
	Steps []string
	// UserID is the account's user id; derived from the e-mail when empty.
	UserID string
	// FiscalCode is, for an account that Populate made for a patient, the
	// codice fiscale of the person it follows, derived from their names
	// (codicefiscale.Derive), so that a test or demo patient with this
	// code passes the identity check of the binding. Empty otherwise; the
	// fake never sends it.
	FiscalCode string
}

// Endpoint is a set of endpoints, for [Faults.On].
type Endpoint uint8

// The endpoints a fault can be limited to.
const (
	EndpointLogin Endpoint = 1 << iota
	EndpointConnections
	EndpointGraph
	EndpointLogbook
	AllEndpoints = EndpointLogin | EndpointConnections | EndpointGraph | EndpointLogbook
)

// Faults are the failures an account's requests meet, as the open-source
// clients' trackers report them (timoschlueter/nightscout-librelink-up
// issues #128, #129, #182; status 911 in gui-dos/DiaBLE). The zero value is a healthy
// account. Lockouts, steps and expired tokens have their own methods
// ([Server.Lock], [Server.SetSteps], [Server.ExpireTokens]).
type Faults struct {
	// On limits the request faults below (Delay to DropConnection) to some
	// endpoints; 0 means all.
	On Endpoint
	// Delay holds each request that long before answering (a slow server,
	// or a timeout for a client with a shorter one).
	Delay time.Duration
	// Cloudflare answers an HTML block page with this status (403 or 429).
	Cloudflare int
	// RateLimit answers HTTP 429 Too Many Requests, with a Retry-After of
	// RetryAfter (whole seconds, or an HTTP date with RetryAfterDate) when
	// RetryAfter > 0.
	RateLimit      bool
	RetryAfter     time.Duration
	RetryAfterDate bool
	// ServerError answers this 5xx status.
	ServerError int
	// Maintenance answers {"status":911}.
	Maintenance bool
	// TruncatedJSON cuts the JSON body in half (a complete HTTP answer);
	// DropConnection declares the full length and closes the connection
	// half-way; MalformedJSON makes the body invalid JSON.
	TruncatedJSON  bool
	DropConnection bool
	MalformedJSON  bool

	// BadCredentials makes every login fail with status 2, as a wrong
	// password does (and counts towards the lockout).
	BadCredentials bool
	// MinimumVersion overrides Options.MinVersion for this account.
	MinimumVersion string
	// Unauthorized answers 401 to every authenticated call, even with a
	// fresh token.
	Unauthorized bool
	// EmptyConnections answers an empty connection list; SensorNull sends
	// "sensor": null; NoActiveSensors leaves activeSensors out of graphs.
	EmptyConnections bool
	SensorNull       bool
	NoActiveSensors  bool

	// LoginRefused makes a login with the right password answer this
	// HTTP status (430 or 403) with an empty body, as LibreLinkUp did from
	// 2024 until the account holder accepted new documents (reference
	// librelinkup.md §8). TwoFactor makes it answer status 0 with the user
	// but no authTicket: the account must give a two-factor code.
	LoginRefused int
	TwoFactor    bool
}

// applies reports whether the request faults are on for endpoint e.
func (f *Faults) applies(e Endpoint) bool { return f.On == 0 || f.On&e != 0 }

// Stats counts what an account's requests met.
type Stats struct {
	// Logins counts login requests for the e-mail (redirected ones too).
	Logins int
	// FailedLogins counts status 2 answers; Locked counts "locked"
	// answers; Steps counts status 4 step answers; Redirects counts
	// redirect answers.
	FailedLogins, Locked, Steps, Redirects int
	// SuccessfulLogins counts tokens issued by login or by a completed step.
	SuccessfulLogins int
	// Continues counts /auth/continue requests (a client that never
	// accepts on the patient's behalf makes none).
	Continues int
	// Connections, Graphs and Logbooks count data requests that reached
	// the account (after the token check); Unauthorized counts 401 answers.
	Connections, Graphs, Logbooks, Unauthorized int
}

// counters are the live Stats.
type counters struct {
	logins, failed, locked, steps, redirects, ok, continues atomic.Int64
	connections, graphs, logbooks, unauthorized             atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Logins: int(c.logins.Load()), FailedLogins: int(c.failed.Load()), Locked: int(c.locked.Load()),
		Steps: int(c.steps.Load()), Redirects: int(c.redirects.Load()), SuccessfulLogins: int(c.ok.Load()),
		Continues: int(c.continues.Load()), Connections: int(c.connections.Load()), Graphs: int(c.graphs.Load()),
		Logbooks: int(c.logbooks.Load()), Unauthorized: int(c.unauthorized.Load()),
	}
}

// account is an Account's live state.
type account struct {
	spec      Account // Email lower-case; Follows and Steps are not used after creation
	accountID string  // sha256 hex of UserID
	deviceID  string  // the account's app install, listed in user.devices

	mu          sync.Mutex
	password    string
	steps       []string
	faults      Faults
	failures    []time.Time
	lockedUntil time.Time
	follows     []*patient
	tokenSeq    int64
	revokedSeq  int64
	ticket      cachedTicket
}

type cachedTicket struct {
	second int64
	token  string
	exp    time.Time
}

// Server is a fake LibreLinkUp: an http.Handler speaking the real wire
// format for every region, with accounts, simulated patients and
// switchable faults. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	key  []byte
	log  *slog.Logger

	mu       sync.RWMutex
	accounts map[string]*account // by lower-case e-mail
	byUserID map[string]*account
	patients map[string]*patient
	order    []*patient
	stats    map[string]*counters // by lower-case e-mail, also unknown ones

	requests atomic.Int64
	pools    pools

	addrMu      sync.Mutex
	addrWindow  time.Time      // start of the current address window
	addrCounts  map[string]int // requests per client address in it
	addrRefused atomic.Int64

	hs *httptest.Server
}

// New returns a fake LibreLinkUp with no accounts. Serve it with
// [Server.Start], httptest.NewServer, or an http.Server.
func New(opts Options) *Server {
	s := &Server{
		opts:     opts,
		now:      opts.Now,
		key:      opts.Secret,
		log:      opts.Logger,
		accounts: make(map[string]*account),
		byUserID: make(map[string]*account),
		patients: make(map[string]*patient),
		stats:    make(map[string]*counters),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.key) == 0 {
		s.key = []byte("fsecgm fake LibreLinkUp HS256 key (not a secret)")
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.MinVersion == "" {
		s.opts.MinVersion = DefaultMinVersion
	}
	if s.opts.WrongAccountIDStatus == 0 {
		s.opts.WrongAccountIDStatus = http.StatusUnauthorized
	}
	if s.opts.GraphSpan <= 0 {
		s.opts.GraphSpan = DefaultGraphSpan
	}
	if s.opts.GraphLag <= 0 {
		s.opts.GraphLag = DefaultGraphLag
	}
	if s.opts.LockoutFailures <= 0 {
		s.opts.LockoutFailures = DefaultLockoutFailures
	}
	if s.opts.LockoutWindow <= 0 {
		s.opts.LockoutWindow = DefaultLockoutWindow
	}
	if s.opts.LockoutDuration <= 0 {
		s.opts.LockoutDuration = DefaultLockoutDuration
	}
	return s
}

// Start serves the fake on a new listener on 127.0.0.1 and returns
// [Server.URL]. Close stops it.
func (s *Server) Start() string {
	s.hs = httptest.NewServer(s)
	return s.URL()
}

// URL returns the base URL template of a started server, for the client's
// Config.BaseURL (FSECGM_LIBRELINKUP_URL): "http://127.0.0.1:PORT/{region}".
func (s *Server) URL() string {
	if s.hs == nil {
		return ""
	}
	return TemplateURL(s.hs.URL)
}

// TemplateURL returns the base URL template of a fake served at serverURL
// ("http://host:port"): serverURL + "/{region}". The fake serves region xx
// under the path prefix /xx, and the global host under /global (or under
// no prefix); it also recognises the real host names in the Host header.
func TemplateURL(serverURL string) string {
	return strings.TrimRight(serverURL, "/") + "/{region}"
}

// Close stops a started server.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// Requests returns the number of requests served.
func (s *Server) Requests() int64 { return s.requests.Load() }

// AddressRefusals returns how many requests the per-address limit
// (Options.AddressLimit) refused.
func (s *Server) AddressRefusals() int64 { return s.addrRefused.Load() }

// SetAddressLimit changes the per-address limit (0: none).
func (s *Server) SetAddressLimit(n int, window time.Duration) {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	s.opts.AddressLimit, s.opts.AddressWindow = n, window
	s.addrCounts, s.addrWindow = nil, time.Time{}
}

// overAddressLimit counts a request of the client address of r and reports
// whether it goes beyond the per-address limit, with the wait until the
// window ends.
func (s *Server) overAddressLimit(r *http.Request) (bool, time.Duration) {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	if s.opts.AddressLimit <= 0 {
		return false, 0
	}
	window := s.opts.AddressWindow
	if window <= 0 {
		window = time.Minute
	}
	now := time.Now()
	if s.addrCounts == nil || !now.Before(s.addrWindow.Add(window)) {
		s.addrCounts, s.addrWindow = map[string]int{}, now
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.addrCounts[host]++
	if s.addrCounts[host] > s.opts.AddressLimit {
		return true, s.addrWindow.Add(window).Sub(now)
	}
	return false, 0
}

// AddPatient adds a simulated patient and returns its ID.
func (s *Server) AddPatient(p Patient) (string, error) {
	if p.Sim == nil {
		return "", errors.New("librelinkuptest: patient without simulator")
	}
	pt, err := newPatient(p)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.patients[pt.spec.ID]; dup {
		return "", fmt.Errorf("librelinkuptest: patient %s already exists", pt.spec.ID)
	}
	s.patients[pt.spec.ID] = pt
	s.order = append(s.order, pt)
	return pt.spec.ID, nil
}

// AddAccount adds an account. Its Follows must name patients already added.
func (s *Server) AddAccount(a Account) error {
	a.Email = strings.ToLower(strings.TrimSpace(a.Email))
	if a.Email == "" || a.Password == "" {
		return errors.New("librelinkuptest: account needs an e-mail and a password")
	}
	if a.Region == "" {
		a.Region = "eu"
	}
	if a.Country == "" {
		a.Country = "IT"
	}
	if a.Unit == 0 {
		a.Unit = cgm.MgDL
	}
	if a.UserID == "" {
		a.UserID = uuidFrom(hashString("user " + a.Email))
	}
	if !regionCode(a.Region) {
		return fmt.Errorf("librelinkuptest: account %s: bad region %q", a.Email, a.Region)
	}
	for _, st := range a.Steps {
		if _, ok := stepProps(st); !ok {
			return fmt.Errorf("librelinkuptest: account %s: unknown step %q", a.Email, st)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.accounts[a.Email]; dup {
		return fmt.Errorf("librelinkuptest: account %s already exists", a.Email)
	}
	acc := &account{spec: a, accountID: sha256Hex(a.UserID), deviceID: uuidFrom(hashString("device " + a.Email)),
		password: a.Password, steps: append([]string(nil), a.Steps...)}
	for _, id := range a.Follows {
		p, ok := s.patients[id]
		if !ok {
			return fmt.Errorf("librelinkuptest: account %s follows unknown patient %s", a.Email, id)
		}
		acc.follows = append(acc.follows, p)
	}
	s.accounts[a.Email] = acc
	s.byUserID[a.UserID] = acc
	return nil
}

// Accounts returns every account added so far, ordered by e-mail, with
// its current password.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		spec := a.spec
		spec.Password = a.password
		out = append(out, spec)
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.Email, b.Email) })
	return out
}

// account returns the account of an e-mail, or an error.
func (s *Server) account(email string) (*account, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.accounts[strings.ToLower(strings.TrimSpace(email))]
	if !ok {
		return nil, fmt.Errorf("librelinkuptest: no account %s", email)
	}
	return a, nil
}

// counters returns the counters of an e-mail, creating them.
func (s *Server) counters(email string) *counters {
	email = strings.ToLower(strings.TrimSpace(email))
	s.mu.RLock()
	c, ok := s.stats[email]
	s.mu.RUnlock()
	if ok {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok = s.stats[email]; !ok {
		c = new(counters)
		s.stats[email] = c
	}
	return c
}

// Stats returns the counters of an e-mail (zero for one never seen).
func (s *Server) Stats(email string) Stats { return s.counters(email).snapshot() }

// SetFaults replaces the faults of an account.
func (s *Server) SetFaults(email string, f Faults) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.faults = f
	a.mu.Unlock()
	return nil
}

// SetSteps replaces the pending steps of an account ("tou", "pp",
// "verifyEmail"); none clears them, as a patient accepting in the app does.
func (s *Server) SetSteps(email string, steps ...string) error {
	for _, st := range steps {
		if _, ok := stepProps(st); !ok {
			return fmt.Errorf("librelinkuptest: unknown step %q", st)
		}
	}
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.steps = append([]string(nil), steps...)
	a.mu.Unlock()
	return nil
}

// SetPassword changes an account's password.
func (s *Server) SetPassword(email, password string) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.password = password
	a.mu.Unlock()
	return nil
}

// Lock locks an account for d from now (as 3 failed logins do); d <= 0
// unlocks it and forgets past failures.
func (s *Server) Lock(email string, d time.Duration) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if d > 0 {
		a.lockedUntil = s.now().Add(d)
	} else {
		a.lockedUntil, a.failures = time.Time{}, nil
	}
	a.mu.Unlock()
	return nil
}

// ExpireTokens makes every token issued so far to the account invalid: the
// next authenticated call answers 401 "invalid or expired jwt".
func (s *Server) ExpireTokens(email string) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.revokedSeq = a.tokenSeq
	a.ticket = cachedTicket{}
	a.mu.Unlock()
	return nil
}

// Follow makes an account follow a patient (the patient shared their data
// from the app); Unfollow stops it.
func (s *Server) Follow(email, patientID string) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	s.mu.RLock()
	p, ok := s.patients[patientID]
	s.mu.RUnlock()
	if !ok {
		return fmt.Errorf("librelinkuptest: no patient %s", patientID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, q := range a.follows {
		if q == p {
			return nil
		}
	}
	a.follows = append(a.follows, p)
	return nil
}

// Unfollow stops an account from following a patient.
func (s *Server) Unfollow(email, patientID string) error {
	a, err := s.account(email)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, q := range a.follows {
		if q.spec.ID == patientID {
			a.follows = append(a.follows[:i:i], a.follows[i+1:]...)
			break
		}
	}
	return nil
}

// Patient returns the patient with an ID (its Sim gives the expected data).
func (s *Server) Patient(id string) (Patient, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.patients[id]
	if !ok {
		return Patient{}, false
	}
	return p.spec, true
}

// AccountIDOf returns the Account-Id header the fake expects from an
// account: the hex SHA-256 of its user id.
func (s *Server) AccountIDOf(email string) (string, error) {
	a, err := s.account(email)
	if err != nil {
		return "", err
	}
	return a.accountID, nil
}

// Clock is a settable clock for tests: give its Now to the fake and to
// the client.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
