// Command loadtest measures the main read paths of fsecgm as a person
// feels them and as the database must serve them, in one run of about three
// minutes, and prints:
//
//	read_path_cpu_vs_readyz_ratio: X   the largest, over the read paths, of the CPU per request of the service and
//	                                   PostgreSQL ÷ that of GET /readyz (a ping and one query: the cheapest
//	                                   request that reaches the database), the median over -cpu-rounds rounds of
//	                                   each round's ratio (goal ≤ 4)
//	p99_at_10x_peak_ms: X              the largest p99 latency of a read path at ten times the region's expected
//	                                   peak, all of it on that path alone (goal < 200 ms)
//
// The peak is estimated from the population and how it reads (flags
// -region-patients 13,200, -views-per-day 4, -requests-per-view 3,
// -peak-hour-share 0.12, -clinician-share 0.25): 13,200 × 4 × 3 × 0.12 ×
// 1.25 / 3600 = 6.6 read requests a second; the run prints the estimate.
// Each path is sent ten times that rate alone in -cpu-rounds steps of
// -cpu-step, the paths interleaved; the CPU per request is measured at
// that rate, the operating point the goal names.
//
// It builds the fsecgm binary, starts a private PostgreSQL (pgserver) in a
// temporary directory, loads -patients simulated patients (default 1,000:
// the CPU of a read does not depend on their number, which only lengthens
// the load; the clinic view's 20 pages of 50 need 1,000) with -days (14)
// of 15-minute readings through the ingestion path (cgmstore.Ingest, one
// batch per patient), gives a diabetology centre a care relationship with
// each patient, each patient's third-party consent, the CGM summaries and
// their FHIR resources; then it starts "fsecgm serve --dev" as a child
// process and sends requests with vegeta (as a library) at fixed rates.
// The CPU of the service and of PostgreSQL (postmaster and backends) is
// read from Linux's /proc around each step, less their background
// measured without requests (-idle).
//
// The paths: /readyz (the reference), a patient's latest glucose and
// glucometrics of the last 14 days (GET /api/v1/patients/{id}/glucose/latest
// and /glucometrics, as the diabetologist: token, consent check and
// access-log entry included), the FHIR Observation search (GET
// /fhir/Observation?patient=..., as the regional EHR's service account)
// and the clinic view (GET /api/v1/clinic, its first 20 pages by their
// cursors: one access-log entry per patient listed). Patients rotate over
// all of them.
//
// With -ramp it measures as before issue 20 instead: the rate of each path
// doubles from -start-rate while a step of -step holds (every answer a
// success, p99 under -p99, throughput ≥ 95 % of the rate), then bisects
// -refine times, and prints read_path_vs_trivial_ratio (the slowest read
// path's highest rate held ÷ /healthz's) with the CPU per request of each
// side, the generator's included.
//
// The generator runs on the same machine as the service and PostgreSQL:
// the figures are this machine's.
//
//	go run ./cmd/loadtest
//	go run ./cmd/loadtest -patients 13200 -ramp   # the regional ramp (about 15 minutes)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"fsecgm/cmd/internal/runsvc"
	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// config is the run's configuration.
