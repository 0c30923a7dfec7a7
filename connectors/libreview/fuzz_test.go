package libreview

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm"
)

// FuzzParse checks that Parse never panics and that whatever it returns
// keeps its promises: every reading is valid and has its line, rows add up,
// and rejected lines are named and in order. Seeds are the fixtures (the
// large real export cut to its first lines).
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
		if lines := bytes.SplitAfterN(data, []byte("\n"), 41); len(lines) == 41 {
			data = bytes.Join(lines[:40], nil)
		}
		f.Add(data, uint8(Auto))
	}
	f.Add([]byte(csvOf("", "mg/dL", "01-02-2026 10:00 PM,0,100", "13-02-2026 10:00,1,")), uint8(DayFirst))
	f.Add([]byte(csvOf("", "mmol/L", "25-10-2026 02:30,0,5.5", "25-10-2026 02:15,0,LO")), uint8(MonthFirst))
	rome := zone(f, "Europe/Rome")

	f.Fuzz(func(t *testing.T, data []byte, order uint8) {
		const name = "fuzz.csv"
		file, err := Parse(bytes.NewReader(data), name, Options{Location: rome, DateOrder: DateOrder(order % 3)})
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and the error %v", err)
			}
			return
		}
		if file.DateOrder != DayFirst && file.DateOrder != MonthFirst {
			t.Errorf("DateOrder = %v", file.DateOrder)
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
			if r.Unit != file.Unit || r.Kind == cgm.Current {
				t.Errorf("reading %d: unit %v kind %v in a %v file", i, r.Unit, r.Kind, file.Unit)
			}
			if i > 0 && file.Lines[i] <= file.Lines[i-1] {
				t.Errorf("lines not increasing: %d after %d", file.Lines[i], file.Lines[i-1])
			}
		}
		if n := len(file.Readings) + file.Skipped; n > file.Rows || n+len(file.Rejected) < file.Rows {
			t.Errorf("%d readings, %d skipped, %d rejected do not account for %d rows",
				len(file.Readings), file.Skipped, len(file.Rejected), file.Rows)
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
