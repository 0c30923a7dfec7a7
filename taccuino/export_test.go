package taccuino

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/go-cmp/cmp"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/fhir"
)

// exportReadings are readings of every kind and unit, LO and HI, from a
// sensor with a serial and from a device named by a name.
func exportReadings(day time.Time) []cgm.Reading {
	var rs []cgm.Reading
	for i := range 96 * 14 { // 14 days of 15-minute historic readings
		rs = append(rs, cgm.Reading{Time: day.Add(time.Duration(i) * 15 * time.Minute), Value: float64(70+i%180) + 0.4,
			Unit: cgm.MgDL, Kind: cgm.Historic, Device: "0M0008L4D1E"})
	}
	rs[10].Value, rs[10].Flags = 40, cgm.FlagLow
	rs[20].Value, rs[20].Flags = 500, cgm.FlagHigh
	rs = append(rs,
		cgm.Reading{Time: day.Add(7*time.Minute + 250*time.Millisecond), Value: 6.72, Unit: cgm.MmolL, Kind: cgm.Scan, Trend: cgm.TrendRising, Device: "iPhone G6"},
		cgm.Reading{Time: day.Add(9 * time.Minute), Value: 22.2, Unit: cgm.MmolL, Kind: cgm.Current, Flags: cgm.FlagHigh},
		cgm.Reading{Time: day.Add(11 * time.Minute), Value: 123, Unit: cgm.MgDL, Kind: cgm.Strip},
	)
	return rs
}

