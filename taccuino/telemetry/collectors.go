package telemetry

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchPool registers a collector that reads pool.Stat() at every scrape:
// connections by state, the limit, acquires (all, those that waited,
// cancelled ones), the time spent acquiring, and connections made and
// destroyed.
func (m *Metrics) WatchPool(pool *pgxpool.Pool) error {
	return m.reg.Register(&poolCollector{stat: pool.Stat})
}

type poolCollector struct {
	stat func() *pgxpool.Stat
}

var (
	poolConnsDesc = prometheus.NewDesc(MetricPoolConns,
		"Connections of the database pool by state (acquired, idle, constructing).", []string{"state"}, nil)
	poolMaxDesc = prometheus.NewDesc(MetricPoolMaxConns,
		"Largest number of connections of the database pool.", nil, nil)
	poolAcquiresDesc = prometheus.NewDesc(MetricPoolAcquires,
		"Connections acquired from the database pool.", nil, nil)
	poolEmptyDesc = prometheus.NewDesc(MetricPoolEmptyAcquires,
		"Acquires that found no idle connection and waited for one (or for a new one).", nil, nil)
	poolCanceledDesc = prometheus.NewDesc(MetricPoolCanceled,
		"Acquires cancelled by their context before getting a connection.", nil, nil)
	poolWaitDesc = prometheus.NewDesc(MetricPoolAcquireWait,
		"Total time spent acquiring connections, in seconds.", nil, nil)
	poolEmptyWaitDesc = prometheus.NewDesc(MetricPoolEmptyWait,
		"Total time spent by acquires that had to wait for a connection, in seconds.", nil, nil)
	poolNewDesc = prometheus.NewDesc(MetricPoolNewConns,
		"Connections opened by the database pool.", nil, nil)
	poolDestroyedDesc = prometheus.NewDesc(MetricPoolDestroyed,
		"Connections closed by the database pool, by reason (max_lifetime, max_idle).", []string{"reason"}, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolConnsDesc, poolMaxDesc, poolAcquiresDesc, poolEmptyDesc, poolCanceledDesc,
		poolWaitDesc, poolEmptyWaitDesc, poolNewDesc, poolDestroyedDesc} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(poolConnsDesc, float64(s.AcquiredConns()), "acquired")
	gauge(poolConnsDesc, float64(s.IdleConns()), "idle")
	gauge(poolConnsDesc, float64(s.ConstructingConns()), "constructing")
	gauge(poolMaxDesc, float64(s.MaxConns()))
	counter(poolAcquiresDesc, float64(s.AcquireCount()))
	counter(poolEmptyDesc, float64(s.EmptyAcquireCount()))
	counter(poolCanceledDesc, float64(s.CanceledAcquireCount()))
	counter(poolWaitDesc, s.AcquireDuration().Seconds())
	counter(poolEmptyWaitDesc, s.EmptyAcquireWaitTime().Seconds())
	counter(poolNewDesc, float64(s.NewConnsCount()))
	counter(poolDestroyedDesc, float64(s.MaxLifetimeDestroyCount()), "max_lifetime")
	counter(poolDestroyedDesc, float64(s.MaxIdleDestroyCount()), "max_idle")
}

// OutboxStats are the outbox figures WatchOutbox exports
// (records.Stats, copied field by field by the caller).
type OutboxStats struct {
	// Pending messages wait for delivery; Leased of them are being
	// delivered now.
	Pending, Leased int
	// Poisoned messages wait for the operator.
	Poisoned int
	// Delivered and Cancelled count the finished messages.
	Delivered, Cancelled int
	// OldestPending is the age of the oldest pending message (0 when
	// none).
	OldestPending time.Duration
}

// OutboxStatsFunc reads the outbox figures (one database query).
type OutboxStatsFunc func(ctx context.Context) (OutboxStats, error)

// outboxTimeout bounds the outbox query of one scrape.
const outboxTimeout = 3 * time.Second

// WatchOutbox registers a collector that calls stats at every scrape
// (bounded by a few seconds) and exports the outbox's messages by state
// and the age of the oldest pending one. When stats fails (the database is
// down), those metrics are left out, fsecgm_outbox_stats_up is 0, and a
// warning is logged.
func (m *Metrics) WatchOutbox(stats OutboxStatsFunc, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return m.reg.Register(&outboxCollector{stats: stats, log: logger})
}

