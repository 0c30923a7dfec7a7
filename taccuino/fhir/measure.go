package fhir

import (
	"errors"
	"fmt"
	"time"
)

// Population indicators as FHIR R4 quality measures (FHIR R4 §§ "Measure"
// and "MeasureReport", Clinical Reasoning module): each indicator of the
// region's population view is a Measure with proportion scoring (initial
// population, denominator, numerator, and the breakdowns as stratifiers),
// and each published figure a summary MeasureReport of one scope and
// period, its strata the breakdown's categories. A count the population
// view suppresses (fewer than k patients, or a complement) is absent, with
// the data-absent-reason "masked" on the element (FHIR R4 extension
// data-absent-reason; code system data-absent-reason, "masked": "the
// information is not available due to security, privacy or related
// reasons"), so that a reader cannot take it for zero.

// Code systems of the Clinical Reasoning module (FHIR R4 terminology).
const (
	MeasureScoringSystem     = "http://terminology.hl7.org/CodeSystem/measure-scoring"
	MeasureTypeSystem        = "http://terminology.hl7.org/CodeSystem/measure-type"
	MeasurePopulationSystem  = "http://terminology.hl7.org/CodeSystem/measure-population"
	MeasureImprovementSystem = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
	DataAbsentReasonURL      = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
)

// The populations of a proportion measure (measure-population codes).
const (
	PopulationInitial     = "initial-population"
	PopulationDenominator = "denominator"
	PopulationNumerator   = "numerator"
)

// Expression is a FHIR Expression: a criterion stated in a language.
type Expression struct {
	Description string `json:"description,omitempty"`
	Language    string `json:"language"`
	Expression  string `json:"expression,omitempty"`
}

// Extension is a FHIR extension with a code value.
type Extension struct {
	URL       string `json:"url"`
	ValueCode string `json:"valueCode,omitempty"`
}

// Element carries the extensions of a primitive element (the JSON
// "_name" form of FHIR R4 §2.6.2 "JSON representation of primitive
// elements").
type Element struct {
	Extension []Extension `json:"extension,omitempty"`
}

// Measure is a FHIR R4 Measure: the definition of an indicator.
type Measure struct {
	ID                  string            `json:"id,omitempty"`
	URL                 string            `json:"url,omitempty"`
	Version             string            `json:"version,omitempty"`
	Name                string            `json:"name,omitempty"`
	Title               string            `json:"title,omitempty"`
	Status              string            `json:"status"`
	Experimental        bool              `json:"experimental"`
	Publisher           string            `json:"publisher,omitempty"`
	Description         string            `json:"description,omitempty"`
	Scoring             *CodeableConcept  `json:"scoring,omitempty"`
	Type                []CodeableConcept `json:"type,omitempty"`
	ImprovementNotation *CodeableConcept  `json:"improvementNotation,omitempty"`
	Group               []MeasureGroup    `json:"group,omitempty"`
}

// MeasureGroup is Measure.group: the populations and the stratifiers.
type MeasureGroup struct {
	Population []MeasurePopulation `json:"population,omitempty"`
	Stratifier []MeasureStratifier `json:"stratifier,omitempty"`
}

// MeasurePopulation is Measure.group.population.
type MeasurePopulation struct {
	Code        *CodeableConcept `json:"code,omitempty"`
	Description string           `json:"description,omitempty"`
	Criteria    Expression       `json:"criteria"`
}

// MeasureStratifier is Measure.group.stratifier.
type MeasureStratifier struct {
	Code        *CodeableConcept `json:"code,omitempty"`
	Description string           `json:"description,omitempty"`
	Criteria    *Expression      `json:"criteria,omitempty"`
}

// MeasureReport is a FHIR R4 MeasureReport of type summary.
type MeasureReport struct {
	ID                  string               `json:"id,omitempty"`
	Status              string               `json:"status"`
	Type                string               `json:"type"`
	Measure             string               `json:"measure"`
	Date                string               `json:"date,omitempty"`
	Reporter            *Reference           `json:"reporter,omitempty"`
	Period              Period               `json:"period"`
	ImprovementNotation *CodeableConcept     `json:"improvementNotation,omitempty"`
	Group               []MeasureReportGroup `json:"group,omitempty"`
}

// MeasureReportGroup is MeasureReport.group.
type MeasureReportGroup struct {
	Population   []ReportPopulation `json:"population,omitempty"`
	MeasureScore *Quantity          `json:"measureScore,omitempty"`
	Stratifier   []ReportStratifier `json:"stratifier,omitempty"`
}

