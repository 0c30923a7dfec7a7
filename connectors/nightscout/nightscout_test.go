package nightscout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

type line struct {
	Line    int
	Reading cgm.Reading
}

func TestParseFixture(t *testing.T) {
	fh, err := os.Open(filepath.Join("testdata", "entries.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh, "entries.json")
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	want := []line{
		{2, cgm.Reading{Time: ms(1775421029000), Value: 162, Unit: cgm.MgDL, Kind: cgm.Historic, Trend: cgm.TrendStable, Device: "xDrip-LibreReceiver"}},
		{3, cgm.Reading{Time: ms(1775420728000), Value: 167, Unit: cgm.MgDL, Kind: cgm.Historic, Trend: cgm.TrendRising}},
		{4, cgm.Reading{Time: ms(1775420428000), Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow, Trend: cgm.TrendFallingFast}},
		{6, cgm.Reading{Time: time.Date(2026, 4, 5, 19, 10, 0, 0, time.UTC), Value: 118, Unit: cgm.MgDL, Kind: cgm.Strip}},
		{10, cgm.Reading{Time: ms(1775419228000), Value: 500, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagHigh, Trend: cgm.TrendRisingFast}},
	}
	var got []line
	for i, r := range f.Readings {
		got = append(got, line{f.Lines[i], r})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readings (-want +got):\n%s", diff)
	}
	var rej []string
	for _, r := range f.Rejected {
		rej = append(rej, r.Error())
	}
	wantRej := []string{
		`entries.json:8: field "sgv": value "\"high\"": is not a glucose value in mg/dL`,
		`entries.json:9: field "date": is missing, and so is dateString`,
	}
	if diff := cmp.Diff(wantRej, rej); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if f.Skipped != 2 || f.Entries != 9 {
		t.Errorf("skipped %d entries %d, want 2 and 9", f.Skipped, f.Entries)
	}
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name, in string
		readings int
		err      string
	}{
		{"v3 result", `{"status":200,"result":[{"type":"sgv","sgv":100,"date":1775421029000}]}`, 1, ""},
		{"empty array", `[]`, 0, ""},
		{"object without result", `{"status":200}`, 0, `object without "result"`},
		{"not JSON", `id,time,gl`, 0, "malformed JSON"},
		{"a number", `42`, 0, "not a JSON array"},
		{"truncated", `[{"type":"sgv","sgv":100,"date":1}`, 0, "malformed JSON"},
	}
	for _, tc := range tests {
		f, err := Parse(strings.NewReader(tc.in), "x.json")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && len(f.Readings) != tc.readings:
			t.Errorf("%s: %d readings, want %d", tc.name, len(f.Readings), tc.readings)
		}
	}
}

func TestWhat(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[{"_id":"x","type":"sgv","sgv":100,"date":1}]`, "entries"},
		{`[ {"sgv": 100, "date": 1}`, "entries"},
		{`[{"eventType":"Temp Basal","created_at":"2026-04-07T17:55:36Z","duration":30}]`, "treatments"},
		{`[{"device":"loop://iPhone","created_at":"x","loop":{"iob":{}}}]`, "devicestatus"},
		{`[{"defaultProfile":"Default","store":{}}]`, "profile"},
		{`{"status":200,"result":[{"type":"sgv","sgv":1}]}`, "entries"},
		{`id,time,gl`, ""},
		{``, ""},
	}
	for _, tc := range tests {
		if got := What([]byte(tc.in)); got != tc.want {
			t.Errorf("What(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
