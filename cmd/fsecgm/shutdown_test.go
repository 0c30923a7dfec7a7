package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5/pgxpool"
)

// envRunMain makes the test binary run fsecgm itself (its arguments after
// "--"), so that tests can start "fsecgm serve" as a child process and
// signal it, without building the binary.
const envRunMain = "FSECGM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		main2(args)
		return
	}
	dbtest.Main(m)
}

// main2 is main with the given arguments.
func main2(args []string) {
	os.Args = append([]string{"fsecgm"}, args...)
	main()
}

// child is a "fsecgm serve" child process.
type child struct {
	cmd    *exec.Cmd
	stderr *lockedWriter
	done   chan error
	base   string
}

// startServe starts "fsecgm serve ARGS" as a child process with the
// environment vars and waits until it listens.
func startServe(t *testing.T, vars map[string]string, args ...string) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"-test.run=^$", "--", "serve"}, args...)...)
	cmd.Env = []string{envRunMain + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{cmd: cmd, stderr: &lockedWriter{}, done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	c.base = waitListening(t, c.stderr, 90*time.Second, func() (string, bool) {
		select {
		case err := <-c.done:
			return fmt.Sprintf("(%v)", err), true
		default:
			return "", false
		}
	})
	return c
}

// TestShutdownDuringSync sends SIGTERM to a running "fsecgm serve" while a
// LibreLinkUp sync is in flight (the fake holds the graph request): the
// process must exit 0 well within --shutdown-timeout, the lease of the
// sync must be handed back (cleared, the connection still due, no sync
// run recorded for it), and the shutdown must be logged in order. Before
// that, /metrics is scraped on the service's listener.
func TestShutdownDuringSync(t *testing.T) {
	t.Parallel()
	fake, accounts, vars := devServeVars(t, 5)
	dbURL := vars["DATABASE_URL"]
	const timeout = 8 * time.Second
	c := startServe(t, vars, "--dev", "--addr", "127.0.0.1:0", "--shutdown-timeout", timeout.String())

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	iss, err := auth.OpenDevIssuer(vars["FSECGM_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	token, err := iss.Issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: taccuino.DemoPatientCF}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var id string
	if err := pool.QueryRow(ctx, `SELECT public_id FROM patients WHERE fiscal_code = $1`, taccuino.DemoPatientCF).Scan(&id); err != nil {
		t.Fatal(err)
	}
	a := accounts[0]
	if code, body := call("POST", "/api/v1/patients/"+id+"/connections",
		fmt.Sprintf(`{"privacy_notice_version":%q,"mode":"patient","email":%q,"password":%q}`, taccuino.PrivacyNoticeVersion, a.Email, a.Password)); code != 201 {
		t.Fatalf("connect: %d %s", code, body)
	}
	waitFor(t, "a first successful sync", 30*time.Second, func() bool {
		return count(t, pool, `SELECT count(*) FROM sync_connections WHERE last_success_at IS NOT NULL`) == 1
	})

	// The metrics, on the service's listener.
	if code, _ := call("GET", "/healthz", ""); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	code, text := call("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`fsecgm_sync_runs_total{outcome="ok",run="connection"}`,
		`fsecgm_readings_ingested_total{result="inserted",source="librelinkup"}`,
		`fsecgm_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`fsecgm_http_requests_total{method="POST",route="/api/v1/patients/:id/connections",status="201"} 1`,
		`fsecgm_db_pool_connections{state="acquired"}`,
		`fsecgm_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.2"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, id) || strings.Contains(text, taccuino.DemoPatientCF) {
		t.Errorf("/metrics holds a patient id or fiscal code")
	}

	// A sync in flight: the fake holds the graph for a minute.
	if err := fake.SetFaults(a.Email, librelinkuptest.Faults{Delay: time.Minute, On: librelinkuptest.EndpointGraph}); err != nil {
		t.Fatal(err)
	}
	runs := count(t, pool, `SELECT count(*) FROM sync_runs`)
	var due time.Time
	if err := pool.QueryRow(ctx, `UPDATE sync_connections SET next_sync_at = now() RETURNING next_sync_at`).Scan(&due); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sync to lease the connection", 30*time.Second, func() bool {
		return count(t, pool, `SELECT count(*) FROM sync_connections WHERE lease_owner IS NOT NULL`) == 1
	})
	time.Sleep(500 * time.Millisecond) // the graph request is now held by the fake

	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("serve exited with %v:\n%s", err, c.stderr.String())
		}
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("serve did not exit within %s of SIGTERM:\n%s", timeout+5*time.Second, c.stderr.String())
	}
	took := time.Since(start)
	t.Logf("exit %s after SIGTERM (bound %s)", took.Round(time.Millisecond), timeout)
	if took > timeout {
		t.Errorf("shutdown took %s, more than --shutdown-timeout %s", took, timeout)
	}

	var owner *string
	var next time.Time
	if err := pool.QueryRow(ctx, `SELECT lease_owner, next_sync_at FROM sync_connections`).Scan(&owner, &next); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		t.Errorf("the lease is still held by %s", *owner)
	}
	if !next.Equal(due) {
		t.Errorf("next_sync_at moved from %s to %s: the sync was recorded instead of handed back", due, next)
	}
	if n := count(t, pool, `SELECT count(*) FROM sync_runs`); n != runs {
		t.Errorf("%d sync runs recorded by the interrupted sync", n-runs)
	}
	logs := c.stderr.String()
	order := []string{`"msg":"shutting down"`, `"msg":"connsync: sync scheduler stopped"`, `"msg":"shutdown complete"`, `"msg":"stopped"`}
	last := -1
	for _, w := range order {
		i := strings.Index(logs, w)
		if i < 0 {
			t.Errorf("the log lacks %s", w)
			continue
		}
		if i < last {
			t.Errorf("%s logged out of order", w)
		}
		last = i
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", logs)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, q string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeUntilDone checks the shutdown order and its bound in process: a
// request in progress finishes, the jobs are cancelled, the pool closes
// last; a job that ignores its context makes the shutdown give up at the
// deadline with an error that names it.
func TestServeUntilDone(t *testing.T) {
	t.Parallel()
	var logs lockedWriter
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var (
		mu     sync.Mutex
		events []string
	)
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(700 * time.Millisecond)
		note("request done")
		fmt.Fprint(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	servers := []*listener{{name: "http", ln: ln, srv: newHTTPServer(ctx, slow, logger)}}
	jobs := []job{{name: "polite", run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(100 * time.Millisecond) // hands its work back
		note("job done")
		return ctx.Err()
	}}}
	done := make(chan error, 1)
	go func() {
		done <- serveUntilDone(ctx, logger, servers, jobs, 5*time.Second, func() { note("pool closed") })
	}()
	resc := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			resc <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		resc <- string(b)
	}()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveUntilDone: %v", err)
	}
	if got := <-resc; got != "ok" {
		t.Errorf("the request in progress got %q", got)
	}
	mu.Lock()
	got := strings.Join(events, ", ")
	mu.Unlock()
	if got != "job done, request done, pool closed" {
		t.Errorf("shutdown order: %s", got)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Errorf("the listener still accepts connections")
	}

	// A job that does not stop.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	stuck := make(chan struct{})
	defer close(stuck)
	jobs = []job{{name: "stubborn", run: func(context.Context) error { <-stuck; return nil }}}
	servers = []*listener{{name: "http", ln: ln2, srv: newHTTPServer(ctx2, http.NotFoundHandler(), logger)}}
	go func() {
		done <- serveUntilDone(ctx2, logger, servers, jobs, 300*time.Millisecond, func() { t.Error("pool closed under a running job") })
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel2()
	err = <-done
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("bounded shutdown took %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "job stubborn") {
		t.Errorf("err = %v, want one naming the stubborn job", err)
	}

	// A job that fails stops the service with its error.
	ln3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	jobs = []job{{name: "broken", run: func(context.Context) error { return errors.New("disk on fire") }}}
	servers = []*listener{{name: "http", ln: ln3, srv: newHTTPServer(context.Background(), http.NotFoundHandler(), logger)}}
	err = serveUntilDone(context.Background(), logger, servers, jobs, time.Second, func() {})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v, want the job's failure", err)
	}
}

