package fhir

import (
	"encoding/json"
	"math"
	"testing"
)

func TestNewDecimal(t *testing.T) {
	a, b := 0.1, 0.2 // variables: constants would add exactly
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{145, "145"},
		{6.8, "6.8"},
		{a + b, "0.30000000000000004"}, // every digit of the float64
		{1e-7, "0.0000001"},            // never an exponent
		{math.Copysign(0, -1), "0"},    // no "-0"
		{145 / 18.01559, "8.048584587016023"},
	} {
		got, err := NewDecimal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("NewDecimal(%v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := NewDecimal(v); err == nil {
			t.Errorf("NewDecimal(%v): no error", v)
		}
	}
}

func TestNewPercent(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{65, "65.00"},
		{3.5, "3.50"},
		{12.345678901234, "12.345678901234"}, // never rounded
		{0, "0.00"},
		{100, "100.00"},
		{69.99999999999999, "69.99999999999999"},
	} {
		got, err := NewPercent(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("NewPercent(%v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
		if f, _ := got.Float64(); f != tc.v {
			t.Errorf("NewPercent(%v) reads back as %v", tc.v, f)
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	var q Quantity
	if err := json.Unmarshal([]byte(`{"value":6.70,"unit":"mmol/l"}`), &q); err != nil {
		t.Fatal(err)
	}
	if q.Value != "6.70" {
		t.Errorf("decimal text = %q, want 6.70 (precision kept as received)", q.Value)
	}
	if got := string(mustJSON(t, q)); got != `{"value":6.70,"unit":"mmol/l"}` {
		t.Errorf("round trip = %s", got)
	}
	for _, bad := range []string{`{"value":"6.7"}`, `{"value":null}`, `{"value":true}`, `{"value":1.}`} {
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("Unmarshal(%s): no error", bad)
		}
	}
	if _, err := json.Marshal(Quantity{Value: "abc"}); err == nil {
		t.Error("Marshal of a non-decimal: no error")
	}
	if got := string(mustJSON(t, Quantity{Unit: "%"})); got != `{"unit":"%"}` {
		t.Errorf("empty decimal not omitted: %s", got)
	}
}
