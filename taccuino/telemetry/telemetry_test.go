package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"fsecgm/internal/testenv"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/web"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v5"
	dto "github.com/prometheus/client_model/go"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// lockedBuffer is a goroutine-safe log buffer (testenv.Logs).
type lockedBuffer = testenv.Logs

// series returns the samples of the metric family name as "label=value,..."
// → value (counters, gauges) or → sample count (histograms).
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var ls []string
			for _, lp := range mt.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out[strings.Join(ls, ",")] = value(mt)
		}
	}
	return out
}

func value(mt *dto.Metric) float64 {
	switch {
	case mt.Counter != nil:
		return mt.Counter.GetValue()
	case mt.Gauge != nil:
		return mt.Gauge.GetValue()
	case mt.Histogram != nil:
		return float64(mt.Histogram.GetSampleCount())
	}
	return 0
}

// newService returns the service a test drives: echo with the request id
// and request logger of package web, a few routes, and /metrics beside it
// on a ServeMux, all wrapped by Instrument.
func newService(t *testing.T, m *Metrics, logs io.Writer) *httptest.Server {
	t.Helper()
	logger := slog.New(RequestIDHandler(slog.NewJSONHandler(logs, nil)))
	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(logger, nil)
	e.Use(web.RequestID(), web.RequestLogger(logger))
	e.GET("/api/v1/patients/:id/readings", func(c *echo.Context) error {
		logger.InfoContext(c.Request().Context(), "inside the handler")
		return c.JSON(http.StatusOK, map[string]int{"n": 1})
	})
	e.GET("/forbidden/:id", func(c *echo.Context) error { return web.Forbidden() })
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", e)
	srv := httptest.NewServer(m.Instrument(mux))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// TestInstrument checks that requests are counted by route pattern (never
// the raw path) and by the status actually sent, errors and unknown
// routes included, and that /metrics serves them.
func TestInstrument(t *testing.T) {
	t.Parallel()
	m := New()
	var logs lockedBuffer
	srv := newService(t, m, &logs)
	const secretID = "c0ffee0123456789abcdef0123456789"
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/v1/patients/" + secretID + "/readings", 200},
		{"/api/v1/patients/another/readings", 200},
		{"/forbidden/" + secretID, 403},
		{"/no/such/" + secretID, 404},
	} {
		if code, body, _ := get(t, srv.URL+tt.path); code != tt.status {
			t.Errorf("GET %s: %d %s, want %d", tt.path, code, body, tt.status)
		}
	}
	code, text, _ := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	if strings.Contains(text, secretID) || strings.Contains(text, "another") {
		t.Errorf("/metrics holds a raw path")
	}
	for _, want := range []string{MetricHTTPRequests, MetricHTTPDuration, MetricHTTPInFlight, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	got := series(t, m, MetricHTTPRequests)
	want := map[string]float64{
		"method=GET,route=/api/v1/patients/:id/readings,status=200": 2,
		"method=GET,route=/forbidden/:id,status=403":                1,
		"method=GET,route=(no route),status=404":                    1,
	}
	delete(got, "method=GET,route=/metrics,status=200") // being scraped: not counted yet, or counted once
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", MetricHTTPRequests, diff)
	}
	// The /metrics request itself is counted once it has ended.
	get(t, srv.URL+"/metrics")
	if n := series(t, m, MetricHTTPRequests)["method=GET,route=/metrics,status=200"]; n < 1 {
		t.Errorf("/metrics requests not counted under their pattern")
	}
	if n := series(t, m, MetricHTTPDuration)["method=GET,route=/api/v1/patients/:id/readings"]; n != 2 {
		t.Errorf("latency samples of the readings route: %v, want 2", n)
	}
}

// TestRequestIDHandler checks that a line logged with a request's context
// carries its id, once.
func TestRequestIDHandler(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv := newService(t, New(), &logs)
	_, _, h := get(t, srv.URL+"/api/v1/patients/x/readings")
	id := h.Get(web.HeaderRequestID)
	if id == "" {
		t.Fatal("no request id header")
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if m[RequestIDKey] != id {
			t.Errorf("line without the request id %s: %s", id, line)
		}
		if strings.Count(line, `"`+RequestIDKey+`"`) != 1 {
			t.Errorf("request id not exactly once: %s", line)
		}
		seen[m["msg"].(string)] = true
	}
	if !seen["inside the handler"] || !seen["request"] {
		t.Errorf("lines seen: %v", seen)
	}
	// Outside a request nothing is added.
	var b bytes.Buffer
	slog.New(RequestIDHandler(slog.NewJSONHandler(&b, nil))).InfoContext(context.Background(), "background")
	if strings.Contains(b.String(), RequestIDKey) {
		t.Errorf("background line got a request id: %s", b.String())
	}
}