type outboxCollector struct {
	stats OutboxStatsFunc
	log   *slog.Logger
}

var (
	outboxMessagesDesc = prometheus.NewDesc(MetricOutboxMessages,
		"Messages of the FHIR delivery outbox by state (pending, leased, poisoned, delivered, cancelled); leased ones are pending too.",
		[]string{"state"}, nil)
	outboxOldestDesc = prometheus.NewDesc(MetricOutboxOldestPending,
		"Age of the oldest pending message of the FHIR delivery outbox, in seconds (0 when none).", nil, nil)
	outboxUpDesc = prometheus.NewDesc(MetricOutboxUp,
		"1 when the outbox figures could be read at this scrape, 0 when not.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxMessagesDesc
	ch <- outboxOldestDesc
	ch <- outboxUpDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		c.log.Warn("telemetry: outbox figures unavailable", slog.String("err", err.Error()))
		ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxUpDesc, prometheus.GaugeValue, 1)
	for _, x := range []struct {
		state string
		n     int
	}{{"pending", s.Pending}, {"leased", s.Leased}, {"poisoned", s.Poisoned}, {"delivered", s.Delivered}, {"cancelled", s.Cancelled}} {
		ch <- prometheus.MustNewConstMetric(outboxMessagesDesc, prometheus.GaugeValue, float64(x.n), x.state)
	}
	ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, s.OldestPending.Seconds())
}

// NotificationStats are the figures of the access-notification outbox
// WatchNotifications exports (notify.Stats, copied field by field by the
// caller).
type NotificationStats struct {
	// Pending messages wait to be sent; Leased of them are being sent.
	Pending, Leased int
	// Dead messages wait for the operator; Bounced were refused for good.
	Dead, Bounced int
	// Sent and Cancelled count finished messages (until purged).
	Sent, Cancelled int
	// Queued counts the accesses not yet composed into messages.
	Queued int
	// OldestPending is the age of the oldest pending message.
	OldestPending time.Duration
}

// NotificationStatsFunc reads the notification figures (one query).
type NotificationStatsFunc func(ctx context.Context) (NotificationStats, error)

// WatchNotifications registers a collector that calls stats at every
// scrape and exports the notification outbox by state, the accesses
// waiting to be composed and the age of the oldest pending message; when
// stats fails, fsecgm_notification_stats_up is 0.
func (m *Metrics) WatchNotifications(stats NotificationStatsFunc, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return m.reg.Register(&notificationCollector{stats: stats, log: logger})
}

type notificationCollector struct {
	stats NotificationStatsFunc
	log   *slog.Logger
}

var (
	notificationMessagesDesc = prometheus.NewDesc(MetricNotificationMessages,
		"Messages of the access-notification outbox by state (pending, leased, sent, dead, bounced, cancelled); leased ones are pending too; dead ones wait for the operator (fsecgm notifications).",
		[]string{"state"}, nil)
	notificationQueuedDesc = prometheus.NewDesc(MetricNotificationQueued,
		"Accesses waiting to be composed into notifications (daily ones wait for their digest).", nil, nil)
	notificationOldestDesc = prometheus.NewDesc(MetricNotificationOldestPending,
		"Age of the oldest pending access notification, in seconds (0 when none).", nil, nil)
	notificationUpDesc = prometheus.NewDesc(MetricNotificationUp,
		"1 when the notification figures could be read at this scrape, 0 when not.", nil, nil)
)

func (c *notificationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- notificationMessagesDesc
	ch <- notificationQueuedDesc
	ch <- notificationOldestDesc
	ch <- notificationUpDesc
}

func (c *notificationCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		c.log.Warn("telemetry: notification figures unavailable", slog.String("err", err.Error()))
		ch <- prometheus.MustNewConstMetric(notificationUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(notificationUpDesc, prometheus.GaugeValue, 1)
	for _, x := range []struct {
		state string
		n     int
	}{{"pending", s.Pending}, {"leased", s.Leased}, {"sent", s.Sent}, {"dead", s.Dead}, {"bounced", s.Bounced}, {"cancelled", s.Cancelled}} {
		ch <- prometheus.MustNewConstMetric(notificationMessagesDesc, prometheus.GaugeValue, float64(x.n), x.state)
	}
	ch <- prometheus.MustNewConstMetric(notificationQueuedDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(notificationOldestDesc, prometheus.GaugeValue, s.OldestPending.Seconds())
}
