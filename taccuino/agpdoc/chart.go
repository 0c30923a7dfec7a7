package agpdoc

import (
	"fmt"
	"math"
	"sort"

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

// Chart colours. The fills above 180 and below 70 of the daily profiles
// are those of the AGP report's daily profiles (a warm fill above the
// target range, a red one below).
const (
	colorInk       = "#1f2933"
	colorMuted     = "#5c6670"
	colorGrid      = "#c9ced4"
	colorTargetBg  = "#e6f3e8"
	colorOuterBand = "#c8d8ec"
	colorInnerBand = "#7fa3cf"
	colorMedian    = "#1d4580"
	colorTrace     = "#1d4580"
	colorAboveFill = "#f6c667"
	colorBelowFill = "#e0514a"
)

// Glucose scale of the charts, mg/dL (the AGP report's y axis is clamped
// at 350 mg/dL: tidepool-org/viz, src/modules/print/utils/AGPConstants.js).
const (
	chartMaxMgDL = 350.0
	dayMinMgDL   = 40.0
)

// Sizes of the charts (mm) in the PDF, and the HTML page's drawings.
const (
	tirFigW, tirH = 26.0, 52.0 // the bar with its labels
	tirBarW       = 9.0
	// tirMinSeg is the least height of a segment of the bar that is not
	// zero (0.6 % of 52 mm would be 0.3 mm, invisible).
	tirMinSeg      = 1.6
	agpW, agpH     = 190.0, 50.0
	dayCellW       = 26.0
	dayCellH       = 20.5
	dayTitleH      = 4.0
	dayAxisW       = 5.0 // the y labels at the left of a daily profile
	agpLeftMargin  = 12.0
	agpBottomMarg  = 5.0
	agpTopMargin   = 6.0
	agpRightMargin = 2.0
	// axisLabelPt and legendPt are the PDF's text sizes of the charts'
	// axes and legends (stylePDF).
	axisLabelPt = 6.0
	legendPt    = 6.5
)

// chartStyle holds the text sizes (points) of a drawing: the PDF's, and
// larger ones for the HTML page, whose SVGs are scaled to the screen.
type chartStyle struct {
	axisPt, legendPt, dayPt float64
	// legendBelow puts the AGP legend under the plot (narrow drawings).
	legendBelow bool
	// hourStep is the spacing of the AGP's hour labels.
	hourStep int
}

var (
	stylePDF        = chartStyle{axisPt: axisLabelPt, legendPt: legendPt, dayPt: 6, hourStep: 3}
	styleHTMLWide   = chartStyle{axisPt: 8.5, legendPt: 8.5, dayPt: 8.5, hourStep: 3}
	styleHTMLNarrow = chartStyle{axisPt: 11, legendPt: 11, dayPt: 8.5, legendBelow: true, hourStep: 6}
)

// spread moves labels apart so that no two of them are closer than gap,
// keeping their order and each as near its wanted position as it can,
// within [lo, hi]: pos are the wanted positions, in any order; the result
// gives the position of each. Used for the y labels of the AGP (54 and 70
// are 16 mg/dL apart, closer than a line of text) and the labels of the
// time-in-ranges bar.
func spread(pos []float64, gap, lo, hi float64) []float64 {
	n := len(pos)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return pos[idx[a]] < pos[idx[b]] })
	out := make([]float64, n)
	// Clusters of labels that touch are centred on their wanted positions
	// (the classic "merge overlapping groups" placement), then kept within
	// the bounds.
	type group struct {
		n   int
		top float64
	}
	var gs []group
	for _, i := range idx {
		gs = append(gs, group{n: 1, top: pos[i]})
		for len(gs) > 1 {
			a, b := gs[len(gs)-2], gs[len(gs)-1]
			if a.top+float64(a.n)*gap <= b.top {
				break
			}
			// Merge: the group's mean wanted position stays where it was.
			want := (a.top+float64(a.n-1)*gap/2)*float64(a.n) + (b.top+float64(b.n-1)*gap/2)*float64(b.n)
			m := a.n + b.n
			mid := want / float64(m)
			gs = append(gs[:len(gs)-2], group{n: m, top: mid - float64(m-1)*gap/2})
		}
	}
	k := 0
	for _, g := range gs {
		top := g.top
		for j := 0; j < g.n; j++ {
			out[idx[k]] = top + float64(j)*gap
			k++
		}
	}
	// Keep within [lo, hi], pushing neighbours along.
	sorted := make([]float64, n)
	for j, i := range idx {
		sorted[j] = out[i]
	}
	for j := n - 1; j >= 0; j-- {
		limit := hi
		if j < n-1 {
			limit = sorted[j+1] - gap
		}
		sorted[j] = math.Min(sorted[j], limit)
	}
	for j := 0; j < n; j++ {
		limit := lo
		if j > 0 {
			limit = sorted[j-1] + gap
		}
		sorted[j] = math.Max(sorted[j], limit)
	}
	for j, i := range idx {
		out[i] = sorted[j]
	}
	return out
}

