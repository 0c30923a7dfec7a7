package agpdoc

import (
	"fmt"

	"fsecgm/agp"
	"fsecgm/taccuino/locale"
)

// The Glycemia Risk Index on the report (Klonoff et al., J Diabetes Sci
// Technol 2023;17:1226): its value and zone among the statistics, and the
// GRI grid beside the AGP curve — the hypoglycaemia component on the
// horizontal axis, the hyperglycaemia component on the vertical one, the
// five zones A–E as the bands between the lines 3.0·hypo + 1.6·hyper = 20,
// 40, 60 and 80, this period's point and the previous period's. The figures
// come from the engine (agp.GRI); this file only draws them.

// GRIView is the GRI as the page shows it.
type GRIView struct {
	Value, Zone, Hypo, Hyper string // written by package locale
	// Prev* are the previous period's, empty without one.
	PrevValue, PrevZone string
	Note                string // the one-line explanation
	cur, prev           *point // (hypo, hyper) for the grid
}

// GRI grid geometry: the axes of Klonoff 2023, Figure 5 (hypoglycaemia
// component 0–30 %, hyperglycaemia component 0–60 %); points beyond are
// drawn on the edge (they are in zone E).
const (
	griW, griH     = 44.0, agpH
	griGap         = 4.0
	griMaxHypo     = 30.0
	griMaxHyper    = 60.0
	griLeftMargin  = 8.0
	griBottomMarg  = 9.0
	griTopMargin   = 6.0
	griRightMargin = 1.5
)

// griZoneColors shade zones A–E, green to red (our palette).
var griZoneColors = [5]string{"#cfe8d3", "#e6efc4", "#fbefc0", "#f8d9b5", "#f3c2bd"}

// griView makes the view of the report's GRI and the previous period's
// (when both periods have at least 70 % of their readings).
func griView(l locale.Lang, r agp.Report, prev *agp.Report) *GRIView {
	if r.GRI == nil {
		return nil
	}
	g := r.GRI
	v := &GRIView{Value: l.Number(g.Value, 0), Zone: g.Zone, Hypo: l.Percent(g.Hypo, 1), Hyper: l.Percent(g.Hyper, 1),
		Note: locale.Lang(l).T("gri_explain"), cur: &point{g.Hypo, g.Hyper}}
	// The previous period's point is a comparison: shown, like the other
	// changes, only when both periods have enough data (compare).
	if prev != nil && prev.GRI != nil && prev.Readings > 0 &&
		r.ActivePercent >= sufficientActive && prev.ActivePercent >= sufficientActive {
		v.PrevValue, v.PrevZone = l.Number(prev.GRI.Value, 0), prev.GRI.Zone
		v.prev = &point{prev.GRI.Hypo, prev.GRI.Hyper}
	}
	return v
}

// griFigure is the statistics line of the GRI: value and zone.
func griFigure(l locale.Lang, v *GRIView) Figure {
	f := Figure{Key: "gri", Label: l.T("gri"), Value: dash}
	if v != nil {
		f.Value, f.Key2, f.Value2 = v.Value, "gri_zone", l.T("gri_zone")+" "+v.Zone
	}
	return f
}

// withGRI inserts the GRI line after the variability lines (before the
// counts of readings and scans).
func withGRI(stats []Figure, f Figure) []Figure {
	for i, s := range stats {
		if s.Key == "readings" {
			return append(stats[:i:i], append([]Figure{f}, stats[i:]...)...)
		}
	}
	return append(stats, f)
}

// clipHalfPlane keeps the part of the convex polygon pts where
// a·x + b·y ≥ c (Sutherland–Hodgman, one edge).
func clipHalfPlane(pts []point, a, b, c float64) []point {
	var out []point
	in := func(p point) bool { return a*p.x+b*p.y >= c }
	for i, p := range pts {
		q := pts[(i+1)%len(pts)]
		if in(p) {
			out = append(out, p)
		}
		if in(p) != in(q) {
			t := (c - a*p.x - b*p.y) / (a*(q.x-p.x) + b*(q.y-p.y))
			out = append(out, point{p.x + t*(q.x-p.x), p.y + t*(q.y-p.y)})
		}
	}
	return out
}

