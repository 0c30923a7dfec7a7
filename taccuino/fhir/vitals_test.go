package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/vitals"
)

func fp(v float64) *float64 { return &v }

// exampleDays are two days of a patient's devices: 28 and 29 March 2026
// (the clocks go forward on the 29th in Europe/Rome).
func exampleDays() []vitals.Day {
	return []vitals.Day{
		{Date: "2026-03-28", Steps: fp(8123.5), DistanceM: fp(5901.25), ActiveKcal: fp(412.0625),
			HeartRate: &vitals.HeartRateDay{Min: fp(51), Mean: fp(72.33333333333333), Max: fp(131), Resting: fp(56)}, HeartRateSamples: 288,
			BloodPressure: []vitals.Pressure{{Time: "2026-03-28T08:15:00+01:00", Systolic: 128, Diastolic: 82}}},
		{Date: "2026-03-29", Steps: fp(4300), SleepMinutes: fp(300),
			SleepStages:   &vitals.SleepStages{Awake: 10, Light: 180, Deep: 60, REM: 60, InBed: 345},
			BloodPressure: []vitals.Pressure{{Time: "2026-03-29T08:15:00+02:00", Systolic: 132, Diastolic: 84}, {Time: "2026-03-29T21:00:00+02:00", Systolic: 121, Diastolic: 79}}},
	}
}

func vitalsInput(typ string) VitalsInput {
	return VitalsInput{Base: testBase, Patient: examplePatient(), Days: exampleDays(), Type: typ,
		Timestamp: time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC), Issued: time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC)}
}

