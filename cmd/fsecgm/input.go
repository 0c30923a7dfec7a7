package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/libreview"
	"fsecgm/connectors/longcsv"
)

// defaultZone is the zone of the FSE's patients when nothing else is known.
const defaultZone = "Europe/Rome"

// subject is one patient's readings read from an input file.
type subject struct {
	ID       string
	Readings []cgm.Reading
	Devices  map[string]string // serial → model, when the file says
}

// input is what a CSV file holds, ready for the engine.
type input struct {
	Format   string // "libreview" or "long"
	Subjects []subject
	Location *time.Location
	Zone     string // label of Location: an IANA name or "-05:00"
	Rejected []error
	Skipped  int // non-glucose rows (LibreView record types 3–6)
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

// readInput reads a LibreView export or a long CSV. format is auto,
// libreview or long; tz, when not empty, overrides the zone (default: the
// offset all the file's timestamps carry, else Europe/Rome).
func readInput(path, format, tz string) (*input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if format == "auto" || format == "" {
		format, err = detectFormat(path, data)
		if err != nil {
			return nil, err
		}
	}
	var loc *time.Location
	zone := ""
	if tz != "" {
		if loc, zone, err = parseZone(tz); err != nil {
			return nil, err
		}
	}
	switch format {
	case "long":
		f, err := longcsv.Parse(bytes.NewReader(data), path)
		if err != nil {
			return nil, err
		}
		in := &input{Format: "long", Location: loc, Zone: zone}
		if loc == nil {
			if z := f.Zone(); z != nil {
				in.Location, in.Zone = z, z.String()
			} else {
				in.Location, in.Zone, _ = parseZone(defaultZone)
			}
		}
		for _, e := range f.Rejected {
			in.Rejected = append(in.Rejected, e)
		}
		for _, s := range f.Subjects {
			in.Subjects = append(in.Subjects, subject{ID: s.ID, Readings: s.Readings})
		}
		return in, nil
	case "libreview":
		if loc == nil {
			loc, zone, _ = parseZone(defaultZone)
		}
		f, err := libreview.Parse(bytes.NewReader(data), path, libreview.Options{Location: loc})
		if err != nil {
			return nil, err
		}
		in := &input{Format: "libreview", Location: loc, Zone: zone, Skipped: f.Skipped}
		for _, e := range f.Rejected {
			in.Rejected = append(in.Rejected, e)
		}
		in.Subjects = []subject{{ID: libreviewID(path), Readings: f.Readings, Devices: f.Devices}}
		return in, nil
	}
	return nil, fmt.Errorf("unknown format %q: want auto, libreview or long", format)
}

// libreviewID names the single patient of a LibreView export after its file.
func libreviewID(path string) string {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	return strings.TrimSuffix(base, ".csv")
}

// detectFormat looks at the first non-empty line of a file.
func detectFormat(path string, data []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		switch {
		case longcsv.Detect(line):
			return "long", nil
		case libreview.Detect(line):
			return "libreview", nil
		}
		break
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return "", fmt.Errorf("%s:1: not a LibreView export (title line \"Glucose Data,Generated on,…\" or its header) nor a long CSV (header id,time,gl); use --format", path)
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
