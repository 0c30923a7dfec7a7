package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestSyncReplicas runs three "fsecgm serve" processes on one
// database against the fake LibreLinkUp with 200 connections, a 10-second
// interval, for four and a half intervals, and kills one of them with
// SIGKILL half-way. Every connection must be synced exactly once in each
// slot of its phase (none skipped, none twice, no two syncs of one
// connection overlapping), the work must be spread over the replicas, and
// the stored readings must be exactly the simulator's for the windows the
// syncs fetched.
func TestSyncReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process sync test (about a minute); skipped with -short")
	}
	const (
		connections = 200
		interval    = 10 * time.Second
		lease       = 4 * time.Second
		runFor      = 45 * time.Second
		killAt      = 22 * time.Second
	)
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fsecgm")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	url := dbtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	fake := librelinkuptest.New(librelinkuptest.Options{})
	accounts, err := fake.Populate(11, connections, 0, "eu")
	if err != nil {
		t.Fatal(err)
	}
	fakeURL := fake.Start()
	defer fake.Close()

	key := make([]byte, connsync.KeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	keys, err := connsync.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	store := cgmstore.New(pool, cgmstore.Options{})
	syncer, err := connsync.New(connsync.Config{Pool: pool, Store: store, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		LibreLinkUp: librelinkup.Config{BaseURL: fakeURL, Region: "eu"}, LibreLinkUpBudget: connsync.BudgetConfig{PerMinute: 1e6}})
	if err != nil {
		t.Fatal(err)
	}
	patients := make([]cgmstore.Patient, connections)
	for i := range connections {
		p, _, err := store.EnsurePatient(ctx, accounts[i].FiscalCode, "")
		if err != nil {
			t.Fatal(err)
		}
		patients[i] = p
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := syncer.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: accounts[i].Email, Password: accounts[i].Password})
			return err
		})
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
	}

	// Graphs take 150 ms, so that a replica is usually in the middle of
	// syncs when it is killed.
	for _, a := range accounts {
		if err := fake.SetFaults(a.Email, librelinkuptest.Faults{On: librelinkuptest.EndpointGraph, Delay: 150 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	procs := make([]*exec.Cmd, 3)
	for i := range procs {
		name := fmt.Sprintf("replica-%d", i+1)
		// A full service process in production mode: the regional identity
		// provider is unreachable here, which the service tolerates at start
		// (no request is made in this test); the sync runs beside the HTTP
		// server, the summaries updater and the delivery worker.
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database-url", url, "--log-level", "info")
		cmd.Env = append(os.Environ(),
			"FSECGM_BASE_URL=https://taccuino.example.invalid",
			"FSECGM_OIDC_ISSUER=https://idp.example.invalid",
			"FSECGM_OIDC_AUDIENCE=fsecgm",
			"FSECGM_OIDC_JWKS_URL=https://idp.example.invalid/jwks",
			connsync.EnvLibreLinkUpURL+"="+fakeURL,
			connsync.EnvLibreLinkUpRegion+"=eu",
			connsync.EnvLibreLinkUpTimeout+"=2s",
			connsync.EnvSyncInterval+"="+interval.String(),
			connsync.EnvSyncLease+"="+lease.String(),
			connsync.EnvSyncTick+"=250ms",
			connsync.EnvSyncWorkers+"=4",
			connsync.EnvLibreLinkUpBudget+"=60000",
			connsync.EnvReplica+"="+name,
			connsync.EnvCredentialsKey+"="+base64.StdEncoding.EncodeToString(key),
			connsync.EnvCredentialsKeyFile+"=",
		)
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = cmd
		defer func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		}()
	}
	time.Sleep(killAt)
	// Kill replica-3 (SIGKILL: no cleanup at all) while it holds leases.
	var leased int
	for deadline := time.Now().Add(5 * time.Second); leased == 0 && time.Now().Before(deadline); {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM sync_connections WHERE lease_owner = 'replica-3'`).Scan(&leased); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	if err := procs[2].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if leased == 0 {
		t.Errorf("replica-3 held no lease when killed: the kill did not happen mid-sync")
	}
	_ = procs[2].Wait()
	time.Sleep(runFor - killAt)
	stop := time.Now()
	for _, p := range procs[:2] {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for i, p := range procs[:2] {
		if err := p.Wait(); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i+1)))
			t.Errorf("replica-%d exited with %v:\n%s", i+1, err, b)
		}
	}

	type run struct {
		conn                       int64
		scheduled, started, finish time.Time
		replica, outcome           string
		inserted                   int
	}
	rows, _ := pool.Query(ctx, `SELECT connection_id, scheduled_for, started_at, finished_at, replica, outcome, inserted
		FROM sync_runs ORDER BY connection_id, started_at`)
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (run, error) {
		var x run
		err := r.Scan(&x.conn, &x.scheduled, &x.started, &x.finish, &x.replica, &x.outcome, &x.inserted)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	phases := map[int64]float64{}
	rows, _ = pool.Query(ctx, `SELECT id, phase FROM sync_connections`)
	var id int64
	var phase float64
	if _, err := pgx.ForEachRow(rows, []any{&id, &phase}, func() error { phases[id] = phase; return nil }); err != nil {
		t.Fatal(err)
	}

	// Slots: every slot of every connection between the end of the first
	// interval and the last slot whose sync must have committed is synced
	// exactly once.
	sec := interval.Seconds()
	from, to := start.Add(interval+2*time.Second), stop.Add(-lease-2*time.Second)
	perSlot := map[[2]int64]int{}
	byReplica := map[string]int{}
	var maxDelay time.Duration
	lastFinish := map[int64]time.Time{}
	for _, r := range runs {
		if r.outcome != "ok" {
			t.Errorf("connection %d: sync outcome %q", r.conn, r.outcome)
		}
		byReplica[r.replica]++
		if f, ok := lastFinish[r.conn]; ok && r.started.Before(f) {
			t.Errorf("connection %d: two syncs overlap (one ends %s, the next starts %s)", r.conn, f, r.started)
		}
		lastFinish[r.conn] = r.finish
		if r.scheduled.Before(from) {
			continue
		}
		k := float64(r.scheduled.UnixMicro())/1e6/sec - phases[r.conn]
		if math.Abs(k-math.Round(k)) > 1e-3 {
			t.Errorf("connection %d: run scheduled off its slots at %s", r.conn, r.scheduled)
			continue
		}
		perSlot[[2]int64{r.conn, int64(math.Round(k))}]++
		if d := r.started.Sub(r.scheduled); d > maxDelay && r.scheduled.Before(to) {
			maxDelay = d
		}
	}
	// A slot may pass unsynced only by the scheduling rule (connsync's
	// doc): after a sync the connection is due at the first slot at least
	// half an interval later, so a sync that ended less than half an
	// interval before a slot (started late: a lease of the killed replica
	// expiring, or replicas starved of CPU on a loaded machine) defers that
	// slot to the next. Any other slot without a sync is lost.
	finished := map[int64][]run{}
	for _, r := range runs {
		finished[r.conn] = append(finished[r.conn], r)
	}
	deferred := func(conn int64, slot time.Time) bool {
		for _, r := range finished[conn] {
			if r.started.Before(slot) && r.finish.After(slot.Add(-interval/2)) {
				return true
			}
		}
		return false
	}
	missing, skipped, doubled, slots := 0, 0, 0, 0
	for conn, ph := range phases {
		for k := int64(math.Ceil(float64(from.UnixMicro())/1e6/sec - ph)); float64(k)+ph <= float64(to.UnixMicro())/1e6/sec; k++ {
			slots++
			switch n := perSlot[[2]int64{conn, k}]; {
			case n == 0 && deferred(conn, time.UnixMicro(int64(math.Round((float64(k)+ph)*sec*1e6)))):
				skipped++
			case n == 0:
				missing++
			case n > 1:
				doubled++
			}
		}
	}
	t.Logf("%d runs, %d slots checked (%d deferred by a late sync), by replica %v, latest start after a slot %s, killed replica-3 at +%s holding %d leases",
		len(runs), slots, skipped, byReplica, maxDelay, killed.Sub(start).Round(time.Second), leased)
	if skipped > slots/10 {
		t.Errorf("%d of %d slots deferred by late syncs: the replicas do not keep up", skipped, slots)
	}
	if missing > 0 || doubled > 0 || slots < 2*connections {
		t.Errorf("of %d slots, %d were not synced and %d were synced more than once", slots, missing, doubled)
	}
	for i := range 3 {
		if n := byReplica[fmt.Sprintf("replica-%d", i+1)]; n < len(runs)/10 {
			t.Errorf("replica-%d made %d of %d syncs: the work is not spread", i+1, n, len(runs))
		}
	}

	// Readings: exactly the simulator's, none lost, none twice.
	var inserted, stored int
	for _, r := range runs {
		inserted += r.inserted
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM readings`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if inserted != stored {
		t.Errorf("runs report %d readings inserted, the table holds %d", inserted, stored)
	}
	rows, _ = pool.Query(ctx, `SELECT c.patient_id, min(r.started_at), min(r.finished_at), max(r.started_at), max(r.finished_at)
		FROM sync_runs r JOIN sync_connections c ON c.id = r.connection_id GROUP BY 1`)
	type window struct{ s1, f1, sN, fN time.Time }
	windows := map[int64]window{}
	var pid int64
	var w window
	if _, err := pgx.ForEachRow(rows, []any{&pid, &w.s1, &w.f1, &w.sN, &w.fN}, func() error { windows[pid] = w; return nil }); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, p := range patients {
		fp, _ := fake.Patient(accounts[i].Follows[0])
		w := windows[p.ID]
		rs, err := store.Readings(ctx, p.ID, time.Unix(0, 0), time.Now().Add(time.Hour), cgm.Historic, cgm.Current)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int{}
		for _, r := range rs {
			if r.Kind == cgm.Current {
				if pt, ok := fp.Sim.Current(r.Time); !ok || float64(pt.MgDL) != r.Value {
					bad++
				}
				continue
			}
			got[r.Time.Unix()] = int(r.Value)
		}
		sure := fp.Sim.Historic(w.f1.Add(-librelinkuptest.DefaultGraphSpan), w.sN.Add(-librelinkuptest.DefaultGraphLag))
		maybe := fp.Sim.Historic(w.s1.Add(-librelinkuptest.DefaultGraphSpan), w.fN.Add(-librelinkuptest.DefaultGraphLag))
		possible := map[int64]int{}
		for _, pt := range maybe {
			possible[pt.Time.Unix()] = pt.MgDL
		}
		for _, pt := range sure {
			if got[pt.Time.Unix()] != pt.MgDL {
				bad++
			}
		}
		for ts, v := range got {
			if pv, ok := possible[ts]; !ok || pv != v {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d readings lost, wrong or not from the fetched windows", bad)
	}
}