// TestObserve checks the sync and ingestion counters.
func TestObserve(t *testing.T) {
	t.Parallel()
	m := New()
	m.ObserveSync(SyncRun{Outcome: "ok", Duration: 200 * time.Millisecond})
	m.ObserveSync(SyncRun{Outcome: "failed", Kind: "rate limited", Duration: time.Second})
	m.ObserveSync(SyncRun{Outcome: "failed", Kind: "rate limited"})
	m.ObserveSync(SyncRun{Follower: true, Outcome: "released"})
	m.ObserveIngest("librelinkup", 10, 2, 0, 1)
	m.ObserveIngest("librelinkup", 5, 0, 1, 0)
	for _, tt := range []struct {
		name string
		want map[string]float64
	}{
		{MetricSyncs, map[string]float64{
			"outcome=ok,run=connection": 1, "outcome=failed,run=connection": 2, "outcome=released,run=follower_list": 1}},
		{MetricConnectorErrors, map[string]float64{"connector=librelinkup,kind=rate limited": 2}},
		{MetricSyncDuration, map[string]float64{"run=connection": 3, "run=follower_list": 1}},
		{MetricReadingsIngested, map[string]float64{
			"result=inserted,source=librelinkup": 15, "result=duplicate,source=librelinkup": 2,
			"result=revised,source=librelinkup": 1, "result=rejected,source=librelinkup": 1}},
	} {
		if diff := cmp.Diff(tt.want, series(t, m, tt.name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestWatchOutbox checks the outbox gauges, and that a failing query
// leaves them out without failing the scrape.
func TestWatchOutbox(t *testing.T) {
	t.Parallel()
	m := New()
	var (
		mu   sync.Mutex
		fail bool
	)
	err := m.WatchOutbox(func(ctx context.Context) (OutboxStats, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return OutboxStats{}, errors.New("database down")
		}
		return OutboxStats{Pending: 7, Leased: 2, Poisoned: 1, Delivered: 40, Cancelled: 3, OldestPending: 90 * time.Second}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"state=pending": 7, "state=leased": 2, "state=poisoned": 1, "state=delivered": 40, "state=cancelled": 3}
	if diff := cmp.Diff(want, series(t, m, MetricOutboxMessages)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if got := series(t, m, MetricOutboxOldestPending)[""]; got != 90 {
		t.Errorf("oldest pending age %v, want 90", got)
	}
	if got := series(t, m, MetricOutboxUp)[""]; got != 1 {
		t.Errorf("up %v, want 1", got)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	if got := series(t, m, MetricOutboxMessages); len(got) != 0 {
		t.Errorf("messages exported while the outbox cannot be read: %v", got)
	}
	if got := series(t, m, MetricOutboxUp)[""]; got != 0 {
		t.Errorf("up %v, want 0", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), MetricOutboxUp+" 0") {
		t.Errorf("scrape with the outbox down: %d\n%s", rec.Code, rec.Body.String())
	}
}

// TestWatchPool checks the pool collector against a real pool.
func TestWatchPool(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	m := New()
	if err := m.WatchPool(pool); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conns := series(t, m, MetricPoolConns)
	if conns["state=acquired"] != 1 {
		t.Errorf("acquired connections %v, want 1 (%v)", conns["state=acquired"], conns)
	}
	conn.Release()
	if got := series(t, m, MetricPoolConns)["state=acquired"]; got != 0 {
		t.Errorf("acquired after release %v, want 0", got)
	}
	if got := series(t, m, MetricPoolAcquires)[""]; got < 1 {
		t.Errorf("acquires %v, want at least 1", got)
	}
	if got := series(t, m, MetricPoolMaxConns)[""]; got != float64(pool.Config().MaxConns) {
		t.Errorf("max connections %v, want %d", got, pool.Config().MaxConns)
	}
	for _, name := range []string{MetricPoolEmptyAcquires, MetricPoolCanceled, MetricPoolAcquireWait, MetricPoolEmptyWait, MetricPoolNewConns} {
		if _, ok := series(t, m, name)[""]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if got := series(t, m, MetricPoolDestroyed); len(got) != 2 {
		t.Errorf("%s: %v", MetricPoolDestroyed, got)
	}
}
