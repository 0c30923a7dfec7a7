package fhirapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// The population view's indicators as FHIR quality measures (issue 19),
// so that the region's own BI tools read the same figures as the
// dashboard:
//
//	GET /fhir/Measure                the indicators (one Measure per consensus target and GRI zone)
//	GET /fhir/Measure/{id}           one of them
//	GET /fhir/MeasureReport?scope=&period=14d|90d[&measure=]
//	                                 the latest published figures of a scope, one summary
//	                                 MeasureReport per indicator, stratified by every breakdown
//
// The reports are built from the stored dashboard (population.Reader.
// Dashboard): the counts as published after suppression, for the roles
// that may read the scope (a regional or ASL analyst, a centre's head),
// each query written in the population view's audit log.

// measureVersion is the version of the Measures' definitions.
const measureVersion = "2026.12"

// indicator is an indicator of the population view with where its
// numerator is in a published row.
type indicator struct {
	fhir.Indicator
	numerator func(population.Row) *int
}

// indicators returns the indicators of the population view, stratified by
// every breakdown: the share of the patients with sufficient data meeting
// each consensus target (population.Targets), and the share in each zone of
// the Glycemia Risk Index (population.GRIZones).
func indicators() []indicator {
	var strata []fhir.StratifierDef
	for _, d := range population.Dims() {
		if d != population.DimTotal {
			strata = append(strata, fhir.StratifierDef{Code: string(d), Description: dimWords[d]})
		}
	}
	const (
		initial     = "patients connected, not opposed to secondary use of their data, enrolled by the period's end or with readings in it"
		denominator = "initial population with at least 70 % of the period's expected readings"
		suppressed  = " Counts under k patients, and their complements, are suppressed."
	)
	var out []indicator
	for _, t := range population.Targets {
		out = append(out, indicator{Indicator: fhir.Indicator{Code: t.Code, Title: t.Title,
			Description: "Share of the people with a continuous glucose monitor connected to the regional health record, with at least 70 % of the period's readings, whose figures meet the target: " +
				t.Criterion + " (Battelino T et al., Diabetes Care 2019;42:1593-1603, Tables 2 and 4)." + suppressed,
			Initial: initial, Denominator: denominator, Numerator: "denominator whose figures meet: " + t.Criterion, Stratifiers: strata},
			numerator: func(r population.Row) *int { return r.Targets[t.Code].Patients }})
	}
	for z, zone := range population.GRIZones {
		upper := fmt.Sprintf("up to %d", 20*(z+1))
		if z == len(population.GRIZones)-1 {
			upper = "above 80"
		}
		out = append(out, indicator{Indicator: fhir.Indicator{Code: "gri-" + strings.ToLower(zone), Title: "Glycemia Risk Index in zone " + zone,
			Description: "Share of the people with a continuous glucose monitor connected to the regional health record, with at least 70 % of the period's readings, whose Glycemia Risk Index is in zone " +
				zone + " (" + upper + "; Klonoff DC et al., J Diabetes Sci Technol 2023;17:1226-1242)." + suppressed,
			Initial: initial, Denominator: denominator, Numerator: "denominator whose GRI is in zone " + zone + " (" + upper + ")", Stratifiers: strata},
			numerator: func(r population.Row) *int { return r.GRIZones[zone].Patients }})
	}
	return out
}

// dimWords describe the breakdowns.
var dimWords = map[population.Dim]string{
	population.DimASL:      "local health authority (ASL) of residence",
	population.DimDistrict: "health district (zona-distretto) of residence",
	population.DimCentre:   "diabetology centre caring for the patient",
	population.DimAge:      "age band",
	population.DimSex:      "sex",
	population.DimType:     "diabetes type",
}

// measure returns the Measure of indicator code.
func (a *api) measure(code string) (fhir.Measure, bool, error) {
	for _, ind := range indicators() {
		if ind.Code == code {
			m, err := fhir.MeasureOf(a.base, measureVersion, ind.Indicator)
			return m, true, err
		}
	}
	return fhir.Measure{}, false, nil
}

// searchMeasures answers every Measure.
func (a *api) searchMeasures(c *echo.Context) error {
	q, err := checkParams(c)
	if err != nil {
		return err
	}
	sp, err := resultOf(q)
	if err != nil {
		return err
	}
	var entries []searchEntry
	for _, ind := range indicators() {
		m, err := fhir.MeasureOf(a.base, measureVersion, ind.Indicator)
		if err != nil {
			return err
		}
		if entries, err = appendEntry(entries, a.base+"/Measure/"+m.ID, m); err != nil {
			return err
		}
	}
	return writeBundle(c, a.searchset("Measure", sp, len(entries), entries))
}

