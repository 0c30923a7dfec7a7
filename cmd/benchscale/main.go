// Command benchscale loads a growing population on one PostgreSQL server in
// one run, measures at three sizes what each part of the service costs,
// says whether each cost grows linearly with the patients, and
// extrapolates to a national deployment:
//
//	<size> patients: ingest, compression, summary upkeep, clinic pages 1 and 20, population view, sizes
//	growth <cost>: exponent b of cost ∝ patients^b between the smallest and largest size, and "linear" (0.8 ≤ b ≤ 1.2),
//	               "constant" (b ≤ 0.2) or neither
//	a table for -target patients (default 500,000): CPU cores, disk a year, PostgreSQL size, replicas
//
// At each size (default 1,000, 2,000 and 4,000 patients: the patients are
// added to the ones before) the new patients get -days (60) of 15-minute
// historic readings through the real ingestion path (cgmstore.Ingest, one
// batch per patient, -workers at a time), a diabetology centre's care and
// their third-party consent; the summaries are built by summaries.Updater;
// then, for every patient of the size:
//
//   - compression: cgmstore.Store.CompactHistory of the readings older
//     than 30 days (the service's default), CPU per reading compacted;
//   - a sync round: the next hour of readings (4) of every patient, one
//     batch each as connectors/connsync ingests them, CPU per sync;
//   - summary upkeep: summaries.Updater.UpdateDirty after that round, CPU
//     per patient;
//   - the clinic view of the centre's diabetologist (who sees every
//     patient): summaries.Store.List of pages 1 and 20 (the latter by the
//     next cursors) and the page's rows, wall time (median of -reps);
//   - the population view: the same list with the count of every category
//     (a pass over every patient), wall time;
//   - sizes: the database, the readings (plain and compact), the rest.
//
// CPU is that of this process (getrusage) and of PostgreSQL (postmaster,
// exited and live backends, from Linux's /proc; proc(5)), on a private
// server started in a temporary directory (fsync on unless -nosync).
//
//	go run ./cmd/benchscale
//	go run ./cmd/benchscale -sizes 200,400,800 -days 45   # a quick one
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/cmd/internal/proccpu"
	"fsecgm/cmd/internal/scratchdb"
	"fsecgm/migrations"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/summaries"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "benchscale: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	sizes          []int
	days, workers  int
	reps           int
	url            string
	noSync         bool
	target         int
	readingMinutes int
	readCPUms      float64
	readsPerSecond float64 // reads per second per 1,000 patients at the peak
	coresPerNode   int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	sizes := fs.String("sizes", "1000,2000,4000", "the three population sizes, increasing")
	fs.IntVar(&c.days, "days", 60, "days of 15-minute readings per patient (the last 30 plain, the rest compacted)")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "ingestion batches and updaters at a time")
	fs.IntVar(&c.reps, "reps", 7, "repetitions of each timed list")
	fs.StringVar(&c.url, "database-url", "", "server to run on (a database is created there and dropped); default: a private server in a temporary directory")
	fs.BoolVar(&c.noSync, "nosync", false, "private server only: fsync off")
	fs.IntVar(&c.target, "target", 500000, "patients of the extrapolation")
	fs.IntVar(&c.readingMinutes, "reading-minutes", 5, "minutes between readings at the target (5: the sensors of the national estimate)")
	fs.Float64Var(&c.readCPUms, "read-cpu-ms", 8, "CPU (service + PostgreSQL) of the costliest read request, ms (make loadtest: the clinic view's page)")
	fs.Float64Var(&c.readsPerSecond, "peak-reads", 0.5, "read requests a second per 1,000 patients at the peak (make loadtest's estimate: 6.6/s for 13,200)")
	fs.IntVar(&c.coresPerNode, "cores-per-node", 8, "cores of a server of the extrapolation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 50 || n > 99999 || (len(c.sizes) > 0 && n <= c.sizes[len(c.sizes)-1]) {
			return fmt.Errorf("-sizes: want three increasing sizes of 50 to 99,999 patients, got %q", *sizes)
		}
		c.sizes = append(c.sizes, n)
	}
	if len(c.sizes) != 3 || c.days < 31 || c.workers < 1 || c.reps < 1 || c.target < 1 || c.readingMinutes < 1 {
		return errors.New("-sizes needs three sizes, -days at least 31 (history older than 30 days), -workers, -reps, -target and -reading-minutes positive")
	}
	dbURL, drop, err := scratchdb.Open(ctx, c.url, fmt.Sprintf("fsecgm_benchscale_%d", os.Getpid()), c.noSync)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := scratchdb.Pool(ctx, dbURL, max(4, 2*c.workers))
	if err != nil {
		return err
	}
	defer pool.Close()
	return bench(ctx, pool, c, stdout, stderr)
}

