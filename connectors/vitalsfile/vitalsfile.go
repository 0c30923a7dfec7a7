// Package vitalsfile tells which export of a patient's own devices a file
// is, and reads it into measurements (package cgm/vitals): an Apple Health
// export (export.zip or export.xml; connectors/applehealth), a Google
// Takeout of Fitbit or Google Fit data (a zip, a folder or one of its
// files; connectors/takeout), or a FHIR Bundle of Vital Signs and Physical
// Activity Observations (taccuino/fhir's submission parser, a pure
// mapping). fsecgm vitals, fsecgm import and the taccuino's upload all read
// files through it, so that each format is detected in one place.
//
// Detection looks at the content, not the name: a zip holding an
// export.xml or Takeout files, an XML document with a HealthData root, a
// JSON object whose resourceType is Bundle, a folder holding Takeout
// files. [Glucose] tells whether a file is rather a glucose export (a
// LibreView or long CSV), so that a person who uploads one where the other
// is expected is told what they uploaded.
package vitalsfile

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/connectors/applehealth"
	"fsecgm/connectors/libreview"
	"fsecgm/connectors/longcsv"
	"fsecgm/connectors/takeout"
	"fsecgm/taccuino/fhir"
)

// Format is a kind of export.
type Format string

// The formats read.
const (
	AppleHealth Format = "applehealth"
	Takeout     Format = "takeout"
	FHIR        Format = "fhir"
)

// ErrUnknown says a file is none of the formats; ErrGlucose that it is a
// glucose export instead (a LibreView or long CSV).
var (
	ErrUnknown = errors.New("not an export of activity, sleep, heart rate or blood pressure: want an Apple Health export (export.zip or export.xml), a Google Takeout of Fitbit or Google Fit, or a FHIR Bundle of Vital Signs Observations")
	ErrGlucose = errors.New("this is a glucose export (LibreView or long CSV), not one of activity, sleep or heart data: import it as glucose")
)

// head returns the first bytes of a file.
func head(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

// Detect returns the format of path (a file or a folder), ErrGlucose for a
// glucose export, or ErrUnknown.
func Detect(path string) (Format, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		if takeout.DetectDir(path) {
			return Takeout, nil
		}
		return "", ErrUnknown
	}
	h, err := head(path, 4096)
	if err != nil {
		return "", err
	}
	if bytes.HasPrefix(h, []byte("PK\x03\x04")) {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return "", fmt.Errorf("%w (an unreadable zip: %v)", ErrUnknown, err)
		}
		defer zr.Close()
		switch {
		case applehealth.FindInZip(&zr.Reader) != nil:
			return AppleHealth, nil
		case takeout.Detect(&zr.Reader):
			return Takeout, nil
		}
		return "", ErrUnknown
	}
	return DetectHead(path, h)
}

// DetectHead tells the format from the name and the first bytes of a
// single file (not a zip or a folder).
func DetectHead(name string, h []byte) (Format, error) {
	t := bytes.TrimSpace(bytes.TrimPrefix(h, []byte("\xef\xbb\xbf")))
	switch {
	case applehealth.Detect(t):
		return AppleHealth, nil
	case takeout.KindOf(name) != takeout.KindUnknown:
		return Takeout, nil
	case bytes.HasPrefix(t, []byte("{")) && bytes.Contains(t, []byte(`"resourceType"`)) && bytes.Contains(t, []byte(`"Bundle"`)):
		return FHIR, nil
	case Glucose(t):
		return "", ErrGlucose
	}
	return "", ErrUnknown
}

// Glucose reports whether the first bytes of a file are those of a
// glucose export, as the glucose importers detect them (libreview.Detect,
// longcsv.Detect on the first non-empty line).
func Glucose(h []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(h))
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		return libreview.Detect(line) || longcsv.Detect(line)
	}
	return false
}

// Options configure a reading.
type Options struct {
	// Location is the patient's zone: local times and dates of the files
	// that have them are read in it (Europe/Rome when nil).
	Location *time.Location
	// From and To, when not zero, keep only the measurements that meet
	// [From, To).
	From, To time.Time
}

// Emit receives each measurement and where it was read ("export.xml:123",
// "steps-2026-03-29.json entry 5", "Bundle.entry[3]").
type Emit func(m vitals.Measurement, where string) error

