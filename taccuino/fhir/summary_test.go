package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/agp"
)

// observations returns the Observations of a bundle by first code.
func observations(t *testing.T, b Bundle) map[string]*Observation {
	t.Helper()
	out := map[string]*Observation{}
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*Observation); ok {
			c := o.Code.Coding[0].Code
			if out[c] != nil {
				t.Fatalf("two Observations with code %s", c)
			}
			out[c] = o
		}
	}
	return out
}

func TestSummaryBundle(t *testing.T) {
	in := summaryInput(t, BundleCollection)
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	if b.Type != BundleCollection || b.Timestamp != "2024-06-01T08:00:00Z" {
		t.Errorf("type, timestamp = %q, %q", b.Type, b.Timestamp)
	}
	var types []string
	fullURLs := map[string]bool{}
	for _, e := range b.Entry {
		types = append(types, e.Resource.ResourceType())
		if fullURLs[e.FullURL] {
			t.Errorf("fullUrl %s twice", e.FullURL)
		}
		fullURLs[e.FullURL] = true
		if e.Request != nil || e.Search != nil {
			t.Errorf("collection entry %s has request or search", e.FullURL)
		}
	}
	want := []string{"Patient", "Device"}
	for range 1 + 7 + 1 + 8 + 1 + 1 { // panel, members, tight, episodes, scans, GRI
		want = append(want, "Observation")
	}
	if d := cmp.Diff(want, types); d != "" {
		t.Errorf("entry types (-want +got):\n%s", d)
	}

	obs := observations(t, b)
	wantProfile := map[string]string{
		CodeSummary: ProfileSummary, CodeMeanGlucoseMass: ProfileMeanGlucoseMass, CodeMeanGlucoseMolar: ProfileMeanGlucoseMolar,
		CodeTimesInRanges: ProfileTimesInRanges, CodeGMI: ProfileGMI, CodeCV: ProfileCV,
		CodeDaysOfWear: ProfileDaysOfWear, CodeSensorActive: ProfileSensorActive,
	}
	method := MethodText(in.Report)
	idents := map[string]bool{}
	for code, o := range obs {
		sys := o.Code.Coding[0].System
		if p, ok := wantProfile[code]; ok {
			if sys != LOINC || o.Meta == nil || !slices.Equal(o.Meta.Profile, []string{p}) {
				t.Errorf("%s: system %s, meta %+v; want LOINC and profile %s", code, sys, o.Meta, p)
			}
		} else if sys != LocalCodeSystem || o.Meta != nil {
			t.Errorf("%s: system %s, meta %+v; want the local code system and no profile", code, sys, o.Meta)
		}
		if d := cmp.Diff(&Period{Start: "2024-05-01", End: "2024-05-31"}, o.EffectivePeriod); d != "" {
			t.Errorf("%s effectivePeriod (-want +got):\n%s", code, d)
		}
		if o.Subject.Reference != "Patient/patientExample" || o.Status != "final" || o.Method.Text != method {
			t.Errorf("%s: subject %q, status %q, method %q", code, o.Subject.Reference, o.Status, o.Method.Text)
		}
		if o.Device == nil || !fullURLs[testBase+"/"+o.Device.Reference] {
			t.Errorf("%s: device %+v does not resolve in the bundle", code, o.Device)
		}
		if len(o.Identifier) != 1 || o.Identifier[0].System != testBase+"/identifier/observation" || idents[o.Identifier[0].Value] {
			t.Errorf("%s: identifier %+v (missing, wrong system or repeated)", code, o.Identifier)
		}
		idents[o.Identifier[0].Value] = true
		if !strings.HasPrefix(o.Identifier[0].Value, o.ID) {
			t.Errorf("%s: id %s is not derived from identifier %s", code, o.ID, o.Identifier[0].Value)
		}
	}

	// The panel's members resolve in the bundle, to the seven IG members.
	var members []string
	for _, m := range obs[CodeSummary].HasMember {
		if !fullURLs[testBase+"/"+m.Reference] {
			t.Errorf("hasMember %s does not resolve", m.Reference)
		}
		for c, o := range obs {
			if "Observation/"+o.ID == m.Reference {
				members = append(members, c)
			}
		}
	}
	wantMembers := []string{CodeMeanGlucoseMass, CodeMeanGlucoseMolar, CodeTimesInRanges, CodeGMI, CodeCV, CodeDaysOfWear, CodeSensorActive}
	if d := cmp.Diff(wantMembers, members); d != "" {
		t.Errorf("hasMember codes (-want +got):\n%s", d)
	}
	if obs[CodeSummary].ValueQuantity != nil {
		t.Error("the panel has a value")
	}

	// Values, units and components.
	for _, tc := range []struct {
		code string
		want *Quantity
	}{
		{CodeMeanGlucoseMass, &Quantity{Value: "145", Unit: "mg/dl", System: UCUM, Code: "mg/dL"}},
		{CodeMeanGlucoseMolar, &Quantity{Value: "8.1", Unit: "mmol/l", System: UCUM, Code: "mmol/L"}},
		{CodeGMI, &Quantity{Value: "6.80", Unit: "%", System: UCUM, Code: "%"}},
		{CodeCV, &Quantity{Value: "34.00", Unit: "%", System: UCUM, Code: "%"}},
		{CodeDaysOfWear, &Quantity{Value: "28", Unit: "days", System: UCUM, Code: "d"}},
		{CodeSensorActive, &Quantity{Value: "95.00", Unit: "%", System: UCUM, Code: "%"}},
		{LocalTimeInTightRange, &Quantity{Value: "41.25", Unit: "%", System: UCUM, Code: "%"}},
		{LocalScanCount, &Quantity{Value: "57", Unit: "scans", System: UCUM, Code: "{scans}"}},
		{LocalHypoLevel1Episodes, &Quantity{Value: "12", Unit: "episodes", System: UCUM, Code: "{episodes}"}},
	} {
		if d := cmp.Diff(tc.want, obs[tc.code].ValueQuantity); d != "" {
			t.Errorf("%s value (-want +got):\n%s", tc.code, d)
		}
	}
	var tir []string
	for _, c := range obs[CodeTimesInRanges].Component {
		tir = append(tir, c.Code.Coding[0].Code+"="+string(c.ValueQuantity.Value)+c.ValueQuantity.Code)
	}
	if d := cmp.Diff([]string{"104642-4=3.00%", "104641-6=8.00%", "97510-2=65.00%", "104640-8=20.00%", "104639-0=4.00%"}, tir); d != "" {
		t.Errorf("times in ranges (-want +got):\n%s", d)
	}
	var ep []string
	for _, c := range obs[LocalHypoLevel1Episodes].Component {
		ep = append(ep, c.Code.Coding[0].Code+"="+string(c.ValueQuantity.Value)+c.ValueQuantity.Code)
	}
	if d := cmp.Diff([]string{"episodes-per-day=0.4285714285714286{episodes}/d", "mean-episode-duration=47.5min", "mean-episode-glucose=61.2mg/dL"}, ep); d != "" {
		t.Errorf("episode components (-want +got):\n%s", d)
	}
	// No episode: the rate is 0, duration and glucose have no value and are left out.
	if c := obs[LocalHypoExtendedEpisodes].Component; len(c) != 1 || c[0].ValueQuantity.Value != "0" {
		t.Errorf("extended hypo without episodes: components %+v", c)
	}
}

