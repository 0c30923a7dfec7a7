// Command benchsync measures the LibreLinkUp sync of one replica: it syncs
// -connections simulated connections (default 2,000) against the fake
// LibreLinkUp for -rounds rounds and prints
//
//	syncs_per_second: X                   connections synced per second of wall time, one replica
//	sync_cpu_ms_per_connection: X         CPU time (user + system) of this process per connection synced
//	postgres_cpu_ms_per_connection: X     CPU time of the PostgreSQL server per connection synced
//	cpu_fraction_for_13200_every_5min: X  share of one core the sync process needs for 13,200 connections every 5 minutes
//	cpu_fraction_with_postgres: X         the same, PostgreSQL included
//
// The fake LibreLinkUp runs in a child process (this program started with
// -serve-fake), so that its CPU time is not counted; PostgreSQL is a private
// server started in a temporary directory (fsync on, as in production, unless
// -nosync). Before the measured rounds, every connection is connected (one
// login) and synced once (its first 12 hours and 14 days of logbook); a
// measured round makes all connections due and runs Syncer.SyncDue until
// none is left: each sync fetches the graph (12 hours, mostly readings
// already stored) and ingests it through cgmstore.IngestTx in a
// transaction that also updates the connection and records the run — the
// steady state of a 5-minute cadence.
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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
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
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("connections", 2000, "simulated connections (patients with their own LibreLinkUp account)")
	rounds := fs.Int("rounds", 3, "measured rounds (each syncs every connection once)")
	workers := fs.Int("workers", 8, "syncs at a time (Config.Workers)")
	noSync := fs.Bool("nosync", false, "private server with fsync off")
	serveFake := fs.Int("serve-fake", 0, "internal: run the fake LibreLinkUp with this many patients and print its URL and accounts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serveFake > 0 {
		return runFake(*serveFake, stdout)
	}
	if *n < 1 || *n > 100000 || *rounds < 1 || *workers < 1 {
		return errors.New("-connections must be 1 to 100000, -rounds and -workers at least 1")
	}

	// The fake, in a child process.
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
		return fmt.Errorf("fake LibreLinkUp: %w", err)
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
	syncer, err := connsync.New(connsync.Config{Pool: pool, Store: store, Keys: keys,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		LibreLinkUp: librelinkup.Config{BaseURL: info.URL, Region: "eu"},
		Interval:    5 * time.Minute, LeaseTTL: 10 * time.Minute, Workers: *workers,
		LibreLinkUpBudget: connsync.BudgetConfig{PerMinute: 1e7, Burst: 1e6}})
	if err != nil {
		return err
	}

	// Connect every patient (one login each), then a first sync.
	start := time.Now()
	if err := connectAll(ctx, pool, store, syncer, info.Accounts[:*n], *workers); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "connected %d in %s\n", *n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	st, err := syncer.SyncDue(ctx)
	if err != nil {
		return err
	}
	if st.Synced != *n || st.Failed != 0 {
		return fmt.Errorf("first sync: %+v, want %d successful syncs", st, *n)
	}
	fmt.Fprintf(stderr, "first sync of %d (12 h + 14 days of logbook each) in %s, %d readings\n", *n, time.Since(start).Round(time.Millisecond), st.Inserted)

	pgBefore := postgresCPU(dataDir)
	cpuBefore := selfCPU()
	var wall time.Duration
	synced := 0
	for r := range *rounds {
		if _, err := pool.Exec(ctx, `UPDATE sync_connections SET next_sync_at = now()`); err != nil {
			return err
		}
		t0 := time.Now()
		st, err := syncer.SyncDue(ctx)
		d := time.Since(t0)
		if err != nil {
			return err
		}
		if st.Synced < *n || st.Failed != 0 {
			return fmt.Errorf("round %d: %+v, want %d successful syncs", r+1, st, *n)
		}
		fmt.Fprintf(stderr, "round %d: %d syncs in %s, %d new readings\n", r+1, st.Synced, d.Round(time.Millisecond), st.Inserted)
		wall += d
		synced += st.Synced
	}
	cpu := selfCPU() - cpuBefore
	pg := postgresCPU(dataDir) - pgBefore

	perConn := float64(cpu) / float64(time.Millisecond) / float64(synced)
	pgPerConn := float64(pg) / float64(time.Millisecond) / float64(synced)
	// 13,200 connections every 5 minutes: 44 syncs per second.
	const need = 13200.0 / 300.0
	fmt.Fprintf(stdout, "syncs_per_second: %.1f\n", float64(synced)/wall.Seconds())
	fmt.Fprintf(stdout, "sync_cpu_ms_per_connection: %.3f\n", perConn)
	fmt.Fprintf(stdout, "postgres_cpu_ms_per_connection: %.3f\n", pgPerConn)
	fmt.Fprintf(stdout, "cpu_fraction_for_13200_every_5min: %.3f\n", need*perConn/1000)
	fmt.Fprintf(stdout, "cpu_fraction_with_postgres: %.3f\n", need*(perConn+pgPerConn)/1000)
	return nil
}

// connectAll connects the accounts' patients, workers at a time.
func connectAll(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, s *connsync.Syncer, accounts []librelinkuptest.Account, workers int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				cf := accounts[i].FiscalCode // derived from the followed person's names: the binding's evidence
				p, _, err := store.EnsurePatient(ctx, cf, "")
				if err == nil {
					err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
						_, err := s.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: accounts[i].Email, Password: accounts[i].Password})
						return err
					})
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("connect %d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range accounts {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// selfCPU returns the user and system CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU returns the CPU time of the PostgreSQL server of dataDir
// (the postmaster and its children), from /proc; 0 where /proc is absent.
func postgresCPU(dataDir string) time.Duration {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	master := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	const ticks = 100 // USER_HZ on Linux
	var total int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces).
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 || (e.Name() != master && f[1] != master) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + k
	}
	return time.Duration(total) * time.Second / ticks
}

// runFake serves a fake LibreLinkUp with n patients on a free port and
// prints its URL and accounts as one JSON line; it runs until killed.
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
	if err := json.NewEncoder(stdout).Encode(info); err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
