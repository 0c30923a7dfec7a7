package clarity

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

func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parseFile(t *testing.T, name string) *File {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh, name, Options{Location: rome(t)})
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return f
}

type line struct {
	Line    int
	Reading cgm.Reading
}

func TestParseFixtures(t *testing.T) {
	mg := func(ts string, v float64, k cgm.Kind, fl cgm.Flag, dev string) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: cgm.MgDL, Kind: k, Flags: fl, Device: dev}
	}
	mmol := func(ts string, v float64, fl cgm.Flag) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: cgm.MmolL, Kind: cgm.Historic, Flags: fl, Device: "4ABC12"}
	}
	tests := []struct {
		file      string
		unit      cgm.Unit
		person    Person
		devices   map[string]string
		skipped   int
		ambiguous int
		rows      int
		read      []line
		rejected  []string
	}{{
		file: "g6_mgdl_dst.csv", unit: cgm.MgDL,
		person:  Person{GivenName: "Giulia", FamilyName: "Bianchi", BirthText: "5/4/2014", Line: 2}, // 5/4: which is the month cannot be told
		devices: map[string]string{"iPhone G6": "Dexcom G6 Mobile App"}, skipped: 8, ambiguous: 4, rows: 13,
		read: []line{
			// 02:20 twice in the repeated hour: first in summer time, then,
			// after 02:25 and 02:20 again, in winter time.
			{8, mg("2026-10-25T00:20:00Z", 103, cgm.Historic, 0, "iPhone G6")},
			{9, mg("2026-10-25T00:25:00Z", 40, cgm.Historic, cgm.FlagLow, "iPhone G6")},
			{10, mg("2026-10-25T01:20:00Z", 108, cgm.Historic, 0, "iPhone G6")},
			{11, mg("2026-10-25T01:30:00Z", 400, cgm.Historic, cgm.FlagHigh, "iPhone G6")},
			{12, mg("2026-10-25T08:00:00Z", 121, cgm.Strip, 0, "iPhone G6")},
		},
	}, {
		file: "g7_mmol_gap.csv", unit: cgm.MmolL,
		person:  Person{GivenName: "Marco", FamilyName: "Rossi", BirthDate: utc(t, "1980-01-01T00:00:00Z"), BirthText: "1980-01-01", Line: 2},
		devices: map[string]string{"4ABC12": "Dexcom G7"}, skipped: 5, rows: 12,
		read: []line{
			{7, mmol("2026-03-29T00:55:00Z", 5.4, 0)},
			{9, mmol("2026-03-29T01:05:00Z", 22.2, cgm.FlagHigh)},
			{10, mmol("2026-03-29T01:10:00Z", 2.2, cgm.FlagLow)},
			{11, mmol("2026-03-29T01:15:00Z", 6.2, 0)},
		},
		rejected: []string{
			`g7_mmol_gap.csv:8: field "Timestamp (YYYY-MM-DDThh:mm:ss)": value "2026-03-29 02:30:00": this local time does not exist in Europe/Rome (the hour skipped when daylight saving time starts)`,
			`g7_mmol_gap.csv:12: field "Glucose Value (mmol/L)": value "6.25x": is not a glucose value (want a number, Low or High)`,
			`g7_mmol_gap.csv:13: field "Glucose Value (mmol/L)": is empty: the event needs a glucose value`,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := parseFile(t, tc.file)
			if f.Unit != tc.unit || f.Skipped != tc.skipped || f.Ambiguous != tc.ambiguous || f.Rows != tc.rows {
				t.Errorf("unit %v skipped %d ambiguous %d rows %d; want %v %d %d %d", f.Unit, f.Skipped, f.Ambiguous, f.Rows,
					tc.unit, tc.skipped, tc.ambiguous, tc.rows)
			}
			if diff := cmp.Diff(tc.person, f.Person); diff != "" {
				t.Errorf("person (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.devices, f.Devices); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			var got []line
			for i, r := range f.Readings {
				got = append(got, line{f.Lines[i], r})
			}
			if diff := cmp.Diff(tc.read, got); diff != "" {
				t.Errorf("readings (-want +got):\n%s", diff)
			}
			var rej []string
			for _, r := range f.Rejected {
				rej = append(rej, r.Error())
			}
			if diff := cmp.Diff(tc.rejected, rej); diff != "" {
				t.Errorf("rejected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBirthDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when not readable
	}{
		{"1/1/1970", "1970-01-01"},
		{"12/25/1980", "1980-12-25"}, // month first, as the US Clarity writes it
		{"25/12/1980", "1980-12-25"}, // day first: 25 cannot be a month
		{"5/4/2014", ""},             // either order: not told
		{"05.04.2014", "2014-04-05"},
		{"2014-04-05", "2014-04-05"},
		{"2/30/2014", ""},
		{"yesterday", ""},
	}
	for _, tc := range tests {
		got, ok := birthDate(tc.in)
		s := ""
		if ok {
			s = got.Format(time.DateOnly)
		}
		if s != tc.want {
			t.Errorf("birthDate(%q) = %q, want %q", tc.in, s, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "clarity: x.csv: empty file (want a Dexcom Clarity export)"},
		{"no glucose column", "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Patient Info,Device Info,Source Device ID\n",
			`clarity: x.csv:1: header has no "glucose value" column`},
		{"no unit", "Timestamp,Event Type,Patient Info,Device Info,Source Device ID,Glucose Value\n",
			`clarity: x.csv:1: column "Glucose Value" does not name a unit`},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader(tc.in), "x.csv", Options{Location: time.UTC})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one starting %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(strings.NewReader(""), "x.csv", Options{}); err == nil {
		t.Error("no location: no error")
	}
}

func TestDetect(t *testing.T) {
	for _, name := range []string{"g6_mgdl_dst.csv", "g7_mmol_gap.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !Detect(data) {
			t.Errorf("Detect(%s) = false", name)
		}
	}
	for _, s := range []string{"", "id,time,gl\n", "Glucose Data,Generated on,01-01-2026 10:00 UTC,Generated by,X\n"} {
		if Detect([]byte(s)) {
			t.Errorf("Detect(%q) = true", s)
		}
	}
}
