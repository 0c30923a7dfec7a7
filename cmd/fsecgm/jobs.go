package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/sessions"
	"fsecgm/taccuino/summaries"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// job is a background task of "fsecgm serve". run works until ctx is done
// and then returns (nil or ctx.Err()); any other error stops the service.
type job struct {
	name string
	run  func(ctx context.Context) error
}

// jobDeps is what the background jobs may use.
type jobDeps struct {
	Logger  *slog.Logger
	Pool    *pgxpool.Pool
	Store   *cgmstore.Store
	Consent *consent.Store
	Sync    *connsync.Syncer
	// Sessions keeps the ended sessions in memory (its listener).
	Sessions *sessions.Store
	// Records is the FHIR outbox the delivery job empties.
	Records *records.Store
	// Summaries keeps the patients' summaries up to date.
	Summaries *summaries.Updater
	// Getenv reads the subscriptions' secrets.
	Getenv func(string) string
	Dev    bool
	// Notify is the access notifications' store (nil: notifications off);
	// Mailer sends them; Compose configures the composer.
	Notify  *notify.Store
	Mailer  notify.Mailer
	Compose notify.ComposerOptions
	// ShutdownTimeout bounds the shutdown: a job must stop within it
	// after its context is cancelled (deliveries get a grace shorter than
	// it).
	ShutdownTimeout time.Duration
	// CompactAfter is the age after which readings are compacted; 0: the
	// readings-compact job does not run.
	CompactAfter time.Duration
	// Population refreshes the population view daily at PopulationAt
	// (nil: the population-refresh job does not run).
	Population   *population.Refresher
	PopulationAt timeOfDay
}

// compactInterval is how often the readings-compact job looks for days
// past the age: a day crosses it every 24 hours, and a run with nothing to
// do reads reading_coverage once.
const compactInterval = time.Hour

// serveJobs lists the background jobs that run with the HTTP server
// (serveUntilDone), sharing one context: when one fails or the service is
// asked to stop, all stop, within the shutdown timeout:
//
//   - llu-sync: the LibreLinkUp sync scheduler (connsync.Syncer.Run); at
//     shutdown, syncs in flight hand their leases back;
//   - outbox-purge: daily, the finished messages of both outboxes older
//     than 30 days are deleted;
//   - readings-partitions: the store's daily upkeep
//     (cgmstore.Store.KeepPartitions), at start and every day;
//   - summaries: the summaries updater (summaries.Updater.Run): day rows
//     and summaries from the dirty marks, published to the records; a
//     round in progress is a transaction that rolls back at shutdown;
//   - fhir-delivery: the outbox worker (records.Deliverer.Run); at
//     shutdown, deliveries in progress get half the shutdown timeout to
//     finish, then are handed back, their attempt not counted;
//   - notify-compose and notify-send: the access notifications' composer
//     (notify.Composer.Run: queued accesses into messages, one replica at
//     a time) and SMTP sender (notify.Sender.Run: the outbox, with the
//     same grace as the deliveries);
//   - sessions: the listener of ended sessions (sessions.Store.Run), so
//     that every request's check is answered from memory;
//   - readings-compact: readings older than CompactAfter move to the
//     compressed history on plain PostgreSQL
//     (cgmstore.Store.RunCompaction, hourly, one replica at a time; a
//     transaction in progress rolls back at shutdown); on TimescaleDB it
//     does nothing, the hypertable's compression policy does it;
//   - population-refresh: the population view (population.Refresher),
//     daily at PopulationAt in the region's calendar, and between those
//     runs whenever the view asks for it (see populationJob); one replica
//     at a time (the refresher's advisory lock), a refresh in progress is
//     a transaction that rolls back at shutdown.
func serveJobs(d jobDeps) ([]job, error) {
	jobs := []job{{name: "llu-sync", run: d.Sync.Run}}
	if d.Sessions != nil {
		jobs = append(jobs, job{name: "sessions", run: d.Sessions.Run})
	}
	if d.CompactAfter > 0 && d.Store != nil {
		jobs = append(jobs, job{name: "readings-compact", run: func(ctx context.Context) error {
			return d.Store.RunCompaction(ctx, d.CompactAfter, compactInterval)
		}})
	}
	if d.Store != nil {
		jobs = append(jobs, job{name: "readings-partitions", run: partitionsJob(d.Store, d.Logger)})
	}
	if d.Summaries != nil {
		jobs = append(jobs, job{name: "summaries", run: d.Summaries.Run})
	}
	if d.Population != nil {
		jobs = append(jobs, job{name: "population-refresh", run: populationJob(d.Population, d.PopulationAt, d.Logger)})
	}
	if d.Records != nil || d.Notify != nil {
		jobs = append(jobs, job{name: "outbox-purge", run: outboxPurgeJob(d.Records, d.Notify, d.Logger)})
	}
	if d.Records != nil {
		dl, err := records.NewDeliverer(d.Records, d.Consent, records.DeliveryOptions{Logger: d.Logger, Getenv: d.Getenv,
			Grace: d.ShutdownTimeout / 2})
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job{name: "fhir-delivery", run: dl.Run})
	}
	if d.Notify != nil {
		comp, err := notify.NewComposer(d.Notify, d.Compose)
		if err != nil {
			return nil, err
		}
		sender, err := notify.NewSender(d.Notify, d.Mailer, notify.SenderOptions{Logger: d.Logger, Grace: d.ShutdownTimeout / 2})
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job{name: "notify-compose", run: comp.Run}, job{name: "notify-send", run: sender.Run})
	}
	return jobs, nil
}

