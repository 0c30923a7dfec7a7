package longcsv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm"
)

// FuzzParse checks that Parse never panics and that whatever it returns
// keeps its promises: every reading is a valid reading with its line (a
// historic mg/dL one unless the file has the kind or unit columns), subjects are distinct and non-empty, rows add up, the common
// offset is that of the readings, and rejected lines are named and in order.
// Seeds are the fixtures (the iglu data cut to its first lines).
func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed fixtures in testdata: %v", err)
	}
	paths = append(paths, filepath.Join("..", "..", "testdata", "iglu_example_5_subject.csv"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if lines := bytes.SplitAfterN(data, []byte("\n"), 41); len(lines) == 41 {
			data = bytes.Join(lines[:40], nil)
		}
		f.Add(data)
	}
	f.Add([]byte("id,time,gl\n\"a\nb\",2015-06-06 16:50:27.5Z,40\n"))
	f.Add([]byte("id,time,gl,kind,value,unit,flag,trend,device\np,2026-03-29T00:30:00Z,99.98652,scan,5.55,mmol/L,,4,SN1\n" +
		"p,2026-03-29T00:31:00Z,500,historic,500,mg/dL,HI,,\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.csv"
		file, err := Parse(bytes.NewReader(data), name)
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and the error %v", err)
			}
			return
		}
		n := 0
		seen := make(map[string]bool)
		for _, s := range file.Subjects {
			if s.ID == "" || seen[s.ID] || len(s.Readings) == 0 {
				t.Errorf("bad subject %q (%d readings, seen before: %v)", s.ID, len(s.Readings), seen[s.ID])
			}
			seen[s.ID] = true
			if len(s.Lines) != len(s.Readings) {
				t.Fatalf("subject %q: %d lines for %d readings", s.ID, len(s.Lines), len(s.Readings))
			}
			for i, r := range s.Readings {
				if err := r.Validate(time.Time{}); err != nil {
					t.Errorf("subject %q reading %d (line %d) %+v: %v", s.ID, i, s.Lines[i], r, err)
				}
				extended := bytes.Contains(bytes.ToLower(data), []byte("kind")) || bytes.Contains(bytes.ToLower(data), []byte("unit"))
				if !extended && (r.Unit != cgm.MgDL || r.Kind != cgm.Historic) || r.Time.Location() != time.UTC {
					t.Errorf("subject %q reading %d: %+v, want historic mg/dL in UTC", s.ID, i, r)
				}
				if i > 0 && s.Lines[i] <= s.Lines[i-1] {
					t.Errorf("subject %q: lines not increasing: %d after %d", s.ID, s.Lines[i], s.Lines[i-1])
				}
			}
			n += len(s.Readings)
		}
		if n+len(file.Rejected) != file.Rows {
			t.Errorf("%d readings + %d rejected != %d rows", n, len(file.Rejected), file.Rows)
		}
		if (file.Offset == nil) != (file.Zone() == nil) || file.Offset != nil && n == 0 {
			t.Errorf("Offset %v with %d readings, Zone %v", file.Offset, n, file.Zone())
		}
		for i, le := range file.Rejected {
			if le.File != name || le.Line < 1 || le.Reason == "" || le.Error() == "" {
				t.Errorf("bad LineError %+v", le)
			}
			if i > 0 && le.Line < file.Rejected[i-1].Line {
				t.Errorf("rejected lines out of order: %d after %d", le.Line, file.Rejected[i-1].Line)
			}
		}
	})
}