// centre is the diabetology centre that cares for every patient.
const centre = "ORG-BENCHSCALE"

// fiscalCode returns the i-th of 99,999 valid codes.
func fiscalCode(i int) string {
	letters := func(n int) string {
		b := make([]byte, 3)
		for k := 2; k >= 0; k-- {
			b[k] = byte('A' + n%26)
			n /= 26
		}
		return string(b)
	}
	return codicefiscale.Complete(fmt.Sprintf("%s%s%02dA01H501", letters(i/1000), letters(i%1000), 40+i%60))
}

// measure is what one size costs.
type measure struct {
	patients int
	// CPU (this process + PostgreSQL) per unit.
	ingestPerReading  time.Duration // the load of the new patients
	compactPerReading time.Duration
	syncPer           time.Duration // one sync of the last hour
	upkeepPer         time.Duration // summary upkeep per patient after a sync
	// Wall time, medians.
	page1, page20, population time.Duration
	// Bytes.
	database, plain, compact, other int64
	plainRows, compactRows          int64
	compacted                       int64
	// plainFresh is the plain table's bytes per reading right after the
	// first size's load (no free space left by compaction yet).
	plainFresh float64
}

// cpuClock reads the CPU of this process and of PostgreSQL
// (cmd/internal/proccpu).
type cpuClock struct{ postmaster int }

func (c cpuClock) now() time.Duration {
	pg, _ := proccpu.Postgres(c.postmaster)
	return proccpu.Self() + pg
}