// TestServeConfigOps checks the operational settings: they are validated at
// start with messages that name them, and --help lists them.
func TestServeConfigOps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badSubs := filepath.Join(dir, "subs.json")
	if err := os.WriteFile(badSubs, []byte(`[{"name":"x","kind":"ehr","base_url":"ftp://nowhere","auth":{"kind":"none"},"scope":{"kind":"all"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	prod := map[string]string{"FSECGM_OIDC_ISSUER": "https://idp.example", "FSECGM_OIDC_AUDIENCE": "fsecgm",
		"FSECGM_OIDC_JWKS_URL": "https://idp.example/jwks", "FSECGM_CREDENTIALS_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"production without base URL", nil, []string{"FSECGM_BASE_URL", "required"}},
		{"bad operational values", []string{"--base-url", "https://t.example", "--metrics-addr", "nowhere", "--shutdown-timeout", "-3s",
			"--subscriptions", badSubs}, []string{"--metrics-addr", "--shutdown-timeout", "--subscriptions", badSubs}},
		{"metrics on the service's address", []string{"--base-url", "https://t.example", "--addr", ":9000", "--metrics-addr", ":9000"},
			[]string{"--metrics-addr must differ"}},
		{"missing subscriptions file", []string{"--base-url", "https://t.example", "--subscriptions", filepath.Join(dir, "none.json")},
			[]string{"--subscriptions", "none.json"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{Stdout: &stdout, Stderr: &stderr, Getenv: mapEnv(prod)}, append([]string{"serve"}, tt.args...))
		if code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", tt.name, code, stderr.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%s: the error does not name %q:\n%s", tt.name, w, stderr.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), &env{Stdout: &stdout, Stderr: &stderr, Getenv: mapEnv(nil)}, []string{"serve", "--help"})
	for _, w := range []string{"-metrics-addr", "FSECGM_METRICS_ADDR", "-shutdown-timeout", "FSECGM_SHUTDOWN_TIMEOUT",
		"-subscriptions", "FSECGM_SUBSCRIPTIONS_FILE", "FSECGM_LIBRELINKUP_TIMEOUT"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("serve --help does not list %s", w)
		}
	}
}
