package libreview

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
)

// TestRejectionCodes checks that every rejected line carries a code of
// Codes (or of cgm.FieldCodes) with as many values as the code takes, so
// that a display can say each in the person's language without reading
// the English reason.
func TestRejectionCodes(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	b, err := os.ReadFile("testdata/bad_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(strings.NewReader(string(b)), "bad_rows.csv", Options{Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rejected) < 15 {
		t.Fatalf("%d rejected lines, want the fixture's bad rows", len(f.Rejected))
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
	for _, want := range []string{"field_count", "type_unknown", "type_empty", "timestamp_day_first", "value_not_number",
		"value_not_whole", "value_implausible", "value_not_positive", "value_empty", "malformed_csv", "time_before_1999", "device_long"} {
		if !seen[want] {
			t.Errorf("no line rejected with code %s (seen %v)", want, seen)
		}
	}
	// Files that cannot be read at all.
	for _, tc := range []struct{ name, data, code string }{
		{"empty", "\n\n", "empty_file"},
		{"utf16", "\xff\xfeG\x00", "utf16"},
		{"no header", "a,b\nc,d\n", "no_header"},
		{"header without unit", "Device,Serial Number,Device Timestamp,Record Type,Historic Glucose,Scan Glucose mg/dL,a,b,c,d,e,f,g,h,Strip Glucose mg/dL,k,l,m,n\n", "header_no_unit"},
	} {
		_, err := Parse(strings.NewReader(tc.data), "x.csv", Options{Location: rome})
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