// ReportPopulation is a population's count; Count nil (suppressed) comes
// with CountMeta's data-absent-reason.
type ReportPopulation struct {
	Code      *CodeableConcept `json:"code,omitempty"`
	Count     *int             `json:"count,omitempty"`
	CountMeta *Element         `json:"_count,omitempty"`
}

// ReportStratifier is MeasureReport.group.stratifier.
type ReportStratifier struct {
	Code    []CodeableConcept `json:"code,omitempty"`
	Stratum []Stratum         `json:"stratum,omitempty"`
}

// Stratum is one category of a stratifier with its counts and score.
type Stratum struct {
	Value        *CodeableConcept   `json:"value,omitempty"`
	Population   []ReportPopulation `json:"population,omitempty"`
	MeasureScore *Quantity          `json:"measureScore,omitempty"`
}

// ResourceType implements Resource.
func (Measure) ResourceType() string { return "Measure" }

// ResourceType implements Resource.
func (MeasureReport) ResourceType() string { return "MeasureReport" }

type (
	plainMeasure       Measure
	plainMeasureReport MeasureReport
)

// MarshalJSON writes the resource with its resourceType.
func (m Measure) MarshalJSON() ([]byte, error) { return marshalResource("Measure", plainMeasure(m)) }

// UnmarshalJSON reads the resource and checks its resourceType.
func (m *Measure) UnmarshalJSON(b []byte) error {
	return unmarshalResource("Measure", b, (*plainMeasure)(m))
}

// MarshalJSON writes the resource with its resourceType.
func (r MeasureReport) MarshalJSON() ([]byte, error) {
	return marshalResource("MeasureReport", plainMeasureReport(r))
}

// UnmarshalJSON reads the resource and checks its resourceType.
func (r *MeasureReport) UnmarshalJSON(b []byte) error {
	return unmarshalResource("MeasureReport", b, (*plainMeasureReport)(r))
}

// Indicator defines a population indicator: the share of the patients
// with sufficient data (the denominator) who meet a target (the
// numerator), among the patients in the view (the initial population).
type Indicator struct {
	// Code names the indicator ("tir"); the Measure's id is "cgm-" + Code.
	Code string
	// Title and Description say what it counts, in words.
	Title, Description string
	// Initial, Denominator and Numerator state each population's criterion.
	Initial, Denominator, Numerator string
	// Stratifiers are the breakdowns the reports give (code and words).
	Stratifiers []StratifierDef
}

// StratifierDef is a breakdown of an indicator: code ("asl") and words.
type StratifierDef struct {
	Code, Description string
}

// MeasureOf returns the Measure of ind under base (the issuer base URL,
// e.g. "https://fsecgm.example/fhir"), version version.
func MeasureOf(base, version string, ind Indicator) (Measure, error) {
	b, err := normalizeBase(base)
	if err != nil {
		return Measure{}, err
	}
	if ind.Code == "" {
		return Measure{}, errors.New("fhir: measure: indicator without a code")
	}
	id := MeasureID(ind.Code)
	m := Measure{ID: id, URL: b + "/Measure/" + id, Version: version, Name: "FsecgmCGM_" + ind.Code, Title: ind.Title,
		Status: "active", Publisher: "fsecgm", Description: ind.Description,
		Scoring:             &CodeableConcept{Coding: []Coding{{System: MeasureScoringSystem, Code: "proportion", Display: "Proportion"}}},
		Type:                []CodeableConcept{{Coding: []Coding{{System: MeasureTypeSystem, Code: "outcome", Display: "Outcome"}}}},
		ImprovementNotation: improvementIncrease(),
	}
	g := MeasureGroup{Population: []MeasurePopulation{
		{Code: populationCode(PopulationInitial), Criteria: Expression{Language: "text/plain", Expression: ind.Initial}},
		{Code: populationCode(PopulationDenominator), Criteria: Expression{Language: "text/plain", Expression: ind.Denominator}},
		{Code: populationCode(PopulationNumerator), Criteria: Expression{Language: "text/plain", Expression: ind.Numerator}},
	}}
	for _, s := range ind.Stratifiers {
		g.Stratifier = append(g.Stratifier, MeasureStratifier{Code: &CodeableConcept{Text: s.Code}, Description: s.Description})
	}
	m.Group = []MeasureGroup{g}
	return m, nil
}

// MeasureID is the id of the Measure of indicator code.
func MeasureID(code string) string { return "cgm-" + code }

