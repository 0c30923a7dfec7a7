package taccuino

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"time"

	"fsecgm/taccuino/population"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// The population view's API (issue 19): the published tables of the
// releases, for the regional and ASL analysts and the heads of
// diabetology centres; aggregates only, every query in the population
// view's own log (population_audit), never in a patient's access log,
// since no patient is reached.
//
//	GET /api/v1/population/dashboard?scope=&period=14d|90d
//	GET /api/v1/population/tables?scope=&dim=&period=14d|90d|month&month=YYYY-MM&format=json|csv
//	GET /api/v1/population/trend?scope=
//	GET /api/v1/population/funnel?period=&target=

// viewer returns the population viewer of the request, or an error for a
// caller who may not use the population view.
func (s *Server) viewer(c *echo.Context) (population.Viewer, error) {
	p := web.Principal(c)
	if p == nil {
		return population.Viewer{}, web.Unauthenticated(web.AuthError(c))
	}
	return population.ViewerOf(p, c.Path(), web.RequestIDOf(c)), nil
}

func (s *Server) populationReader() *population.Reader {
	return population.NewReader(s.deps.Pool, s.deps.Now)
}

// populationError maps the reader's errors.
func populationError(err error) error {
	switch {
	case errors.Is(err, population.ErrForbidden):
		return web.Forbidden()
	case errors.Is(err, population.ErrNoRelease):
		return web.NotFound("no published figures for that period yet")
	}
	return err
}

// scopeParam reads the scope parameter: the region when absent.
func scopeParam(c *echo.Context) population.Scope {
	if sc := population.Scope(c.QueryParam("scope")); sc != "" {
		return sc
	}
	return population.ScopeRegion
}

// populationQuery reads the table's query from the request.
func populationQuery(c *echo.Context) (population.Query, error) {
	q := population.Query{Scope: population.Scope(c.QueryParam("scope")), Dim: population.DimTotal, Kind: population.Days14}
	if q.Scope == "" {
		q.Scope = population.ScopeRegion
	}
	if d := c.QueryParam("dim"); d != "" {
		dim, ok := population.ParseDim(d)
		if !ok {
			return q, web.BadRequest("dim", "want total, asl, district, centre, age, sex or type")
		}
		q.Dim = dim
	}
	k, ok := population.ParsePeriodKind(c.QueryParam("period"))
	if !ok {
		return q, web.BadRequest("period", "want 14d, 90d or month")
	}
	q.Kind = k
	if m := c.QueryParam("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil || k != population.Month {
			return q, web.BadRequest("month", "want YYYY-MM with period=month")
		}
		q.Month = t
	}
	return q, nil
}

// apiPopulationDashboard serves the whole dashboard of a scope over a
// period: one read of what the refresh stored, one line of the log.
func (s *Server) apiPopulationDashboard(c *echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return err
	}
	sc := scopeParam(c)
	k, ok := population.ParsePeriodKind(c.QueryParam("period"))
	if !ok || k == population.Month {
		return web.BadRequest("period", "want 14d or 90d")
	}
	d, err := s.populationReader().Dashboard(c.Request().Context(), v, sc, k)
	if err != nil {
		return populationError(err)
	}
	return c.JSON(http.StatusOK, d)
}

// apiPopulationTable serves a published table as JSON or CSV.
func (s *Server) apiPopulationTable(c *echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return err
	}
	q, err := populationQuery(c)
	if err != nil {
		return err
	}
	rel, err := s.populationReader().Table(c.Request().Context(), v, q)
	if err != nil {
		return populationError(err)
	}
	switch c.QueryParam("format") {
	case "", "json":
		return c.JSON(http.StatusOK, rel)
	case "csv":
		b, err := populationCSV(rel)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="popolazione-`+string(q.Dim)+`.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b)
	}
	return web.BadRequest("format", "want json or csv")
}

// populationCSV writes a table as CSV: one line per row, the counts, the
// share meeting each target and in each GRI zone, the quartiles of each
// metric; a suppressed figure is empty.
func populationCSV(rel population.Release) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"period", "first_day", "last_day", "k", "scope", "dim", "key", "enrolled", "with_data", "sufficient", "suppressed"}
	for _, t := range population.Targets {
		head = append(head, "target_"+t.Code+"_patients", "target_"+t.Code+"_percent")
	}
	for _, z := range population.GRIZones {
		head = append(head, "gri_zone_"+z+"_patients", "gri_zone_"+z+"_percent")
	}
	for _, m := range population.Metrics {
		head = append(head, m.Code+"_q1", m.Code+"_median", m.Code+"_q3")
	}
	if err := w.Write(head); err != nil {
		return nil, err
	}
	n := func(x *int) string {
		if x == nil {
			return ""
		}
		return strconv.Itoa(*x)
	}
	f := func(x *float64) string {
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	for _, r := range rel.Table.Rows {
		line := []string{rel.Kind.String(), rel.First, rel.Last, strconv.Itoa(rel.K), string(rel.Table.Scope), string(rel.Table.Dim), r.Key,
			n(r.Enrolled), n(r.WithData), n(r.Sufficient), strconv.FormatBool(r.Suppressed)}
		for _, t := range population.Targets {
			line = append(line, n(r.Targets[t.Code].Patients), f(r.Targets[t.Code].Percent))
		}
		for _, z := range population.GRIZones {
			line = append(line, n(r.GRIZones[z].Patients), f(r.GRIZones[z].Percent))
		}
		for _, m := range population.Metrics {
			if q, ok := r.Distributions[m.Code]; ok {
				line = append(line, f(&q.Q1), f(&q.Median), f(&q.Q3))
			} else {
				line = append(line, "", "", "")
			}
		}
		if err := w.Write(line); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// apiPopulationTrend serves a scope's totals month by month.
func (s *Server) apiPopulationTrend(c *echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return err
	}
	sc := scopeParam(c)
	pts, err := s.populationReader().Trend(c.Request().Context(), v, sc)
	if err != nil {
		return populationError(err)
	}
	if pts == nil {
		pts = []population.TrendPoint{}
	}
	return c.JSON(http.StatusOK, map[string]any{"scope": sc, "points": pts})
}

// apiPopulationFunnel serves the funnel plot of a target over the centres.
func (s *Server) apiPopulationFunnel(c *echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return err
	}
	k, ok := population.ParsePeriodKind(c.QueryParam("period"))
	if !ok || k == population.Month {
		return web.BadRequest("period", "want 14d or 90d")
	}
	target := c.QueryParam("target")
	if target == "" {
		target = "tir"
	}
	valid := false
	for _, t := range population.Targets {
		valid = valid || t.Code == target
	}
	if !valid {
		return web.BadRequest("target", "want tir, tbr, tbr54, tar, cv, gmi or all")
	}
	f, err := s.populationReader().Funnel(c.Request().Context(), v, k, target)
	if err != nil {
		return populationError(err)
	}
	return c.JSON(http.StatusOK, f)
}
