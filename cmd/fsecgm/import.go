package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/fileimport"
	"fsecgm/migrations"
	"fsecgm/taccuino/locale"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMin is the number of readings from which a progress bar is shown
// (on a terminal only).
const progressMin = 100_000

// importJSON is the --json output of "fsecgm import".
type importJSON struct {
	Format    string `json:"format"`
	Inserted  int    `json:"inserted"`
	Duplicate int    `json:"duplicate"`
	Revised   int    `json:"revised"`
	Rejected  int    `json:"rejected"`
	Skipped   int    `json:"skipped"`
	// Repeated counts rows repeating a reading exactly.
	Repeated int `json:"repeated"`
	// Conflicts lists the reading times given with different values, the
	// last row's value kept (fileimport.Conflict).
	Conflicts []conflictJSON `json:"conflicts"`
}

// conflictJSON is a reading time a file gave with different values.
type conflictJSON struct {
	Time    time.Time   `json:"time"`
	Kind    string      `json:"kind"`
	Kept    valueJSON   `json:"kept"`
	Dropped []valueJSON `json:"dropped"`
}

type valueJSON struct {
	Line  int     `json:"line"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Flag  string  `json:"flag,omitempty"`
}

func conflictsJSON(f *fileimport.File) []conflictJSON {
	val := func(v fileimport.Value) valueJSON {
		out := valueJSON{Line: v.Line, Value: v.Value, Unit: v.Unit.String()}
		switch {
		case v.Flags&cgm.FlagLow != 0:
			out.Flag = "LO"
		case v.Flags&cgm.FlagHigh != 0:
			out.Flag = "HI"
		}
		return out
	}
	out := []conflictJSON{}
	for _, c := range f.Conflicts {
		cj := conflictJSON{Time: c.Time, Kind: c.Kind.String(), Kept: val(c.Kept)}
		for _, d := range c.Dropped {
			cj.Dropped = append(cj.Dropped, val(d))
		}
		out = append(out, cj)
	}
	return out
}

// runImport implements "fsecgm import": a file of one patient, in any of
// the formats fileimport reads, into the store through the ingestion path;
// or an export of the patient's own devices (Apple Health, Google Takeout,
// a FHIR Bundle of Vital Signs Observations) into the measurements,
// through theirs.
func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "import", "--patient CF --input FILE [--format auto|"+strings.ReplaceAll(fileimport.FormatNames(), ", ", "|")+"|applehealth|takeout|fhir] [--tz ZONE] [--skip-invalid] [--json] [--database-url URL]")
	cf := fs.String("patient", "", "codice fiscale of the patient (created, in --tz or Europe/Rome, when unknown)")
	inputPath := fs.String("input", "", "`file`: a LibreView, Dexcom Clarity or Medtronic CareLink export, Nightscout entries (JSON or CSV), or a long CSV id,time,gl (one subject); or an Apple Health export (export.zip, export.xml), a Google Takeout (zip or folder) or a FHIR Bundle of the patient's devices")
	format := fs.String("format", "auto", "input format: auto, "+fileimport.FormatNames()+", applehealth, takeout or fhir")
	tz := fs.String("tz", "", "IANA time `zone` of the file's wall-clock times and of a new patient (default: the patient's zone, else Europe/Rome)")
	skip := fs.Bool("skip-invalid", false, "import the valid rows and list the rejected ones (default: the whole file or nothing)")
	asJSON := fs.Bool("json", false, `print {"format", "inserted", "duplicate", "revised", "rejected", "skipped", "repeated", "conflicts"}`)
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
	if err := codicefiscale.Validate(codicefiscale.Normalize(*cf)); err != nil {
		return usageError(fmt.Errorf("--patient: %w", err))
	}

	// An export of the patient's devices rather than of glucose? One
	// detection (fileimport) tells them all.
	wanted, err := fileimport.ParseFormat(*format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	devices := wanted.Devices()
	if wanted == "" {
		f, err := fileimport.DetectPath(*inputPath)
		if os.IsNotExist(err) {
			return usageError(err)
		}
		devices = err == nil && f.Devices()
	}

	pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer done()
	store := cgmstore.New(pool, cgmstore.Options{})
	if devices {
		return importMeasurements(ctx, e, pool, store, *cf, *inputPath, wanted, *tz, *skip, *asJSON)
	}

	// The file's times are read in --tz, else in the zone of a known
	// patient, else Europe/Rome.
	known, err := store.PatientByFiscalCode(ctx, *cf)
	exists := err == nil
	switch {
	case errors.Is(err, cgmstore.ErrInvalid):
		return usageError(fmt.Errorf("--patient: %w", err))
	case err != nil && !errors.Is(err, cgmstore.ErrNotFound):
		return err
	}
	zone := *tz
	if zone == "" && exists {
		zone = known.TimeZone
	}
	in, err := readInput(*inputPath, *format, zone)
	if err != nil {
		return usageError(err)
	}
	f := in.File
	for _, n := range conflictNotes(f) {
		fmt.Fprintln(e.Stderr, "note:", n)
	}
	// Whole file or nothing: check the person the file names and every
	// line before writing anything, the patient included.
	now := time.Now()
	who := known
	if !exists {
		who = cgmstore.Patient{FiscalCode: codicefiscale.Normalize(*cf), TimeZone: cmpOr(*tz, cgmstore.DefaultTimeZone)}
	}
	if err := fileimport.CheckPerson(f, who, now); err != nil {
		return usageError(personRefusal(err))
	}
	if len(f.Subjects) > 1 {
		return usageError(fmt.Errorf("%s holds %d subjects: import one patient's file at a time", *inputPath, len(f.Subjects)))
	}
	var rejected []*cgm.LineError
	rejected = append(rejected, f.Rejected...)
	for _, s := range f.Subjects {
		for i, r := range s.Readings {
			if err := r.Validate(now); err != nil {
				rejected = append(rejected, &cgm.LineError{File: *inputPath, Line: s.Lines[i], Reason: err.Error()})
			}
		}
	}
	if len(rejected) > 0 && !*skip {
		cgm.SortLineErrors(rejected)
		return usageError(&fileimport.RejectedError{Name: *inputPath, Lines: rejected})
	}

	p, created, err := store.EnsurePatient(ctx, *cf, *tz)
	if err != nil {
		if errors.Is(err, cgmstore.ErrInvalid) {
			return usageError(fmt.Errorf("--patient: %w", err))
		}
		return err
	}
	opts := fileimport.ImportOptions{SkipInvalid: *skip, Now: func() time.Time { return now }}
	if bar := newProgressBar(e, f.Readings()); bar != nil {
		opts.Progress = func(done, total int) { _ = bar.Set(done) }
		defer bar.Finish()
	}
	var res fileimport.Result
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = fileimport.Import(ctx, tx, store, p, f, opts)
		if errors.Is(err, fileimport.ErrNoReadings) && *skip {
			return nil // every line was rejected and is listed below: nothing to write
		}
		return err
	})
	if err != nil {
		if errors.Is(err, fileimport.ErrInvalid) {
			return usageError(personRefusal(err))
		}
		return fmt.Errorf("nothing was imported: %w", err)
	}
	for _, r := range res.Rejections {
		fmt.Fprintf(e.Stderr, "rejected: %v\n", r)
	}
	out := importJSON{Format: string(f.Format), Inserted: res.Inserted, Duplicate: res.Duplicate, Revised: res.Revised,
		Rejected: res.Rejected, Skipped: f.Skipped, Repeated: f.Repeated, Conflicts: conflictsJSON(f)}
	if *asJSON {
		return json.NewEncoder(e.Stdout).Encode(out)
	}
	what := "existing patient"
	if created {
		what = "new patient in " + p.TimeZone
	}
	fmt.Fprintf(e.Stdout, "%s (%s, %s): %d inserted, %d duplicate, %d revised, %d rejected; %d rows without glucose, %d repeated, %d time(s) with different values\n",
		*inputPath, f.Format.Title(), what, out.Inserted, out.Duplicate, out.Revised, out.Rejected, out.Skipped, out.Repeated, len(out.Conflicts))
	return nil
}

// personRefusal adds to the refusal of a file of another person the
// message the taccuino shows, in Italian and English.
func personRefusal(err error) error {
	var pe *fileimport.PersonError
	if !errors.As(err, &pe) {
		return err
	}
	who := pe.Person.String()
	it, en := locale.IT.T("import_other_person_unnamed"), locale.EN.T("import_other_person_unnamed")
	if who != "" {
		it, en = locale.IT.F("import_other_person", who), locale.EN.F("import_other_person", who)
	}
	return fmt.Errorf("%w\n  %s\n  %s", err, it, en)
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

// importMeasurements imports an export of the patient's devices: the whole
// file or nothing (every invalid measurement listed, exit 2), or with
// --skip-invalid the valid ones.
func importMeasurements(ctx context.Context, e *env, pool *pgxpool.Pool, store *cgmstore.Store, cf, path string, f fileimport.Format, tz string, skip, asJSON bool) error {
	p, created, err := store.EnsurePatient(ctx, cf, tz)
	if err != nil {
		if errors.Is(err, cgmstore.ErrInvalid) {
			return usageError(fmt.Errorf("--patient: %w", err))
		}
		return err
	}
	loc, err := p.Location()
	if err != nil {
		return err
	}
	opts := fileimport.MeasurementsOptions{Format: f, Location: loc, SkipInvalid: skip}
	var res fileimport.MeasurementsResult
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = fileimport.ImportMeasurements(ctx, tx, store, p.ID, path, opts)
		return err
	})
	if err != nil {
		if errors.Is(err, fileimport.ErrInvalid) {
			return usageError(fmt.Errorf("nothing was imported: %w", err))
		}
		return fmt.Errorf("nothing was imported: %w", err)
	}
	for _, r := range res.Rejections {
		fmt.Fprintf(e.Stderr, "rejected: %v\n", r)
	}
	// The same output as a glucose file's: skipped counts the file's
	// records of other kinds; a device export has no conflicts (a
	// measurement given again for the same interval replaces the earlier).
	counts := importJSON{Format: string(res.Format), Inserted: res.Inserted, Duplicate: res.Duplicate, Revised: res.Revised,
		Rejected: res.Rejected, Skipped: res.Ignored, Conflicts: []conflictJSON{}}
	if asJSON {
		return json.NewEncoder(e.Stdout).Encode(counts)
	}
	what := "existing patient"
	if created {
		what = "new patient in " + p.TimeZone
	}
	fmt.Fprintf(e.Stdout, "%s (%s, %s): %d measurements inserted, %d duplicate, %d revised, %d rejected; %d other records ignored\n",
		path, res.Format, what, counts.Inserted, counts.Duplicate, counts.Revised, counts.Rejected, res.Ignored)
	return nil
}