func TestSummaryBundleDeterministic(t *testing.T) {
	in := summaryInput(t, BundleTransaction)
	a, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustJSON(t, a), mustJSON(t, b)) {
		t.Fatal("two runs on the same input differ")
	}
	// Another period or patient changes every identifier; the figures do not.
	in2 := in
	in2.Report.MeanGlucose = &agp.Glucose{MgDL: 150, MmolL: 8.3}
	c, err := SummaryBundle(in2)
	if err != nil {
		t.Fatal(err)
	}
	if ids(t, a) != ids(t, c) {
		t.Error("identifiers depend on the figures: a corrected figure would not replace the one sent")
	}
	in3 := in
	in3.Period = DateRange{Start: "2024-05-01", End: "2024-05-30"}
	in4 := in
	in4.Patient.ID = "other"
	for _, other := range []SummaryInput{in3, in4} {
		d, err := SummaryBundle(other)
		if err != nil {
			t.Fatal(err)
		}
		if ids(t, a) == ids(t, d) {
			t.Error("identifiers do not depend on the period or the patient")
		}
	}
}

// ids returns the Observation identifiers of a bundle, joined.
func ids(t *testing.T, b Bundle) string {
	var s []string
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*Observation); ok {
			s = append(s, o.Identifier[0].Value)
		}
	}
	return strings.Join(s, ",")
}

