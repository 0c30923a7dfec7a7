package cgmstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnsurePartitions creates the monthly partitions (UTC months) of readings
// covering [from, to] that do not exist yet, moving into them any rows the
// default partition holds for their months, and returns their names. On
// TimescaleDB it does nothing. KeepPartitions runs it daily for the months
// around now; Ingest also calls it for the months of each batch.
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) ([]string, error) {
	var names []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Attaching a partition briefly locks the default partition: give up
		// rather than queue behind a long query (the batch then goes to the
		// default partition, and a later call moves it).
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '10s'"); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT readings_ensure_partitions($1, $2)", from, to)
		var err error
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: create partitions from %s to %s: %w",
			from.UTC().Format("2006-01"), to.UTC().Format("2006-01"), translate(err))
	}
	s.mu.Lock()
	for m := monthOf(from); m <= monthOf(to); m++ {
		s.months[m] = true
	}
	s.mu.Unlock()
	return names, nil
}

// The months KeepPartitions keeps ready around now: two months back, for
// sources that deliver late (the LibreLinkUp logbook reaches 14 days back,
// devices upload after days offline), and three ahead. Older months, as a
// file import brings them, are created by the ingestion itself for each
// batch (ensureMonths).
const (
	partitionsBack   = 62 * 24 * time.Hour
	partitionsMonths = 3
)

// KeepPartitions is the store's daily upkeep: it creates the monthly
// partitions of readings from two months before now to three months after
// (EnsurePartitions), so that the ingestion of a sync or upload seldom
// needs a second connection to create one. Every replica may run it: it
// is idempotent and serialised in the database. On TimescaleDB it does
// nothing.
func (s *Store) KeepPartitions(ctx context.Context, now time.Time) ([]string, error) {
	return s.EnsurePartitions(ctx, now.Add(-partitionsBack), now.AddDate(0, partitionsMonths, 0))
}

// monthOf returns the UTC month of t as year*12 + month-1.
func monthOf(t time.Time) int {
	t = t.UTC()
	return t.Year()*12 + int(t.Month()) - 1
}

// monthStart returns the first instant of month m (year*12 + month-1).
func monthStart(m int) time.Time {
	return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// ensureMonths makes sure the partitions of the given months (ascending)
// exist, asking the database only about months not known to this store.
// Failure is not fatal: readings then go to the default partition.
func (s *Store) ensureMonths(ctx context.Context, months []int) {
	missing := s.missingMonths(months)
	for i := 0; i < len(missing); {
		j := i + 1
		for j < len(missing) && missing[j] == missing[j-1]+1 {
			j++
		}
		names, err := s.EnsurePartitions(ctx, monthStart(missing[i]), monthStart(missing[j-1]))
		if err != nil {
			s.logger.WarnContext(ctx, "cgmstore: partitions not created ahead of a batch; its readings go to the default partition until they are", "err", err)
		} else if len(names) > 0 {
			s.logger.InfoContext(ctx, "cgmstore: created readings partitions", "partitions", names)
		}
		i = j
	}
}

// partitionWait bounds how long IngestTx waits for a connection of its own
// to create a missing partition (see learnMonths).
const partitionWait = 2 * time.Second

// missingMonths returns those of months (see monthOf) not known to have a
// partition, in their order.
func (s *Store) missingMonths(months []int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allMonths {
		return nil
	}
	var missing []int
	for _, m := range months {
		if !s.months[m] {
			missing = append(missing, m)
		}
	}
	return missing
}

// learnMonths reads, through tx, which monthly partitions of readings
// exist, and remembers them (all months, on TimescaleDB, where there are
// none to create). IngestTx calls it in its caller's transaction: the
// store then needs no second connection while the caller holds one for
// the usual case, partitions that exist (a fresh process knows none). A
// caller holding one connection of a small pool and waiting for a second
// could otherwise wait for ever when every connection is held so: the
// three-replica sync test saw its replicas stall for 25 s.
func (s *Store) learnMonths(ctx context.Context, tx pgx.Tx) error {
	var storage string
	var names []string
	err := pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce((SELECT value FROM store_settings WHERE name = 'readings_storage'), ''),
			coalesce((SELECT array_agg(c.relname::text) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = 'readings'::regclass), '{}')`).Scan(&storage, &names)
	})
	if err != nil {
		return fmt.Errorf("cgmstore: readings partitions: %w", translate(err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if storage != "native partitions" {
		s.allMonths = true
		return nil
	}
	for _, n := range names {
		var y, m int
		if _, err := fmt.Sscanf(n, "readings_%4d_%2d", &y, &m); err == nil && m >= 1 && m <= 12 {
			s.months[y*12+m-1] = true
		}
	}
	return nil
}
