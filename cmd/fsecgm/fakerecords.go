package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"fsecgm/taccuino/records/recordtest"
)

// runFakeRecords runs a fake FHIR record server (the diabetology record,
// the regional EHR or a GP record that fsecgm delivers summaries to) until
// ctx is cancelled, then prints what it holds.
func runFakeRecords(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fake-records", "[--addr ADDR] [--token TOKEN] [--fail-rate R] [--seed S]")
	addr := fs.String("addr", "127.0.0.1:8092", "listen address (port 0 picks a free port)")
	base := fs.String("base-path", "/fhir", "path of the FHIR base")
	token := fs.String("token", "", "bearer token every request must carry (empty: none)")
	client := fs.String("client", "", "OAuth client `id:secret` allowed to get tokens at /token (client credentials)")
	rate := fs.Float64("fail-rate", 0, "share of requests that fail (0 to 1): 500, 503, timeouts, dropped connections")
	seed := fs.Uint64("seed", 1, "seed of the injected failures")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rate < 0 || *rate > 1 {
		return usageError(fmt.Errorf("--fail-rate %g: want 0 to 1", *rate))
	}
	var clients map[string]string
	if *client != "" {
		id, secret, ok := strings.Cut(*client, ":")
		if !ok || id == "" || secret == "" {
			return usageError(fmt.Errorf("--client: want id:secret"))
		}
		clients = map[string]string{id: secret}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := recordtest.New(recordtest.Options{Addr: *addr, BasePath: *base, Token: *token, Clients: clients,
		FailRate: *rate, Seed: *seed, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "Fake FHIR record server on %s (transactions: POST to the base; token endpoint %s).\n",
		srv.URL(), srv.TokenURL())
	fmt.Fprintf(e.Stdout, "Subscribe fsecgm to it with a subscription whose base_url is %s.\n", srv.URL())
	logger.Info("fake records listening", "url", srv.URL())
	if err := srv.Serve(ctx); err != nil {
		return err
	}
	reqs := srv.Requests()
	applied := 0
	for _, r := range reqs {
		if r.Applied {
			applied++
		}
	}
	fmt.Fprintf(e.Stdout, "Received %d requests (%d transactions applied); holding %d resources, %d duplicated identifiers.\n",
		len(reqs), applied, len(srv.Resources("")), len(srv.Duplicates()))
	return nil
}
