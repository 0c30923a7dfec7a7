package agp

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat"

	"fsecgm/cgm"
)

// Options says for whom, where and over which period to compute.
type Options struct {
	// Patient is copied into the report's "patient" field.
	Patient string
	// Location is the patient's time zone (required): calendar days and
	// times of day are read in it.
	Location *time.Location
	// Zone is the zone's label in the report; Location.String() when empty.
	Zone string
	// Period is the reporting period [Start, End); nil means automatic,
	// from the first to the last historic reading.
	Period *Period
	// AGP asks for the AGP percentile profile.
	AGP bool
	// Daily asks for the daily profiles.
	Daily bool
	// Extended asks for the extended metrics (every metric of iglu 4.3.0's
	// all_metrics(); see Extended).
	Extended bool
	// Sources names where the readings came from, as the caller read them
	// (e.g. "librelinkup", "nightscout"), and OtherSeriesReadings counts
	// the readings of another series (a second sensor worn at the same
	// time) that the caller left out; both are copied into the report, so
	// that every figure says what it was computed from.
	Sources             []string
	OtherSeriesReadings int
}

// Period is a reporting period [Start, End).
type Period struct {
	Start, End time.Time
}

// LocalDays returns the period [from 00:00, to+1 00:00) of local calendar
// days from and to (inclusive) in loc. Days are calendar days, so a period
// that contains a DST change is 23 or 25 hours shorter or longer than n·24 h.
func LocalDays(from, to time.Time, loc *time.Location) Period {
	y, m, d := from.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	y, m, d = to.Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	return Period{Start: start, End: end}
}

// Consensus thresholds in each unit (Battelino et al., Diabetes Care
// 2019;42:1593–1603, as reproduced in ADA Standards of Care Table 6.2).
type thresholds struct {
	veryLow    float64 // very low: g < veryLow
	low        float64 // low: veryLow ≤ g < low; also the hypo level 1 threshold
	targetHigh float64 // target: low ≤ g ≤ targetHigh; hyper level 1: g > targetHigh
	high       float64 // high: targetHigh < g ≤ high; hyper level 2: g > high
	tightHigh  float64 // tight: low ≤ g ≤ tightHigh
}

var (
	mgdlThresholds = thresholds{veryLow: 54, low: 70, targetHigh: 180, high: 250, tightHigh: 140}
	// The consensus mmol/L cut-offs: < 3.0, 3.0–3.8, 3.9–10.0, 10.1–13.9,
	// > 13.9; tight 3.9–7.8 (Battelino 2019, Table 1; Danne 2017).
	mmolThresholds = thresholds{veryLow: 3.0, low: 3.9, targetHigh: 10.0, high: 13.9, tightHigh: 7.8}
)

// Consensus sufficiency: 14 days with at least 70 % of the expected readings
// (Battelino 2019; ADA Standards of Care Table 6.2, items 1–2).
const (
	SufficientDays          = 14.0
	SufficientActivePercent = 70.0
)

// interGapMinutes is iglu's inter_gap: no interpolation across a gap longer
// than this (a gap of exactly 45 minutes is interpolated).
const interGapMinutes = 45

// Compute computes every glucometric of the readings in s for the options o.
// s must be sorted and deduplicated ([cgm.NewSeries]). An empty series gives
// a report with zero counts and null figures, not an error.
func Compute(s cgm.Series, o Options) (Report, error) {
	if o.Location == nil {
		return Report{}, errors.New("agp: no time zone given")
	}
	if o.Period != nil && !o.Period.End.After(o.Period.Start) {
		return Report{}, fmt.Errorf("agp: reporting period ends (%s) before it starts (%s)",
			o.Period.End.Format(time.RFC3339), o.Period.Start.Format(time.RFC3339))
	}
	in := s
	if o.Period != nil {
		in = s.Between(o.Period.Start, o.Period.End)
	}
	w := workPool.Get().(*work)
	defer workPool.Put(w)
	c := newCalc(in, o, w)
	return c.report(), nil
}

// work holds the large working arrays of a computation. They are reused
// through workPool: the engine runs for every patient of a region, and
// allocating (and then collecting) half a megabyte per call would cost more
// than the arithmetic. Nothing in a Report points into them.
type work struct {
	arena []float64 // times, vals and scratch
	grid  []float64
	slot  []int16
	runs  []run
	ext   []float64 // the extended metrics' scratch
	cells []float64 // the extended metrics' local days × times of day
	// terms remembers the raw-reading terms per whole mg/dL value (a value
	// always gives the same terms, so the cache lives across computations).
	terms    [1024]terms
	termsSet [1024]bool
	hist     [1024]int // readings per whole mg/dL value
}

