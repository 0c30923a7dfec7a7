// Command benchclinic measures the clinic list at regional size and the
// cost of keeping the per-patient summaries current, on one PostgreSQL
// server in one run, and prints:
//
//	clinic_vs_count_ratio: X          server time of the clinic list of the regional service, who sees every
//	                                  consenting patient (GET /api/v1/clinic through the real handler, median)
//	                                  ÷ a plain SELECT count(*) FROM patient_summaries (median) (goal ≤ 5);
//	                                  clinic_centre_vs_count_ratio is the same for the HTML page of a
//	                                  diabetologist of a centre that cares for every patient
//	clinic_page20_vs_page1_ratio: X   server time of page 20 of the diabetologist's list (50 a page, reached
//	                                  by the opaque next cursors) ÷ page 1's, medians of the same run (goal ≤ 1.5)
//	summary_update_ms_per_patient: X  time of summaries.Updater.UpdateDirty after one sync added the last
//	                                  hour of readings for -sync patients, per patient (goal ≤ 5)
//	population_vs_count_ratio: X      the regional analyst's population dashboard (population.Reader.Dashboard:
//	                                  the region's tables by every breakdown, the trend and the funnel plot, one
//	                                  line of the query log; median) ÷ the same count(*) (goal ≤ 5), after
//	                                  population_refresh_s, the refresh of the view with the patients spread over
//	                                  -centres diabetology centres (default 12)
//
// It loads -patients patients (default 13,200, the Tuscan CGM population)
// with -days days (default 90) of 15-minute historic readings ending an
// hour ago, COPYed straight into readings as cgmstore encodes them (114
// million rows by default: about 9 GB and 15 minutes on two cores), every
// patient in the care of one diabetology centre and consenting; builds the
// day rows and summaries with the updater itself (every patient marked
// dirty from its first reading); then measures. Progress goes to stderr.
//
// It runs on a private server started in a temporary directory (removed at
// the end), or, with -database-url, in a new database of that server
// (dropped at the end). $DATABASE_URL is ignored on purpose.
//
//	go run ./cmd/benchclinic                       # the regional run
//	go run ./cmd/benchclinic -patients 500 -days 30  # a quick one
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/cmd/internal/proccpu"
	"fsecgm/cmd/internal/scratchdb"
	"fsecgm/migrations"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v5"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "benchclinic: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	patients, days, sync, reps, workers int
	centres                             int
	url                                 string
	noSync                              bool
	cpuProfile                          string
	keep                                bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchclinic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.IntVar(&c.patients, "patients", 13200, "number of patients")
	fs.IntVar(&c.days, "days", 90, "days of 15-minute readings per patient")
	fs.IntVar(&c.sync, "sync", 1000, "patients of the measured sync (the last hour of readings each)")
	fs.IntVar(&c.reps, "reps", 21, "repetitions of each timed request")
	fs.IntVar(&c.centres, "centres", 12, "diabetology centres of the population view (patients spread unevenly over them)")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "loaders and updaters at a time during the load")
	fs.StringVar(&c.url, "database-url", "", "server to run on (a database is created there and dropped); default: a private server in a temporary directory")
	fs.BoolVar(&c.noSync, "nosync", false, "private server only: fsync off")
	fs.StringVar(&c.cpuProfile, "population-cpuprofile", "", "write a CPU profile of the population view's refresh to this `file`")
	fs.BoolVar(&c.keep, "keep", false, "after measuring, keep the server and database up for inspection until interrupted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.patients < 1 || c.patients > 99999 || c.days < 1 || c.sync < 1 || c.sync > c.patients || c.reps < 1 || c.workers < 1 || c.centres < 1 {
		return errors.New("-patients must be 1 to 99999, -days at least 1, -sync 1 to -patients, -reps, -workers and -centres at least 1")
	}
	dbURL, drop, err := scratchdb.Open(ctx, c.url, fmt.Sprintf("fsecgm_benchclinic_%d", os.Getpid()), c.noSync)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := scratchdb.Pool(ctx, dbURL, max(4, 2*c.workers))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := bench(ctx, pool, c, stdout, stderr); err != nil {
		return err
	}
	if c.keep {
		fmt.Fprintf(stderr, "database kept: psql %q; interrupt (Ctrl-C) to stop and remove it\n", dbURL)
		sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-sctx.Done()
	}
	return nil
}

