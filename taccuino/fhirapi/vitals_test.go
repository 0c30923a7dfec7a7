package fhirapi

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/vitals"
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
