package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/fileimport"
)

// defaultZone is the zone of the FSE's patients when nothing else is known.
const defaultZone = "Europe/Rome"

// subject is one patient's readings read from an input file.
type subject struct {
	ID       string
	Readings []cgm.Reading
	Devices  map[string]string // serial → model, when the file says
}

// input is what a file holds, ready for the engine.
type input struct {
	File     *fileimport.File
	Format   fileimport.Format
	Subjects []subject
	Location *time.Location
	Zone     string // label of Location: an IANA name or "-05:00"
	Rejected []error
	Skipped  int // rows without glucose (insulin, food, notes, alerts)
}

// maxReported bounds the bad lines printed for one file.
const maxReported = 50

// inputError reports every rejected line of a file (up to maxReported).
func inputError(path string, rejected []error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d line(s) rejected", path, len(rejected))
	for i, e := range rejected {
		if i == maxReported {
			fmt.Fprintf(&b, "\n  … and %d more", len(rejected)-maxReported)
			break
		}
		fmt.Fprintf(&b, "\n  %v", e)
	}
	return errors.New(b.String())
}

// parseZone reads a zone flag: an IANA name ("Europe/Rome"), "UTC", or a
// fixed offset ("+01:00", "-05:00").
func parseZone(s string) (*time.Location, string, error) {
	if len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':' {
		t, err := time.Parse("-07:00", s)
		if err == nil {
			_, off := t.Zone()
			return time.FixedZone(s, off), s, nil
		}
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "" || strings.EqualFold(s, "local") {
		return nil, "", fmt.Errorf("unknown time zone %q: want an IANA name such as Europe/Rome or an offset such as +01:00", s)
	}
	return loc, s, nil
}

// readInput reads a file of one of the formats fileimport reads (format
// auto, or one of their names). tz, when not empty, is the zone of the
// file's local times and of the figures; otherwise a long CSV's times are
// read with the offset they carry (and the figures in it), everything else
// in Europe/Rome.
func readInput(path, format, tz string) (*input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fmtWanted, err := fileimport.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	var loc *time.Location
	zone := ""
	if tz != "" {
		if loc, zone, err = parseZone(tz); err != nil {
			return nil, err
		}
	} else {
		loc, zone, _ = parseZone(defaultZone)
	}
	f, err := fileimport.Parse(path, data, fileimport.Options{Format: fmtWanted, Location: loc})
	if err != nil {
		return nil, err
	}
	in := &input{File: f, Format: f.Format, Location: loc, Zone: zone, Skipped: f.Skipped}
	if f.Format == fileimport.Long && tz == "" && f.Zone != nil {
		in.Location, in.Zone = f.Zone, f.Zone.String()
	}
	for _, e := range f.Rejected {
		in.Rejected = append(in.Rejected, e)
	}
	for _, s := range f.Subjects {
		sub := subject{ID: s.ID, Readings: s.Readings, Devices: map[string]string{}}
		if sub.ID == "" {
			sub.ID = fileID(path)
		}
		for _, d := range s.Devices {
			sub.Devices[d.Serial] = d.Model
		}
		in.Subjects = append(in.Subjects, sub)
	}
	return in, nil
}

// fileID names the single patient of a file after the file.
func fileID(path string) string {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}

// conflictNotes describes the reading times a file gave twice with
// different values, and how they were resolved (fileimport.Conflict).
func conflictNotes(f *fileimport.File) []string {
	var out []string
	for _, c := range f.Conflicts {
		out = append(out, "same time, different values (the last row is kept): "+c.String())
	}
	return out
}

// periodFlags turns --from/--to local dates into a reporting period.
func periodFlags(from, to string, loc *time.Location) (*agp.Period, error) {
	if from == "" && to == "" {
		return nil, nil
	}
	if from == "" || to == "" {
		return nil, errors.New("--from and --to go together (local dates YYYY-MM-DD, both inclusive)")
	}
	f, err := time.ParseInLocation("2006-01-02", from, loc)
	if err != nil {
		return nil, fmt.Errorf("--from %q: want a date YYYY-MM-DD", from)
	}
	t, err := time.ParseInLocation("2006-01-02", to, loc)
	if err != nil {
		return nil, fmt.Errorf("--to %q: want a date YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("--to %s is before --from %s", to, from)
	}
	p := agp.LocalDays(f, t, loc)
	return &p, nil
}
