package carelink

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm"
)

// FuzzParse checks that Parse never panics and that whatever it returns
// keeps its promises: every reading is valid, historic or strip, with its
// line; rows add up (a row may hold a sensor and a BG reading); rejected
// lines are named and in order. Seeds are the fixtures.
func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
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
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.csv"
		file, err := Parse(bytes.NewReader(data), name, Options{Location: loc})
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and the error %v", err)
			}
			return
		}
		if file.Unit != cgm.MgDL && file.Unit != cgm.MmolL {
			t.Errorf("Unit = %v", file.Unit)
		}
		if len(file.Lines) != len(file.Readings) {
			t.Fatalf("%d lines for %d readings", len(file.Lines), len(file.Readings))
		}
		for i, r := range file.Readings {
			if err := r.Validate(time.Time{}); err != nil {
				t.Errorf("reading %d (line %d) %+v: %v", i, file.Lines[i], r, err)
			}
			if r.Kind != cgm.Historic && r.Kind != cgm.Strip {
				t.Errorf("reading %d: kind %v", i, r.Kind)
			}
			if i > 0 && file.Lines[i] < file.Lines[i-1] {
				t.Errorf("lines not increasing: %d after %d", file.Lines[i], file.Lines[i-1])
			}
		}
		lines := map[int]bool{}
		for _, l := range file.Lines {
			lines[l] = true
		}
		for _, le := range file.Rejected {
			lines[le.Line] = true
		}
		if n := len(lines) + file.Skipped; n != file.Rows {
			t.Errorf("%d readings, %d skipped, %d rejected do not account for %d rows",
				len(file.Readings), file.Skipped, len(file.Rejected), file.Rows)
		}
		for i, le := range file.Rejected {
			if le.File != name || le.Line < 1 || le.Reason == "" {
				t.Errorf("bad LineError %+v", le)
			}
			if i > 0 && le.Line < file.Rejected[i-1].Line {
				t.Errorf("rejected lines out of order: %d after %d", le.Line, file.Rejected[i-1].Line)
			}
		}
	})
}
