package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/population"
)

// runPopulation implements "fsecgm population": refresh the population
// view now, write a de-identified export for an approved study, or load
// the list of the comuni and their zone-distretto.
func runPopulation(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "population", "refresh | export --study NAME --key-file FILE --operator NAME --out FILE [--period 14d|90d|month] [--month YYYY-MM] [--k 10] | comuni load FILE\n\n"+
		"refresh rebuilds the pseudonymised figures and the releases; export writes one row per patient of a period\n"+
		"with a study pseudonym, k-anonymous on age band, sex, ASL and diabetes type, and says how many rows were\n"+
		"generalised or dropped; comuni load replaces the table of the comuni and their zone-distretto with FILE, a CSV\n"+
		"(comma or semicolon, UTF-8) with the columns "+strings.Join(population.ComuniColumns, ", ")+": the ISTAT list of the\n"+
		"Tuscan comuni joined with the Region's list of the zone-distretto and their ASL (all or nothing).")
	dbURL := fs.String("database-url", "", "PostgreSQL `URL` of the database (default $DATABASE_URL; when neither is set, a private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	study := fs.String("study", "", "export: the approved study's `name` (letters, digits, . _ -)")
	keyFile := fs.String("key-file", "", "export: `file` holding the study's secret key, at least 32 bytes (hex or raw)")
	operator := fs.String("operator", "", "export: `who` makes the export, for the log")
	out := fs.String("out", "", "export: output CSV `file`")
	period := fs.String("period", "14d", "export: 14d, 90d or month")
	month := fs.String("month", "", "export with --period month: the `month` (YYYY-MM; default the latest)")
	k := fs.Int("k", population.DefaultK, "k of the suppression and of the k-anonymity (at least 2)")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		return usageError(errors.New("want a verb: refresh, export or comuni load"))
	}
	verb := args[0]
	if verb == "comuni" {
		if len(args) < 3 || args[1] != "load" || strings.HasPrefix(args[2], "-") {
			_ = parseFlags(fs, nil)
			return usageError(errors.New("want: comuni load FILE"))
		}
		file := args[2]
		if err := parseFlags(fs, args[3:]); err != nil {
			return err
		}
		f, err := os.Open(file)
		if err != nil {
			return usageError(fmt.Errorf("comuni load: %w", err))
		}
		defer f.Close()
		pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
		if err != nil {
			return err
		}
		defer done()
		res, err := population.LoadComuni(ctx, pool, f)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		fmt.Fprintf(e.Stdout, "comuni: %d\nadded: %d\nchanged: %d\nremoved: %d\nzones: %d\nzones_added: %d\nzones_changed: %d\nzones_removed: %d\n",
			res.Comuni, res.Added, res.Changed, res.Removed, res.Zones, res.ZonesAdded, res.ZonesChanged, res.ZonesRemoved)
		return nil
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *k < 2 {
		return usageError(fmt.Errorf("--k %d: want at least 2", *k))
	}
	switch verb {
	case "refresh":
		pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
		if err != nil {
			return err
		}
		defer done()
		r := population.NewRefresher(pool, cgmstore.New(pool, cgmstore.Options{}), population.Options{K: *k})
		res, err := r.Refresh(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "members: %d\nopposed: %d\nperiod_rows: %d\nreleases: %d\nsuppressed_cells: %d\n",
			res.Members, res.Opposed, res.PeriodRows, res.Releases, res.Suppressed)
		return nil
	case "export":
	default:
		return usageError(fmt.Errorf("unknown verb %q: want refresh, export or comuni load", verb))
	}
	kind, ok := population.ParsePeriodKind(*period)
	if !ok {
		return usageError(fmt.Errorf("--period %q: want 14d, 90d or month", *period))
	}
	var m time.Time
	if *month != "" {
		var err error
		if m, err = time.Parse("2006-01", *month); err != nil || kind != population.Month {
			return usageError(fmt.Errorf("--month %q: want YYYY-MM with --period month", *month))
		}
	}
	switch {
	case *study == "":
		return usageError(errors.New("--study is required"))
	case *keyFile == "":
		return usageError(errors.New("--key-file is required"))
	case *operator == "":
		return usageError(errors.New("--operator is required"))
	case *out == "":
		return usageError(errors.New("--out is required"))
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		return usageError(fmt.Errorf("--key-file: %w", err))
	}
	key := bytes.TrimSpace(raw)
	if h, err := hex.DecodeString(string(key)); err == nil {
		key = h
	} else {
		key = raw
	}
	pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer done()
	var buf bytes.Buffer
	res, err := population.Export(ctx, pool, population.ExportOptions{Study: *study, Key: key, Operator: *operator, Kind: kind, Month: m, K: *k}, &buf)
	if err != nil {
		return err
	}
	// Written whole or not at all.
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "rows: %d\ngeneralised: %d\ndropped: %d\nk: %d\nkey_fingerprint: %s\n",
		res.Rows, res.Generalised, res.Dropped, *k, res.KeyFingerprint)
	return nil
}
