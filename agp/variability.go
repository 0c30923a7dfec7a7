package agp

import "math"

// The metrics of iglu's day-by-day grid (CGMS2DayByDay: rows of 1440/dt0
// points from local midnight of the first day, the point at midnight closing
// the day before), as all_metrics computes them (optimized_iglu_functions).
//
// Two kinds of structure are read from the grid:
//   - the lattice: every dt0 minutes of elapsed time from the first local
//     midnight (iglu's matrix read row after row). CONGA, GVP, SD of the rate
//     of change, MAG, SDwsh, MAGE and AUC use it; their lags and windows are
//     elapsed time, so a change of the clocks does not touch them;
//   - local days and local times of day: the rows (days) and columns (times
//     of day) of the matrix. iglu's rows are 1440-minute blocks of the
//     lattice, which after a DST change no longer start at local midnight (a
//     25-hour day loses its last hour to the next row, and its repeated hour
//     shares the columns of the next hour). Here a point belongs to the local
//     calendar day and the local time of day of its instant: the 25-hour day
//     has 25 hours of values, its repeated hour two values in each of its
//     columns, the 23-hour day none in the hour that does not exist. MODD, the
//     CV measures and SDw, SDhhmm, SDdm, SDb and SDbdm use them. Where the
//     clocks do not change (every fixed zone) both readings coincide.

// dayGrid is the grid as local days × times of day: cell (r, col) holds up to
// two values (two on the repeated hour of a 25-hour day).
type dayGrid struct {
	cols   int       // 1440/dt0
	rows   int       // local days from the first grid row
	first  []float64 // value of each cell, NaN when empty; index r*cols + col
	second []float64 // second value of a cell (repeated hour), NaN when none
}

// localDays places every defined grid point in its local day and time of day.
// A point at local midnight belongs to the day before (iglu's last column).
// Complexity O(g).
func (c *calc) localDays() dayGrid {
	g := &c.grid
	cols := 1440 / g.dt0
	// Rows: local days from the day of the grid's origin (local midnight).
	lastSec := g.sec(len(g.vals) - 1)
	rows := 1
	for end := c.clk.nextMidnight(g.t0); end < lastSec; end = c.clk.nextMidnight(end) {
		rows++
	}
	d := dayGrid{cols: cols, rows: rows}
	c.w.cells = grow(c.w.cells, 2*rows*cols)
	d.first = c.w.cells[:rows*cols]
	d.second = c.w.cells[rows*cols:]
	nan := math.NaN()
	for i := range c.w.cells {
		c.w.cells[i] = nan
	}
	row := 0
	dayEnd := c.clk.nextMidnight(g.t0)
	m, until := 0, int64(math.MinInt64)
	for i, v := range g.vals {
		sec := g.sec(i)
		for sec > dayEnd {
			row++
			dayEnd = c.clk.nextMidnight(dayEnd)
		}
		if sec >= until {
			m = c.clk.minuteOfDay(sec)
			until = c.clk.end
		} else if m += g.dt0; m >= 1440 {
			m -= 1440
		}
		if v != v {
			continue
		}
		col := (m + g.dt0 - 1) / g.dt0 // the slot the minute ends, as iglu labels columns
		if col == 0 {
			col = cols
		}
		k := row*cols + col - 1
		if d.first[k] != d.first[k] {
			d.first[k] = v
		} else {
			d.second[k] = v
		}
	}
	return d
}

// moments accumulates the count, mean and SD of a stream of values as sums
// of their deviations from the first value (no division per value; the
// shift keeps the sums small, so the SD matches R's two-pass sd() to far
// better than 1e-9 for glucose values).
type moments struct {
	n      int
	ref    float64
	s1, s2 float64
}

func (s *moments) add(v float64) {
	if s.n == 0 {
		s.ref = v
	}
	s.n++
	d := v - s.ref
	s.s1 += d
	s.s2 += d * d
}

// sd is the sample SD (NaN with fewer than two values, as R's sd()).
func (s *moments) sd() float64 {
	if s.n < 2 {
		return math.NaN()
	}
	n := float64(s.n)
	return math.Sqrt(max(s.s2-s.s1*s.s1/n, 0) / (n - 1))
}

// avg is the mean (NaN with no values, as R's mean(numeric(0))).
func (s *moments) avg() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.ref + s.s1/float64(s.n)
}