func bench(ctx context.Context, pool *pgxpool.Pool, c config, out, log io.Writer) error {
	t0 := time.Now()
	mig, err := migrations.Apply(ctx, pool)
	if err != nil {
		return err
	}
	var version, dataDir string
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('data_directory')").Scan(&version, &dataDir); err != nil {
		return err
	}
	clock := cpuClock{postmaster: proccpu.Postmaster(dataDir)}
	if clock.postmaster == 0 {
		return errors.New("PostgreSQL's postmaster not found (run on a private server, or on a server of this machine)")
	}
	host, _ := os.Hostname()
	fmt.Fprintf(out, "# %s; PostgreSQL %s; readings storage: %s; %d CPUs (%s/%s), host %s\n", time.Now().UTC().Format(time.DateOnly),
		version, mig.Storage, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, host)
	store := cgmstore.New(pool, cgmstore.Options{})
	updater := summaries.NewUpdater(pool, store, summaries.Options{Batch: 100, KeepDays: max(90, c.days+1)})
	cons := consent.New(pool, consent.Options{})
	doctor := consent.Actor{Role: auth.RolePractitioner, FiscalCode: fiscalCode(99998), PractitionerRole: auth.PractitionerDiabetologist,
		Organization: centre, Name: "benchscale"}
	now := time.Now().UTC()
	end := now.Truncate(15 * time.Minute).Add(-6 * time.Hour) // the sync rounds add the hours after
	if _, err := store.EnsurePartitions(ctx, end.Add(-time.Duration(c.days+1)*24*time.Hour), now.AddDate(0, 0, 2)); err != nil {
		return err
	}
	var ids []int64
	var ms []measure
	for round, size := range c.sizes {
		roundEnd := end.Add(time.Duration(round) * time.Hour)
		logf(log, "size %d: adding %d patients", size, size-len(ids))
		newIDs, err := addPatients(ctx, pool, len(ids), size, now)
		if err != nil {
			return err
		}
		m := measure{patients: size}
		// The new patients' history through Ingest.
		cpu := clock.now()
		n, err := ingestAll(ctx, store, newIDs, c.workers, func(int) (time.Time, int) {
			return roundEnd.Add(-time.Duration(c.days) * 24 * time.Hour), c.days * 96
		})
		if err != nil {
			return err
		}
		m.ingestPerReading = (clock.now() - cpu) / time.Duration(n)
		ids = append(ids, newIDs...)
		if round == 0 {
			if _, err := pool.Exec(ctx, "VACUUM ANALYZE readings"); err != nil {
				return err
			}
			if err := sizesOf(ctx, pool, &m); err != nil {
				return err
			}
			m.plainFresh = float64(m.plain) / float64(max(1, m.plainRows))
		} else {
			m.plainFresh = ms[0].plainFresh
		}
		logf(log, "  %d readings ingested; building the new summaries", n)
		if err := updateAll(ctx, updater, c.workers); err != nil {
			return err
		}
		// Compression of the history older than 30 days.
		cpu = clock.now()
		res, err := store.CompactHistory(ctx, now.Add(-cgmstore.DefaultCompactAfter))
		if err != nil {
			return err
		}
		if res.Readings > 0 {
			m.compactPerReading = (clock.now() - cpu) / time.Duration(res.Readings)
		}
		m.compacted = res.Readings
		logf(log, "  %d readings compacted; a sync round", res.Readings)
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return err
		}
		// A sync round: the next hour of every patient.
		cpu = clock.now()
		if _, err := ingestAll(ctx, store, ids, c.workers, func(int) (time.Time, int) { return roundEnd, 4 }); err != nil {
			return err
		}
		m.syncPer = (clock.now() - cpu) / time.Duration(len(ids))
		cpu = clock.now()
		if err := updateAll(ctx, updater, c.workers); err != nil {
			return err
		}
		m.upkeepPer = (clock.now() - cpu) / time.Duration(len(ids))
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return err
		}
		if err := views(ctx, pool, cons, updater, doctor, c.reps, &m); err != nil {
			return err
		}
		if err := sizesOf(ctx, pool, &m); err != nil {
			return err
		}
		m.other = m.database - m.plain - m.compact
		fmt.Fprintf(out, "size %d patients: ingest %.2f µs/reading; compression %.2f µs/reading (%d readings); sync %.3f ms; upkeep %.3f ms/patient; "+
			"clinic page 1 %.2f ms, page 20 %.2f ms; population view %.2f ms; database %s (readings plain %s for %d rows, compact %s for %d readings, rest %s)\n",
			size, us(m.ingestPerReading), us(m.compactPerReading), m.compacted, msf(m.syncPer), msf(m.upkeepPer), msf(m.page1), msf(m.page20),
			msf(m.population), mb(m.database), mb(m.plain), m.plainRows, mb(m.compact), m.compactRows, mb(m.other))
		ms = append(ms, m)
	}
	growth(out, ms, c.days)
	extrapolate(out, ms, c)
	fmt.Fprintf(out, "# total %.0f s\n", time.Since(t0).Seconds())
	return nil
}

