package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/notify/mailtest"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/telemetry"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The environment variables of "fsecgm serve" (flags override them).
const (
	envAddr        = "FSECGM_ADDR"
	envDatabaseURL = "DATABASE_URL"
	// envReplicaURL names a hot standby for the reads that write nothing.
	envReplicaURL   = "FSECGM_DATABASE_REPLICA_URL"
	envBaseURL      = "FSECGM_BASE_URL"
	envLogLevel     = "FSECGM_LOG_LEVEL"
	envOIDCIssuer   = "FSECGM_OIDC_ISSUER"
	envOIDCAudience = "FSECGM_OIDC_AUDIENCE"
	envOIDCJWKSURL  = "FSECGM_OIDC_JWKS_URL"
	// envOIDCClientIDs lists the OAuth clients whose access tokens are
	// accepted without the typ header at+jwt (RFC 9068 §2.1), comma-separated.
	envOIDCClientIDs = "FSECGM_OIDC_CLIENT_IDS"
	envTrustProxy    = "FSECGM_TRUST_PROXY"
	// envMetricsAddr moves /metrics to a listener of its own.
	envMetricsAddr = "FSECGM_METRICS_ADDR"
	// envShutdownTimeout bounds the graceful shutdown.
	envShutdownTimeout = "FSECGM_SHUTDOWN_TIMEOUT"
	// envDelegationMaxYears bounds how far ahead a delegation may expire.
	envDelegationMaxYears = "FSECGM_DELEGATION_MAX_YEARS"
	// envSubscriptions names the JSON file of the FHIR record servers
	// summaries are delivered to (records.ParseSubscriptions).
	envSubscriptions = "FSECGM_SUBSCRIPTIONS_FILE"
	// envSMTPURL names the mail server of the access notifications
	// (notify.ParseSMTPURL); without it, and without --dev, they are off.
	envSMTPURL = "FSECGM_SMTP_URL"
	// envMailFrom is the notifications' sender address.
	envMailFrom = "FSECGM_MAIL_FROM"
	// envDigestHour is the local hour of the daily digests.
	envDigestHour = "FSECGM_NOTIFY_DIGEST_HOUR"
	// envCompactAfter is the age after which readings move to the compact
	// form on plain PostgreSQL (cgmstore.Store.CompactHistory).
	envCompactAfter = "FSECGM_COMPACT_AFTER"
	// envPopulationAt is the local time of the population view's nightly
	// refresh, or "off".
	envPopulationAt = "FSECGM_POPULATION_REFRESH_AT"
)

// devBaseURL is the external URL assumed in development mode when none is
// given: the FHIR identifiers fsecgm writes are rooted there, so it must
// not change between runs.
const devBaseURL = "http://localhost:8080"

// Timeouts of the HTTP server.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 3 * time.Minute // CSV uploads of up to 16 MB on slow links
	writeTimeout      = 3 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// serveConfig is the validated configuration of "fsecgm serve".
type serveConfig struct {
	addr            string
	dev             bool
	databaseURL     string // empty: private server in dataDir
	replicaURL      string // empty: every read on the primary
	dataDir         string
	baseURL         string
	logLevel        slog.Level
	oidcIssuer      string
	oidcAudience    string
	oidcJWKSURL     string
	oidcClientIDs   []string
	trustProxy      bool
	metricsAddr     string // empty: /metrics on addr
	shutdownTimeout time.Duration
	// delegationYears bounds delegations (consent.Options.MaxDelegationYears).
	delegationYears int
	// subscriptions are the FHIR record servers to deliver to, from
	// --subscriptions (nil: keep the stored ones).
	subscriptions     []records.Subscription
	subscriptionsFile string
	devKeyFile        string
	// sync configures the LibreLinkUp connections (connectors/connsync,
	// from its environment variables); fakeLLU starts an in-process fake
	// LibreLinkUp for the demo (--dev without FSECGM_LIBRELINKUP_URL).
	sync    connsync.Config
	fakeLLU bool
	// smtp is the mail server of the access notifications (nil: off, or
	// in development mode the in-process receiver); digestHour the local
	// hour of the daily digests.
	smtp       *notify.SMTPConfig
	mailFrom   string
	digestHour int
	// compactAfter is the age after which readings are compacted (the
	// readings-compact job); 0: the job does not run.
	compactAfter time.Duration
	// populationAt is the local time of the population view's daily
	// refresh; nil: the job does not run.
	populationAt *timeOfDay
}

