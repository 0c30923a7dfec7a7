package fhir_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/taccuino/fhir"
)

// The summary of two weeks of a FreeStyle Libre 3, as the offline command
// prints it: a collection Bundle with the Patient, the sensor, the IG's
// summary panel and its members, and the local figures.
func ExampleSummaryBundle() {
	rome, _ := time.LoadLocation("Europe/Rome")
	cv := 31.456
	report := agp.Report{
		TimeZone: "Europe/Rome",
		Unit:     "mg/dL",
		Period: agp.PeriodInfo{
			Start: time.Date(2024, 5, 1, 0, 0, 0, 0, rome),
			End:   time.Date(2024, 5, 15, 0, 0, 0, 0, rome), // [start, end): 1–14 May
			Days:  14,
		},
		Readings:      1310,
		MeanGlucose:   &agp.Glucose{MgDL: 152.3, MmolL: 152.3 / 18.01559},
		CVPercent:     &cv,
		GMI:           &agp.GMI{Percent: 6.953016, MmolMol: 52.4},
		TimeInRanges:  &agp.Ranges{VeryLow: 0.5, Low: 2.25, Target: 70, High: 21.75, VeryHigh: 5.5, Tight: 45.1},
		Scans:         83,
		DaysWorn:      14,
		ActivePercent: 97.47,
		Sufficient:    true,
		Engine:        "fsecgm-agp 1.0",
	}
	b, err := fhir.SummaryBundle(fhir.SummaryInput{
		Report:  report,
		Patient: fhir.PatientInfo{ID: "p-0001", FiscalCode: "RSSMRA85T10A562S"},
		Devices: []fhir.DeviceInfo{{Serial: "0M0008L4D1E", Manufacturer: "Abbott", Model: "FreeStyle Libre 3"}},
		Base:    "https://fsecgm.example/fhir",
		Type:    fhir.BundleCollection,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *fhir.Observation:
			v := ""
			if q := r.ValueQuantity; q != nil {
				v = string(q.Value) + " " + q.Code
			}
			fmt.Println(strings.TrimSpace(fmt.Sprintf("Observation %-32s %s", r.Code.Coding[0].Code, v)))
		default:
			fmt.Println(r.ResourceType())
		}
	}
	gmi, _ := json.MarshalIndent(b.Entry[6].Resource, "", "  ")
	fmt.Println(string(gmi))
	// Output:
	// Patient
	// Device
	// Observation 107931-8
	// Observation 97507-8                          152.3 mg/dL
	// Observation 105273-7                         8.453789190362347 mmol/L
	// Observation 106793-3
	// Observation 97506-0                          6.953016 %
	// Observation 104638-2                         31.456 %
	// Observation 104636-6                         14 d
	// Observation 104637-4                         97.47 %
	// Observation time-in-tight-range              45.10 %
	// Observation hypo-level1-episodes             0 {episodes}
	// Observation hypo-level2-episodes             0 {episodes}
	// Observation hypo-level1-exclusive-episodes   0 {episodes}
	// Observation hypo-extended-episodes           0 {episodes}
	// Observation hyper-level1-episodes            0 {episodes}
	// Observation hyper-level2-episodes            0 {episodes}
	// Observation hyper-level1-exclusive-episodes  0 {episodes}
	// Observation hyper-extended-episodes          0 {episodes}
	// Observation scan-count                       83 {scans}
	// {
	//   "resourceType": "Observation",
	//   "id": "1f3306537c0a6b1451c617972dd3b91b",
	//   "meta": {
	//     "profile": [
	//       "http://hl7.org/fhir/uv/cgm/StructureDefinition/cgm-summary-gmi"
	//     ]
	//   },
	//   "identifier": [
	//     {
	//       "system": "https://fsecgm.example/fhir/identifier/observation",
	//       "value": "1f3306537c0a6b1451c617972dd3b91bd4cd6ec6bcbc0ec7c90f04bdf92733a3"
	//     }
	//   ],
	//   "status": "final",
	//   "category": [
	//     {
	//       "coding": [
	//         {
	//           "system": "http://terminology.hl7.org/CodeSystem/observation-category",
	//           "code": "laboratory",
	//           "display": "Laboratory"
	//         }
	//       ]
	//     }
	//   ],
	//   "code": {
	//     "coding": [
	//       {
	//         "system": "http://loinc.org",
	//         "code": "97506-0",
	//         "display": "Glucose management indicator"
	//       }
	//     ]
	//   },
	//   "subject": {
	//     "reference": "Patient/p-0001"
	//   },
	//   "effectivePeriod": {
	//     "start": "2024-05-01",
	//     "end": "2024-05-14"
	//   },
	//   "valueQuantity": {
	//     "value": 6.953016,
	//     "unit": "%",
	//     "system": "http://unitsofmeasure.org",
	//     "code": "%"
	//   },
	//   "method": {
	//     "text": "fsecgm-agp 1.0; sufficient data: yes (14 days, 97.47% active)"
	//   },
	//   "device": {
	//     "reference": "Device/db1e1718adc44bafb3930126059b5437"
	//   }
	// }
}
