package taccuino

import (
	"math"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"
)

// Scale of the glucose chart, mg/dL: the FSE's chart shows 40 to 300, and
// widens only when a reading of the period falls outside (a LO reading is
// stored at 40, a HI one at 500), so that the bands keep their share of the
// chart and no reading is cut off.
const (
	chartMinMgDL = 40.0
	chartMaxMgDL = 300.0
	// chartPadMgDL keeps a reading at the edge of the range off the frame.
	chartPadMgDL = 5.0
	chartGap     = 45 * time.Minute // a longer gap breaks the line
)

// chartGeometry is one drawing of the chart, in SVG user units: the SVG
// scales to the width of its box, so the page draws two, one for wide
// screens and one for phones, each with text of a readable size once
// scaled (the stylesheet shows one of them).
type chartGeometry struct {
	w, h, left, right, top, bottom float64
	font                           float64 // tick labels
	maxXTicks                      int
}

var (
	chartWide   = chartGeometry{w: 720, h: 300, left: 46, right: 10, top: 10, bottom: 30, font: 12, maxXTicks: 8}
	chartNarrow = chartGeometry{w: 360, h: 290, left: 38, right: 8, top: 10, bottom: 30, font: 13, maxXTicks: 4}
)

// chartView is the inline SVG chart of readings with the FSE bands.
type chartView struct {
	// ID tells the two drawings apart ("wide", "narrow").
	ID     string
	W, H   float64
	Font   float64
	Bands  []chartRect
	Paths  []string
	Dots   []chartDot
	YTicks []chartTick
	XTicks []chartTick
	// PlotX etc. bound the plot area; TickX is the x of the y labels,
	// TickY the baseline of the x labels.
	PlotX, PlotY, PlotW, PlotH string
	TickX, TickY               string
	// Lo and Hi are the range drawn, mg/dL.
	Lo, Hi float64
	Empty  bool
	Desc   string
}

type chartRect struct {
	Class, Label string
	X, Y, W, H   string
}

type chartDot struct{ X, Y string }

type chartTick struct {
	Pos   string
	Label string
}

// legendItem is one entry of the chart's legend.
type legendItem struct {
	Class, Label string
	// Shape is "band", "line" or "dot".
	Shape string
}

// coord writes an SVG coordinate (a drawing position, not a figure a
// person reads).
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// chartRange returns the range of the chart for readings rs of the
// period: 40–300 mg/dL, widened to the nearest 10 below and 50 above when
// a reading comes within chartPadMgDL of an edge or beyond.
func chartRange(rs cgm.Series, per period) (lo, hi float64) {
	lo, hi = chartMinMgDL, chartMaxMgDL
	for _, r := range rs {
		if r.Time.Before(per.Start) || !r.Time.Before(per.End) {
			continue
		}
		v := r.MgDL()
		if v-chartPadMgDL < lo {
			lo = math.Max(0, math.Floor((v-2*chartPadMgDL)/10)*10)
		}
		if v+chartPadMgDL > hi {
			hi = math.Ceil((v+2*chartPadMgDL)/50) * 50
		}
	}
	return lo, hi
}

// chartLegend is the legend of the chart: the four bands of the FSE page
// (with 140–180 named), the line of the sensor's readings and the dots of
// the scans and other single readings.
func chartLegend(l locale.Lang) []legendItem {
	return []legendItem{
		{Class: "band-hypo", Label: l.T("tac_legend_hypo"), Shape: "band"},
		{Class: "band-normal", Label: l.T("tac_legend_normal"), Shape: "band"},
		{Class: "band-above", Label: l.T("tac_legend_above"), Shape: "band"},
		{Class: "band-hyper", Label: l.T("tac_legend_hyper"), Shape: "band"},
		{Class: "line", Label: l.T("tac_legend_line"), Shape: "line"},
		{Class: "dot", Label: l.T("tac_legend_dot"), Shape: "dot"},
	}
}

