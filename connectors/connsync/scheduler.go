package connsync

import (
	"context"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
)

// Run schedules the sync on this replica with gocron until ctx is done:
// [Syncer.SyncDue] every Config.Tick, jittered by ±50 % (singleton: a tick
// that finds the previous one still running is skipped), and [Syncer.Maintain] at start
// and every hour. It
// returns nil after ctx is cancelled and the running jobs have stopped.
// Several replicas may run it against one database: the work is claimed
// in PostgreSQL (see the package documentation).
func (s *Syncer) Run(ctx context.Context) error {
	sched, err := gocron.NewScheduler(gocron.WithLocation(time.UTC), gocron.WithStopTimeout(s.leaseTTL))
	if err != nil {
		return fmt.Errorf("connsync: scheduler: %w", err)
	}
	logErr := gocron.WithEventListeners(gocron.AfterJobRunsWithError(func(_ uuid.UUID, name string, err error) {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "connsync: job failed", "job", name, "err", err)
		}
	}))
	// The tick is jittered (±50 %) so that which replica takes a due
	// connection first is random: the work spreads evenly over replicas.
	_, err = sched.NewJob(gocron.DurationRandomJob(s.tick/2, s.tick*3/2),
		gocron.NewTask(func(ctx context.Context) error {
			st, err := s.SyncDue(ctx)
			if st.Synced+st.Lists+st.Lost > 0 {
				s.log.DebugContext(ctx, "connsync: tick", "synced", st.Synced, "failed", st.Failed, "lost", st.Lost,
					"lists", st.Lists, "inserted", st.Inserted)
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}),
		gocron.WithName("llu-sync"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithContext(ctx),
		logErr)
	if err != nil {
		return fmt.Errorf("connsync: scheduler: %w", err)
	}
	_, err = sched.NewJob(gocron.DurationJob(time.Hour),
		gocron.NewTask(func(ctx context.Context) error { return s.Maintain(ctx) }),
		gocron.WithName("llu-upkeep"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithContext(ctx),
		logErr)
	if err != nil {
		return fmt.Errorf("connsync: scheduler: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: sync scheduler started", "replica", s.replica, "interval", s.interval,
		"tick", s.tick, "workers", s.workers, "lease", s.leaseTTL)
	sched.Start()
	<-ctx.Done()
	if err := sched.Shutdown(); err != nil {
		return fmt.Errorf("connsync: scheduler shutdown: %w", err)
	}
	s.log.InfoContext(context.WithoutCancel(ctx), "connsync: sync scheduler stopped", "replica", s.replica)
	return nil
}
