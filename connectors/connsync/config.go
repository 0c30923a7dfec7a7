package connsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of [Config].
const (
	// DefaultInterval is how often each connection is synced: five
	// minutes, the cadence known to work without rate limits (the default
	// LINK_UP_TIME_INTERVAL of timoschlueter/nightscout-librelink-up; its
	// maintainer in issue #128: bursts get HTTP 429, 5-minute polling
	// works).
	DefaultInterval = 5 * time.Minute
	// DefaultLeaseTTL is how long a claimed sync stays leased to its
	// replica: a replica that dies mid-sync loses its work after it.
	DefaultLeaseTTL = 2 * time.Minute
	// DefaultWorkers is how many connections a replica syncs at a time.
	DefaultWorkers = 8
	// DefaultLogbookEvery is how often the logbook (scans) is fetched.
	DefaultLogbookEvery = 24 * time.Hour
	// DefaultActionNeededRetry is how often a connection waiting for the
	// patient to act in the app is tried again.
	DefaultActionNeededRetry = time.Hour
	// DefaultRunRetention is how long sync runs are kept.
	DefaultRunRetention = 24 * time.Hour
	// MinInterval bounds Config.Interval from below (tests use seconds;
	// LibreLinkUp should not be polled more than once a minute).
	MinInterval = time.Second
)

// The environment variables read by [ConfigFromEnv].
const (
	EnvLibreLinkUpURL     = "FSECGM_LIBRELINKUP_URL"
	EnvLibreLinkUpRegion  = "FSECGM_LIBRELINKUP_REGION"
	EnvLibreLinkUpVersion = "FSECGM_LIBRELINKUP_VERSION"
	EnvLibreLinkUpTimeout = "FSECGM_LIBRELINKUP_TIMEOUT"
	EnvSyncInterval       = "FSECGM_SYNC_INTERVAL"
	EnvSyncWorkers        = "FSECGM_SYNC_WORKERS"
	EnvSyncLease          = "FSECGM_SYNC_LEASE"
	EnvSyncTick           = "FSECGM_SYNC_TICK"
	EnvReplica            = "FSECGM_REPLICA"
	EnvCredentialsKey     = "FSECGM_CREDENTIALS_KEY"
	EnvCredentialsKeyFile = "FSECGM_CREDENTIALS_KEY_FILE"
	EnvCredentialsOldKeys = "FSECGM_CREDENTIALS_OLD_KEYS"
	EnvEgressAddress      = "FSECGM_EGRESS_ADDRESS"
	EnvLibreLinkUpBudget  = "FSECGM_LIBRELINKUP_BUDGET"
)

// DefaultLibreLinkUpBudget is the request budget of one egress address
// towards LibreLinkUp, in requests a minute, shared by every connection
// and replica behind the address. Abbott publishes no limit. What is known
// (the open-source clients' trackers): about a hundred
// nightscout-librelink-up instances behind one address — two requests a
// minute each at the 1-minute polling most users set, about 200 a
// minute — were blocked by Cloudflare until they were spread over IPv6
// addresses, while three LibreLinkUp phones behind one address are fine
// (timoschlueter/nightscout-librelink-up#143, 2024); in February 2026
// plain HTTP 429s came per source address until a hosted provider doubled
// its addresses from 150 to 300 (#223). 60 requests a minute stays a third
// under the first figure; a 429 halves it (Budget). At one request per
// sync (the token is reused for 180 days), an address syncs 300
// connections every 5 minutes.
const DefaultLibreLinkUpBudget = 60

