package libreview

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the IANA zones even where the system has none

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v.UTC()
}

func parseFile(t *testing.T, name string, opt Options) *File {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh, name, opt)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return f
}

// summary is what the fixture tests compare, besides the readings.
type summary struct {
	Unit             cgm.Unit
	Generated        time.Time
	DateOrder        DateOrder
	DateOrderAssumed bool
	Devices          map[string]string
	Skipped          int
	Ambiguous        int
	Rows             int
	Rejected         []string
}

func summarize(f *File) summary {
	s := summary{Unit: f.Unit, Generated: f.Generated, DateOrder: f.DateOrder, DateOrderAssumed: f.DateOrderAssumed,
		Devices: f.Devices, Skipped: f.Skipped, Ambiguous: f.Ambiguous, Rows: f.Rows}
	for _, r := range f.Rejected {
		s.Rejected = append(s.Rejected, r.Error())
	}
	return s
}

// line is a reading and the line it must come from.
type line struct {
	Line    int
	Reading cgm.Reading
}

func TestParseFixtures(t *testing.T) {
	const (
		app    = "3f2a9c1e-7b4d-4e8a-9c0f-5d6e7f8a9b0c"
		phone  = "450E34A9-73C7-43EE-83ED-8D97C25F0B45"
		reader = "MEMB156-J0584"
		libre3 = "7cbbfcd4-c936-4a86-a37f-70b3ee9d37c0"
		uk     = "758d93d8-ff6a-4e0a-a62c-f31e5814c296"
		german = "MEMB156-K1234"
	)
	mg := func(ts string, v float64, k cgm.Kind, fl cgm.Flag, dev string) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: cgm.MgDL, Kind: k, Flags: fl, Device: dev}
	}
	mmol := func(ts string, v float64, k cgm.Kind, fl cgm.Flag, dev string) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: cgm.MmolL, Kind: k, Flags: fl, Device: dev}
	}
	H, S, X := cgm.Historic, cgm.Scan, cgm.Strip
	tests := []struct {
		file string
		zone string
		want summary
		read []line
	}{{
		file: "us_ampm_mgdl.csv", zone: "America/New_York",
		want: summary{Unit: cgm.MgDL, Generated: utc(t, "2026-01-14T20:43:00Z"), DateOrder: MonthFirst,
			Devices: map[string]string{app: "Libre app"}, Skipped: 2, Rows: 9},
		read: []line{
			{3, mg("2026-01-03T04:40:00Z", 91, H, 0, app)},
			{4, mg("2026-01-03T04:55:00Z", 40, H, cgm.FlagLow, app)},   // LO at the floor
			{5, mg("2026-01-03T05:10:00Z", 98, H, 0, app)},             // 12:10 AM
			{6, mg("2026-01-03T17:25:00Z", 500, H, cgm.FlagHigh, app)}, // 12:25 PM, HI
			{7, mg("2026-01-13T18:00:00Z", 120, H, 0, app)},
			{8, mg("2026-01-03T12:05:00Z", 105, S, 0, app)},
			{9, mg("2026-01-13T17:00:00Z", 131, S, 0, app)},
		},
	}, {
		file: "ddmm_24h_mmol.csv", zone: "Europe/Rome",
		want: summary{Unit: cgm.MmolL, Generated: utc(t, "2021-03-17T18:51:00Z"), DateOrder: DayFirst,
			Devices: map[string]string{phone: "FreeStyle LibreLink", reader: "FreeStyle Libre 2"}, Skipped: 4, Rows: 10},
		read: []line{
			{3, mmol("2021-03-16T12:42:00Z", 4.1, H, 0, phone)},
			{4, mmol("2021-03-16T12:57:00Z", 2.2, H, cgm.FlagLow, phone)},
			{5, mmol("2021-03-16T13:12:00Z", 27.8, H, cgm.FlagHigh, phone)},
			{6, mmol("2021-03-16T13:27:00Z", 5.0, H, 0, phone)},
			{7, mmol("2021-03-16T13:05:00Z", 3.9, S, 0, phone)},
			{11, mmol("2021-03-17T06:15:00Z", 6.3, X, 0, reader)},
		},
	}, {
		file: "libre3_note.csv", zone: "Europe/Rome",
		want: summary{Unit: cgm.MmolL, Generated: utc(t, "2025-06-18T18:10:00Z"), DateOrder: DayFirst,
			Devices: map[string]string{libre3: "FreeStyle Libre 3"}, Skipped: 2, Rows: 8},
		read: []line{
			{3, mmol("2025-06-18T14:32:00Z", 4.7, H, 0, libre3)},
			{4, mmol("2025-06-18T14:37:00Z", 4.4, H, 0, libre3)},
			{5, mmol("2025-06-18T14:42:00Z", 4.3, H, 0, libre3)},
			{6, mmol("2025-06-18T14:47:00Z", 4.7, H, 0, libre3)},
			{7, mmol("2025-06-18T14:32:00Z", 4.8, S, 0, libre3)},
			{11, mmol("2025-06-18T18:02:00Z", 5.9, S, 0, libre3)}, // after a note on lines 9-10
		},
	}, {
		file: "resaved_bom_lf.csv", zone: "Europe/London",
		want: summary{Unit: cgm.MmolL, Generated: utc(t, "2025-10-12T17:37:00Z"), DateOrder: DayFirst,
			Devices: map[string]string{uk: "FreeStyle LibreLink"}, Skipped: 2, Rows: 6},
		read: []line{
			{3, mmol("2025-09-01T20:58:00Z", 4.3, H, 0, uk)},
			{4, mmol("2025-09-01T21:13:00Z", 3, H, 0, uk)},
			{5, mmol("2025-09-01T21:28:00Z", 3.3, H, 0, uk)},
			{10, mmol("2025-09-30T19:03:00Z", 7.8, S, 0, uk)},
		},
	}, {
		file: "german_21col.csv", zone: "Europe/Berlin",
		want: summary{Unit: cgm.MgDL, Generated: utc(t, "2021-02-24T12:12:00Z"), DateOrder: DayFirst,
			Devices: map[string]string{german: "FreeStyle Libre 2"}, Skipped: 1, Rows: 5},
		read: []line{
			{4, mg("2021-02-22T07:00:00Z", 102, H, 0, german)},
			{5, mg("2021-02-22T07:15:00Z", 110, H, 0, german)},
			{6, mg("2021-02-22T08:03:00Z", 121, S, 0, german)},
			{7, mg("2021-02-23T06:30:00Z", 97, X, 0, german)},
		},
	}, {
		file: "dst_rome.csv", zone: "Europe/Rome",
		want: summary{Unit: cgm.MgDL, Generated: utc(t, "2026-10-26T09:00:00Z"), DateOrder: DayFirst,
			Devices: map[string]string{german: "FreeStyle Libre 2"}, Ambiguous: 10, Rows: 17,
			Rejected: []string{`dst_rome.csv:5: field "Device Timestamp": value "29-03-2026 02:30": ` +
				`this local time does not exist in Europe/Rome (the hour skipped when daylight saving time starts)`}},
		read: []line{
			// 29 March: 01:45 CET is followed by 03:00 CEST, 15 minutes later.
			{3, mg("2026-03-29T00:30:00Z", 100, H, 0, german)},
			{4, mg("2026-03-29T00:45:00Z", 101, H, 0, german)},
			{6, mg("2026-03-29T01:00:00Z", 103, H, 0, german)},
			// 25 October: the first run through 02:xx is summer time (UTC+2),
			// the second winter time (UTC+1); 15 minutes apart throughout.
			{7, mg("2026-10-24T23:45:00Z", 110, H, 0, german)},
			{8, mg("2026-10-25T00:00:00Z", 111, H, 0, german)},
			{9, mg("2026-10-25T00:15:00Z", 112, H, 0, german)},
			{10, mg("2026-10-25T00:30:00Z", 113, H, 0, german)},
			{11, mg("2026-10-25T00:45:00Z", 114, H, 0, german)},
			{12, mg("2026-10-25T01:00:00Z", 115, H, 0, german)},
			{13, mg("2026-10-25T01:15:00Z", 116, H, 0, german)},
			{14, mg("2026-10-25T01:30:00Z", 117, H, 0, german)},
			{15, mg("2026-10-25T01:45:00Z", 118, H, 0, german)},
			{16, mg("2026-10-25T02:00:00Z", 119, H, 0, german)},
			// Scans are their own sequence: 02:20 opens it (summer time),
			// 02:10 follows it, so it is the winter-time 02:10.
			{17, mg("2026-10-25T00:20:00Z", 130, S, 0, german)},
			{18, mg("2026-10-25T01:10:00Z", 131, S, 0, german)},
			{19, mg("2026-10-25T03:00:00Z", 132, S, 0, german)},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := parseFile(t, tc.file, Options{Location: zone(t, tc.zone)})
			if diff := cmp.Diff(tc.want, summarize(f)); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
			var got []line
			for i, r := range f.Readings {
				got = append(got, line{f.Lines[i], r})
			}
			if diff := cmp.Diff(tc.read, got); diff != "" {
				t.Errorf("Parse(%s) readings mismatch (-want +got):\n%s", tc.file, diff)
			}
			if n := len(f.Readings) + f.Skipped + len(f.Rejected); n != f.Rows {
				t.Errorf("Parse(%s): %d readings + %d skipped + %d rejected = %d, want Rows = %d",
					tc.file, len(f.Readings), f.Skipped, len(f.Rejected), n, f.Rows)
			}
		})
	}
}

