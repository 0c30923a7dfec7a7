package agp

import (
	"math"
	"slices"
	"time"

	"fsecgm/cgm"
)

// agpProbs are the AGP percentiles (the AGP v4/v5 report and LibreView use
// 5/25/50/75/95: tidepool-org/viz src/modules/print/utils/AGPConstants.js,
// AGP_LOWER_QUANTILE and AGP_UPPER_QUANTILE).
var agpProbs = [5]float64{0.05, 0.25, 0.50, 0.75, 0.95}

// agp computes the AGP profile: for each time-of-day slot of the local wall
// clock, the type-7 percentiles of the grid values falling in it, one per
// day. Slots are 5 minutes wide, or one grid step when the step is longer; a
// slot is labelled by its end minute (5, 10, …, 1440), as iglu labels the
// columns of its day-by-day grid, so the point at local midnight belongs to
// slot 1440. With a grid finer than 5 minutes (one-minute Libre 3 data), the
// slot takes the grid point at its labelled minute, so that each day counts
// once in each slot, as in iglu's AGP on a 5-minute grid. Values are
// unsmoothed.
func (c *calc) agp() []Slot {
	g := &c.grid
	w := max(g.dt0, 5)
	nslots := 1440 / w
	// slotOf maps a local minute of the day to its slot (-1: a minute
	// whose grid point the profile does not take).
	var slotOf [1440]int16
	for m := range slotOf {
		s := (m + w - 1) / w
		if s == 0 {
			s = nslots
		}
		slotOf[m] = int16(s - 1)
		if g.dt0 < w && m%w != 0 {
			slotOf[m] = -1
		}
	}
	// Each point's slot (-1: not in the profile). The local minute advances
	// by dt0 per point and is read from the zone again only when a zone
	// transition (a DST change) is passed.
	c.w.slot = grow(c.w.slot, len(g.vals))
	slot := c.w.slot
	counts := make([]int, nslots+1)
	m, until := 0, int64(math.MinInt64)
	for i, v := range g.vals {
		if sec := g.sec(i); sec >= until {
			m = c.clk.minuteOfDay(sec)
			until = c.clk.end
		} else if m += g.dt0; m >= 1440 {
			m -= 1440
		}
		s := slotOf[m]
		if v != v {
			s = -1
		}
		slot[i] = s
		counts[s+1]++ // counts[0] gathers the points left out
	}
	counts[0] = 0
	// Counting sort of the values by slot.
	for s := 1; s <= nslots; s++ {
		counts[s] += counts[s-1]
	}
	flat := c.scratch(counts[nslots])
	pos := slices.Clone(counts[:nslots])
	for i, s := range slot {
		if s >= 0 {
			flat[pos[s]] = g.vals[i]
			pos[s]++
		}
	}
	out := make([]Slot, nslots)
	qs := make([]float64, 5*nslots)
	scratch := make([]float64, maxSlot(counts))
	for s := range nslots {
		vs := flat[counts[s]:counts[s+1]]
		out[s] = Slot{Minute: (s + 1) * w, Days: len(vs)}
		if len(vs) == 0 {
			continue
		}
		q := qs[5*s : 5*s+5]
		slotQuantiles(vs, scratch, agpProbs[:], q)
		out[s].P5, out[s].P25, out[s].P50, out[s].P75, out[s].P95 = &q[0], &q[1], &q[2], &q[3], &q[4]
	}
	return out
}

// daily computes one profile per local calendar day of the period, on the
// day's historic readings.
func (c *calc) daily(p PeriodInfo) []Day {
	if p.Start.IsZero() {
		return nil
	}
	loc := c.o.Location
	first := p.Start.In(loc)
	last := p.End.In(loc)
	if !p.Automatic {
		last = last.Add(-time.Nanosecond)
	}
	// One allocation for the days' figures.
	ndays := int(last.Sub(first).Hours()/24) + 2
	out := make([]Day, 0, ndays)
	means := make([]float64, 0, ndays)
	ranges := make([]Ranges, 0, ndays)
	i := 0
	for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, loc); !d.After(last); {
		next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		lo := i
		end := float64(next.Unix())
		for i < len(c.times) && c.times[i] < end {
			i++
		}
		vals := c.vals[lo:i]
		day := Day{Date: d.Format("2006-01-02"), Hours: next.Sub(d).Hours(), Readings: len(vals)}
		if len(vals) > 0 {
			sum := 0.0
			for _, v := range vals {
				sum += v
			}
			means = append(means, cgm.ToMgDL(sum/float64(len(vals)), c.unit))
			ranges = append(ranges, *c.ranges(vals))
			day.MeanMgDL = &means[len(means)-1]
			day.TimeInRanges = &ranges[len(ranges)-1]
		}
		out = append(out, day)
		d = next
	}
	return out
}

// maxSlot returns the largest number of values in one slot, from the
// cumulative counts.
func maxSlot(counts []int) int {
	m := 0
	for s := 1; s < len(counts); s++ {
		m = max(m, counts[s]-counts[s-1])
	}
	return m
}