// Config configures a [Syncer]. Pool, Store and Keys are required.
type Config struct {
	// Pool is the database (migrated by package migrations).
	Pool *pgxpool.Pool
	// Store is the readings store; every reading goes through its
	// IngestTx.
	Store *cgmstore.Store
	// Keys seal and open credentials and sessions.
	Keys *Keyring
	// LibreLinkUp configures the client (BaseURL from
	// FSECGM_LIBRELINKUP_URL, Region, Version, HTTPClient, Now). Its
	// OnWarning and Logger are set by the Syncer.
	LibreLinkUp librelinkup.Config
	// EgressAddress names the address this replica's requests leave from
	// (FSECGM_EGRESS_ADDRESS; default "default"): replicas behind one
	// address share its LibreLinkUp budget.
	EgressAddress string
	// LibreLinkUpBudget is the request budget of the egress address
	// towards LibreLinkUp (PerMinute from FSECGM_LIBRELINKUP_BUDGET,
	// default DefaultLibreLinkUpBudget).
	LibreLinkUpBudget BudgetConfig
	// Dexcom configures the Dexcom API source; nil: Dexcom is not
	// offered.
	Dexcom *DexcomConfig
	// Nightscout configures the Nightscout pull source; nil: not offered.
	Nightscout *NightscoutConfig
	// Logger receives the sync's log lines: never a secret, a name, a
	// fiscal code or a glucose value. Nil discards.
	Logger *slog.Logger
	// Replica names this process in leases and sync runs; default
	// "<hostname>-<pid>-<random>".
	Replica string
	// Interval is how often each connection is synced (DefaultInterval).
	Interval time.Duration
	// Tick is how often this replica looks for due work; default
	// Interval/10, at most 5 s.
	Tick time.Duration
	// LeaseTTL is how long a claim lasts (DefaultLeaseTTL); it must
	// exceed the longest sync (HTTP timeouts included).
	LeaseTTL time.Duration
	// Workers is how many syncs run at a time (DefaultWorkers); Batch how
	// many due connections one claim takes (default 4 × Workers).
	Workers int
	Batch   int
	// LogbookEvery, ActionNeededRetry and RunRetention: see the defaults.
	LogbookEvery      time.Duration
	ActionNeededRetry time.Duration
	RunRetention      time.Duration
	// Observe, when set, is told the end of every sync and follower list
	// run of this replica (see [SyncEvent]): for metrics. It must be fast
	// and safe for concurrent use.
	Observe func(SyncEvent)
}

// The outcomes of a [SyncEvent].
const (
	// OutcomeOK: the sync worked and was recorded.
	OutcomeOK = "ok"
	// OutcomeFailed: the sync failed (SyncEvent.Kind says how) and the
	// failure was recorded on the connection.
	OutcomeFailed = "failed"
	// OutcomeLost: the lease had passed to another replica (or the
	// connection was disconnected): nothing was recorded.
	OutcomeLost = "lost"
	// OutcomeReleased: the work was handed back unrecorded, its lease
	// cleared so that any replica takes it up at once (shutdown, or the
	// outcome could not be written).
	OutcomeReleased = "released"
)

// SyncEvent is the end of one sync of a connection, or of one connection
// list run of a follower account. It holds no secret, name or value.
type SyncEvent struct {
	// Source is the source's name ("librelinkup", "dexcom",
	// "nightscout").
	Source string
	// Follower is true for a follower account's list run.
	Follower bool
	// Outcome is OutcomeOK, OutcomeFailed, OutcomeLost or
	// OutcomeReleased.
	Outcome string
	// Kind names the failure of an OutcomeFailed event: a
	// librelinkup.ErrorKind name ("bad credentials", "rate limited",
	// "server error", ...), "backing off" (no request made while the
	// account is blocked), "internal", or a [UserError] code.
	Kind string
	// Inserted counts the readings inserted.
	Inserted int
	// Duration is the time from claim to outcome.
	Duration time.Duration
}

// EnvOptions tell [ConfigFromEnv] about the process.
type EnvOptions struct {
	// Dev allows a development key file to be created when no key is
	// configured.
	Dev bool
	// DataDir is where the development key file lives (DataDir/
	// secrets/credentials.key); default ".data".
	DataDir string
}