// parseServe reads the flags and environment of "fsecgm serve" and
// validates them, listing every problem at once.
func parseServe(e *env, args []string) (serveConfig, error) {
	fs := newFlagSet(e, "serve", "[flags]\n\nRuns the taccuino, the JSON API and the background jobs until SIGINT or SIGTERM.\n"+
		"Environment: "+strings.Join([]string{envAddr, envDatabaseURL, envReplicaURL, envBaseURL, envLogLevel, envOIDCIssuer, envOIDCAudience,
		envOIDCJWKSURL, envOIDCClientIDs, envTrustProxy, envMetricsAddr, envShutdownTimeout, envSubscriptions, envSMTPURL, envMailFrom, envDigestHour,
		envCompactAfter, envPopulationAt, devKeyFileEnv}, ", ")+" (flags override them);\n"+
		"sensor sync: "+strings.Join([]string{connsync.EnvCredentialsKey, connsync.EnvCredentialsKeyFile, connsync.EnvCredentialsOldKeys,
		connsync.EnvLibreLinkUpURL, connsync.EnvLibreLinkUpRegion, connsync.EnvLibreLinkUpVersion, connsync.EnvLibreLinkUpTimeout, connsync.EnvSyncInterval,
		connsync.EnvSyncWorkers, connsync.EnvSyncLease, connsync.EnvSyncTick, connsync.EnvReplica}, ", ")+".\n"+
		"Without --dev, the OpenID Connect issuer, audience and JWKS URL, the credentials key and the base URL are required.")
	def := func(name, fallback string) string {
		if v := e.Getenv(name); v != "" {
			return v
		}
		return fallback
	}
	var cfg serveConfig
	fs.StringVar(&cfg.addr, "addr", def(envAddr, ":8080"), "listen `address` (env "+envAddr+")")
	fs.BoolVar(&cfg.dev, "dev", false, "development mode: accept the development issuer's tokens (fsecgm dev-token), serve the demo login page and seed the demo data")
	fs.StringVar(&cfg.databaseURL, "database-url", e.Getenv(envDatabaseURL), "PostgreSQL `URL` (env "+envDatabaseURL+"; when empty, a private server in --data-dir)")
	fs.StringVar(&cfg.replicaURL, "database-replica-url", e.Getenv(envReplicaURL), "`URL` of a hot standby of the database for the reads that write nothing: a patient's own reads of their glucose (env "+envReplicaURL+"; when empty, every read on the primary)")
	fs.StringVar(&cfg.dataDir, "data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	fs.StringVar(&cfg.baseURL, "base-url", e.Getenv(envBaseURL), "external `URL` of the service, e.g. https://taccuino.example.org (env "+envBaseURL+"; HTTPS turns on HSTS and Secure cookies)")
	level := fs.String("log-level", def(envLogLevel, "info"), "log `level`: debug, info, warn or error (env "+envLogLevel+")")
	fs.StringVar(&cfg.oidcIssuer, "oidc-issuer", e.Getenv(envOIDCIssuer), "OpenID Connect issuer `URL` of the regional identity provider (env "+envOIDCIssuer+")")
	fs.StringVar(&cfg.oidcAudience, "oidc-audience", e.Getenv(envOIDCAudience), "expected token `audience` (env "+envOIDCAudience+")")
	fs.StringVar(&cfg.oidcJWKSURL, "oidc-jwks-url", e.Getenv(envOIDCJWKSURL), "`URL` of the provider's JWK Set (env "+envOIDCJWKSURL+")")
	clientIDs := fs.String("oidc-client-ids", e.Getenv(envOIDCClientIDs), "comma-separated OAuth `clients` whose access tokens are accepted without the typ header at+jwt (RFC 9068), for a provider that does not set it (env "+envOIDCClientIDs+"; empty: every token needs it)")
	trust := fs.String("trust-proxy", def(envTrustProxy, "false"), "take the client IP from X-Forwarded-For set by a reverse proxy on a private network: true or false (env "+envTrustProxy+")")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", e.Getenv(envMetricsAddr), "serve /metrics (Prometheus) on this `address` only, e.g. 127.0.0.1:9090 (env "+envMetricsAddr+"; when empty, /metrics is served on --addr); this address also serves Go's profiles at /debug/pprof/")
	fs.StringVar(&cfg.subscriptionsFile, "subscriptions", e.Getenv(envSubscriptions), "JSON `file` of the FHIR record servers CGM summaries are delivered to, stored at start (env "+envSubscriptions+"; see records.ParseSubscriptions)")
	delegationYears := fs.String("delegation-max-years", def(envDelegationMaxYears, strconv.Itoa(consent.DefaultMaxDelegationYears)),
		"how many `years` ahead a delegation may expire at most (env "+envDelegationMaxYears+")")
	shutdown := fs.String("shutdown-timeout", def(envShutdownTimeout, "20s"), "longest `time` from SIGTERM to exit: requests, syncs and deliveries in progress finish or are handed back within it (env "+envShutdownTimeout+")")
	fs.StringVar(&cfg.devKeyFile, "dev-key-file", devKeyFile(e), "development issuer key `file` (env "+devKeyFileEnv+"), with --dev")
	smtpURL := fs.String("smtp-url", e.Getenv(envSMTPURL), "mail server of the access notifications, e.g. smtp://user:password@host:587 (STARTTLS when offered; ?tls=required or ?tls=none) or smtps://host:465 (env "+envSMTPURL+"; without it notifications are off, except with --dev, which starts an in-process receiver shown at /dev/mail)")
	fs.StringVar(&cfg.mailFrom, "mail-from", e.Getenv(envMailFrom), "sender `address` of the notifications (env "+envMailFrom+"; default notifiche@ the base URL's host)")
	digest := fs.String("notify-digest-hour", def(envDigestHour, "8"), "local `hour` (0-23) at which the daily digest of the previous day's accesses is sent (env "+envDigestHour+")")
	compactAfter := fs.String("compact-after", def(envCompactAfter, "30d"), "`age` after which readings move to the compressed history on plain PostgreSQL, in days (30d) or as a duration (720h), at least a day; off: never (env "+envCompactAfter+"; on TimescaleDB its compression policy does this)")
	populationAt := fs.String("population-refresh-at", def(envPopulationAt, "03:30"), "local `time` (HH:MM, Europe/Rome) of the population view's daily refresh, one replica at a time; off: never (env "+envPopulationAt+"; \"fsecgm population refresh\" refreshes it by hand)")
	fakeLLU := fs.Bool("fake-librelinkup", true, "with --dev and no "+connsync.EnvLibreLinkUpURL+": start an in-process fake LibreLinkUp with demo accounts (printed on stdout) for connecting sensors")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.fakeLLU = cfg.dev && *fakeLLU && strings.TrimSpace(e.Getenv(connsync.EnvLibreLinkUpURL)) == ""

	var problems []string
	for _, c := range strings.Split(*clientIDs, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.oidcClientIDs = append(cfg.oidcClientIDs, c)
		}
	}
	if _, _, err := net.SplitHostPort(cfg.addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr %q: want host:port or :port", cfg.addr))
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		problems = append(problems, fmt.Sprintf("--log-level %q: want debug, info, warn or error", *level))
	}
	if b, err := strconv.ParseBool(*trust); err != nil {
		problems = append(problems, fmt.Sprintf("%s %q: want true or false", envTrustProxy, *trust))
	} else {
		cfg.trustProxy = b
	}
	if cfg.baseURL != "" {
		u, err := url.Parse(cfg.baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q: want an absolute http(s) URL such as https://taccuino.example.org", envBaseURL, cfg.baseURL))
		}
	}
	if n, err := strconv.Atoi(*delegationYears); err != nil || n < 1 || n > 100 {
		problems = append(problems, fmt.Sprintf("--delegation-max-years %q: want a whole number of years from 1 to 100", *delegationYears))
	} else {
		cfg.delegationYears = n
	}
	if d, err := time.ParseDuration(*shutdown); err != nil || d <= 0 {
		problems = append(problems, fmt.Sprintf("--shutdown-timeout %q: want a positive duration such as 20s", *shutdown))
	} else {
		cfg.shutdownTimeout = d
	}
	if cfg.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.metricsAddr); err != nil {
			problems = append(problems, fmt.Sprintf("--metrics-addr %q: want host:port or :port", cfg.metricsAddr))
		} else if cfg.metricsAddr == cfg.addr {
			problems = append(problems, "--metrics-addr must differ from --addr (leave it empty to serve /metrics on --addr)")
		}
	}
	if cfg.subscriptionsFile != "" {
		b, err := os.ReadFile(cfg.subscriptionsFile)
		if err == nil {
			cfg.subscriptions, err = records.ParseSubscriptions(b)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("--subscriptions %s: %s", cfg.subscriptionsFile,
				strings.ReplaceAll(strings.TrimPrefix(err.Error(), "records: "), "\n", "; ")))
		}
	}
	if !cfg.dev && cfg.baseURL == "" {
		problems = append(problems, envBaseURL+" (--base-url) is required: the external https URL of the service, "+
			"which also roots the identifiers of the FHIR resources fsecgm writes")
	}
	if !cfg.dev {
		var missing []string
		for _, m := range []struct{ name, v string }{
			{envOIDCIssuer + " (--oidc-issuer)", cfg.oidcIssuer},
			{envOIDCAudience + " (--oidc-audience)", cfg.oidcAudience},
			{envOIDCJWKSURL + " (--oidc-jwks-url)", cfg.oidcJWKSURL},
		} {
			if m.v == "" {
				missing = append(missing, m.name)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, "the regional identity provider is not configured: set "+strings.Join(missing, ", ")+
				" (or run with --dev for the development issuer)")
		}
		if cfg.oidcJWKSURL != "" {
			if u, err := url.Parse(cfg.oidcJWKSURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				problems = append(problems, fmt.Sprintf("%s %q: want an https URL", envOIDCJWKSURL, cfg.oidcJWKSURL))
			}
		}
	}
	if h, err := strconv.Atoi(*digest); err != nil || h < 0 || h > 23 {
		problems = append(problems, fmt.Sprintf("%s %q: want an hour from 0 to 23", envDigestHour, *digest))
	} else {
		cfg.digestHour = h
	}
	if d, err := parseAge(*compactAfter); err != nil {
		problems = append(problems, fmt.Sprintf("%s %q: %v", envCompactAfter, *compactAfter, err))
	} else {
		cfg.compactAfter = d
	}
	if *populationAt != "off" {
		if t, err := parseTimeOfDay(*populationAt); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v, or off", envPopulationAt, *populationAt, err))
		} else {
			cfg.populationAt = &t
		}
	}
	if cfg.mailFrom == "" {
		host := "fsecgm.localhost"
		if u, err := url.Parse(cfg.baseURL); err == nil && strings.Contains(u.Hostname(), ".") {
			host = u.Hostname()
		}
		cfg.mailFrom = "notifiche@" + host
	}
	if *smtpURL != "" {
		sc, err := notify.ParseSMTPURL(*smtpURL, cfg.mailFrom)
		if err != nil {
			problems = append(problems, envSMTPURL+": "+strings.TrimPrefix(err.Error(), "notify: invalid: "))
		} else {
			cfg.smtp = &sc
		}
	} else if _, err := notify.NormalizeEmail(cfg.mailFrom); err != nil {
		problems = append(problems, fmt.Sprintf("%s %q: not an e-mail address", envMailFrom, cfg.mailFrom))
	}
	sc, err := connsync.ConfigFromEnv(e.Getenv, connsync.EnvOptions{Dev: cfg.dev, DataDir: filepath.Dir(cfg.dataDir)})
	if err != nil {
		problems = append(problems, "sensor sync: "+strings.TrimPrefix(err.Error(), "connsync: "))
	}
	cfg.sync = sc
	if len(problems) > 0 {
		return cfg, usageError(errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  ")))
	}
	return cfg, nil
}

