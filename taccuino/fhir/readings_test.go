package fhir

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

func TestSensorReadings(t *testing.T) {
	rs := exampleReadings()
	obs, err := SensorReadings(testBase, examplePatient(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 4 {
		t.Fatalf("%d Observations, want 4 (the strip reading left out)", len(obs))
	}
	dev := "Device/" + deviceID(examplePatient().ID, exampleSensor().Serial)
	type row struct {
		At, Value, Comparator, Interp, Kind, Device, Profile string
	}
	var got []row
	for _, o := range obs {
		r := row{At: o.EffectiveDateTime, Value: string(o.ValueQuantity.Value) + " " + o.ValueQuantity.Code,
			Comparator: o.ValueQuantity.Comparator, Kind: o.Method.Coding[0].Code, Device: o.Device.Reference, Profile: o.Meta.Profile[0]}
		if len(o.Interpretation) > 0 {
			r.Interp = o.Interpretation[0].Coding[0].System + "|" + o.Interpretation[0].Coding[0].Code
		}
		got = append(got, r)
		if o.Code.Coding[0].Code != CodeSensorReadingMass || o.ValueQuantity.Unit != "mg/dl" || o.Subject.Reference != "Patient/patientExample" {
			t.Errorf("reading %s: code %s, unit %q, subject %s", o.ID, o.Code.Coding[0].Code, o.ValueQuantity.Unit, o.Subject.Reference)
		}
	}
	oi := ObservationInterpretation
	want := []row{
		{"2024-05-02T10:15:00Z", "120 mg/dL", "", "", LocalReadingHistoric, dev, ProfileSensorReadingMass},
		{"2024-05-02T10:30:00Z", "40 mg/dL", "<", oi + "|<", LocalReadingHistoric, dev, ProfileSensorReadingMass},
		{"2024-05-02T10:45:00Z", "500 mg/dL", ">", oi + "|>", LocalReadingHistoric, dev, ProfileSensorReadingMass},
		{"2024-05-02T10:46:00.5Z", "231 mg/dL", "", "", LocalReadingScan, dev, ProfileSensorReadingMass},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("readings (-want +got):\n%s", d)
	}
	if !strings.Contains(obs[1].Method.Text, "LO") || !strings.Contains(obs[2].Method.Text, "HI") {
		t.Errorf("LO/HI not explained in method text: %q, %q", obs[1].Method.Text, obs[2].Method.Text)
	}

	// mmol/L stays mmol/L, with the molar code and profile.
	mol, err := SensorReadings(testBase, examplePatient(), []cgm.Reading{{Time: time.Date(2024, 5, 2, 10, 30, 0, 0, time.UTC), Value: 6.7, Unit: cgm.MmolL, Kind: cgm.Historic}})
	if err != nil {
		t.Fatal(err)
	}
	if o := mol[0]; o.Code.Coding[0].Code != CodeSensorReadingMol || *o.ValueQuantity != (Quantity{Value: "6.7", Unit: "mmol/l", System: UCUM, Code: "mmol/L"}) ||
		o.Meta.Profile[0] != ProfileSensorReadingMolar || o.Device != nil {
		t.Errorf("molar reading %+v", o)
	}

	// Identifiers are distinct, deterministic, and tell historic from scan at the same instant.
	again, _ := SensorReadings(testBase, examplePatient(), exampleReadings())
	seen := map[string]bool{}
	for i, o := range obs {
		if o.Identifier[0] != again[i].Identifier[0] || seen[o.Identifier[0].Value] {
			t.Errorf("reading %d: identifier not deterministic or repeated", i)
		}
		seen[o.Identifier[0].Value] = true
	}
	twin := rs[0]
	twin.Kind = cgm.Scan
	o2, _ := SensorReadings(testBase, examplePatient(), []cgm.Reading{twin})
	if o2[0].Identifier[0] == obs[0].Identifier[0] {
		t.Error("a scan and a historic reading at the same instant share an identifier")
	}
}

func TestSensorReadingsErrors(t *testing.T) {
	good := exampleReadings()[0]
	for _, tc := range []struct {
		name string
		edit func(*cgm.Reading)
		want string
	}{
		{"no time", func(r *cgm.Reading) { r.Time = time.Time{} }, "reading 1: time"},
		{"out of range", func(r *cgm.Reading) { r.Value = 600 }, "reading 1: value"},
		{"LO flag without the limit", func(r *cgm.Reading) { r.Flags = cgm.FlagLow }, "reading 1: flags"},
		{"no unit", func(r *cgm.Reading) { r.Unit = 0 }, "reading 1: unit"},
		{"bad serial", func(r *cgm.Reading) { r.Device = "a b" }, "reading 1: device serial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.edit(&bad)
			_, err := SensorReadings(testBase, examplePatient(), []cgm.Reading{good, bad})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDeviceResource(t *testing.T) {
	d, err := DeviceResource(testBase, exampleSensor(), "patientExample")
	if err != nil {
		t.Fatal(err)
	}
	want := Device{
		ID:   deviceID("patientExample", "0M0008L4D1E"),
		Meta: &Meta{Profile: []string{ProfileDevice}},
		Identifier: []Identifier{{Type: &CodeableConcept{Coding: []Coding{{System: IdentifierType, Code: "SNO", Display: "Serial Number"}}},
			System: testBase + "/identifier/device-serial", Value: "0M0008L4D1E"}},
		Manufacturer: "Abbott",
		SerialNumber: "0M0008L4D1E",
		DeviceName:   []DeviceName{{Name: "Abbott FreeStyle Libre 3", Type: "user-friendly-name"}, {Name: "FreeStyle Libre 3", Type: "model-name"}},
		Patient:      &Reference{Reference: "Patient/patientExample"},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("DeviceResource (-want +got):\n%s", diff)
	}
	u, err := DeviceResource(testBase, DeviceInfo{Serial: "X1"}, "")
	if err != nil || u.DeviceName[0].Name != "CGM sensor (model unknown)" || len(u.DeviceName) != 1 || u.Patient != nil {
		t.Errorf("device without model: %+v, %v", u, err)
	}
	if _, err := DeviceResource(testBase, DeviceInfo{}, ""); err == nil {
		t.Error("device without serial: no error")
	}
}

func TestPatientResource(t *testing.T) {
	p, err := PatientResource(testBase, PatientInfo{ID: "p-1", FiscalCode: " rssmra85t10a562s "})
	if err != nil {
		t.Fatal(err)
	}
	want := Patient{ID: "p-1", Identifier: []Identifier{
		{Use: "official", System: "http://hl7.it/sid/codiceFiscale", Value: "RSSMRA85T10A562S"},
		{Use: "secondary", System: testBase + "/identifier/patient", Value: "p-1"},
	}}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("PatientResource (-want +got):\n%s", d)
	}
	// Omocodia letters are allowed in the numeric positions (pat-id-cf-1).
	if _, err := PatientResource(testBase, PatientInfo{ID: "p-1", FiscalCode: "RSSMRALRTMLALNPS"}); err != nil {
		t.Errorf("omocodic code refused: %v", err)
	}
}

// TestDeviceIDPerPatient: the same serial worn by two patients is two
// Device resources, and each patient's readings and summaries point to
// their own.
func TestDeviceIDPerPatient(t *testing.T) {
	a, err := DeviceResource(testBase, exampleSensor(), "patientA")
	if err != nil {
		t.Fatal(err)
	}
	b, err := DeviceResource(testBase, exampleSensor(), "patientB")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID {
		t.Fatalf("one Device id %s for the same serial worn by two patients", a.ID)
	}
	rs := []cgm.Reading{{Time: time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic, Device: exampleSensor().Serial}}
	obs, err := SensorReadings(testBase, PatientInfo{ID: "patientB"}, rs)
	if err != nil || len(obs) != 1 || obs[0].Device.Reference != "Device/"+b.ID {
		t.Errorf("patient B's reading points to %v, want Device/%s (%v)", obs[0].Device, b.ID, err)
	}
}
