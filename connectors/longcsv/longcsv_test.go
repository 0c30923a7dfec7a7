package longcsv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v.UTC()
}

func parseFile(t testing.TB, path string) *File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh, filepath.Base(path))
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return f
}

func intp(v int) *int { return &v }

func TestParseFixtures(t *testing.T) {
	mg := func(ts string, v float64, fl cgm.Flag) cgm.Reading {
		return cgm.Reading{Time: utc(t, ts), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: fl}
	}
	tests := []struct {
		file string
		want *File
	}{{
		file: "two_subjects.csv",
		want: &File{Rows: 6, Offset: intp(3600), Subjects: []Subject{{
			ID:    "Subject A",
			Lines: []int{2, 4, 5},
			Readings: []cgm.Reading{
				mg("2024-03-01T07:10:00Z", 101, 0),
				mg("2024-03-01T07:00:00Z", 99, 0),
				mg("2024-03-01T07:05:00.25Z", 100, 0),
			},
		}, {
			ID:    "Subject B",
			Lines: []int{3, 7, 8},
			Readings: []cgm.Reading{
				mg("2024-03-01T07:05:00Z", 140.5, 0),
				mg("2024-03-01T07:00:00Z", 40, cgm.FlagLow),
				mg("2024-03-01T07:10:00Z", 500, cgm.FlagHigh),
			},
		}}},
	}, {
		file: "mixed_offsets.csv",
		want: &File{Rows: 3, Subjects: []Subject{{
			ID:       "Smith, J.",
			Lines:    []int{2, 3},
			Readings: []cgm.Reading{mg("2015-06-06T21:50:27Z", 120, 0), mg("2015-06-06T21:55:27Z", 121, 0)},
		}, {
			ID:       "Rossi M",
			Lines:    []int{4},
			Readings: []cgm.Reading{mg("2015-06-06T22:00:27Z", 122, 0)},
		}}},
	}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got := parseFile(t, filepath.Join("testdata", tc.file))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

func TestParseBadRows(t *testing.T) {
	f := parseFile(t, filepath.Join("testdata", "bad_rows.csv"))
	want := []struct {
		line                 int
		field, value, reason string
	}{
		{3, "time", "2015-06-06T16:55:27", "has no UTC offset, so its instant is unknown"},
		{4, "time", "2015-06-06 16:55", "not an RFC 3339 time with a UTC offset"},
		{5, "time", "06/06/2015 17:00", "not an RFC 3339 time with a UTC offset"},
		{6, "time", "", "is empty (want an RFC 3339 time"},
		{7, "id", "", "is empty (want the subject's label)"},
		{8, "gl", "", "is missing (want glucose in mg/dL)"},
		{9, "gl", "NA", "is missing (want glucose in mg/dL)"},
		{10, "gl", "abc", "is not a number"},
		{11, "gl", "150,5", "is not a number"},
		{12, "gl", "0", "glucose must be greater than zero"},
		{13, "gl", "-20", "glucose must be greater than zero"},
		{14, "gl", "1500", "implausible glucose for mg/dL"},
		{15, "", "", "has 2 fields, want 3 as the header on line 1"},
		{16, "", "", "has 4 fields, want 3 as the header on line 1"},
		{17, "time", "1998-06-06T17:55:27-05:00", "is before 1999"},
		{18, "", "", `malformed CSV (line 18, column 31): bare " in non-quoted-field`},
		{20, "time", "2015-06-06T25:10:27-05:00", "not an RFC 3339 time"},
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
	wantGood := []Subject{{ID: "S1", Lines: []int{2, 19, 21}, Readings: []cgm.Reading{
		{Time: utc(t, "2015-06-06T21:50:27Z"), Value: 153, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: utc(t, "2015-06-06T23:05:27Z"), Value: 150, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: utc(t, "2015-06-06T13:15:27Z"), Value: 155, Unit: cgm.MgDL, Kind: cgm.Historic},
	}}}
	if diff := cmp.Diff(wantGood, f.Subjects); diff != "" {
		t.Errorf("good readings mismatch (-want +got):\n%s", diff)
	}
	if f.Rows != 20 || f.Offset != nil {
		t.Errorf("Rows, Offset = %d, %v; want 20, nil (-05:00 and +05:00)", f.Rows, f.Offset)
	}
	const wantErr = `bad_rows.csv:3: field "time": value "2015-06-06T16:55:27": has no UTC offset, so its instant is unknown (want RFC 3339 with an offset or Z, such as 2015-06-06T16:50:27-05:00)`
	if got := f.Rejected[0].Error(); got != wantErr {
		t.Errorf("Error() = %q\nwant %q", got, wantErr)
	}
}

// TestParseIglu reads the iglu example data (13,866 readings of 5 subjects,
// all at -05:00) from the repository's shared testdata.
func TestParseIglu(t *testing.T) {
	f := parseFile(t, filepath.Join("..", "..", "testdata", "iglu_example_5_subject.csv"))
	type subj struct {
		ID        string
		N         int
		Sum       float64
		FirstLine int
		First     time.Time
	}
	var got []subj
	for _, s := range f.Subjects {
		sum := 0.0
		for _, r := range s.Readings {
			sum += r.Value
			if r.Kind != cgm.Historic || r.Unit != cgm.MgDL || r.Flags != 0 {
				t.Fatalf("%s: reading %+v, want historic mg/dL without flags", s.ID, r)
			}
		}
		got = append(got, subj{s.ID, len(s.Readings), sum, s.Lines[0], s.Readings[0].Time})
	}
	// Counts from the data's SOURCES.md; sums and first rows read with awk.
	want := []subj{
		{"Subject 1", 2915, 360485, 2, utc(t, "2015-06-06T21:50:27Z")},
		{"Subject 2", 2829, 618003, 2917, utc(t, "2015-02-24T22:31:29Z")},
		{"Subject 3", 1533, 236146, 5746, utc(t, "2015-03-10T20:36:26Z")},
		{"Subject 4", 3664, 475127, 7279, utc(t, "2015-03-13T17:44:09Z")},
		{"Subject 5", 2925, 510727, 10943, utc(t, "2015-02-28T22:40:06Z")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subjects mismatch (-want +got):\n%s", diff)
	}
	if len(f.Rejected) != 0 || f.Rows != 13866 {
		t.Errorf("Rows = %d, rejected %v; want 13866 rows, none rejected", f.Rows, f.Rejected)
	}
	if f.Offset == nil || *f.Offset != -5*3600 || f.Zone().String() != "-05:00" {
		t.Errorf("Offset = %v, Zone = %v; want -18000, -05:00", f.Offset, f.Zone())
	}
	last := f.Subjects[4]
	n := len(last.Readings) - 1
	if last.Lines[n] != 13867 || !last.Readings[n].Time.Equal(utc(t, "2015-03-11T13:04:28Z")) || last.Readings[n].Value != 238 {
		t.Errorf("last reading %+v on line %d, want 238 at 2015-03-11T13:04:28Z on line 13867", last.Readings[n], last.Lines[n])
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		line int // the line of the *LineError inside, if any
	}{
		{"empty", "", "longcsv: x.csv: empty file (want a header naming the columns id, time and gl)", 0},
		{"blank", "\n \n,,\n", "longcsv: x.csv: empty file", 0},
		{"no header", "S1,2015-06-06T16:50:27-05:00,153\n",
			`longcsv: x.csv:1: header has no "id" column (want a first line naming the columns id, time and gl): not a long CSV file?`, 1},
		{"no gl", "\nid,time,glucose\n", `longcsv: x.csv:2: header has no "gl" column`, 2},
		{"bad header", "id,\"time,gl\n", `longcsv: header: x.csv:1: malformed CSV`, 1},
		{"LibreView", "Glucose Data,Generated on,29-03-2021 18:51 UTC,Generated by,X\n", `longcsv: x.csv:1: header has no "id" column`, 1},
		{"mmol/L", "id,time,gl\nS1,2015-06-06T16:50:27-05:00,5.5\nS1,2015-06-06T16:55:27-05:00,6.1\nS1,2015-06-06T17:00:27-05:00,31\n",
			`longcsv: x.csv: 2 of the 3 values of column "gl" are 30 or less, implausible in mg/dL: the values look like mmol/L, and gl must be in mg/dL`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), "x.csv")
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
	_, err := Parse(failingReader{}, "x.csv")
	if err == nil || err.Error() != "longcsv: read x.csv: disk on fire" {
		t.Errorf("Parse error = %v, want the read error with the file name", err)
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []string // instants of the readings of the first subject
		offset *int
	}{
		{"BOM and Z", "\uFEFFid,time,gl\r\nS,2015-06-06T21:50:27Z,153\r\n", []string{"2015-06-06T21:50:27Z"}, intp(0)},
		{"half-hour offset", "id,time,gl\nS,2015-06-06T21:50:27+05:30,153\n", []string{"2015-06-06T16:20:27Z"}, intp(19800)},
		{"no readings", "id,time,gl\nS,2015-06-06T21:50:27,153\n", nil, nil},
		{"empty extra columns", "id,time,gl,\nS,2015-06-06T21:50:27-05:00,153,\n", []string{"2015-06-07T02:50:27Z"}, intp(-18000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.in), "x.csv")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if len(f.Subjects) > 0 {
				for _, r := range f.Subjects[0].Readings {
					got = append(got, r.Time.Format(time.RFC3339))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("readings mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.offset, f.Offset); diff != "" {
				t.Errorf("Offset mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestZone(t *testing.T) {
	tests := []struct {
		offset *int
		want   string
	}{
		{intp(-18000), "-05:00"},
		{intp(0), "+00:00"},
		{intp(19800), "+05:30"},
		{intp(-(3600 + 30)), "-01:00:30"},
	}
	for _, tc := range tests {
		f := &File{Offset: tc.offset}
		loc := f.Zone()
		if loc.String() != tc.want {
			t.Errorf("Zone(%d) = %q, want %q", *tc.offset, loc, tc.want)
		}
		if _, off := time.Unix(0, 0).In(loc).Zone(); off != *tc.offset {
			t.Errorf("Zone(%d) has offset %d", *tc.offset, off)
		}
	}
	if loc := (&File{}).Zone(); loc != nil {
		t.Errorf("Zone() without an offset = %v, want nil", loc)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"id,time,gl\r\n", true},
		{"\uFEFF\"id\",\"time\",\"gl\"", true},
		{"gl,ID,Time,extra", true},
		{"id,time,glucose", false},
		{"Glucose Data,Generated on,29-03-2021 18:51 UTC,Generated by,X", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := Detect([]byte(tc.line)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