// partitionsEvery is how often the readings partitions are kept ready.
const partitionsEvery = 24 * time.Hour

// partitionsJob schedules cgmstore.Store.KeepPartitions at start and every
// partitionsEvery. Every replica runs it; the store serialises the work in
// the database. A failed run is logged and retried at the next one: until
// then, a batch that needs a missing month creates it itself or lands in
// the default partition.
func partitionsJob(store *cgmstore.Store, logger *slog.Logger) func(ctx context.Context) error {
	logger = orDiscard(logger)
	return everyJob("readings-partitions", partitionsEvery, logger, func(ctx context.Context) error {
		created, err := store.KeepPartitions(ctx, time.Now())
		if err == nil && len(created) > 0 {
			logger.InfoContext(ctx, "readings partitions created", "partitions", created)
		}
		return err
	})
}

// outboxRetention is how long delivered FHIR messages and sent
// notifications are kept before outboxPurgeJob deletes them: their bodies
// hold patient data, and the access log keeps the record of each delivery.
const outboxRetention = 30 * 24 * time.Hour

// outboxPurgeJob deletes, daily, the finished messages of the FHIR outbox
// and of the notifications' outbox older than outboxRetention (poisoned,
// dead and bounced ones stay for the operator). Any replica may run it:
// each run is one DELETE per outbox.
func outboxPurgeJob(rec *records.Store, nt *notify.Store, logger *slog.Logger) func(ctx context.Context) error {
	logger = orDiscard(logger)
	return everyJob("outbox-purge", partitionsEvery, logger, func(ctx context.Context) error {
		before := time.Now().Add(-outboxRetention)
		var n1, n2 int64
		var err error
		if rec != nil {
			if n1, err = rec.PurgeFinished(ctx, before); err != nil {
				return err
			}
		}
		if nt != nil {
			if n2, err = nt.PurgeFinished(ctx, before); err != nil {
				return err
			}
		}
		if n1+n2 > 0 {
			logger.InfoContext(ctx, "finished outbox messages purged", "fhir", n1, "notifications", n2)
		}
		return nil
	})
}

// timeOfDay is a local time of day, hours and minutes.
type timeOfDay struct{ hour, minute int }

// parseTimeOfDay reads "HH:MM" (00:00 to 23:59).
func parseTimeOfDay(s string) (timeOfDay, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return timeOfDay{}, errors.New("want a local time of day HH:MM, such as 03:30")
	}
	return timeOfDay{t.Hour(), t.Minute()}, nil
}

// latest returns the latest instant at or before now that is at t on a
// day of now's location.
func (t timeOfDay) latest(now time.Time) time.Time {
	y, m, d := now.Date()
	at := time.Date(y, m, d, t.hour, t.minute, 0, 0, now.Location())
	if at.After(now) {
		at = time.Date(y, m, d-1, t.hour, t.minute, 0, 0, now.Location())
	}
	return at
}

