package nightscout

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm"
)

// FuzzParse checks that Parse never panics and keeps its promises: every
// reading is a valid mg/dL reading, historic or strip, with the line its
// entry starts on (lines never decrease); entries add up; rejected entries
// are named and in order.
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "entries.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"result":[{"sgv":"100","dateString":"2026-04-05T21:10:00+02:00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.json"
		file, err := Parse(bytes.NewReader(data), name)
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and the error %v", err)
			}
			return
		}
		if len(file.Lines) != len(file.Readings) {
			t.Fatalf("%d lines for %d readings", len(file.Lines), len(file.Readings))
		}
		for i, r := range file.Readings {
			if err := r.Validate(time.Time{}); err != nil {
				t.Errorf("reading %d (line %d) %+v: %v", i, file.Lines[i], r, err)
			}
			if r.Unit != cgm.MgDL || r.Kind != cgm.Historic && r.Kind != cgm.Strip {
				t.Errorf("reading %d: %+v", i, r)
			}
			if i > 0 && file.Lines[i] < file.Lines[i-1] {
				t.Errorf("lines decrease: %d after %d", file.Lines[i], file.Lines[i-1])
			}
		}
		if n := len(file.Readings) + file.Skipped + len(file.Rejected); n != file.Entries {
			t.Errorf("%d readings, %d skipped, %d rejected do not account for %d entries",
				len(file.Readings), file.Skipped, len(file.Rejected), file.Entries)
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
