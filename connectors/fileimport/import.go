package fileimport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"

	"github.com/jackc/pgx/v5"
)

// DefaultChunk is how many readings Import hands to the store per
// IngestTx call.
const DefaultChunk = 50_000

// ImportOptions tune Import.
type ImportOptions struct {
	// SkipInvalid imports the valid readings and lists the rejected
	// rows; without it, any rejected row means nothing is written.
	SkipInvalid bool
	// Chunk is how many readings go to the store per call (DefaultChunk);
	// all chunks are written in the caller's transaction.
	Chunk int
	// Progress, if set, is called after each chunk with the number of
	// readings written so far and the total.
	Progress func(done, total int)
	// Now is the clock readings are validated against and the patient's
	// "today" read in (time.Now).
	Now func() time.Time
}

// Result counts what Import did; Inserted + Duplicate + Revised readings
// were written or found, Rejected rows were not.
type Result struct {
	Inserted, Duplicate, Revised, Rejected int
	// Rejections lists the rejected rows (those of the parser and the
	// readings the store's rules refuse), in line order.
	Rejections []*cgm.LineError
}

// RejectedError is the refusal of a file with bad rows, without
// SkipInvalid: it lists every one of them. It wraps ErrInvalid.
type RejectedError struct {
	// Name is the file's name.
	Name string
	// Lines are the bad rows, in line order.
	Lines []*cgm.LineError
}

// maxListed bounds the rows a RejectedError message lists.
const maxListed = 50

// Error lists the bad rows (the first 50, then how many more).
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

// PersonError is the refusal of a file that names someone other than the
// patient (cgm/identity): nothing of it is stored. It wraps ErrInvalid.
type PersonError struct {
	// Name is the file's name.
	Name string
	// Format is the file's format.
	Format Format
	// Person is the person the file names, as written.
	Person identity.Named
	// Line is the line that names them.
	Line int
	// Failed is the check that failed.
	Failed identity.Check
}

// Error names the person in the file.
func (e *PersonError) Error() string {
	who := e.Person.String()
	if who == "" {
		who = "nobody by name"
	}
	return fmt.Sprintf("%s:%d: this %s is the data of %s, not of the patient (%s check failed): nothing was imported",
		e.Name, e.Line, e.Format.Title(), who, e.Failed)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *PersonError) Unwrap() error { return ErrInvalid }

// ErrSubjects is the refusal of a long CSV that holds several subjects:
// a patient's import holds one. It wraps ErrInvalid.
var ErrSubjects = fmt.Errorf("%w: the file holds several subjects (id column); a patient's import must hold one", ErrInvalid)

// ErrNoReadings is the refusal of a file with no glucose reading to
// store. It wraps ErrInvalid.
var ErrNoReadings = fmt.Errorf("%w: the file holds no glucose readings", ErrInvalid)

// PatientIdentity is the FSE identity of a stored patient, for
// identity.Match.
func PatientIdentity(p cgmstore.Patient) identity.Patient {
	return identity.Patient{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName, BirthDate: p.BirthDate}
}

// CheckPerson returns a *PersonError when f names a person who is not p
// (identity.Match, with today read in p's zone), nil when f names nobody
// or names p.
func CheckPerson(f *File, p cgmstore.Patient, now time.Time) error {
	if f.Person == nil {
		return nil
	}
	today := now
	if loc, err := p.Location(); err == nil {
		today = now.In(loc)
	}
	if res := identity.Match(PatientIdentity(p), *f.Person, today); !res.Match {
		return &PersonError{Name: f.Name, Format: f.Format, Person: *f.Person, Line: f.PersonLine, Failed: res.Failed}
	}
	return nil
}