func TestVitalsObservations(t *testing.T) {
	obs, err := VitalsObservations(vitalsInput(""))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		code, when, value string
	}
	var got []row
	for _, o := range obs {
		when := o.EffectiveDateTime
		if o.EffectivePeriod != nil {
			when = o.EffectivePeriod.Start + ".." + o.EffectivePeriod.End
		}
		v := ""
		if o.ValueQuantity != nil {
			v = string(o.ValueQuantity.Value) + " " + o.ValueQuantity.Code
		}
		for _, c := range o.Component {
			v += " " + c.Code.Coding[0].Code + "=" + string(c.ValueQuantity.Value)
		}
		got = append(got, row{o.Code.Coding[0].Code, when, v})
	}
	want := []row{
		{CodeStepsPerDay, "2026-03-28", "8123.5 /d"},
		{LocalDistanceDay, "2026-03-28", "5901.25 m"},
		{LocalActiveEnergyDay, "2026-03-28", "412.0625 kcal"},
		{CodeHeartRate, "2026-03-28", "72.33333333333333 /min"},
		{CodeHeartRateMax24h, "2026-03-28", "131 /min"},
		{LocalHeartRateMinDay, "2026-03-28", "51 /min"},
		{CodeRestingHeartRate, "2026-03-28", "56 /min"},
		{CodeBloodPressure, "2026-03-28T08:15:00+01:00", " 8480-6=128 8462-4=82"},
		{CodeStepsPerDay, "2026-03-29", "4300 /d"},
		{CodeSleepDuration, "2026-03-29", "300 min 93830-8=180 93831-6=60 93829-0=60 sleep-awake-duration=10 sleep-unstaged-duration=0 sleep-in-bed-duration=345"},
		{CodeBloodPressure, "2026-03-29T08:15:00+02:00", " 8480-6=132 8462-4=84"},
		{CodeBloodPressure, "2026-03-29T21:00:00+02:00", " 8480-6=121 8462-4=79"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d Observations, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Observation %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Vital-signs profiles and categories.
	for _, o := range obs {
		cat := o.Category[0].Coding[0].Code
		switch o.Code.Coding[0].Code {
		case CodeHeartRate:
			if o.Meta == nil || o.Meta.Profile[0] != ProfileHeartRate || cat != "vital-signs" {
				t.Errorf("heart rate: %+v %s", o.Meta, cat)
			}
		case CodeBloodPressure:
			if o.Meta == nil || o.Meta.Profile[0] != ProfileBloodPressure || cat != "vital-signs" {
				t.Errorf("blood pressure: %+v %s", o.Meta, cat)
			}
		case CodeStepsPerDay, CodeSleepDuration:
			if cat != "activity" {
				t.Errorf("%s: category %s", o.Code.Coding[0].Code, cat)
			}
		}
	}
	// The same days give the same identifiers; another day another.
	again, _ := VitalsObservations(vitalsInput(""))
	if again[0].Identifier[0].Value != obs[0].Identifier[0].Value || obs[0].Identifier[0].Value == obs[8].Identifier[0].Value {
		t.Error("identifiers are not a function of patient, code and day")
	}
	// IG only: no local code.
	in := vitalsInput("")
	in.IGOnly = true
	ig, err := VitalsObservations(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ig {
		if o.Code.Coding[0].System != LOINC {
			t.Errorf("IG-only has %s", o.Code.Coding[0].Code)
		}
		for _, c := range o.Component {
			if c.Code.Coding[0].System != LOINC {
				t.Errorf("IG-only component %s", c.Code.Coding[0].Code)
			}
		}
	}
	if len(ig) != len(obs)-3 {
		t.Errorf("IG-only: %d Observations, want %d", len(ig), len(obs)-3)
	}
}

// TestVitalsR4Google validates the vitals Bundles with github.com/google/fhir/go.
func TestVitalsR4Google(t *testing.T) {
	u := r4(t)
	for _, typ := range []string{BundleTransaction, BundleCollection} {
		b, err := VitalsBundle(vitalsInput(typ))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Unmarshal(mustJSON(t, b)); err != nil {
			t.Errorf("%s: not valid R4: %v", typ, err)
		}
	}
}

// TestVitalSignsProfilesNode checks the vitals Bundle with the project's
// node validator (base R4) and then, with @medplum/core on the R4 core
// package's Vital Signs profiles (which that tool does not load), every
// Observation against the profiles it claims (heartrate, bp) and, for
// category vital-signs, the base vitalsigns profile; a broken heart rate
// (unit code "bpm") must be the only failure.
func TestVitalSignsProfilesNode(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the Vital Signs profile validation (node) did not run")
	}
	toolDir, igDir := nodeValidator(t)
	b, err := VitalsBundle(vitalsInput(BundleTransaction))
	if err != nil {
		t.Fatal(err)
	}
	code, rep := runNode(t, toolDir, igDir, nil, map[string][]byte{"vitals": mustJSON(t, b)})
	if code != 0 || !rep.Valid {
		logFailures(t, rep, "")
		t.Fatalf("base R4: validate.mjs exit status %d, want 0", code)
	}

	script := readFile(t, "testdata/vitalsigns/validate-vitalsigns.mjs")
	if err := os.WriteFile(filepath.Join(toolDir, "fsecgm-validate-vitalsigns.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(files map[string][]byte) (int, string) {
		dir := t.TempDir()
		args := []string{"fsecgm-validate-vitalsigns.mjs"}
		for name, data := range files {
			p := filepath.Join(dir, name+".json")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, p)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", args...)
		cmd.Dir = toolDir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), out.String()
		case err != nil:
			t.Fatalf("node: %v\n%s", err, out.String())
		}
		return 0, out.String()
	}
	code, out := run(map[string][]byte{"vitals": mustJSON(t, b)})
	if code != 0 {
		t.Fatalf("Vital Signs profiles: exit %d\n%s", code, out)
	}
	// 1 heart rate (heartrate + vitalsigns), 3 blood pressures (bp +
	// vitalsigns), the maximum, minimum and resting heart rates
	// (vitalsigns): 11 checks.
	if !strings.Contains(out, "11 profile checks, 0 errors") {
		t.Errorf("unexpected count:\n%s", out)
	}
	// Broken controls: a heart rate in "bpm" (the heartrate profile fixes
	// /min), a blood pressure without its diastolic component, a heart rate
	// without subject.
	var hr, bp, nosubject map[string]any
	for _, e := range b.Entry {
		o, ok := e.Resource.(*Observation)
		if !ok {
			continue
		}
		switch o.Code.Coding[0].Code {
		case CodeHeartRate:
			broken := *o
			broken.ValueQuantity = &Quantity{Value: o.ValueQuantity.Value, Unit: "bpm", System: UCUM, Code: "bpm"}
			json.Unmarshal(mustJSON(t, broken), &hr)
			broken = *o
			broken.Subject = nil
			json.Unmarshal(mustJSON(t, broken), &nosubject)
		case CodeBloodPressure:
			broken := *o
			broken.Component = o.Component[:1]
			json.Unmarshal(mustJSON(t, broken), &bp)
		}
	}
	for name, r := range map[string]map[string]any{"unit": hr, "diastolic": bp, "subject": nosubject} {
		code, out = run(map[string][]byte{"broken-" + name: mustJSON(t, r)})
		if code != 1 || !strings.Contains(out, "ERROR") {
			t.Errorf("the broken control (%s) passed (is the validator checking the profile?):\n%s", name, out)
		}
	}
}

