package fhir

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
	"fsecgm/taccuino/jsonscan"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSubmissionMixed reads testdata/submissions/mixed.json, a
// submission with one entry per case, and checks each entry's outcome.
func TestParseSubmissionMixed(t *testing.T) {
	s, err := ParseSubmissionBundle(readFile(t, "testdata/submissions/mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "platform-submission-1" || !s.Timestamp.Equal(time.Date(2024, 5, 15, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("id, timestamp = %q, %v", s.ID, s.Timestamp)
	}
	serial := "0M0008L4D1E"
	for _, tc := range []struct {
		entry   int
		kind    EntryKind
		errExpr string // expression of the first error; "" for an accepted entry
		errCode string
		reading *cgm.Reading
		warn    string // expression of a warning, if one is expected
	}{
		{entry: 0, kind: EntryPatient},
		{entry: 1, kind: EntryDevice},
		{entry: 2, kind: EntrySensorReading, reading: &cgm.Reading{Time: time.Date(2024, 5, 2, 8, 15, 0, 0, time.UTC), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic, Device: serial}},
		{entry: 3, kind: EntrySensorReading, reading: &cgm.Reading{Time: time.Date(2024, 5, 2, 8, 30, 0, 250e6, time.UTC), Value: 2.2, Unit: cgm.MmolL, Kind: cgm.Scan, Flags: cgm.FlagLow, Device: serial}},
		{entry: 4, kind: EntrySensorReading, errExpr: "Bundle.entry[4].resource.valueQuantity.code", errCode: IssueValue},
		{entry: 5, kind: EntrySensorReading, warn: "Bundle.entry[5].resource.dataAbsentReason"},
		{entry: 6, kind: EntrySensorReading, errExpr: "Bundle.entry[6].resource.effectiveDateTime", errCode: IssueValue},
		{entry: 7, kind: EntrySensorReading, errExpr: "Bundle.entry[7].request.method", errCode: IssueNotSupported},
		{entry: 8, kind: EntryUnknown, errExpr: "Bundle.entry[8].resource.resourceType", errCode: IssueNotSupported},
		{entry: 9, kind: EntrySummary},
		{entry: 10, kind: EntryUnknown, errExpr: "Bundle.entry[10].resource.code", errCode: IssueNotSupported}, // body weight
		{entry: 11, kind: EntrySensorReading, errExpr: "Bundle.entry[11].request.ifNoneExist", errCode: IssueNotSupported},
		{entry: 12, kind: EntrySensorReading, errExpr: "Bundle.entry[12].resource.valueQuantity.value", errCode: IssueValue},
		{entry: 13, kind: EntrySensorReading, errExpr: "Bundle.entry[13].resource.valueQuantity", errCode: IssueStructure},
		{entry: 14, kind: EntrySensorReading, errExpr: "Bundle.entry[14].fullUrl", errCode: IssueDuplicate},
		{entry: 15, kind: EntrySensorReading, errExpr: "Bundle.entry[15].resource.subject", errCode: IssueRequired},
		{entry: 16, kind: EntryReport},
		{entry: 17, kind: EntrySensorReading, errExpr: "Bundle.entry[17].resource.valueQuantity.comparator", errCode: IssueValue},
		{entry: 18, kind: EntrySummary, errExpr: "Bundle.entry[18].resource.effectivePeriod", errCode: IssueRequired},
		{entry: 19, kind: EntrySensorReading, reading: &cgm.Reading{Time: time.Date(2024, 5, 2, 11, 0, 0, 0, time.UTC), Value: 500, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagHigh, Device: serial},
			warn: "Bundle.entry[19].request.ifNoneExist"},
		{entry: 20, kind: EntryOrder},
		{entry: 21, kind: EntrySensorReading, errExpr: "Bundle.entry[21].resource.effectivePeriod", errCode: IssueValue},
	} {
		e := s.Entries[tc.entry]
		if e.Index != tc.entry || e.Kind != tc.kind {
			t.Errorf("entry %d: index %d, kind %v; want kind %v", tc.entry, e.Index, e.Kind, tc.kind)
		}
		var firstErr, warn *Issue
		for _, is := range e.Issues {
			if is.IsError() && firstErr == nil {
				firstErr = is
			}
			if is.Severity == SeverityWarning {
				warn = is
			}
		}
		switch {
		case tc.errExpr == "" && firstErr != nil:
			t.Errorf("entry %d: unexpected error %v", tc.entry, firstErr)
		case tc.errExpr != "" && firstErr == nil:
			t.Errorf("entry %d: no error, want one at %s", tc.entry, tc.errExpr)
		case tc.errExpr != "" && (firstErr.Expression != tc.errExpr || firstErr.Code != tc.errCode || firstErr.Entry != tc.entry):
			t.Errorf("entry %d: error %+v, want %s at %s", tc.entry, *firstErr, tc.errCode, tc.errExpr)
		}
		if e.Rejected() != (tc.errExpr != "") {
			t.Errorf("entry %d: Rejected() = %v", tc.entry, e.Rejected())
		}
		if (tc.warn == "") != (warn == nil) || warn != nil && warn.Expression != tc.warn {
			t.Errorf("entry %d: warning %+v, want one at %q", tc.entry, warn, tc.warn)
		}
		if d := cmp.Diff(tc.reading, e.Reading); d != "" {
			t.Errorf("entry %d reading (-want +got):\n%s", tc.entry, d)
		}
		if len(e.Resource) == 0 && tc.entry != 8 || !json.Valid(e.Resource) && len(e.Resource) > 0 {
			t.Errorf("entry %d: resource not kept as received", tc.entry)
		}
	}
	if e := s.Entries[5]; !e.Skipped() {
		t.Error("entry 5 (dataAbsentReason) is not Skipped")
	}
	if e := s.Entries[2]; e.IfNoneExist == nil || *e.IfNoneExist != (Condition{"https://platform.example.org/readings", "r-2"}) {
		t.Errorf("entry 2 ifNoneExist = %+v", e.IfNoneExist)
	}
	if e := s.Entries[0]; e.FiscalCode != "RSSMRA85T10A562S" {
		t.Errorf("patient fiscal code %q (want it upper-cased)", e.FiscalCode)
	}
	for _, i := range []int{1, 2, 9, 16, 20} {
		if e := s.Entries[i]; e.Subject != "Patient/pat1" || e.SubjectEntry != 0 {
			t.Errorf("entry %d: subject %q → entry %d, want Patient/pat1 → 0", i, e.Subject, e.SubjectEntry)
		}
	}
	if e := s.Entries[9]; e.Code != CodeGMI || e.Period == nil || e.Period.End != "2024-05-14" {
		t.Errorf("summary entry: code %q, period %+v", e.Code, e.Period)
	}
	if e := s.Entries[16]; e.Code != CodeSummary {
		t.Errorf("report entry code %q", e.Code)
	}
	// Diagnostics never repeat glucose values or the fiscal code.
	for _, e := range s.Entries {
		for _, is := range e.Issues {
			if strings.Contains(is.Diagnostics, "2000") || strings.Contains(strings.ToUpper(is.Diagnostics), "RSSMRA") {
				t.Errorf("entry %d: diagnostics leak input data: %s", e.Index, is.Diagnostics)
			}
		}
	}
	if err := s.Err(); err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) < 12 {
		t.Errorf("Err() = %v", err)
	}
}

