package agp

import (
	"math"
	"time"
)

// grid is iglu's interpolated grid (CGMS2DayByDay): points at local midnight
// of the first day plus k·dt0 minutes, k = 1, 2, …, holding the linear
// interpolation of the readings, or NaN where no value is defined.
type grid struct {
	dt0   int       // step in minutes
	t0    int64     // Unix second of local midnight of the first day
	k0    int       // k of vals[0]
	vals  []float64 // NaN: missing
	valid int       // number of non-missing points
}

// time returns the instant of the point at index i of vals.
func (g *grid) sec(i int) int64 { return g.t0 + int64(g.k0+i)*int64(g.dt0)*60 }

// instant returns the point's instant as a time.Time.
func (g *grid) instant(i int) time.Time { return time.Unix(g.sec(i), 0) }

// buildGrid interpolates the readings on the grid. Points before the first
// or after the last reading, and points strictly inside a gap longer than
// 45 minutes, are missing. Only the points between the first and the last
// reading are kept (the others are missing by definition).
func (c *calc) buildGrid() grid {
	times, vals := c.times, c.vals
	n := len(times)
	first, last := times[0], times[n-1]
	t := unixTime(first).In(c.o.Location)
	t0 := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, c.o.Location).Unix()
	step := float64(c.dt0 * 60)
	// iglu: ndays = ceiling(difftime(max, min, "days") + 1) rows of
	// 1440/dt0 points each.
	ndays := math.Ceil((last-first)/86400 + 1)
	kMax := int(ndays) * 1440 / c.dt0
	kStart := max(int(math.Ceil((first-float64(t0))/step)), 1)
	kEnd := min(int(math.Floor((last-float64(t0))/step)), kMax)
	g := grid{dt0: c.dt0, t0: t0, k0: kStart}
	if kEnd < kStart {
		return g
	}
	c.w.grid = grow(c.w.grid, kEnd-kStart+1)
	g.vals = c.w.grid
	const gap = interGapMinutes * 60
	nan := math.NaN()
	j := 0 // times[j] ≤ x ≤ times[j+1]
	for i := range g.vals {
		x := float64(t0) + float64(kStart+i)*step
		for j+2 < n && times[j+1] < x {
			j++
		}
		x0, x1 := times[j], times[j+1]
		var y float64
		switch {
		case x == x1:
			y = vals[j+1]
		case x == x0:
			y = vals[j]
		case x1-x0 > gap:
			y = nan
		default:
			// R's approx1: y[i] + (y[j] − y[i]) · ((v − x[i]) / (x[j] − x[i])).
			y = vals[j] + (vals[j+1]-vals[j])*((x-x0)/(x1-x0))
		}
		g.vals[i] = y
		if y == y {
			g.valid++
		}
	}
	return g
}

// segments calls f for each maximal run [a, b) of non-missing points.
func (g *grid) segments(f func(a, b int)) {
	a := -1
	for i, v := range g.vals {
		if v == v { // not NaN
			if a < 0 {
				a = i
			}
		} else if a >= 0 {
			f(a, i)
			a = -1
		}
	}
	if a >= 0 {
		f(a, len(g.vals))
	}
}