func TestSummaryBundleTransaction(t *testing.T) {
	in := summaryInput(t, BundleTransaction)
	in.PDF = examplePDF
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		r := e.Request
		if r == nil || r.Method != "POST" || r.URL != e.Resource.ResourceType() {
			t.Fatalf("entry %s: request %+v", e.FullURL, r)
		}
		switch v := e.Resource.(type) {
		case *Patient:
			if r.IfNoneExist != "identifier=http://hl7.it/sid/codiceFiscale|RSSMRA85T10A562S" {
				t.Errorf("patient ifNoneExist %q", r.IfNoneExist)
			}
		case *Observation:
			if r.IfNoneExist != "identifier="+v.Identifier[0].System+"|"+v.Identifier[0].Value {
				t.Errorf("observation ifNoneExist %q", r.IfNoneExist)
			}
		case *DiagnosticReport:
			if len(v.Result) != 1 || v.Result[0].Reference != "Observation/"+observations(t, b)[CodeSummary].ID {
				t.Errorf("report result %+v", v.Result)
			}
			if !bytes.Equal(v.PresentedForm[0].Data, examplePDF) || v.PresentedForm[0].ContentType != "application/pdf" {
				t.Errorf("report presentedForm %+v", v.PresentedForm[0])
			}
		}
		if r.IfNoneExist == "" {
			t.Errorf("entry %s has no ifNoneExist", e.FullURL)
		}
	}
	in.Timestamp = time.Time{}
	if _, err := SummaryBundle(in); err == nil || !strings.Contains(err.Error(), "timestamp") {
		t.Errorf("transaction without timestamp: err = %v", err)
	}
}

func TestSummaryBundleSearchset(t *testing.T) {
	in := summaryInput(t, BundleSearchset)
	in.Devices = append(in.Devices, DeviceInfo{Serial: "0M0008L4D2F", Manufacturer: "Abbott", Model: "FreeStyle Libre 3"})
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	matches := 0
	for _, e := range b.Entry {
		want := "match"
		switch v := e.Resource.(type) {
		case *Patient, *Device:
			want = "include"
		case *Observation:
			matches++
			if v.Device != nil {
				t.Errorf("with two sensors, %s names device %s", v.Code.Coding[0].Code, v.Device.Reference)
			}
		}
		if e.Search == nil || e.Search.Mode != want {
			t.Errorf("%s: search %+v, want mode %s", e.FullURL, e.Search, want)
		}
	}
	if b.Total == nil || *b.Total != matches {
		t.Errorf("total = %v, want %d", b.Total, matches)
	}
}

func TestSummaryIGOnly(t *testing.T) {
	in := summaryInput(t, BundleCollection)
	in.IGOnly = true
	obs, err := SummaryObservations(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 8 {
		t.Errorf("%d Observations, want the panel and its 7 members", len(obs))
	}
	for _, o := range obs {
		if o.Code.Coding[0].System != LOINC {
			t.Errorf("IGOnly emits %s|%s", o.Code.Coding[0].System, o.Code.Coding[0].Code)
		}
	}
}

func TestSummaryPrecision(t *testing.T) {
	in := summaryInput(t, BundleCollection)
	in.Report.TimeInRanges = &agp.Ranges{VeryLow: 0.7440476190476191, Low: 3.7202380952380953, Target: 71.38888888888889,
		High: 19.04761904761905, VeryHigh: 5.1, Tight: 40}
	mean := 151.23456789012346 // a variable: a constant expression would be exact
	in.Report.MeanGlucose = &agp.Glucose{MgDL: mean, MmolL: mean / 18.01559}
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	out := string(mustJSON(t, b))
	for _, want := range []string{
		`"value":0.7440476190476191,`, `"value":71.38888888888889,`, `"value":5.10,`, `"value":40.00,`,
		`"value":151.23456789012346,`, `"value":8.394649738927422,`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
}

func TestSummaryNoData(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*agp.Report)
	}{
		{"no readings", func(r *agp.Report) {
			r.MeanGlucose, r.SDMgDL, r.CVPercent, r.GMI, r.TimeInRanges, r.Readings = nil, nil, nil, nil, nil, 0
		}},
		{"one reading", func(r *agp.Report) { r.SDMgDL, r.CVPercent, r.Readings = nil, nil, 1 }},
		{"automatic period without readings", func(r *agp.Report) { r.Period = agp.PeriodInfo{Automatic: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := summaryInput(t, BundleCollection)
			tc.edit(&in.Report)
			if _, err := SummaryBundle(in); !errors.Is(err, ErrNoSummary) {
				t.Errorf("SummaryBundle: err = %v, want ErrNoSummary", err)
			}
		})
	}
}

func TestSummaryInputErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*SummaryInput)
		want string
	}{
		{"bad base", func(in *SummaryInput) { in.Base = "fsecgm.example/fhir" }, "base URL"},
		{"base with query", func(in *SummaryInput) { in.Base = "https://x.example/fhir?a=b" }, "base URL"},
		{"bad patient id", func(in *SummaryInput) { in.Patient.ID = "a/b" }, "not a FHIR id"},
		{"bad fiscal code", func(in *SummaryInput) { in.Patient.FiscalCode = "RSSMRA85T10A562" }, "codice fiscale"},
		{"bad serial", func(in *SummaryInput) { in.Devices[0].Serial = "a|b" }, "serial"},
		{"bad type", func(in *SummaryInput) { in.Type = "document" }, "bundle type"},
		{"period reversed", func(in *SummaryInput) { in.Period = DateRange{Start: "2024-05-31", End: "2024-05-01"} }, "before it starts"},
		{"period format", func(in *SummaryInput) { in.Period = DateRange{Start: "2024-5-1", End: "2024-05-31"} }, "YYYY-MM-DD"},
		{"not a PDF", func(in *SummaryInput) { in.PDF = []byte("<html>") }, "not a PDF"},
		{"NaN", func(in *SummaryInput) { v := 0.0; v = v / v; in.Report.CVPercent = &v }, "CV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := summaryInput(t, BundleCollection)
			tc.edit(&in)
			_, err := SummaryBundle(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "RSSMRA85T10A562") {
				t.Errorf("the error repeats the codice fiscale: %v", err)
			}
		})
	}
}

