package main

import (
	"context"
	"log/slog"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5/pgxpool"
)

// job is a background task of "fsecgm serve". run works until ctx is done
// and then returns (nil or ctx.Err()); any other error stops the service.
type job struct {
	name string
	run  func(ctx context.Context) error
}

// jobDeps is what the background jobs may use.
type jobDeps struct {
	Logger  *slog.Logger
	Pool    *pgxpool.Pool
	Store   *cgmstore.Store
	Consent *consent.Store
	Sync    *connsync.Syncer
	Dev     bool
}

// serveJobs lists the background jobs that run with the HTTP server, in an
// errgroup sharing its context: when one fails or the service is asked to
// stop, all stop.
//
// The LibreLinkUp sync scheduler runs here. Lead: add the FHIR outbox
// worker and the summaries updater, e.g.
//
//	{name: "outbox", run: outbox.Run},
func serveJobs(d jobDeps) []job {
	return []job{
		{name: "llu-sync", run: d.Sync.Run},
	}
}