// tirSegments returns the extent [top, bottom] of each of the five bands
// of a bar of height h at y, very low at the bottom: as tall as its share,
// but no band above zero shorter than tirMinSeg (the height it needs is
// taken from the others in proportion), so that 0.6 % is still seen.
func tirSegments(bands [5]float64, y, h float64) [5][2]float64 {
	var out [5][2]float64
	total := 0.0
	for _, b := range bands {
		total += b
	}
	if total <= 0 {
		return out
	}
	heights := [5]float64{}
	fixed, rest := 0.0, 0.0
	for i, b := range bands {
		switch {
		case b <= 0:
		case h*b/total < tirMinSeg:
			heights[i] = tirMinSeg
			fixed += tirMinSeg
		default:
			rest += b
		}
	}
	for i, b := range bands {
		if b > 0 && heights[i] == 0 {
			heights[i] = (h - fixed) * b / rest
		}
	}
	bottom := y + h
	for i := range bands {
		out[i] = [2]float64{bottom - heights[i], bottom}
		bottom -= heights[i]
	}
	return out
}

// drawTIRBar draws the stacked time-in-ranges bar at (x, y), tirBarW wide
// and h tall, very low at the bottom and very high at the top, and beside
// it the percentage of every band (labels[0] very low … labels[4] very
// high), each joined to its segment and moved apart when segments are
// thin, so that every band is seen and read even at 0.6 %.
func drawTIRBar(c canvas, x, y, h float64, bands [5]float64, labels [5]string, pt float64) {
	colours := [5]string{colorVeryLow, colorLow, colorTarget, colorHigh, colorVeryHigh}
	segs := tirSegments(bands, y, h)
	total := bands[0] + bands[1] + bands[2] + bands[3] + bands[4]
	if total <= 0 {
		c.fillRect(x, y, tirBarW, h, colorGrid)
	}
	want := make([]float64, 5)
	for i := range bands {
		if total > 0 && bands[i] > 0 {
			c.fillRect(x, segs[i][0], tirBarW, segs[i][1]-segs[i][0], colours[i])
		}
		want[i] = (segs[i][0] + segs[i][1]) / 2
		if total <= 0 {
			want[i] = y + h*(4.5-float64(i))/5
		}
	}
	lh := pt * ptMM * 1.15
	at := spread(want, lh, y+lh*0.5, y+h-lh*0.5)
	lx := x + tirBarW + 3.2
	for i, l := range labels {
		if l == "" {
			continue
		}
		c.polyline([]point{{x + tirBarW, want[i]}, {x + tirBarW + 1.2, want[i]}, {lx - 0.6, at[i]}}, colorMuted, 0.15, false)
		c.text(lx, at[i]+lh*0.32, l, pt, anchorStart, true, colorInk)
	}
}

// agpYLabels are the labelled glucose values of the AGP's y axis.
var agpYLabels = []float64{54, 70, 180, 250, 350}

