package fileimport

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/connectors/applehealth"
	"fsecgm/connectors/takeout"
	"fsecgm/taccuino/fhir"
)

// The formats of the patient's own devices: activity, sleep, heart rate and
// blood pressure, read into measurements (cgm/vitals) rather than glucose
// readings. Detect tells them like the others; Parse refuses them with a
// *KindError (they are imported with ImportMeasurements, read with
// ReadMeasurements).
const (
	// AppleHealth is the Health app's export (export.zip, or its
	// export.xml; connectors/applehealth).
	AppleHealth Format = "applehealth"
	// Takeout is a Google Takeout of Fitbit or Google Fit data (a zip, a
	// folder or one of its files; connectors/takeout).
	Takeout Format = "takeout"
	// FHIRDevices is a FHIR Bundle of Vital Signs and Physical Activity
	// Observations, as $submit-cgm-bundle takes it (taccuino/fhir's
	// submission parser, a pure mapping).
	FHIRDevices Format = "fhir"
)

// DeviceFormats lists the formats of the patient's own devices.
var DeviceFormats = []Format{AppleHealth, Takeout, FHIRDevices}

// Devices reports whether f is a format of the patient's own devices
// (measurements), not of glucose readings.
func (f Format) Devices() bool {
	return f == AppleHealth || f == Takeout || f == FHIRDevices
}

// Channel is the store's channel of the measurements of a file of format
// f (a device format).
func (f Format) Channel() cgmstore.Channel {
	switch f {
	case AppleHealth:
		return cgmstore.ChannelAppleHealth
	case Takeout:
		return cgmstore.ChannelTakeout
	}
	return cgmstore.ChannelFHIR
}

// KindError is the refusal of a file of the other kind than the one asked
// for: a device export where glucose readings were expected (Parse), or a
// glucose export where the devices' measurements were (the callers of
// ReadMeasurements and ImportMeasurements). It wraps ErrInvalid.
type KindError struct {
	// Name is the file's name.
	Name string
	// Format is what the file is.
	Format Format
}

// Error says what the file is and where it goes.
func (e *KindError) Error() string {
	if e.Format.Devices() {
		return fmt.Sprintf("%s: this is a %s: activity, sleep, heart rate or blood pressure of the patient's own devices, "+
			"not glucose readings: import it as such (fsecgm import takes it; in the taccuino, Dati dispositivo mobile)", e.Name, e.Format.Title())
	}
	return fmt.Sprintf("%s: this is a %s, a glucose export, not one of activity, sleep, heart rate or blood pressure: import it as glucose",
		e.Name, e.Format.Title())
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *KindError) Unwrap() error { return ErrInvalid }

// deviceInZip tells a device export from the entries of a zip: an
// Apple Health export.xml, or Takeout files.
func deviceInZip(zr *zip.Reader) Format {
	switch {
	case applehealth.FindInZip(zr) != nil:
		return AppleHealth
	case takeout.Detect(zr):
		return Takeout
	}
	return ""
}

// detectDevices tells a device export from a single file's name and first
// bytes (trimmed of a BOM and spaces), or returns "".
func detectDevices(name string, trimmed []byte) Format {
	switch {
	case applehealth.Detect(trimmed):
		return AppleHealth
	case takeout.KindOf(name) != takeout.KindUnknown:
		return Takeout
	case bytes.HasPrefix(trimmed, []byte("{")) && bytes.Contains(trimmed, []byte(`"resourceType"`)) &&
		bytes.Contains(trimmed, []byte(`"Bundle"`)):
		return FHIRDevices
	}
	return ""
}

// DetectPath is Detect for a file or folder on disk, of any size: a
// folder holding Takeout files is a Takeout, a zip is told by its entries
// (an Apple Health export.xml, Takeout files), anything else by its first
// HeadBytes.
func DetectPath(path string) (Format, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	name := filepath.Base(path)
	if fi.IsDir() {
		if takeout.DetectDir(path) {
			return Takeout, nil
		}
		return "", &UnknownError{Name: name, Code: UnknownText}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, HeadBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		if zr, err := zip.NewReader(f, fi.Size()); err == nil {
			if d := deviceInZip(zr); d != "" {
				return d, nil
			}
		}
	}
	return Detect(path, head)
}

// DetectData is Detect for a whole file held in memory: a zip is told by
// its entries, as DetectPath does.
func DetectData(name string, data []byte) (Format, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		if zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err == nil {
			if d := deviceInZip(zr); d != "" {
				return d, nil
			}
		}
	}
	return Detect(name, data)
}

// ReadOptions configure ReadMeasurements.
type ReadOptions struct {
	// Location is the patient's zone: local times and dates of the files
	// that have them are read in it (Europe/Rome when nil).
	Location *time.Location
	// From and To, when not zero, keep only the measurements that meet
	// [From, To).
	From, To time.Time
}

// Emit receives each measurement and where it was read ("export.xml:123",
// "steps-2026-03-29.json #5", "Bundle.entry[3]").
type Emit func(m vitals.Measurement, where string) error

// ReadStats counts what ReadMeasurements handed over.
type ReadStats struct {
	Format       Format
	Measurements [vitals.MaxKind + 1]int
	// Ignored counts what the file holds that is not a measurement read
	// here (other record types, glucose readings of a Bundle).
	Ignored int
}

// Total returns the number of measurements handed over.
func (s ReadStats) Total() int {
	n := 0
	for _, c := range s.Measurements {
		n += c
	}
	return n
}

// ReadMeasurements reads the device export at path (a file or a folder)
// in format f (detected when empty: a glucose export is refused with a
// *KindError, anything else with an *UnknownError) and hands each
// measurement to emit, streaming: an Apple Health export of gigabytes is
// read in constant memory. The first malformed element stops it with an
// error that names the file and the element or line (an
// *applehealth.Error, *takeout.Error, or fhir.Issues for a Bundle).
func ReadMeasurements(path string, f Format, o ReadOptions, emit Emit) (ReadStats, error) {
	if f == "" {
		var err error
		if f, err = DetectPath(path); err != nil {
			return ReadStats{}, err
		}
	}
	if !f.Devices() {
		return ReadStats{}, &KindError{Name: path, Format: f}
	}
	if o.Location == nil {
		o.Location = time.UTC
		if loc, err := time.LoadLocation("Europe/Rome"); err == nil {
			o.Location = loc
		}
	}
	st := ReadStats{Format: f}
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
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return readBundle(data, o, emit)
}

// ReadBundleMeasurements reads the measurements of a FHIR Bundle held in
// memory (the $submit-cgm-bundle form): the whole Bundle is refused when
// any entry is (fhir.Issues naming each by FHIRPath); CGM readings and
// summaries are counted as ignored. Dates are placed in o.Location (UTC
// when nil).
func ReadBundleMeasurements(data []byte, o ReadOptions, emit Emit) (ReadStats, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	return readBundle(data, o, emit)
}

func readBundle(data []byte, o ReadOptions, emit Emit) (ReadStats, error) {
	st := ReadStats{Format: FHIRDevices}
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
