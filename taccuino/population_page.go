package taccuino

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"

	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// populationView is the dashboard of the population view.
type populationView struct {
	K                              int
	Scopes                         []option
	Periods                        []option
	Dims                           []option
	Days                           string
	Empty                          bool
	Enrolled, WithData, Sufficient string
	Targets                        []targetLine
	Histogram                      template.HTML
	By                             string
	DimLabel                       string
	Rows                           []breakdownLine
	CSV                            string
	Funnel                         template.HTML
	FunnelShown, FunnelEmpty       bool
	// Trend draws the scope's months; TrendRows say the same in numbers.
	Trend     template.HTML
	TrendRows []trendLine
}

type trendLine struct{ Month, Sufficient, TIR, All string }

type option struct {
	Value, Label string
	Selected     bool
}

type targetLine struct{ Label, Patients, Share string }

type breakdownLine struct{ Label, Sufficient, TIR, All, MedianTIR, MedianGMI string }

// pagePopulation serves the dashboard: GET /popolazione?scope=&period=&dim=.
func (s *Server) pagePopulation(c *echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, web.AsError(err))
	}
	if !v.IsViewer() {
		return s.errorPage(c, web.Forbidden())
	}
	l := web.Lang(c)
	ctx := c.Request().Context()
	r := s.populationReader()
	q, err := populationQuery(c)
	if err != nil || q.Kind == population.Month {
		return s.errorPage(c, web.BadRequest("period", "want 14d or 90d"))
	}
	if c.QueryParam("scope") == "" && v.Role == "practitioner" {
		q.Scope = population.CentreScope(v.Organization)
	}
	if q.Dim == population.DimTotal && c.QueryParam("dim") == "" {
		q.Dim = population.DimASL
		if strings.HasPrefix(string(q.Scope), "asl:") {
			q.Dim = population.DimDistrict
		}
	}
	pv := populationView{K: population.DefaultK}
	scopes := v.Scopes(nil, nil)
	if v.Role == "analyst" && v.PopulationScope == string(population.ScopeRegion) {
		scopes = []population.Scope{population.ScopeRegion, population.ASLScope("TC"), population.ASLScope("NO"), population.ASLScope("SE")}
	}
	for _, sc := range scopes {
		pv.Scopes = append(pv.Scopes, option{Value: string(sc), Label: scopeLabel(l, sc), Selected: sc == q.Scope})
	}
	for _, k := range []population.PeriodKind{population.Days14, population.Days90} {
		pv.Periods = append(pv.Periods, option{Value: k.String(), Label: l.T("pop_" + k.String()), Selected: k == q.Kind})
	}
	for _, d := range population.Dims()[1:] {
		pv.Dims = append(pv.Dims, option{Value: string(d), Label: l.T("pop_dim_" + string(d)), Selected: d == q.Dim})
	}
	// One read and one line of the query log for the whole view.
	dash, err := r.Dashboard(ctx, v, q.Scope, q.Kind)
	switch {
	case errors.Is(err, population.ErrNoRelease):
		pv.Empty = true
		return s.render(c, http.StatusOK, "population", s.newView(c, "pop_title", pv))
	case err != nil:
		return s.errorPage(c, web.AsError(populationError(err)))
	}
	total, ok := dash.Table(population.DimTotal)
	if !ok || len(total.Rows) != 1 {
		pv.Empty = true
		return s.render(c, http.StatusOK, "population", s.newView(c, "pop_title", pv))
	}
	pv.K = dash.K
	pv.Days = l.F("pop_days", dash.First, dash.Last)
	row := total.Rows[0]
	count := func(n *int) string {
		if n == nil {
			return l.T("pop_suppressed")
		}
		return l.Number(float64(*n), 0)
	}
	share := func(sh population.Share) string {
		if sh.Percent == nil {
			return l.T("pop_suppressed")
		}
		return l.Percent(*sh.Percent, 0)
	}
	pv.Enrolled, pv.WithData, pv.Sufficient = count(row.Enrolled), count(row.WithData), count(row.Sufficient)
	for _, t := range population.Targets {
		pv.Targets = append(pv.Targets, targetLine{Label: l.T("pop_target_" + t.Code), Patients: count(row.Targets[t.Code].Patients), Share: share(row.Targets[t.Code])})
	}
	pv.Histogram = histogramSVG(l, row.Histograms["tir"], population.Metrics[0].Edges)
	if by, ok := dash.Table(q.Dim); ok && len(by.Rows) > 0 {
		pv.DimLabel = l.T("pop_dim_" + string(q.Dim))
		pv.By = l.F("pop_by", strings.ToLower(pv.DimLabel))
		for _, br := range by.Rows {
			line := breakdownLine{Label: categoryLabel(l, q.Dim, br.Key), Sufficient: count(br.Sufficient),
				TIR: share(br.Targets["tir"]), All: share(br.Targets["all"]), MedianTIR: "—", MedianGMI: "—"}
			if d, ok := br.Distributions["tir"]; ok {
				line.MedianTIR = l.Percent(d.Median, 0)
			}
			if d, ok := br.Distributions["gmi"]; ok {
				line.MedianGMI = l.Percent(d.Median, 1)
			}
			pv.Rows = append(pv.Rows, line)
		}
		pv.CSV = "/api/v1/population/tables?" + url.Values{"scope": {string(q.Scope)}, "dim": {string(q.Dim)}, "period": {q.Kind.String()}, "format": {"csv"}}.Encode()
	}
	for _, tp := range dash.Trend {
		pv.TrendRows = append(pv.TrendRows, trendLine{Month: tp.Month, Sufficient: count(tp.Row.Sufficient),
			TIR: share(tp.Row.Targets["tir"]), All: share(tp.Row.Targets["all"])})
	}
	pv.Trend = trendSVG(l, dash.Trend)
	if f := dash.Funnel; f != nil {
		pv.FunnelShown = true
		pv.FunnelEmpty = len(f.Points) == 0
		pv.Funnel = funnelSVG(l, *f)
	}
	return s.render(c, http.StatusOK, "population", s.newView(c, "pop_title", pv))
}

