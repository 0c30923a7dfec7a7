package longcsv

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

// TestWriterRoundTrip writes readings of every kind, unit and flag and
// reads them back with Parse: the same readings, in the same order.
func TestWriterRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	rs := []cgm.Reading{
		{Time: t0, Value: 98.4, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "SN-1"},
		{Time: t0.Add(time.Minute + 250*time.Millisecond), Value: 5.55, Unit: cgm.MmolL, Kind: cgm.Scan, Trend: cgm.TrendRising, Device: "SN-1"},
		{Time: t0.Add(2 * time.Minute), Value: 40, Unit: cgm.MgDL, Kind: cgm.Current, Flags: cgm.FlagLow},
		{Time: t0.Add(3 * time.Minute), Value: 22.2, Unit: cgm.MmolL, Kind: cgm.Historic, Flags: cgm.FlagHigh, Device: "G7, a \"quoted\" one"},
		{Time: t0.Add(4 * time.Minute), Value: 500, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagHigh},
		{Time: t0.Add(5 * time.Minute), Value: 123, Unit: cgm.MgDL, Kind: cgm.Strip},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range rs {
		if err := w.Write("p1", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !Detect(buf.Bytes()) {
		t.Errorf("Detect(%q) = false", buf.String())
	}
	f, err := Parse(strings.NewReader(buf.String()), "export.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rejected) > 0 {
		t.Fatalf("rejected: %v", f.Rejected)
	}
	if len(f.Subjects) != 1 || f.Subjects[0].ID != "p1" {
		t.Fatalf("subjects %+v", f.Subjects)
	}
	if diff := cmp.Diff(rs, f.Subjects[0].Readings); diff != "" {
		t.Errorf("round trip (-wrote +read):\n%s\n%s", diff, buf.String())
	}
	// An empty export is a header alone, and reads as no subject.
	var empty bytes.Buffer
	if err := NewWriter(&empty).Flush(); err != nil {
		t.Fatal(err)
	}
	if got := empty.String(); got != strings.Join(Header, ",")+"\n" {
		t.Errorf("empty export %q", got)
	}
}

// TestParseExtendedColumns checks the optional columns' errors.
func TestParseExtendedColumns(t *testing.T) {
	const hdr = "id,time,gl,kind,value,unit,flag,trend\n"
	tests := []struct {
		name, row, field, reason string
	}{
		{"unknown kind", "p,2026-01-01T00:00:00Z,100,blood,100,mg/dL,,", "kind", "unknown kind"},
		{"unknown unit", "p,2026-01-01T00:00:00Z,100,historic,100,g/L,,", "unit", "unknown unit"},
		{"gl disagrees", "p,2026-01-01T00:00:00Z,100,historic,5.5,mmol/L,,", "gl", "disagrees"},
		{"unknown flag", "p,2026-01-01T00:00:00Z,100,historic,100,mg/dL,X,", "flag", "unknown flag"},
		{"unknown trend", "p,2026-01-01T00:00:00Z,100,historic,100,mg/dL,,9", "trend", "unknown trend"},
		{"flag off the limit", "p,2026-01-01T00:00:00Z,100,historic,100,mg/dL,HI,", "gl", "limit value"},
	}
	for _, tc := range tests {
		f, err := Parse(strings.NewReader(hdr+tc.row+"\n"), "x.csv")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(f.Rejected) != 1 || f.Rejected[0].Field != tc.field || !strings.Contains(f.Rejected[0].Reason, tc.reason) {
			t.Errorf("%s: rejected %v, want field %q, reason with %q", tc.name, f.Rejected, tc.field, tc.reason)
		}
	}
	if _, err := Parse(strings.NewReader("id,time,gl,value\n"), "x.csv"); err == nil || !strings.Contains(err.Error(), `"unit"`) {
		t.Errorf("value without unit: %v, want an error naming the unit column", err)
	}
}