// ConfigFromEnv reads the sync's settings from the environment (getenv is
// os.Getenv in production): FSECGM_LIBRELINKUP_URL (overrides the
// regional host table; "{region}" in it becomes the region code),
// FSECGM_LIBRELINKUP_REGION, FSECGM_LIBRELINKUP_VERSION,
// FSECGM_LIBRELINKUP_TIMEOUT (per request, default 30s), FSECGM_SYNC_INTERVAL (a Go duration, default 5m), FSECGM_SYNC_WORKERS,
// FSECGM_SYNC_LEASE, FSECGM_SYNC_TICK, FSECGM_REPLICA, and the credentials
// key (see [KeyringFromEnv]). The caller sets Pool, Store and Logger.
func ConfigFromEnv(getenv func(string) string, o EnvOptions) (Config, error) {
	var c Config
	var err error
	c.LibreLinkUp.BaseURL = strings.TrimSpace(getenv(EnvLibreLinkUpURL))
	c.LibreLinkUp.Region = strings.TrimSpace(getenv(EnvLibreLinkUpRegion))
	c.LibreLinkUp.Version = strings.TrimSpace(getenv(EnvLibreLinkUpVersion))
	timeout, err := envDuration(getenv, EnvLibreLinkUpTimeout)
	if err != nil {
		return Config{}, err
	}
	if timeout > 0 {
		c.LibreLinkUp.HTTPClient = librelinkup.NewHTTPClient(timeout)
	}
	if c.Interval, err = envDuration(getenv, EnvSyncInterval); err != nil {
		return Config{}, err
	}
	if c.LeaseTTL, err = envDuration(getenv, EnvSyncLease); err != nil {
		return Config{}, err
	}
	if c.Tick, err = envDuration(getenv, EnvSyncTick); err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(getenv(EnvSyncWorkers)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return Config{}, fmt.Errorf("connsync: %s=%q: want a number from 1 to 256", EnvSyncWorkers, v)
		}
		c.Workers = n
	}
	c.Replica = strings.TrimSpace(getenv(EnvReplica))
	c.EgressAddress = strings.TrimSpace(getenv(EnvEgressAddress))
	if v := strings.TrimSpace(getenv(EnvLibreLinkUpBudget)); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n <= 0 || n > 1e6 {
			return Config{}, fmt.Errorf("connsync: %s=%q: want requests a minute, from 1 to 1000000", EnvLibreLinkUpBudget, v)
		}
		c.LibreLinkUpBudget.PerMinute = n
	}
	if c.Dexcom, err = dexcomConfigFromEnv(getenv, o); err != nil {
		return Config{}, err
	}
	if c.Nightscout, err = nightscoutConfigFromEnv(getenv); err != nil {
		return Config{}, err
	}
	if c.Keys, err = KeyringFromEnv(getenv, o); err != nil {
		return Config{}, err
	}
	return c, nil
}

// NewFromEnv is [ConfigFromEnv] followed by [New] with the given pool,
// store and logger: what "fsecgm serve" and "fsecgm sync-worker" call.
func NewFromEnv(getenv func(string) string, o EnvOptions, pool *pgxpool.Pool, store *cgmstore.Store, logger *slog.Logger) (*Syncer, error) {
	cfg, err := ConfigFromEnv(getenv, o)
	if err != nil {
		return nil, err
	}
	cfg.Pool, cfg.Store, cfg.Logger = pool, store, logger
	return New(cfg)
}

func envDuration(getenv func(string) string, name string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("connsync: %s=%q: want a positive duration such as 5m or 30s", name, v)
	}
	return d, nil
}

// Syncer syncs the connections of every configured source and serves the
// connection operations. It is safe for concurrent use; one per process.
type Syncer struct {
	pool    *pgxpool.Pool
	store   *cgmstore.Store
	keys    *Keyring
	client  *librelinkup.Client
	log     *slog.Logger
	replica string

	// The sources, by name and in claim order; their budgets and
	// intervals.
	sources      map[string]Source
	sourceList   []Source
	sourceBudget map[string]*Budget
	budgets      map[string]*Budget
	intervals    map[string]time.Duration
	egress       string
	dexcom       *dexcomSource
	nightscout   *nightscoutSource

	interval, tick, leaseTTL             time.Duration
	workers, batch                       int
	logbookEvery, actionRetry, runRetain time.Duration

	warnings     warningLog
	clientConfig librelinkup.Config // as given, for tests that build another replica
	observe      func(SyncEvent)    // Config.Observe, may be nil
}

