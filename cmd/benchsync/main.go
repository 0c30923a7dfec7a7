// Command benchsync measures the sync of one replica for each source the
// sync core has — LibreLinkUp, the Dexcom API v3 and Nightscout sites: it
// syncs -connections simulated connections of each (default 2,000)
// against the source's fake for -rounds rounds and prints, for each
// source S (librelinkup, dexcom, nightscout),
//
//	S_syncs_per_second: X           connections synced per second of wall time, one replica
//	S_sync_cpu_ms_per_connection: X CPU time (user + system) of this process per connection synced
//	S_postgres_cpu_ms_per_connection: X  CPU time of the PostgreSQL server per connection synced
//	S_store_only_per_second: X      the baseline, in the same run: the same batches ingested by the
//	                                store alone (cgmstore.Ingest, same workers), no source, no sync core
//	S_sync_vs_store_ratio: X        store_only_per_second / syncs_per_second
//	S_cpu_fraction_for_13200_every_5min: X  share of one core, fsecgm and PostgreSQL, for 13,200
//	                                connections of that source every 5 minutes (44 syncs a second)
//
//	S_replicas_for_500000_every_5min: X  replicas at the measured rate for 500,000 connections
//	S_cores_for_500000_every_5min: X     CPU cores (fsecgm and PostgreSQL) for them
//
// and fits_13200_every_5min_on_one_core: yes or no, for the costliest
// source; with LibreLinkUp, librelinkup_egress_addresses_for_N_every_5min
// for 13,200 and 500,000 connections: what the per-address budget
// (connsync.DefaultLibreLinkUpBudget, shared by the replicas behind one
// address) allows, at one graph request per sync and a logbook a day.
//
// The fakes (librelinkuptest, dexcomtest, nssitetest) run in a child
// process (this program started with -serve-fake), so that their CPU time
// is not counted; the child also approves the Dexcom consents as a person
// would on Dexcom's page. PostgreSQL is a private server started in a
// temporary directory (fsync on, as in production, unless -nosync).
// Before the measured rounds, every connection is connected (a login, the
// OAuth 2.0 authorization code flow, a checked read of the site) and
// synced once (12 hours back); a measured round makes all connections of
// the source due and runs Syncer.SyncDue until none is left: each sync
// reads the source (mostly readings already stored) and ingests them
// through cgmstore.IngestTx in a transaction that also updates the
// connection and records the run — the steady state of a 5-minute cadence.
//
//	go run ./cmd/benchsync
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/cmd/internal/proccpu"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/dexcom"
	"fsecgm/connectors/dexcom/dexcomtest"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/connectors/nightscout/nssite/nssitetest"
	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "benchsync: %v\n", err)
		os.Exit(1)
	}
}

// fakeInfo is what the fake's child process tells its parent.
type fakeInfo struct {
	URL      string                    `json:"url"`
	Accounts []librelinkuptest.Account `json:"accounts"`
	// Dexcom: the fake API's base URL, the application's credentials, the
	// users' names; Approve: where the child approves a consent.
	DexcomURL, ClientID, ClientSecret string
	DexcomUsers                       []string
	Approve                           string
	// Sites are the Nightscout sites' URLs, Secrets their API_SECRETs.
	Sites, Secrets []string
}

// dexcomRedirect is the registered redirect URI of the benchmark's
// application (never opened: the child returns the redirect).
const dexcomRedirect = "https://taccuino.example.invalid/taccuino/dexcom/callback"

