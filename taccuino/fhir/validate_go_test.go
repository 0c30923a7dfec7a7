package fhir

import (
	"encoding/json"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// r4 returns Google's FHIR R4 JSON parser with validation (required
// elements, cardinality, primitive formats, required codes, reference
// types): an implementation independent of ours.
func r4(t *testing.T) *jsonformat.Unmarshaller {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestR4StructureGoogle validates everything the package writes with
// github.com/google/fhir/go.
func TestR4StructureGoogle(t *testing.T) {
	u := r4(t)
	for name, data := range emitted(t) {
		if _, err := u.Unmarshal(data); err != nil {
			t.Errorf("%s: not valid R4: %v", name, err)
		}
	}
	// The IG's examples pass too (the validator accepts what it should).
	for name, r := range igExamples(t) {
		if _, err := u.Unmarshal(mustJSON(t, r)); err != nil {
			t.Errorf("IG example %s: %v", name, err)
		}
	}
}

// TestR4StructureGoogleRejects shows that the validator catches what it
// should, on our own output broken in one place.
func TestR4StructureGoogleRejects(t *testing.T) {
	u := r4(t)
	good := emitted(t)["summary-collection"]
	for _, tc := range []struct {
		name   string
		mutate func(gmi map[string]any)
	}{
		{"missing status", func(o map[string]any) { delete(o, "status") }},
		{"status not in its value set", func(o map[string]any) { o["status"] = "done" }},
		{"decimal as a string", func(o map[string]any) { o["valueQuantity"].(map[string]any)["value"] = "6.8" }},
		{"unknown element", func(o map[string]any) { o["valueAmount"] = 1 }},
		{"bad date", func(o map[string]any) { o["effectivePeriod"].(map[string]any)["start"] = "2024-13-01" }},
		{"bad comparator", func(o map[string]any) { o["valueQuantity"].(map[string]any)["comparator"] = "~" }},
		{"subject to a Bundle", func(o map[string]any) { o["subject"] = map[string]any{"reference": "Bundle/1"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b map[string]any
			if err := json.Unmarshal(good, &b); err != nil {
				t.Fatal(err)
			}
			broken := false
			for _, e := range b["entry"].([]any) {
				r := e.(map[string]any)["resource"].(map[string]any)
				if r["resourceType"] == "Observation" && r["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] == CodeGMI {
					tc.mutate(r)
					broken = true
				}
			}
			if !broken {
				t.Fatal("no GMI entry")
			}
			data, _ := json.Marshal(b)
			if _, err := u.Unmarshal(data); err == nil {
				t.Error("the broken bundle validates")
			}
		})
	}
}