// runServe runs the service until ctx is done (SIGINT, SIGTERM), then shuts
// down within the shutdown timeout (see shutdown).
func runServe(ctx context.Context, e *env, args []string) error {
	cfg, err := parseServe(e, args)
	if err != nil {
		return err
	}
	// Every line logged with a request's context carries its id.
	logger := slog.New(telemetry.RequestIDHandler(slog.NewJSONHandler(e.Stderr, &slog.HandlerOptions{Level: cfg.logLevel})))
	metrics := telemetry.New()

	dbURL := cfg.databaseURL
	if dbURL == "" {
		srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: cfg.dataDir, Logger: logger})
		if err != nil {
			return fmt.Errorf("no DATABASE_URL, and the private PostgreSQL in %s did not start: %w", cfg.dataDir, err)
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				logger.Error("stopping the private PostgreSQL", slog.String("err", err.Error()))
			}
		}()
		if err := srv.CreateDatabase(ctx, privateDatabase); err != nil {
			return err
		}
		dbURL = srv.URL(privateDatabase)
	}
	workers := cfg.sync.Workers
	if workers <= 0 {
		workers = connsync.DefaultWorkers
	}
	conns := workers + poolOthers
	if cfg.smtp != nil || cfg.dev {
		conns += notifyConns
	}
	pool, err := newPool(ctx, dbURL, conns)
	if err != nil {
		return err
	}
	var replica *pgxpool.Pool
	if cfg.replicaURL != "" {
		if replica, err = newPool(ctx, cfg.replicaURL, poolOthers); err != nil {
			pool.Close()
			return fmt.Errorf("replica: %w", err)
		}
		defer replica.Close()
	}
	poolClosed := false
	defer func() {
		if !poolClosed {
			pool.Close()
		}
	}()
	res, err := migrations.Apply(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logger.Info("database ready", slog.Int64("schema_version", res.Version), slog.Int("applied", len(res.Applied)),
		slog.String("readings_storage", res.Storage))
	if err := metrics.WatchPool(pool); err != nil {
		return err
	}

	store := cgmstore.New(pool, cgmstore.Options{Logger: logger, OnIngest: func(src cgmstore.Source, r cgmstore.Result) {
		metrics.ObserveIngest(src.String(), r.Inserted, r.Duplicate, r.Revised, r.Rejected)
	}})
	baseURL := cfg.baseURL
	if baseURL == "" {
		baseURL = devBaseURL
	}
	rec, err := records.New(pool, records.Options{Base: strings.TrimSuffix(baseURL, "/") + "/fhir", Logger: logger})
	if err != nil {
		return err
	}
	for _, sub := range cfg.subscriptions {
		if _, err := rec.PutSubscription(ctx, sub); err != nil {
			return fmt.Errorf("subscription %s: %w", sub.Name, err)
		}
	}
	if len(cfg.subscriptions) > 0 {
		logger.Info("subscriptions stored", slog.Int("count", len(cfg.subscriptions)))
	}
	if err := metrics.WatchOutbox(func(ctx context.Context) (telemetry.OutboxStats, error) {
		st, err := rec.Stats(ctx)
		return telemetry.OutboxStats{Pending: st.Pending, Leased: st.Leased, Poisoned: st.Poisoned, Delivered: st.Delivered,
			Cancelled: st.Cancelled, OldestPending: st.OldestPending}, err
	}, logger); err != nil {
		return err
	}

	deps := taccuino.Deps{
		Deps: web.Deps{
			Logger:  logger,
			Pool:    pool,
			Store:   store,
			Consent: consent.New(pool, consent.Options{Logger: logger, MaxDelegationYears: cfg.delegationYears, Replica: replica}),
			BaseURL: cfg.baseURL,
			Dev:     cfg.dev,
		},
		TrustProxy: cfg.trustProxy,
		Records:    rec,
		Sessions:   sessions.New(pool, sessions.Options{Logger: logger}),
	}
	// The summaries: kept up to date by the updater job from the dirty
	// marks the ingestion leaves, published to the records (FHIR
	// resources and outbox), read by the clinic view and the reports.
	updater := summaries.NewUpdater(pool, store, summaries.Options{Logger: logger, Publisher: rec, VitalsPublisher: rec, HbA1c: summaries.RecordsHbA1c(rec)})
	deps.Reports = reports.Options{Summaries: summaries.NewStore(pool), Refresher: updater, HbA1c: summaries.RecordsHbA1c(rec)}
	vctx, stopVerifier := context.WithCancel(ctx)
	defer stopVerifier()
	if cfg.dev {
		iss, err := auth.OpenDevIssuer(cfg.devKeyFile)
		if err != nil {
			return err
		}
		vc := iss.VerifierConfig()
		vc.Logger = logger
		if deps.Verifier, err = auth.NewVerifier(vctx, vc); err != nil {
			return err
		}
		deps.DevIssuer = iss
		if deps.Demo, err = taccuino.SeedDemo(ctx, deps.Deps); err != nil {
			return err
		}
		logger.Warn("development mode: only development tokens are accepted; demo data seeded; do not use with real data")
	} else {
		deps.Verifier, err = auth.NewVerifier(vctx, auth.Config{Issuer: cfg.oidcIssuer, Audience: cfg.oidcAudience,
			JWKSURL: cfg.oidcJWKSURL, ClientIDs: cfg.oidcClientIDs, Logger: logger})
		if err != nil {
			return err
		}
	}
	var demoAccounts []librelinkuptest.Account
	if cfg.fakeLLU {
		fake := librelinkuptest.New(librelinkuptest.Options{})
		accounts, err := populateDemo(fake)
		if err != nil {
			return err
		}
		demoAccounts = accounts
		template := fake.Start() // "http://127.0.0.1:PORT/{region}"
		defer fake.Close()
		cfg.sync.LibreLinkUp.BaseURL = template
		if cfg.sync.LibreLinkUpBudget.PerMinute == 0 {
			// The in-process fake limits no address.
			cfg.sync.LibreLinkUpBudget.PerMinute = 60000
		}
		printAccounts(e, fake, accounts, strings.TrimSuffix(template, "/"+librelinkup.RegionPlaceholder))
		logger.Warn("development mode: sensors connect to an in-process fake LibreLinkUp (its demo accounts are printed on stdout)")
	}
	cfg.sync.Pool, cfg.sync.Store, cfg.sync.Logger = pool, deps.Store, logger
	cfg.sync.Observe = func(ev connsync.SyncEvent) {
		metrics.ObserveSync(telemetry.SyncRun{Source: ev.Source, Follower: ev.Follower, Outcome: ev.Outcome, Kind: ev.Kind, Duration: ev.Duration})
	}
	if deps.Sync, err = connsync.New(cfg.sync); err != nil {
		return err
	}
	if demoAccounts != nil {
		if err := configureDemoFollower(ctx, deps.Sync, pool, demoAccounts); err != nil {
			return fmt.Errorf("demo follower account: %w", err)
		}
	}
	// Access notifications: the configured mail server, or in development
	// mode an in-process receiver whose messages /dev/mail shows.
	if cfg.smtp == nil && cfg.dev {
		mt, err := mailtest.Start(mailtest.Options{Keep: 200})
		if err != nil {
			return err
		}
		defer mt.Close()
		sc, err := notify.ParseSMTPURL(mt.URL(), cfg.mailFrom)
		if err != nil {
			return err
		}
		cfg.smtp, deps.DevMail = &sc, mt
		fmt.Fprintf(e.Stdout, "development mail receiver: %s (FSECGM_SMTP_URL); received messages at %s/dev/mail\n",
			mt.URL(), strings.TrimSuffix(baseURL, "/"))
		logger.Warn("development mode: notification e-mails go to an in-process SMTP receiver, shown at /dev/mail")
	}
	var notifyStore *notify.Store
	var mailer notify.Mailer
	if cfg.smtp != nil {
		notifyStore = notify.New(pool, deps.Consent, notify.Options{Logger: logger})
		mailer = notify.NewSMTPMailer(*cfg.smtp)
		deps.Notify = &notify.Service{Store: notifyStore, Mailer: mailer, BaseURL: baseURL}
		if err := metrics.WatchNotifications(func(ctx context.Context) (telemetry.NotificationStats, error) {
			st, err := notifyStore.Stats(ctx)
			return telemetry.NotificationStats{Pending: st.Pending, Leased: st.Leased, Dead: st.Dead, Bounced: st.Bounced,
				Sent: st.Sent, Cancelled: st.Cancelled, Queued: st.Queued, OldestPending: st.OldestPending}, err
		}, logger); err != nil {
			return err
		}
		logger.Info("access notifications on", slog.String("smtp", cfg.smtp.Redacted()), slog.Int("digest_hour", cfg.digestHour))
	} else {
		logger.Warn("access notifications are off: set " + envSMTPURL)
	}
	handler, err := taccuino.New(deps)
	if err != nil {
		return err
	}

	// /metrics on the service's listener, unless it has one of its own.
	mux := http.NewServeMux()
	if cfg.metricsAddr == "" {
		mux.Handle("GET /metrics", metrics.Handler())
	}
	mux.Handle("/", handler)
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	servers := []*listener{{name: "http", ln: ln, srv: newHTTPServer(ctx, metrics.Instrument(mux), logger)}}
	if cfg.metricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (--metrics-addr): %w", cfg.metricsAddr, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics.Handler())
		// The operator's address also serves Go's profiles (never the
		// public one): what a CPU or heap profile of a busy replica shows.
		mmux.HandleFunc("/debug/pprof/", pprof.Index)
		mmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mmux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		servers = append(servers, &listener{name: "metrics", ln: mln, srv: newHTTPServer(ctx, mmux, logger)})
		logger.Info("metrics listening", slog.String("addr", mln.Addr().String()))
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()), slog.Bool("dev", cfg.dev))

	var refresher *population.Refresher
	var refreshAt timeOfDay
	if cfg.populationAt != nil {
		refresher = population.NewRefresher(pool, deps.Store, population.Options{Logger: logger})
		refreshAt = *cfg.populationAt
	}
	jobs, err := serveJobs(jobDeps{Logger: logger, Pool: pool, Store: deps.Store, Consent: deps.Consent, Sync: deps.Sync,
		Sessions: deps.Sessions, Records: rec, Summaries: updater, Getenv: e.Getenv, Dev: cfg.dev, ShutdownTimeout: cfg.shutdownTimeout,
		Notify: notifyStore, Mailer: mailer, Compose: notify.ComposerOptions{BaseURL: baseURL, From: cfg.mailFrom, DigestHour: cfg.digestHour},
		CompactAfter: cfg.compactAfter, Population: refresher, PopulationAt: refreshAt})
	if err != nil {
		for _, l := range servers {
			l.ln.Close()
		}
		return err
	}
	err = serveUntilDone(ctx, logger, servers, jobs, cfg.shutdownTimeout, func() { poolClosed = true; pool.Close() })
	logger.Info("stopped")
	return err
}

