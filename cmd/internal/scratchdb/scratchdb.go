// Package scratchdb gives a benchmark command a database of its own for one
// run: on the PostgreSQL server at a URL, or on a private server started
// for the run (package pgserver) when there is none.
package scratchdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open creates the database name on the server at serverURL, or, when
// serverURL is empty, on a private server in a temporary directory (fsync
// off when noSync). It returns the database's URL and drop, which drops
// the database and stops the private server; call it once, when done.
func Open(ctx context.Context, serverURL, name string, noSync bool) (dbURL string, drop func(), err error) {
	var cleanups []func()
	drop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			drop()
		}
	}()
	if serverURL == "" {
		dir, err := os.MkdirTemp("", name+"-")
		if err != nil {
			return "", nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		// The server may run as the postgres user: it must reach its directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", nil, err
		}
		srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "data"), NoSync: noSync})
		if err != nil {
			return "", nil, err
		}
		cleanups = append(cleanups, func() { srv.Stop() })
		serverURL = srv.URL("postgres")
	}
	admin, err := pgxpool.New(ctx, serverURL)
	if err != nil {
		return "", nil, err
	}
	cleanups = append(cleanups, admin.Close)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	cleanups = append(cleanups, func() {
		admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// Pool opens a pool on dbURL of at most maxConns connections (the loaders
// and updaters of a benchmark at a time, and the readers beside them).
func Pool(ctx context.Context, dbURL string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("scratchdb: %w", err)
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("scratchdb: %w", err)
	}
	return pool, nil
}
