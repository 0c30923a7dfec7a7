package longcsv

import (
	"errors"
	"os"
	"strings"
	"testing"

	"fsecgm/cgm"
)

// TestRejectionCodes checks that every rejected line carries a code of
// Codes (or of cgm.FieldCodes) with as many values as the code takes.
func TestRejectionCodes(t *testing.T) {
	b, err := os.ReadFile("testdata/bad_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(strings.NewReader(string(b)), "bad_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, le := range f.Rejected {
		n, ok := Codes[le.Code]
		if !ok {
			n, ok = cgm.FieldCodes[le.Code]
		}
		if !ok {
			t.Errorf("line %d (%s) has code %q, not one of Codes", le.Line, le.Reason, le.Code)
			continue
		}
		if len(le.Args) != n {
			t.Errorf("line %d: code %s with %d values %q, want %d", le.Line, le.Code, len(le.Args), le.Args, n)
		}
		seen[le.Code] = true
	}
	for _, want := range []string{"time_no_offset", "time_invalid", "time_empty", "id_empty", "gl_missing", "gl_not_number",
		"value_not_positive", "value_implausible", "field_count", "time_before_1999", "malformed_csv"} {
		if !seen[want] {
			t.Errorf("no line rejected with code %s (seen %v)", want, seen)
		}
	}
	for _, tc := range []struct{ name, data, code string }{
		{"empty", "\n", "empty_file"},
		{"no gl column", "id,time,glucose\n", "header_column_missing"},
		{"mmol/L", "id,time,gl\nS,2015-06-06T16:50:27-05:00,5.5\nS,2015-06-06T17:05:27-05:00,6.1\n", "values_mmol"},
	} {
		_, err := Parse(strings.NewReader(tc.data), "x.csv")
		var fe *FileError
		var le *LineError
		code, args := "", []string(nil)
		switch {
		case errors.As(err, &fe):
			code, args = fe.Code, fe.Args
		case errors.As(err, &le):
			code, args = le.Code, le.Args
		}
		if code != tc.code || len(args) != Codes[code] {
			t.Errorf("%s: error %v has code %q and values %q, want %s", tc.name, err, code, args, tc.code)
		}
	}
}
