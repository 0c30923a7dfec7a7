package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/connectors/fileimport"
)

// runVitals implements "fsecgm vitals": the daily summaries of an export of
// a patient's own devices, as a JSON array, one object per local day.
func runVitals(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "vitals", "--input FILE [--tz ZONE] [--from YYYY-MM-DD --to YYYY-MM-DD] [--order SOURCE,...]")
	inputPath := fs.String("input", "", "`file` or folder: an Apple Health export (export.zip, export.xml), a Google Takeout (zip or folder) of Fitbit or Google Fit, or a FHIR Bundle of Vital Signs Observations")
	tz := fs.String("tz", defaultZone, "IANA time `zone` of the patient's days (and of the local times some files hold)")
	from := fs.String("from", "", "first local `date` to print (YYYY-MM-DD; with --to every day between is printed, empty or not)")
	to := fs.String("to", "", "last local `date` to print, inclusive")
	order := fs.String("order", "", "comma-separated source `names`, best first, that count before the others where sources overlap (default: watches, then phones, then the rest)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *inputPath == "" {
		return usageError(errors.New("--input is required"))
	}
	loc, _, err := parseZone(*tz)
	if err != nil {
		return usageError(fmt.Errorf("--tz: %w", err))
	}
	o := vitals.Options{Location: loc}
	ro := fileimport.ReadOptions{Location: loc}
	if *from != "" || *to != "" {
		p, err := periodFlags(*from, *to, loc)
		if err != nil {
			return usageError(err)
		}
		o.From, o.To = p.Start, p.End.Add(-time.Nanosecond)
		// Read around the period: an interval may start two days before
		// (vitals.MaxInterval), and a night that ends on the first day
		// begins the evening before.
		ro.From, ro.To = p.Start.Add(-vitals.MaxInterval-vitals.SessionGap-24*time.Hour), p.End.Add(vitals.MaxInterval)
	}
	if *order != "" {
		for _, n := range strings.Split(*order, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.Ranking.Order = append(o.Ranking.Order, n)
			}
		}
	}
	var ms []vitals.Measurement
	st, err := fileimport.ReadMeasurements(*inputPath, "", ro, func(m vitals.Measurement, _ string) error {
		ms = append(ms, m)
		return ctx.Err()
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return usageError(err)
	}
	fmt.Fprintf(e.Stderr, "%s (%s): %d measurements read, %d other records ignored\n", *inputPath, st.Format, st.Total(), st.Ignored)
	days := vitals.Daily(ms, o)
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(days)
}
