package agpdoc

import (
	"fmt"

	"fsecgm/agp"
)

// anchor is the horizontal alignment of a text at its x.
type anchor int

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

// canvas is what the charts draw on: coordinates in millimetres from the
// top left corner, y down; colours "#rrggbb"; text sizes in points, y at
// the baseline. svgCanvas and pdfCanvas implement it.
type canvas interface {
	fillRect(x, y, w, h float64, fill string)
	polyline(pts []point, stroke string, width float64, dashed bool)
	fillPolygon(pts []point, fill string)
	text(x, y float64, s string, size float64, a anchor, bold bool, fill string)
}

// Chart colours.
const (
	colorInk       = "#1f2933"
	colorMuted     = "#66717d"
	colorGrid      = "#c9ced4"
	colorTargetBg  = "#e6f3e8"
	colorOuterBand = "#c8d8ec"
	colorInnerBand = "#7fa3cf"
	colorMedian    = "#1d4580"
	colorTrace     = "#1d4580"
)

// Glucose scale of the charts, mg/dL (the AGP report's y axis is clamped
// at 350 mg/dL; standards.md §6.1).
const (
	chartMaxMgDL = 350.0
	dayMinMgDL   = 40.0
)

// Sizes of the charts (mm) in both outputs.
const (
	tirW, tirH     = 14.0, 52.0
	agpW, agpH     = 190.0, 58.0
	dayCellW       = 26.0
	dayCellH       = 21.0
	dayTitleH      = 4.0
	axisLabelPt    = 6.0
	legendPt       = 6.5
	dayLabelPt     = 6.0
	agpLeftMargin  = 12.0
	agpBottomMarg  = 5.0
	agpTopMargin   = 6.0
	agpRightMargin = 2.0
)

// drawTIRBar draws the stacked time-in-ranges bar in [x, x+w] × [y, y+h]:
// very low at the bottom, very high at the top, each segment as tall as
// its share of the readings.
func drawTIRBar(c canvas, x, y, w, h float64, bands [5]float64) {
	colours := [5]string{colorVeryLow, colorLow, colorTarget, colorHigh, colorVeryHigh}
	total := 0.0
	for _, b := range bands {
		total += b
	}
	if total <= 0 {
		c.fillRect(x, y, w, h, colorGrid)
		return
	}
	bottom := y + h
	for i, b := range bands {
		seg := h * b / total
		if seg <= 0 {
			continue
		}
		c.fillRect(x, bottom-seg, w, seg, colours[i])
		bottom -= seg
	}
}

// drawAGP draws the AGP curve of slots in [x, x+w] × [y, y+h]: the 5–95 and
// 25–75 percentile bands and the median over the 24 hours of the local
// day, the target range 70–180 mg/dL shaded and lined, with axes and a
// legend. Slots without values break the bands.
func drawAGP(c canvas, x, y, w, h float64, slots []agp.Slot, lb map[string]string) {
	px, py := x+agpLeftMargin, y+agpTopMargin
	pw, ph := w-agpLeftMargin-agpRightMargin, h-agpTopMargin-agpBottomMarg
	yOf := func(v float64) float64 {
		v = min(max(v, 0), chartMaxMgDL)
		return py + ph - v/chartMaxMgDL*ph
	}
	xOf := func(minute float64) float64 { return px + minute/1440*pw }
	// Target range and grid.
	c.fillRect(px, yOf(180), pw, yOf(70)-yOf(180), colorTargetBg)
	for _, v := range []float64{54, 250} {
		c.polyline([]point{{px, yOf(v)}, {px + pw, yOf(v)}}, colorGrid, 0.2, true)
	}
	for hr := 3; hr < 24; hr += 3 {
		c.polyline([]point{{xOf(float64(hr * 60)), py}, {xOf(float64(hr * 60)), py + ph}}, colorGrid, 0.15, true)
	}
	for _, v := range []float64{70, 180} {
		c.polyline([]point{{px, yOf(v)}, {px + pw, yOf(v)}}, colorTarget, 0.35, false)
	}
	// Bands and median, one run of consecutive slots with values at a time.
	if len(slots) > 0 {
		width := 1440.0 / float64(len(slots))
		center := func(s agp.Slot) float64 { return float64(s.Minute) - width/2 }
		for _, run := range slotRuns(slots) {
			band := func(lo, hi func(agp.Slot) float64, fill string) {
				pts := make([]point, 0, 2*len(run))
				for _, s := range run {
					pts = append(pts, point{xOf(center(s)), yOf(hi(s))})
				}
				for i := len(run) - 1; i >= 0; i-- {
					pts = append(pts, point{xOf(center(run[i])), yOf(lo(run[i]))})
				}
				c.fillPolygon(pts, fill)
			}
			band(func(s agp.Slot) float64 { return *s.P5 }, func(s agp.Slot) float64 { return *s.P95 }, colorOuterBand)
			band(func(s agp.Slot) float64 { return *s.P25 }, func(s agp.Slot) float64 { return *s.P75 }, colorInnerBand)
			med := make([]point, 0, len(run))
			for _, s := range run {
				med = append(med, point{xOf(center(s)), yOf(*s.P50)})
			}
			c.polyline(med, colorMedian, 0.6, false)
		}
	} else {
		c.text(px+pw/2, py+ph/2, lb["no_data"], legendPt+1, anchorMiddle, false, colorMuted)
	}
	// Frame and axes.
	c.polyline([]point{{px, py}, {px, py + ph}, {px + pw, py + ph}}, colorInk, 0.25, false)
	for _, v := range []float64{54, 70, 180, 250, 350} {
		c.text(px-1.2, yOf(v)+0.8, fmt.Sprint(v), axisLabelPt, anchorEnd, v == 70 || v == 180, colorInk)
	}
	c.text(x, py-2, "mg/dL", axisLabelPt, anchorStart, false, colorMuted)
	for hr := 0; hr <= 24; hr += 3 {
		c.text(xOf(float64(hr*60)), py+ph+3.4, fmt.Sprintf("%02d:00", hr), axisLabelPt, anchorMiddle, false, colorInk)
	}
	// Legend, top right.
	lx := px + pw
	items := []struct {
		label, colour string
		line          bool
	}{
		{lb["target_range"], colorTarget, true},
		{lb["p5_95"], colorOuterBand, false},
		{lb["p25_75"], colorInnerBand, false},
		{lb["median"], colorMedian, true},
	}
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		tw := textWidth(it.label, legendPt)
		lx -= tw
		c.text(lx, y+3.6, it.label, legendPt, anchorStart, false, colorInk)
		lx -= 5
		if it.line {
			c.polyline([]point{{lx, y + 2.6}, {lx + 4, y + 2.6}}, it.colour, 0.6, false)
		} else {
			c.fillRect(lx, y+1.4, 4, 2.4, it.colour)
		}
		lx -= 4
	}
}