// The sources measured, in order.
var allSources = []string{"librelinkup", "dexcom", "nightscout"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("connections", 2000, "simulated connections of each source")
	rounds := fs.Int("rounds", 3, "measured rounds (each syncs every connection of a source once)")
	workers := fs.Int("workers", 8, "syncs at a time (Config.Workers)")
	noSync := fs.Bool("nosync", false, "private server with fsync off")
	only := fs.String("sources", strings.Join(allSources, ","), "sources to measure, comma-separated")
	serveFake := fs.Int("serve-fake", 0, "internal: run the fakes with this many patients each and print their URLs and accounts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serveFake > 0 {
		return runFake(*serveFake, stdout)
	}
	if *n < 1 || *n > 100000 || *rounds < 1 || *workers < 1 {
		return errors.New("-connections must be 1 to 100000, -rounds and -workers at least 1")
	}
	var sources []string
	for _, src := range strings.Split(*only, ",") {
		if !slices.Contains(allSources, src) {
			return fmt.Errorf("-sources: unknown source %q (want %s)", src, strings.Join(allSources, ", "))
		}
		sources = append(sources, src)
	}

	// The fakes, in a child process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-serve-fake", strconv.Itoa(*n))
	child.Stderr = stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	var info fakeInfo
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&info); err != nil {
		return fmt.Errorf("fakes: %w", err)
	}

	// A private PostgreSQL.
	dir, err := os.MkdirTemp("", "benchsync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	dataDir := filepath.Join(dir, "data")
	srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: dataDir, NoSync: *noSync})
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := srv.CreateDatabase(ctx, "fsecgm"); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(srv.URL("fsecgm"))
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*workers + 4)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Apply(ctx, pool); err != nil {
		return err
	}
	store := cgmstore.New(pool, cgmstore.Options{})
	key := make([]byte, connsync.KeySize)
	for i := range key {
		key[i] = byte(i + 1)
	}
	keys, err := connsync.NewKeyring(key)
	if err != nil {
		return err
	}
	unlimited := connsync.BudgetConfig{PerMinute: 1e7, Burst: 1e6}
	syncer, err := connsync.New(connsync.Config{Pool: pool, Store: store, Keys: keys,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		LibreLinkUp: librelinkup.Config{BaseURL: info.URL, Region: "eu"},
		Dexcom: &connsync.DexcomConfig{Client: dexcom.Config{BaseURL: info.DexcomURL, ClientID: info.ClientID,
			ClientSecret: info.ClientSecret, RedirectURI: dexcomRedirect}, Interval: 5 * time.Minute, Budget: unlimited,
			Backfill: 12 * time.Hour},
		Nightscout: &connsync.NightscoutConfig{Interval: 5 * time.Minute, Backfill: 12 * time.Hour},
		Interval:   5 * time.Minute, LeaseTTL: 10 * time.Minute, Workers: *workers,
		LibreLinkUpBudget: unlimited})
	if err != nil {
		return err
	}

	b := bench{ctx: ctx, pool: pool, store: store, syncer: syncer, info: info, n: *n, workers: *workers, postmaster: proccpu.Postmaster(dataDir), stderr: stderr}
	// 13,200 connections every 5 minutes: 44 syncs per second.
	const need = 13200.0 / 300.0
	worst := 0.0
	for _, src := range sources {
		r, err := b.measure(src, *rounds)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		frac := need * (r.cpuMS + r.pgMS) / 1000
		worst = max(worst, frac)
		fmt.Fprintf(stdout, "%s_syncs_per_second: %.1f\n", src, r.perSecond)
		fmt.Fprintf(stdout, "%s_sync_cpu_ms_per_connection: %.3f\n", src, r.cpuMS)
		fmt.Fprintf(stdout, "%s_postgres_cpu_ms_per_connection: %.3f\n", src, r.pgMS)
		fmt.Fprintf(stdout, "%s_store_only_per_second: %.1f\n", src, r.storePerSecond)
		fmt.Fprintf(stdout, "%s_sync_vs_store_ratio: %.2f\n", src, r.storePerSecond/r.perSecond)
		fmt.Fprintf(stdout, "%s_cpu_fraction_for_13200_every_5min: %.3f\n", src, frac)
		reps, cores := replicasFor(500000, r.perSecond, r.cpuMS+r.pgMS)
		fmt.Fprintf(stdout, "%s_replicas_for_500000_every_5min: %d\n", src, reps)
		fmt.Fprintf(stdout, "%s_cores_for_500000_every_5min: %.1f\n", src, cores)
	}
	fits := "no"
	if worst < 1 {
		fits = "yes"
	}
	fmt.Fprintf(stdout, "fits_13200_every_5min_on_one_core: %s\n", fits)
	if slices.Contains(sources, connsync.SourceLibreLinkUp) {
		for _, n := range []int{13200, 500000} {
			fmt.Fprintf(stdout, "librelinkup_egress_addresses_for_%d_every_5min: %d\n", n, egressAddresses(n, connsync.DefaultLibreLinkUpBudget))
		}
	}
	return nil
}

// lluRequestsPerSync is what a LibreLinkUp sync asks in the steady state:
// the graph, and the logbook once a day (connsync reads it daily), one
// request each; the login token is reused for as long as it lives, so
// logins add nothing that counts at a 5-minute cadence.
const lluRequestsPerSync = 1 + 1.0/288

// egressAddresses is how many egress addresses n LibreLinkUp connections
// synced every 5 minutes need, each address allowed perMinute requests
// (the budget of one address, connsync.DefaultLibreLinkUpBudget by default).
func egressAddresses(n int, perMinute float64) int {
	return int(math.Ceil(float64(n) / 5 * lluRequestsPerSync / perMinute))
}

