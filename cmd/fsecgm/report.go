package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/fileimport"
	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/locale"
)

// reportDays is the default period of the offline report: the 14 local
// days ending on the day of the file's last historic reading.
const reportDays = 14

// runReport implements "fsecgm report": the AGP report of a CSV file as a
// one-page PDF or a standalone HTML page, drawn as the service draws it
// (package agpdoc), with the previous period of equal length from the same
// file when it has data there.
func runReport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "report", "--input FILE --out report.pdf|report.html [--patient ID] [--format auto|FORMAT] [--tz ZONE] [--from YYYY-MM-DD --to YYYY-MM-DD] [--lang it|en] [--targets standard|older]")
	inputPath := fs.String("input", "", "`file`: a LibreView, Dexcom Clarity or Medtronic CareLink export, Nightscout entries (JSON or CSV), or a long CSV id,time,gl")
	out := fs.String("out", "", "output `file`: .pdf (one A4 page) or .html (standalone page)")
	patient := fs.String("patient", "", "subject `id` of a long CSV with several subjects (default: the first)")
	format := fs.String("format", "auto", "input format: auto, "+fileimport.FormatNames())
	tz := fs.String("tz", "", "time `zone` (default: the offset the file's timestamps carry, else Europe/Rome)")
	from := fs.String("from", "", "first local `date` of the period (YYYY-MM-DD; default: 14 days ending on the day of the last reading)")
	to := fs.String("to", "", "last local `date` of the period, inclusive")
	lang := fs.String("lang", "it", "language: it or en")
	targets := fs.String("targets", "standard", "targets: standard (type 1 and 2 adults) or older (older or high-risk)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *inputPath == "":
		return usageError(errors.New("--input is required"))
	case *out == "":
		return usageError(errors.New("--out is required"))
	case *lang != "it" && *lang != "en":
		return usageError(fmt.Errorf("--lang %q: want it or en", *lang))
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".pdf" && ext != ".html" && ext != ".htm" {
		return usageError(fmt.Errorf("--out %q: the name must end in .pdf or .html", *out))
	}
	tg, err := agpdoc.ParseTargets(*targets)
	if err != nil {
		return usageError(fmt.Errorf("--targets %q: want standard or older", *targets))
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
	s, err := pickSubject(in, *patient)
	if err != nil {
		return usageError(err)
	}
	series := cgm.NewSeries(s.Readings)
	period, err := periodFlags(*from, *to, in.Location)
	if err != nil {
		return usageError(err)
	}
	if period == nil {
		last, ok := series.Latest(cgm.Historic)
		if !ok {
			return usageError(fmt.Errorf("%s: subject %q has no historic readings", *inputPath, s.ID))
		}
		end := last.Time.In(in.Location)
		p := agp.LocalDays(end.AddDate(0, 0, -(reportDays-1)), end, in.Location)
		period = &p
	}
	first := period.Start.In(in.Location)
	days := int(period.End.Sub(period.Start).Hours()/24 + 0.5)
	prev := agp.LocalDays(first.AddDate(0, 0, -days), first.AddDate(0, 0, -1), in.Location)
	cur, err := agp.Compute(series, agp.Options{Patient: s.ID, Location: in.Location, Zone: in.Zone, Period: period, AGP: true, Daily: true})
	if err != nil {
		return err
	}
	pr, err := agp.Compute(series, agp.Options{Patient: s.ID, Location: in.Location, Zone: in.Zone, Period: &prev})
	if err != nil {
		return err
	}
	doc := agpdoc.Input{Report: cur, Readings: series.Between(period.Start, period.End), Location: in.Location,
		Patient: agpdoc.Patient{Label: s.ID}, Targets: tg, Lang: locale.Lang(*lang), Generated: time.Now()}
	if pr.Readings > 0 {
		doc.Previous = &pr
	}
	var b []byte
	if ext == ".pdf" {
		b, err = agpdoc.RenderPDF(doc)
	} else {
		b, err = agpdoc.RenderHTML(doc, agpdoc.HTMLOptions{})
	}
	if err != nil {
		return err
	}
	if err := writeAtomic(*out, b); err != nil {
		return err
	}
	last := period.End.In(in.Location).Add(-time.Nanosecond)
	fmt.Fprintf(e.Stdout, "%s: AGP report of %s, %s to %s (%d readings)\n", *out, s.ID,
		first.Format(time.DateOnly), last.Format(time.DateOnly), cur.Readings)
	return nil
}

// writeAtomic writes b to path through a temporary file in the same
// directory, so that path is never left half-written.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".fsecgm-report-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