// TestParseUKFixture reads the real (MIT) UK export kept in testdata.
func TestParseUKFixture(t *testing.T) {
	f := parseFile(t, "libreview_mmol_uk_insulin_food_cut.csv", Options{Location: zone(t, "Europe/London")})
	checkCounts(t, f, counts{unit: cgm.MmolL, historic: 1323, scan: 366, skipped: 75 + 48 + 254, order: DayFirst,
		generated: utc(t, "2025-10-12T17:37:00Z")})
	// Line 3 is the first row: "01-09-2025 21:58,0,4.3" in British Summer Time.
	want := line{3, cgm.Reading{Time: utc(t, "2025-09-01T20:58:00Z"), Value: 4.3, Unit: cgm.MmolL, Kind: cgm.Historic,
		Device: "758d93d8-ff6a-4e0a-a62c-f31e5814c296"}}
	if diff := cmp.Diff(want, line{f.Lines[0], f.Readings[0]}); diff != "" {
		t.Errorf("first reading mismatch (-want +got):\n%s", diff)
	}
	// The file holds 57 historic and scan values of exactly 2.2 mmol/L: the
	// floor at which LibreView writes LO.
	low := 0
	for _, r := range f.Readings {
		if r.Flags&cgm.FlagLow != 0 {
			low++
			if r.Value != cgm.LowLimitMmolL {
				t.Errorf("LO reading with value %v, want %v", r.Value, cgm.LowLimitMmolL)
			}
		}
	}
	if low != 57 {
		t.Errorf("LO readings = %d, want 57", low)
	}
}