// Import writes a parsed file of patient p through the store's ingestion
// path (cgmstore.IngestTx) inside tx; the store marks the patient's
// summaries for recomputation in tx. In order:
//
//   - a file that names someone other than p is refused with a
//     *PersonError (CheckPerson), before anything else;
//   - every reading is validated with the store's rules, so that by
//     default (the whole file or nothing) a file with any bad row is
//     refused with a *RejectedError listing all of them, before anything
//     is written; with SkipInvalid the valid readings are written and
//     Result.Rejections lists the others;
//   - a file with several subjects is refused (ErrSubjects), and one with
//     no reading to store (ErrNoReadings);
//   - large files go to the store in chunks, all in tx: on error tx must be
//     rolled back, and nothing of the file remains.
//
// Importing a file again changes nothing: every reading is a duplicate.
func Import(ctx context.Context, tx pgx.Tx, store *cgmstore.Store, p cgmstore.Patient, f *File, o ImportOptions) (Result, error) {
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	if err := CheckPerson(f, p, now); err != nil {
		return Result{}, err
	}
	if len(f.Subjects) > 1 {
		return Result{}, fmt.Errorf("%s: %w", f.Name, ErrSubjects)
	}
	var s Subject
	if len(f.Subjects) == 1 {
		s = f.Subjects[0]
	}
	rejected := slices.Clone(f.Rejected)
	valid := make([]int, 0, len(s.Readings))
	for i, r := range s.Readings {
		if err := r.Validate(now); err != nil {
			le := &cgm.LineError{File: f.Name, Reason: err.Error()}
			if i < len(s.Lines) {
				le.Line = s.Lines[i]
			}
			var fe *cgm.FieldError
			if errors.As(err, &fe) {
				le.Field, le.Value, le.Reason, le.Code, le.Args = fe.Field, fe.Value, fe.Reason, fe.Code, fe.Args
			}
			rejected = append(rejected, le)
			continue
		}
		valid = append(valid, i)
	}
	cgm.SortLineErrors(rejected)
	res := Result{Rejected: len(rejected), Rejections: rejected}
	if len(rejected) > 0 && !o.SkipInvalid {
		return Result{}, &RejectedError{Name: f.Name, Lines: rejected}
	}
	if len(valid) == 0 {
		return res, fmt.Errorf("%s: %w", f.Name, ErrNoReadings)
	}
	// Time order, and a key's readings together, so that chunks split only
	// between keys and behave as one batch would.
	slices.SortStableFunc(valid, func(a, b int) int {
		ra, rb := s.Readings[a], s.Readings[b]
		if c := ra.Time.Truncate(time.Microsecond).Compare(rb.Time.Truncate(time.Microsecond)); c != 0 {
			return c
		}
		return cmp.Compare(ra.Kind, rb.Kind)
	})
	buf := make([]cgm.Reading, 0, min(o.Chunk, len(valid)))
	for start := 0; start < len(valid); {
		end := min(start+o.Chunk, len(valid))
		for end < len(valid) && sameKey(s.Readings[valid[end-1]], s.Readings[valid[end]]) {
			end++
		}
		buf = buf[:0]
		for _, i := range valid[start:end] {
			buf = append(buf, s.Readings[i])
		}
		b := cgmstore.Batch{Patient: p.ID, Source: f.Format.Source(), Readings: buf}
		if start == 0 {
			b.Devices = s.Devices
		}
		r, err := store.IngestTx(ctx, tx, b)
		if err != nil {
			return Result{}, fmt.Errorf("fileimport: import %s: %w", f.Name, err)
		}
		if r.Rejected > 0 { // validated above with the same rules: only a clock change can get here
			return Result{}, fmt.Errorf("fileimport: import %s: %w: the store rejected %d reading(s)", f.Name, ErrInvalid, r.Rejected)
		}
		res.Inserted += r.Inserted
		res.Duplicate += r.Duplicate
		res.Revised += r.Revised
		if o.Progress != nil {
			o.Progress(end, len(valid))
		}
		start = end
	}
	return res, nil
}

func sameKey(a, b cgm.Reading) bool {
	return a.Kind == b.Kind && a.Time.Truncate(time.Microsecond).Equal(b.Time.Truncate(time.Microsecond))
}