var workPool = sync.Pool{New: func() any { return new(work) }}

// grow returns s resized to n, reallocating only when its capacity is short.
// The contents are not cleared: every user overwrites what it reads.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// calc holds the working arrays of one computation.
type calc struct {
	w     *work
	o     Options
	unit  cgm.Unit
	th    thresholds
	arena []float64 // backing array of times, vals and spare
	spare []float64 // scratch area: the intervals, later the AGP values
	times []float64 // historic reading instants, Unix seconds
	vals  []float64 // historic values in unit
	scans int       // scan readings
	clk   clock

	dt0Raw float64 // round(median interval), iglu's unadjusted dt0
	dt0    int     // grid step in minutes (0: no grid)
	grid   grid
}

func newCalc(in cgm.Series, o Options, w *work) *calc {
	c := &calc{o: o, w: w, clk: clock{loc: o.Location}}
	// Classify in the reported unit. A series that mixes units (a patient
	// who changed account settings) is classified in mg/dL.
	c.unit, c.th = cgm.MmolL, mmolThresholds
	for i := range in {
		if in[i].Kind == cgm.Historic && in[i].Unit != cgm.MmolL {
			c.unit, c.th = cgm.MgDL, mgdlThresholds
			break
		}
	}
	// The working arrays: reading instants and values, and a scratch area
	// (the intervals, later the AGP values).
	c.w.arena = grow(c.w.arena, 3*len(in))
	c.arena = c.w.arena
	n := 0
	for i := range in {
		r := &in[i]
		switch r.Kind {
		case cgm.Historic:
			v := r.Value
			if r.Unit != c.unit {
				v = cgm.ToMgDL(v, r.Unit)
			}
			c.arena[n] = float64(r.Time.Unix()) + float64(r.Time.Nanosecond())/1e9
			c.arena[len(in)+n] = v
			n++
		case cgm.Scan:
			c.scans++
		}
	}
	c.times = c.arena[:n:n]
	c.vals = c.arena[len(in) : len(in)+n : len(in)+n]
	c.spare = c.arena[2*len(in):]
	c.interval()
	return c
}

func (c *calc) report() Report {
	o := c.o
	n := len(c.vals)
	r := Report{
		Patient:         o.Patient,
		Sources:         o.Sources,
		OtherSeries:     o.OtherSeriesReadings,
		TimeZone:        o.Zone,
		Unit:            c.unit.String(),
		Readings:        n,
		Scans:           c.scans,
		IntervalMinutes: float64(c.dt0),
		Engine:          Version,
	}
	if r.TimeZone == "" {
		r.TimeZone = o.Location.String()
	}
	r.Period = c.period()
	c.statistics(&r)
	if c.dt0 > 0 {
		c.grid = c.buildGrid()
		r.Events = c.events()
		if o.AGP {
			r.AGP = c.agp()
		}
	} else {
		r.Events = noEvents()
	}
	r.DaysWorn = c.daysWorn()
	r.DaysWithData = c.daysWithData(r.Period)
	r.ActivePercent = c.activePercent()
	r.Sufficient = r.Period.Days >= SufficientDays && r.ActivePercent >= SufficientActivePercent
	if o.Daily {
		r.Daily = c.daily(r.Period)
	}
	if r.TimeInRanges != nil {
		gri := GRIFromRanges(*r.TimeInRanges)
		r.GRI = &gri
	}
	if o.Extended {
		r.Extended = c.extended(&r)
	}
	return r
}

// period describes the reporting period.
func (c *calc) period() PeriodInfo {
	loc := c.o.Location
	if p := c.o.Period; p != nil {
		return PeriodInfo{Start: p.Start.In(loc), End: p.End.In(loc), Days: calendarDays(p.Start, p.End, loc)}
	}
	pi := PeriodInfo{Automatic: true}
	if n := len(c.times); n > 0 {
		pi.Start = unixTime(c.times[0]).In(loc)
		pi.End = unixTime(c.times[n-1]).In(loc)
		// iglu active_percent: ndays = difftime(max, min, "days") rounded
		// to one decimal.
		pi.Days = roundDigits1((c.times[n-1] - c.times[0]) / 86400)
	}
	return pi
}