func scopeLabel(l locale.Lang, sc population.Scope) string {
	k, v, _ := strings.Cut(string(sc), ":")
	switch k {
	case "asl":
		return l.F("pop_asl", v)
	case "centre":
		return l.F("pop_centre", v)
	}
	return l.T("pop_region")
}

func categoryLabel(l locale.Lang, d population.Dim, key string) string {
	if key == population.Unknown {
		return l.T("pop_unknown")
	}
	switch d {
	case population.DimType:
		return l.T("pop_type_" + key)
	case population.DimSex:
		return l.T("pop_sex_" + key)
	case population.DimAge:
		return l.F("pop_age_years", key)
	}
	return key
}

// histogramSVG draws the bins of a histogram as bars (a suppressed bin is
// an empty slot), with the axis labelled by the bins' edges.
func histogramSVG(l locale.Lang, bins []*int, edges []float64) template.HTML {
	if len(bins) == 0 {
		return ""
	}
	const w, h, left, bottom = 640.0, 240.0, 44.0, 36.0
	most := 1
	for _, b := range bins {
		if b != nil {
			most = max(most, *b)
		}
	}
	bw := (w - left - 8) / float64(len(bins))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="pop-chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(l.T("pop_hist_tir")))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444"/>`, left, h-bottom, w-8, h-bottom)
	for i, n := range bins {
		x := left + float64(i)*bw
		if n != nil && *n > 0 {
			bh := (h - bottom - 20) * float64(*n) / float64(most)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2e7d32"><title>%s</title></rect>`,
				x+2, h-bottom-bh, bw-4, bh, l.Number(float64(*n), 0))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13">%s</text>`, x+bw/2, h-bottom-bh-4, l.Number(float64(*n), 0))
		}
		if i > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle" font-size="13">%s</text>`, x, h-bottom+16, l.Number(edges[i-1], 0))
		}
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-size="13">%s</text></svg>`, (w+left)/2, h-4, template.HTMLEscapeString(l.T("pop_hist_axis")))
	return template.HTML(b.String())
}

// trendSVG draws the scope's months (Battelino et al. 2019's primary
// target, TIR > 70 %, and every target together) as two lines of the
// share of the patients with sufficient data, each point labelled with
// the number of patients behind it; a suppressed month is a gap. Nil with
// fewer than two months.
func trendSVG(l locale.Lang, pts []population.TrendPoint) template.HTML {
	shown := 0
	for _, tp := range pts {
		if tp.Row.Targets["tir"].Percent != nil {
			shown++
		}
	}
	if len(pts) < 2 || shown == 0 {
		return ""
	}
	const w, h, left, right, bottom, top = 640.0, 280.0, 52.0, 24.0, 44.0, 16.0
	x := func(i int) float64 { return left + (w-left-right)*float64(i)/float64(len(pts)-1) }
	y := func(p float64) float64 { return top + (h-top-bottom)*(1-p/100) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="pop-chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(l.T("pop_trend")))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444"/>`, left, top, left, h-bottom)
	for _, p := range []float64{0, 50, 100} {
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" font-size="13">%s</text>`, left-4, y(p)+4, l.Percent(p, 0))
	}
	line := func(target, color, dash string) {
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, strings.Join(seg, " "), color, dash)
			}
			seg = nil
		}
		for i, tp := range pts {
			sh := tp.Row.Targets[target]
			if sh.Percent == nil {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(i), y(*sh.Percent)))
			n := ""
			if tp.Row.Sufficient != nil {
				n = l.Number(float64(*tp.Row.Sufficient), 0)
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s · %s · %s</title></circle>`, x(i), y(*sh.Percent), color,
				tp.Month, l.Percent(*sh.Percent, 0), template.HTMLEscapeString(l.F("pop_trend_n", n)))
		}
		flush()
	}
	line("tir", "#1565c0", "none")
	line("all", "#2e7d32", "6 3")
	for i, tp := range pts {
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case len(pts) - 1:
			anchor = "end"
		}
		if i == 0 || i == len(pts)-1 || len(pts) <= 12 || i%3 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="%s" font-size="12">%s</text>`, x(i), h-bottom+16, anchor, tp.Month)
		}
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="13" fill="#1565c0">— %s</text>`, left+8, h-6, template.HTMLEscapeString(l.T("pop_target_tir")))
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="13" fill="#2e7d32">- - %s</text></svg>`, (w+left)/2, h-6, template.HTMLEscapeString(l.T("pop_target_all")))
	return template.HTML(b.String())
}