// centre is the diabetology centre that cares for every patient.
const centre = "ORG-REGIONE-TOSCANA"

// fiscalCode returns the i-th of 99,999 valid codes: six letters from i,
// born 1940–1999.
func fiscalCode(i int) string {
	name := make([]byte, 6)
	n := i
	for k := range name {
		name[k] = byte('A' + n%26)
		n /= 26
	}
	return codicefiscale.Complete(fmt.Sprintf("%s%02d%c%02dD612", name, 40+i%60, "ABCDEHLMPRST"[i%12], 1+i%28))
}

// profile is how patient p's readings look: a daily cycle around its own
// level, and for some patients days without the sensor (1 in 10) or no
// readings in the last 20 days (1 in 25), so that every TIDE category is
// populated.
type profile struct {
	base, amp, phase float64
	sparse           bool
	stopped          bool
}

func profileOf(p int) profile {
	return profile{base: 95 + float64((p*37)%120), amp: 25 + float64((p*13)%60), phase: float64(p%24) / 24 * 2 * math.Pi,
		sparse: p%10 == 3, stopped: p%25 == 7}
}

// mgdl returns the glucose of patient p at reading j (15-minute grid).
func mgdl(p, j int, pr profile) int16 {
	h := uint64(p)*0x9E3779B97F4A7C15 ^ uint64(j)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	v := pr.base + pr.amp*math.Sin(2*math.Pi*float64(j%96)/96+pr.phase) + float64(h%41) - 20
	return int16(math.Max(40, math.Min(400, math.Round(v))))
}

// keep reports whether patient p has reading j of n.
func keep(j, n int, pr profile) bool {
	if pr.stopped && j >= n-20*96 {
		return false
	}
	if pr.sparse && (j/96)%3 != 0 {
		return false
	}
	return true
}

// readingRows streams the readings of patients [lo, hi) for COPY, encoded
// as cgmstore stores them (tenths of mg/dL; meta = historic | simulator).
type readingRows struct {
	ids        []int64
	start      time.Time
	n          int // readings per patient
	p, j, hi   int
	vals       [4]any
	first      []time.Time // per patient: first and last reading and count
	last       []time.Time
	count      []int64
	pr         profile
	prFor      int
	sent       *atomic.Int64
	progressCh chan<- struct{}
}

func (r *readingRows) Next() bool {
	for {
		r.j++
		if r.j >= r.n {
			r.p++
			r.j = 0
		}
		if r.p >= r.hi {
			return false
		}
		if r.prFor != r.p {
			r.pr, r.prFor = profileOf(r.p), r.p
		}
		if keep(r.j, r.n, r.pr) {
			return true
		}
	}
}

func (r *readingRows) Values() ([]any, error) {
	const meta = int16(cgm.Historic) | int16(cgmstore.SourceSimulator)<<3
	t := r.start.Add(time.Duration(r.j) * 15 * time.Minute)
	if r.first[r.p].IsZero() {
		r.first[r.p] = t
	}
	r.last[r.p] = t
	r.count[r.p]++
	r.vals[0], r.vals[1], r.vals[2], r.vals[3] = t, int32(r.ids[r.p]), mgdl(r.p, r.j, r.pr)*10, meta
	if n := r.sent.Add(1); n%2_000_000 == 0 {
		select {
		case r.progressCh <- struct{}{}:
		default:
		}
	}
	return r.vals[:], nil
}

func (r *readingRows) Err() error { return nil }

