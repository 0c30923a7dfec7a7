package summaries

import (
	"math"
	"slices"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// Figures are the glucometrics of one patient over one period, as the
// clinic list shows them. They are those of agp.Compute for the same period
// (see the package documentation for the precision); a figure that cannot
// be computed is nil.
type Figures struct {
	// Readings is the number of historic readings.
	Readings int `json:"readings"`
	// Scans is the number of scans.
	Scans int `json:"scans"`
	// Unit is the unit the readings were classified in (agp.Report.Unit).
	Unit         string       `json:"unit"`
	MeanGlucose  *agp.Glucose `json:"mean_glucose"`
	SDMgDL       *float64     `json:"sd_mg_dl"`
	CVPercent    *float64     `json:"cv_percent"`
	GMI          *agp.GMI     `json:"gmi"`
	TimeInRanges *agp.Ranges  `json:"time_in_ranges"`
	// GRI is the Glycemia Risk Index of the band percentages (agp.GRI).
	GRI *agp.GRI `json:"gri"`
	// ActivePercent is the % time CGM active.
	ActivePercent float64 `json:"active_percent"`
	// DaysWorn counts the local days with at least one historic reading.
	DaysWorn int `json:"days_worn"`
	// Days is the length of the period in local calendar days.
	Days float64 `json:"days"`
	// Sufficient: at least 14 days and 70 % captured.
	Sufficient bool `json:"sufficient"`
}

// FiguresOf returns the figures of an engine report.
func FiguresOf(r agp.Report) Figures {
	return Figures{Readings: r.Readings, Scans: r.Scans, Unit: r.Unit, MeanGlucose: r.MeanGlucose, SDMgDL: r.SDMgDL,
		CVPercent: r.CVPercent, GMI: r.GMI, TimeInRanges: r.TimeInRanges, GRI: r.GRI, ActivePercent: r.ActivePercent,
		DaysWorn: r.DaysWorn, Days: r.Period.Days, Sufficient: r.Sufficient}
}

// thresholds are the consensus band limits in one unit, applied as the
// engine applies them (agp/metrics.go; Battelino et al. 2019, Table 1):
// very low g < veryLow; low < low; target ≤ targetHigh (tight ≤
// tightHigh); high ≤ high; very high above.
type thresholds struct {
	veryLow, low, targetHigh, high, tightHigh float64
}

func thresholdsOf(u cgm.Unit) thresholds {
	if u == cgm.MmolL {
		return thresholds{veryLow: 3.0, low: 3.9, targetHigh: 10.0, high: 13.9, tightHigh: 7.8}
	}
	return thresholds{veryLow: 54, low: 70, targetHigh: 180, high: 250, tightHigh: 140}
}

// Band indexes of a day's counts.
const (
	bandVeryLow = iota
	bandLow
	bandTarget
	bandHigh
	bandVeryHigh
	bandTight
	nBands
)

// classify adds v to the band counts.
func (th thresholds) classify(v float64, c *[nBands]int32) {
	switch {
	case v < th.veryLow:
		c[bandVeryLow]++
	case v < th.low:
		c[bandLow]++
	case v <= th.targetHigh:
		c[bandTarget]++
		if v <= th.tightHigh {
			c[bandTight]++
		}
	case v <= th.high:
		c[bandHigh]++
	default:
		c[bandVeryHigh]++
	}
}

// slotSteps are the grid steps (minutes) whose captured slots each day row
// keeps: the historic cadences of FreeStyle Libre 3 (5 min) and Libre 2
// (15 min), and one minute. 15 is also the step the engine uses when a
// period has fewer than two readings.
var slotSteps = [3]int{1, 5, 15}

// maxGaps bounds the distinct intervals a day row keeps; a day with more is
// "irregular" and its periods are computed from the readings.
const maxGaps = 64

// day is the aggregate of one patient's readings of one local calendar day:
// sufficient statistics that merge exactly into the figures of any period
// made of whole days.
type day struct {
	date  time.Time // local midnight
	n     int32     // historic readings
	nMgDL int32     // of which reported in mg/dL
	scans int32
	sum   float64 // Σ mg/dL
	m2    float64 // Σ (mg/dL − day mean)²
	// bands counts the readings under the mg/dL limits (mmol/L values
	// converted); mmol under the mmol/L limits, only for a day whose
	// readings are all in mmol/L (nil otherwise).
	bands       [nBands]int32
	mmol        *[nBands]int32
	first, last time.Time // first and last historic reading
	// gaps and gapCounts are the distinct intervals (minutes, as the
	// engine computes them) between consecutive historic readings of the
	// day and how often each occurs; nil gaps with n ≥ 2 means irregular.
	gaps      []float64
	gapCounts []int32
	// slots counts the distinct slots of slotSteps from local midnight
	// holding a historic reading.
	slots [3]int32
}

// secOf is an instant in Unix seconds as the engine reads it.
func secOf(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// localMidnight returns the start of the local calendar day of t.
func localMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// buildDays aggregates the historic and scan readings of rs (sorted) by
// local calendar day of loc. Days without readings are absent.
func buildDays(rs cgm.Series, loc *time.Location) []day {
	var (
		out  []day
		cur  *day
		next time.Time
		vals []float64
		gaps map[float64]int32
		last [3]int64
		prev float64
	)
	flush := func() {
		if cur == nil {
			return
		}
		finishDay(cur, vals, gaps)
		out = append(out, *cur)
		cur = nil
	}
	for i := range rs {
		r := &rs[i]
		if r.Kind != cgm.Historic && r.Kind != cgm.Scan {
			continue
		}
		if cur == nil || !r.Time.Before(next) {
			flush()
			start := localMidnight(r.Time, loc)
			next = time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, loc)
			cur = &day{date: start}
			vals, gaps = vals[:0], map[float64]int32{}
			last = [3]int64{-1, -1, -1}
		}
		if r.Kind == cgm.Scan {
			cur.scans++
			continue
		}
		sec := secOf(r.Time)
		if cur.n > 0 {
			gaps[(sec-prev)/60]++
		} else {
			cur.first = r.Time
		}
		prev = sec
		cur.last = r.Time
		cur.n++
		mg := cgm.ToMgDL(r.Value, r.Unit)
		vals = append(vals, mg)
		if r.Unit == cgm.MmolL {
			if cur.mmol == nil && cur.nMgDL == 0 {
				cur.mmol = new([nBands]int32)
			}
			if cur.mmol != nil {
				thresholdsOf(cgm.MmolL).classify(r.Value, cur.mmol)
			}
		} else {
			cur.nMgDL++
			cur.mmol = nil
		}
		thresholdsOf(cgm.MgDL).classify(mg, &cur.bands)
		off := sec - secOf(cur.date)
		for k, step := range slotSteps {
			if s := int64(math.Floor(off / float64(step*60))); s != last[k] {
				cur.slots[k]++
				last[k] = s
			}
		}
	}
	flush()
	return out
}

// finishDay computes the day's sum, M2 (two passes, as the engine's
// variance) and interval histogram.
func finishDay(d *day, vals []float64, gaps map[float64]int32) {
	if len(vals) == 0 {
		d.gaps, d.gapCounts = []float64{}, []int32{}
		return
	}
	sum := 0.0
	for _, v := range vals {
		sum += v
	}
	mean := sum / float64(len(vals))
	m2 := 0.0
	for _, v := range vals {
		m2 += (v - mean) * (v - mean)
	}
	d.sum, d.m2 = sum, m2
	if len(gaps) > maxGaps {
		return // irregular: d.gaps stays nil
	}
	d.gaps = make([]float64, 0, len(gaps))
	for g := range gaps {
		d.gaps = append(d.gaps, g)
	}
	slices.Sort(d.gaps)
	d.gapCounts = make([]int32, len(d.gaps))
	for i, g := range d.gaps {
		d.gapCounts[i] = gaps[g]
	}
}

// irregular reports whether the day's intervals were too many to keep.
func (d *day) irregular() bool { return d.n >= 2 && d.gaps == nil }

// mergeDays computes the figures of period p (whole local days of loc) from
// the day rows ds (sorted by date; days outside p are ignored). ok is
// false when the rows cannot give the engine's exact figures (an irregular
// day, or a grid step whose slots the rows do not keep): the caller then
// computes from the readings.
func mergeDays(ds []day, p agp.Period, loc *time.Location) (Figures, bool) {
	start, end := p.Start.In(loc), p.End.In(loc)
	f := Figures{Days: calendarDays(start, end), Unit: cgm.MmolL.String()}
	var (
		n, nMg, scans int
		mean, m2, sum float64
		bands, mmol   [nBands]int
		slots         [3]int
		mmolOK        = true
		gapCount      = map[float64]int{}
		prevLast      time.Time
		in            []*day
	)
	for i := range ds {
		d := &ds[i]
		if d.date.Before(start) || !d.date.Before(end) {
			continue
		}
		scans += int(d.scans)
		if d.n == 0 {
			continue
		}
		if d.irregular() {
			return Figures{}, false
		}
		in = append(in, d)
		// Chan et al.'s pairwise update of the mean and M2.
		nb := float64(d.n)
		mb := d.sum / nb
		if n == 0 {
			mean, m2 = mb, d.m2
		} else {
			na := float64(n)
			delta := mb - mean
			tot := na + nb
			mean += delta * nb / tot
			m2 += d.m2 + delta*delta*na*nb/tot
		}
		n += int(d.n)
		nMg += int(d.nMgDL)
		sum += d.sum
		for k := range bands {
			bands[k] += int(d.bands[k])
		}
		if d.mmol == nil {
			mmolOK = false
		} else {
			for k := range mmol {
				mmol[k] += int(d.mmol[k])
			}
		}
		for k := range slots {
			slots[k] += int(d.slots[k])
		}
		for k, g := range d.gaps {
			gapCount[g] += int(d.gapCounts[k])
		}
		if !prevLast.IsZero() {
			gapCount[(secOf(d.first)-secOf(prevLast))/60]++
		}
		prevLast = d.last
	}
	f.Scans = scans
	f.Readings = n
	f.DaysWorn = len(in)
	if n == 0 {
		return f, true
	}
	unit := cgm.MmolL
	counts := mmol
	if nMg > 0 {
		unit, counts = cgm.MgDL, bands
	} else if !mmolOK {
		return Figures{}, false
	}
	f.Unit = unit.String()
	mg := sum / float64(n)
	f.MeanGlucose = &agp.Glucose{MgDL: mg, MmolL: mg / cgm.MgDLPerMmolL}
	f.GMI = &agp.GMI{Percent: 3.31 + 0.02392*mg, MmolMol: 12.71 + 4.70587*f.MeanGlucose.MmolL}
	if n > 1 {
		sd := math.Sqrt(m2 / float64(n-1))
		cv := sd / mg * 100
		f.SDMgDL, f.CVPercent = &sd, &cv
	}
	pct := func(k int) float64 { return float64(k) / float64(n) * 100 }
	f.TimeInRanges = &agp.Ranges{VeryLow: pct(counts[bandVeryLow]), Low: pct(counts[bandLow]), Target: pct(counts[bandTarget]),
		High: pct(counts[bandHigh]), VeryHigh: pct(counts[bandVeryHigh]), Tight: pct(counts[bandTight])}
	gri := agp.GRIFromRanges(*f.TimeInRanges)
	f.GRI = &gri
	// % time CGM active (the engine's rule for a given period): distinct
	// slots of the grid step dt0 from the period's start ÷ expected slots.
	dt := gridStep(gapCount, n-1)
	if dt == 0 {
		dt = 15
	}
	k := slices.Index(slotSteps[:], dt)
	if k < 0 {
		return Figures{}, false
	}
	startSec := start.Unix()
	for _, d := range in {
		if (d.date.Unix()-startSec)%int64(dt*60) != 0 {
			return Figures{}, false // a day not aligned on the grid (zones with odd offsets)
		}
	}
	expected := end.Sub(start).Minutes() / float64(dt)
	f.ActivePercent = math.Min(float64(slots[k])/expected*100, 100)
	f.Sufficient = f.Days >= agp.SufficientDays && f.ActivePercent >= agp.SufficientActivePercent
	return f, true
}

// calendarDays returns the number of local calendar days between two local
// midnights.
func calendarDays(start, end time.Time) float64 {
	ds := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	de := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	return math.Round(de.Sub(ds).Hours() / 24)
}

// gridStep returns the engine's grid step dt0 (minutes; 0 for no grid) from
// the histogram of the intervals between consecutive readings (total
// intervals): the median interval rounded half to even, then iglu's
// adjustment (agp/metrics.go, calc.interval: no grid beyond the 45-minute
// interpolation gap; a step that does not divide 1440 becomes 20 above 20
// minutes, else the nearest multiple of 5).
func gridStep(hist map[float64]int, total int) int {
	if total < 1 {
		return 0
	}
	keys := make([]float64, 0, len(hist))
	for g := range hist {
		keys = append(keys, g)
	}
	slices.Sort(keys)
	kth := func(k int) float64 { // k-th smallest, 0-based
		for _, g := range keys {
			if k < hist[g] {
				return g
			}
			k -= hist[g]
		}
		return keys[len(keys)-1]
	}
	half := total / 2
	med := kth(half)
	if total%2 == 0 {
		med = (kth(half-1) + med) / 2
	}
	dt0 := int(math.RoundToEven(med))
	if dt0 < 1 {
		dt0 = 1
	}
	if dt0 > 45 {
		return 0
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
	return dt0
}
