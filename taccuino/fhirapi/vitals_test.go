package fhirapi

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"

	"github.com/jackc/pgx/v5"
)

// TestSubmitVitals: the Observations of a patient's own devices
// (testdata of package fhir: a heart rate, a blood pressure, daily and
// hourly steps, calories, a REM sleep interval, a resting heart rate)
// reach the measurements store, in the patient's zone; sent again, nothing
// changes; a broken one is refused at its element and the others stay.
func TestSubmitVitals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(20, true)
	tok := e.citizen(p.FiscalCode)
	data, err := os.ReadFile("../fhir/testdata/submissions/vitals.json")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.ReplaceAll(string(data), "RSSMRA85T10A562S", p.FiscalCode))
	st, _ := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	// Patient, Device (the watch: the measurements' source, no sensor to
	// keep), 7 measurements.
	if len(st) != 9 || count(st, "200") != 9 {
		t.Fatalf("statuses %v", st)
	}
	from := time.Date(2026, 3, 28, 0, 0, 0, 0, rome)
	ms, err := e.store.Measurements(ctx, p.ID, from, from.AddDate(0, 0, 2))
	if err != nil || len(ms) != 7 {
		t.Fatalf("stored %d measurements, %v", len(ms), err)
	}
	byKind := map[vitals.Kind]vitals.Measurement{}
	for _, m := range ms {
		byKind[m.Kind] = m
	}
	if m := byKind[vitals.BloodPressure]; m.Value != 132 || m.Value2 != 84 || m.Source != "OMRON M7 Intelli IT" {
		t.Errorf("blood pressure %+v", m)
	}
	if m := byKind[vitals.RestingHeartRate]; !m.Start.Equal(time.Date(2026, 3, 29, 0, 0, 0, 0, rome)) || m.Source != "Apple Watch di Mario" {
		t.Errorf("resting heart rate %+v", m)
	}
	if n := e.count(`SELECT count(*) FROM vital_days_dirty WHERE patient_id = $1`, p.ID); n != 1 {
		t.Error("the days were not marked for their summaries")
	}
	// Again: the same measurements, nothing new.
	st, _ = results(t, e.do("POST", "/fhir/$submit-cgm-bundle", tok, body))
	if count(st, "200") != 9 {
		t.Errorf("re-sent: %v", st)
	}
	if n := e.count(`SELECT count(*) FROM measurements WHERE patient_id = $1`, p.ID); n != 7 {
		t.Errorf("%d measurements after re-sending", n)
	}
	// A broken heart rate: refused at its unit, the others answered.
	broken := strings.Replace(string(body), `"code": "/min"},
     "device"`, `"code": "bpm"},
     "device"`, 1)
	r := e.do("POST", "/fhir/$submit-cgm-bundle", tok, []byte(broken))
	st, _ = results(t, r)
	if st[2] != "422 Unprocessable Entity" || !strings.Contains(string(r.body), "Bundle.entry[2].resource.valueQuantity.code") {
		t.Errorf("broken heart rate: %v\n%s", st, r.body)
	}
}

// TestSearchVitals: the daily summaries of a patient's devices, published
// by the summaries updater (records.PublishVitals), are served by the FHIR
// API like the CGM summaries: searched by LOINC code and date, read by
// id, under the same gate (an MMG without a care relationship is
// refused).
func TestSearchVitals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(21, true)
	f := func(v float64) *float64 { return &v }
	days := []vitals.Day{
		{Date: "2026-03-28", Steps: f(8412), HeartRate: &vitals.HeartRateDay{Min: f(52), Mean: f(71.5), Max: f(131), Resting: f(58)},
			BloodPressure: []vitals.Pressure{{Time: "2026-03-28T08:00:00+01:00", Systolic: 128, Diastolic: 82}}},
		{Date: "2026-03-29", Steps: f(10233), SleepMinutes: f(431), SleepStages: &vitals.SleepStages{Light: 251, Deep: 88, REM: 92, Awake: 17},
			BloodPressure: []vitals.Pressure{}},
	}
	if err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		return e.rec.PublishVitals(context.Background(), tx, records.VitalsPublication{PatientID: p.ID,
			Patient: fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: p.FamilyName, Given: []string{p.GivenName}},
			Days:    days, TimeZone: "Europe/Rome", Issued: time.Date(2026, 3, 30, 6, 0, 0, 0, rome)})
	}); err != nil {
		t.Fatal(err)
	}
	tok := e.citizen(p.FiscalCode)
	obs := "/fhir/Observation?patient=Patient/" + p.PublicID
	code := func(c string) string { return "&code=" + url.QueryEscape(fhir.LOINC+"|"+c) }
	for _, tc := range []struct {
		query string
		want  int
	}{
		{code(fhir.CodeStepsPerDay), 2},
		{code(fhir.CodeStepsPerDay) + "&date=2026-03-29", 1},
		{code(fhir.CodeBloodPressure), 1},
		{code(fhir.CodeSleepDuration), 1},
		{code(fhir.CodeRestingHeartRate), 1},
		{code(fhir.CodeHeartRate) + "&date=2026-03-28", 1},
	} {
		total, ids, _ := entries(t, e.get(obs+tc.query, tok))
		if total != tc.want || len(ids) != tc.want {
			t.Errorf("%s: %d found, want %d", tc.query, total, tc.want)
			continue
		}
		if r := e.get("/fhir/"+ids[0], tok); r.status != 200 || !strings.Contains(string(r.body), p.PublicID) {
			t.Errorf("read %s: %d", ids[0], r.status)
		}
	}
	if r := e.get(obs+code(fhir.CodeStepsPerDay), e.practitioner(testCF(702), auth.PractitionerMMG, "")); r.status != 403 {
		t.Errorf("an MMG without a care relationship: %d", r.status)
	}
}
