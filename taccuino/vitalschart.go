package taccuino

import (
	"math"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/locale"
)

// The day view draws, on one time axis of a local day (23, 24 or 25
// hours), four panels one above the other: the glucose curve with the
// FSE's bands, the steps of each hour (bars), the sleep by stage (spans),
// and the heart rate (a line). Two drawings of it, one for wide screens
// and one for phones, each with text of a readable size once scaled (the
// stylesheet shows one).

// dayGeometry is one drawing of the day view, in SVG user units.
type dayGeometry struct {
	w, left, right, top, gap, bottom float64
	glucose, steps, sleep, hr        float64 // panel heights
	font                             float64
	tickHours                        int // hours between time labels
}

var (
	dayWide   = dayGeometry{w: 720, left: 52, right: 12, top: 18, gap: 22, bottom: 28, glucose: 170, steps: 70, sleep: 44, hr: 110, font: 12, tickHours: 3}
	dayNarrow = dayGeometry{w: 360, left: 48, right: 8, top: 18, gap: 22, bottom: 28, glucose: 150, steps: 64, sleep: 40, hr: 100, font: 13, tickHours: 6}
)

// dayPanel is one panel: its frame, title and y labels.
type dayPanel struct {
	Title                  string
	X, Y, W, H             string
	TitleX, TitleY         string
	YTicks                 []chartTick
	TickX                  string
	Empty                  bool
	EmptyX, EmptyY, NoData string
}

// dayBar is a rectangle of the steps or sleep panels, or a band.
type dayBar struct {
	Class, Label string
	X, Y, W, H   string
}

// dayChartView is one drawing of the day view.
type dayChartView struct {
	ID     string
	W, H   float64
	Font   float64
	Panels []dayPanel
	Bands  []dayBar // glucose bands
	Bars   []dayBar // steps per hour
	Sleep  []dayBar
	// Glucose and Heart are the lines (SVG path data), broken at gaps.
	Glucose, Heart []string
	// XTicks are the hours, with grid lines from GridTop to GridBottom.
	XTicks             []chartTick
	GridTop, GridBot   string
	TickY              string
	Desc               string
	HasVitals, HasData bool
}

// stageClass names the CSS class and label key of a sleep stage.
func stageClass(k vitals.Kind) (class, key string) {
	switch k {
	case vitals.SleepDeep:
		return "sl-deep", "vit_deep"
	case vitals.SleepLight:
		return "sl-light", "vit_light"
	case vitals.SleepREM:
		return "sl-rem", "vit_rem"
	case vitals.SleepAwake:
		return "sl-awake", "vit_awake"
	case vitals.SleepInBed:
		return "sl-bed", "vit_in_bed"
	}
	return "sl-asleep", "vit_unstaged"
}

// vitalsLegend is an entry of the day view's legend.
type vitalsLegend struct{ Class, Label string }

// dayLegend lists what the day view draws: the glucose's four bands of
// the taccuino's chart (the same texts), the steps,
// the sleep stages, the heart rate.
func dayLegend(l locale.Lang) []vitalsLegend {
	out := []vitalsLegend{{"band-hypo", l.T("tac_legend_hypo")}, {"band-normal", l.T("tac_legend_normal")},
		{"band-above", l.T("tac_legend_above")}, {"band-hyper", l.T("tac_legend_hyper")}, {"steps", l.T("vit_steps")}}
	for _, k := range []vitals.Kind{vitals.SleepDeep, vitals.SleepLight, vitals.SleepREM, vitals.SleepAsleep, vitals.SleepAwake} {
		c, key := stageClass(k)
		out = append(out, vitalsLegend{c, l.T(key)})
	}
	return append(out, vitalsLegend{"heart", l.T("vit_hr")})
}

