package population

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestDashboardCodec: a dashboard reads back from its stored form exactly
// as written and as its JSON reads back (suppressed counts and missing
// maps included); every truncation and a wrong format byte are errors,
// never a panic or a partial dashboard taken for whole.
func TestDashboardCodec(t *testing.T) {
	n := func(v int) *int { return &v }
	f := func(v float64) *float64 { return &v }
	row := Row{Key: "TC", Enrolled: n(120), WithData: n(100), Sufficient: nil, Suppressed: true,
		Targets:       map[string]Share{"tir": {Patients: n(40), Percent: f(40.0 / 90 * 100)}, "tbr": {}},
		GRIZones:      map[string]Share{"A": {Patients: n(0)}},
		Distributions: map[string]Quartiles{"tir": {Q1: 51.25, Median: 66.5, Q3: 79.125}},
		Histograms:    map[string][]*int{"tir": {n(12), nil, n(0)}}}
	d := Dashboard{Scope: ScopeRegion, Kind: Days90, First: "2026-09-08", Last: "2026-12-06", K: 10,
		BuiltAt: time.Date(2026, 12, 7, 3, 30, 1, 123456789, time.UTC),
		Tables: []Table{{Scope: ScopeRegion, Dim: DimTotal, Rows: []Row{row}}, {Scope: ScopeRegion, Dim: DimCentre},
			{Scope: ScopeRegion, Dim: DimSex, Rows: []Row{{Key: "F", Targets: map[string]Share{}, GRIZones: map[string]Share{},
				Distributions: map[string]Quartiles{}}}}},
		Trend: []TrendPoint{{Month: "2026-11", Row: row}},
		Funnel: &Funnel{Target: "tir", Theta0: 0.4, Points: []FunnelPoint{{Centre: "C1", N: 30, Meeting: 12, Proportion: 0.4, Position: Within}},
			Limits: []Limits{{N: 1, Low998: 0, Low95: 0, High95: 1, High998: 1}}, Suppressed: 2}}
	for _, tt := range []Dashboard{d, {Scope: CentreScope("C1"), Kind: Days14, BuiltAt: d.BuiltAt, Trend: []TrendPoint{}},
		{Scope: ASLScope("NO"), Kind: Days14, BuiltAt: d.BuiltAt, Funnel: &Funnel{Target: "tir", Points: []FunnelPoint{}, Limits: []Limits{}}}} {
		b := encodeDashboard(tt)
		got, err := decodeDashboard(b)
		if err != nil || !reflect.DeepEqual(got, tt) {
			t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got, tt)
		}
		js, _ := json.Marshal(tt)
		var viaJSON Dashboard
		if err := json.Unmarshal(js, &viaJSON); err != nil {
			t.Fatal(err)
		}
		viaJSON.BuiltAt = viaJSON.BuiltAt.UTC()
		if !reflect.DeepEqual(got, viaJSON) {
			t.Errorf("the stored form and JSON differ:\n%+v\n%+v", got, viaJSON)
		}
		for i := range b {
			if _, err := decodeDashboard(b[:i]); err == nil {
				t.Errorf("%s: %d of %d bytes read as a dashboard", tt.Scope, i, len(b))
			}
		}
		if _, err := decodeDashboard(append([]byte{9}, b[1:]...)); err == nil {
			t.Error("an unknown format read as a dashboard")
		}
	}
}
