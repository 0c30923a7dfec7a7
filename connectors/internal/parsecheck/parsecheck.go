// Package parsecheck holds the promises every glucose file parser of
// connectors/ keeps, checked by their fuzz targets in one place: the
// readings are valid and carry their lines, the rows add up, and the
// rejected lines are named and in order.
package parsecheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm"
)

// Parsed is what a parser returned for a file, as the checks read it.
type Parsed struct {
	// Name is the file name the parser was given.
	Name string
	// Unit is the file's unit; every reading must be in it unless
	// MixedUnits.
	Unit cgm.Unit
	// Readings, Lines, Skipped, Rejected and Rows are the parser's File
	// fields of the same names.
	Readings []cgm.Reading
	Lines    []int
	Skipped  int
	Rejected []*cgm.LineError
	Rows     int
	// SharedLines: one row may hold more than one reading (CareLink: a
	// sensor and a BG reading), so lines need only not decrease and the
	// rows are counted by distinct line.
	SharedLines bool
	// MixedUnits: the readings need not be in Unit (CareLink's BG column
	// has its own).
	MixedUnits bool
}

// Seeds adds every file matching glob (under the package's testdata) to
// the fuzz target's corpus; none is a failure.
func Seeds(f *testing.F, glob string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed fixtures in testdata: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// Check reports every promise p breaks.
func Check(t testing.TB, p Parsed) {
	t.Helper()
	if p.Unit != cgm.MgDL && p.Unit != cgm.MmolL {
		t.Errorf("Unit = %v", p.Unit)
	}
	if len(p.Lines) != len(p.Readings) {
		t.Fatalf("%d lines for %d readings", len(p.Lines), len(p.Readings))
	}
	for i, r := range p.Readings {
		if err := r.Validate(time.Time{}); err != nil {
			t.Errorf("reading %d (line %d) %+v: %v", i, p.Lines[i], r, err)
		}
		if r.Kind != cgm.Historic && r.Kind != cgm.Strip || !p.MixedUnits && r.Unit != p.Unit {
			t.Errorf("reading %d: unit %v kind %v in a %v file", i, r.Unit, r.Kind, p.Unit)
		}
		if i > 0 && (p.Lines[i] < p.Lines[i-1] || !p.SharedLines && p.Lines[i] == p.Lines[i-1]) {
			t.Errorf("lines not increasing: %d after %d", p.Lines[i], p.Lines[i-1])
		}
	}
	rows := len(p.Readings) + len(p.Rejected)
	if p.SharedLines {
		lines := map[int]bool{}
		for _, l := range p.Lines {
			lines[l] = true
		}
		for _, le := range p.Rejected {
			lines[le.Line] = true
		}
		rows = len(lines)
	}
	if rows+p.Skipped != p.Rows {
		t.Errorf("%d rows with readings or rejected and %d skipped do not account for %d rows", rows, p.Skipped, p.Rows)
	}
	for i, le := range p.Rejected {
		if le.File != p.Name || le.Line < 1 || le.Reason == "" {
			t.Errorf("bad LineError %+v", le)
		}
		if i > 0 && le.Line < p.Rejected[i-1].Line {
			t.Errorf("rejected lines out of order: %d after %d", le.Line, p.Rejected[i-1].Line)
		}
	}
}