// newHTTPServer returns an HTTP server for h with the service's timeouts.
func newHTTPServer(ctx context.Context, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests are not cancelled by the signal: shutdown lets those
		// in progress finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// listener is an HTTP server and its listener.
type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

// serveUntilDone serves servers and runs jobs until ctx is done or one of
// them fails, then shuts down in order, within timeout from the signal:
//
//  1. the listeners close (no new connection is accepted) and requests in
//     progress are given the time left to finish;
//  2. at the same moment the jobs' context is cancelled: they stop taking
//     work, and what they hold is finished or handed back (a sync in
//     flight clears its lease, so another replica takes it at once; a
//     delivery finishes within its grace or is handed back, its attempt
//     not counted);
//  3. when the servers and the jobs have stopped, closePool closes the
//     database pool.
//
// Past the timeout, the remaining connections are closed, and the error
// says what had not stopped; the process then exits without waiting for
// it (leases expire by themselves).
func serveUntilDone(ctx context.Context, logger *slog.Logger, servers []*listener, jobs []job, timeout time.Duration, closePool func()) error {
	failed := make(chan error, len(servers)+len(jobs))
	for _, l := range servers {
		go func() {
			if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("%s server: %w", l.name, err)
			}
		}()
	}
	jctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	var (
		jobsWG  sync.WaitGroup
		mu      sync.Mutex
		running = map[string]bool{}
	)
	for _, j := range jobs {
		mu.Lock()
		running[j.name] = true
		mu.Unlock()
		jobsWG.Go(func() {
			err := j.run(jctx)
			mu.Lock()
			delete(running, j.name)
			mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) {
				failed <- fmt.Errorf("job %s: %w", j.name, err)
			} else if jctx.Err() == nil {
				failed <- fmt.Errorf("job %s: stopped by itself", j.name)
			}
		})
	}

	var cause error
	select {
	case <-ctx.Done():
	case cause = <-failed:
		logger.Error("a part of the service failed", slog.String("err", cause.Error()))
	}
	start := time.Now()
	deadline := start.Add(timeout)
	logger.Info("shutting down", slog.Duration("timeout", timeout))
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// 1 and 2: stop accepting and stop the jobs, at once.
	var httpWG sync.WaitGroup
	for _, l := range servers {
		httpWG.Go(func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				logger.Warn("requests still in progress at the shutdown deadline: connections closed", slog.String("server", l.name))
				_ = l.srv.Close()
			}
		})
	}
	stopJobs()
	httpDone, jobsDone := make(chan struct{}), make(chan struct{})
	go func() { httpWG.Wait(); close(httpDone) }()
	go func() { jobsWG.Wait(); close(jobsDone) }()
	var late []string
	for _, w := range []struct {
		what string
		done chan struct{}
	}{{"http", httpDone}, {"jobs", jobsDone}} {
		select {
		case <-w.done:
			logger.Info("shutdown: stopped", slog.String("part", w.what), slog.Duration("elapsed", time.Since(start).Round(time.Millisecond)))
		case <-sctx.Done():
			if w.what == "jobs" {
				mu.Lock()
				for name := range running {
					late = append(late, "job "+name)
				}
				mu.Unlock()
				sort.Strings(late)
			} else {
				late = append(late, "http requests")
			}
		}
	}
	if len(late) > 0 {
		err := fmt.Errorf("shutdown timed out after %s; still running: %s (their leases expire by themselves)", timeout, strings.Join(late, ", "))
		logger.Error("shutdown timed out", slog.String("err", err.Error()))
		return errors.Join(cause, err)
	}
	// 3: nothing uses the pool any more.
	pdone := make(chan struct{})
	go func() { closePool(); close(pdone) }()
	select {
	case <-pdone:
	case <-sctx.Done():
		err := fmt.Errorf("shutdown timed out after %s closing the database pool", timeout)
		logger.Error("shutdown timed out", slog.String("err", err.Error()))
		return errors.Join(cause, err)
	}
	logger.Info("shutdown complete", slog.Duration("elapsed", time.Since(start).Round(time.Millisecond)))
	return cause
}