// Counts are a proportion's populations; a nil count is suppressed.
type Counts struct {
	Initial, Denominator, Numerator *int
}

// StratumCounts are the counts of one category of a breakdown.
type StratumCounts struct {
	// Value names the category ("Toscana Centro", "F", "40-64").
	Value string
	Counts
}

// StratifierCounts are the categories of one breakdown.
type StratifierCounts struct {
	// Code is the breakdown's code (StratifierDef.Code).
	Code   string
	Strata []StratumCounts
}

// MeasureReportInput is what MeasureReportOf writes.
type MeasureReportInput struct {
	// Base is the issuer base URL; Indicator the indicator's code.
	Base, Indicator string
	// Scope names what the report covers ("region", an ASL, a centre), in
	// the id and as the reporter's display.
	Scope string
	// From and To are the period's first and last local dates.
	From, To time.Time
	// Generated is when the figures were computed (MeasureReport.date).
	Generated time.Time
	// Total are the scope's counts; Stratifiers its breakdowns.
	Total       Counts
	Stratifiers []StratifierCounts
}

// MeasureReportOf returns the summary MeasureReport of in: the counts as
// published, suppressed ones absent and masked, the score the numerator
// over the denominator (unrounded) where both are published.
func MeasureReportOf(in MeasureReportInput) (MeasureReport, error) {
	b, err := normalizeBase(in.Base)
	if err != nil {
		return MeasureReport{}, err
	}
	if in.Indicator == "" || in.From.IsZero() || in.To.Before(in.From) {
		return MeasureReport{}, fmt.Errorf("fhir: measure report: indicator %q, period %s..%s", in.Indicator,
			in.From.Format(time.DateOnly), in.To.Format(time.DateOnly))
	}
	from, to := in.From.Format(time.DateOnly), in.To.Format(time.DateOnly)
	r := MeasureReport{ID: idOf(key("measure-report", in.Indicator, in.Scope, from, to)), Status: "complete", Type: "summary",
		Measure: b + "/Measure/" + MeasureID(in.Indicator), Reporter: &Reference{Display: in.Scope},
		Period: Period{Start: from, End: to}, ImprovementNotation: improvementIncrease()}
	if !in.Generated.IsZero() {
		r.Date = in.Generated.UTC().Format(time.RFC3339)
	}
	g := MeasureReportGroup{Population: populations(in.Total)}
	if g.MeasureScore, err = score(in.Total); err != nil {
		return MeasureReport{}, err
	}
	for _, s := range in.Stratifiers {
		rs := ReportStratifier{Code: []CodeableConcept{{Text: s.Code}}}
		for _, st := range s.Strata {
			q, err := score(st.Counts)
			if err != nil {
				return MeasureReport{}, err
			}
			rs.Stratum = append(rs.Stratum, Stratum{Value: &CodeableConcept{Text: st.Value}, Population: populations(st.Counts), MeasureScore: q})
		}
		g.Stratifier = append(g.Stratifier, rs)
	}
	r.Group = []MeasureReportGroup{g}
	return r, nil
}

// populations writes c's counts, a suppressed one masked.
func populations(c Counts) []ReportPopulation {
	out := make([]ReportPopulation, 0, 3)
	for _, p := range []struct {
		code string
		n    *int
	}{{PopulationInitial, c.Initial}, {PopulationDenominator, c.Denominator}, {PopulationNumerator, c.Numerator}} {
		rp := ReportPopulation{Code: populationCode(p.code), Count: p.n}
		if p.n == nil {
			rp.CountMeta = &Element{Extension: []Extension{{URL: DataAbsentReasonURL, ValueCode: "masked"}}}
		}
		out = append(out, rp)
	}
	return out
}

// score is the numerator over the denominator, nil unless both are
// published and the denominator is not zero.
func score(c Counts) (*Quantity, error) {
	if c.Numerator == nil || c.Denominator == nil || *c.Denominator == 0 {
		return nil, nil
	}
	d, err := NewDecimal(float64(*c.Numerator) / float64(*c.Denominator))
	if err != nil {
		return nil, err
	}
	return &Quantity{Value: d}, nil
}

func populationCode(code string) *CodeableConcept {
	display := map[string]string{PopulationInitial: "Initial Population", PopulationDenominator: "Denominator", PopulationNumerator: "Numerator"}[code]
	return &CodeableConcept{Coding: []Coding{{System: MeasurePopulationSystem, Code: code, Display: display}}}
}

func improvementIncrease() *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: MeasureImprovementSystem, Code: "increase", Display: "Increased score indicates improvement"}}}
}