// calendarDays returns the number of local calendar days of [start, end)
// when both are local midnights, else the length in days.
func calendarDays(start, end time.Time, loc *time.Location) float64 {
	s, e := start.In(loc), end.In(loc)
	if isMidnight(s) && isMidnight(e) {
		ds := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
		de := time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, time.UTC)
		return math.Round(de.Sub(ds).Hours() / 24)
	}
	return end.Sub(start).Hours() / 24
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

func unixTime(sec float64) time.Time {
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64(math.Round((sec-whole)*1e9)))
}

// statistics fills the figures computed on the raw readings.
func (c *calc) statistics(r *Report) {
	n := len(c.vals)
	if n == 0 {
		return
	}
	mean, sd := stat.MeanStdDev(c.vals, nil)
	if n == 1 {
		mean = c.vals[0]
	}
	mgMean := cgm.ToMgDL(mean, c.unit)
	mmMean := cgm.ToMmolL(mean, c.unit)
	r.MeanGlucose = &Glucose{MgDL: mgMean, MmolL: mmMean}
	// GMI (Bergenstal et al. 2018; https://www.jaeb.org/gmi/).
	r.GMI = &GMI{Percent: 3.31 + 0.02392*mgMean, MmolMol: 12.71 + 4.70587*mmMean}
	if n > 1 {
		sdMg := cgm.ToMgDL(sd, c.unit)
		cv := sd / mean * 100
		r.SDMgDL, r.CVPercent = &sdMg, &cv
	}
	r.TimeInRanges = c.ranges(c.vals)
}

// ranges returns the % of values in each consensus band.
func (c *calc) ranges(vals []float64) *Ranges {
	if len(vals) == 0 {
		return nil
	}
	th := c.th
	var vl, lo, tg, hi, vh, tight int
	for _, v := range vals {
		switch {
		case v < th.veryLow:
			vl++
		case v < th.low:
			lo++
		case v <= th.targetHigh:
			tg++
			if v <= th.tightHigh {
				tight++
			}
		case v <= th.high:
			hi++
		default:
			vh++
		}
	}
	pct := func(k int) float64 { return float64(k) / float64(len(vals)) * 100 }
	return &Ranges{VeryLow: pct(vl), Low: pct(lo), Target: pct(tg), High: pct(hi), VeryHigh: pct(vh), Tight: pct(tight)}
}

// interval derives iglu's dt0 from the median interval between readings:
// rounded half to even; when 1440 is not a multiple, 20 above 20 minutes,
// else the nearest multiple of 5 (CGMS2DayByDay). No grid when the interval
// exceeds the 45-minute interpolation gap (iglu stops there too).
func (c *calc) interval() {
	n := len(c.times)
	if n < 2 {
		return
	}
	d := c.spare[:n-1]
	for i := range d {
		d[i] = (c.times[i+1] - c.times[i]) / 60
	}
	c.dt0Raw = roundHalfEven(median(d))
	dt0 := int(c.dt0Raw)
	if dt0 < 1 {
		dt0 = 1 // sub-minute data: one-minute grid
	}
	if dt0 > interGapMinutes {
		return
	}
	if 1440%dt0 != 0 {
		if dt0 > 20 {
			dt0 = 20
		} else if rem := dt0 % 5; rem > 2 {
			dt0 += 5 - rem
		} else {
			dt0 -= rem
		}
	}
	c.dt0 = dt0
}

// daysWorn counts the local calendar days with at least one historic reading.
func (c *calc) daysWorn() int {
	days := 0
	next := math.Inf(-1) // first instant of the local day after the current one
	for _, t := range c.times {
		if t >= next {
			sec := int64(math.Floor(t))
			days++
			next = float64(c.clk.nextMidnight(sec))
		}
	}
	return days
}

// daysWithData counts the local calendar days of period p whose captured
// grid slots reach SufficientActivePercent of the day's expected readings:
// its length over the grid step (96 for a 24-hour day of 15-minute data,
// 92 and 100 on the days the clocks change). Slots are counted as
// activePercent counts them, from the day's local midnight.
func (c *calc) daysWithData(p PeriodInfo) int {
	if p.Start.IsZero() || len(c.times) == 0 {
		return 0
	}
	dt := float64(c.dt0)
	if dt == 0 {
		dt = 15 // fewer than two readings: FreeStyle Libre's 15-minute history
	}
	loc := c.o.Location
	first, last := p.Start.In(loc), p.End.In(loc)
	if !p.Automatic {
		last = last.Add(-time.Nanosecond)
	}
	n, i := 0, 0
	for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc); !d.After(last); {
		next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		start, end := float64(d.Unix()), float64(next.Unix())
		for i < len(c.times) && c.times[i] < start {
			i++
		}
		slots, lastSlot := 0, int64(-1)
		for ; i < len(c.times) && c.times[i] < end; i++ {
			if s := int64(math.Floor((c.times[i] - start) / (dt * 60))); s != lastSlot {
				slots++
				lastSlot = s
			}
		}
		if expected := next.Sub(d).Minutes() / dt; float64(slots) >= SufficientActivePercent/100*expected {
			n++
		}
		d = next
	}
	return n
}