// TestParseVitalsSubmission reads testdata/submissions/vitals.json: each
// measurement Observation becomes its measurement, dates in the patient's
// zone.
func TestParseVitalsSubmission(t *testing.T) {
	s, err := ParseSubmissionBundle(readFile(t, "testdata/submissions/vitals.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("rejected entries: %v", err)
	}
	loc := rome(t)
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc).UTC() }
	want := []vitals.Measurement{
		{Kind: vitals.HeartRate, Start: at(29, 9, 0).Add(10 * time.Second), End: at(29, 9, 0).Add(10 * time.Second), Value: 72, Source: "Apple Watch di Mario"},
		{Kind: vitals.BloodPressure, Start: at(29, 8, 15), End: at(29, 8, 15), Value: 132, Value2: 84, Source: "OMRON M7 Intelli IT"},
		{Kind: vitals.Steps, Start: at(28, 0, 0), End: at(29, 0, 0), Value: 7267, Source: "submitter"},
		{Kind: vitals.Steps, Start: at(29, 9, 0), End: at(29, 10, 0), Value: 3000, Source: "Apple Watch di Mario"},
		{Kind: vitals.ActiveEnergy, Start: at(29, 9, 0), End: at(29, 10, 0), Value: 180.5, Source: "Apple Watch di Mario"},
		{Kind: vitals.SleepREM, Start: at(29, 4, 30), End: at(29, 5, 15), Value: 45, Source: "Apple Watch di Mario"},
		{Kind: vitals.RestingHeartRate, Start: at(29, 0, 0), End: at(29, 0, 0), Value: 58, Source: "Apple Watch di Mario"},
	}
	var got []vitals.Measurement
	for _, e := range s.Entries {
		if e.Kind == EntryMeasurement {
			got = append(got, e.Vital.Measurement(loc, "submitter"))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d measurements, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || got[i].Kind != want[i].Kind ||
			got[i].Value != want[i].Value || got[i].Value2 != want[i].Value2 || got[i].Source != want[i].Source {
			t.Errorf("measurement %d: %+v\nwant %+v", i, got[i], want[i])
		}
		if err := got[i].Validate(time.Time{}); err != nil {
			t.Errorf("measurement %d: %v", i, err)
		}
	}
	// The day of 28 March has 24 hours; a date on 29 March (23 hours)
	// would give 23.
	d := got[2].End.Sub(got[2].Start)
	if d != 24*time.Hour {
		t.Errorf("28 March: %v", d)
	}
}