type config struct {
	patients, days int
	step           time.Duration
	p99            time.Duration
	startRate      int
	maxRate        int
	refine         int
	workers        int
	keep           bool
	only           string
	poolConns      int
	noSync         bool
	reuse          string
	metricsAddr    string
	// ramp selects the older measure: the highest rate each path holds.
	ramp bool
	// The fixed-rate measure: the background's idle time, the steps'
	// length and rounds, and the region's peak.
	idle      time.Duration
	cpuStep   time.Duration
	cpuRounds int
	peak      peak
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.patients, "patients", 1000, "simulated patients (the region has 13,200: the CPU of a read does not depend on their number, which only lengthens the load)")
	fs.IntVar(&c.days, "days", 14, "days of 15-minute readings per patient")
	fs.DurationVar(&c.step, "step", 6*time.Second, "duration of each rate step (-ramp)")
	fs.BoolVar(&c.ramp, "ramp", false, "ramp the rate of each path to the highest it holds (read_path_vs_trivial_ratio) instead of the fixed-rate measure")
	fs.DurationVar(&c.idle, "idle", 3*time.Second, "time without requests that measures the background CPU")
	fs.DurationVar(&c.cpuStep, "cpu-step", 4*time.Second, "duration of each step at ten times the peak")
	fs.IntVar(&c.cpuRounds, "cpu-rounds", 5, "rounds of steps at ten times the peak, the paths interleaved (the median of the rounds' ratios is kept)")
	fs.IntVar(&c.peak.patients, "region-patients", 13200, "the region's CGM patients (Tuscany)")
	fs.Float64Var(&c.peak.viewsPerDay, "views-per-day", 4, "a patient's views of the taccuino a day")
	fs.Float64Var(&c.peak.requestsPerView, "requests-per-view", 3, "read requests of a view")
	fs.Float64Var(&c.peak.peakHourShare, "peak-hour-share", 0.12, "share of a day's views in the busiest hour")
	fs.Float64Var(&c.peak.clinicianShare, "clinician-share", 0.25, "clinicians' and record systems' reads, as a share of the patients'")
	fs.DurationVar(&c.p99, "p99", 200*time.Millisecond, "p99 latency bound of a step that holds")
	fs.IntVar(&c.startRate, "start-rate", 50, "first rate of each ramp, requests per second")
	fs.IntVar(&c.maxRate, "max-rate", 100000, "highest rate tried")
	fs.IntVar(&c.refine, "refine", 3, "bisection steps after the doubling")
	fs.IntVar(&c.workers, "load-workers", 2, "ingestion batches at a time while loading")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (service log, database)")
	fs.StringVar(&c.only, "paths", "trivial,readyz,latest,glucometrics,fhir,clinic", "paths to measure")
	fs.IntVar(&c.poolConns, "pool-conns", 0, "the service's database pool size (pool_max_conns in DATABASE_URL); 0 leaves the service's default (one per sync worker plus seven)")
	fs.BoolVar(&c.noSync, "nosync", false, "measure with fsync off too (not as in production)")
	fs.StringVar(&c.reuse, "reuse", "", "`directory` kept by an earlier run (-keep): measure its loaded database again, without loading (-patients and -days are ignored; the directory is kept)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "the service's --metrics-addr (/metrics and Go's profiles at /debug/pprof/ while it runs), e.g. 127.0.0.1:6060")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.patients < 10 || c.patients > 26000 || c.days < 14 || c.days > 90 || c.startRate < 1 || c.refine < 0 {
		return fmt.Errorf("-patients must be 10 to 26000, -days 14 to 90, -start-rate positive")
	}

	dir, err := os.MkdirTemp("", "fsecgm-loadtest-")
	if c.reuse != "" {
		dir, err, c.keep = c.reuse, nil, true
	}
	if err != nil {
		return err
	}
	defer func() {
		if c.keep {
			fmt.Fprintf(stderr, "loadtest: kept %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	logf(stderr, "building fsecgm")
	bin, err := runsvc.Build(ctx, dir)
	if err != nil {
		return err
	}
	var (
		d     *data
		pg    *pgserver.Server
		dbURL string
	)
	if c.reuse != "" {
		if pg, d, err = reuse(ctx, dir, c, stdout); err != nil {
			return err
		}
		dbURL = pg.URL("fsecgm")
	} else {
		if pg, d, err = load(ctx, dir, c, stdout, stderr); err != nil {
			return err
		}
		dbURL = pg.URL("fsecgm")
	}
	defer pg.Stop()
	var fsync string
	if err := func() error {
		conn, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.QueryRow(ctx, "SELECT current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit')").Scan(&fsync)
	}(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# measured with fsync %s\n", fsync)

	keyFile := filepath.Join(dir, "dev-issuer.jwk")
	if err := d.tokens(keyFile); err != nil {
		return err
	}
	svcURL := dbURL
	if c.poolConns > 0 {
		svcURL += fmt.Sprintf("&pool_max_conns=%d", c.poolConns)
	}
	fmt.Fprintf(stdout, "# the service's database pool: %s connections\n", map[bool]string{true: fmt.Sprint(c.poolConns), false: "the service's default"}[c.poolConns > 0])
	svc, err := runsvc.Start(ctx, runsvc.Options{Binary: bin,
		Args:    []string{"--dev", "--addr", "127.0.0.1:0", "--fake-librelinkup=false"},
		Env:     map[string]string{"DATABASE_URL": svcURL, "FSECGM_DEV_KEY_FILE": keyFile, "FSECGM_METRICS_ADDR": c.metricsAddr},
		LogFile: filepath.Join(dir, "serve.log")})
	if err != nil {
		return err
	}
	defer svc.Stop(30 * time.Second)

	if strings.Contains(c.only, "clinic") {
		if err := d.clinicCursors(ctx, svc.URL); err != nil {
			return err
		}
	}
	var paths []path
	for _, p := range d.paths(svc.URL) {
		if !strings.Contains(c.only, p.key) {
			continue
		}
		if why := p.probe(ctx); why != "" {
			fmt.Fprintf(stdout, "%s: not measured: %s\n", p.name, why)
			continue
		}
		paths = append(paths, p)
	}
	if !c.ramp {
		logf(stderr, "measuring %d paths at fixed rates", len(paths))
		return measureFixed(ctx, paths, newProcs(svc.Pid(), filepath.Join(dir, "pg")), c, stdout, stderr)
	}
	fmt.Fprintf(stdout, "# steps of %s, the paths interleaved; a step holds with no error, p99 < %s and the rate kept\n", c.step, c.p99)
	logf(stderr, "ramping %d paths", len(paths))
	results := rampAll(ctx, paths, newProcs(svc.Pid(), filepath.Join(dir, "pg")), c, stderr)
	var trivial float64
	held := map[string]float64{}
	var measured []string
	var reference []int
	for i, p := range paths {
		fmt.Fprintf(stdout, "%s: %s\n", p.name, results[i])
		if p.key == "trivial" {
			trivial = results[i].held
			continue
		}
		if p.reference {
			reference = append(reference, i)
			continue
		}
		held[p.name] = results[i].held
		measured = append(measured, p.name)
	}
	if trivial > 0 && len(measured) > 0 {
		worst := measured[0]
		for _, name := range measured {
			fmt.Fprintf(stdout, "ratio %s: %.3f\n", name, held[name]/trivial)
			if held[name] < held[worst] {
				worst = name
			}
		}
		for _, i := range reference {
			fmt.Fprintf(stdout, "ratio %s: %.3f (not a read path)\n", paths[i].name, results[i].held/trivial)
		}
		fmt.Fprintf(stdout, "read_path_vs_trivial_ratio: %.3f\n", held[worst]/trivial)
	}
	return ctx.Err()
}

// load starts a new PostgreSQL in dir, loads it (fsync off) and starts it
// again with fsync on (unless -nosync), as the measurement runs.
func load(ctx context.Context, dir string, c config, stdout, stderr io.Writer) (*pgserver.Server, *data, error) {
	// fsync off while loading only.
	pg, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "pg"), NoSync: true})
	if err != nil {
		return nil, nil, err
	}
	stop := true
	defer func() {
		if stop {
			pg.Stop()
		}
	}()
	if err := pg.CreateDatabase(ctx, "fsecgm"); err != nil {
		return nil, nil, err
	}
	dbURL := pg.URL("fsecgm")
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	defer pool.Close()
	mig, err := migrations.Apply(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	var version string
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return nil, nil, err
	}

	t0 := time.Now()
	d, err := seed(ctx, pool, c, stderr)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stdout, "# PostgreSQL %s (%s); %d patients × %d days of 15-minute readings = %d readings, loaded in %s\n",
		version, mig.Storage, c.patients, c.days, d.readings, time.Since(t0).Round(time.Second))
	for _, n := range d.notes {
		fmt.Fprintf(stdout, "# %s\n", n)
	}

	// The measured paths write too (an access-log entry per read, in the
	// transaction of the read): PostgreSQL starts again with fsync on, as
	// in production (unless -nosync).
	// Written to disk first (CHECKPOINT, then sync): the measurement must
	// not compete with the kernel writing back the load.
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return nil, nil, err
	}
	pool.Close()
	if err := pg.Stop(); err != nil {
		return nil, nil, err
	}
	ts := time.Now()
	syscall.Sync()
	logf(stderr, "load written to disk (sync %s)", time.Since(ts).Round(time.Millisecond))
	// The server loaded is stopped: the deferred Stop must not stop the
	// one started now, which the caller stops.
	stop = false
	if pg, err = pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "pg"), NoSync: c.noSync}); err != nil {
		return nil, nil, err
	}
	return pg, d, nil
}