// TestParseSubmissionRefused covers the submissions refused whole.
func TestParseSubmissionRefused(t *testing.T) {
	deep := `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":[{"resource":{"resourceType":"Observation","extension":` +
		strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}}]}`
	many := `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":[` +
		strings.Repeat(`{},`, MaxSubmissionEntries) + `{}]}`
	for _, tc := range []struct {
		name, data, expr, code string
	}{
		{"not JSON", `{"resourceType":"Bundle",`, "Bundle", IssueStructure},
		{"an array", `[]`, "Bundle", IssueStructure},
		{"not a Bundle", `{"resourceType":"Observation"}`, "Bundle.resourceType", IssueInvalid},
		{"a batch", `{"resourceType":"Bundle","type":"batch","timestamp":"2024-05-02T14:30:00Z","entry":[{}]}`, "Bundle.type", IssueValue},
		{"no timestamp", `{"resourceType":"Bundle","type":"transaction","entry":[{}]}`, "Bundle.timestamp", IssueRequired},
		{"date-only timestamp", `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02","entry":[{}]}`, "Bundle.timestamp", IssueValue},
		{"no entries", `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z"}`, "Bundle.entry", IssueRequired},
		{"entry not an array", `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":{}}`, "Bundle.entry", IssueStructure},
		{"too deep", deep, "Bundle", IssueTooCostly},
		{"too many entries", many, "Bundle.entry", IssueTooCostly},
		{"a repeated member", `{"resourceType":"Bundle","type":"transaction","type":"batch","timestamp":"2024-05-02T14:30:00Z","entry":[{}]}`,
			"Bundle.type", IssueStructure},
		{"a repeated member deep in an entry", `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":[{},` +
			`{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/a","reference":"Patient/b"}}}]}`,
			"Bundle.entry[1].resource.subject.reference", IssueStructure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSubmissionBundle([]byte(tc.data))
			var is Issues
			if s != nil || !errors.As(err, &is) || len(is) != 1 {
				t.Fatalf("ParseSubmissionBundle = %v, %v; want a refusal", s, err)
			}
			if is[0].Expression != tc.expr || is[0].Code != tc.code || is[0].Severity != SeverityFatal {
				t.Errorf("issue %+v, want %s at %s", *is[0], tc.code, tc.expr)
			}
			if strings.HasPrefix(tc.name, "a repeated member") && !strings.Contains(is[0].Diagnostics, "/reference") && !strings.Contains(is[0].Diagnostics, "/type") {
				t.Errorf("diagnostics %q do not name the member's JSON pointer", is[0].Diagnostics)
			}
			oo := OperationOutcomeFor(err)
			if len(oo.Issue) != 1 || oo.Issue[0].Expression[0] != tc.expr {
				t.Errorf("OperationOutcome %+v", oo)
			}
		})
	}
}

