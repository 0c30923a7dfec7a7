package fhir

import (
	"encoding/json"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// testBase is the issuer base URL of the tests.
const testBase = "https://fsecgm.example/fhir"

// rome is the patients' zone.
func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatalf("load Europe/Rome: %v", err)
	}
	return loc
}

func ptr[T any](v T) *T { return &v }

// exampleReport returns a report with the figures of the IG's example
// instances: mean 145 mg/dL (8.1 mmol/L, as the molar example rounds it),
// times in ranges 3/8/65/20/4 %, GMI 6.8 %, CV 34 %, 28 days worn, 95 %
// active, period 2024-05-01..2024-05-31 (a given period, Europe/Rome).
func exampleReport(t testing.TB) agp.Report {
	loc := rome(t)
	return agp.Report{
		Patient:  "patientExample",
		TimeZone: "Europe/Rome",
		Unit:     "mg/dL",
		Period: agp.PeriodInfo{
			Start: time.Date(2024, 5, 1, 0, 0, 0, 0, loc),
			End:   time.Date(2024, 6, 1, 0, 0, 0, 0, loc),
			Days:  31,
		},
		Readings:        2688,
		IntervalMinutes: 15,
		MeanGlucose:     &agp.Glucose{MgDL: 145, MmolL: 8.1},
		SDMgDL:          ptr(49.3),
		CVPercent:       ptr(34.0),
		GMI:             &agp.GMI{Percent: 6.8, MmolMol: 50.8},
		TimeInRanges:    &agp.Ranges{VeryLow: 3, Low: 8, Target: 65, High: 20, VeryHigh: 4, Tight: 41.25},
		GRI:             ptrGRI(agp.GRIFromRanges(agp.Ranges{VeryLow: 3, Low: 8, Target: 65, High: 20, VeryHigh: 4})),
		Events: agp.Events{
			HypoLevel1:           agp.Episodes{Total: 12, PerDay: 0.4285714285714286, MeanMinutes: 47.5, MeanMgDL: ptr(61.2)},
			HypoLevel2:           agp.Episodes{Total: 3, PerDay: 0.10714285714285714, MeanMinutes: 30, MeanMgDL: ptr(50.1)},
			HypoLevel1Exclusive:  agp.Episodes{Total: 9, PerDay: 0.32142857142857145, MeanMinutes: 52.5, MeanMgDL: ptr(63.0)},
			HyperLevel1:          agp.Episodes{Total: 20, PerDay: 0.7142857142857143, MeanMinutes: 140.25, MeanMgDL: ptr(221.7)},
			HyperLevel2:          agp.Episodes{Total: 4, PerDay: 0.14285714285714285, MeanMinutes: 60, MeanMgDL: ptr(280.0)},
			HyperLevel1Exclusive: agp.Episodes{Total: 16, PerDay: 0.5714285714285714, MeanMinutes: 150, MeanMgDL: ptr(210.5)},
			HyperExtended:        agp.Episodes{Total: 1, PerDay: 0.03571428571428571, MeanMinutes: 135, MeanMgDL: ptr(290.0)},
		},
		Scans:         57,
		DaysWorn:      28,
		ActivePercent: 95,
		Sufficient:    true,
		Engine:        agp.Version,
	}
}

// examplePatient is the patient of the IG's examples, with a test codice
// fiscale (check character valid by the tables of D.M. 23 dicembre 1976
// n. 13813).
func examplePatient() PatientInfo {
	return PatientInfo{ID: "patientExample", FiscalCode: "RSSMRA85T10A562S", Family: "Peters", Given: []string{"Amy"}}
}

// exampleSensor is a FreeStyle Libre 3 sensor.
func exampleSensor() DeviceInfo {
	return DeviceInfo{Serial: "0M0008L4D1E", Manufacturer: "Abbott", Model: "FreeStyle Libre 3"}
}

// examplePDF is a minimal PDF.
var examplePDF = []byte("%PDF-1.0\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// exampleReadings returns a few readings: historic mg/dL, LO, HI, a scan,
// and a strip (which SensorReadings leaves out).
func exampleReadings() []cgm.Reading {
	at := time.Date(2024, 5, 2, 10, 15, 0, 0, time.UTC)
	s := exampleSensor().Serial
	return []cgm.Reading{
		{Time: at, Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic, Device: s},
		{Time: at.Add(15 * time.Minute), Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow, Device: s},
		{Time: at.Add(30 * time.Minute), Value: 500, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagHigh, Device: s},
		{Time: at.Add(31*time.Minute + 500*time.Millisecond), Value: 231, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendRising, Device: s},
		{Time: at.Add(40 * time.Minute), Value: 98, Unit: cgm.MgDL, Kind: cgm.Strip},
	}
}

// mustJSON marshals v or fails the test.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return b
}

// summaryInput returns the input of the example summary.
func summaryInput(t testing.TB, typ string) SummaryInput {
	return SummaryInput{
		Report:    exampleReport(t),
		Patient:   examplePatient(),
		Devices:   []DeviceInfo{exampleSensor()},
		Base:      testBase,
		Type:      typ,
		Timestamp: time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC),
	}
}

func ptrGRI(g agp.GRI) *agp.GRI { return &g }
