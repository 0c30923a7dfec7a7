package taccuino

import (
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"
)

// Geometry of the glucose chart (SVG user units; the SVG scales to the
// width of the screen).
const (
	chartW, chartH        = 720.0, 280.0
	chartLeft, chartRight = 44.0, 8.0
	chartTop, chartBottom = 8.0, 28.0
	chartMinMgDL          = 40.0
	chartMaxMgDL          = 400.0
	chartGap              = 45 * time.Minute // a longer gap breaks the line
	chartTicksMaxX        = 8
)

// chartView is the inline SVG chart of readings with the FSE bands.
type chartView struct {
	W, H   float64
	Bands  []chartRect
	Paths  []string
	Dots   []chartDot
	YTicks []chartTick
	XTicks []chartTick
	// PlotX etc. bound the plot area.
	PlotX, PlotY, PlotW, PlotH float64
	Empty                      bool
	Desc                       string
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

// coord writes an SVG coordinate (a drawing position, not a figure a
// person reads).
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// buildChart draws the readings of per: historic readings as a line broken
// at gaps, scans, current values and strips as dots, over the FSE bands.
func buildChart(rs cgm.Series, per period, loc *time.Location, l locale.Lang) chartView {
	cv := chartView{W: chartW, H: chartH, PlotX: chartLeft, PlotY: chartTop,
		PlotW: chartW - chartLeft - chartRight, PlotH: chartH - chartTop - chartBottom}
	span := per.End.Sub(per.Start).Seconds()
	x := func(t time.Time) float64 { return cv.PlotX + cv.PlotW*t.Sub(per.Start).Seconds()/span }
	y := func(mgdl float64) float64 {
		v := min(max(mgdl, chartMinMgDL), chartMaxMgDL)
		return cv.PlotY + cv.PlotH*(1-(v-chartMinMgDL)/(chartMaxMgDL-chartMinMgDL))
	}
	band := func(class, label string, lo, hi float64) chartRect {
		return chartRect{Class: class, Label: label, X: coord(cv.PlotX), Y: coord(y(hi)), W: coord(cv.PlotW), H: coord(y(lo) - y(hi))}
	}
	cv.Bands = []chartRect{
		band("band-hypo", l.T("hypo"), chartMinMgDL, BandHypoBelowMgDL),
		band("band-normal", l.T("normal"), BandHypoBelowMgDL, BandNormalBelowMgDL),
		band("band-hyper", l.T("hyper"), BandHyperAboveMgDL, chartMaxMgDL),
	}
	for _, v := range []float64{BandHypoBelowMgDL, BandNormalBelowMgDL, BandHyperAboveMgDL, 250, 350} {
		cv.YTicks = append(cv.YTicks, chartTick{Pos: coord(y(v)), Label: l.Number(v, 0)})
	}
	days := per.days()
	step := max(1, (days+chartTicksMaxX-1)/chartTicksMaxX)
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
	cv.Desc = l.T("tac_chart_desc")
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
