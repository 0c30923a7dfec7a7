package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"

	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cmd/internal/runsvc"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations"
	"fsecgm/migrations/pgserver"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Settings of the service under test.
const (
	syncInterval = "4s"
	syncLease    = "20s" // > 3 × the LibreLinkUp timeout
	lluTimeout   = "5s"
	// shutdownTimeout of the service.
	shutdownTimeout = 10 * time.Second
)

// harness is everything the scenarios share.
type harness struct {
	dir    string
	keep   bool
	stderr io.Writer

	bin     string
	dataDir string
	pg      *pgserver.Server
	dbURL   string
	pool    *pgxpool.Pool
	store   *cgmstore.Store

	fake     *librelinkuptest.Server
	lluURL   string
	accounts []librelinkuptest.Account
	syncer   *connsync.Syncer // only to connect patients (Connect), never run

	iss     *auth.DevIssuer
	keyFile string
	env     map[string]string
	svc     *runsvc.Proc
	starts  int
	client  *http.Client

	// patients[i] is connected to accounts[i].
	patients  []patient
	connected time.Time
}

// patient is a simulated patient connected to the fake.
type patient struct {
	cgmstore.Patient
	token   string // the patient's own development token
	account librelinkuptest.Account
	conn    string // connection public id
}

func newHarness(ctx context.Context, stderr io.Writer, n int, keep bool) (*harness, error) {
	h := &harness{stderr: stderr, keep: keep, client: runsvc.Client(30 * time.Second)}
	var err error
	if h.dir, err = os.MkdirTemp("", "fsecgm-faults-"); err != nil {
		return nil, err
	}
	if err := os.Chmod(h.dir, 0o755); err != nil { // PostgreSQL runs as postgres under root
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			h.close()
		}
	}()
	logf(stderr, "building fsecgm")
	if h.bin, err = runsvc.Build(ctx, h.dir); err != nil {
		return nil, err
	}
	h.dataDir = filepath.Join(h.dir, "pg")
	if h.pg, err = pgserver.Start(ctx, pgserver.Options{DataDir: h.dataDir}); err != nil {
		return nil, err
	}
	if err := h.pg.CreateDatabase(ctx, "fsecgm"); err != nil {
		return nil, err
	}
	h.dbURL = h.pg.URL("fsecgm")
	if h.pool, err = pgxpool.New(ctx, h.dbURL); err != nil {
		return nil, err
	}
	if _, err := migrations.Apply(ctx, h.pool); err != nil {
		return nil, err
	}
	h.store = cgmstore.New(h.pool, cgmstore.Options{})

	h.fake = librelinkuptest.New(librelinkuptest.Options{})
	if h.accounts, err = h.fake.Populate(11, n, 0, "eu"); err != nil {
		return nil, err
	}
	h.lluURL = h.fake.Start()
	key := bytes.Repeat([]byte{0x42}, connsync.KeySize)
	keys, err := connsync.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	if h.syncer, err = connsync.New(connsync.Config{Pool: h.pool, Store: h.store, Keys: keys,
		LibreLinkUp: librelinkup.Config{BaseURL: h.lluURL}, Interval: time.Minute,
		LibreLinkUpBudget: connsync.BudgetConfig{PerMinute: 1e6}}); err != nil {
		return nil, err
	}
	h.keyFile = filepath.Join(h.dir, "dev-issuer.jwk")
	if h.iss, err = auth.OpenDevIssuer(h.keyFile); err != nil {
		return nil, err
	}
	h.env = map[string]string{
		"DATABASE_URL":               h.dbURL,
		"FSECGM_DEV_KEY_FILE":        h.keyFile,
		"FSECGM_CREDENTIALS_KEY":     base64.StdEncoding.EncodeToString(key),
		"FSECGM_LIBRELINKUP_URL":     h.lluURL,
		"FSECGM_LIBRELINKUP_TIMEOUT": lluTimeout,
		"FSECGM_SYNC_INTERVAL":       syncInterval,
		"FSECGM_LIBRELINKUP_BUDGET":  "60000",
		"FSECGM_SYNC_LEASE":          syncLease,
		"FSECGM_SYNC_TICK":           "500ms",
		"FSECGM_LOG_LEVEL":           "info",
	}

	// The patients and their connections, made through the library (the
	// API rate-limits connections per client IP, as it should).
	logf(stderr, "connecting %d simulated patients", n)
	h.connected = time.Now()
	for i := range n {
		cf := h.accounts[i].FiscalCode // derived from the followed person's names: the binding's evidence
		p, _, err := h.store.EnsurePatient(ctx, cf, "Europe/Rome")
		if err != nil {
			return nil, err
		}
		p.GivenName, p.FamilyName = h.accounts[i].FirstName, h.accounts[i].LastName
		if p, err = h.store.UpdatePatient(ctx, p); err != nil {
			return nil, err
		}
		var c connsync.Connection
		err = pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
			var err error
			c, err = h.syncer.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: h.accounts[i].Email, Password: h.accounts[i].Password})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("connect patient %d: %w", i, err)
		}
		tok, err := h.iss.Issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf}, 6*time.Hour)
		if err != nil {
			return nil, err
		}
		h.patients = append(h.patients, patient{Patient: p, token: tok, account: h.accounts[i], conn: c.ID})
	}
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	logf(stderr, "waiting for the first sync of every connection")
	if err := h.waitSynced(ctx, h.connected, 60*time.Second); err != nil {
		return nil, err
	}
	ok = true
	return h, nil
}