// gridMetrics computes the metrics of the grid. Complexity O(g) for the g
// points of the lattice, O(g·w) for SDwsh's hourly windows of w points.
func (c *calc) gridMetrics(e *Extended) {
	g := &c.grid
	dt := float64(g.dt0)
	cols := 1440 / g.dt0
	ndays := int(math.Ceil((c.times[len(c.times)-1]-c.times[0])/86400 + 1))
	total := ndays * cols // lattice points 1..total (k)
	// at returns the lattice value at position p = k − 1 (NaN off the grid).
	at := func(p int) float64 {
		i := p + 1 - g.k0
		if i < 0 || i >= len(g.vals) {
			return math.NaN()
		}
		return g.vals[i]
	}
	hourly := int(math.RoundToEven(60 / dt))

	// CONGA(24) (McDonnell et al., Diabetes Technol Ther 2005;7:253,
	// "Methods"): the SD of the differences between each value and the value
	// 24 hours (of elapsed time) earlier.
	var conga moments
	lag := hourly * 24
	for i := range g.vals {
		if v, w := g.vals[i], at(g.k0-1+i-lag); v == v && w == w {
			conga.add(v - w)
		}
	}
	e.v[MetricCONGA] = conga.sd()

	// GVP (Peyser et al., Diabetes Technol Ther 2018;20:6, "Methods"): the
	// length of the trace over the length of a flat line, L/L0, with L the
	// sum of √(dt² + Δg²) over consecutive grid points. all_metrics reports
	// the ratio; iglu's gvp() and PGS use (L/L0 − 1)·100.
	gvpL, gvpN := 0.0, 0
	for i := 1; i < len(g.vals); i++ {
		if d := g.vals[i] - g.vals[i-1]; d == d {
			gvpL += math.Sqrt(dt*dt + d*d)
			gvpN++
		}
	}
	e.v[MetricGVP] = gvpL / (float64(gvpN) * dt)

	// SD of the rate of change (Rodbard, Diabetes Technol Ther 2009;11
	// Suppl 1:S55, "Rate of change"): the SD of (g(t) − g(t − 15 min))/15 on
	// the grid; iglu takes the lag as 15/dt0 points truncated, and has none
	// when the grid step exceeds 15 minutes.
	if m := 15 / g.dt0; m >= 1 {
		var roc moments
		for i := m; i < len(g.vals); i++ {
			if d := g.vals[i] - g.vals[i-m]; d == d {
				roc.add(d / 15)
			}
		}
		e.v[MetricSDRoC] = roc.sd()
	}

	// MAG (Hermanides et al., Crit Care Med 2010;38:838, "Methods"): the sum
	// of the absolute differences between consecutive hourly points over the
	// hours they cover, on the grid points of every round(60/dt0)-th column.
	var magSum float64
	magN := 0
	prev := math.NaN()
	for r := 0; r < ndays; r++ {
		for col := 0; col < cols; col += hourly {
			v := at(r*cols + col)
			if v == v {
				magN++
				if prev == prev {
					magSum += math.Abs(v - prev)
				}
			}
			prev = v
		}
	}
	e.v[MetricMAG] = magSum / float64(magN)

	// SDwsh (Rodbard 2009, "SD within series"): the mean of the SDs of
	// hour-long windows of consecutive grid points (caTools::runsd, windows
	// inside the series, missing points ignored; a window needs two values).
	e.v[MetricSDwsh] = c.sdwsh(at, total, hourly)

	// AUC: as all_metrics computes it (iglu's auc_single_O), the hourly mean
	// of trapezoids dt0/60 · (g_p + g_q)/2 grouped by rep(actual_dates,
	// 1440/dt0), a labelling that pairs each lattice point with the one ndays
	// rows later; the mean over the groups. Every group must have a pair,
	// else (as in R) the result is NA.
	var aucSum float64
	aucNaN := false
	for r := 0; r < ndays && !aucNaN; r++ {
		area, pairs := 0.0, 0
		for p := r; p+ndays < total; p += ndays {
			if a, b := at(p), at(p+ndays); a == a && b == b {
				area += dt / 60 * ((a + b) / 2)
				pairs++
			}
		}
		if pairs == 0 {
			aucNaN = true
		}
		aucSum += area / (dt / 60 * float64(pairs))
	}
	if !aucNaN {
		e.v[MetricAUC] = aucSum / float64(ndays)
	}

	c.dayMetrics(e)
}

