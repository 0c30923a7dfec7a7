package nightscoutcsv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

type line struct {
	Line    int
	Reading cgm.Reading
}

func TestParseFixture(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "entries_treatments_dst.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !Detect(data) {
		t.Error("Detect = false")
	}
	f, err := Parse(strings.NewReader(string(data)), "x.csv", Options{Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h := func(n int, ts string, v float64, tr cgm.Trend) line {
		return line{n, cgm.Reading{Time: at(ts), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic, Trend: tr, Device: "xDrip"}}
	}
	want := []line{
		h(3, "2026-10-25T02:05:00Z", 130, cgm.TrendStable),
		// Newest first through the repeated hour.
		h(4, "2026-10-25T01:55:00Z", 121, cgm.TrendStable),
		h(5, "2026-10-25T01:50:00Z", 118, cgm.TrendFalling),
		h(6, "2026-10-25T00:55:00Z", 115, cgm.TrendStable),
		h(7, "2026-10-25T00:50:00Z", 112, cgm.TrendRisingFast),
		{8, cgm.Reading{Time: at("2026-10-24T23:30:00Z"), Value: 99, Unit: cgm.MgDL, Kind: cgm.Strip}},
	}
	var got []line
	for i, r := range f.Readings {
		got = append(got, line{f.Lines[i], r})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readings (-want +got):\n%s", diff)
	}
	if len(f.Rejected) != 1 || f.Rejected[0].Line != 9 || f.Rejected[0].Field != "Glucose (mg/dL)" {
		t.Errorf("rejected %v, want line 9's glucose", f.Rejected)
	}
	if f.Rows != 9 || f.Skipped != 2 || f.Ambiguous != 4 || f.Unit != cgm.MgDL {
		t.Errorf("rows %d skipped %d ambiguous %d unit %v, want 9 2 4 mg/dL", f.Rows, f.Skipped, f.Ambiguous, f.Unit)
	}
}

func TestParseVariants(t *testing.T) {
	const hdr = "# CGM ENTRIES\nDate,Time,Glucose (mmol/L),Type,Device,Trend,ID\n"
	f, err := Parse(strings.NewReader(hdr+"25/03/2026,14:05:00,\"6,4\",sgv,,,a\n"), "x.csv", Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Readings) != 1 || f.Readings[0].Value != 6.4 || f.Readings[0].Unit != cgm.MmolL ||
		!f.Readings[0].Time.Equal(time.Date(2026, 3, 25, 14, 5, 0, 0, time.UTC)) {
		t.Errorf("readings %+v, rejected %v", f.Readings, f.Rejected)
	}
	for _, in := range []string{"", "Date,Time,Glucose (mg/dL)\n", "# TREATMENTS\nDate,Time\n", "# CGM ENTRIES\nDate,Time,Glucose,Type\n"} {
		if _, err := Parse(strings.NewReader(in), "x.csv", Options{Location: time.UTC}); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
	if Detect([]byte("id,time,gl\n")) || Detect(nil) {
		t.Error("Detect true on other files")
	}
}