// start starts the service (again).
func (h *harness) start(ctx context.Context) error {
	h.starts++
	var err error
	h.svc, err = runsvc.Start(ctx, runsvc.Options{Binary: h.bin,
		Args: []string{"--dev", "--addr", "127.0.0.1:0", "--shutdown-timeout", shutdownTimeout.String()},
		Env:  h.env, LogFile: filepath.Join(h.dir, "serve.log")})
	return err
}

// close stops everything and removes the directory unless kept.
func (h *harness) close() {
	if h.svc != nil && !h.svc.Exited() {
		_, _ = h.svc.Stop(shutdownTimeout + 5*time.Second)
	}
	if h.fake != nil {
		h.fake.Close()
	}
	if h.pool != nil {
		h.pool.Close()
	}
	if h.pg != nil {
		_ = h.pg.Stop()
	}
	if !h.keep && h.dir != "" {
		_ = os.RemoveAll(h.dir)
	}
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "faults: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// get sends GET path with the token and returns the status and body.
func (h *harness) get(ctx context.Context, path, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.svc.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// post sends body with the content type and the token.
func (h *harness) post(ctx context.Context, path, token, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.svc.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	res, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// count runs a counting query.
func (h *harness) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := h.pool.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// exec runs a statement.
func (h *harness) exec(ctx context.Context, q string, args ...any) error {
	_, err := h.pool.Exec(ctx, q, args...)
	return err
}

// waitSynced waits until every connection but those in skip has a
// successful sync that started after since.
func (h *harness) waitSynced(ctx context.Context, since time.Time, limit time.Duration, skip ...string) error {
	if skip == nil {
		skip = []string{} // not NULL: NOT (x = ANY(NULL)) is never true
	}
	deadline := time.Now().Add(limit)
	for {
		n, err := h.count(ctx, `SELECT count(*) FROM sync_connections
			WHERE state <> 'disconnected' AND NOT (public_id = ANY($2::text[])) AND (last_success_at IS NULL OR last_success_at < $1)`,
			since, skip)
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%d connections not synced since %s", n, since.Format(time.TimeOnly))
			}
			return fmt.Errorf("waiting for syncs: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// due makes every connection due now, and ends the blocks of the
// accounts (their waits have passed).
func (h *harness) due(ctx context.Context) error {
	if err := h.exec(ctx, `UPDATE llu_accounts SET blocked_until = NULL`); err != nil {
		return err
	}
	return h.exec(ctx, `UPDATE sync_connections SET next_sync_at = now(), retry_at = NULL WHERE state <> 'disconnected'`)
}

// checkReadings compares the stored historic readings of every patient
// (but those in skip) with the simulator: every point the fake served
// between the first sync and the last successful one is stored, once,
// with its value, and nothing else is. It returns a description of the
// differences, empty when none.
func (h *harness) checkReadings(ctx context.Context, skip ...string) (string, int, error) {
	var problems []string
	total := 0
	for _, p := range h.patients {
		if slices.Contains(skip, p.conn) {
			continue
		}
		var last time.Time
		if err := h.pool.QueryRow(ctx, `SELECT last_success_at FROM sync_connections WHERE public_id = $1`, p.conn).Scan(&last); err != nil {
			return "", 0, err
		}
		fp, ok := h.fake.Patient(p.account.Follows[0])
		if !ok {
			return "", 0, fmt.Errorf("no fake patient for %s", p.account.Email)
		}
		stored, err := h.store.Readings(ctx, p.ID, time.Unix(0, 0), time.Now().Add(time.Hour), cgm.Historic)
		if err != nil {
			return "", 0, err
		}
		total += len(stored)
		got := map[int64]float64{}
		for _, r := range stored {
			if _, dup := got[r.Time.Unix()]; dup {
				problems = append(problems, fmt.Sprintf("%s: two readings at %s", p.PublicID[:8], r.Time.Format(time.RFC3339)))
			}
			v := r.Value
			if r.Unit == cgm.MmolL {
				v *= cgm.MgDLPerMmolL
			}
			got[r.Time.Unix()] = v
		}
		// Served for sure: from the first graph (12 h before the
		// connection) to the last one (17 min before the last sync),
		// a minute inside either end.
		inner := fp.Sim.Historic(h.connected.Add(-librelinkuptest.DefaultGraphSpan+time.Minute),
			last.Add(-librelinkuptest.DefaultGraphLag-time.Minute))
		// Possibly served: a few minutes outside either end.
		outer := map[int64]int{}
		for _, pt := range fp.Sim.Historic(h.connected.Add(-librelinkuptest.DefaultGraphSpan-5*time.Minute), time.Now()) {
			outer[pt.Time.Unix()] = pt.MgDL
		}
		missing := 0
		for _, pt := range inner {
			v, ok := got[pt.Time.Unix()]
			if !ok {
				missing++
				continue
			}
			if math.Abs(v-float64(pt.MgDL)) > 1 {
				problems = append(problems, fmt.Sprintf("%s: %s holds another value than the sensor's", p.PublicID[:8], pt.Time.Format(time.RFC3339)))
			}
		}
		if missing > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d of %d readings served are missing", p.PublicID[:8], missing, len(inner)))
		}
		extra := 0
		for t := range got {
			if _, ok := outer[t]; !ok {
				extra++
			}
		}
		if extra > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d readings the sensor never gave", p.PublicID[:8], extra))
		}
		if len(inner) == 0 {
			problems = append(problems, fmt.Sprintf("%s: nothing served to compare", p.PublicID[:8]))
		}
	}
	sort.Strings(problems)
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return strings.Join(problems, "; "), total, nil
}

// load drives GET requests on the read paths with workers goroutines until
// stopped, recording each answer.
type load struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	wg      sync.WaitGroup
}

// sample is one answer of the load.
type sample struct {
	at      time.Time
	path    string
	status  int // 0: transport error
	latency time.Duration
}

// startLoad starts workers goroutines reading the patients' latest glucose
// and glucometrics, and one polling /readyz and /healthz every 200 ms.
func (h *harness) startLoad(ctx context.Context, workers int) *load {
	l := &load{stop: make(chan struct{})}
	client := runsvc.Client(10 * time.Second)
	do := func(path, token string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.svc.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		t0 := time.Now()
		res, err := client.Do(req)
		s := sample{at: t0, path: path, latency: time.Since(t0)}
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			s.status, s.latency = res.StatusCode, time.Since(t0)
		}
		if i := strings.Index(s.path, "/patients/"); i >= 0 {
			s.path = "patient " + s.path[strings.LastIndexByte(s.path, '/')+1:]
		}
		l.mu.Lock()
		l.samples = append(l.samples, s)
		l.mu.Unlock()
	}
	for w := range workers {
		l.wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-l.stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				p := h.patients[i%len(h.patients)]
				what := "/glucose/latest"
				if i%2 == 1 {
					what = "/glucometrics"
				}
				do("/api/v1/patients/"+p.PublicID+what, p.token)
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	l.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				do("/readyz", "")
				do("/healthz", "")
			}
		}
	})
	return l
}