// funnelSVG draws the funnel plot: the region's share, the 95 % and
// 99.8 % limits as curves, each centre a point.
func funnelSVG(l locale.Lang, f population.Funnel) template.HTML {
	if len(f.Limits) == 0 {
		return ""
	}
	const w, h, left, bottom, top = 640.0, 300.0, 52.0, 40.0, 12.0
	hi := float64(f.Limits[len(f.Limits)-1].N)
	x := func(n float64) float64 { return left + (w-left-12)*n/hi }
	y := func(p float64) float64 { return top + (h-top-bottom)*(1-p) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="pop-chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(l.T("pop_funnel")))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444"/>`, left, h-bottom, w-12, h-bottom)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#444"/>`, left, top, left, h-bottom)
	for _, p := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" font-size="13">%s</text>`, left-4, y(p)+4, l.Percent(p*100, 0))
	}
	for _, n := range []float64{0, hi / 2, hi} {
		anchor := map[bool]string{true: "start", false: "middle"}[n == 0]
		if n == hi {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="%s" font-size="12">%s</text>`, x(n), h-bottom+16, anchor, l.Number(math.Round(n), 0))
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#1565c0" stroke-width="2"/>`, left, y(f.Theta0), w-12, y(f.Theta0))
	curve := func(get func(population.Limits) float64, dash string) {
		var pts []string
		for _, lim := range f.Limits {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(lim.N)), y(get(lim))))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#555" stroke-dasharray="%s"/>`, strings.Join(pts, " "), dash)
	}
	curve(func(l population.Limits) float64 { return l.Low95 }, "6 3")
	curve(func(l population.Limits) float64 { return l.High95 }, "6 3")
	curve(func(l population.Limits) float64 { return l.Low998 }, "2 2")
	curve(func(l population.Limits) float64 { return l.High998 }, "2 2")
	for _, p := range f.Points {
		color := "#2e7d32"
		if p.Position != population.Within {
			color = "#c62828"
		}
		name := p.Centre
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="%s"><title>%s %s · %s</title></circle>`, x(float64(p.N)), y(p.Proportion), color,
			template.HTMLEscapeString(name), l.Number(float64(p.N), 0), l.Percent(p.Proportion*100, 0))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-size="13">%s</text></svg>`, (w+left)/2, h-6, template.HTMLEscapeString(l.T("pop_funnel_x")))
	return template.HTML(b.String())
}
