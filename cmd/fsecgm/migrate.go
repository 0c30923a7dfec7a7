package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultDataDir is where the private PostgreSQL keeps its data when no
// database URL is given.
const defaultDataDir = ".data/postgres"

// runMigrate applies the database migrations and reports the storage of
// readings (TimescaleDB hypertable or native partitions).
func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "[--database-url URL] [--data-dir DIR]")
	dbURL := fs.String("database-url", "", "PostgreSQL URL of the database (default $DATABASE_URL; when neither is set, a private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data directory of the private PostgreSQL used when no database URL is set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	url := *dbURL
	if url == "" {
		url = e.Getenv("DATABASE_URL")
	}
	if url == "" {
		srv, err := startPrivate(ctx, e, *dataDir)
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = srv.URL(privateDatabase)
	}

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	defer pool.Close()
	start := time.Now()
	res, err := migrations.Apply(ctx, pool)
	for _, m := range res.Applied {
		fmt.Fprintf(e.Stdout, "applied %s (%s)\n", m.Name, m.Duration.Round(time.Millisecond))
	}
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(e.Stdout, "database already up to date\n")
	}
	fmt.Fprintf(e.Stdout, "schema version %d; readings storage: %s (%s)\n", res.Version, res.Storage, time.Since(start).Round(time.Millisecond))
	return nil
}

// privateDatabase is the database fsecgm uses on its private server.
const privateDatabase = "fsecgm"

// startPrivate starts (or finds running) the private PostgreSQL server on
// dataDir and makes sure its database exists. The caller stops it.
func startPrivate(ctx context.Context, e *env, dataDir string) (*pgserver.Server, error) {
	logger := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: dataDir, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("no DATABASE_URL, and the private PostgreSQL in %s did not start: %w", dataDir, err)
	}
	if err := srv.CreateDatabase(ctx, privateDatabase); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return srv, nil
}