// end stops the load and returns its samples.
func (l *load) end() []sample {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

// between returns the samples sent in [from, to) on paths with prefix.
func between(ss []sample, from, to time.Time, prefix string) []sample {
	var out []sample
	for _, s := range ss {
		if !s.at.Before(from) && s.at.Before(to) && strings.HasPrefix(s.path, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// statuses counts samples by status.
func statuses(ss []sample) map[int]int {
	m := map[int]int{}
	for _, s := range ss {
		m[s.status]++
	}
	return m
}

// p99 returns the 99th percentile latency.
func p99(ss []sample) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	ls := make([]time.Duration, len(ss))
	for i, s := range ss {
		ls[i] = s.latency
	}
	slices.Sort(ls)
	return ls[min(len(ls)-1, len(ls)*99/100)]
}

// only reports whether every sample has status code.
func only(ss []sample, code int) bool {
	for _, s := range ss {
		if s.status != code {
			return false
		}
	}
	return len(ss) > 0
}

// fmtStatuses formats a status count map.
func fmtStatuses(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[k]))
	}
	return strings.Join(parts, " ")
}

// metric returns the value of a sample line of /metrics that starts
// with prefix (name and labels), or -1.
func (h *harness) metric(ctx context.Context, prefix string) float64 {
	code, body, err := h.get(ctx, "/metrics", "")
	if err != nil || code != 200 {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			var v float64
			if _, err := fmt.Sscan(strings.TrimPrefix(line, prefix+" "), &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// decode reads a JSON body.
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("answer %.200s: %w", b, err)
	}
	return nil
}

// ids returns the internal keys of the patients.
func (h *harness) ids() []int64 {
	out := make([]int64, len(h.patients))
	for i, p := range h.patients {
		out[i] = p.ID
	}
	return out
}
