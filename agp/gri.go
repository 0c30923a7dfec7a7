package agp

// GRI is the Glycemia Risk Index of a period with its two components and
// its zone (Klonoff et al., "A Glycemia Risk Index (GRI) of Hypoglycemia and
// Hyperglycemia for Continuous Glucose Monitoring Validated by Clinician
// Ratings", J Diabetes Sci Technol 2023;17(5):1226–1242, doi:10.1177/
// 19322968221085273, section "Results: the GRI formula" and Figure 5):
//
//	hypoglycaemia component  = %VLow + 0.8 · %Low
//	hyperglycaemia component = %VHigh + 0.5 · %High
//	GRI = 3.0 · hypo + 1.6 · hyper = 3.0·VLow + 2.4·Low + 1.6·VHigh + 0.8·High
//
// with the consensus bands (VLow < 54, Low 54–<70, High >180–250, VHigh
// > 250 mg/dL, or their mmol/L cut-offs) as percentages of readings; GRI is
// capped at 100. This is what iglu 4.3.0's gri() computes (from the
// agp_metrics percentages on the raw readings).
type GRI struct {
	// Value is the GRI, 0–100.
	Value float64 `json:"value"`
	// Hypo and Hyper are the two components (the axes of the GRI grid);
	// they are not capped.
	Hypo  float64 `json:"hypo_component"`
	Hyper float64 `json:"hyper_component"`
	// Zone is the GRI zone, A (lowest risk) to E.
	Zone string `json:"zone"`
}

// GRIZoneLimits are the upper limits of zones A–D (Klonoff 2023, Figure 5:
// zone A 0–20, B 21–40, C 41–60, D 61–80, E 81–100, the quintiles of the
// derivation set). A GRI equal to a limit belongs to the lower zone.
var GRIZoneLimits = [4]float64{20, 40, 60, 80}

// GRIZones names the zones in order.
var GRIZones = [5]string{"A", "B", "C", "D", "E"}

// GRIZone returns the zone of a GRI value. Complexity O(1).
func GRIZone(gri float64) string {
	for i, lim := range GRIZoneLimits {
		if gri <= lim {
			return GRIZones[i]
		}
	}
	return GRIZones[4]
}

// GRIFromRanges computes the GRI from the percentages of the consensus bands
// (the Ranges of a Report, or the band percentages of a stored summary).
// Complexity O(1).
func GRIFromRanges(r Ranges) GRI {
	hypo := r.VeryLow + 0.8*r.Low
	hyper := r.VeryHigh + 0.5*r.High
	// iglu's gri(): 3*below_54 + 2.4*(below_70 - below_54) + 1.6*above_250
	// + 0.8*(above_180 - above_250), evaluated in that order.
	v := 3*r.VeryLow + 2.4*r.Low + 1.6*r.VeryHigh + 0.8*r.High
	v = min(v, 100)
	return GRI{Value: v, Hypo: hypo, Hyper: hyper, Zone: GRIZone(v)}
}