// sdwsh is the mean over the windows of w consecutive lattice points of the
// sample SD of their defined values. The windows slide with running sums of
// the values' deviations from a reference (the first defined value of the
// block), recomputed exactly every w windows so that rounding cannot
// accumulate. Complexity O(g).
func (c *calc) sdwsh(at func(int) float64, total, w int) float64 {
	g := &c.grid
	// Only windows that touch the grid can hold values: those starting in
	// [k0−1 − (w−1), k0−1 + len(vals) − 1].
	lo := max(0, g.k0-1-(w-1))
	hi := min(total-w, g.k0-1+len(g.vals)-1)
	var sum float64
	n := 0
	var s1, s2, ref float64
	cnt := 0
	for s := lo; s <= hi; s++ {
		if (s-lo)%w == 0 {
			// Exact sums of the window [s, s+w).
			s1, s2, cnt = 0, 0, 0
			ref = math.NaN()
			for p := s; p < s+w; p++ {
				if v := at(p); v == v {
					if ref != ref {
						ref = v
					}
					d := v - ref
					s1 += d
					s2 += d * d
					cnt++
				}
			}
		} else {
			if v := at(s - 1); v == v {
				d := v - ref
				s1 -= d
				s2 -= d * d
				cnt--
			}
			if v := at(s + w - 1); v == v {
				if ref != ref {
					ref = v
				}
				d := v - ref
				s1 += d
				s2 += d * d
				cnt++
			}
		}
		if cnt >= 2 {
			ss := s2 - s1*s1/float64(cnt)
			sum += math.Sqrt(max(ss, 0) / float64(cnt-1))
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// dayMetrics computes the metrics of local days and times of day: MODD, the
// CV measures and the SD components. Complexity O(rows·cols).
func (c *calc) dayMetrics(e *Extended) {
	d := c.localDays()
	rows, cols := d.rows, d.cols
	// Per day: mean, SD and CV.
	dayMean := make([]float64, rows)
	var sdw, cvs, dm moments
	for r := 0; r < rows; r++ {
		var m moments
		for k := r * cols; k < (r+1)*cols; k++ {
			if v := d.first[k]; v == v {
				m.add(v)
				if w := d.second[k]; w == w {
					m.add(w)
				}
			}
		}
		dayMean[r] = m.avg()
		if sd := m.sd(); sd == sd {
			sdw.add(sd)
			cvs.add(sd / m.avg() * 100)
		}
		if m.n > 0 {
			dm.add(m.avg())
		}
	}
	// CV measures (Umpierrez and Kovatchev, Am J Med Sci 2018;356:350): the
	// mean and SD of the daily CVs.
	e.v[MetricCVMean] = cvs.avg()
	e.v[MetricCVSD] = cvs.sd()
	// SD components (Rodbard, Diabetes Technol Ther 2009;11:551, "New and
	// improved methods to characterize glycemic variability using CGM",
	// Table 1): SDw, the mean of the daily SDs; SDdm, the SD of the daily
	// means; SDhhmm, the SD of the means at each time of day; SDb, the mean
	// of the SDs at each time of day; SDbdm, the same after subtracting each
	// day's mean.
	e.v[MetricSDw] = sdw.avg()
	e.v[MetricSDdm] = dm.sd()
	var hhmm, sdb, sdbdm moments
	for col := 0; col < cols; col++ {
		var m, md moments
		for r := 0; r < rows; r++ {
			k := r*cols + col
			if v := d.first[k]; v == v {
				m.add(v)
				md.add(v - dayMean[r])
				if w := d.second[k]; w == w {
					m.add(w)
					md.add(w - dayMean[r])
				}
			}
		}
		if m.n > 0 {
			hhmm.add(m.avg())
		}
		if sd := m.sd(); sd == sd {
			sdb.add(sd)
		}
		if sd := md.sd(); sd == sd {
			sdbdm.add(sd)
		}
	}
	e.v[MetricSDhhmm] = hhmm.sd()
	e.v[MetricSDb] = sdb.avg()
	e.v[MetricSDbdm] = sdbdm.avg()
	// MODD (Molnar et al., Diabetologia 1972;8:342, "Methods"): the mean
	// absolute difference between values at the same time of day on
	// consecutive days (each value of a repeated hour against each value of
	// the adjacent day's same time).
	var modd float64
	moddN := 0
	for k := cols; k < rows*cols; k++ {
		a, b := d.first[k], d.first[k-cols]
		if a != a || b != b {
			continue
		}
		modd += math.Abs(a - b)
		moddN++
		a2, b2 := d.second[k], d.second[k-cols]
		if a2 == a2 {
			modd += math.Abs(a2 - b)
			moddN++
		}
		if b2 == b2 {
			modd += math.Abs(a - b2)
			moddN++
		}
		if a2 == a2 && b2 == b2 {
			modd += math.Abs(a2 - b2)
			moddN++
		}
	}
	if moddN > 0 {
		e.v[MetricMODD] = modd / float64(moddN)
	}
}

// gvpPercent is the glucose variability percentage as iglu's gvp() reports
// it: (L/L0 − 1)·100 (Peyser 2018).
func (c *calc) gvpPercent() float64 {
	g := &c.grid
	dt := float64(g.dt0)
	l, n := 0.0, 0
	for i := 1; i < len(g.vals); i++ {
		if d := g.vals[i] - g.vals[i-1]; d == d {
			l += math.Sqrt(dt*dt + d*d)
			n++
		}
	}
	return (l/(float64(n)*dt) - 1) * 100
}
