package connsync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"

	"github.com/jackc/pgx/v5"
)

// DefaultImportChunk is how many readings Import hands to the store per
// IngestTx call.
const DefaultImportChunk = 50_000

// ImportFile is a parsed CSV file of one patient, ready for [Import].
type ImportFile struct {
	// Name names the file in messages.
	Name string
	// Source is where the readings come from: cgmstore.SourceLibreView or
	// cgmstore.SourceLongCSV.
	Source cgmstore.Source
	// Readings are the readings the parser accepted, in any order.
	Readings []cgm.Reading
	// Lines optionally gives the file line of each reading (Lines[i] is
	// the line of Readings[i]), for messages.
	Lines []int
	// Devices describes the devices the readings name (serial, model).
	Devices []cgmstore.Device
	// Rejected are the lines the parser refused, each an error naming
	// the file, line and field.
	Rejected []error
}

// ImportOptions tune [Import].
type ImportOptions struct {
	// SkipInvalid imports the valid readings and lists the rejected
	// ones; without it, any rejected line means nothing is written.
	SkipInvalid bool
	// Chunk is how many readings go to the store per call
	// (DefaultImportChunk); all chunks are written in the caller's
	// transaction.
	Chunk int
	// Progress, if set, is called after each chunk with the number of
	// readings written so far and the total.
	Progress func(done, total int)
	// Now is the clock readings are validated against (time.Now).
	Now func() time.Time
}

// ImportResult counts what Import did; Inserted + Duplicate + Revised
// readings were written or found, Rejected lines were not.
type ImportResult struct {
	Inserted, Duplicate, Revised, Rejected int
	// Rejections lists the rejected lines and readings.
	Rejections []error
}

// RejectedError is the error of an import refused because of bad lines:
// it lists every one of them. It wraps ErrInvalid.
type RejectedError struct {
	// Name is the file's name.
	Name string
	// Lines are the errors, one per bad line or reading.
	Lines []error
}

// maxListed bounds the lines a RejectedError message lists.
const maxListed = 50

// Error lists the bad lines (the first 50, then how many more).
func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d line(s) rejected, nothing imported (use --skip-invalid to import the valid ones)", e.Name, len(e.Lines))
	for i, l := range e.Lines {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Lines)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n  %v", l)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *RejectedError) Unwrap() error { return ErrInvalid }

// Import writes a parsed file of a patient through the store's ingestion
// path (cgmstore.IngestTx) inside tx, and marks the patient's metrics for
// recomputation. Every reading is validated first, so that by default
// (the whole file or nothing) a file with any bad line is refused with a
// *RejectedError listing all of them, before anything is written; with
// SkipInvalid the valid readings are written and Rejections lists the
// others. Large files go to the store in chunks, all in tx: on error tx
// must be rolled back, and nothing of the file remains. Importing a file
// again changes nothing (every reading is a duplicate).
func Import(ctx context.Context, tx pgx.Tx, store *cgmstore.Store, patientID int64, f ImportFile, o ImportOptions) (ImportResult, error) {
	if f.Source != cgmstore.SourceLibreView && f.Source != cgmstore.SourceLongCSV {
		return ImportResult{}, fmt.Errorf("connsync: import: %w: source %v", ErrInvalid, f.Source)
	}
	if o.Chunk <= 0 {
		o.Chunk = DefaultImportChunk
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	rejected := slices.Clone(f.Rejected)
	valid := make([]int, 0, len(f.Readings))
	for i, r := range f.Readings {
		if err := r.Validate(now); err != nil {
			where := fmt.Sprintf("reading %d (%s)", i+1, r.Time.UTC().Format(time.RFC3339))
			if i < len(f.Lines) {
				where = fmt.Sprintf("line %d", f.Lines[i])
			}
			rejected = append(rejected, fmt.Errorf("%s:%s: %w", f.Name, strings.TrimPrefix(where, "line "), err))
			continue
		}
		valid = append(valid, i)
	}
	res := ImportResult{Rejected: len(rejected), Rejections: rejected}
	if len(rejected) > 0 && !o.SkipInvalid {
		return ImportResult{}, &RejectedError{Name: f.Name, Lines: rejected}
	}
	// Time order, and a key's readings together, so that chunks split only
	// between keys and behave as one batch would.
	slices.SortStableFunc(valid, func(a, b int) int {
		ra, rb := f.Readings[a], f.Readings[b]
		if c := ra.Time.Truncate(time.Microsecond).Compare(rb.Time.Truncate(time.Microsecond)); c != 0 {
			return c
		}
		return cmp.Compare(ra.Kind, rb.Kind)
	})
	buf := make([]cgm.Reading, 0, min(o.Chunk, len(valid)))
	var first time.Time
	for start := 0; start < len(valid); {
		end := min(start+o.Chunk, len(valid))
		for end < len(valid) && sameKey(f.Readings[valid[end-1]], f.Readings[valid[end]]) {
			end++
		}
		buf = buf[:0]
		for _, i := range valid[start:end] {
			buf = append(buf, f.Readings[i])
		}
		b := cgmstore.Batch{Patient: patientID, Source: f.Source, Readings: buf}
		if start == 0 {
			b.Devices = f.Devices
			first = buf[0].Time
		}
		r, err := store.IngestTx(ctx, tx, b)
		if err != nil {
			return ImportResult{}, fmt.Errorf("connsync: import %s: %w", f.Name, err)
		}
		if r.Rejected > 0 { // validated above with the same rules: only a clock change can get here
			return ImportResult{}, fmt.Errorf("connsync: import %s: %w: the store rejected %d reading(s)", f.Name, ErrInvalid, r.Rejected)
		}
		res.Inserted += r.Inserted
		res.Duplicate += r.Duplicate
		res.Revised += r.Revised
		if o.Progress != nil {
			o.Progress(end, len(valid))
		}
		start = end
	}
	if res.Inserted+res.Revised > 0 {
		if err := markDirty(ctx, tx, patientID, first); err != nil {
			return ImportResult{}, err
		}
	}
	return res, nil
}

func sameKey(a, b cgm.Reading) bool {
	return a.Kind == b.Kind && a.Time.Truncate(time.Microsecond).Equal(b.Time.Truncate(time.Microsecond))
}
