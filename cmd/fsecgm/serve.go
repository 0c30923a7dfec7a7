package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
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
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// The environment variables of "fsecgm serve" (flags override them).
const (
	envAddr         = "FSECGM_ADDR"
	envDatabaseURL  = "DATABASE_URL"
	envBaseURL      = "FSECGM_BASE_URL"
	envLogLevel     = "FSECGM_LOG_LEVEL"
	envOIDCIssuer   = "FSECGM_OIDC_ISSUER"
	envOIDCAudience = "FSECGM_OIDC_AUDIENCE"
	envOIDCJWKSURL  = "FSECGM_OIDC_JWKS_URL"
	envTrustProxy   = "FSECGM_TRUST_PROXY"
)

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
	dataDir         string
	baseURL         string
	logLevel        slog.Level
	oidcIssuer      string
	oidcAudience    string
	oidcJWKSURL     string
	trustProxy      bool
	shutdownTimeout time.Duration
	devKeyFile      string
	// sync configures the LibreLinkUp connections (connectors/connsync,
	// from its environment variables); fakeLLU starts an in-process fake
	// LibreLinkUp for the demo (--dev without FSECGM_LIBRELINKUP_URL).
	sync    connsync.Config
	fakeLLU bool
}

// parseServe reads the flags and environment of "fsecgm serve" and
// validates them, listing every problem at once.
func parseServe(e *env, args []string) (serveConfig, error) {
	fs := newFlagSet(e, "serve", "[flags]\n\nRuns the taccuino, the JSON API and the background jobs until SIGINT or SIGTERM.\n"+
		"Environment: "+strings.Join([]string{envAddr, envDatabaseURL, envBaseURL, envLogLevel, envOIDCIssuer, envOIDCAudience,
		envOIDCJWKSURL, envTrustProxy, devKeyFileEnv}, ", ")+" (flags override them);\n"+
		"sensor sync: "+strings.Join([]string{connsync.EnvCredentialsKey, connsync.EnvCredentialsKeyFile, connsync.EnvCredentialsOldKeys,
		connsync.EnvLibreLinkUpURL, connsync.EnvLibreLinkUpRegion, connsync.EnvLibreLinkUpVersion, connsync.EnvSyncInterval,
		connsync.EnvSyncWorkers, connsync.EnvSyncLease, connsync.EnvSyncTick, connsync.EnvReplica}, ", ")+".\n"+
		"Without --dev, the OpenID Connect issuer, audience and JWKS URL and the credentials key are required.")
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
	fs.StringVar(&cfg.dataDir, "data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	fs.StringVar(&cfg.baseURL, "base-url", e.Getenv(envBaseURL), "external `URL` of the service, e.g. https://taccuino.example.org (env "+envBaseURL+"; HTTPS turns on HSTS and Secure cookies)")
	level := fs.String("log-level", def(envLogLevel, "info"), "log `level`: debug, info, warn or error (env "+envLogLevel+")")
	fs.StringVar(&cfg.oidcIssuer, "oidc-issuer", e.Getenv(envOIDCIssuer), "OpenID Connect issuer `URL` of the regional identity provider (env "+envOIDCIssuer+")")
	fs.StringVar(&cfg.oidcAudience, "oidc-audience", e.Getenv(envOIDCAudience), "expected token `audience` (env "+envOIDCAudience+")")
	fs.StringVar(&cfg.oidcJWKSURL, "oidc-jwks-url", e.Getenv(envOIDCJWKSURL), "`URL` of the provider's JWK Set (env "+envOIDCJWKSURL+")")
	trust := fs.String("trust-proxy", def(envTrustProxy, "false"), "take the client IP from X-Forwarded-For set by a reverse proxy on a private network: true or false (env "+envTrustProxy+")")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 20*time.Second, "longest `time` to finish requests in progress at shutdown")
	fs.StringVar(&cfg.devKeyFile, "dev-key-file", devKeyFile(e), "development issuer key `file` (env "+devKeyFileEnv+"), with --dev")
	fakeLLU := fs.Bool("fake-librelinkup", true, "with --dev and no "+connsync.EnvLibreLinkUpURL+": start an in-process fake LibreLinkUp with demo accounts (printed on stdout) for connecting sensors")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.fakeLLU = cfg.dev && *fakeLLU && strings.TrimSpace(e.Getenv(connsync.EnvLibreLinkUpURL)) == ""

	var problems []string
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
	if cfg.shutdownTimeout <= 0 {
		problems = append(problems, "--shutdown-timeout must be positive")
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

// runServe runs the service until ctx is done, then shuts down within the
// shutdown timeout.
func runServe(ctx context.Context, e *env, args []string) error {
	cfg, err := parseServe(e, args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(e.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

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
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	defer pool.Close()
	res, err := migrations.Apply(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logger.Info("database ready", slog.Int64("schema_version", res.Version), slog.Int("applied", len(res.Applied)),
		slog.String("readings_storage", res.Storage))

	deps := taccuino.Deps{
		Deps: web.Deps{
			Logger:  logger,
			Pool:    pool,
			Store:   cgmstore.New(pool, cgmstore.Options{Logger: logger}),
			Consent: consent.New(pool, consent.Options{Logger: logger}),
			BaseURL: cfg.baseURL,
			Dev:     cfg.dev,
		},
		TrustProxy: cfg.trustProxy,
	}
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
			JWKSURL: cfg.oidcJWKSURL, Logger: logger})
		if err != nil {
			return err
		}
	}
	if cfg.fakeLLU {
		fake := librelinkuptest.New(librelinkuptest.Options{})
		accounts, err := fake.Populate(1, 3, 1, "eu")
		if err != nil {
			return err
		}
		template := fake.Start() // "http://127.0.0.1:PORT/{region}"
		defer fake.Close()
		cfg.sync.LibreLinkUp.BaseURL = template
		printAccounts(e, fake, accounts, strings.TrimSuffix(template, "/"+librelinkup.RegionPlaceholder))
		logger.Warn("development mode: sensors connect to an in-process fake LibreLinkUp (its demo accounts are printed on stdout)")
	}
	cfg.sync.Pool, cfg.sync.Store, cfg.sync.Logger = pool, deps.Store, logger
	if deps.Sync, err = connsync.New(cfg.sync); err != nil {
		return err
	}
	handler, err := taccuino.New(deps)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()), slog.Bool("dev", cfg.dev))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down", slog.Duration("timeout", cfg.shutdownTimeout))
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
			return fmt.Errorf("http server shutdown: %w", err)
		}
		return nil
	})
	for _, j := range serveJobs(jobDeps{Logger: logger, Pool: pool, Store: deps.Store, Consent: deps.Consent, Sync: deps.Sync, Dev: cfg.dev}) {
		g.Go(func() error {
			if err := j.run(gctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("job %s: %w", j.name, err)
			}
			return nil
		})
	}
	err = g.Wait()
	logger.Info("stopped")
	return err
}
