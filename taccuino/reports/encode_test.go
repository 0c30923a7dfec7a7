package reports

import (
	"bytes"
	"encoding/json"
	"testing"

	"fsecgm/agp"
	"fsecgm/taccuino/summaries"

	"github.com/google/go-cmp/cmp"
)

// TestClinicJSONEncoding: a page written with the stored documents as they
// are reads back as json.Marshal's (a name holding the keys' text
// included, a patient without a summary, figures without a document).
func TestClinicJSONEncoding(t *testing.T) {
	mean := 142.25
	tir := 0.1 + 0.2
	stored := json.RawMessage(`{"readings": 1344, "scans": 0, "unit": "mg/dL", "mean_glucose": {"mg_dl": 142.25, "mmol_l": 7.896}, "sd_mg_dl": null, "cv_percent": 30.000000000000004, "gmi": null, "time_in_ranges": null, "gri": null, "active_percent": 100, "days_worn": 14, "days": 14, "sufficient": true}`)
	var decoded summaries.Figures
	if err := json.Unmarshal(stored, &decoded); err != nil {
		t.Fatal(err)
	}
	total := 3
	page := ClinicJSON{Page: 1, Limit: 50, More: true, Next: "abc", Total: &total, Counts: map[string]int{"very_low": 1},
		Patients: []ClinicPatientJSON{
			{ID: "p1", Name: `Anna "current":null`, Flags: []string{}, Current: &FiguresJSON{Figures: decoded, stored: stored},
				Previous: &FiguresJSON{Figures: decoded, stored: stored}, TIRDelta: &tir},
			{ID: "p2", Name: "Bruno", Flags: []string{"tir_drop"}},
			{ID: "p3", Name: "Carla", Flags: []string{}, Current: &FiguresJSON{Figures: summaries.Figures{Readings: 2, MeanGlucose: &agp.Glucose{MgDL: mean}}},
				Previous: &FiguresJSON{}},
		}}
	got, err := encodeClinic([]byte("kept"), page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("kept")) {
		t.Fatalf("encodeClinic did not append to its buffer: %.20s", got)
	}
	got = got[len("kept"):]
	want, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("encodeClinic differs from json.Marshal (-want +got):\n%s", diff)
	}
	// The stored document is written as it is: every digit kept.
	if !bytes.Contains(got, stored) {
		t.Errorf("the stored document is not written as it is:\n%s", got)
	}

	// A document as summaries.Updater stores it now (json: encoding/json's
	// own text) gives json.Marshal's output byte for byte.
	compact, err := json.Marshal(decoded)
	if err != nil {
		t.Fatal(err)
	}
	for i := range page.Patients[:1] {
		page.Patients[i].Current.stored, page.Patients[i].Previous.stored = compact, compact
	}
	if got, err = encodeClinic(nil, page); err != nil {
		t.Fatal(err)
	}
	if want, err = json.Marshal(page); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encodeClinic with stored compact documents:\n%s\nwant json.Marshal's:\n%s", got, want)
	}
}
