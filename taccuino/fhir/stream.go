package fhir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"fsecgm/cgm"
)

// BundleWriter writes a collection Bundle one entry at a time, so that a
// Bundle of any size (years of a patient's readings, for their data
// export) needs memory for one entry: the entries are those NewBundle
// would make for BundleCollection, each with its fullUrl base/Type/id. A
// Bundle without entries has no "entry" member (FHIR JSON has no empty
// arrays, R4 §2.6.2).
type BundleWriter struct {
	w    *bufio.Writer
	base string
	n    int
	err  error
}

// NewBundleWriter writes the beginning of a collection Bundle with the
// given timestamp (none when zero) to w. base is the issuer base URL of
// the fullUrls.
func NewBundleWriter(w io.Writer, base string, timestamp time.Time) (*BundleWriter, error) {
	base, err := normalizeBase(base)
	if err != nil {
		return nil, err
	}
	b := &BundleWriter{w: bufio.NewWriterSize(w, 32<<10), base: base}
	b.write(`{"resourceType":"Bundle","type":"` + BundleCollection + `"`)
	if !timestamp.IsZero() {
		b.write(`,"timestamp":` + strconv.Quote(instant(timestamp)))
	}
	return b, b.err
}

func (b *BundleWriter) write(s string) {
	if b.err == nil {
		_, b.err = b.w.WriteString(s)
	}
}

// Add writes resources (pointers to Observation, DiagnosticReport, Device
// or Patient, each with an id) as entries.
func (b *BundleWriter) Add(resources ...Resource) error {
	for _, r := range resources {
		if b.err != nil {
			return b.err
		}
		id, _, err := resourceInfo(r)
		if err != nil {
			return err
		}
		entry, err := json.Marshal(BundleEntry{FullURL: b.base + "/" + r.ResourceType() + "/" + id, Resource: r})
		if err != nil {
			return fmt.Errorf("fhir: bundle entry: %w", err)
		}
		if b.n == 0 {
			b.write(`,"entry":[`)
		} else {
			b.write(",")
		}
		b.write(string(entry))
		b.n++
	}
	return b.err
}

// AddReadings writes the sensor reading Observations of readings
// ([SensorReadings]; strip readings are left out). A reading whose device
// serial cannot be an identifier ([UsableSerial]: a device named "iPhone
// G6" rather than by a serial) is written without its device reference.
func (b *BundleWriter) AddReadings(patient PatientInfo, readings []cgm.Reading) error {
	rs := readings
	for i, r := range readings {
		if r.Device != "" && !UsableSerial(r.Device) {
			if &rs[0] == &readings[0] {
				rs = append([]cgm.Reading(nil), readings...)
			}
			rs[i].Device = ""
		}
	}
	obs, err := SensorReadings(b.base, patient, rs)
	if err != nil {
		return err
	}
	for _, o := range obs {
		if err := b.Add(o); err != nil {
			return err
		}
	}
	return nil
}

// Entries returns how many entries were written.
func (b *BundleWriter) Entries() int { return b.n }

// Close writes the end of the Bundle and flushes; it does not close the
// underlying writer.
func (b *BundleWriter) Close() error {
	if b.n > 0 {
		b.write("]")
	}
	b.write("}")
	if b.err == nil {
		b.err = b.w.Flush()
	}
	if b.err != nil && !errors.Is(b.err, io.ErrShortWrite) {
		return fmt.Errorf("fhir: write bundle: %w", b.err)
	}
	return b.err
}

// UsableSerial reports whether a device serial can be a Device's
// identifier and a reading's device reference: 1 to 64 of A-Z a-z 0-9 . _
// : and -.
func UsableSerial(s string) bool { return tokenRE.MatchString(s) }
