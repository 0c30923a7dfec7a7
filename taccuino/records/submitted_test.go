package records

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"
)

func labBody(t testing.TB, mod func(m map[string]any)) json.RawMessage {
	m := map[string]any{"resourceType": "Observation", "status": "final",
		"code":              map[string]any{"coding": []any{map[string]any{"system": fhir.LOINC, "code": CodeHbA1c}}},
		"subject":           map[string]any{"reference": "Patient/x"},
		"effectiveDateTime": "2024-05-10T09:30:00+02:00",
		"valueQuantity":     map[string]any{"value": json.Number("7.10"), "unit": "%", "system": fhir.UCUM, "code": "%"}}
	if mod != nil {
		mod(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHbA1c(t *testing.T) {
	t.Parallel()
	lr, err := ParseHbA1c(labBody(t, nil), rome)
	if err != nil || lr.Value != "7.10" || lr.Percent != 7.1 || !lr.At.Equal(time.Date(2024, 5, 10, 7, 30, 0, 0, time.UTC)) || lr.Status != "final" {
		t.Errorf("ParseHbA1c = %+v, %v", lr, err)
	}
	for _, tc := range []struct {
		name string
		mod  func(m map[string]any)
		path string
	}{
		{"IFCC unit", func(m map[string]any) { m["valueQuantity"].(map[string]any)["code"] = "mmol/mol" }, "valueQuantity.code"},
		{"no system", func(m map[string]any) { delete(m["valueQuantity"].(map[string]any), "system") }, "valueQuantity.code"},
		{"mmol/mol value as %", func(m map[string]any) { m["valueQuantity"].(map[string]any)["value"] = 53 }, "valueQuantity.value"},
		{"comparator", func(m map[string]any) { m["valueQuantity"].(map[string]any)["comparator"] = "<" }, "valueQuantity.comparator"},
		{"no value", func(m map[string]any) { delete(m, "valueQuantity") }, "valueQuantity"},
		{"registered", func(m map[string]any) { m["status"] = "registered" }, "status"},
		{"no time", func(m map[string]any) { delete(m, "effectiveDateTime") }, "effectiveDateTime"},
		{"bad time", func(m map[string]any) { m["effectiveDateTime"] = "10/05/2024" }, "effectiveDateTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHbA1c(labBody(t, tc.mod), rome)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != tc.path || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v, want a FieldError at %s", err, tc.path)
			}
		})
	}
}

// TestStoreSubmitted: kept by identifier, as received; a new body for a
// known identifier is a new version; ifNoneExist finds it; an identifier
// of another patient is a conflict; LabHbA1c reads the results in a
// range.
func TestStoreSubmitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(t, 50, true)
	q := e.patient(t, 51, true)
	id := Identifier{System: "https://lab.example/results", Value: "A1"}
	sub := Submitted{PatientID: p.ID, Submitter: "lab", Type: "Observation", Body: labBody(t, nil), Identifier: id, Zone: rome}
	st, err := e.rec.StoreSubmitted(ctx, e.pool, sub)
	if err != nil || !st.Created || st.Version != 1 {
		t.Fatalf("first: %+v %v", st, err)
	}
	r, err := e.rec.Get(ctx, e.pool, "Observation", st.ID)
	if err != nil || string(r.Body) != string(sub.Body) || r.Origin != OriginSubmitted || r.Submitter != "lab" {
		t.Errorf("stored: %s %s %s %v", r.Body, r.Origin, r.Submitter, err)
	}
	again, err := e.rec.StoreSubmitted(ctx, e.pool, sub)
	if err != nil || again.Created || again.Version != 1 || again.ID != st.ID {
		t.Errorf("same body again: %+v %v", again, err)
	}
	sub.Body = labBody(t, func(m map[string]any) { m["status"] = "corrected" })
	changed, err := e.rec.StoreSubmitted(ctx, e.pool, sub)
	if err != nil || changed.Version != 2 || changed.ID != st.ID {
		t.Errorf("corrected: %+v %v", changed, err)
	}
	sub.IfNoneExist = true
	found, err := e.rec.StoreSubmitted(ctx, e.pool, sub)
	if err != nil || !found.Existed || found.Version != 2 {
		t.Errorf("ifNoneExist: %+v %v", found, err)
	}
	// The same identifier in another patient's record: a resource of its
	// own (identifiers are the patient's), found again by it.
	other := sub
	other.PatientID, other.IfNoneExist = q.ID, false
	os, err := e.rec.StoreSubmitted(ctx, e.pool, other)
	if err != nil || !os.Created || os.ID == st.ID {
		t.Errorf("another patient's identifier: %+v %v, want a new resource", os, err)
	}
	other.IfNoneExist = true
	if again, err := e.rec.StoreSubmitted(ctx, e.pool, other); err != nil || !again.Existed || again.ID != os.ID {
		t.Errorf("another patient's identifier, ifNoneExist: %+v %v", again, err)
	}
	// Without identifier: kept by the body's digest.
	noID := Submitted{PatientID: p.ID, Submitter: "lab", Type: "Observation", Body: labBody(t, func(m map[string]any) {
		m["effectiveDateTime"] = "2024-06-01"
	}), Zone: rome}
	a, err := e.rec.StoreSubmitted(ctx, e.pool, noID)
	b, err2 := e.rec.StoreSubmitted(ctx, e.pool, noID)
	if err != nil || err2 != nil || !a.Created || b.Created || a.ID != b.ID {
		t.Errorf("without identifier: %+v %+v %v %v", a, b, err, err2)
	}
	labs, err := e.rec.LabHbA1c(ctx, p.ID, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), time.Date(2024, 6, 1, 0, 0, 0, 0, rome))
	if err != nil || len(labs) != 1 || labs[0].Status != "corrected" || labs[0].ID != st.ID {
		t.Errorf("LabHbA1c in May: %+v %v", labs, err)
	}
	labs, _ = e.rec.LabHbA1c(ctx, p.ID, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), time.Date(2024, 7, 1, 0, 0, 0, 0, rome))
	if len(labs) != 2 || !labs[1].At.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, rome)) {
		t.Errorf("LabHbA1c May-June: %+v", labs)
	}
	// A broken HbA1c is refused, with the element.
	bad := Submitted{PatientID: p.ID, Submitter: "lab", Type: "Observation", Body: labBody(t, func(m map[string]any) {
		m["valueQuantity"].(map[string]any)["code"] = "mmol/mol"
	})}
	var fe *FieldError
	if _, err := e.rec.StoreSubmitted(ctx, e.pool, bad); !errors.As(err, &fe) || fe.Path != "valueQuantity.code" {
		t.Errorf("broken HbA1c: %v", err)
	}
}