// Stats counts what a reading handed over.
type Stats struct {
	Format       Format
	Measurements [vitals.MaxKind + 1]int
	// Ignored counts what the file holds that is not a measurement this
	// package reads (other record types, glucose readings of a Bundle).
	Ignored int
}

// Total returns the number of measurements handed over.
func (s Stats) Total() int {
	n := 0
	for _, c := range s.Measurements {
		n += c
	}
	return n
}

// Read reads path in format f (detected when empty) and hands each
// measurement to emit. The first malformed element stops it with an error
// that names the file and the element or line (an *applehealth.Error,
// *takeout.Error, or fhir.Issues for a Bundle).
func Read(path string, f Format, o Options, emit Emit) (Stats, error) {
	if f == "" {
		var err error
		if f, err = Detect(path); err != nil {
			return Stats{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	if o.Location == nil {
		o.Location = time.UTC
		if loc, err := time.LoadLocation("Europe/Rome"); err == nil {
			o.Location = loc
		}
	}
	st := Stats{Format: f}
	base := filepath.Base(path)
	switch f {
	case AppleHealth:
		s, err := applehealth.ReadFile(path, applehealth.Options{From: o.From, To: o.To}, func(m vitals.Measurement, line int) error {
			return emit(m, fmt.Sprintf("%s:%d", base, line))
		})
		st.Measurements = s.Measurements
		for _, n := range s.Skipped {
			st.Ignored += n
		}
		return st, err
	case Takeout:
		s, err := takeout.ReadPath(path, takeout.Options{Location: o.Location, From: o.From, To: o.To}, func(m vitals.Measurement, file string, at int) error {
			return emit(m, fmt.Sprintf("%s #%d", filepath.Base(file), at))
		})
		st.Measurements = s.Measurements
		st.Ignored = s.Skipped
		return st, err
	case FHIR:
		data, err := os.ReadFile(path)
		if err != nil {
			return st, err
		}
		return readBundle(data, o, emit)
	}
	return st, fmt.Errorf("%s: unknown format %q", path, f)
}

// ReadBundle reads the measurements of a FHIR Bundle (the $submit-cgm-bundle
// form): the whole Bundle is refused when any entry is (fhir.Issues naming
// each by FHIRPath); CGM readings and other entries are counted as
// ignored.
func ReadBundle(data []byte, o Options, emit Emit) (Stats, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	return readBundle(data, o, emit)
}

func readBundle(data []byte, o Options, emit Emit) (Stats, error) {
	st := Stats{Format: FHIR}
	sub, err := fhir.ParseSubmissionBundle(data)
	if err != nil {
		return st, err
	}
	var issues fhir.Issues
	for i := range sub.Entries {
		for _, is := range sub.Entries[i].Issues {
			if is.IsError() {
				issues = append(issues, is)
			}
		}
	}
	if len(issues) > 0 {
		return st, issues
	}
	for i := range sub.Entries {
		e := &sub.Entries[i]
		if e.Kind != fhir.EntryMeasurement || e.Vital == nil {
			if e.Kind == fhir.EntrySensorReading || e.Kind == fhir.EntrySummary {
				st.Ignored++
			}
			continue
		}
		m := e.Vital.Measurement(o.Location, "FHIR")
		if (!o.To.IsZero() && !m.Start.Before(o.To)) || (!o.From.IsZero() && m.End.Before(o.From)) {
			continue
		}
		st.Measurements[m.Kind]++
		if err := emit(m, fmt.Sprintf("Bundle.entry[%d]", i)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// DetectBytes is Detect for a file held in memory (an upload to another
// route): a zip is opened in place.
func DetectBytes(name string, data []byte) (Format, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return "", fmt.Errorf("%w (an unreadable zip: %v)", ErrUnknown, err)
		}
		switch {
		case applehealth.FindInZip(zr) != nil:
			return AppleHealth, nil
		case takeout.Detect(zr):
			return Takeout, nil
		}
		return "", ErrUnknown
	}
	return DetectHead(name, data[:min(len(data), 4096)])
}

// Describe names a format for people: "Apple Health", "Google Takeout",
// "FHIR".
func (f Format) Describe() string {
	switch f {
	case AppleHealth:
		return "Apple Health"
	case Takeout:
		return "Google Takeout"
	case FHIR:
		return "FHIR"
	}
	return string(f)
}