// slotRuns splits the slots into runs of consecutive slots with values.
func slotRuns(slots []agp.Slot) [][]agp.Slot {
	var out [][]agp.Slot
	start := -1
	for i, s := range slots {
		ok := s.P5 != nil && s.P25 != nil && s.P50 != nil && s.P75 != nil && s.P95 != nil
		switch {
		case ok && start < 0:
			start = i
		case !ok && start >= 0:
			out = append(out, slots[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, slots[start:])
	}
	return out
}

// drawDay draws one daily profile in a cell [x, x+w] × [y, y+h]: its
// title, the target range and the day's historic readings. The time axis
// has the same scale in every cell, 25 hours to the cell's width, so that
// a 23-hour or 25-hour DST day is drawn over its real length; the light
// vertical lines mark the local 06:00, 12:00 and 18:00.
func drawDay(c canvas, x, y, w, h float64, d DayView, lb map[string]string) {
	title := d.Label
	if d.HoursTag != "" {
		title += " (" + d.HoursTag + ")"
	}
	c.text(x+0.5, y+2.8, title, dayLabelPt, anchorStart, d.HoursTag != "", colorInk)
	px, py := x+0.5, y+dayTitleH
	pw, ph := w-1, h-dayTitleH-0.5
	hourW := pw / 25
	yOf := func(v float64) float64 {
		v = min(max(v, dayMinMgDL), chartMaxMgDL)
		return py + ph - (v-dayMinMgDL)/(chartMaxMgDL-dayMinMgDL)*ph
	}
	dw := d.Hours * hourW
	c.fillRect(px, yOf(180), dw, yOf(70)-yOf(180), colorTargetBg)
	for _, tk := range d.ticks {
		c.polyline([]point{{px + tk*hourW, py}, {px + tk*hourW, py + ph}}, colorGrid, 0.12, false)
	}
	c.polyline([]point{{px, py}, {px, py + ph}, {px + dw, py + ph}, {px + dw, py}}, colorGrid, 0.2, false)
	if len(d.trace) == 0 {
		c.text(px+dw/2, py+ph/2+1, lb["no_day_data"], dayLabelPt-0.5, anchorMiddle, false, colorMuted)
		return
	}
	for _, seg := range d.trace {
		pts := make([]point, len(seg))
		for i, p := range seg {
			pts[i] = point{px + p.x*hourW, yOf(p.y)}
		}
		if len(pts) == 1 {
			c.fillRect(pts[0].x-0.2, pts[0].y-0.2, 0.4, 0.4, colorTrace)
			continue
		}
		c.polyline(pts, colorTrace, 0.3, false)
	}
}
