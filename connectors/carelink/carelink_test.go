package carelink

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

type line struct {
	Line    int
	Reading cgm.Reading
}

func TestParseFixtures(t *testing.T) {
	r := func(ts string, v float64, u cgm.Unit, k cgm.Kind, fl cgm.Flag, dev string) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: u, Kind: k, Flags: fl, Device: dev}
	}
	const gc, mm = "GC-TEST-1", "NG1234567H"
	H, X := cgm.Historic, cgm.Strip
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
		file: "guardian_mgdl_dst.csv", unit: cgm.MgDL, person: Person{GivenName: "Mario", FamilyName: "Rossi", Line: 2},
		devices: map[string]string{gc: "Guardian Connect"}, skipped: 2, ambiguous: 4, rows: 10,
		read: []line{
			{9, r("2026-10-25T07:54:04Z", 104, cgm.MgDL, X, 0, gc)},
			{13, r("2026-10-25T02:05:00Z", 121, cgm.MgDL, H, 0, gc)},
			// Newest first through the repeated hour: 02:55 and 02:50 in
			// winter time, then again in summer time.
			{14, r("2026-10-25T01:55:00Z", 400, cgm.MgDL, H, cgm.FlagHigh, gc)},
			{15, r("2026-10-25T01:50:00Z", 118, cgm.MgDL, H, 0, gc)},
			{16, r("2026-10-25T00:55:00Z", 115, cgm.MgDL, H, 0, gc)},
			{17, r("2026-10-25T00:50:00Z", 40, cgm.MgDL, H, cgm.FlagLow, gc)},
		},
		rejected: []string{
			`guardian_mgdl_dst.csv:18: field "Sensor Glucose (mg/dL)": value "99,5": mg/dL values in CareLink exports are whole numbers: is this mmol/L data under an mg/dL header?`,
			`guardian_mgdl_dst.csv:19: field "Date": value "2026/10/25 ": not a date and time in the file's format (YYYY/MM/DD and hh:mm:ss)`,
		},
	}, {
		file: "minimed_mmol_us.csv", unit: cgm.MmolL, person: Person{GivenName: "Anna", FamilyName: "Verdi", Line: 2},
		devices: map[string]string{mm: "MiniMed 780G"}, rows: 4,
		read: []line{
			{6, r("2026-03-29T01:10:00Z", 6.2, cgm.MmolL, H, 0, mm)},
			{8, r("2026-03-29T00:50:00Z", 5.9, cgm.MmolL, H, 0, mm)},
			{8, r("2026-03-29T00:50:00Z", 5.8, cgm.MmolL, X, 0, mm)},
			{9, r("2026-03-14T11:00:00Z", 22.2, cgm.MmolL, H, cgm.FlagHigh, mm)},
		},
		rejected: []string{
			`minimed_mmol_us.csv:7: field "Time": value "03/29/2026 02:30:00": this local time does not exist in Europe/Rome (the hour skipped when daylight saving time starts)`,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			fh, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			f, err := Parse(fh, tc.file, Options{Location: rome(t)})
			if err != nil {
				t.Fatal(err)
			}
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
			data, _ := os.ReadFile(filepath.Join("testdata", tc.file))
			if !Detect(data) {
				t.Error("Detect = false")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(strings.NewReader("x"), "x.csv", Options{}); err == nil {
		t.Error("no location: no error")
	}
	for _, in := range []string{"", "Last Name;First Name\nRossi;Mario\n", "id,time,gl\n"} {
		if _, err := Parse(strings.NewReader(in), "x.csv", Options{Location: time.UTC}); err == nil ||
			!strings.Contains(err.Error(), "not a CareLink export?") {
			t.Errorf("Parse(%q) error %v, want 'not a CareLink export?'", in, err)
		}
	}
	for _, s := range []string{"", "id,time,gl\n", "Index;Date;Time\n"} {
		if Detect([]byte(s)) {
			t.Errorf("Detect(%q) = true", s)
		}
	}
}