func us(d time.Duration) float64  { return float64(d) / 1e3 }
func msf(d time.Duration) float64 { return float64(d) / 1e6 }
func mb(b int64) string           { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "benchscale: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// addPatients adds the patients from to to (exclusive), each with the
// centre's care and the third-party consent, and returns their ids.
func addPatients(ctx context.Context, pool *pgxpool.Pool, from, to int, now time.Time) ([]int64, error) {
	var pubs, cfs []string
	for i := from; i < to; i++ {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		pubs, cfs = append(pubs, hex.EncodeToString(b)), append(cfs, fiscalCode(i))
	}
	rows, _ := pool.Query(ctx, `INSERT INTO patients (public_id, fiscal_code, time_zone)
		SELECT p, f, 'Europe/Rome' FROM unnest($1::text[], $2::text[]) AS x(p, f) ORDER BY f RETURNING id`, pubs, cfs)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("patients: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO care_relationships (patient_fiscal_code, kind, party, source, updated_at)
		SELECT f, 'diabetology', $2, 'benchscale', $3 FROM unnest($1::text[]) AS f`, cfs, centre, now); err != nil {
		return nil, fmt.Errorf("care relationships: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO third_party_consents (patient_id, granted, changed_at)
		SELECT id, true, $2 FROM unnest($1::int8[]) AS id`, ids, now); err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// ingestAll ingests, for each patient, n 15-minute readings after start
// (span returns them), one batch per patient, workers at a time; it
// returns the readings inserted.
func ingestAll(ctx context.Context, store *cgmstore.Store, ids []int64, workers int, span func(int) (time.Time, int)) (int64, error) {
	var next, inserted atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			var buf []cgm.Reading
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				start, n := span(i)
				buf = buf[:0]
				for j := range n {
					t := start.Add(time.Duration(j+1) * 15 * time.Minute)
					buf = append(buf, cgm.Reading{Time: t, Value: mgdl(int(ids[i]), int(t.Unix()/900)), Unit: cgm.MgDL, Kind: cgm.Historic,
						Device: fmt.Sprintf("BS%08d", ids[i])})
				}
				res, err := store.Ingest(ctx, cgmstore.Batch{Patient: ids[i], Source: cgmstore.SourceSimulator, Readings: buf,
					Devices: []cgmstore.Device{{Serial: fmt.Sprintf("BS%08d", ids[i]), Model: "FreeStyle Libre 2", ActivatedAt: start}}})
				if err == nil && res.Inserted != n {
					err = fmt.Errorf("inserted %d of %d", res.Inserted, n)
				}
				if err != nil {
					errs[w] = fmt.Errorf("patient %d: %w", ids[i], err)
					return
				}
				inserted.Add(int64(res.Inserted))
			}
		})
	}
	wg.Wait()
	return inserted.Load(), errors.Join(errs...)
}

// mgdl is patient p's glucose at the 15-minute slot j: a daily cycle, an
// offset and some noise, whole mg/dL between 40 and 400.
func mgdl(p, j int) float64 {
	h := uint64(p)*0x9E3779B97F4A7C15 ^ uint64(j)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	v := 135 + float64(p%40) + 50*math.Sin(2*math.Pi*float64(j%96)/96+float64(p%7)) + float64(h%31) - 15
	return math.Max(40, math.Min(400, math.Round(v)))
}