// buildChart draws the readings of per in geometry g: historic readings as
// a line broken at gaps, scans, current values and strips as dots, over
// the FSE bands.
func buildChart(rs cgm.Series, per period, loc *time.Location, l locale.Lang, g chartGeometry, id string) chartView {
	px, py := g.left, g.top
	pw, ph := g.w-g.left-g.right, g.h-g.top-g.bottom
	lo, hi := chartRange(rs, per)
	cv := chartView{ID: id, W: g.w, H: g.h, Font: g.font, Lo: lo, Hi: hi,
		PlotX: coord(px), PlotY: coord(py), PlotW: coord(pw), PlotH: coord(ph),
		TickX: coord(px - 5), TickY: coord(py + ph + g.font + 6)}
	span := per.End.Sub(per.Start).Seconds()
	x := func(t time.Time) float64 { return px + pw*t.Sub(per.Start).Seconds()/span }
	y := func(mgdl float64) float64 {
		v := min(max(mgdl, lo), hi)
		return py + ph*(1-(v-lo)/(hi-lo))
	}
	band := func(class, label string, from, to float64) chartRect {
		return chartRect{Class: class, Label: label, X: coord(px), Y: coord(y(to)), W: coord(pw), H: coord(y(from) - y(to))}
	}
	cv.Bands = []chartRect{
		band("band-hypo", l.T("tac_legend_hypo"), lo, BandHypoBelowMgDL),
		band("band-normal", l.T("tac_legend_normal"), BandHypoBelowMgDL, BandNormalBelowMgDL),
		band("band-above", l.T("tac_legend_above"), BandNormalBelowMgDL, BandHyperAboveMgDL),
		band("band-hyper", l.T("tac_legend_hyper"), BandHyperAboveMgDL, hi),
	}
	for _, v := range []float64{lo, BandHypoBelowMgDL, BandNormalBelowMgDL, BandHyperAboveMgDL, 250, hi} {
		if v < lo || v > hi || v == 250 && hi-250 < 25 {
			continue
		}
		cv.YTicks = append(cv.YTicks, chartTick{Pos: coord(y(v) + g.font*0.35), Label: l.Number(v, 0)})
	}
	days := per.days()
	step := max(1, (days+g.maxXTicks-1)/g.maxXTicks)
	for i, d := 0, per.From; !d.After(per.To); i, d = i+1, d.AddDate(0, 0, 1) {
		if i%step != 0 {
			continue
		}
		mid := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc)
		if days == 1 {
			mid = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		}
		cv.XTicks = append(cv.XTicks, chartTick{Pos: coord(x(mid)), Label: d.Format("02/01")})
	}
	var b strings.Builder
	var prev time.Time
	n := 0
	flush := func() {
		if b.Len() > 0 {
			cv.Paths = append(cv.Paths, b.String())
			b.Reset()
		}
	}
	for _, r := range rs {
		if r.Time.Before(per.Start) || !r.Time.Before(per.End) {
			continue
		}
		n++
		if r.Kind != cgm.Historic {
			cv.Dots = append(cv.Dots, chartDot{X: coord(x(r.Time)), Y: coord(y(r.MgDL()))})
			continue
		}
		if b.Len() == 0 || r.Time.Sub(prev) > chartGap {
			flush()
			b.WriteString("M")
		} else {
			b.WriteString(" L")
		}
		b.WriteString(coord(x(r.Time)))
		b.WriteByte(' ')
		b.WriteString(coord(y(r.MgDL())))
		prev = r.Time
	}
	flush()
	cv.Empty = n == 0
	cv.Desc = l.F("tac_chart_desc", l.Number(lo, 0), l.Number(hi, 0))
	return cv
}

// tirBin is one of the five consensus ranges of the time in ranges bar.
type tirBin struct {
	Class, Label, Percent string
	X, W                  string
}

// buildTIR draws the time in ranges bar, very low to very high, left to
// right (widths in % of the bar).
func buildTIR(r *agp.Ranges, l locale.Lang) []tirBin {
	if r == nil {
		return nil
	}
	bins := []struct {
		class, key string
		v          float64
	}{
		{"tir-vlow", "very_low", r.VeryLow}, {"tir-low", "low", r.Low}, {"tir-target", "target", r.Target},
		{"tir-high", "high", r.High}, {"tir-vhigh", "very_high", r.VeryHigh},
	}
	out := make([]tirBin, 0, len(bins))
	x := 0.0
	for _, b := range bins {
		out = append(out, tirBin{Class: b.class, Label: l.T(b.key), Percent: l.Percent(b.v, 1),
			X: strconv.FormatFloat(x, 'f', 3, 64), W: strconv.FormatFloat(b.v, 'f', 3, 64)})
		x += b.v
	}
	return out
}
