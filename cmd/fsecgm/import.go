package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/migrations"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMin is the number of readings from which a progress bar is shown
// (on a terminal only).
const progressMin = 100_000

// importCounts is the --json output of "fsecgm import".
type importCounts struct {
	Inserted  int `json:"inserted"`
	Duplicate int `json:"duplicate"`
	Revised   int `json:"revised"`
	Rejected  int `json:"rejected"`
}

// runImport implements "fsecgm import": a LibreView export or a long CSV of
// one patient into the store, through the ingestion path.
func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "import", "--patient CF --input FILE [--format auto|libreview|long] [--tz ZONE] [--skip-invalid] [--json] [--database-url URL]")
	cf := fs.String("patient", "", "codice fiscale of the patient (created, in --tz or Europe/Rome, when unknown)")
	inputPath := fs.String("input", "", "CSV `file`: a LibreView export or a long CSV id,time,gl (one subject)")
	format := fs.String("format", "auto", "input format: auto, libreview or long")
	tz := fs.String("tz", "", "IANA time `zone` of the file's wall-clock times and of a new patient (default: the patient's zone, else Europe/Rome)")
	skip := fs.Bool("skip-invalid", false, "import the valid rows and list the rejected ones (default: the whole file or nothing)")
	asJSON := fs.Bool("json", false, `print {"inserted": N, "duplicate": N, "revised": N, "rejected": N}`)
	dbURL := fs.String("database-url", "", "PostgreSQL `URL` (default $DATABASE_URL; when neither is set, the private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *cf == "":
		return usageError(errors.New("--patient is required (the patient's codice fiscale)"))
	case *inputPath == "":
		return usageError(errors.New("--input is required"))
	}
	if *tz != "" {
		if _, err := time.LoadLocation(*tz); err != nil || *tz == "Local" {
			return usageError(fmt.Errorf("--tz %q: want an IANA zone name such as Europe/Rome", *tz))
		}
	}

	pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer done()
	store := cgmstore.New(pool, cgmstore.Options{})

	// The file's times are read in --tz, else in the zone of a known
	// patient, else Europe/Rome.
	zone := *tz
	if zone == "" {
		if p, err := store.PatientByFiscalCode(ctx, *cf); err == nil {
			zone = p.TimeZone
		} else if errors.Is(err, cgmstore.ErrInvalid) {
			return usageError(fmt.Errorf("--patient: %w", err))
		}
	}
	in, err := readInput(*inputPath, *format, zone)
	if err != nil {
		return usageError(err)
	}
	if len(in.Subjects) > 1 {
		return usageError(fmt.Errorf("%s holds %d subjects: import one patient's file at a time", *inputPath, len(in.Subjects)))
	}
	f := connsync.ImportFile{Name: *inputPath, Source: cgmstore.SourceLibreView, Rejected: in.Rejected}
	if in.Format == "long" {
		f.Source = cgmstore.SourceLongCSV
	}
	if len(in.Subjects) == 1 {
		s := in.Subjects[0]
		f.Readings = s.Readings
		serials := make([]string, 0, len(s.Devices))
		for sn := range s.Devices {
			serials = append(serials, sn)
		}
		sort.Strings(serials)
		for _, sn := range serials {
			f.Devices = append(f.Devices, cgmstore.Device{Serial: sn, Model: s.Devices[sn]})
		}
	}
	// Whole file or nothing: check every line before writing anything,
	// the patient included.
	now := time.Now()
	rejected := append([]error(nil), f.Rejected...)
	for _, r := range f.Readings {
		if err := r.Validate(now); err != nil {
			rejected = append(rejected, fmt.Errorf("%s: reading at %s: %w", *inputPath, r.Time.UTC().Format(time.RFC3339), err))
		}
	}
	if len(rejected) > 0 && !*skip {
		return usageError(&connsync.RejectedError{Name: *inputPath, Lines: rejected})
	}

	p, created, err := store.EnsurePatient(ctx, *cf, *tz)
	if err != nil {
		if errors.Is(err, cgmstore.ErrInvalid) {
			return usageError(fmt.Errorf("--patient: %w", err))
		}
		return err
	}
	opts := connsync.ImportOptions{SkipInvalid: *skip, Now: func() time.Time { return now }}
	if bar := newProgressBar(e, len(f.Readings)); bar != nil {
		opts.Progress = func(done, total int) { _ = bar.Set(done) }
		defer bar.Finish()
	}
	var res connsync.ImportResult
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = connsync.Import(ctx, tx, store, p.ID, f, opts)
		return err
	})
	if err != nil {
		if errors.Is(err, connsync.ErrInvalid) {
			return usageError(err)
		}
		return fmt.Errorf("nothing was imported: %w", err)
	}
	for _, r := range res.Rejections {
		fmt.Fprintf(e.Stderr, "rejected: %v\n", r)
	}
	counts := importCounts{Inserted: res.Inserted, Duplicate: res.Duplicate, Revised: res.Revised, Rejected: res.Rejected}
	if *asJSON {
		return json.NewEncoder(e.Stdout).Encode(counts)
	}
	what := "existing patient"
	if created {
		what = "new patient in " + p.TimeZone
	}
	fmt.Fprintf(e.Stdout, "%s (%s, %s): %d inserted, %d duplicate, %d revised, %d rejected\n",
		*inputPath, in.Format, what, counts.Inserted, counts.Duplicate, counts.Revised, counts.Rejected)
	return nil
}

// newProgressBar returns a progress bar on e.Stderr for large imports when
// it is a terminal, else nil.
func newProgressBar(e *env, total int) *progressbar.ProgressBar {
	f, ok := e.Stderr.(*os.File)
	if total < progressMin || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(io.Writer(f)), progressbar.OptionSetDescription("import"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}

// openDatabase opens the database (dbURL, else $DATABASE_URL, else the
// private server in dataDir) and applies the migrations. done closes it.
func openDatabase(ctx context.Context, e *env, dbURL, dataDir string) (pool *pgxpool.Pool, done func(), err error) {
	url := dbURL
	if url == "" {
		url = e.Getenv("DATABASE_URL")
	}
	stop := func() {}
	if url == "" {
		srv, err := startPrivate(ctx, e, dataDir)
		if err != nil {
			return nil, nil, err
		}
		stop = func() { _ = srv.Stop() }
		url = srv.URL(privateDatabase)
	}
	pool, err = pgxpool.New(ctx, url)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("database URL: %w", err)
	}
	if _, err := migrations.Apply(ctx, pool); err != nil {
		pool.Close()
		stop()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return pool, func() { pool.Close(); stop() }, nil
}
