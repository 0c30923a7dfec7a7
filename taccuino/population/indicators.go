package population

// Metric is a per-patient figure whose distribution the population view
// shows (median, quartiles, histogram), with its column in
// population_periods.
type Metric struct {
	// Code names the metric in the API, the CSV files and the FHIR
	// Measures.
	Code string
	// Column is the population_periods column.
	Column string
	// Unit is the UCUM unit of the metric ("%" or "1" for the GRI score).
	Unit string
	// Edges are the inner edges of the histogram's bins: bin 0 is below
	// Edges[0], bin i is [Edges[i−1], Edges[i]), the last bin from the
	// last edge up (PostgreSQL's width_bucket with an array of thresholds).
	Edges []float64
	// OverData: the metric is counted over the patients with data (sensor
	// use), not only over those with sufficient data.
	OverData bool
}

// deciles are the edges of a 0–100 scale in tens.
var deciles = []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}

// Metrics are the distributions of the dashboard: the consensus' time in
// ranges (Battelino T et al., "Clinical Targets for Continuous Glucose
// Monitoring Data Interpretation: Recommendations From the International
// Consensus on Time in Range", Diabetes Care 2019;42:1593–1603), GMI
// (Bergenstal RM et al., Diabetes Care 2018;41:2275), CV, the Glycemia
// Risk Index (Klonoff DC et al., J Diabetes Sci Technol 2023;17:1226) and
// the % time CGM active (sensor use). The bins put each consensus target
// on an edge (TBR 4, CV 36, GMI 7, TIR 70).
var Metrics = []Metric{
	{Code: "tir", Column: "tir", Unit: "%", Edges: deciles},
	{Code: "tbr", Column: "tbr", Unit: "%", Edges: []float64{1, 2, 3, 4, 5, 6, 8, 10, 15}},
	{Code: "tar", Column: "tar", Unit: "%", Edges: deciles},
	{Code: "gmi", Column: "gmi", Unit: "%", Edges: []float64{6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10}},
	{Code: "cv", Column: "cv", Unit: "%", Edges: []float64{20, 24, 28, 32, 36, 40, 44, 48, 52}},
	{Code: "gri", Column: "gri", Unit: "1", Edges: deciles},
	{Code: "active", Column: "active_percent", Unit: "%", Edges: deciles, OverData: true},
}

// Target is a consensus target a patient's period meets or not.
type Target struct {
	// Code names the target.
	Code string
	// SQL is the condition on population_periods (sufficient data
	// assumed).
	SQL string
	// Title names the target in words, Criterion states it (the FHIR
	// Measure's title and numerator).
	Title, Criterion string
}

// Targets are the consensus targets of type 1 and type 2 diabetes
// (Battelino et al. 2019, Table 4: TIR > 70 %, TBR < 4 %, time < 54 mg/dL
// under 1 %, TAR < 25 %; CV ≤ 36 %, the same paper's Table 2 and the ADA
// Standards of Care 2024, §6; GMI < 7 %, the AGP report v5's goal), and all
// of them together.
var Targets = []Target{
	{Code: "tir", SQL: "tir > 70", Title: "Time in range above 70 %", Criterion: "time in range 70-180 mg/dL > 70 %"},
	{Code: "tbr", SQL: "tbr < 4", Title: "Time below range under 4 %", Criterion: "time below 70 mg/dL < 4 %"},
	{Code: "tbr54", SQL: "tbr54 < 1", Title: "Time below 54 mg/dL under 1 %", Criterion: "time below 54 mg/dL < 1 %"},
	{Code: "tar", SQL: "tar < 25", Title: "Time above range under 25 %", Criterion: "time above 180 mg/dL < 25 %"},
	{Code: "cv", SQL: "cv <= 36", Title: "Glycemic variability (CV) at most 36 %", Criterion: "coefficient of variation <= 36 %"},
	{Code: "gmi", SQL: "gmi < 7", Title: "Glucose management indicator under 7 %", Criterion: "GMI < 7 %"},
	{Code: "all", SQL: "tir > 70 AND tbr < 4 AND tbr54 < 1 AND tar < 25 AND cv <= 36 AND gmi < 7", Title: "Every target met",
		Criterion: "time in range > 70 %, below 70 mg/dL < 4 %, below 54 mg/dL < 1 %, above 180 mg/dL < 25 %, CV <= 36 % and GMI < 7 %, all together"},
}

// GRIZones are the five zones of the Glycemia Risk Index (Klonoff et al.
// 2023): A up to 20, B up to 40, C up to 60, D up to 80, E above.
var GRIZones = []string{"A", "B", "C", "D", "E"}