// New returns a Syncer for cfg.
func New(cfg Config) (*Syncer, error) {
	if cfg.Pool == nil || cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("connsync: config needs Pool, Store and Keys")
	}
	s := &Syncer{
		pool: cfg.Pool, store: cfg.Store, keys: cfg.Keys, log: cfg.Logger, replica: cfg.Replica,
		interval: cfg.Interval, tick: cfg.Tick, leaseTTL: cfg.LeaseTTL, workers: cfg.Workers, batch: cfg.Batch,
		logbookEvery: cfg.LogbookEvery, actionRetry: cfg.ActionNeededRetry, runRetain: cfg.RunRetention,
		observe: cfg.Observe,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.replica == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		s.replica = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if len(s.replica) > 200 {
		return nil, errors.New("connsync: replica name longer than 200 characters")
	}
	if s.interval == 0 {
		s.interval = DefaultInterval
	}
	if s.interval < MinInterval {
		return nil, fmt.Errorf("connsync: interval %s is shorter than %s", s.interval, MinInterval)
	}
	if s.tick <= 0 {
		s.tick = min(s.interval/10, 5*time.Second)
	}
	if s.leaseTTL <= 0 {
		s.leaseTTL = DefaultLeaseTTL
	}
	if s.workers <= 0 {
		s.workers = DefaultWorkers
	}
	if s.batch <= 0 {
		s.batch = 4 * s.workers
	}
	if s.logbookEvery <= 0 {
		s.logbookEvery = DefaultLogbookEvery
	}
	if s.actionRetry <= 0 {
		s.actionRetry = DefaultActionNeededRetry
	}
	if s.runRetain <= 0 {
		s.runRetain = DefaultRunRetention
	}
	s.egress = cfg.EgressAddress
	if s.egress == "" {
		s.egress = "default"
	}
	if len(s.egress) > 100 {
		return nil, errors.New("connsync: egress address name longer than 100 characters")
	}
	s.sources, s.sourceBudget, s.budgets = map[string]Source{}, map[string]*Budget{}, map[string]*Budget{}
	s.intervals = map[string]time.Duration{SourceLibreLinkUp: s.interval}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lluBudgetCfg := cfg.LibreLinkUpBudget
	if lluBudgetCfg.PerMinute == 0 {
		lluBudgetCfg.PerMinute = DefaultLibreLinkUpBudget
	}
	lluBudget, err := newBudget(ctx, s.pool, SourceLibreLinkUp+"@"+s.egress, lluBudgetCfg)
	if err != nil {
		return nil, err
	}
	s.budgets[lluBudget.Name()] = lluBudget
	s.sourceBudget[SourceLibreLinkUp] = lluBudget
	s.clientConfig = cfg.LibreLinkUp
	lc := cfg.LibreLinkUp
	lc.Logger = s.log
	lc.OnWarning = func(w librelinkup.Warning) {
		s.warnings.add(w)
		s.log.Warn("connsync: operator warning from LibreLinkUp", "op", w.Op, "old_version", w.OldVersion,
			"new_version", w.NewVersion, "text", w.Text.EN)
	}
	if lc.HTTPClient == nil {
		lc.HTTPClient = librelinkup.NewHTTPClient(librelinkup.DefaultTimeout)
	}
	timeout := lc.HTTPClient.Timeout
	// Every LibreLinkUp request of this replica takes a token of the
	// address's budget; a 429 or a protection page cuts it.
	lc.HTTPClient = withBudget(lc.HTTPClient, lluBudget, true)
	c, err := librelinkup.New(lc)
	if err != nil {
		return nil, fmt.Errorf("connsync: %w", err)
	}
	s.client = c
	s.addSource(lluSource{s})
	if cfg.Dexcom != nil {
		if err := s.addDexcom(ctx, *cfg.Dexcom); err != nil {
			return nil, err
		}
	}
	if cfg.Nightscout != nil {
		if err := s.addNightscout(ctx, *cfg.Nightscout); err != nil {
			return nil, err
		}
	}
	if s.leaseTTL <= timeout*3 && timeout > 0 {
		s.log.Warn("connsync: the lease is not much longer than the HTTP timeout: a slow sync may lose its lease",
			"lease", s.leaseTTL, "http_timeout", timeout)
	}
	return s, nil
}

// addSource registers a source.
func (s *Syncer) addSource(src Source) {
	s.sources[src.Name()] = src
	s.sourceList = append(s.sourceList, src)
}

// budget returns the budget named name; nil when there is none.
func (s *Syncer) budget(name string) *Budget { return s.budgets[name] }

// Budgets returns the request budgets of this replica, as they stand.
func (s *Syncer) Budgets(ctx context.Context) ([]BudgetState, error) {
	var out []BudgetState
	for _, src := range s.sourceList {
		if b := s.sourceBudget[src.Name()]; b != nil {
			st, err := b.State(ctx)
			if err != nil {
				return out, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// intervalOf returns the sync interval of a source's connections.
func (s *Syncer) intervalOf(source string) time.Duration {
	if d, ok := s.intervals[source]; ok {
		return d
	}
	return s.interval
}

// Sources returns the names of the configured sources.
func (s *Syncer) Sources() []string {
	out := make([]string, len(s.sourceList))
	for i, src := range s.sourceList {
		out[i] = src.Name()
	}
	return out
}

// Replica returns the name this Syncer writes in leases and runs.
func (s *Syncer) Replica() string { return s.replica }

// Interval returns the sync interval.
func (s *Syncer) Interval() time.Duration { return s.interval }

// warningLog keeps the last operator warnings.
type warningLog struct {
	mu sync.Mutex
	ws []librelinkup.Warning
}

func (l *warningLog) add(w librelinkup.Warning) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ws) == 100 {
		l.ws = append(l.ws[:0], l.ws[1:]...)
	}
	l.ws = append(l.ws, w)
}

func (l *warningLog) list() []librelinkup.Warning {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]librelinkup.Warning(nil), l.ws...)
}