func bench(ctx context.Context, pool *pgxpool.Pool, c config, out, log io.Writer) error {
	t0 := time.Now()
	mig, err := migrations.Apply(ctx, pool)
	if err != nil {
		return err
	}
	var version string
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return err
	}
	fmt.Fprintf(out, "# PostgreSQL %s; readings storage: %s; %d patients × %d days of 15-minute readings\n",
		version, mig.Storage, c.patients, c.days)
	logger := slog.New(slog.DiscardHandler)
	store := cgmstore.New(pool, cgmstore.Options{})
	now := time.Now().UTC()
	end := now.Truncate(15 * time.Minute).Add(-time.Hour) // the measured sync adds the last hour
	start := end.Add(-time.Duration(c.days) * 24 * time.Hour)
	if _, err := store.EnsurePartitions(ctx, start.AddDate(0, 0, -1), now.AddDate(0, 0, 2)); err != nil {
		return err
	}

	// Patients, consents and care relationships.
	var patients, consents, cares [][]any
	for i := range c.patients {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		cf := fiscalCode(i)
		patients = append(patients, []any{hex.EncodeToString(id), cf, "Europe/Rome", fmt.Sprintf("Nome%05d", i), fmt.Sprintf("Cognome%05d", i)})
		cares = append(cares, []any{cf, "diabetology", centre, now})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"patients"}, []string{"public_id", "fiscal_code", "time_zone", "given_name", "family_name"},
		pgx.CopyFromRows(patients)); err != nil {
		return fmt.Errorf("load patients: %w", err)
	}
	rows, _ := pool.Query(ctx, `SELECT id FROM patients ORDER BY id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, id := range ids {
		consents = append(consents, []any{int32(id), true, now})
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"third_party_consents"}, []string{"patient_id", "granted", "changed_at"},
		pgx.CopyFromRows(consents)); err != nil {
		return fmt.Errorf("load consents: %w", err)
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"care_relationships"}, []string{"patient_fiscal_code", "kind", "party", "updated_at"},
		pgx.CopyFromRows(cares)); err != nil {
		return fmt.Errorf("load care relationships: %w", err)
	}

	// Readings, straight into the table, -workers COPYs at a time.
	n := c.days * 96
	first, last, count := make([]time.Time, c.patients), make([]time.Time, c.patients), make([]int64, c.patients)
	var sent atomic.Int64
	progress := make(chan struct{}, 1)
	done := make(chan struct{})
	tl := time.Now()
	go func() {
		for {
			select {
			case <-done:
				return
			case <-progress:
				s := sent.Load()
				fmt.Fprintf(log, "  readings: %d million loaded (%.0f s, %.0f k rows/s)\n", s/1_000_000, time.Since(tl).Seconds(),
					float64(s)/time.Since(tl).Seconds()/1000)
			}
		}
	}()
	const chunk = 100
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, c.workers)
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= c.patients {
					return
				}
				hi := min(lo+chunk, c.patients)
				src := &readingRows{ids: ids, start: start, n: n, p: lo, j: -1, hi: hi, first: first, last: last, count: count,
					prFor: -1, sent: &sent, progressCh: progress}
				if _, err := pool.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"measured_at", "patient_id", "value", "meta"}, src); err != nil {
					errs[w] = fmt.Errorf("load readings of patients %d–%d: %w", lo, hi, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var cov [][]any
	for i, id := range ids {
		if count[i] > 0 {
			cov = append(cov, []any{int32(id), int16(cgm.Historic), first[i], last[i], count[i]})
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"reading_coverage"}, []string{"patient_id", "kind", "first_at", "last_at", "readings"},
		pgx.CopyFromRows(cov)); err != nil {
		return fmt.Errorf("load coverage: %w", err)
	}
	fmt.Fprintf(out, "load_readings: %d rows in %.0f s\n", sent.Load(), time.Since(tl).Seconds())
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}

	// Day rows and summaries, by the updater itself.
	tu := time.Now()
	if _, err := store.MarkAllDirty(ctx); err != nil { // the readings were loaded around Ingest
		return err
	}
	updater := summaries.NewUpdater(pool, store, summaries.Options{Logger: logger, Batch: 100, KeepDays: max(90, c.days+1)})
	var built atomic.Int64
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Fprintf(log, "  summaries: %d of %d patients (%.0f s)\n", built.Load(), len(cov), time.Since(tu).Seconds())
			}
		}
	}()
	errs = make([]error, c.workers)
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := updater.UpdateDirty(ctx, 500)
				if err != nil {
					errs[w] = err
					return
				}
				built.Add(int64(res.Patients))
				if res.Patients == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var days, sums int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM patient_days), (SELECT count(*) FROM patient_summaries)`).Scan(&days, &sums); err != nil {
		return err
	}
	fmt.Fprintf(out, "build_summaries: %d day rows, %d summaries in %.0f s (%.2f ms per patient with %d workers)\n",
		days, sums, time.Since(tu).Seconds(), float64(time.Since(tu).Microseconds())/1000/float64(len(cov)), c.workers)
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE patient_days, patient_summaries, patients, third_party_consents, care_relationships"); err != nil {
		return err
	}
	var cats string
	if err := pool.QueryRow(ctx, `SELECT string_agg(category || ':' || n, ' ' ORDER BY category) FROM
		(SELECT category, count(*) n FROM patient_summaries GROUP BY 1) x`).Scan(&cats); err != nil {
		return err
	}
	fmt.Fprintf(out, "categories (code:patients): %s\n", cats)

	if err := measureClinic(ctx, pool, store, updater, c, out); err != nil {
		return err
	}
	if err := measurePopulation(ctx, pool, store, c, out); err != nil {
		return err
	}
	if err := measureSync(ctx, pool, store, updater, ids, end, c, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "# total %.0f s\n", time.Since(t0).Seconds())
	return nil
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measureClinic times the clinic list of a diabetologist of the centre
// (who sees every patient) through the real handlers, against a plain
// count of the summaries, alternating the two.
func measureClinic(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, updater *summaries.Updater, c config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "benchclinic-key-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	iss, err := auth.OpenDevIssuer(filepath.Join(dir, "dev.key"))
	if err != nil {
		return err
	}
	v, err := auth.NewVerifier(ctx, iss.VerifierConfig())
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	deps := web.Deps{Logger: logger, Pool: pool, Store: store, Consent: consent.New(pool, consent.Options{Logger: logger})}
	e := echo.New()
	e.Logger = logger
	e.HTTPErrorHandler = web.ErrorHandler(logger, nil)
	e.Use(web.RequestID(), web.RequestLogger(logger), web.Recover(), web.SecurityHeaders(web.SecurityOptions{}))
	api := e.Group("/api/v1", web.Authenticate(web.AuthOptions{Verifier: v}))
	html := e.Group("", web.MarkHTML(), web.Authenticate(web.AuthOptions{Verifier: v, Cookie: web.SessionCookie}),
		web.CSRF(web.CSRFOptions{}))
	if err := reports.Register(html, api, deps, reports.Options{Summaries: summaries.NewStore(pool), Refresher: updater}); err != nil {
		return err
	}
	doctor, err := iss.Issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: fiscalCode(99998),
		PractitionerRole: auth.PractitionerDiabetologist, Organization: centre, Name: "Regional diabetologist"}, time.Hour)
	if err != nil {
		return err
	}
	region, err := iss.Issue(auth.PrincipalSpec{Role: auth.RoleService, ClientID: "regione-toscana-cruscotto",
		Scopes: []string{consent.ScopeReadData}}, time.Hour)
	if err != nil {
		return err
	}
	request := func(path, token string) (time.Duration, error) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		t := time.Now()
		e.ServeHTTP(rec, req)
		d := time.Since(t)
		if rec.Code != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		return d, nil
	}
	count := func() (time.Duration, error) {
		t := time.Now()
		var n int64
		err := pool.QueryRow(ctx, `SELECT count(*) FROM patient_summaries`).Scan(&n)
		return time.Since(t), err
	}
	// Page 20 of the diabetologist's list (50 a page), reached as a
	// client does: by the next cursor of each page.
	page20 := "/api/v1/clinic"
	for range 19 {
		req := httptest.NewRequest(http.MethodGet, page20, nil)
		req.Header.Set("Authorization", "Bearer "+doctor)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var pg reports.ClinicJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &pg); err != nil || rec.Code != http.StatusOK || pg.Next == "" {
			return fmt.Errorf("GET %s: %d, no next page (%v); page 20 needs at least 951 patients", page20, rec.Code, err)
		}
		page20 = "/api/v1/clinic?after=" + pg.Next
	}
	type timed struct {
		path, token string
		ds          []time.Duration
	}
	runs := []*timed{{path: "/api/v1/clinic", token: region}, {path: "/clinic", token: doctor}, {path: "/api/v1/clinic", token: doctor},
		{path: "/api/v1/clinic?counts=1", token: region}, {path: page20, token: doctor}}
	var countT []time.Duration
	for i := range c.reps + 3 { // three rounds to warm up
		for _, r := range runs {
			d, err := request(r.path, r.token)
			if err != nil {
				return err
			}
			if i >= 3 {
				r.ds = append(r.ds, d)
			}
		}
		d, err := count()
		if err != nil {
			return err
		}
		if i >= 3 {
			countT = append(countT, d)
		}
	}
	n := median(countT)
	reg, page, js, counts := median(runs[0].ds), median(runs[1].ds), median(runs[2].ds), median(runs[3].ds)
	fmt.Fprintf(out, "count_summaries_ms: %.2f (SELECT count(*) FROM patient_summaries, median of %d)\n", ms(n), c.reps)
	fmt.Fprintf(out, "clinic_region_server_ms: %.2f (GET /api/v1/clinic as the regional service: all %d consenting patients, first page of 50)\n", ms(reg), c.patients)
	fmt.Fprintf(out, "clinic_centre_html_server_ms: %.2f (GET /clinic as a diabetologist of the centre caring for all)\n", ms(page))
	fmt.Fprintf(out, "clinic_centre_json_server_ms: %.2f (GET /api/v1/clinic, same diabetologist)\n", ms(js))
	fmt.Fprintf(out, "clinic_region_counts_server_ms: %.2f (GET /api/v1/clinic?counts=1: with the count of every category)\n", ms(counts))
	fmt.Fprintf(out, "clinic_centre_vs_count_ratio: %.2f\n", float64(page)/float64(n))
	fmt.Fprintf(out, "clinic_vs_count_ratio: %.2f\n", float64(reg)/float64(n))
	p20 := median(runs[4].ds)
	fmt.Fprintf(out, "clinic_page20_server_ms: %.2f (GET /api/v1/clinic?after=<cursor of page 19>, same diabetologist)\n", ms(p20))
	fmt.Fprintf(out, "clinic_page20_vs_page1_ratio: %.2f (goal <= 1.5)\n", float64(p20)/float64(js))
	return nil
}