// readMeasure answers one Measure.
func (a *api) readMeasure(c *echo.Context) error {
	m, ok, err := a.measure(strings.TrimPrefix(c.Param("id"), "cgm-"))
	if err != nil {
		return err
	}
	if !ok || c.Param("id") != m.ID {
		return fail(http.StatusNotFound, "not-found", "", "Measure/"+c.Param("id")+" is not known (see GET /fhir/Measure)")
	}
	return writeResource(c, http.StatusOK, m)
}

// searchMeasureReports answers the latest published figures of a scope
// and period as one MeasureReport per indicator (or the one of measure).
func (a *api) searchMeasureReports(c *echo.Context) error {
	q, err := checkParams(c, "scope", "period", "measure")
	if err != nil {
		return err
	}
	sp, err := resultOf(q)
	if err != nil {
		return err
	}
	p := web.Principal(c)
	if p == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	scope := population.ScopeRegion
	if s := q.Get("scope"); s != "" {
		scope = population.Scope(s)
	}
	kind, ok := population.ParsePeriodKind(q.Get("period"))
	if !ok || kind == population.Month {
		return badParam("period", "want 14d or 90d")
	}
	var only string
	if m := q.Get("measure"); m != "" {
		only = m[strings.LastIndex(m, "/")+1:] // an id or a canonical URL
		if _, ok, _ := a.measure(strings.TrimPrefix(only, "cgm-")); !ok {
			return badParam("measure", "not a Measure of this server (see GET /fhir/Measure)")
		}
	}
	r := population.NewReader(a.d.Pool, a.d.Now)
	d, err := r.Dashboard(c.Request().Context(), population.ViewerOf(p, c.Path(), web.RequestIDOf(c)), scope, kind)
	switch {
	case errors.Is(err, population.ErrForbidden):
		return fail(http.StatusForbidden, "forbidden", "", "this population view is not yours to read")
	case errors.Is(err, population.ErrNoRelease):
		return fail(http.StatusNotFound, "not-found", "", "no published figures of that scope and period yet")
	case err != nil:
		return err
	}
	reports, err := measureReports(a.base, d)
	if err != nil {
		return err
	}
	var entries []searchEntry
	for _, mr := range reports {
		if only != "" && !strings.HasSuffix(mr.Measure, "/"+only) {
			continue
		}
		if entries, err = appendEntry(entries, a.base+"/MeasureReport/"+mr.ID, mr); err != nil {
			return err
		}
	}
	return writeBundle(c, a.searchset("MeasureReport", sp, len(entries), entries))
}

// measureReports returns the MeasureReports of a dashboard: per indicator,
// the scope's total and its breakdowns' rows, counts as published.
func measureReports(base string, d population.Dashboard) ([]fhir.MeasureReport, error) {
	from, err := time.Parse(time.DateOnly, d.First)
	if err != nil {
		return nil, err
	}
	to, err := time.Parse(time.DateOnly, d.Last)
	if err != nil {
		return nil, err
	}
	var out []fhir.MeasureReport
	for _, ind := range indicators() {
		counts := func(r population.Row) fhir.Counts {
			return fhir.Counts{Initial: r.Enrolled, Denominator: r.Sufficient, Numerator: ind.numerator(r)}
		}
		in := fhir.MeasureReportInput{Base: base, Indicator: ind.Code, Scope: string(d.Scope), From: from, To: to, Generated: d.BuiltAt}
		for _, tb := range d.Tables {
			if tb.Dim == population.DimTotal {
				if len(tb.Rows) > 0 {
					in.Total = counts(tb.Rows[0])
				}
				continue
			}
			sc := fhir.StratifierCounts{Code: string(tb.Dim)}
			for _, r := range tb.Rows {
				value := r.Key
				if value == population.Unknown {
					value = "unknown"
				}
				sc.Strata = append(sc.Strata, fhir.StratumCounts{Value: value, Counts: counts(r)})
			}
			in.Stratifiers = append(in.Stratifiers, sc)
		}
		mr, err := fhir.MeasureReportOf(in)
		if err != nil {
			return nil, err
		}
		out = append(out, mr)
	}
	return out, nil
}

// appendEntry adds resource v at fullURL to a searchset's entries.
func appendEntry(entries []searchEntry, fullURL string, v any) ([]searchEntry, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(entries, searchEntry{FullURL: fullURL, Resource: b, Search: &entrySearch{Mode: "match"}}), nil
}