// drawAGP draws the AGP curve of slots in [x, x+w] × [y, y+h]: the 5–95 and
// 25–75 percentile bands and the median over the 24 hours of the local
// day, the target range 70–180 mg/dL shaded and lined, with axes and a
// legend. Slots without values break the bands. The y labels are moved
// apart where the values are close (54 and 70), each joined to its value.
func drawAGP(c canvas, x, y, w, h float64, slots []agp.Slot, lb map[string]string, st chartStyle) {
	legendH := 0.0
	if st.legendBelow {
		legendH = 4*st.legendPt*ptMM*1.5 + 1
	}
	left := math.Max(agpLeftMargin, textWidth("350", st.axisPt)+4)
	top := math.Max(agpTopMargin, st.axisPt*ptMM*1.6)
	if st.legendBelow {
		top = st.axisPt * ptMM * 1.6
	}
	bottom := agpBottomMarg + st.axisPt*ptMM*0.6 + legendH
	px, py := x+left, y+top
	pw, ph := w-left-agpRightMargin, h-top-bottom
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
		c.text(px+pw/2, py+ph/2, lb["no_data"], st.legendPt+1, anchorMiddle, false, colorMuted)
	}
	// Frame and axes: the y labels moved apart where they would overlap.
	c.polyline([]point{{px, py}, {px, py + ph}, {px + pw, py + ph}}, colorInk, 0.25, false)
	lh := st.axisPt * ptMM * 1.2
	want := make([]float64, len(agpYLabels))
	for i, v := range agpYLabels {
		want[i] = yOf(v)
	}
	at := spread(want, lh, py-lh*0.4, py+ph+lh*0.4)
	for i, v := range agpYLabels {
		if math.Abs(at[i]-want[i]) > 0.05 {
			c.polyline([]point{{px - 1.4, at[i] - lh*0.32}, {px - 0.5, want[i]}, {px, want[i]}}, colorMuted, 0.12, false)
		} else {
			c.polyline([]point{{px - 0.8, want[i]}, {px, want[i]}}, colorInk, 0.2, false)
		}
		c.text(px-1.6, at[i]+lh*0.32, fmt.Sprint(v), st.axisPt, anchorEnd, v == 70 || v == 180, colorInk)
	}
	c.text(x, py-st.axisPt*ptMM*0.6, "mg/dL", st.axisPt, anchorStart, false, colorMuted)
	for hr := 0; hr <= 24; hr += st.hourStep {
		a := anchorMiddle
		switch hr {
		case 0:
			a = anchorStart
		case 24:
			a = anchorEnd
		}
		c.text(xOf(float64(hr*60)), py+ph+st.axisPt*ptMM*1.35, fmt.Sprintf("%02d:00", hr), st.axisPt, a, false, colorInk)
	}
	items := []struct {
		label, colour string
		line          bool
	}{
		{lb["target_range"], colorTarget, true},
		{lb["p5_95"], colorOuterBand, false},
		{lb["p25_75"], colorInnerBand, false},
		{lb["median"], colorMedian, true},
	}
	key := func(lx, ly float64, it struct {
		label, colour string
		line          bool
	}) {
		if it.line {
			c.polyline([]point{{lx, ly - st.legendPt*ptMM*0.35}, {lx + 4, ly - st.legendPt*ptMM*0.35}}, it.colour, 0.6, false)
		} else {
			c.fillRect(lx, ly-st.legendPt*ptMM*0.75, 4, st.legendPt*ptMM*0.8, it.colour)
		}
		c.text(lx+5, ly, it.label, st.legendPt, anchorStart, false, colorInk)
	}
	if st.legendBelow {
		// One item a line under the hour labels.
		ly := py + ph + st.axisPt*ptMM*1.35 + st.legendPt*ptMM*1.6
		for i, it := range items {
			key(x, ly+float64(i)*st.legendPt*ptMM*1.5, it)
		}
		return
	}
	// One line, top right.
	lx := px + pw
	for i := len(items) - 1; i >= 0; i-- {
		lx -= textWidth(items[i].label, st.legendPt) + 5
		key(lx, y+top-st.axisPt*ptMM*0.5, items[i])
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

// beyond returns the polygon between a trace and the line v = thr where
// the trace is above it (above) or below it (!above), in data units, with
// the crossings interpolated, or nil when the trace never passes thr.
func beyond(seg []point, thr float64, above bool) [][]point {
	out := func(v float64) bool {
		if above {
			return v > thr
		}
		return v < thr
	}
	var polys [][]point
	var cur []point
	closePoly := func() {
		if len(cur) > 0 {
			cur = append(cur, point{cur[len(cur)-1].x, thr})
			polys = append(polys, cur)
			cur = nil
		}
	}
	for i, p := range seg {
		if i > 0 {
			q := seg[i-1]
			if out(q.y) != out(p.y) && p.y != q.y {
				// The crossing between q and p.
				t := (thr - q.y) / (p.y - q.y)
				cx := q.x + t*(p.x-q.x)
				if out(q.y) {
					cur = append(cur, point{cx, thr})
					closePoly()
				} else {
					cur = []point{{cx, thr}}
				}
			}
		}
		if out(p.y) {
			if cur == nil {
				cur = []point{{p.x, thr}}
			}
			cur = append(cur, p)
		}
	}
	closePoly()
	return polys
}

// drawDay draws one daily profile in a cell [x, x+w] × [y, y+h]: its
// title, a y scale (70 and 180 mg/dL), the target range, the day's
// historic readings, and the areas above 180 and below 70 filled. The
// time axis has the same scale in every cell, 25 hours to the plot's
// width, so that a 23-hour or 25-hour DST day is drawn over its real
// length; the light vertical lines mark the local 06:00, 12:00 and 18:00.
func drawDay(c canvas, x, y, w, h float64, d DayView, lb map[string]string, st chartStyle) {
	title := d.Label
	if d.HoursTag != "" {
		title += " (" + d.HoursTag + ")"
	}
	c.text(x+0.5, y+st.dayPt*ptMM*1.05, title, st.dayPt, anchorStart, d.HoursTag != "", colorInk)
	axisW := math.Max(dayAxisW, textWidth("180", st.dayPt*0.85)+1.2)
	px, py := x+axisW, y+st.dayPt*ptMM*1.05+1.2
	pw, ph := w-axisW-0.5, h-(py-y)-0.5
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
	for _, v := range []float64{70, 180} {
		c.polyline([]point{{px, yOf(v)}, {px + dw, yOf(v)}}, colorTarget, 0.18, false)
		c.text(px-0.6, yOf(v)+st.dayPt*0.85*ptMM*0.35, fmt.Sprint(v), st.dayPt*0.85, anchorEnd, false, colorMuted)
	}
	c.polyline([]point{{px, py}, {px, py + ph}, {px + dw, py + ph}, {px + dw, py}}, colorGrid, 0.2, false)
	if len(d.trace) == 0 {
		c.text(px+dw/2, py+ph/2+1, lb["no_day_data"], st.dayPt-0.5, anchorMiddle, false, colorMuted)
		return
	}
	toCell := func(pts []point) []point {
		out := make([]point, len(pts))
		for i, p := range pts {
			out[i] = point{px + p.x*hourW, yOf(p.y)}
		}
		return out
	}
	for _, seg := range d.trace {
		for _, poly := range beyond(seg, 180, true) {
			c.fillPolygon(toCell(poly), colorAboveFill)
		}
		for _, poly := range beyond(seg, 70, false) {
			c.fillPolygon(toCell(poly), colorBelowFill)
		}
	}
	for _, seg := range d.trace {
		pts := toCell(seg)
		if len(pts) == 1 {
			c.fillRect(pts[0].x-0.2, pts[0].y-0.2, 0.4, 0.4, colorTrace)
			continue
		}
		c.polyline(pts, colorTrace, 0.3, false)
	}
}