// replicasFor is how many replicas of the measured rate (syncs a second,
// one replica) sync n connections every 5 minutes, and the CPU cores
// (fsecgm and PostgreSQL) that takes, from the measured CPU per sync.
func replicasFor(n int, perSecond, cpuMSPerSync float64) (replicas int, cores float64) {
	need := float64(n) / 300
	return int(math.Ceil(need / perSecond)), need * cpuMSPerSync / 1000
}

// bench holds what the measures share.
type bench struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	store   *cgmstore.Store
	syncer  *connsync.Syncer
	info    fakeInfo
	n       int
	workers int
	// postmaster is the private server's, whose CPU is charged to the syncs.
	postmaster int
	stderr     io.Writer
}

// result is one source's measure.
type result struct {
	perSecond, cpuMS, pgMS, storePerSecond float64
}

// measure connects n connections of src, syncs them once, then measures
// rounds of syncs and the store-only baseline.
func (b *bench) measure(src string, rounds int) (result, error) {
	ctx := b.ctx
	start := time.Now()
	patients, err := b.connectAll(src)
	if err != nil {
		return result{}, err
	}
	fmt.Fprintf(b.stderr, "%s: connected %d in %s\n", src, b.n, time.Since(start).Round(time.Millisecond))
	// Only this source's connections sync while it is measured.
	isolate := func() error {
		_, err := b.pool.Exec(ctx, `UPDATE sync_connections SET next_sync_at = now() + interval '1 day' WHERE source <> $1`, src)
		return err
	}
	if err := isolate(); err != nil {
		return result{}, err
	}
	start = time.Now()
	st, err := b.syncer.SyncDue(ctx)
	if err != nil {
		return result{}, err
	}
	if st.Synced != b.n || st.Failed != 0 {
		return result{}, fmt.Errorf("first sync: %+v, want %d successful syncs", st, b.n)
	}
	fmt.Fprintf(b.stderr, "%s: first sync of %d in %s, %d readings\n", src, b.n, time.Since(start).Round(time.Millisecond), st.Inserted)

	pgBefore, _ := proccpu.Postgres(b.postmaster)
	cpuBefore := proccpu.Self()
	var wall time.Duration
	synced := 0
	for r := range rounds {
		if err := isolate(); err != nil {
			return result{}, err
		}
		if _, err := b.pool.Exec(ctx, `UPDATE sync_connections SET next_sync_at = now() WHERE source = $1 AND disconnected_at IS NULL`, src); err != nil {
			return result{}, err
		}
		t0 := time.Now()
		st, err := b.syncer.SyncDue(ctx)
		d := time.Since(t0)
		if err != nil {
			return result{}, err
		}
		if st.Synced != b.n || st.Failed != 0 {
			return result{}, fmt.Errorf("round %d: %+v, want %d successful syncs", r+1, st, b.n)
		}
		fmt.Fprintf(b.stderr, "%s: round %d: %d syncs in %s, %d new readings\n", src, r+1, st.Synced, d.Round(time.Millisecond), st.Inserted)
		wall += d
		synced += st.Synced
	}
	cpu := proccpu.Self() - cpuBefore
	pgAfter, _ := proccpu.Postgres(b.postmaster)
	pg := pgAfter - pgBefore
	res := result{perSecond: float64(synced) / wall.Seconds(),
		cpuMS: float64(cpu) / float64(time.Millisecond) / float64(synced), pgMS: float64(pg) / float64(time.Millisecond) / float64(synced)}

	// The baseline: each patient's last 12 hours, as stored, ingested
	// again by the store alone (what a sync's batch mostly is).
	batches := make([]cgmstore.Batch, len(patients))
	now := time.Now()
	for i, pid := range patients {
		rs, err := b.store.Readings(ctx, pid, now.Add(-12*time.Hour), now.Add(time.Hour))
		if err != nil {
			return result{}, err
		}
		batches[i] = cgmstore.Batch{Patient: pid, Source: sourceOf(src), Readings: rs}
	}
	t0 := time.Now()
	for range rounds {
		if err := parallel(b.workers, len(batches), func(i int) error {
			_, err := b.store.Ingest(ctx, batches[i])
			return err
		}); err != nil {
			return result{}, err
		}
	}
	res.storePerSecond = float64(rounds*len(batches)) / time.Since(t0).Seconds()
	return res, nil
}