// reuse starts PostgreSQL on the database an earlier run loaded in dir and
// reads its patients back.
func reuse(ctx context.Context, dir string, c config, stdout io.Writer) (*pgserver.Server, *data, error) {
	pg, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "pg"), NoSync: c.noSync})
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.New(ctx, pg.URL("fsecgm"))
	if err != nil {
		pg.Stop()
		return nil, nil, err
	}
	defer pool.Close()
	d := &data{}
	var version string
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version'),
		coalesce((SELECT sum(readings) FROM reading_coverage), 0)`).Scan(&version, &d.readings)
	if err == nil {
		var rows pgx.Rows
		rows, err = pool.Query(ctx, `SELECT id, public_id FROM patients WHERE fiscal_code LIKE 'LDTST%' ORDER BY id`)
		var (
			id  int64
			pub string
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &pub}, func() error {
			d.ids, d.publicIDs = append(d.ids, id), append(d.publicIDs, pub)
			return nil
		})
	}
	if err == nil && len(d.ids) == 0 {
		err = fmt.Errorf("%s holds no load test patients", dir)
	}
	if err != nil {
		pg.Stop()
		return nil, nil, fmt.Errorf("reuse %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "# PostgreSQL %s; reused %s: %d patients, %d readings\n", version, dir, len(d.ids), d.readings)
	return pg, d, nil
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "loadtest: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