// TestParseVitalsSubmissionErrors: each broken measurement is refused
// with the element named.
func TestParseVitalsSubmissionErrors(t *testing.T) {
	good := readFile(t, "testdata/submissions/vitals.json")
	for _, tc := range []struct {
		name, old, new, expr string
	}{
		{"heart rate unit", `"code": "/min"},
     "device": {"reference": "urn:uuid:5a9e3f0c-6a41-4d7b-9d7e-7c3b0f1a2b02"}},
   "request": {"method": "POST", "url": "Observation"}
  },
  {
   "fullUrl": "urn:uuid:5a9e3f0c-6a41-4d7b-9d7e-7c3b0f1a2b04"`, `"code": "bpm"},
     "device": {"reference": "urn:uuid:5a9e3f0c-6a41-4d7b-9d7e-7c3b0f1a2b02"}},
   "request": {"method": "POST", "url": "Observation"}
  },
  {
   "fullUrl": "urn:uuid:5a9e3f0c-6a41-4d7b-9d7e-7c3b0f1a2b04"`, "Bundle.entry[2].resource.valueQuantity.code"},
		{"heart rate impossible", `"value": 72,`, `"value": 720,`, "Bundle.entry[2].resource.valueQuantity"},
		{"no diastolic", `{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"`, `{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-9"`, "Bundle.entry[3].resource.component"},
		{"diastolic above systolic", `"value": 84,`, `"value": 184,`, "Bundle.entry[3].resource.valueQuantity"},
		{"interval without period", `"effectivePeriod": {"start": "2026-03-29T09:00:00+02:00", "end": "2026-03-29T10:00:00+02:00"},
     "valueQuantity": {"value": 3000`, `"effectiveDateTime": "2026-03-29T09:00:00+02:00",
     "valueQuantity": {"value": 3000`, "Bundle.entry[5].resource.effectiveDateTime"},
		{"sleep value", `"value": 45,`, `"value": 300,`, "Bundle.entry[7].resource.valueQuantity.value"},
		{"no offset", `"effectiveDateTime": "2026-03-29T09:00:10+02:00"`, `"effectiveDateTime": "2026-03-29T09:00:10"`, "Bundle.entry[2].resource.effectiveDateTime"},
		{"no subject", `"subject": {"reference": "urn:uuid:5a9e3f0c-6a41-4d7b-9d7e-7c3b0f1a2b01"},
     "effectiveDateTime": "2026-03-28",`, `"effectiveDateTime": "2026-03-28",`, "Bundle.entry[4].resource.subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(string(good), tc.old, tc.new, 1)
			if data == string(good) {
				t.Fatal("the test did not change the bundle")
			}
			s, err := ParseSubmissionBundle([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			var exprs []string
			for _, e := range s.Entries {
				for _, is := range e.Issues {
					if is.IsError() {
						exprs = append(exprs, is.Expression)
					}
				}
			}
			if len(exprs) == 0 || exprs[0] != tc.expr {
				t.Errorf("errors at %v, want %s", exprs, tc.expr)
			}
		})
	}
}

// TestVitalsSubmissionNode validates testdata/submissions/vitals.json with
// the node validators: R4 base, and the Vital Signs profiles its heart
// rate and blood pressure claim.
func TestVitalsSubmissionNode(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the node validation did not run")
	}
	toolDir, igDir := nodeValidator(t)
	data := readFile(t, "testdata/submissions/vitals.json")
	code, rep := runNode(t, toolDir, igDir, nil, map[string][]byte{"vitals-submission": data})
	if code != 0 {
		logFailures(t, rep, "")
		t.Fatalf("base R4: exit %d", code)
	}
	script := readFile(t, "testdata/vitalsigns/validate-vitalsigns.mjs")
	if err := os.WriteFile(filepath.Join(toolDir, "fsecgm-validate-vitalsigns.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "vitals.json")
	os.WriteFile(p, data, 0o644)
	cmd := exec.CommandContext(t.Context(), "node", "fsecgm-validate-vitalsigns.mjs", p)
	cmd.Dir = toolDir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "5 profile checks, 0 errors") {
		t.Errorf("Vital Signs profiles: %v\n%s", err, out)
	}
}
