// Command benchingest measures the readings store against PostgreSQL's own
// bulk load, on one server in one run, and prints the ratios:
//
//	ingest_vs_copy_ratio: X            rows/s through cgmstore.Ingest ÷ rows/s of a plain COPY (goal ≥ 0.7)
//	reingest_vs_ingest_ratio: X        time to ingest the same batches again (all duplicates) ÷ first time (goal ≤ 1.5)
//	bytes_per_reading: X               heap + indexes of readings ÷ rows (goal ≤ 80 on plain PostgreSQL)
//	window_metrics_vs_select_ratio: X  14 days read with Readings + agp.Compute ÷ a plain SELECT of the rows (goal ≤ 2)
//	compressed_bytes_per_reading: X    compressed history (readings_compact: heap, indexes, TOAST) ÷ its readings, the larger of
//	                                   the 15- and 1-minute histories, each also printed (goal ≤ 8 on plain PostgreSQL)
//	cold_window_metrics_vs_select_ratio: X
//	                                   14 days of compressed history read with Readings + agp.Compute ÷ a plain SELECT of the
//	                                   same readings as rows, the larger of the two histories, each also printed (goal ≤ 2)
//	vitals_import_records_per_second: X  a year's Apple Health export read and stored (see benchVitals)
//	vitals_vs_xml_scan_ratio: X        that import ÷ a plain XML tokenization of the file (goal ≤ 3)
//
// It loads -patients × -days of 15-minute historic readings (default 2,000
// × 30 = 5.76 million) through cgmstore.Ingest, one batch (one transaction)
// per patient, -workers batches at a time (default: the number of CPUs, as a
// backfill of many patients would run; -workers 1 for one at a time); then
// the same rows with one plain COPY into an identical empty table (same
// partitions, constraints and index). The two alternate in -rounds rounds,
// so that the load of a shared machine weighs alike on both. Then it
// ingests every batch again. Readings are generated on the fly, so memory
// stays bounded.
//
// Then the compressed history: -history-patients patients with -history-days
// days of 15-minute readings (Libre 2) and -history-patients-1min with
// 1-minute readings, all older than 30 days, from the glucose simulator
// (connectors/glucosim: its values, gaps and sensor changes), ingested
// through cgmstore.Ingest and copied into the plain table as well; the
// history is compacted by cgmstore.Store.CompactHistory with the
// service's default age (30 days), one history after the other, and the
// growth of readings_compact measured after VACUUM.
//
// It runs on a private server started in a temporary directory with the
// server's default settings (fsync on), or, with -database-url, in a new
// database (dropped at the end) of that server. $DATABASE_URL is ignored on
// purpose: a benchmark has no business on a real database by default.
//
//	go run ./cmd/benchingest
//	go run ./cmd/benchingest -vitals-only   # the Apple Health import alone
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/cmd/internal/proccpu"
	"fsecgm/cmd/internal/scratchdb"
	"fsecgm/connectors/glucosim"
	"fsecgm/migrations"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "benchingest: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	patients, days int
	url            string
	noSync         bool
	windows        int
	workers        int
	group          int
	rounds         int
	cpuProfile     string
	// The compressed history: days, and patients with 15- and 1-minute
	// readings.
	historyDays         int
	historyPatients     int
	historyPatients1Min int
	// The Apple Health import: days of the export, rounds, only it.
	vitalsDays   int
	vitalsRounds int
	vitalsOnly   bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.patients, "patients", 2000, "number of patients")
	fs.IntVar(&c.days, "days", 30, "days of 15-minute readings per patient")
	fs.StringVar(&c.url, "database-url", "", "server to run on (a database is created there and dropped); default: a private server in a temporary directory")
	fs.BoolVar(&c.noSync, "nosync", false, "private server only: fsync off")
	fs.IntVar(&c.windows, "windows", 200, "repetitions of the 14-day read")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "batches ingested at a time")
	fs.IntVar(&c.group, "group", 1, "patients per transaction: 1 ingests each patient's batch with Store.Ingest (its own transaction); more puts that many batches in one transaction with Store.IngestTx, as a backfill may")
	fs.IntVar(&c.rounds, "rounds", 4, "rounds of ingestion then COPY, each of patients/rounds patients")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the ingestion rounds (this process: fsecgm's side) to `file`")
	fs.IntVar(&c.historyDays, "history-days", 30, "days of compressed history per patient (older than 30 days)")
	fs.IntVar(&c.historyPatients, "history-patients", 300, "patients with 15-minute compressed history")
	fs.IntVar(&c.historyPatients1Min, "history-patients-1min", 30, "patients with 1-minute compressed history")
	fs.IntVar(&c.vitalsDays, "vitals-days", 365, "days of the generated Apple Health export")
	fs.IntVar(&c.vitalsRounds, "vitals-rounds", 3, "rounds of tokenization, reading and import of the export")
	fs.BoolVar(&c.vitalsOnly, "vitals-only", false, "measure only the import of the Apple Health export")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.patients < 1 || c.patients > 2800 || c.days < 14 || c.workers < 1 || c.group < 1 || c.rounds < 1 || c.rounds > c.patients {
		return errors.New("-patients must be 1 to 2800, -days at least 14, -workers and -group at least 1, -rounds 1 to -patients")
	}
	if c.historyDays < 14 || c.historyDays > 365 || c.historyPatients < 1 || c.historyPatients1Min < 1 || c.historyPatients+c.historyPatients1Min > 2800 {
		return errors.New("-history-days must be 14 to 365, -history-patients and -history-patients-1min at least 1 and together at most 2800")
	}
	if c.vitalsDays < 1 || c.vitalsRounds < 1 || c.vitalsRounds > 10 {
		return errors.New("-vitals-days must be at least 1, -vitals-rounds 1 to 10")
	}

	dbURL, drop, err := scratchdb.Open(ctx, c.url, fmt.Sprintf("fsecgm_bench_%d", os.Getpid()), c.noSync)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	return bench(ctx, pool, c, stdout)
}

