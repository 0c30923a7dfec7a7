package fhir

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

// streamedExport writes the example patient's data export with a
// BundleWriter: the Patient, the sensor, the readings (one of a device
// named by a name, not a serial) and the summary Observations.
func streamedExport(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	ts := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
	w, err := NewBundleWriter(&buf, testBase, ts)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := PatientResource(testBase, examplePatient())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := DeviceResource(testBase, exampleSensor(), examplePatient().ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(&pt, &dev); err != nil {
		t.Fatal(err)
	}
	rs := exampleReadings()
	rs = append(rs, cgm.Reading{Time: rs[0].Time.Add(time.Hour), Value: 6.7, Unit: cgm.MmolL, Kind: cgm.Historic, Device: "iPhone G6"})
	for i := range rs {
		if err := w.AddReadings(examplePatient(), rs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := SummaryBundle(summaryInput(t, BundleCollection))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*Observation); ok {
			if err := w.Add(o); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBundleWriter checks that the streamed Bundle is the one NewBundle
// makes of the same resources, that a device named by a name loses its
// reference, and that an empty Bundle has no entry member.
func TestBundleWriter(t *testing.T) {
	got := streamedExport(t)
	var b Bundle
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatalf("the streamed bundle does not parse: %v\n%s", err, got)
	}
	pt, _ := PatientResource(testBase, examplePatient())
	dev, _ := DeviceResource(testBase, exampleSensor(), examplePatient().ID)
	res := []Resource{&pt, &dev}
	rs := exampleReadings()
	rs = append(rs, cgm.Reading{Time: rs[0].Time.Add(time.Hour), Value: 6.7, Unit: cgm.MmolL, Kind: cgm.Historic})
	obs, err := SensorReadings(testBase, examplePatient(), rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		res = append(res, o)
	}
	sb, _ := SummaryBundle(summaryInput(t, BundleCollection))
	for _, e := range sb.Entry {
		if o, ok := e.Resource.(*Observation); ok {
			res = append(res, o)
		}
	}
	want, err := NewBundle(BundleCollection, testBase, time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC), res...)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	json.Unmarshal(got, &g)
	json.Unmarshal(mustJSON(t, want), &w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("streamed bundle differs from NewBundle's (-want +got):\n%s", diff)
	}
	if n := len(b.Entry); n != len(res) {
		t.Errorf("%d entries, want %d", n, len(res))
	}

	var empty bytes.Buffer
	ew, err := NewBundleWriter(&empty, testBase, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if got := empty.String(); got != `{"resourceType":"Bundle","type":"collection"}` {
		t.Errorf("empty bundle %s", got)
	}
	if _, err := r4(t).Unmarshal(empty.Bytes()); err != nil {
		t.Errorf("empty bundle not valid R4: %v", err)
	}
}