// sourceOf is the readings' source of a sync source.
func sourceOf(src string) cgmstore.Source {
	switch src {
	case "dexcom":
		return cgmstore.SourceDexcom
	case "nightscout":
		return cgmstore.SourceNightscout
	}
	return cgmstore.SourceLibreLinkUp
}

// parallel runs f(0) … f(n-1), workers at a time.
func parallel(workers, n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// connectAll connects n patients of src, workers at a time, and returns
// their keys.
func (b *bench) connectAll(src string) ([]int64, error) {
	ctx := b.ctx
	patients := make([]int64, b.n)
	err := parallel(b.workers, b.n, func(i int) error {
		var cf string
		switch src {
		case "librelinkup":
			cf = b.info.Accounts[i].FiscalCode // derived from the followed person's names: the binding's evidence
		case "dexcom":
			cf = codicefiscale.Complete(fmt.Sprintf("DXCMRA%02dA01H%03d", i/1000, i%1000))
		default:
			cf = codicefiscale.Complete(fmt.Sprintf("NSCMRA%02dA01H%03d", i/1000, i%1000))
		}
		p, _, err := b.store.EnsurePatient(ctx, cf, "")
		if err != nil {
			return err
		}
		patients[i] = p.ID
		switch src {
		case "librelinkup":
			return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				_, err := b.syncer.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: b.info.Accounts[i].Email, Password: b.info.Accounts[i].Password})
				return err
			})
		case "dexcom":
			var authURL string
			err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				var err error
				authURL, err = b.syncer.StartDexcom(ctx, tx, p.ID, "bench")
				return err
			})
			if err != nil {
				return err
			}
			back, err := approve(ctx, b.info.Approve, authURL, b.info.DexcomUsers[i])
			if err != nil {
				return err
			}
			return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				_, err := b.syncer.FinishDexcom(ctx, tx, p.ID, "bench", back.Query())
				return err
			})
		default:
			return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				_, err := b.syncer.ConnectNightscout(ctx, tx, p.ID, connsync.NightscoutRequest{URL: b.info.Sites[i], APISecret: b.info.Secrets[i]})
				return err
			})
		}
	})
	return patients, err
}

// approve asks the child to approve a Dexcom consent as user and returns
// the redirect to the application.
func approve(ctx context.Context, control, authURL, user string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, control+"?"+url.Values{"url": {authURL}, "user": {user}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("approve: %d %s %v", resp.StatusCode, body, err)
	}
	return url.Parse(string(body))
}

// runFake serves the fakes with n patients each on free ports — a fake
// LibreLinkUp, a fake Dexcom API, n fake Nightscout sites — and a control
// address that approves Dexcom consents, prints their URLs and accounts as
// one JSON line, and runs until killed.
func runFake(n int, stdout io.Writer) error {
	fake := librelinkuptest.New(librelinkuptest.Options{})
	accounts, err := fake.Populate(3, n, 0, "eu")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	info := fakeInfo{URL: librelinkuptest.TemplateURL("http://" + ln.Addr().String()), Accounts: accounts}
	rome, err := cgm.Zone("Europe/Rome")
	if err != nil {
		return err
	}
	dx := dexcomtest.New(dexcomtest.Options{RedirectURIs: []string{dexcomRedirect}, RequestsPerHour: 1 << 30})
	ns := nssitetest.New(nil)
	for i := range n {
		user := fmt.Sprintf("SandboxUser%d", i+1)
		if _, err := dx.AddUser(dexcomtest.User{Username: user, Sim: glucosim.New(uint64(20000+i), glucosim.Libre3, rome)}); err != nil {
			return err
		}
		info.DexcomUsers = append(info.DexcomUsers, user)
		secret := fmt.Sprintf("bench-secret-%06d", i)
		path, err := ns.AddSite(nssitetest.Site{Name: fmt.Sprintf("site%d", i), APISecret: secret,
			Sim: glucosim.New(uint64(40000+i), glucosim.Libre3, rome)})
		if err != nil {
			return err
		}
		info.Sites, info.Secrets = append(info.Sites, path), append(info.Secrets, secret)
	}
	info.DexcomURL, info.ClientID, info.ClientSecret = dx.Start(), dx.ClientID(), dx.ClientSecret()
	nsBase := ns.Start()
	for i := range info.Sites {
		info.Sites[i] = nsBase + info.Sites[i]
	}
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		back, err := dx.Approve(r.URL.Query().Get("url"), r.URL.Query().Get("user"), true)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, back)
	}))
	info.Approve = control.URL
	if err := json.NewEncoder(stdout).Encode(info); err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