func bench(ctx context.Context, pool *pgxpool.Pool, c config, out io.Writer) error {
	mig, err := migrations.Apply(ctx, pool)
	if err != nil {
		return err
	}
	var version, fsync, syncCommit string
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')").Scan(&version, &fsync, &syncCommit); err != nil {
		return err
	}
	fmt.Fprintf(out, "# PostgreSQL %s (fsync %s, synchronous_commit %s); readings storage: %s\n", version, fsync, syncCommit, mig.Storage)

	store := cgmstore.New(pool, cgmstore.Options{})
	if c.vitalsOnly {
		return benchVitals(ctx, pool, store, c, out)
	}
	ids := make([]int64, c.patients)
	for i := range ids {
		p, _, err := store.EnsurePatient(ctx, fiscalCode(i), "Europe/Rome")
		if err != nil {
			return err
		}
		ids[i] = p.ID
	}
	now := time.Now().UTC()
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -c.days)
	perPatient := c.days * 96
	total := c.patients * perPatient
	if _, err := store.EnsurePartitions(ctx, start, end); err != nil {
		return err
	}
	histEnd := end.AddDate(0, 0, -30) // history: older than 30 days
	histStart := histEnd.AddDate(0, 0, -c.historyDays)
	if err := createCopyTable(ctx, pool, histStart, end); err != nil {
		return err
	}
	fmt.Fprintf(out, "# %d patients × %d days × 96 = %d readings; ingestion by %d workers, one batch per patient, %d batches per transaction\n",
		c.patients, c.days, total, c.workers, c.group)

	// 1 and 2, in -rounds rounds so that the machine's load drifts alike
	// over both: a round's patients through the ingestion path, one batch
	// (one transaction) per patient, -workers batches at a time as a
	// backfill of many patients would run; then the same rows with one
	// plain COPY into an identical empty table.
	var ingest, copyDur time.Duration
	stopProfile, err := proccpu.Profile(c.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	for r := range c.rounds {
		lo, hi := r*len(ids)/c.rounds, (r+1)*len(ids)/c.rounds
		d, err := ingestAll(ctx, pool, store, c.group, ids, lo, hi, start, perPatient, c.workers, func(res cgmstore.Result, n int) error {
			if res.Inserted != n {
				return fmt.Errorf("inserted %d of %d", res.Inserted, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ingest += d
		checkpoint(ctx, pool)

		t0 := time.Now()
		n, err := pool.CopyFrom(ctx, pgx.Identifier{"readings_copy"}, []string{"measured_at", "patient_id", "value", "meta"},
			&copyRows{ids: ids, start: start, per: perPatient, j: lo*perPatient - 1, end: hi * perPatient})
		copyDur += time.Since(t0)
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if int(n) != (hi-lo)*perPatient {
			return fmt.Errorf("copy wrote %d rows of %d", n, (hi-lo)*perPatient)
		}
		checkpoint(ctx, pool)
	}
	ingestRate, copyRate := float64(total)/ingest.Seconds(), float64(total)/copyDur.Seconds()
	fmt.Fprintf(out, "# ingest: %.1f s, %.0f rows/s; copy: %.1f s, %.0f rows/s\n", ingest.Seconds(), ingestRate, copyDur.Seconds(), copyRate)
	fmt.Fprintf(out, "ingest_vs_copy_ratio: %.3f\n", ingestRate/copyRate)

	// 3. Every batch again: all duplicates.
	reingest, err := ingestAll(ctx, pool, store, c.group, ids, 0, len(ids), start, perPatient, c.workers, func(res cgmstore.Result, n int) error {
		if res.Duplicate != n {
			return fmt.Errorf("re-ingest found %d duplicates of %d", res.Duplicate, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# re-ingest: %.1f s\n", reingest.Seconds())
	fmt.Fprintf(out, "reingest_vs_ingest_ratio: %.3f\n", reingest.Seconds()/ingest.Seconds())

	// 4. Bytes per reading (heap + indexes + free space and visibility maps).
	for _, q := range []string{"VACUUM ANALYZE readings", "VACUUM ANALYZE readings_copy"} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return err
		}
	}
	for _, table := range []string{"readings_copy", "readings"} {
		var rows, heap, all float64
		err := pool.QueryRow(ctx, fmt.Sprintf(`
			SELECT (SELECT count(*) FROM %[1]s),
			       sum(pg_relation_size(i.inhrelid)), sum(pg_total_relation_size(i.inhrelid))
			FROM pg_inherits i WHERE i.inhparent = '%[1]s'::regclass`, table)).Scan(&rows, &heap, &all)
		if err != nil {
			return err
		}
		if table == "readings" {
			fmt.Fprintf(out, "# readings: %.0f rows; heap %.1f + indexes and maps %.1f bytes per reading\n", rows, heap/rows, (all-heap)/rows)
			fmt.Fprintf(out, "bytes_per_reading: %.1f\n", all/rows)
		} else {
			fmt.Fprintf(out, "# plain COPY table: %.1f bytes per reading\n", all/rows)
		}
	}

	// 5. Fourteen days of one patient: Readings + every metric, against a
	// plain SELECT of the same rows.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return err
	}
	pid := ids[len(ids)/2]
	wFrom, wTo := end.AddDate(0, 0, -14), end
	const plain = `SELECT measured_at, value, meta FROM readings
		WHERE patient_id = $1 AND (meta & 7) = 1 AND measured_at >= $2 AND measured_at < $3 ORDER BY measured_at`
	var ours, base time.Duration
	var rowsRead int
	for k := -10; k < c.windows; k++ { // 10 rounds of warm-up
		t0 := time.Now()
		s, err := store.Readings(ctx, pid, wFrom, wTo, cgm.Historic)
		if err != nil {
			return err
		}
		rep, err := agp.Compute(s, agp.Options{Patient: "bench", Location: rome,
			Period: &agp.Period{Start: wFrom, End: wTo}, AGP: true, Daily: true})
		if err != nil {
			return err
		}
		d1 := time.Since(t0)
		t0 = time.Now()
		rows, _ := pool.Query(ctx, plain, pid, wFrom, wTo)
		var t time.Time
		var v, m int16
		cnt := 0
		if _, err := pgx.ForEachRow(rows, []any{&t, &v, &m}, func() error { cnt++; return nil }); err != nil {
			return err
		}
		d2 := time.Since(t0)
		if cnt != len(s) || rep.Readings != len(s) {
			return fmt.Errorf("14-day read: %d rows, %d readings, report of %d", cnt, len(s), rep.Readings)
		}
		if k >= 0 {
			ours += d1
			base += d2
			rowsRead = cnt
		}
	}
	fmt.Fprintf(out, "# 14 days (%d readings): Readings+agp.Compute %.2f ms, SELECT %.2f ms\n", rowsRead,
		ours.Seconds()*1000/float64(c.windows), base.Seconds()*1000/float64(c.windows))
	fmt.Fprintf(out, "window_metrics_vs_select_ratio: %.3f\n", ours.Seconds()/base.Seconds())

	// 6. Compressed history: 15-minute, then 1-minute readings older than
	// 30 days, compacted; bytes per reading of the compact form (heap,
	// indexes and TOAST, the growth of readings_compact for each history),
	// and 14 days of it read and computed against a plain SELECT of the
	// same rows from the plain table.
	var worstBytes, worstRatio float64
	var prev struct{ table, index, toast, readings float64 }
	next := 0 // history patients so far
	for _, h := range []struct {
		name, label string
		patients    int
		step        time.Duration
	}{
		{"15min", "15-minute (Libre 2)", c.historyPatients, 15 * time.Minute},
		{"1min", "1-minute (Libre 3)", c.historyPatients1Min, time.Minute},
	} {
		hids := make([]int64, h.patients)
		for i := range hids {
			p, _, err := store.EnsurePatient(ctx, historyCode(next), "Europe/Rome")
			if err != nil {
				return err
			}
			hids[i] = p.ID
			next++
		}
		n, err := loadHistory(ctx, pool, store, hids, histStart, histEnd, h.step, c.workers)
		if err != nil {
			return err
		}
		checkpoint(ctx, pool)
		t0 := time.Now()
		res, err := store.CompactHistory(ctx, time.Now().Add(-cgmstore.DefaultCompactAfter))
		if err != nil {
			return err
		}
		took := time.Since(t0)
		if res.Readings != int64(n) {
			return fmt.Errorf("compaction moved %d readings of the %d of the %s history", res.Readings, n, h.label)
		}
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE readings_compact"); err != nil {
			return err
		}
		var table, index, toast, readings float64
		if err := pool.QueryRow(ctx, `SELECT pg_table_size('readings_compact'), pg_indexes_size('readings_compact'),
				coalesce((SELECT pg_total_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'readings_compact'::regclass AND reltoastrelid <> 0), 0),
				(SELECT sum(n) FROM readings_compact)`).Scan(&table, &index, &toast, &readings); err != nil {
			return err
		}
		dTable, dIndex, dToast, dReadings := table-prev.table, index-prev.index, toast-prev.toast, readings-prev.readings
		prev.table, prev.index, prev.toast, prev.readings = table, index, toast, readings
		perReading := (dTable + dIndex) / dReadings
		fmt.Fprintf(out, "# %s history: %d patients × %d days, %.0f readings in %d compact rows (%.0f a row), compacted in %.1f s (%.0f readings/s); "+
			"heap %.2f + indexes %.2f + TOAST %.2f bytes per reading\n",
			h.label, h.patients, c.historyDays, dReadings, res.Days, dReadings/float64(res.Days), took.Seconds(), dReadings/took.Seconds(),
			(dTable-dToast)/dReadings, dIndex/dReadings, dToast/dReadings)
		fmt.Fprintf(out, "compressed_bytes_per_reading_%s: %.2f\n", h.name, perReading)
		worstBytes = math.Max(worstBytes, perReading)

		// Fourteen days of compressed history of one patient.
		hp := hids[len(hids)/2]
		cFrom, cTo := histEnd.AddDate(0, 0, -14), histEnd
		const plainHist = `SELECT measured_at, value, meta FROM readings_copy
			WHERE patient_id = $1 AND (meta & 7) = 1 AND measured_at >= $2 AND measured_at < $3 ORDER BY measured_at`
		var ours, base time.Duration
		rowsRead := 0
		for k := -10; k < c.windows; k++ { // 10 rounds of warm-up
			t0 := time.Now()
			s, err := store.Readings(ctx, hp, cFrom, cTo, cgm.Historic)
			if err != nil {
				return err
			}
			rep, err := agp.Compute(s, agp.Options{Patient: "bench", Location: rome,
				Period: &agp.Period{Start: cFrom, End: cTo}, AGP: true, Daily: true})
			if err != nil {
				return err
			}
			d1 := time.Since(t0)
			t0 = time.Now()
			rows, _ := pool.Query(ctx, plainHist, hp, cFrom, cTo)
			var t time.Time
			var v, m int16
			cnt := 0
			if _, err := pgx.ForEachRow(rows, []any{&t, &v, &m}, func() error { cnt++; return nil }); err != nil {
				return err
			}
			d2 := time.Since(t0)
			if cnt != len(s) || rep.Readings != len(s) || cnt == 0 {
				return fmt.Errorf("14 days of %s history: %d rows, %d readings, report of %d", h.label, cnt, len(s), rep.Readings)
			}
			if k >= 0 {
				ours += d1
				base += d2
				rowsRead = cnt
			}
		}
		ratio := ours.Seconds() / base.Seconds()
		fmt.Fprintf(out, "# 14 days of %s compressed history (%d readings): Readings+agp.Compute %.2f ms, SELECT of the rows %.2f ms\n", h.label, rowsRead,
			ours.Seconds()*1000/float64(c.windows), base.Seconds()*1000/float64(c.windows))
		fmt.Fprintf(out, "cold_window_metrics_vs_select_ratio_%s: %.3f\n", h.name, ratio)
		worstRatio = math.Max(worstRatio, ratio)
	}
	fmt.Fprintf(out, "compressed_bytes_per_reading: %.2f\n", worstBytes)
	fmt.Fprintf(out, "cold_window_metrics_vs_select_ratio: %.3f\n", worstRatio)

	// 7. The import of a year of an Apple Health export.
	return benchVitals(ctx, pool, store, c, out)
}

// loadHistory ingests, -workers patients at a time, the simulated readings
// of patients ids from start to end (UTC midnights), every step (15
// minutes: the sensor's historic values; 1 minute: its values of every
// minute), each with the serial of the sensor worn, one batch per patient
// through the ingestion path; and copies the same rows into readings_copy.
// It returns the number of readings.
func loadHistory(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, ids []int64, start, end time.Time,
	step time.Duration, workers int) (int, error) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	total := 0
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += workers {
				model := glucosim.Libre2
				if step < 15*time.Minute {
					model = glucosim.Libre3
				}
				rs := simulate(glucosim.New(uint64(ids[i]), model, rome), start, end, step)
				res, err := store.Ingest(ctx, cgmstore.Batch{Patient: ids[i], Source: cgmstore.SourceSimulator, Readings: rs})
				if err == nil && res.Inserted != len(rs) {
					err = fmt.Errorf("history of patient %d: inserted %d of %d", ids[i], res.Inserted, len(rs))
				}
				if err == nil {
					var n int64
					n, err = pool.CopyFrom(ctx, pgx.Identifier{"readings_copy"}, []string{"measured_at", "patient_id", "value", "meta"},
						pgx.CopyFromSlice(len(rs), func(j int) ([]any, error) {
							v := int16(math.Round(rs[j].Value * 10))
							meta := int16(cgm.Historic) | int16(cgmstore.SourceSimulator)<<3
							if rs[j].Flags&cgm.FlagLow != 0 {
								meta |= 1 << 6
							}
							if rs[j].Flags&cgm.FlagHigh != 0 {
								meta |= 1 << 7
							}
							return []any{rs[j].Time, int32(ids[i]), v, meta}, nil
						}))
					if err == nil && int(n) != len(rs) {
						err = fmt.Errorf("copy of the history of patient %d: %d rows of %d", ids[i], n, len(rs))
					}
				}
				if err != nil {
					errs[w] = err
					return
				}
				mu.Lock()
				total += len(rs)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

// simulate returns a simulated patient's readings in [start, end): with a
// 15-minute step, the sensor's historic values (a Libre 2 patient); with a
// shorter one, its values on its 1-minute ticks, one per step. Each names
// the sensor worn.
func simulate(p *glucosim.Patient, start, end time.Time, step time.Duration) []cgm.Reading {
	var rs []cgm.Reading
	add := func(pt glucosim.Point) {
		sn, _ := p.SensorAt(pt.Time)
		rs = append(rs, cgm.Reading{Time: pt.Time, Value: float64(pt.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: pt.Flags, Device: sn.Serial})
	}
	if step >= 15*time.Minute {
		for _, pt := range p.Historic(start, end) {
			add(pt)
		}
		return rs
	}
	for at := start; at.Before(end); at = at.Add(step) {
		if pt, ok := p.Current(at); ok && !pt.Time.Before(start) && (len(rs) == 0 || pt.Time.After(rs[len(rs)-1].Time)) {
			add(pt)
		}
	}
	return rs
}

// historyCode returns the i-th of 2,800 valid fiscal codes of the history
// patients (another surname than fiscalCode's).
func historyCode(i int) string {
	return codicefiscale.Complete(fmt.Sprintf("VRDLGU%02dA%02dH%03d", i%100, 1+i/100, i%1000))
}

// ingestAll ingests the generated batches of patients ids[lo:hi], workers
// at a time, group batches per transaction, checks each result, and
// returns the elapsed time. Each worker takes a contiguous run of
// patients, so that concurrent batches write to distant parts of the
// index, as batches of unrelated patients would.
func ingestAll(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, group int, ids []int64, lo, hi int,
	start time.Time, per, workers int, check func(cgmstore.Result, int) error) (time.Duration, error) {
	errs := make([]error, workers)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]cgm.Reading, per)
			one := func(ingest func(context.Context, cgmstore.Batch) (cgmstore.Result, error), i int) error {
				rs := generate(buf, i, start, per)
				res, err := ingest(ctx, cgmstore.Batch{Patient: ids[i], Source: cgmstore.SourceSimulator, Readings: rs})
				if err == nil {
					err = check(res, len(rs))
				}
				if err != nil {
					return fmt.Errorf("patient %d: %w", i, err)
				}
				return nil
			}
			first, end := lo+w*(hi-lo)/workers, lo+(w+1)*(hi-lo)/workers
			for i := first; i < end; i += group {
				if group == 1 {
					if errs[w] = one(store.Ingest, i); errs[w] != nil {
						return
					}
					continue
				}
				errs[w] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					inTx := func(ctx context.Context, b cgmstore.Batch) (cgmstore.Result, error) {
						return store.IngestTx(ctx, tx, b)
					}
					for j := i; j < min(i+group, end); j++ {
						if err := one(inTx, j); err != nil {
							return err
						}
					}
					return nil
				})
				if errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), errors.Join(errs...)
}

// checkpoint asks for a checkpoint between phases, so that one phase's
// dirty pages are not written during the next; ignored without the right.
func checkpoint(ctx context.Context, pool *pgxpool.Pool) {
	_, _ = pool.Exec(ctx, "CHECKPOINT")
}

// createCopyTable creates readings_copy, a copy of the structure of
// readings (partitions, constraints, index), empty.
func createCopyTable(ctx context.Context, pool *pgxpool.Pool, start, end time.Time) error {
	var partitioned bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'readings'::regclass)").Scan(&partitioned); err != nil {
		return err
	}
	if !partitioned {
		return errors.New("readings is not natively partitioned (TimescaleDB?): the COPY baseline table is built for native partitions only")
	}
	q := `CREATE TABLE readings_copy (LIKE readings INCLUDING CONSTRAINTS) PARTITION BY RANGE (measured_at);
		CREATE UNIQUE INDEX readings_copy_key ON readings_copy (patient_id, (meta & 7), measured_at) WITH (fillfactor = 100);
		CREATE TABLE readings_copy_default PARTITION OF readings_copy DEFAULT;`
	for m := time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(end); m = m.AddDate(0, 1, 0) {
		q += fmt.Sprintf("CREATE TABLE readings_copy_%s PARTITION OF readings_copy FOR VALUES FROM ('%s') TO ('%s');",
			m.Format("2006_01"), m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339))
	}
	_, err := pool.Exec(ctx, q)
	return err
}

