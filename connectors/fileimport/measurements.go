package fileimport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"

	"github.com/jackc/pgx/v5"
)

// MeasurementsOptions tune [ImportMeasurements].
type MeasurementsOptions struct {
	// Format is the file's format, one of DeviceFormats; detected when
	// empty.
	Format Format
	// Location is the patient's zone (local times and dates of the file).
	Location *time.Location
	// SkipInvalid imports the valid measurements and lists the others;
	// without it, any invalid one means nothing is written.
	SkipInvalid bool
	// Chunk is how many measurements go to the store per call
	// (DefaultChunk).
	Chunk int
	// Progress, if set, is called after each chunk with the number of
	// measurements written so far.
	Progress func(done int)
	// Now is the clock measurements are validated against (time.Now).
	Now func() time.Time
}

// MeasurementsResult counts what ImportMeasurements did.
type MeasurementsResult struct {
	// Format is the file's format.
	Format Format
	// Inserted, Duplicate, Revised and Rejected count measurements.
	Inserted, Duplicate, Revised, Rejected int
	// Rejections lists the rejected ones, each naming where it was read.
	Rejections []error
	// Ignored counts the file's records of other kinds.
	Ignored int
}

// maxRejections bounds the rejections an import keeps for its message.
const maxRejections = 1000

// ImportMeasurements streams an export of the patient's own devices
// (DeviceFormats: Apple Health, Google Takeout, a FHIR Bundle; a glucose
// export is refused with a *KindError) through the store's ingestion path
// for measurements inside tx, in chunks, and marks the patient's daily
// summaries for recomputation (the store does, in tx). The file is read
// once, in constant memory but for a chunk. A malformed file stops the
// import with its parser's error (wrapped, errors.Is ErrInvalid): tx must
// then be rolled back, and nothing remains. Each measurement is validated
// against the clock; by default (the whole file or nothing) any invalid
// one makes the import fail with a *RejectedMeasurementsError listing them
// (each naming the file's element or line) — again tx must be rolled
// back; with SkipInvalid the valid ones are written. Importing a file
// again changes nothing.
func ImportMeasurements(ctx context.Context, tx pgx.Tx, store *cgmstore.Store, patientID int64, path string, o MeasurementsOptions) (MeasurementsResult, error) {
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	f := o.Format
	if f == "" {
		var err error
		if f, err = DetectPath(path); err != nil {
			if os.IsNotExist(err) {
				return MeasurementsResult{}, err
			}
			return MeasurementsResult{}, fmt.Errorf("%s: %w: %w", path, ErrInvalid, err)
		}
	}
	if !f.Devices() {
		return MeasurementsResult{}, &KindError{Name: path, Format: f}
	}
	channel := f.Channel()
	res := MeasurementsResult{Format: f}
	buf := make([]vitals.Measurement, 0, min(o.Chunk, 4096))
	written := 0
	flush := func() error {
		if len(buf) == 0 || (res.Rejected > 0 && !o.SkipInvalid) {
			buf = buf[:0]
			return nil
		}
		r, err := store.IngestMeasurementsTx(ctx, tx, cgmstore.MeasurementBatch{Patient: patientID, Channel: channel, Measurements: buf})
		if err != nil {
			return err
		}
		if r.Rejected > 0 { // validated above with the same rules: only a clock change gets here
			return fmt.Errorf("%w: the store rejected %d measurement(s)", ErrInvalid, r.Rejected)
		}
		res.Inserted += r.Inserted
		res.Duplicate += r.Duplicate
		res.Revised += r.Revised
		written += len(buf)
		if o.Progress != nil {
			o.Progress(written)
		}
		buf = buf[:0]
		return nil
	}
	st, err := ReadMeasurements(path, f, ReadOptions{Location: o.Location}, func(m vitals.Measurement, where string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.Validate(now); err != nil {
			res.Rejected++
			if len(res.Rejections) < maxRejections {
				var fe *cgm.FieldError
				if errors.As(err, &fe) {
					err = fe
				}
				res.Rejections = append(res.Rejections, fmt.Errorf("%s: %w", where, err))
			}
			return nil
		}
		buf = append(buf, m)
		if len(buf) == o.Chunk {
			if err := flush(); err != nil {
				return &dbError{err}
			}
		}
		return nil
	})
	res.Ignored = st.Ignored
	if err != nil {
		if ctx.Err() != nil {
			return MeasurementsResult{}, ctx.Err()
		}
		var de *dbError
		if errors.As(err, &de) {
			return MeasurementsResult{}, de.err
		}
		return MeasurementsResult{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := flush(); err != nil {
		return MeasurementsResult{}, err
	}
	if res.Rejected > 0 && !o.SkipInvalid {
		lines := res.Rejections
		return MeasurementsResult{}, &RejectedMeasurementsError{Name: path, Rejected: res.Rejected, Lines: lines}
	}
	if st.Total() == 0 {
		return res, fmt.Errorf("%s: %w", path, ErrNoMeasurements)
	}
	return res, nil
}

// dbError marks a store error raised inside a reading callback, so that it
// is not taken for a malformed file.
type dbError struct{ err error }

func (e *dbError) Error() string { return e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// ErrNoMeasurements is the refusal of a device export with no measurement
// of the kinds fsecgm reads. It wraps ErrInvalid.
var ErrNoMeasurements = fmt.Errorf("%w: the file holds no measurement of activity, sleep, heart rate or blood pressure", ErrInvalid)

// RejectedMeasurementsError is the refusal of a device export with invalid
// measurements, without SkipInvalid: it lists them (the first 1000), each
// naming where the file holds it ("export.xml:123", "steps-2026-03-29.json:
// entry 5", "Bundle.entry[3]"). It wraps ErrInvalid.
type RejectedMeasurementsError struct {
	// Name is the file's name.
	Name string
	// Rejected counts the invalid measurements.
	Rejected int
	// Lines are the first of them, in file order.
	Lines []error
}

// Error lists the invalid measurements (the first 50, then how many more).
func (e *RejectedMeasurementsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d measurement(s) rejected, nothing imported (use --skip-invalid to import the valid ones)", e.Name, e.Rejected)
	for i, l := range e.Lines {
		if i == maxListed {
			break
		}
		fmt.Fprintf(&b, "\n  %v", l)
	}
	if e.Rejected > min(len(e.Lines), maxListed) {
		fmt.Fprintf(&b, "\n  … and %d more", e.Rejected-min(len(e.Lines), maxListed))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *RejectedMeasurementsError) Unwrap() error { return ErrInvalid }