// activePercent is the % time CGM active: iglu 4.3.0's active_percent
// (R/active_percent.R, range_type "automatic") without a period; with one,
// the historic readings in it over the expected readings at the device
// interval.
func (c *calc) activePercent() float64 {
	n := len(c.times)
	if p := c.o.Period; p != nil {
		if n == 0 {
			return 0
		}
		dt := float64(c.dt0)
		if dt == 0 {
			dt = 15 // fewer than two readings: FreeStyle Libre's 15-minute history
		}
		minutes := p.End.Sub(p.Start).Minutes()
		expected := minutes / dt
		start := float64(p.Start.Unix()) + float64(p.Start.Nanosecond())/1e9
		slots, last := 0, int64(-1)
		for _, t := range c.times {
			if s := int64(math.Floor((t - start) / (dt * 60))); s != last {
				slots++
				last = s
			}
		}
		return math.Min(float64(slots)/expected*100, 100)
	}
	return c.igluActivePercent()
}

// igluActivePercent is iglu 4.3.0's active_percent(range_type =
// "automatic") over the readings: the share of the readings expected from
// the first to the last that are present. Complexity O(n).
func (c *calc) igluActivePercent() float64 {
	n := len(c.times)
	switch n {
	case 0:
		return 0
	case 1:
		return 100
	}
	// iglu 4.3.0 active_percent(range_type = "automatic"), with its
	// unadjusted dt0 and R's half-to-even rounding, evaluated in its order.
	dt0 := c.dt0Raw
	if dt0 < 1 {
		dt0 = 1
	}
	span := (c.times[n-1] - c.times[0]) / 60
	theoretical := roundHalfEven(roundHalfEven(span)/dt0) + 1
	// round(d) > dt0 with R's half-to-even rounding and an integer dt0:
	// d > dt0 + 0.5, or d == dt0 + 0.5 when dt0 is odd (the tie rounds up
	// to the even dt0 + 1).
	half := dt0 + 0.5
	oddDt0 := math.Mod(dt0, 2) == 1
	gapMinutes, gaps := 0.0, 0
	for i := 1; i < n; i++ {
		d := (c.times[i] - c.times[i-1]) / 60
		if d > half || d == half && oddDt0 {
			gapMinutes += d
			gaps++
		}
	}
	missing := roundHalfEven((gapMinutes - float64(gaps)*dt0) / dt0)
	return (theoretical - missing) / theoretical * 100
}

// clock converts instants to the local wall clock of a zone, caching the
// offset between zone transitions (a call to time.Time.In per reading
// would dominate the engine's cost).
type clock struct {
	loc        *time.Location
	start, end int64
	off        int64
	ok         bool
}

// offset returns the zone's UTC offset in seconds at Unix second sec.
func (k *clock) offset(sec int64) int64 {
	if k.ok && sec >= k.start && sec < k.end {
		return k.off
	}
	t := time.Unix(sec, 0).In(k.loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	k.start, k.end = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		k.start = s.Unix()
	}
	if !e.IsZero() {
		k.end = e.Unix()
	}
	k.off, k.ok = int64(off), true
	return k.off
}

// minuteOfDay returns the local minute of the day (0–1439) of sec.
func (k *clock) minuteOfDay(sec int64) int {
	local := sec + k.offset(sec)
	return int((local - floorDiv(local, 86400)*86400) / 60)
}

// nextMidnight returns the first instant of the local calendar day after the
// one that contains sec.
func (k *clock) nextMidnight(sec int64) int64 {
	t := time.Unix(sec, 0).In(k.loc)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, k.loc).Unix()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// scratch returns n float64s of the spare area (free once the intervals are
// known), or a new slice when the area is too small.
func (c *calc) scratch(n int) []float64 {
	if n <= len(c.spare) {
		return c.spare[:n]
	}
	return make([]float64, n)
}
