package fhir

import (
	"encoding/json"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

// measureFixture is the indicator "TIR > 70 %" by ASL, and a 14-day report
// of it in which one ASL's counts are suppressed.
func measureFixture(t *testing.T) (Measure, MeasureReport) {
	t.Helper()
	ind := Indicator{Code: "tir", Title: "Tempo in range sopra il 70 %",
		Description: "Share of the patients with sufficient CGM data whose time in range 70-180 mg/dL exceeds 70 % (Battelino et al., Diabetes Care 2019;42:1593, Table 4).",
		Initial:     "patients connected, not opposed to secondary use", Denominator: "with at least 70 % of the period's readings",
		Numerator: "time in range > 70 %", Stratifiers: []StratifierDef{{Code: "asl", Description: "azienda sanitaria locale"}}}
	m, err := MeasureOf("https://fsecgm.example/fhir/", "2026.12", ind)
	if err != nil {
		t.Fatal(err)
	}
	in := MeasureReportInput{Base: "https://fsecgm.example/fhir", Indicator: "tir", Scope: "region",
		From: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		Generated: time.Date(2026, 12, 6, 3, 30, 0, 0, time.UTC),
		Total:     Counts{Initial: intp(1320), Denominator: intp(1000), Numerator: intp(420)},
		Stratifiers: []StratifierCounts{{Code: "asl", Strata: []StratumCounts{
			{Value: "Toscana Centro", Counts: Counts{Initial: intp(700), Denominator: intp(530), Numerator: intp(250)}},
			{Value: "Toscana Nord Ovest", Counts: Counts{Initial: intp(600), Denominator: intp(462), Numerator: nil}},
			{Value: "Toscana Sud Est", Counts: Counts{Initial: intp(20), Denominator: intp(8), Numerator: nil}},
		}}}}
	r, err := MeasureReportOf(in)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

// TestMeasureReport checks what the report says: the counts as given, the
// score unrounded, suppressed counts absent and masked, no score without
// both counts.
func TestMeasureReport(t *testing.T) {
	m, r := measureFixture(t)
	if m.ID != "cgm-tir" || m.URL != "https://fsecgm.example/fhir/Measure/cgm-tir" || r.Measure != m.URL {
		t.Errorf("measure %s at %s, report of %s", m.ID, m.URL, r.Measure)
	}
	g := r.Group[0]
	if g.MeasureScore == nil || g.MeasureScore.Value != "0.42" || *g.Population[2].Count != 420 {
		t.Errorf("region: score %+v, numerator %v", g.MeasureScore, g.Population[2].Count)
	}
	st := g.Stratifier[0].Stratum
	if len(st) != 3 || st[0].MeasureScore == nil || st[0].MeasureScore.Value != Decimal("0.4716981132075472") {
		t.Fatalf("Toscana Centro: %+v", st[0])
	}
	for _, s := range st[1:] {
		num := s.Population[2]
		if s.MeasureScore != nil || num.Count != nil || num.CountMeta == nil || num.CountMeta.Extension[0].ValueCode != "masked" {
			t.Errorf("%s: suppressed numerator written as %+v, score %+v", s.Value.Text, num, s.MeasureScore)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back MeasureReport
	if err := json.Unmarshal(b, &back); err != nil || back.ID != r.ID || back.Group[0].Stratifier[0].Stratum[1].Population[2].CountMeta == nil {
		t.Errorf("round trip: %v, %+v", err, back)
	}
	if _, err := MeasureReportOf(MeasureReportInput{Base: "https://fsecgm.example/fhir", Indicator: "tir"}); err == nil {
		t.Error("a report without a period was written")
	}
}

// TestMeasureNode validates the Measure and the MeasureReport with the
// project's node validator (base R4).
func TestMeasureNode(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the Measure validation (node) did not run")
	}
	toolDir, igDir := nodeValidator(t)
	m, r := measureFixture(t)
	code, rep := runNode(t, toolDir, igDir, nil, map[string][]byte{"measure": mustJSON(t, m), "measure-report": mustJSON(t, r)})
	if code != 0 || !rep.Valid {
		logFailures(t, rep, "")
		t.Fatalf("base R4: validate.mjs exit status %d, want 0", code)
	}
}