// poolOthers is the database connections kept for the HTTP requests and
// the jobs other than the sync (summaries, delivery, upkeep, and the
// readings' compaction, which holds one while it runs): see newPool.
const poolOthers = 7

// parseAge reads the age of --compact-after: whole days ("30d"), a Go
// duration ("720h") of at least a day, or "off" (0).
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, errors.New("want days such as 30d, a duration such as 720h, or off")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("want days such as 30d, a duration such as 720h, or off")
		}
	}
	if d < 24*time.Hour || d > 100*365*24*time.Hour {
		return 0, errors.New("want at least a day (readings of the current day are being written) and at most 100 years")
	}
	return d, nil
}

// notifyConns is the database connections kept for the notification jobs
// when they run: the composer's round, and the senders' (each holds its
// message's row while it sends, and briefly a second one for the
// hand-off).
const notifyConns = 3

// statementGrace is how long a statement in progress may still run when
// its request's context ends (the client went away or timed out) before
// its database connection is cut.
const statementGrace = 2 * time.Second

// newPool returns the service's database pool for url. By default pgx cuts
// a connection as soon as the context of its statement in progress ends,
// and the pool replaces it with a new one: a new PostgreSQL backend, its
// caches cold and its statements to prepare again. Under overload clients
// time out by the hundreds, and replacing their connections cost more than
// the work they abandoned: the load test saw a path serving 500 requests a
// second fall to 51. Here the statement gets statementGrace to finish
// (nearly every one does, in milliseconds), and the connection is reused.
//
// Unless url sets pool_max_conns, the pool has at least minConns
// connections: one per sync worker (each holds one while it commits a
// sync) and poolOthers for the HTTP requests and the other jobs, where
// pgxpool's default (max(4, CPUs)) kept the workers waiting for each
// other.
func newPool(ctx context.Context, url string, minConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < int32(minConns) {
		cfg.MaxConns = int32(minConns)
	}
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn(), DeadlineDelay: statementGrace}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}