// drawGRIGrid draws the GRI grid in [x, x+w] × [y, y+h]: the five zones
// shaded, their letters, the axes, this period's point (filled) and the
// previous period's (hollow) joined by a dashed line, and a legend.
func drawGRIGrid(c canvas, x, y, w, h float64, v *GRIView, lb map[string]string) {
	px, py := x+griLeftMargin, y+griTopMargin
	pw, ph := w-griLeftMargin-griRightMargin, h-griTopMargin-griBottomMarg
	at := func(hypo, hyper float64) point {
		hypo, hyper = min(max(hypo, 0), griMaxHypo), min(max(hyper, 0), griMaxHyper)
		return point{px + hypo/griMaxHypo*pw, py + ph - hyper/griMaxHyper*ph}
	}
	// Zones: the axes' rectangle between GRI = lo and GRI = hi, in data
	// units, clipped by the two lines.
	rect := []point{{0, 0}, {griMaxHypo, 0}, {griMaxHypo, griMaxHyper}, {0, griMaxHyper}}
	limits := append([]float64{0}, agp.GRIZoneLimits[:]...)
	for z := range 5 {
		poly := clipHalfPlane(rect, 3, 1.6, limits[z])
		if z < 4 {
			poly = clipHalfPlane(poly, -3, -1.6, -limits[z+1])
		}
		if len(poly) < 3 {
			continue
		}
		draw := make([]point, len(poly))
		for i, p := range poly {
			draw[i] = at(p.x, p.y)
		}
		c.fillPolygon(draw, griZoneColors[z])
		// The zone's letter on the diagonal of its band, at mid-GRI.
		mid := (limits[z] + 100) / 2
		if z < 4 {
			mid = (limits[z] + limits[z+1]) / 2
		}
		lp := at(mid/3.0*0.35, mid/1.6*0.65)
		if z == 4 {
			lp = at(griMaxHypo*0.82, griMaxHyper*0.86)
		}
		c.text(lp.x, lp.y+1, agp.GRIZones[z], legendPt+1, anchorMiddle, true, colorMuted)
	}
	// Axes, ticks and titles.
	c.polyline([]point{{px, py}, {px, py + ph}, {px + pw, py + ph}}, colorInk, 0.25, false)
	for _, t := range []float64{0, 10, 20, 30} {
		p := at(t, 0)
		c.text(p.x, py+ph+3, fmt.Sprint(t), axisLabelPt, anchorMiddle, false, colorInk)
	}
	for _, t := range []float64{0, 20, 40, 60} {
		p := at(0, t)
		c.text(px-1, p.y+0.8, fmt.Sprint(t), axisLabelPt, anchorEnd, false, colorInk)
	}
	c.text(px+pw/2, py+ph+6.2, lb["gri_hypo"], axisLabelPt, anchorMiddle, false, colorInk)
	c.text(x, py-2, lb["gri_hyper"], axisLabelPt, anchorStart, false, colorInk)
	if v == nil || v.cur == nil {
		c.text(px+pw/2, py+ph/2, lb["no_data"], legendPt, anchorMiddle, false, colorMuted)
		return
	}
	cur := at(v.cur.x, v.cur.y)
	if v.prev != nil {
		prev := at(v.prev.x, v.prev.y)
		c.polyline([]point{prev, cur}, colorMuted, 0.25, true)
		c.polyline(octagon(prev, 1.1), colorInk, 0.35, false)
	}
	c.fillPolygon(octagon(cur, 1.3), colorInk)
	// Legend under the axis title.
	ly := y + h - 0.6
	c.fillPolygon(octagon(point{x + 1.5, ly - 1}, 0.9), colorInk)
	c.text(x+3.2, ly, lb["gri_this"], legendPt-0.5, anchorStart, false, colorInk)
	if v.prev != nil {
		lx := x + 4.5 + textWidth(lb["gri_this"], legendPt-0.5)
		c.polyline(octagon(point{lx + 1.5, ly - 1}, 0.8), colorInk, 0.3, false)
		c.text(lx+3.2, ly, lb["gri_previous"], legendPt-0.5, anchorStart, false, colorInk)
	}
}

// octagon returns a closed octagon of radius r around p (a round marker
// drawn with polygons, which both outputs have).
func octagon(p point, r float64) []point {
	const s = 0.38268343236509 // sin 22.5°
	const k = 0.92387953251129 // cos 22.5°
	return []point{
		{p.x + r*k, p.y - r*s}, {p.x + r*s, p.y - r*k}, {p.x - r*s, p.y - r*k}, {p.x - r*k, p.y - r*s},
		{p.x - r*k, p.y + r*s}, {p.x - r*s, p.y + r*k}, {p.x + r*s, p.y + r*k}, {p.x + r*k, p.y + r*s},
		{p.x + r*k, p.y - r*s},
	}
}

// griLabels are the texts the grid draws.
func griLabels(l locale.Lang) map[string]string {
	m := map[string]string{}
	for _, k := range []string{"gri_hypo", "gri_hyper", "gri_this", "gri_previous", "gri_grid"} {
		m[k] = l.T(k)
	}
	m["no_data"] = t(l, "no_data")
	return m
}
