// Package telemetry is fsecgm's operational telemetry: the Prometheus
// metrics served at /metrics (prometheus/client_golang, on a registry of
// its own, never the global default one) and the slog handler that puts
// the request id on every log line written while serving a request.
//
// The composition root (cmd/fsecgm) builds one [Metrics] per process and
// connects it to the parts it observes:
//
//   - [Metrics.Instrument] wraps the service's http.Handler: requests by
//     method, route pattern (never the raw path, which may hold a patient
//     id) and status, with a latency histogram per route;
//   - [Metrics.ObserveSync] is given to connsync.Config.Observe: syncs by
//     outcome and LibreLinkUp errors by kind;
//   - [Metrics.ObserveIngest] is given to cgmstore.Options.OnIngest:
//     readings ingested by source and result;
//   - [Metrics.WatchPool] reads pgxpool.Stat() at scrape time;
//   - [Metrics.WatchOutbox] reads the FHIR outbox's depth and oldest
//     pending age at scrape time, through a function (records.Store.Stats,
//     adapted);
//   - [Metrics.WatchNotifications] does the same for the access
//     notifications' outbox (notify.Store.Stats, adapted).
//
// Labels hold only bounded sets of values (route patterns, statuses,
// outcome and error kind names, source names); no label or value ever
// holds a fiscal code, a token, a patient id or a glucose value. The
// Metric* constants list every metric.
package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of fsecgm.
const Namespace = "fsecgm"

// The metrics of fsecgm, besides the Go runtime (go_*), process
// (process_*) and build (go_build_info) metrics.
const (
	MetricHTTPRequests              = "fsecgm_http_requests_total"                      // counter: method, route, status
	MetricHTTPDuration              = "fsecgm_http_request_duration_seconds"            // histogram: method, route
	MetricHTTPInFlight              = "fsecgm_http_requests_in_flight"                  // gauge
	MetricSyncs                     = "fsecgm_sync_runs_total"                          // counter: run (connection, follower_list), outcome (ok, failed, lost, released)
	MetricSyncDuration              = "fsecgm_sync_run_duration_seconds"                // histogram: run
	MetricConnectorErrors           = "fsecgm_connector_errors_total"                   // counter: connector (librelinkup), kind
	MetricReadingsIngested          = "fsecgm_readings_ingested_total"                  // counter: source, result (inserted, duplicate, revised, rejected)
	MetricOutboxMessages            = "fsecgm_outbox_messages"                          // gauge: state (pending, leased, poisoned, delivered, cancelled)
	MetricOutboxOldestPending       = "fsecgm_outbox_oldest_pending_age_seconds"        // gauge
	MetricOutboxUp                  = "fsecgm_outbox_stats_up"                          // gauge: 1 when the outbox could be read at the last scrape
	MetricNotificationMessages      = "fsecgm_notification_messages"                    // gauge: state (pending, leased, sent, dead, bounced, cancelled)
	MetricNotificationQueued        = "fsecgm_notification_accesses_queued"             // gauge
	MetricNotificationOldestPending = "fsecgm_notification_oldest_pending_age_seconds"  // gauge
	MetricNotificationUp            = "fsecgm_notification_stats_up"                    // gauge
	MetricPoolConns                 = "fsecgm_db_pool_connections"                      // gauge: state (acquired, idle, constructing)
	MetricPoolMaxConns              = "fsecgm_db_pool_max_connections"                  // gauge
	MetricPoolAcquires              = "fsecgm_db_pool_acquires_total"                   // counter
	MetricPoolEmptyAcquires         = "fsecgm_db_pool_empty_acquires_total"             // counter: acquires that had to wait for a connection
	MetricPoolCanceled              = "fsecgm_db_pool_canceled_acquires_total"          // counter
	MetricPoolAcquireWait           = "fsecgm_db_pool_acquire_wait_seconds_total"       // counter
	MetricPoolNewConns              = "fsecgm_db_pool_new_connections_total"            // counter
	MetricPoolDestroyed             = "fsecgm_db_pool_destroyed_connections_total"      // counter: reason (max_lifetime, max_idle)
	MetricPoolEmptyWait             = "fsecgm_db_pool_empty_acquire_wait_seconds_total" // counter
)