// measureSync adds the last hour of readings (four per patient) for
// c.sync patients that wear their sensor, each ingested and marked dirty
// in one transaction as connectors/connsync does, then times the updater.
func measureSync(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, updater *summaries.Updater,
	ids []int64, end time.Time, c config, out io.Writer) error {
	var chosen []int
	for p := 0; p < len(ids) && len(chosen) < c.sync; p++ {
		if !profileOf(p).stopped {
			chosen = append(chosen, p)
		}
	}
	n := c.days * 96
	ti := time.Now()
	for _, p := range chosen {
		pr := profileOf(p)
		var rs []cgm.Reading
		for k := range 4 {
			rs = append(rs, cgm.Reading{Time: end.Add(time.Duration(k) * 15 * time.Minute), Value: float64(mgdl(p, n+k, pr)),
				Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			// The ingestion marks the patient dirty from the new readings.
			_, err := store.IngestTx(ctx, tx, cgmstore.Batch{Patient: ids[p], Source: cgmstore.SourceSimulator, Readings: rs})
			return err
		})
		if err != nil {
			return fmt.Errorf("sync of patient %d: %w", ids[p], err)
		}
	}
	fmt.Fprintf(out, "sync_ingest: %d patients × 4 readings in %.1f s\n", len(chosen), time.Since(ti).Seconds())
	t := time.Now()
	res, err := updater.UpdateDirty(ctx, len(chosen))
	if err != nil {
		return err
	}
	d := time.Since(t)
	if res.Patients != len(chosen) {
		return fmt.Errorf("the updater consumed %d marks, want %d", res.Patients, len(chosen))
	}
	fmt.Fprintf(out, "summary_update: %d patients, %d day rows rewritten, %d summaries changed, %d fallbacks, in %.0f ms\n",
		res.Patients, res.Days, res.Changed, res.Fallbacks, ms(d))
	fmt.Fprintf(out, "summary_update_ms_per_patient: %.2f\n", ms(d)/float64(res.Patients))
	return nil
}

// measurePopulation gives every patient a residence (the comuni of the
// registry's table in turn), enrolled 120 days ago, in the care of one of
// -centres centres of uneven sizes (the centre of the clinic measures,
// which cares for all, steps aside meanwhile), refreshes the population view
// (members, 14 and 90 days and 24 months, releases with suppression) and
// times the regional analyst's dashboard (the region's tables by every
// breakdown, the trend and the funnel plot: population.Reader.Dashboard,
// one read of what the refresh stored and one line of the query log)
// against count(*) of the same summaries.
func measurePopulation(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, c config, out io.Writer) error {
	if _, err := pool.Exec(ctx, `
		INSERT INTO residences (patient_fiscal_code, municipality, updated_at)
		SELECT p.fiscal_code, m.istat, now() FROM patients p
		JOIN (SELECT istat, row_number() OVER (ORDER BY istat) - 1 AS n FROM municipalities) m
			ON m.n = p.id % (SELECT count(*) FROM municipalities);
		UPDATE patients SET created_at = now() - interval '120 days';
		UPDATE care_relationships SET valid_to = now() - interval '1 day' WHERE party = '`+centre+`';
		INSERT INTO care_relationships (patient_fiscal_code, kind, party, updated_at)
		SELECT fiscal_code, 'diabetology', 'CENTRO-' || (1 + floor(`+strconv.Itoa(c.centres)+` * power((id * 7919 % 1000) / 1000.0, 2)))::int, now()
		FROM patients;
		ANALYZE residences, care_relationships, patients`); err != nil {
		return fmt.Errorf("population: load: %w", err)
	}
	defer func() {
		_, _ = pool.Exec(ctx, `DELETE FROM care_relationships WHERE party LIKE 'CENTRO-%';
			UPDATE care_relationships SET valid_to = NULL WHERE party = '`+centre+`'`)
	}()
	stopProfile, err := proccpu.Profile(c.cpuProfile)
	if err != nil {
		return err
	}
	t := time.Now()
	logger := slog.New(slog.DiscardHandler)
	if c.cpuProfile != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	res, err := population.NewRefresher(pool, store, population.Options{Logger: logger}).Refresh(ctx)
	stopProfile()
	if err != nil {
		return err
	}
	refresh := time.Since(t)
	r := population.NewReader(pool, nil)
	v := population.Viewer{Role: "analyst", ID: fiscalCode(99997), PopulationScope: "region", Route: "benchclinic"}
	dashboard := func() error {
		d, err := r.Dashboard(ctx, v, population.ScopeRegion, population.Days14)
		if err == nil && (len(d.Tables) != len(population.Dims()) || d.Funnel == nil || len(d.Trend) == 0) {
			err = fmt.Errorf("population: dashboard of %d tables, funnel %t, %d trend points", len(d.Tables), d.Funnel != nil, len(d.Trend))
		}
		return err
	}
	var dash, cnt []time.Duration
	for i := range c.reps + 3 {
		t := time.Now()
		if err := dashboard(); err != nil {
			return err
		}
		d := time.Since(t)
		t = time.Now()
		var n int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM patient_summaries`).Scan(&n); err != nil {
			return err
		}
		if i >= 3 {
			dash, cnt = append(dash, d), append(cnt, time.Since(t))
		}
	}
	fmt.Fprintf(out, "population_refresh_s: %.1f (%d members in %d centres, %d period rows, %d releases, %d suppressed cells)\n",
		refresh.Seconds(), res.Members, c.centres, res.PeriodRows, res.Releases, res.Suppressed)
	fmt.Fprintf(out, "population_dashboard_ms: %.2f (Reader.Dashboard: the region's 7 tables, trend and funnel, logged, median of %d)\n", ms(median(dash)), c.reps)
	fmt.Fprintf(out, "population_vs_count_ratio: %.2f\n", float64(median(dash))/float64(median(cnt)))
	return nil
}