// updateAll runs the updater until no patient is dirty, workers at a time.
func updateAll(ctx context.Context, u *summaries.Updater, workers int) error {
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for {
				res, err := u.UpdateDirty(ctx, 500)
				if err != nil {
					errs[w] = err
					return
				}
				if res.Patients == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// views times the diabetologist's clinic pages 1 and 20 (List, then the
// page's rows in the transaction that logs their access) and the
// population view (the list with the count of every category).
func views(ctx context.Context, pool *pgxpool.Pool, cons *consent.Store, updater *summaries.Updater, doctor consent.Actor, reps int, m *measure) error {
	visible, args, ok := cons.VisibleSQL(doctor)
	if !ok {
		return errors.New("the diabetologist sees no list")
	}
	ss := summaries.NewStore(pool)
	// The periods that ended (at the patients' local midnight) are
	// refreshed first, as the clinic view does with the ones it finds
	// (summaries.List's Stale) and the updater does every night: else
	// every list after midnight would read all of them.
	l, err := ss.List(ctx, summaries.Query{PatientsSQL: visible, PatientsArgs: args, Limit: 1, Now: time.Now()})
	if err != nil {
		return err
	}
	if _, err := updater.Refresh(ctx, l.Stale); err != nil {
		return err
	}
	page := func(after string, counts bool) (summaries.List, error) {
		now := time.Now()
		l, err := ss.List(ctx, summaries.Query{PatientsSQL: visible, PatientsArgs: args, Limit: 50, After: after, Counts: counts, Now: now})
		if err != nil {
			return l, err
		}
		ids := make([]int64, len(l.Entries))
		for i, e := range l.Entries {
			ids[i] = e.PatientID
		}
		err = cons.AccessListed(ctx, doctor, ids, "clinic list: summary of the last 14 days", func(ctx context.Context, tx pgx.Tx, allowed []int64) error {
			_, err := summaries.Rows(ctx, tx, allowed, now)
			return err
		})
		return l, err
	}
	after := ""
	for range 19 {
		l, err := page(after, false)
		if err != nil {
			return err
		}
		if l.Next == "" {
			break // fewer than 20 pages (sizes under 1,000): the last one
		}
		after = l.Next
	}
	var p1, p20, pop []time.Duration
	for range reps + 1 {
		for _, x := range []struct {
			after  string
			counts bool
			ds     *[]time.Duration
		}{{"", false, &p1}, {after, false, &p20}, {"", true, &pop}} {
			t := time.Now()
			if _, err := page(x.after, x.counts); err != nil {
				return err
			}
			*x.ds = append(*x.ds, time.Since(t))
		}
	}
	med := func(ds []time.Duration) time.Duration {
		ds = ds[1:] // the first round warms up
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	m.page1, m.page20, m.population = med(p1), med(p20), med(pop)
	return nil
}

// sizesOf reads the database's size and the readings' parts.
func sizesOf(ctx context.Context, pool *pgxpool.Pool, m *measure) error {
	return pool.QueryRow(ctx, `SELECT pg_database_size(current_database()),
		(SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('readings')),
		pg_total_relation_size('readings_compact'),
		(SELECT count(*) FROM readings),
		(SELECT coalesce(sum(readings), 0) FROM reading_coverage) - (SELECT count(*) FROM readings)`).
		Scan(&m.database, &m.plain, &m.compact, &m.plainRows, &m.compactRows)
}

// cost is one measured cost at the three sizes: total is the cost of the
// whole population (or of one request) at each size.
type cost struct {
	name  string
	total [3]float64
	want  string // "linear" or "constant"
}

// exponent returns b of total ∝ patients^b between the first and last
// sizes.
func (c cost) exponent(ms []measure) float64 {
	return math.Log(c.total[2]/c.total[0]) / math.Log(float64(ms[2].patients)/float64(ms[0].patients))
}

func costs(ms []measure, days int) []cost {
	var cs []cost
	add := func(name, want string, f func(m measure) float64) {
		c := cost{name: name, want: want}
		for i, m := range ms {
			c.total[i] = f(m)
		}
		cs = append(cs, c)
	}
	n := func(m measure) float64 { return float64(m.patients) }
	add("ingest (the whole history, CPU)", "linear", func(m measure) float64 { return float64(m.ingestPerReading) * n(m) * float64(days*96) })
	add("compression (a patient's history, CPU)", "linear", func(m measure) float64 { return float64(m.compactPerReading) * n(m) })
	add("sync round (every patient, CPU)", "linear", func(m measure) float64 { return float64(m.syncPer) * n(m) })
	add("summary upkeep (every patient, CPU)", "linear", func(m measure) float64 { return float64(m.upkeepPer) * n(m) })
	add("clinic page 1 (one request)", "constant", func(m measure) float64 { return float64(m.page1) })
	add("clinic page 20 (one request)", "constant", func(m measure) float64 { return float64(m.page20) })
	add("population view with counts (one request)", "linear", func(m measure) float64 { return float64(m.population) })
	add("database size", "linear", func(m measure) float64 { return float64(m.database) })
	return cs
}

// growth prints each cost's growth and whether it is what it should be.
func growth(out io.Writer, ms []measure, days int) {
	for _, c := range costs(ms, days) {
		b := c.exponent(ms)
		kind := "neither linear nor constant"
		switch {
		case b <= 0.2:
			kind = "constant"
		case b >= 0.8 && b <= 1.2:
			kind = "linear"
		}
		verdict := "as expected"
		if kind != c.want {
			verdict = "expected " + c.want
		}
		fmt.Fprintf(out, "growth %s: b = %.2f, %s (%s)\n", c.name, b, kind, verdict)
	}
}

// extrapolate prints the table for c.target patients from the largest
// size, each per-patient cost scaled by its measured growth beyond linear.
func extrapolate(out io.Writer, ms []measure, c config) {
	last := ms[len(ms)-1]
	scale := float64(c.target) / float64(last.patients)
	cs := costs(ms, c.days)
	per := func(i int) float64 { // growth of a per-patient cost beyond linear, at least none
		return math.Pow(scale, max(0, cs[i].exponent(ms)-1))
	}
	perDay := 1440 / float64(c.readingMinutes)
	readingsPerSecond := float64(c.target) * perDay / 86400
	syncsPerSecond := float64(c.target) / float64(c.readingMinutes*60)
	ingestCores := syncsPerSecond * last.syncPer.Seconds() * per(2)
	compactCores := readingsPerSecond * last.compactPerReading.Seconds() * per(1)
	upkeepCores := syncsPerSecond * last.upkeepPer.Seconds() * per(3)
	reads := c.readsPerSecond * float64(c.target) / 1000
	readCores := reads * c.readCPUms / 1000
	total := ingestCores + compactCores + upkeepCores + readCores
	plainB := last.plainFresh
	compactB := float64(last.compact) / float64(max(1, last.compactRows))
	restPerPatient := float64(last.database-last.plain-last.compact) / float64(last.patients)
	readingsYear := float64(c.target) * perDay * 365
	diskYear := readingsYear * compactB
	// Plain rows: the last 30 days, in monthly partitions whose older one
	// keeps the space of the rows compacted out of it until it is empty
	// (VACUUM then truncates it): up to two months of plain space.
	hot := float64(c.target) * perDay * 62 * plainB
	rest := restPerPatient * float64(c.target)
	size := func(years float64) float64 { return hot + rest + years*diskYear }
	nodes := func(cores float64) int { return int(math.Ceil(cores / float64(c.coresPerNode))) }
	pgReplicas := max(2, 1+nodes(readCores)) // a hot standby for failover, the rest for the read-only paths
	serviceReplicas := max(2, nodes(2*total)+1)
	fmt.Fprintf(out, "# extrapolation to %d patients, a reading every %d minutes (%.0f a day; %.0f readings/s, %.0f syncs/s), peak reads %.0f/s; "+
		"per-patient costs of the largest size (%d), scaled by their growth beyond linear\n",
		c.target, c.readingMinutes, perDay, readingsPerSecond, syncsPerSecond, reads, last.patients)
	fmt.Fprintf(out, "# CPU: syncs %.2f cores (%.3f ms each, the ingestion; the LibreLinkUp fetch is make bench-sync's), compression %.2f, summary upkeep %.2f, reads %.2f (%.1f ms each, -read-cpu-ms)\n",
		ingestCores, msf(last.syncPer), compactCores, upkeepCores, readCores, c.readCPUms)
	fmt.Fprintf(out, "# bytes: plain %.1f B/reading (two monthly partitions of plain rows: the last 30 days and the space compaction frees in the month before; heap and index as first loaded), "+
		"compressed %.2f B/reading (older; measured on 15-minute readings), the rest %.0f kB per patient\n",
		plainB, compactB, restPerPatient/1e3)
	fmt.Fprintf(out, "| patients | CPU cores (busy, peak; ×2 to provision) | disk a year (compressed readings) | PostgreSQL size after 1 year / 5 years | replicas |\n")
	fmt.Fprintf(out, "| ---: | ---: | ---: | ---: | --- |\n")
	fmt.Fprintf(out, "| %d | %.1f (provision %.0f) | %.0f GB | %.0f GB / %.0f GB | service %d × %d cores; PostgreSQL 1 primary + %d streaming replicas |\n",
		c.target, total, math.Ceil(2*total), diskYear/1e9, size(1)/1e9, size(5)/1e9, serviceReplicas, c.coresPerNode, pgReplicas)
	fmt.Fprintf(out, "scale_cpu_cores: %.1f\nscale_disk_gb_per_year: %.0f\nscale_postgresql_gb_1y: %.0f\n", total, diskYear/1e9, size(1)/1e9)
	fmt.Fprintf(out, "clinic_page20_at_target_ms: %.1f (page 20 scaled by its growth)\n", msf(last.page20)*math.Pow(scale, max(0, cs[5].exponent(ms))))
}