// TestParseSubmissionIGExample reads the IG's own submission Bundle.
func TestParseSubmissionIGExample(t *testing.T) {
	s, err := ParseSubmissionBundle(readFile(t, "testdata/ig-examples/Bundle-cgmDataSubmissionBundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []EntryKind
	for _, e := range s.Entries {
		kinds = append(kinds, e.Kind)
		if len(e.Issues) > 0 {
			t.Errorf("entry %d: issues %v", e.Index, e.Issues)
		}
	}
	want := []EntryKind{EntryReport, EntrySummary, EntrySummary, EntrySummary, EntrySummary, EntrySummary, EntrySummary, EntrySummary, EntrySensorReading}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
	wantReading := &cgm.Reading{Time: time.Date(2024, 5, 2, 10, 15, 0, 0, time.UTC), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic}
	if d := cmp.Diff(wantReading, s.Entries[8].Reading); d != "" {
		t.Errorf("reading (-want +got):\n%s", d)
	}
}

// TestReadingsRoundTrip sends our own readings through the parser: what
// SensorReadings writes, ParseSubmissionBundle reads back unchanged (but
// the trend arrow, which FHIR readings do not carry).
func TestReadingsRoundTrip(t *testing.T) {
	rs := exampleReadings()
	rs = append(rs, cgm.Reading{Time: time.Date(2024, 5, 2, 12, 0, 0, 0, time.UTC), Value: 6.7, Unit: cgm.MmolL, Kind: cgm.Current, Device: "0M0008L4D1E"})
	b, err := ReadingsBundle(ReadingsInput{Base: testBase, Patient: examplePatient(), Devices: []DeviceInfo{exampleSensor()},
		Readings: rs, Type: BundleTransaction, Timestamp: time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSubmissionBundle(mustJSON(t, b))
	if err != nil {
		t.Fatal(err)
	}
	var got []cgm.Reading
	for _, e := range s.Entries {
		if len(e.Issues) > 0 {
			t.Errorf("entry %d: %v", e.Index, e.Issues)
		}
		if e.Reading != nil {
			got = append(got, *e.Reading)
		}
		if e.Kind == EntrySensorReading && (e.IfNoneExist == nil || !hasIdentifier(e.Identifiers, *e.IfNoneExist) || e.SubjectEntry != 0) {
			t.Errorf("entry %d: ifNoneExist %+v, subject entry %d", e.Index, e.IfNoneExist, e.SubjectEntry)
		}
	}
	var want []cgm.Reading
	for _, r := range rs {
		if r.Kind != cgm.Strip {
			r.Trend = 0
			want = append(want, r)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestPointerPath(t *testing.T) {
	for ptr, want := range map[string]string{
		"":                        "Bundle",
		"/type":                   "Bundle.type",
		"/entry/3/resource/code":  "Bundle.entry[3].resource.code",
		"/entry/0/resource/a~1b":  "Bundle.entry[0].resource.a/b",
		"/entry/10/request/url~0": "Bundle.entry[10].request.url~",
	} {
		if got := PointerPath("Bundle", ptr); got != want {
			t.Errorf("PointerPath(%q) = %q, want %q", ptr, got, want)
		}
	}
}

func TestParseIfNoneExist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *Condition
	}{
		{"identifier=https://client.example.org|123", &Condition{"https://client.example.org", "123"}},
		{"identifier=https%3A%2F%2Fclient.example.org%7C123", &Condition{"https://client.example.org", "123"}},
		{`identifier=urn:x|a\|b`, &Condition{"urn:x", "a|b"}},
		{"identifier=123", nil},
		{"identifier=|123", nil},
		{"identifier=a|1,a|2", nil},
		{"identifier=a|1&identifier=a|2", nil},
		{"patient=1", nil},
		{"", nil},
	} {
		got, err := parseIfNoneExist(tc.in)
		if d := cmp.Diff(tc.want, got); d != "" || (err == nil) != (tc.want != nil) {
			t.Errorf("parseIfNoneExist(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got != nil {
			back, err := parseIfNoneExist(got.String())
			if err != nil || *back != *got {
				t.Errorf("String() of %+v does not read back: %v", got, err)
			}
		}
	}
}

func TestOperationOutcomeFor(t *testing.T) {
	is := &Issue{Severity: SeverityError, Code: IssueValue, Entry: 3, Expression: "Bundle.entry[3].resource.valueQuantity.code", Diagnostics: "LOINC 99504-3 is in UCUM mg/dL"}
	got := OperationOutcomeFor(errors.Join(is, errors.New("disk full")), nil)
	want := OperationOutcome{Issue: []OperationOutcomeIssue{
		{Severity: "error", Code: "value", Diagnostics: "LOINC 99504-3 is in UCUM mg/dL", Expression: []string{"Bundle.entry[3].resource.valueQuantity.code"}},
		{Severity: "error", Code: "processing", Diagnostics: "disk full"},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("OperationOutcomeFor (-want +got):\n%s", d)
	}
	wrapped := OperationOutcomeFor(errorsWrap(is))
	if len(wrapped.Issue) != 1 || wrapped.Issue[0].Code != "value" {
		t.Errorf("wrapped issue lost: %+v", wrapped)
	}
	if ok := OperationOutcomeFor(); len(ok.Issue) != 1 || ok.Issue[0].Severity != "information" {
		t.Errorf("no errors: %+v", ok)
	}
}

func errorsWrap(err error) error { return &wrapErr{err} }

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "store: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

func TestResponseBundle(t *testing.T) {
	s, err := ParseSubmissionBundle(readFile(t, "testdata/submissions/mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	results := make([]EntryResult, len(s.Entries))
	for i, e := range s.Entries {
		switch {
		case e.Rejected():
			results[i] = EntryResult{Status: 400, Issues: e.Issues}
		case e.Skipped():
			results[i] = EntryResult{Status: 200, Issues: e.Issues}
		default:
			results[i] = EntryResult{Status: 201, Location: e.ResourceType + "/" + strings.Repeat("1", i+1) + "/_history/1",
				Etag: `W/"1"`, LastModified: time.Date(2024, 5, 15, 4, 0, 1, 0, time.UTC)}
		}
	}
	b := ResponseBundle(results)
	if b.Type != "transaction-response" || len(b.Entry) != len(s.Entries) {
		t.Fatalf("type %q, %d entries", b.Type, len(b.Entry))
	}
	if r := b.Entry[2].Response; r.Status != "201 Created" || r.Outcome != nil || r.LastModified != "2024-05-15T04:00:01Z" {
		t.Errorf("entry 2 response %+v", r)
	}
	r := b.Entry[4].Response
	if r.Status != "400 Bad Request" || r.Outcome == nil || r.Outcome.Issue[0].Expression[0] != "Bundle.entry[4].resource.valueQuantity.code" {
		t.Errorf("entry 4 response %+v", r)
	}
	if r := b.Entry[5].Response; r.Status != "200 OK" || r.Outcome.Issue[0].Severity != "warning" {
		t.Errorf("entry 5 response %+v", r)
	}
}

// FuzzParseSubmissionBundle checks that no input panics the parser, and
// that an accepted submission accounts for every entry.
func FuzzParseSubmissionBundle(f *testing.F) {
	for _, name := range []string{"testdata/submissions/mixed.json", "testdata/ig-examples/Bundle-cgmDataSubmissionBundle.json", "testdata/submissions/vitals.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":[{"resource":{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"99504-3"}]},"valueQuantity":{"value":1e999}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSubmissionBundle(data)
		if err != nil {
			var is Issues
			if !errors.As(err, &is) || len(is) == 0 {
				t.Fatalf("refusal is not Issues: %v", err)
			}
			return
		}
		if err := jsonscan.Scan(data, jsonscan.Options{}); err != nil {
			t.Fatalf("accepted a submission with %v", err)
		}
		for i, e := range s.Entries {
			if e.Index != i {
				t.Fatalf("entry %d has index %d", i, e.Index)
			}
			if e.Reading != nil && (e.Rejected() || e.Reading.Validate(time.Time{}) != nil) {
				t.Fatalf("entry %d: a reading from a rejected entry or an invalid reading", i)
			}
			if e.Vital != nil && (e.Rejected() || e.Vital.Measurement(time.UTC, "fuzz").Validate(time.Time{}) != nil) {
				t.Fatalf("entry %d: a measurement from a rejected entry or an invalid measurement", i)
			}
		}
	})
}
