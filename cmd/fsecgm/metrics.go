package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/fileimport"
	"fsecgm/taccuino/locale"
)

// runMetrics implements "fsecgm metrics".
func runMetrics(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "metrics", "--input FILE [--format auto|FORMAT] | --patient CF [--database-url URL]; [--tz ZONE] [--from YYYY-MM-DD --to YYYY-MM-DD] [--agp] [--daily] [--extended] [--table [--lang it|en]]")
	inputPath := fs.String("input", "", "`file`: a LibreView, Dexcom Clarity or Medtronic CareLink export, Nightscout entries (JSON or CSV), or a long CSV id,time,gl")
	format := fs.String("format", "auto", "input format: auto, "+fileimport.FormatNames())
	tz := fs.String("tz", "", "time `zone` of calendar days and times of day: an IANA name or an offset such as -05:00 (default: the offset the file's timestamps carry, else Europe/Rome)")
	from := fs.String("from", "", "first local `date` of the reporting period (YYYY-MM-DD)")
	to := fs.String("to", "", "last local `date` of the reporting period, inclusive (YYYY-MM-DD)")
	withAGP := fs.Bool("agp", false, "include the AGP profile (5/25/50/75/95 percentiles per 5-minute slot of the local day)")
	daily := fs.Bool("daily", false, "include the daily profiles")
	extended := fs.Bool("extended", false, "include \"extended\": every metric of iglu 4.3.0's all_metrics(), keyed by its column name in snake case")
	table := fs.Bool("table", false, "print a readable table instead of JSON (rounded for reading)")
	lang := fs.String("lang", "it", "language of the table: it or en")
	patientCF := fs.String("patient", "", "codice fiscale of a stored patient: compute from the database instead of --input (all data unless --from/--to)")
	dbURL := fs.String("database-url", "", "with --patient: PostgreSQL `URL` (default $DATABASE_URL; when neither is set, the private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "with --patient: data `directory` of the private PostgreSQL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *patientCF != "" {
		if *inputPath != "" {
			return usageError(errors.New("give --input or --patient, not both"))
		}
		r, err := storedMetrics(ctx, e, *patientCF, *dbURL, *dataDir, *tz, *from, *to, agp.Options{AGP: *withAGP, Daily: *daily, Extended: *extended})
		if err != nil {
			return err
		}
		if *table {
			return printTable(e.Stdout, []agp.Report{r}, locale.Parse(*lang))
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode([]agp.Report{r})
	}
	if *inputPath == "" {
		return usageError(errors.New("--input is required (or --patient CF for a stored patient)"))
	}
	in, err := readInput(*inputPath, *format, *tz)
	if err != nil {
		return usageError(err)
	}
	for _, n := range conflictNotes(in.File) {
		fmt.Fprintln(e.Stderr, "note:", n)
	}
	if len(in.Rejected) > 0 {
		return usageError(inputError(*inputPath, in.Rejected))
	}
	period, err := periodFlags(*from, *to, in.Location)
	if err != nil {
		return usageError(err)
	}
	reports := make([]agp.Report, 0, len(in.Subjects))
	for _, s := range in.Subjects {
		r, err := agp.Compute(cgm.NewSeries(s.Readings), agp.Options{
			Patient: s.ID, Location: in.Location, Zone: in.Zone, Period: period, AGP: *withAGP, Daily: *daily, Extended: *extended,
		})
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	if *table {
		return printTable(e.Stdout, reports, locale.Parse(*lang))
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(reports)
}

// printTable writes the reports for a person to read: rounded, localized.
func printTable(w io.Writer, reports []agp.Report, l locale.Lang) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pct := func(v float64) string { return l.Percent(v, 1) }
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		row := func(label, value string) { fmt.Fprintf(tw, "%s\t%s\n", label, value) }
		row(l.T("patient"), r.Patient)
		if r.Period.Start.IsZero() {
			row(l.T("period"), "—")
		} else {
			row(l.T("period"), fmt.Sprintf("%s – %s (%s %s)", r.Period.Start.Format("2006-01-02 15:04"),
				r.Period.End.Format("2006-01-02 15:04"), l.Number(r.Period.Days, 1), strings.ToLower(l.T("days"))))
		}
		row(l.T("readings"), fmt.Sprint(r.Readings))
		if r.MeanGlucose == nil {
			fmt.Fprintln(tw)
			continue
		}
		row(l.T("mean_glucose"), fmt.Sprintf("%s mg/dL (%s mmol/L)", l.Number(r.MeanGlucose.MgDL, 0), l.Number(r.MeanGlucose.MmolL, 1)))
		if r.CVPercent != nil {
			row(l.T("cv"), pct(*r.CVPercent))
		}
		row(l.T("gmi"), fmt.Sprintf("%s (%s mmol/mol)", pct(r.GMI.Percent), l.Number(r.GMI.MmolMol, 0)))
		tir := r.TimeInRanges
		row(l.T("very_high"), pct(tir.VeryHigh))
		row(l.T("high"), pct(tir.High))
		row(l.T("target"), pct(tir.Target))
		row(l.T("low"), pct(tir.Low))
		row(l.T("very_low"), pct(tir.VeryLow))
		row(l.T("tight"), pct(tir.Tight))
		if r.GRI != nil {
			row(l.T("gri"), fmt.Sprintf("%s (%s %s)", l.Number(r.GRI.Value, 0), l.T("gri_zone"), r.GRI.Zone))
		}
		ev := r.Events
		row(l.T("hypo_events"), fmt.Sprintf("%d (%s %s)", ev.HypoLevel1.Total, l.Number(ev.HypoLevel1.PerDay, 1), l.T("per_day")))
		row(l.T("hypo2_events"), fmt.Sprint(ev.HypoLevel2.Total))
		row(l.T("hyper_events"), fmt.Sprintf("%d (%s %s)", ev.HyperLevel1.Total, l.Number(ev.HyperLevel1.PerDay, 1), l.T("per_day")))
		row(l.T("hyper2_events"), fmt.Sprint(ev.HyperLevel2.Total))
		row(l.T("scans"), fmt.Sprint(r.Scans))
		row(l.T("days_worn"), fmt.Sprint(r.DaysWorn))
		row(l.T("active"), pct(r.ActivePercent))
		yes := l.T("no")
		if r.Sufficient {
			yes = l.T("yes")
		}
		row(l.T("sufficient"), yes)
	}
	return tw.Flush()
}