// buildDayChart draws the local day [start, end) of loc: readings rs
// (historic, drawn as a line broken at gaps longer than 45 minutes),
// measurements ms merged by ranking r.
func buildDayChart(rs cgm.Series, ms []vitals.Measurement, start, end time.Time, loc *time.Location, r vitals.Ranking,
	l locale.Lang, g dayGeometry, id string) dayChartView {
	pw := g.w - g.left - g.right
	cv := dayChartView{ID: id, W: g.w, Font: g.font}
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		return g.left + pw*math.Min(math.Max(t.Sub(start).Seconds()/span, 0), 1)
	}
	// Panel frames, top to bottom.
	y0 := g.top
	panel := func(title string, h float64) (float64, float64) {
		top := y0
		cv.Panels = append(cv.Panels, dayPanel{Title: title, X: coord(g.left), Y: coord(top), W: coord(pw), H: coord(h),
			TitleX: coord(g.left), TitleY: coord(top - 5), TickX: coord(g.left - 5),
			EmptyX: coord(g.left + pw/2), EmptyY: coord(top + h/2 + g.font*0.35), NoData: l.T("vit_no_data")})
		y0 += h + g.gap
		return top, h
	}

	// 1. Glucose.
	gt, gh := panel(l.T("vit_axis_glucose"), g.glucose)
	lo, hi := 40.0, 300.0
	for _, rd := range rs {
		if rd.Kind == cgm.Historic && !rd.Time.Before(start) && rd.Time.Before(end) {
			hi = math.Max(hi, math.Ceil((rd.MgDL()+10)/50)*50)
		}
	}
	gy := func(v float64) float64 { return gt + gh*(1-(math.Min(math.Max(v, lo), hi)-lo)/(hi-lo)) }
	for _, b := range []struct {
		class, key string
		from, to   float64
	}{{"band-hypo", "tac_legend_hypo", lo, BandHypoBelowMgDL}, {"band-normal", "tac_legend_normal", BandHypoBelowMgDL, BandNormalBelowMgDL},
		{"band-above", "tac_legend_above", BandNormalBelowMgDL, BandHyperAboveMgDL}, {"band-hyper", "tac_legend_hyper", BandHyperAboveMgDL, hi}} {
		cv.Bands = append(cv.Bands, dayBar{Class: b.class, Label: l.T(b.key), X: coord(g.left), Y: coord(gy(b.to)), W: coord(pw), H: coord(gy(b.from) - gy(b.to))})
	}
	for _, v := range []float64{BandHypoBelowMgDL, BandHyperAboveMgDL, hi} {
		cv.Panels[0].YTicks = append(cv.Panels[0].YTicks, chartTick{Pos: coord(gy(v) + g.font*0.35), Label: l.Number(v, 0)})
	}
	var path strings.Builder
	var prev time.Time
	nGlucose := 0
	for _, rd := range rs {
		if rd.Kind != cgm.Historic || rd.Time.Before(start) || !rd.Time.Before(end) {
			continue
		}
		cmd := "L"
		if prev.IsZero() || rd.Time.Sub(prev) > chartGap {
			if path.Len() > 0 {
				cv.Glucose = append(cv.Glucose, path.String())
				path.Reset()
			}
			cmd = "M"
		}
		path.WriteString(cmd + coord(x(rd.Time)) + " " + coord(gy(rd.MgDL())) + " ")
		prev = rd.Time
		nGlucose++
	}
	if path.Len() > 0 {
		cv.Glucose = append(cv.Glucose, path.String())
	}
	cv.Panels[0].Empty = nGlucose == 0

	// 2. Steps per hour: the merged pieces spread over the hours.
	st, sh := panel(l.T("vit_axis_steps"), g.steps)
	var hours []time.Time // starts of the local hours of the day
	for t := start; t.Before(end); t = t.Add(time.Hour) {
		hours = append(hours, t)
	}
	perHour := make([]float64, len(hours))
	var stepsMs []vitals.Measurement
	var sleepMs []vitals.Measurement
	var hrMs []vitals.Measurement
	for _, m := range ms {
		switch {
		case m.Kind == vitals.Steps:
			stepsMs = append(stepsMs, m)
		case m.Kind.Sleep():
			sleepMs = append(sleepMs, m)
		case m.Kind == vitals.HeartRate:
			hrMs = append(hrMs, m)
		}
	}
	totalSteps := 0.0
	for _, p := range vitals.Merge(stepsMs, r) {
		a, b := p.Start, p.End
		if !b.After(a) {
			if !a.Before(start) && a.Before(end) {
				perHour[int(a.Sub(start)/time.Hour)] += p.Value
				totalSteps += p.Value
			}
			continue
		}
		for i, h := range hours {
			lo, hi := maxT(a, h), minT(b, h.Add(time.Hour))
			if hi.After(lo) {
				v := p.Value * float64(hi.Sub(lo)) / float64(b.Sub(a))
				perHour[i] += v
				totalSteps += v
			}
		}
	}
	maxSteps := 1000.0
	for _, v := range perHour {
		maxSteps = math.Max(maxSteps, math.Ceil(v/1000)*1000)
	}
	for i, v := range perHour {
		if v <= 0 {
			continue
		}
		x0, x1 := x(hours[i]), x(hours[i].Add(time.Hour))
		h := sh * v / maxSteps
		cv.Bars = append(cv.Bars, dayBar{Class: "steps", Label: hours[i].In(loc).Format("15:04") + " · " + l.Number(v, 0) + " " + strings.ToLower(l.T("vit_steps")),
			X: coord(x0 + 0.5), Y: coord(st + sh - h), W: coord(math.Max(x1-x0-1, 0.5)), H: coord(h)})
	}
	cv.Panels[1].YTicks = []chartTick{{Pos: coord(st + g.font*0.35), Label: l.Number(maxSteps, 0)}, {Pos: coord(st + sh + g.font*0.35), Label: "0"}}
	cv.Panels[1].Empty = len(cv.Bars) == 0

	// 3. Sleep: the merged stages (not the time in bed).
	slt, slh := panel(l.T("vit_axis_sleep"), g.sleep)
	asleep := 0.0
	for _, s := range vitals.MergeSleep(sleepMs, r) {
		if s.Kind == vitals.SleepInBed || !s.End.After(start) || !s.Start.Before(end) {
			continue
		}
		class, key := stageClass(s.Kind)
		a, b := maxT(s.Start, start), minT(s.End, end)
		if s.Kind.Asleep() {
			asleep += b.Sub(a).Minutes()
		}
		top, h := slt, slh
		if s.Kind == vitals.SleepAwake {
			top, h = slt, slh*0.35
		}
		cv.Sleep = append(cv.Sleep, dayBar{Class: class, Label: l.T(key) + " " + a.In(loc).Format("15:04") + "–" + b.In(loc).Format("15:04"),
			X: coord(x(a)), Y: coord(top), W: coord(math.Max(x(b)-x(a), 0.5)), H: coord(h)})
	}
	cv.Panels[2].Empty = len(cv.Sleep) == 0

	// 4. Heart rate.
	ht, hh := panel(l.T("vit_axis_hr"), g.hr)
	hlo, hhi := 40.0, 160.0
	for _, m := range hrMs {
		if !m.Start.Before(start) && m.Start.Before(end) {
			hlo = math.Min(hlo, math.Floor(m.Value/20)*20)
			hhi = math.Max(hhi, math.Ceil(m.Value/20)*20)
		}
	}
	hy := func(v float64) float64 { return ht + hh*(1-(v-hlo)/(hhi-hlo)) }
	for _, v := range []float64{hlo, (hlo + hhi) / 2, hhi} {
		cv.Panels[3].YTicks = append(cv.Panels[3].YTicks, chartTick{Pos: coord(hy(v) + g.font*0.35), Label: l.Number(v, 0)})
	}
	prev = time.Time{}
	path.Reset()
	var hrMin, hrMax float64
	nHR := 0
	for _, i := range vitals.HeartRates(hrMs, r) {
		m := hrMs[i]
		if m.Start.Before(start) || !m.Start.Before(end) {
			continue
		}
		cmd := "L"
		if prev.IsZero() || m.Start.Sub(prev) > 30*time.Minute {
			if path.Len() > 0 {
				cv.Heart = append(cv.Heart, path.String())
				path.Reset()
			}
			cmd = "M"
		}
		path.WriteString(cmd + coord(x(m.Start)) + " " + coord(hy(m.Value)) + " ")
		prev = m.Start
		if nHR == 0 || m.Value < hrMin {
			hrMin = m.Value
		}
		if nHR == 0 || m.Value > hrMax {
			hrMax = m.Value
		}
		nHR++
	}
	if path.Len() > 0 {
		cv.Heart = append(cv.Heart, path.String())
	}
	cv.Panels[3].Empty = nHR == 0

	// The time axis: local hours every tickHours, on every panel.
	cv.H = y0 - g.gap + g.bottom
	cv.GridTop, cv.GridBot = coord(g.top), coord(y0-g.gap)
	cv.TickY = coord(y0 - g.gap + g.font + 6)
	for _, h := range hours {
		if lh := h.In(loc).Hour(); lh%g.tickHours == 0 && h.In(loc).Minute() == 0 {
			cv.XTicks = append(cv.XTicks, chartTick{Pos: coord(x(h)), Label: h.In(loc).Format("15")})
		}
	}
	cv.HasData = nGlucose > 0 || len(cv.Bars) > 0 || len(cv.Sleep) > 0 || nHR > 0
	cv.HasVitals = len(cv.Bars) > 0 || len(cv.Sleep) > 0 || nHR > 0
	var facts []string
	if nGlucose > 0 {
		facts = append(facts, l.T("vit_axis_glucose")+": "+strconv.Itoa(nGlucose))
	}
	if totalSteps > 0 {
		facts = append(facts, l.T("vit_steps")+": "+l.Number(totalSteps, 0))
	}
	if asleep > 0 {
		facts = append(facts, l.T("vit_sleep")+": "+l.Duration(asleep))
	}
	if nHR > 0 {
		facts = append(facts, l.T("vit_hr")+": "+l.Number(hrMin, 0)+"–"+l.Number(hrMax, 0)+" "+l.T("vit_bpm"))
	}
	cv.Desc = strings.Replace(l.T("vit_day_desc"), "%s", l.Number(end.Sub(start).Hours(), 0), 1)
	cv.Desc = strings.Replace(cv.Desc, "%s", strings.Join(facts, "; "), 1)
	return cv
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