// httpBuckets are the latency buckets of HTTP requests, in seconds; 0.2 is
// the read paths' p99 goal (make loadtest).
var httpBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30}

// syncBuckets are the duration buckets of syncs, in seconds.
var syncBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Metrics owns fsecgm's registry and collectors. It is safe for concurrent
// use. Build one with New.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge

	syncs           *prometheus.CounterVec
	syncDuration    *prometheus.HistogramVec
	connectorErrors *prometheus.CounterVec
	readings        *prometheus.CounterVec
}

// New returns Metrics on a new registry holding the Go runtime, process
// and build-information collectors and fsecgm's own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHTTPRequests,
			Help: "HTTP requests served, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHTTPDuration,
			Help:    "Time to serve an HTTP request, from its headers to the end of the handler, by method and route pattern.",
			Buckets: httpBuckets,
		}, []string{"method", "route"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricHTTPInFlight,
			Help: "HTTP requests being served.",
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricSyncs,
			Help: "LibreLinkUp sync runs of this replica by run (connection, follower_list) and outcome (ok, failed, lost, released).",
		}, []string{"run", "outcome"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricSyncDuration,
			Help:    "Time from claiming a sync run to its outcome, by run (connection, follower_list).",
			Buckets: syncBuckets,
		}, []string{"run"}),
		connectorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricConnectorErrors,
			Help: "Failed sync runs by connector and error kind (librelinkup: bad credentials, account locked, rate limited, server error, ...).",
		}, []string{"connector", "kind"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricReadingsIngested,
			Help: "Readings through the ingestion path by source and result (inserted, duplicate, revised, rejected).",
		}, []string{"source", "result"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.httpRequests, m.httpDuration, m.httpInFlight,
		m.syncs, m.syncDuration, m.connectorErrors, m.readings,
	)
	return m
}

// Registry returns the registry, for tests and for registering more
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats. A
// collector that fails (the database is down) leaves its metrics out of
// the answer instead of failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // promhttp_metric_handler_errors_total
		ErrorHandling:     promhttp.ContinueOnError,
		Timeout:           10 * time.Second,
		EnableOpenMetrics: false,
	})
}

// SyncRun is what ObserveSync needs of a sync run (connsync.SyncEvent,
// copied field by field by the caller, so that this package does not
// depend on the connectors).
type SyncRun struct {
	// Source is the source's name (connector label); "librelinkup" when
	// empty.
	Source string
	// Follower is true for a follower account's list run.
	Follower bool
	// Outcome is "ok", "failed", "lost" or "released".
	Outcome string
	// Kind is the error kind of a failed run.
	Kind string
	// Duration is the time from claim to outcome.
	Duration time.Duration
}

// ObserveSync counts a sync run of any source, and its error kind (by
// connector) when it failed.
func (m *Metrics) ObserveSync(r SyncRun) {
	run := "connection"
	if r.Follower {
		run = "follower_list"
	}
	m.syncs.WithLabelValues(run, r.Outcome).Inc()
	m.syncDuration.WithLabelValues(run).Observe(r.Duration.Seconds())
	if r.Outcome == "failed" {
		kind := r.Kind
		if kind == "" {
			kind = "unknown"
		}
		source := r.Source
		if source == "" {
			source = "librelinkup"
		}
		m.connectorErrors.WithLabelValues(source, kind).Inc()
	}
}

// ObserveIngest counts the readings of one ingested batch of source.
func (m *Metrics) ObserveIngest(source string, inserted, duplicate, revised, rejected int) {
	for _, x := range []struct {
		result string
		n      int
	}{{"inserted", inserted}, {"duplicate", duplicate}, {"revised", revised}, {"rejected", rejected}} {
		if x.n > 0 {
			m.readings.WithLabelValues(source, x.result).Add(float64(x.n))
		}
	}
}

// statusLabel returns the status code as a label value.
func statusLabel(code int) string {
	if code < 100 || code > 999 {
		return "other"
	}
	return strconv.Itoa(code)
}