// fiscalCode returns the i-th of 2,800 valid codes.
func fiscalCode(i int) string {
	return codicefiscale.Complete(fmt.Sprintf("BNCMRA%02dA%02dH%03d", i%100, 1+i/100, i%1000))
}

// mgdl returns the glucose of patient p at reading j: a daily cycle, a
// patient offset and some noise, whole mg/dL between 40 and 400.
func mgdl(p, j int) float64 {
	h := uint64(p)*0x9E3779B97F4A7C15 ^ uint64(j)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	v := 135 + float64(p%40) + 50*math.Sin(2*math.Pi*float64(j%96)/96+float64(p%7)) + float64(h%31) - 15
	return math.Max(40, math.Min(400, math.Round(v)))
}

// generate fills buf with the readings of patient p from start.
func generate(buf []cgm.Reading, p int, start time.Time, n int) []cgm.Reading {
	serials := [3]string{}
	for k := range serials {
		serials[k] = fmt.Sprintf("BENCH%04d-%d", p, k)
	}
	for j := range n {
		buf[j] = cgm.Reading{Time: start.Add(time.Duration(j) * 15 * time.Minute), Value: mgdl(p, j),
			Unit: cgm.MgDL, Kind: cgm.Historic, Device: serials[min(j/(96*14), 2)]}
	}
	return buf[:n]
}

// copyRows generates the same rows, encoded as cgmstore stores them
// (tenths of mg/dL; meta = historic | simulator source << 3), for COPY.
type copyRows struct {
	ids      []int64
	start    time.Time
	per      int
	j, end   int // current and end positions in the whole sequence
	vals     [4]any
	patient  int
	position int
}

func (c *copyRows) Next() bool {
	c.j++
	c.patient, c.position = c.j/c.per, c.j%c.per
	return c.j < c.end
}

func (c *copyRows) Values() ([]any, error) {
	const meta = int16(cgm.Historic) | int16(cgmstore.SourceSimulator)<<3
	c.vals[0] = c.start.Add(time.Duration(c.position) * 15 * time.Minute)
	c.vals[1] = int32(c.ids[c.patient])
	c.vals[2] = int16(mgdl(c.patient, c.position) * 10)
	c.vals[3] = meta
	return c.vals[:], nil
}

func (c *copyRows) Err() error { return nil }