// TestExport downloads a patient's data in every form: the CSV imports
// back to the same readings (the round trip fsecgm import makes), the JSON
// holds every reading and the glucometrics GET glucometrics gives for the
// period, the FHIR Bundle is valid R4 with an Observation per sensor
// reading and the summary; a period without data, and bad parameters.
func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cf := testCF(31)
	p := e.newPatient(cf, "Elsa", "Esporta", time.Date(1985, 5, 5, 0, 0, 0, 0, time.UTC))
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	loc, _ := time.LoadLocation("Europe/Rome")
	day := time.Date(2026, 3, 20, 0, 0, 0, 0, loc)
	rs := exportReadings(day)
	if _, err := e.store.Ingest(ctx, cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceLibreLinkUp, Readings: rs,
		Devices: []cgmstore.Device{{Serial: "0M0008L4D1E", Model: "FreeStyle Libre 3"}}}); err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.Readings(ctx, p.ID, day.AddDate(0, 0, -1), day.AddDate(0, 0, 20))
	if err != nil {
		t.Fatal(err)
	}
	const period = "from=2026-03-20&to=2026-04-03"
	base := "/api/v1/patients/" + p.PublicID + "/export?" + period

	// CSV: imported into another patient, the same readings.
	res := e.get(base+"&format=csv", tok)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.header.Get("Content-Disposition"), `filename="glicemia-2026-03-20-2026-04-03.csv"`) {
		t.Fatalf("csv: %d %v %s", res.status, res.header, truncate(res.body))
	}
	if !strings.HasPrefix(string(res.body), "id,time,gl,kind,value,unit,flag,trend,device\n"+p.PublicID+",") {
		t.Errorf("csv begins %q", truncate(res.body))
	}
	cf2 := testCF(32)
	p2 := e.newPatient(cf2, "Ezio", "Importa", time.Date(1985, 5, 5, 0, 0, 0, 0, time.UTC))
	tok2 := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf2})
	imp := e.request(http.MethodPost, "/api/v1/patients/"+p2.PublicID+"/imports", tok2, "text/csv", res.body, nil)
	if out := decode[ImportJSON](t, imp); imp.status != http.StatusOK || out.Format != "long" || out.Inserted != len(rs) {
		t.Fatalf("re-import of the export: %d %s", imp.status, truncate(imp.body))
	}
	back, err := e.store.Readings(ctx, p2.ID, day.AddDate(0, 0, -1), day.AddDate(0, 0, 20))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, back, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("the export imported back differs (-exported +imported):\n%s", diff)
	}
	// And into the same patient: nothing changes.
	again := decode[ImportJSON](t, e.request(http.MethodPost, "/api/v1/patients/"+p.PublicID+"/imports", tok, "text/csv", res.body, nil))
	if again.Inserted != 0 || again.Revised != 0 || again.Duplicate != len(rs) {
		t.Errorf("the export imported into its own patient: %+v", again)
	}

	// JSON: the readings and the glucometrics of the period.
	res = e.get(base+"&format=json", tok)
	var ex struct {
		Patient      string        `json:"patient"`
		Readings     []ReadingJSON `json:"readings"`
		Glucometrics agp.Report    `json:"glucometrics"`
	}
	if res.status != http.StatusOK || json.Unmarshal(res.body, &ex) != nil {
		t.Fatalf("json: %d %s", res.status, truncate(res.body))
	}
	if ex.Patient != p.PublicID || len(ex.Readings) != len(stored) {
		t.Errorf("json: patient %q, %d readings; want %q, %d", ex.Patient, len(ex.Readings), p.PublicID, len(stored))
	}
	for i, r := range ex.Readings {
		if want := readingJSON(stored[i]); !cmp.Equal(want, r, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })) {
			t.Fatalf("json reading %d: %+v, want %+v", i, r, want)
		}
	}
	gm := e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?"+period, tok)
	var want agp.Report
	if err := json.Unmarshal(gm.body, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ex.Glucometrics); diff != "" {
		t.Errorf("json glucometrics differ from GET glucometrics (-api +export):\n%s", diff)
	}

	// FHIR: a valid R4 collection Bundle.
	res = e.get(base+"&format=fhir", tok)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("fhir: %d %v", res.status, res.header)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(res.body); err != nil {
		t.Errorf("the FHIR export is not valid R4: %v", err)
	}
	var b fhir.Bundle
	if err := json.Unmarshal(res.body, &b); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	readings, summary := 0, 0
	for _, en := range b.Entry {
		counts[en.Resource.ResourceType()]++
		if o, ok := en.Resource.(*fhir.Observation); ok {
			if o.Code.Coding[0].Code == fhir.CodeSensorReadingMass || o.Code.Coding[0].Code == fhir.CodeSensorReadingMol {
				readings++
			} else {
				summary++
			}
		}
	}
	if b.Type != fhir.BundleCollection || counts["Patient"] != 1 || counts["Device"] != 1 || readings != len(stored)-1 || summary == 0 {
		t.Errorf("fhir bundle: type %s, %v, %d reading Observations (want %d: all but the strip), %d summary Observations",
			b.Type, counts, readings, len(stored)-1, summary)
	}

	// The page's link serves the same file to the session.
	page := e.get("/taccuino/p/"+p.PublicID, tok)
	if !strings.Contains(string(page.body), "/taccuino/p/"+p.PublicID+"/export?format=csv") {
		t.Error("the patient's page has no export link")
	}
	res = e.get("/taccuino/p/"+p.PublicID+"/export?format=csv&"+period, tok)
	if res.status != http.StatusOK || !strings.HasPrefix(string(res.body), "id,time,gl,") {
		t.Errorf("page export: %d %s", res.status, truncate(res.body))
	}

	// A period without readings: a header, an empty list, an empty Bundle
	// but for the Patient.
	empty := "/api/v1/patients/" + p.PublicID + "/export?from=2025-01-01&to=2025-01-14"
	if res := e.get(empty+"&format=csv", tok); string(res.body) != "id,time,gl,kind,value,unit,flag,trend,device\n" {
		t.Errorf("empty csv: %q", res.body)
	}
	if res := e.get(empty+"&format=json", tok); !strings.Contains(string(res.body), `"readings":[],"glucometrics":{`) {
		t.Errorf("empty json: %s", truncate(res.body))
	}
	if res := e.get(empty+"&format=fhir", tok); res.status != http.StatusOK {
		t.Errorf("empty fhir: %d %s", res.status, truncate(res.body))
	} else if _, err := u.Unmarshal(res.body); err != nil {
		t.Errorf("empty fhir export not valid R4: %v", err)
	}
	// Without dates: from the first reading to today.
	if res := e.get("/api/v1/patients/"+p.PublicID+"/export?format=csv", tok); res.status != http.StatusOK ||
		strings.Count(string(res.body), "\n") != len(stored)+1 {
		t.Errorf("export of all data: %d, %d lines, want %d", res.status, strings.Count(string(res.body), "\n"), len(stored)+1)
	}
	for _, q := range []string{"format=xml", "from=2026-13-01", "from=2026-04-03&to=2026-03-20"} {
		if res := e.get("/api/v1/patients/"+p.PublicID+"/export?"+q, tok); res.status != http.StatusUnprocessableEntity {
			t.Errorf("export?%s: %d", q, res.status)
		}
	}
}
