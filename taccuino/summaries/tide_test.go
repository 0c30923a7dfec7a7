package summaries

import (
	"testing"

	"fsecgm/agp"
)

// figs builds figures with the given bands (%), % active and readings.
func figs(vl, lo, tg, hi, vh, active float64) Figures {
	return Figures{Readings: 1000, ActivePercent: active,
		TimeInRanges: &agp.Ranges{VeryLow: vl, Low: lo, Target: tg, High: hi, VeryHigh: vh}}
}

// TestCategorize checks the TIDE order and thresholds (Tidepool TIDE,
// tidepool-org/clinic patients/repository/repository.go; Battelino et al.
// 2019): each rule strictly beyond
// its threshold, the first rule met placing the patient, every rule met
// flagged.
func TestCategorize(t *testing.T) {
	none := Figures{}
	for _, tc := range []struct {
		name      string
		cur, prev Figures
		want      Category
		severity  float64
		flags     []Category
	}{
		{"meeting targets", figs(0.5, 2, 80, 15, 2.5, 95), none, CategoryMeetingTargets, 20, nil},
		{"very low just above 1%", figs(1.01, 0, 80, 17, 1.99, 95), none, CategoryVeryLow, 0.01, []Category{CategoryVeryLow}},
		{"very low exactly 1% is not", figs(1, 0, 80, 17, 2, 95), none, CategoryMeetingTargets, 20, nil},
		{"low combined above 4%", figs(0.5, 3.6, 80, 14, 1.9, 95), none, CategoryLow, 0.1, []Category{CategoryLow}},
		{"low combined exactly 4% is not", figs(0.5, 3.5, 80, 14, 2, 95), none, CategoryMeetingTargets, 20, nil},
		{"very low wins over low", figs(2, 5, 60, 28, 5, 95), none, CategoryVeryLow, 1,
			[]Category{CategoryVeryLow, CategoryLow, CategoryTIRLow, CategoryHigh}},
		{"TIR drop over 15 points", figs(0, 1, 72, 25, 2, 95), figs(0, 1, 88, 10, 1, 95), CategoryTIRDrop, 1,
			[]Category{CategoryTIRDrop, CategoryHigh}},
		{"TIR drop of exactly 15 is not", figs(0, 1, 75, 22, 2, 95), figs(0, 1, 90, 8, 1, 95), CategoryMeetingTargets, 25, nil},
		{"drop needs a previous period with data", figs(0, 3, 72, 23, 1.9, 95), Figures{}, CategoryMeetingTargets, 28, nil},
		{"CGM active below 70", figs(0, 1, 85, 13, 1, 60), none, CategoryLowUse, 10, []Category{CategoryLowUse}},
		{"CGM active exactly 70 is not", figs(0, 1, 85, 13, 1, 70), none, CategoryMeetingTargets, 15, nil},
		// No clinical flag on too little data (issue 14, Battelino 2019):
		// below 70 % active only "insufficient data" is raised, however
		// low or high the few readings are.
		{"insufficient data raises no drop", figs(0, 1, 70.5, 26, 2.5, 50), figs(0, 0, 90, 9, 1, 95), CategoryLowUse, 20,
			[]Category{CategoryLowUse}},
		{"insufficient data raises no hypo flag", figs(8, 10, 60, 20, 2, 40), none, CategoryLowUse, 30,
			[]Category{CategoryLowUse}},
		{"no drop from an insufficient previous period", figs(0, 1, 72, 25, 2, 95), figs(0, 1, 95, 4, 0, 60),
			CategoryHigh, 2, []Category{CategoryHigh}},
		{"TIR below 70", figs(0, 2, 65, 30, 3, 90), none, CategoryTIRLow, 5, []Category{CategoryTIRLow, CategoryHigh}},
		{"TIR exactly 70 is not low", figs(0, 2, 70, 26, 2, 90), none, CategoryHigh, 3, []Category{CategoryHigh}},
		{"very high above 5", figs(0, 1, 72, 21, 6, 90), none, CategoryVeryHigh, 1, []Category{CategoryVeryHigh, CategoryHigh}},
		{"very high exactly 5 is not", figs(0, 1, 74, 20, 5, 90), none, CategoryMeetingTargets, 26, nil},
		{"high combined above 25", figs(0, 1, 73, 22, 4, 90), none, CategoryHigh, 1, []Category{CategoryHigh}},
		{"high combined exactly 25 is not", figs(0, 1, 74, 21, 4, 90), none, CategoryMeetingTargets, 26, nil},
		{"no data", Figures{}, figs(0, 1, 80, 18, 1, 90), CategoryNoData, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, sev, flags := Categorize(tc.cur, tc.prev)
			if c != tc.want {
				t.Errorf("category = %v, want %v", c, tc.want)
			}
			if d := sev - tc.severity; d > 1e-9 || d < -1e-9 {
				t.Errorf("severity = %v, want %v", sev, tc.severity)
			}
			got := flags.Categories()
			if len(got) != len(tc.flags) {
				t.Fatalf("flags = %v, want %v", got, tc.flags)
			}
			for i := range got {
				if got[i] != tc.flags[i] {
					t.Fatalf("flags = %v, want %v", got, tc.flags)
				}
			}
		})
	}
}

func TestCategoryCodes(t *testing.T) {
	for _, c := range Categories() {
		back, err := ParseCategory(c.String())
		if err != nil || back != c {
			t.Errorf("ParseCategory(%q) = %v, %v; want %v", c.String(), back, err, c)
		}
	}
	if _, err := ParseCategory("bogus"); err == nil {
		t.Error("ParseCategory(bogus) succeeded")
	}
}
