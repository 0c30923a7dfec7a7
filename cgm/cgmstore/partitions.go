package cgmstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitioned is a table of the store that is range-partitioned by UTC
// month on native PostgreSQL (readings, measurements), with what this
// store knows of its partitions.
type partitioned struct {
	// table is the parent table; partitions are named table_YYYY_MM.
	table string
	// ensure is the SQL that creates the missing partitions of [$1, $2]
	// and returns their names.
	ensure string
	// what names the table's rows in messages.
	what string

	mu     sync.Mutex
	months map[int]bool // UTC months (year*12 + month-1) known to have a partition
	// all: the table is not natively partitioned (TimescaleDB): there is
	// no partition to create.
	all bool
}

func newPartitioned(table, ensure, what string) *partitioned {
	return &partitioned{table: table, ensure: ensure, what: what, months: map[int]bool{}}
}

// EnsurePartitions creates the monthly partitions (UTC months) of readings
// covering [from, to] that do not exist yet, moving into them any rows the
// default partition holds for their months, and returns their names. On
// TimescaleDB it does nothing. KeepPartitions runs it daily for the months
// around now; Ingest also calls it for the months of each batch.
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) ([]string, error) {
	return s.ensurePartitions(ctx, s.readingParts, from, to)
}

// EnsureMeasurementPartitions is EnsurePartitions for the measurements of
// the patients' own devices (IngestMeasurements calls it for the months
// of each batch); run it daily beside EnsurePartitions.
func (s *Store) EnsureMeasurementPartitions(ctx context.Context, from, to time.Time) ([]string, error) {
	return s.ensurePartitions(ctx, s.measureParts, from, to)
}

func (s *Store) ensurePartitions(ctx context.Context, p *partitioned, from, to time.Time) ([]string, error) {
	var names []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Attaching a partition briefly locks the default partition: give up
		// rather than queue behind a long query (the batch then goes to the
		// default partition, and a later call moves it).
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '10s'"); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, p.ensure, from, to)
		var err error
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cgmstore: create %s partitions from %s to %s: %w", p.table,
			from.UTC().Format("2006-01"), to.UTC().Format("2006-01"), translate(err))
	}
	p.mu.Lock()
	for m := monthOf(from); m <= monthOf(to); m++ {
		p.months[m] = true
	}
	p.mu.Unlock()
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
// partitions of readings and of measurements from two months before now to
// three months after (EnsurePartitions, EnsureMeasurementPartitions), so
// that the ingestion of a sync or upload seldom needs a second connection
// to create one, and returns the names of those it created. Every replica
// may run it: it is idempotent and serialised in the database. On
// TimescaleDB it does nothing.
func (s *Store) KeepPartitions(ctx context.Context, now time.Time) ([]string, error) {
	from, to := now.Add(-partitionsBack), now.AddDate(0, partitionsMonths, 0)
	names, err := s.EnsurePartitions(ctx, from, to)
	if err != nil {
		return names, err
	}
	more, err := s.EnsureMeasurementPartitions(ctx, from, to)
	return append(names, more...), err
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

// ensureMonths makes sure the partitions of p for the given months
// (ascending) exist, asking the database only about months not known to
// this store. Failure is not fatal: rows then go to the default partition.
func (s *Store) ensureMonths(ctx context.Context, p *partitioned, months []int) {
	missing := p.missing(months)
	for i := 0; i < len(missing); {
		j := i + 1
		for j < len(missing) && missing[j] == missing[j-1]+1 {
			j++
		}
		names, err := s.ensurePartitions(ctx, p, monthStart(missing[i]), monthStart(missing[j-1]))
		if err != nil {
			s.logger.WarnContext(ctx, "cgmstore: partitions not created ahead of a batch; its "+p.what+" go to the default partition until they are", "err", err)
		} else if len(names) > 0 {
			s.logger.InfoContext(ctx, "cgmstore: created "+p.table+" partitions", "partitions", names)
		}
		i = j
	}
}

// partitionWait bounds how long IngestTx waits for a connection of its own
// to create a missing partition (see learnMonths).
const partitionWait = 2 * time.Second

// missing returns those of months (see monthOf) not known to have a
// partition, in their order.
func (p *partitioned) missing(months []int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all {
		return nil
	}
	var missing []int
	for _, m := range months {
		if !p.months[m] {
			missing = append(missing, m)
		}
	}
	return missing
}

// learnMonths reads, through tx, which monthly partitions of p exist, and
// remembers them (all months, on TimescaleDB, where there are none to
// create). IngestTx calls it in its caller's transaction: the store then
// needs no second connection while the caller holds one for the usual
// case, partitions that exist (a fresh process knows none). A caller
// holding one connection of a small pool and waiting for a second could
// otherwise wait for ever when every connection is held so: the
// three-replica sync test saw its replicas stall for 25 s.
func (s *Store) learnMonths(ctx context.Context, tx pgx.Tx, p *partitioned) error {
	var storage string
	var names []string
	err := pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce((SELECT value FROM store_settings WHERE name = 'readings_storage'), ''),
			coalesce((SELECT array_agg(c.relname::text) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = $1::regclass), '{}')`, p.table).Scan(&storage, &names)
	})
	if err != nil {
		return fmt.Errorf("cgmstore: %s partitions: %w", p.table, translate(err))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if storage != "native partitions" {
		p.all = true
		return nil
	}
	for _, n := range names {
		var y, m int
		if _, err := fmt.Sscanf(n, p.table+"_%4d_%2d", &y, &m); err == nil && m >= 1 && m <= 12 {
			p.months[y*12+m-1] = true
		}
	}
	return nil
}

// prepareMonths makes sure, before a batch is written in a caller's
// transaction tx, that the partitions of its months exist: what is known,
// else what tx sees, else created on the pool (see IngestTx).
func (s *Store) prepareMonths(ctx context.Context, tx pgx.Tx, p *partitioned, months []int) error {
	if len(p.missing(months)) == 0 {
		return nil
	}
	if err := s.learnMonths(ctx, tx, p); err != nil {
		return err
	}
	if len(p.missing(months)) > 0 {
		pctx, cancel := context.WithTimeout(ctx, partitionWait)
		s.ensureMonths(pctx, p, months)
		cancel()
	}
	return nil
}