func TestPeriodOf(t *testing.T) {
	loc := rome(t)
	ny := time.FixedZone("-05:00", -5*3600)
	for _, tc := range []struct {
		name string
		tz   string
		p    agp.PeriodInfo
		want DateRange
	}{
		{"given 14 days, end exclusive at midnight", "Europe/Rome",
			agp.PeriodInfo{Start: time.Date(2024, 5, 1, 0, 0, 0, 0, loc), End: time.Date(2024, 5, 15, 0, 0, 0, 0, loc)},
			DateRange{"2024-05-01", "2024-05-14"}},
		{"given, in UTC instants", "Europe/Rome",
			agp.PeriodInfo{Start: time.Date(2024, 4, 30, 22, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 14, 22, 0, 0, 0, time.UTC)},
			DateRange{"2024-05-01", "2024-05-14"}},
		{"given, ending mid-day", "Europe/Rome",
			agp.PeriodInfo{Start: time.Date(2024, 5, 1, 0, 0, 0, 0, loc), End: time.Date(2024, 5, 14, 12, 0, 0, 0, loc)},
			DateRange{"2024-05-01", "2024-05-14"}},
		{"given over the spring DST change", "Europe/Rome",
			agp.PeriodInfo{Start: time.Date(2026, 3, 29, 0, 0, 0, 0, loc), End: time.Date(2026, 3, 30, 0, 0, 0, 0, loc)},
			DateRange{"2026-03-29", "2026-03-29"}},
		{"automatic: local dates of first and last reading", "Europe/Rome",
			agp.PeriodInfo{Automatic: true, Start: time.Date(2024, 4, 30, 22, 30, 0, 0, time.UTC), End: time.Date(2024, 5, 14, 21, 45, 0, 0, time.UTC)},
			DateRange{"2024-05-01", "2024-05-14"}},
		{"automatic, last reading at local midnight", "Europe/Rome",
			agp.PeriodInfo{Automatic: true, Start: time.Date(2024, 5, 1, 8, 0, 0, 0, loc), End: time.Date(2024, 5, 15, 0, 0, 0, 0, loc)},
			DateRange{"2024-05-01", "2024-05-15"}},
		{"fixed offset", "-05:00",
			agp.PeriodInfo{Automatic: true, Start: time.Date(2020, 1, 1, 2, 0, 0, 0, time.UTC), End: time.Date(2020, 1, 3, 4, 59, 0, 0, time.UTC)},
			DateRange{"2019-12-31", "2020-01-02"}},
		{"no zone: Europe/Rome", "",
			agp.PeriodInfo{Automatic: true, Start: time.Date(2024, 4, 30, 23, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 1, 0, 0, 0, ny)},
			DateRange{"2024-05-01", "2024-05-01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PeriodOf(agp.Report{TimeZone: tc.tz, Period: tc.p})
			if err != nil || got != tc.want {
				t.Errorf("PeriodOf = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := PeriodOf(agp.Report{TimeZone: "Mars/Olympus", Period: agp.PeriodInfo{Start: time.Now(), End: time.Now()}}); err == nil {
		t.Error("unknown zone: no error")
	}
}

func TestMethodText(t *testing.T) {
	r := exampleReport(t)
	if got, want := MethodText(r), agp.Version+"; sufficient data: yes (31 days, 95% active)"; got != want {
		t.Errorf("MethodText = %q, want %q", got, want)
	}
	r.Sufficient, r.Period.Days, r.ActivePercent, r.Engine = false, 10.5, 69.96527777777777, ""
	if got, want := MethodText(r), agp.Version+"; sufficient data: no (10.5 days, 69.96527777777777% active)"; got != want {
		t.Errorf("MethodText = %q, want %q", got, want)
	}
	// The sources of the readings, and a second sensor's left out.
	r.Sources, r.OtherSeries = []string{"librelinkup", "nightscout"}, 96
	if got, want := MethodText(r), agp.Version+"; sufficient data: no (10.5 days, 69.96527777777777% active); readings from: librelinkup, nightscout; 96 readings of a second sensor left out"; got != want {
		t.Errorf("MethodText = %q, want %q", got, want)
	}
}

func TestLocalCodes(t *testing.T) {
	cs := LocalCodes()
	if cs.URL != LocalCodeSystem || cs.ID != LocalCodeSystemID || cs.Content != "complete" || *cs.Count != len(cs.Concept) {
		t.Errorf("code system header %+v", cs)
	}
	seen := map[string]bool{}
	for _, c := range cs.Concept {
		if seen[c.Code] || c.Display == "" || len(c.Definition) < 80 || strings.Contains(c.Definition, "%!") {
			t.Errorf("concept %q: repeated, or without display or a real definition", c.Code)
		}
		seen[c.Code] = true
	}
	// Every local code the mapping writes is defined.
	in := summaryInput(t, BundleCollection)
	b, err := SummaryBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ReadingsBundle(ReadingsInput{Base: testBase, Patient: examplePatient(), Readings: exampleReadings(), Type: BundleCollection})
	if err != nil {
		t.Fatal(err)
	}
	for _, bb := range []Bundle{b, rb} {
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if x["system"] == LocalCodeSystem && !seen[x["code"].(string)] {
					t.Errorf("code %v is written but not defined", x["code"])
				}
				for _, y := range x {
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		var tree any
		if err := json.Unmarshal(mustJSON(t, bb), &tree); err != nil {
			t.Fatal(err)
		}
		walk(tree)
	}
}

// TestSummaryGRI: the Glycemia Risk Index travels as a local-code
// Observation with its two components and its zone, equal to the report's;
// never with a LOINC code, and not in an IG-only summary.
func TestSummaryGRI(t *testing.T) {
	in := summaryInput(t, BundleCollection)
	g := in.Report.GRI
	if g == nil {
		t.Fatal("the example report has no GRI")
	}
	obs, err := SummaryObservations(in)
	if err != nil {
		t.Fatal(err)
	}
	var gri *Observation
	for _, o := range obs {
		if o.Code.Coding[0].Code == LocalGRI {
			gri = o
		}
	}
	if gri == nil {
		t.Fatal("no GRI Observation")
	}
	if c := gri.Code.Coding[0]; c.System != LocalCodeSystem || gri.Meta != nil {
		t.Errorf("GRI coded %+v, meta %+v; want the local code system and no IG profile", c, gri.Meta)
	}
	num := func(d Decimal) float64 {
		v, err := strconv.ParseFloat(string(d), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if num(gri.ValueQuantity.Value) != g.Value || gri.ValueQuantity.Code != "{score}" {
		t.Errorf("GRI value %+v, want %v {score}", gri.ValueQuantity, g.Value)
	}
	if len(gri.Component) != 3 || num(gri.Component[0].ValueQuantity.Value) != g.Hypo ||
		num(gri.Component[1].ValueQuantity.Value) != g.Hyper ||
		gri.Component[2].ValueCodeableConcept.Coding[0].Code != "gri-zone-"+strings.ToLower(g.Zone) {
		t.Errorf("GRI components %+v, want %+v", gri.Component, g)
	}
	in.IGOnly = true
	obs, _ = SummaryObservations(in)
	for _, o := range obs {
		if o.Code.Coding[0].Code == LocalGRI {
			t.Error("GRI in an IG-only summary")
		}
	}
}