type counts struct {
	unit                    cgm.Unit
	historic, scan, skipped int
	rejected                int
	order                   DateOrder
	generated               time.Time
}

func checkCounts(t *testing.T, f *File, want counts) {
	t.Helper()
	got := counts{unit: f.Unit, skipped: f.Skipped, rejected: len(f.Rejected), order: f.DateOrder, generated: f.Generated}
	for _, r := range f.Readings {
		switch r.Kind {
		case cgm.Historic:
			got.historic++
		case cgm.Scan:
			got.scan++
		default:
			t.Errorf("unexpected %v reading", r.Kind)
		}
	}
	if got != want {
		t.Errorf("Parse: got %+v, want %+v", got, want)
	}
	for _, r := range f.Rejected {
		t.Logf("rejected: %v", r)
	}
	if len(f.Lines) != len(f.Readings) {
		t.Errorf("%d lines for %d readings", len(f.Lines), len(f.Readings))
	}
}

// TestParseSharedFixtures reads the four real exports of the project's
// shared reference material, which is not in the repository (three of them
// have no license) and may be missing, in CI for instance. The in-repo
// fixtures cover the same variants.
func TestParseSharedFixtures(t *testing.T) {
	dir := sharedDir(t, "fixtures", "libreview-csv")
	tests := []struct {
		file string
		zone string
		want counts
		gap  []int // lines rejected as nonexistent local times
	}{
		{"libreview_mgdl_us_ampm_libre_app.csv", "America/Chicago",
			counts{unit: cgm.MgDL, historic: 735, scan: 252, skipped: 6, order: MonthFirst,
				generated: utc(t, "2026-01-05T20:43:00Z")}, nil}, // "01-05-2026 08:43 PM UTC": 5 January, after the last row
		// The zone of this export is unknown; its readings run on through
		// 28-03-2021 02:xx, so the device had no daylight-saving change that
		// night. Read in Europe/Rome, those four rows fall in the gap.
		{"libreview_mmol_ddmmyyyy_librelink.csv", "Australia/Brisbane",
			counts{unit: cgm.MmolL, historic: 1197, scan: 124, skipped: 75, order: DayFirst,
				generated: utc(t, "2021-03-29T18:51:00Z")}, nil},
		{"libreview_mmol_ddmmyyyy_librelink.csv", "Europe/Rome",
			counts{unit: cgm.MmolL, historic: 1197 - 4, scan: 124, skipped: 75, rejected: 4, order: DayFirst,
				generated: utc(t, "2021-03-29T18:51:00Z")}, []int{1056, 1057, 1058, 1059}},
		{"libreview_mmol_libre3_with_note.csv", "Europe/Rome",
			counts{unit: cgm.MmolL, historic: 41, scan: 62, skipped: 52, order: DayFirst,
				generated: utc(t, "2025-06-18T18:10:00Z")}, nil},
		{"libreview_mmol_uk_insulin_food_cut.csv", "Europe/London",
			counts{unit: cgm.MmolL, historic: 1323, scan: 366, skipped: 377, order: DayFirst,
				generated: utc(t, "2025-10-12T17:37:00Z")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.zone, func(t *testing.T) {
			fh, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			f, err := Parse(fh, tc.file, Options{Location: zone(t, tc.zone)})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkCounts(t, f, tc.want)
			var gap []int
			for _, r := range f.Rejected {
				if strings.Contains(r.Reason, "does not exist") {
					gap = append(gap, r.Line)
				}
			}
			if diff := cmp.Diff(tc.gap, gap); diff != "" {
				t.Errorf("gap lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBadRows(t *testing.T) {
	f := parseFile(t, "bad_rows.csv", Options{Location: zone(t, "Europe/Rome")})
	const (
		typ  = "Record Type"
		ts   = "Device Timestamp"
		hist = "Historic Glucose mg/dL"
	)
	want := []struct {
		line                 int
		field, value, reason string
	}{
		{4, typ, "7", "unknown record type"},
		{5, typ, "x", "unknown record type"},
		{6, typ, "", "is empty (want a record type from 0 to 6)"},
		{7, ts, "2026-03-15 11:00", "not a date and time in the format DD-MM-YYYY HH:MM"},
		{8, ts, "31-02-2026 11:15", "not a date and time in the format DD-MM-YYYY HH:MM"},
		{9, ts, "15-03-2026 25:00", "not a date and time"},
		{10, hist, "abc", "is not a number"},
		{11, hist, "5,5", "whole numbers"}, // a decimal comma, in an mg/dL file
		{12, hist, "5.5", "mg/dL values in LibreView exports are whole numbers"},
		{13, hist, "2000", "implausible glucose for mg/dL"},
		{14, hist, "0", "glucose must be greater than zero"},
		{15, hist, "-3", "glucose must be greater than zero"},
		{16, hist, "", "is empty: a historic glucose record (type 0) needs a value"},
		{17, "Scan Glucose mg/dL", "", "is empty: a scan glucose record (type 1) needs a value"},
		{18, "Strip Glucose mg/dL", "", "is empty: a strip glucose record (type 2) needs a value"},
		{19, "", "", "has 10 fields, want 19 as the header on line 2"},
		{20, "", "", "has 20 fields, want 19 as the header on line 2"},
		{22, "", "", `malformed CSV (line 22, column 54): bare " in non-quoted-field`},
		{23, ts, "15-03-1998 14:30", "is before 1999"},
		{25, "Serial Number", strings.Repeat("M", 65), "serial longer than 64 characters"},
		{26, hist, "1e2", "is not a number"},
		{27, hist, "NaN", "is not a number"},
	}
	if len(f.Rejected) != len(want) {
		t.Errorf("Parse(bad_rows.csv): %d rejected, want %d", len(f.Rejected), len(want))
		for _, r := range f.Rejected {
			t.Log(r)
		}
	}
	for i := 0; i < len(want) && i < len(f.Rejected); i++ {
		got, w := f.Rejected[i], want[i]
		if got.File != "bad_rows.csv" || got.Line != w.line || got.Field != w.field || got.Value != w.value ||
			!strings.Contains(got.Reason, w.reason) {
			t.Errorf("rejected[%d] = %v\nwant line %d, field %q, value %q, reason containing %q",
				i, got, w.line, w.field, w.value, w.reason)
		}
	}
	var good []line
	for i, r := range f.Readings {
		good = append(good, line{f.Lines[i], r})
	}
	const dev = "MEMB156-B0001"
	wantGood := []line{
		{3, cgm.Reading{Time: utc(t, "2026-03-15T09:00:00Z"), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic, Device: dev}},
		{21, cgm.Reading{Time: utc(t, "2026-03-15T13:00:00Z"), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic, Device: dev}},
		{24, cgm.Reading{Time: utc(t, "2026-03-15T13:45:00Z"), Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow, Device: dev}},
		{28, cgm.Reading{Time: utc(t, "2026-03-15T14:45:00Z"), Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow, Device: dev}},
	}
	if diff := cmp.Diff(wantGood, good); diff != "" {
		t.Errorf("good readings mismatch (-want +got):\n%s", diff)
	}
	if f.Rows != 27 || f.Skipped != 1 {
		t.Errorf("Rows, Skipped = %d, %d; want 27, 1", f.Rows, f.Skipped)
	}
}

func TestLineErrorString(t *testing.T) {
	tests := []struct {
		e    LineError
		want string
	}{
		{LineError{File: "a.csv", Line: 7, Field: "Record Type", Value: "9", Reason: "unknown record type"},
			`a.csv:7: field "Record Type": value "9": unknown record type`},
		{LineError{File: "a.csv", Line: 8, Field: "Notes", Reason: "is empty"}, `a.csv:8: field "Notes": is empty`},
		{LineError{File: "a.csv", Line: 9, Reason: "has 3 fields"}, `a.csv:9: has 3 fields`},
		{LineError{Line: 9, Reason: "has 3 fields"}, `line 9: has 3 fields`},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// csvOf builds a small export: a title line, a header and rows, each row
// given as "timestamp,type,historic" in the given unit.
func csvOf(title, unit string, rows ...string) string {
	var b strings.Builder
	if title != "" {
		b.WriteString(title + "\r\n")
	}
	b.WriteString("Device,Serial Number,Device Timestamp,Record Type,Historic Glucose " + unit + ",Scan Glucose " + unit +
		",Non-numeric Rapid-Acting Insulin,Rapid-Acting Insulin (units),Non-numeric Food,Carbohydrates (grams)," +
		"Carbohydrates (servings),Non-numeric Long-Acting Insulin,Long-Acting Insulin (units),Notes,Strip Glucose " + unit +
		",Ketone mmol/L,Meal Insulin (units),Correction Insulin (units),User Change Insulin (units)\r\n")
	for _, r := range rows {
		b.WriteString("FreeStyle Libre 2,SN1," + r + strings.Repeat(",", 14) + "\r\n")
	}
	return b.String()
}

func TestParseFileErrors(t *testing.T) {
	rome := zone(t, "Europe/Rome")
	hdr := csvOf("", "mg/dL")
	tests := []struct {
		name string
		in   string
		opt  Options
		want string // the error text
		line int    // the line of the *LineError inside, if any
	}{
		{"no location", hdr, Options{}, "libreview: Options.Location is required (the patient's IANA time zone)", 0},
		{"bad order", hdr, Options{Location: rome, DateOrder: 7}, "libreview: invalid Options.DateOrder DateOrder(7)", 0},
		{"empty", "", Options{Location: rome}, "libreview: x.csv: empty file", 0},
		{"blank lines", "\r\n\r\n", Options{Location: rome}, "libreview: x.csv: empty file", 0},
		{"long csv", "id,time,gl\nS1,2015-06-06T16:50:27-05:00,153\n", Options{Location: rome},
			"libreview: x.csv: no LibreView header found (want a line naming the columns Device Timestamp and Record Type, " +
				"or their German, French, Dutch, Spanish or Portuguese names, or 19 or 21 columns whose fifth names a glucose unit): " +
				"not a LibreView export?", 0},
		{"header too late", strings.Repeat("a,b\n", 12) + hdr, Options{Location: rome},
			"libreview: x.csv: no LibreView header in the first 10 lines", 0},
		{"utf16", "\xff\xfeG\x00l\x00", Options{Location: rome},
			"libreview: x.csv: file is UTF-16, as LibreView exports were before April 2019: save it as UTF-8 and try again", 0},
		{"no unit", strings.ReplaceAll(hdr, " mg/dL", ""), Options{Location: rome},
			`libreview: x.csv:1: field "Historic Glucose": historic glucose column does not name a unit (want a name ending in mg/dL or mmol/L)`, 1},
		{"mixed units", "Glucose Data,Generated on,01-02-2026 10:00 UTC,Generated by,X\n" +
			strings.Replace(hdr, "Scan Glucose mg/dL", "Scan Glucose mmol/L", 1), Options{Location: rome},
			`libreview: x.csv:2: field "Scan Glucose mmol/L": column is in mmol/L but historic glucose is in mg/dL`, 2},
		{"missing column", "Device Timestamp,Record Type,Historic Glucose mg/dL\n", Options{Location: rome},
			`libreview: x.csv:1: header has no "Device" column (want the 19 or 21 columns of a LibreView export)`, 1},
		{"both orders", csvOf("", "mg/dL", "13-01-2026 10:00,0,100", "01-13-2026 10:15,0,101"), Options{Location: rome},
			`libreview: x.csv:3: dates in both orders: "13-01-2026 10:00" (line 2) can only be day first and "01-13-2026 10:15" (line 3) only month first`, 0},
		{"day first given, AM/PM found", csvOf("", "mg/dL", "01-02-2026 10:00 PM,0,100"), Options{Location: rome, DateOrder: DayFirst},
			`libreview: x.csv:2: the date order was given as day first, but "01-02-2026 10:00 PM" is month first`, 0},
		{"month first given, day first found", csvOf("", "mg/dL", "01-02-2026 10:00,0,100", "25-02-2026 10:00,0,100"),
			Options{Location: rome, DateOrder: MonthFirst},
			`libreview: x.csv:3: the date order was given as month first, but "25-02-2026 10:00" is day first`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), "x.csv", tc.opt)
			if err == nil {
				t.Fatalf("Parse = %+v, want error %q", f, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse error = %q\nwant %q", err, tc.want)
			}
			var le *LineError
			if errors.As(err, &le) != (tc.line > 0) || le != nil && (le.Line != tc.line || le.File != "x.csv") {
				t.Errorf("Parse error %q: LineError %+v, want line %d", err, le, tc.line)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, "x.csv", Options{Location: time.UTC})
	if err == nil || err.Error() != "libreview: read x.csv: disk on fire" {
		t.Errorf("Parse error = %v, want the read error with the file name", err)
	}
}

func TestParseDateOrder(t *testing.T) {
	rome := zone(t, "Europe/Rome")
	// Every date below has day and month up to 12: the file alone cannot tell.
	ambiguous := csvOf("", "mg/dL", "03-04-2026 10:00,0,100")
	tests := []struct {
		name        string
		in          string
		opt         DateOrder
		wantOrder   DateOrder
		wantAssumed bool
		wantTime    string
	}{
		{"auto assumes day first", ambiguous, Auto, DayFirst, true, "2026-04-03T08:00:00Z"},
		{"given day first", ambiguous, DayFirst, DayFirst, true, "2026-04-03T08:00:00Z"},
		{"given month first", ambiguous, MonthFirst, MonthFirst, true, "2026-03-04T09:00:00Z"},
		{"title says day first", csvOf("Glucose Data,Generated on,13-04-2026 18:51 UTC,Generated by,X", "mg/dL",
			"03-04-2026 10:00,0,100"), Auto, DayFirst, false, "2026-04-03T08:00:00Z"},
		{"a row says month first", csvOf("", "mg/dL", "03-04-2026 10:00,0,100", "03-14-2026 10:00,6,"),
			Auto, MonthFirst, false, "2026-03-04T09:00:00Z"},
		{"given order agrees", csvOf("", "mg/dL", "03-04-2026 10:00,0,100", "03-14-2026 10:00,6,"),
			MonthFirst, MonthFirst, false, "2026-03-04T09:00:00Z"},
		{"AM/PM means month first", csvOf("", "mg/dL", "03-04-2026 10:00 AM,0,100"),
			Auto, MonthFirst, false, "2026-03-04T09:00:00Z"},
		{"US date order with a 24-hour clock", csvOf("", "mg/dL", "03-04-2026 22:00,0,100", "12-31-2025 10:00,6,"),
			Auto, MonthFirst, false, "2026-03-04T21:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), "x.csv", Options{Location: rome, DateOrder: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			if f.DateOrder != tc.wantOrder || f.DateOrderAssumed != tc.wantAssumed {
				t.Errorf("DateOrder, DateOrderAssumed = %v, %v; want %v, %v", f.DateOrder, f.DateOrderAssumed, tc.wantOrder, tc.wantAssumed)
			}
			if len(f.Readings) != 1 || !f.Readings[0].Time.Equal(utc(t, tc.wantTime)) {
				t.Errorf("readings = %+v, want one at %s", f.Readings, tc.wantTime)
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	rome := zone(t, "Europe/Rome")
	row := func(ts, typ, hist string) string {
		return "FreeStyle Libre 2,SN1," + ts + "," + typ + "," + hist + strings.Repeat(",", 14)
	}
	tests := []struct {
		name     string
		in       string
		wantTime string
		wantLine int
		wantGen  string
		rejected int
	}{
		{"header on line 1, LF", strings.ReplaceAll(csvOf("", "mg/dL", "15-01-2026 10:00,0,100"), "\r\n", "\n"),
			"2026-01-15T09:00:00Z", 2, "", 0},
		// Spanish names (unverified upstream): columns found by position.
		{"unknown language, by position",
			"Dispositivo,Número de serie,Marca temporal del dispositivo,Tipo de registro,Glucosa histórica mg/dL," +
				"Escanear glucosa mg/dL" + strings.Repeat(",x", 8) + ",Glucosa en tira mg/dL" + strings.Repeat(",x", 4) + "\n" +
				row("15-01-2026 10:00", "0", "100") + "\n",
			"2026-01-15T09:00:00Z", 2, "", 0},
		{"title with a bad date", "Glucose Data,Generated on,yesterday,Generated by,X\n" +
			strings.SplitN(csvOf("", "mg/dL"), "\n", 2)[0] + "\n" + row("15-01-2026 10:00", "0", "100") + "\n",
			"2026-01-15T09:00:00Z", 3, "", 1},
		{"title with seconds and padding", "Glucose Data,Generated on, 15-01-2026 18:51:07 UTC ,Generated by,X\n" +
			csvOf("", "mg/dL", "15-01-2026 10:00,0,100"),
			"2026-01-15T09:00:00Z", 3, "2026-01-15T18:51:07Z", 0},
		{"slashes, one-digit day and hour", csvOf("", "mg/dL", "5/1/2026 9:00,0,100", "25/1/2026 9:00,6,"),
			"2026-01-05T08:00:00Z", 2, "", 0},
		{"HI written as text", csvOf("", "mg/dL", "15-01-2026 10:00,0,HI"), "2026-01-15T09:00:00Z", 2, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), "x.csv", Options{Location: rome})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Readings) != 1 || !f.Readings[0].Time.Equal(utc(t, tc.wantTime)) || f.Lines[0] != tc.wantLine {
				t.Errorf("readings = %+v at lines %v, want one at %s on line %d", f.Readings, f.Lines, tc.wantTime, tc.wantLine)
			}
			if len(f.Rejected) != tc.rejected {
				t.Errorf("rejected = %v, want %d", f.Rejected, tc.rejected)
			}
			var gen time.Time
			if tc.wantGen != "" {
				gen = utc(t, tc.wantGen)
			}
			if !f.Generated.Equal(gen) {
				t.Errorf("Generated = %v, want %v", f.Generated, gen)
			}
		})
	}
}

func TestParseHI(t *testing.T) {
	f, err := Parse(strings.NewReader(csvOf("", "mmol/L", "15-01-2026 10:00,0,HI", "15-01-2026 10:15,0,31.0")),
		"x.csv", Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range f.Readings {
		if r.Value != cgm.HighLimitMmolL || r.Flags != cgm.FlagHigh {
			t.Errorf("reading %d = %v %v, want %v with FlagHigh", i, r.Value, r.Flags, cgm.HighLimitMmolL)
		}
	}
	if len(f.Readings) != 2 {
		t.Errorf("%d readings, want 2 (rejected: %v)", len(f.Readings), f.Rejected)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"Glucose Data,Generated on,29-03-2021 18:51 UTC,Generated by,Johnny B. Good\r\n", true},
		{"\uFEFFGlucose Data,Generated on,12-10-2025 17:37 UTC,Generated by,X,,,,,,,,,,,,,,", true},
		{"Glukose-Werte,Erstellt am,24-02-2021 12:12 UTC,Erstellt von,X", true},
		{strings.SplitN(csvOf("", "mmol/L"), "\r\n", 2)[0], true},
		{"Valeur de glycémie,Créé le,03-07-2024 10:31 AM UTC,Créé par,X\n", true},
		{"Glucosegegevens,Gegenereerd op,12-01-2024 10:00 UTC,Gegenereerd door,X", true},
		// A title line in a language without known words: by its shape.
		{"Dati glicemici,Generato il,12-01-2024 10:00 UTC,Generato da,X", true},
		// The header on the second line (the title line's words unknown and
		// its date unreadable).
		{"Title,?,?,?,?\n" + strings.SplitN(csvOf("", "mmol/L"), "\r\n", 2)[0], true},
		{"id,time,gl", false},
		{"", false},
		{"Device,Serial Number", false},
		{"Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,Source Device ID," +
			"Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min)", false},
		{"a,b,c UTC,d,e", false}, // UTC, but no date
	}
	for _, tc := range tests {
		if got := Detect([]byte(tc.line)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
