package summaries

import (
	"fmt"
	"strings"
)

// Category is the need-of-attention group of a patient in the clinic list,
// after Tidepool's TIDE report (Time In Range Data Explorer;
// tidepool-org/clinic patients/repository/repository.go): a patient is placed in the first
// category whose rule the current period meets, in this order, and the
// list is sorted by category and then by severity. The thresholds are the
// consensus targets of Battelino et al., Diabetes Care 2019;42:1593–1603
// (targets by population) and its data sufficiency rule (≥ 70 % of the
// expected readings; ADA Standards of Care Table 6.2).
type Category int16

// The categories, most urgent first.
const (
	// CategoryVeryLow: time below 54 mg/dL above 1 %.
	CategoryVeryLow Category = 1 + iota
	// CategoryLow: time below 70 mg/dL (level 1 and 2) above 4 %.
	CategoryLow
	// CategoryTIRDrop: time in range fell by more than 15 percentage
	// points from the previous period.
	CategoryTIRDrop
	// CategoryLowUse: time CGM active below 70 %: the data are too few
	// for any clinical flag ("dati insufficienti"), and no other rule is
	// applied.
	CategoryLowUse
	// CategoryTIRLow: time in range below 70 %.
	CategoryTIRLow
	// CategoryVeryHigh: time above 250 mg/dL above 5 %.
	CategoryVeryHigh
	// CategoryHigh: time above 180 mg/dL (level 1 and 2) above 25 %.
	CategoryHigh
	// CategoryMeetingTargets: none of the above.
	CategoryMeetingTargets
	// CategoryNoData: no historic reading in the current period ("no data
	// for N days", N counted from the last reading when the list is read).
	CategoryNoData
)

// Categories lists the categories in order.
func Categories() []Category {
	return []Category{CategoryVeryLow, CategoryLow, CategoryTIRDrop, CategoryLowUse, CategoryTIRLow,
		CategoryVeryHigh, CategoryHigh, CategoryMeetingTargets, CategoryNoData}
}

// String returns the category's code: very_low, low, tir_drop, low_use,
// tir_low, very_high, high, meeting_targets or no_data.
func (c Category) String() string {
	switch c {
	case CategoryVeryLow:
		return "very_low"
	case CategoryLow:
		return "low"
	case CategoryTIRDrop:
		return "tir_drop"
	case CategoryLowUse:
		return "low_use"
	case CategoryTIRLow:
		return "tir_low"
	case CategoryVeryHigh:
		return "very_high"
	case CategoryHigh:
		return "high"
	case CategoryMeetingTargets:
		return "meeting_targets"
	case CategoryNoData:
		return "no_data"
	}
	return fmt.Sprintf("Category(%d)", int16(c))
}

// ParseCategory reads a category code.
func ParseCategory(s string) (Category, error) {
	for _, c := range Categories() {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("summaries: unknown category %q", s)
}

// MarshalText writes the category's code.
func (c Category) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// The TIDE thresholds, in percent or percentage points; each rule is met
// strictly beyond its threshold, as in Tidepool's TIDE.
const (
	ThresholdVeryLow  = 1.0  // time < 54 mg/dL
	ThresholdLow      = 4.0  // time < 70 mg/dL
	ThresholdTIRDrop  = 15.0 // drop of TIR, points
	ThresholdActive   = 70.0 // % time CGM active
	ThresholdTIR      = 70.0 // time in range
	ThresholdVeryHigh = 5.0  // time > 250 mg/dL
	ThresholdHigh     = 25.0 // time > 180 mg/dL
)

// Flags holds one bit per rule the period meets (bit c−1 for category c,
// for the first seven categories): the list shows them all, not only the
// one that placed the patient.
type Flags uint16

// Has reports whether the rule of category c is met.
func (f Flags) Has(c Category) bool { return c >= 1 && c <= CategoryHigh && f&(1<<(c-1)) != 0 }

// Categories returns the categories whose rule is met, in order.
func (f Flags) Categories() []Category {
	var out []Category
	for _, c := range Categories() {
		if f.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// String lists the codes of the rules met, comma-separated.
func (f Flags) String() string {
	var s []string
	for _, c := range f.Categories() {
		s = append(s, c.String())
	}
	return strings.Join(s, ",")
}

// Categorize places a patient from the figures of the current period and
// of the previous one (of equal length), and returns the category, the
// severity within it (higher is more urgent) and the flags of every rule
// met. Severity is how far the deciding figure is beyond its threshold, in
// percentage points (for CategoryMeetingTargets, 100 − TIR, so that the
// lowest time in range comes first; 0 for CategoryNoData, whose order is
// the most recent reading first).
//
// No clinical flag is raised on too little data: a period with less than
// 70 % of the possible readings (Battelino et al. 2019, the consensus's
// minimum for the CGM metrics to be reliable) is CategoryLowUse and
// nothing else; the drop of TIR is a change only when both periods reach
// 70 %.
func Categorize(cur, prev Figures) (Category, float64, Flags) {
	if cur.Readings == 0 || cur.TimeInRanges == nil {
		return CategoryNoData, 0, 0
	}
	if cur.ActivePercent < ThresholdActive {
		return CategoryLowUse, ThresholdActive - cur.ActivePercent, 1 << (CategoryLowUse - 1)
	}
	tir := cur.TimeInRanges
	below := tir.VeryLow + tir.Low
	above := tir.High + tir.VeryHigh
	drop := 0.0
	if prev.Readings > 0 && prev.TimeInRanges != nil && prev.ActivePercent >= ThresholdActive {
		drop = prev.TimeInRanges.Target - tir.Target
	}
	rules := []struct {
		c     Category
		met   bool
		sever float64
	}{
		{CategoryVeryLow, tir.VeryLow > ThresholdVeryLow, tir.VeryLow - ThresholdVeryLow},
		{CategoryLow, below > ThresholdLow, below - ThresholdLow},
		{CategoryTIRDrop, drop > ThresholdTIRDrop, drop - ThresholdTIRDrop},
		{CategoryLowUse, cur.ActivePercent < ThresholdActive, ThresholdActive - cur.ActivePercent},
		{CategoryTIRLow, tir.Target < ThresholdTIR, ThresholdTIR - tir.Target},
		{CategoryVeryHigh, tir.VeryHigh > ThresholdVeryHigh, tir.VeryHigh - ThresholdVeryHigh},
		{CategoryHigh, above > ThresholdHigh, above - ThresholdHigh},
	}
	cat, sev := CategoryMeetingTargets, 100-tir.Target
	var flags Flags
	for i := len(rules) - 1; i >= 0; i-- {
		if r := rules[i]; r.met {
			flags |= 1 << (r.c - 1)
			cat, sev = r.c, r.sever
		}
	}
	return cat, sev, flags
}