// populationCheck is how often the population-refresh job looks, between
// its nightly runs, whether the view asks for a refresh.
const populationCheck = 10 * time.Minute

// populationJob schedules the population view's refresh with gocron in the
// refresher's calendar (Europe/Rome): daily at at, when the day's figures
// are complete and the service is quiet, and every populationCheck (the
// first at start) when the view asks for it (population.Refresher.Due):
// never built, a patient's opposition to secondary use (population.Forget
// removed the member at once; the releases still count them), a new k, or
// a nightly run missed (the service was down, or the run failed). A run
// refreshes only when due, decided under the refresher's advisory lock
// (population.Refresher.RefreshIfDue), so that replicas whose schedules
// fire together refresh once: the first refreshes, the others get
// population.ErrBusy and skip, or find the view fresh.
func populationJob(r *population.Refresher, at timeOfDay, logger *slog.Logger) func(ctx context.Context) error {
	logger = orDiscard(logger)
	const name = "population-refresh"
	refresh := func(ctx context.Context) error {
		since := at.latest(time.Now().In(r.Zone()))
		if due, err := r.Due(ctx, since); err != nil || !due {
			return err // most rounds: one read
		}
		start := time.Now()
		res, done, err := r.RefreshIfDue(ctx, since)
		switch {
		case errors.Is(err, population.ErrBusy):
			logger.InfoContext(ctx, "population view: another replica is refreshing it")
			return nil
		case err != nil || !done:
			return err
		}
		logger.InfoContext(ctx, "population view refreshed", "members", res.Members, "opposed", res.Opposed,
			"period_rows", res.PeriodRows, "releases", res.Releases, "suppressed", res.Suppressed, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	daily := gocron.DailyJob(1, gocron.NewAtTimes(gocron.NewAtTime(uint(at.hour), uint(at.minute), 0)))
	return scheduled(name, r.Zone(), logger, refresh, timing{def: daily},
		timing{def: gocron.DurationJob(populationCheck), atStart: true})
}

// everyJob runs task with gocron at start and every d until ctx is done;
// a failed run is logged as name and retried at the next one.
func everyJob(name string, d time.Duration, logger *slog.Logger, task func(ctx context.Context) error) func(ctx context.Context) error {
	return scheduled(name, time.UTC, logger, task, timing{def: gocron.DurationJob(d), atStart: true})
}

// timing is when a scheduled task runs: def, and at start too with atStart.
type timing struct {
	def     gocron.JobDefinition
	atStart bool
}

// scheduled runs task with gocron (in the zone loc) at each of its
// timings until ctx is done, one run at a time (a run due while one is
// running is rescheduled); a failed run is logged as name and retried at
// the next one.
func scheduled(name string, loc *time.Location, logger *slog.Logger, task func(ctx context.Context) error, timings ...timing) func(ctx context.Context) error {
	logger = orDiscard(logger)
	return func(ctx context.Context) error {
		sched, err := gocron.NewScheduler(gocron.WithLocation(loc))
		if err != nil {
			return fmt.Errorf("%s: scheduler: %w", name, err)
		}
		failed := gocron.WithEventListeners(gocron.AfterJobRunsWithError(func(_ uuid.UUID, _ string, err error) {
			if ctx.Err() == nil {
				logger.ErrorContext(ctx, name+" failed", "err", err)
			}
		}))
		for _, t := range timings {
			opts := []gocron.JobOption{gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule),
				gocron.WithContext(ctx), failed}
			if t.atStart {
				opts = append(opts, gocron.WithStartAt(gocron.WithStartImmediately()))
			}
			if _, err := sched.NewJob(t.def, gocron.NewTask(task), opts...); err != nil {
				return fmt.Errorf("%s: scheduler: %w", name, err)
			}
		}
		sched.Start()
		<-ctx.Done()
		if err := sched.Shutdown(); err != nil {
			return fmt.Errorf("%s: scheduler shutdown: %w", name, err)
		}
		return nil
	}
}

// orDiscard returns logger, or one that discards when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
