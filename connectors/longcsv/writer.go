package longcsv

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"fsecgm/cgm"
)

// Header is the header [Writer] writes: the three columns of the long
// format (id, time and gl, which iglu and other tools read) and the
// optional columns that keep each reading exactly (see the package
// documentation).
var Header = []string{"id", "time", "gl", "kind", "value", "unit", "flag", "trend", "device"}

// Writer writes readings as a long CSV file that [Parse] reads back to the
// same readings: id the subject's label, time the instant in UTC (RFC 3339,
// with the fractional seconds the reading has), gl the value in mg/dL with
// every digit of its float64, kind, value and unit as the device reported
// them, flag LO or HI, trend the arrow (1–5), device the serial. It writes
// as it goes (through a
// csv.Writer's buffer): a file of any size needs no more memory than a row.
type Writer struct {
	w   *csv.Writer
	row [9]string
	hdr bool
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one reading of subject id, after the header on the first
// call. The reading must be valid (cgm.Reading.Validate).
func (w *Writer) Write(id string, r cgm.Reading) error {
	if !w.hdr {
		if err := w.w.Write(Header); err != nil {
			return fmt.Errorf("longcsv: write header: %w", err)
		}
		w.hdr = true
	}
	w.row[0] = id
	w.row[1] = r.Time.UTC().Format(time.RFC3339Nano)
	w.row[2] = strconv.FormatFloat(r.MgDL(), 'f', -1, 64)
	w.row[3] = r.Kind.String()
	w.row[4] = strconv.FormatFloat(r.Value, 'f', -1, 64)
	w.row[5] = r.Unit.String()
	switch {
	case r.Flags&cgm.FlagLow != 0:
		w.row[6] = "LO"
	case r.Flags&cgm.FlagHigh != 0:
		w.row[6] = "HI"
	default:
		w.row[6] = ""
	}
	w.row[7] = ""
	if r.Trend != cgm.TrendUnknown {
		w.row[7] = strconv.Itoa(int(r.Trend))
	}
	w.row[8] = r.Device
	if err := w.w.Write(w.row[:]); err != nil {
		return fmt.Errorf("longcsv: write: %w", err)
	}
	return nil
}

// Flush writes the header if nothing was written yet, then any buffered
// rows, and reports the first error of the underlying writer.
func (w *Writer) Flush() error {
	if !w.hdr {
		if err := w.w.Write(Header); err != nil {
			return fmt.Errorf("longcsv: write header: %w", err)
		}
		w.hdr = true
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("longcsv: write: %w", err)
	}
	return nil
}
