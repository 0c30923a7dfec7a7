package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
)

// runSyncWorker runs only the LibreLinkUp sync scheduler (no HTTP) until
// ctx is cancelled: a replica dedicated to syncing, beside "fsecgm serve"
// replicas or instead of their sync. Its settings come from the
// environment (connsync.ConfigFromEnv: FSECGM_LIBRELINKUP_URL,
// FSECGM_SYNC_INTERVAL, FSECGM_CREDENTIALS_KEY, ...).
func runSyncWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "sync-worker", "[--database-url URL] [--data-dir DIR] [--dev] [--log-level LEVEL]\n\n"+
		"Runs the LibreLinkUp sync scheduler only. Environment: "+strings.Join([]string{
		connsync.EnvLibreLinkUpURL, connsync.EnvLibreLinkUpTimeout, connsync.EnvSyncInterval, connsync.EnvSyncWorkers,
		connsync.EnvSyncLease, connsync.EnvSyncTick, connsync.EnvReplica, connsync.EnvCredentialsKey,
		connsync.EnvCredentialsKeyFile, connsync.EnvCredentialsOldKeys}, ", ")+".")
	dbURL := fs.String("database-url", "", "PostgreSQL `URL` (default $DATABASE_URL; when neither is set, the private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	dev := fs.Bool("dev", false, "development mode: create a credentials key file beside the data directory when no key is configured")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usageError(fmt.Errorf("--log-level %q: want debug, info, warn or error", *level))
	}
	logger := slog.New(slog.NewJSONHandler(e.Stderr, &slog.HandlerOptions{Level: lv}))
	pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer done()
	store := cgmstore.New(pool, cgmstore.Options{Logger: logger})
	syncer, err := connsync.NewFromEnv(e.Getenv, connsync.EnvOptions{Dev: *dev, DataDir: filepath.Dir(*dataDir)}, pool, store, logger)
	if err != nil {
		return usageError(err)
	}
	return syncer.Run(ctx)
}
