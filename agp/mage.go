package agp

import "math"

// MAGE parameters of iglu 4.3.0's mage() (Fernandes et al., "Open-source
// algorithm to calculate mean amplitude of glycemic excursions using short
// and long moving averages", J Diabetes Sci Technol 2022;16:576): moving
// averages over 5 and 32 points of a 5-minute grid (scaled to the grid step),
// segments split at gaps longer than 180 minutes.
const (
	mageShortMA = 5
	mageLongMA  = 32
	mageMaxGap  = 180
)

// mage returns the Mean Amplitude of Glycemic Excursions (Service et al.,
// Diabetes 1970;19:644, "Methods": the mean height of the excursions, peak to
// nadir or nadir to peak, larger than one SD) with the moving-average method
// and the defaults of iglu 4.3.0's mage() (version "ma", direction "avg"):
//
//   - on the interpolated grid from its first to its last defined point, runs
//     of missing points longer than 180 minutes split segments; a segment of
//     at least 7 points and at least the long window is measured on its own;
//   - right-aligned moving averages of the defined points over round(25/dt0)
//     and round(160/dt0) points, the first full window's value filling the
//     points before it; where their difference changes sign (across missing
//     points: against the difference at the previous crossing) an interval
//     ends; the first and last points bound the first and last intervals;
//   - each interval's maximum or minimum (first occurrence; searched from the
//     previous turning point) is a turning point;
//   - MAGE+ averages the nadir-to-peak rises of at least one SD (the
//     segment's sample SD) and MAGE− the peak-to-nadir falls, each excursion
//     extended while the trace keeps going and closed by the first turning
//     point one SD back or by the last one;
//   - the result averages MAGE+ and MAGE− of every segment, each weighted by
//     its segment's duration.
//
// iglu compares every pair of turning points (an n×n matrix); here each
// excursion keeps a running minimum or maximum and the moving averages are
// running sums, so the cost is O(g) time and memory for the g grid points.
func (c *calc) mage() float64 {
	g := &c.grid
	vals := g.vals
	a, b := 0, len(vals)
	for a < b && vals[a] != vals[a] {
		a++
	}
	for b > a && vals[b-1] != vals[b-1] {
		b--
	}
	dt := float64(g.dt0)
	short := int(math.RoundToEven(mageShortMA * 5 / dt))
	long := int(math.RoundToEven(mageLongMA * 5 / dt))
	if short > long {
		short, long = long, short
	}
	if b-a < 7 || b-a < long {
		return math.NaN()
	}
	type row struct{ mage, w float64 }
	rows := make([]row, 0, 8)
	seg := func(s, e int) {
		w := float64(e-1-s) * dt // the segment's duration, end − start
		for _, m := range mageSegment(vals[s:e], short, long) {
			if m == m {
				rows = append(rows, row{m, w})
			}
		}
	}
	start := a
	for i := a; i < b; {
		if vals[i] == vals[i] {
			i++
			continue
		}
		j := i
		for j < b && vals[j] != vals[j] {
			j++
		}
		if float64(j-i)*dt > mageMaxGap {
			seg(start, i) // the gap itself is a segment with no value
			start = j
		}
		i = j
	}
	seg(start, b)
	var sumW float64
	for _, r := range rows {
		sumW += r.w
	}
	if len(rows) == 0 {
		return math.NaN()
	}
	total := 0.0
	for _, r := range rows {
		total += r.mage * (r.w / sumW)
	}
	return total
}

// mageSegment returns MAGE+ and MAGE− of one segment (NaN when absent), as
// iglu's mage_atomic. Complexity O(len(x)).
func mageSegment(x []float64, short, long int) [2]float64 {
	out := [2]float64{math.NaN(), math.NaN()}
	n := len(x)
	if n < 7 || n < long {
		return out
	}
	defined, sum := 0, 0.0
	for _, v := range x {
		if v == v {
			defined++
			sum += v
		}
	}
	if defined < 2 {
		return out
	}
	mean := sum / float64(defined)
	var ss float64
	for _, v := range x {
		if v == v {
			ss += (v - mean) * (v - mean)
		}
	}
	sd := math.Sqrt(ss / float64(defined-1))
	if !(sd > 0) {
		return out // a flat trace has no excursion (iglu would not terminate)
	}
	delta := make([]float64, n)
	maS := movingMean(x, short)
	maL := movingMean(x, long)
	for i := range delta {
		s, l := maS[i], maL[i]
		if i < short {
			s = maS[short-1]
		}
		if i < long {
			l = maL[long-1]
		}
		delta[i] = s - l
	}
	// Crossings: the first point, each change of sign of delta, the last.
	type cross struct {
		i   int
		max bool // the interval that follows holds a maximum (REL_MAX)
	}
	crosses := make([]cross, 0, n/8+2)
	crosses = append(crosses, cross{0, delta[0] > 0})
	last := 0
	for i := 1; i < n; i++ {
		if x[i] != x[i] || x[i-1] != x[i-1] || delta[i] != delta[i] || delta[i-1] != delta[i-1] {
			continue
		}
		switch {
		case delta[i]*delta[i-1] < 0:
			crosses = append(crosses, cross{i, !(delta[i] < delta[i-1])})
			last = i
		case delta[i]*delta[last] < 0:
			crosses = append(crosses, cross{i, !(delta[i] < delta[last])})
			last = i
		}
	}
	crosses = append(crosses, cross{n - 1, delta[n-1] > 0})
	// Turning points.
	ext := make([]float64, len(crosses)-1)
	prev := crosses[0].i
	for k := range ext {
		best, at := math.NaN(), -1
		for i := prev; i <= crosses[k+1].i; i++ {
			v := x[i]
			if v == v && (at < 0 || (crosses[k].max && v > best) || (!crosses[k].max && v < best)) {
				best, at = v, i
			}
		}
		ext[k] = best
		if at >= 0 {
			prev = at
		}
	}
	if s, k := magePlus(ext, sd); k > 0 {
		out[0] = s / float64(k)
	}
	if s, k := mageMinus(ext, sd); k > 0 {
		out[1] = math.Abs(s / float64(k))
	}
	return out
}

// magePlus sums the nadir-to-peak heights of iglu's MAGE+ loop: from the
// lowest turning point since the last excursion (first occurrence), a rise of
// at least sd opens an excursion; its peak moves up while higher turning
// points follow and it closes at the first turning point more than sd below
// the peak, or at the last one, where the next search starts. Complexity
// O(len(ext)).
func magePlus(ext []float64, sd float64) (sum float64, count int) {
	n := len(ext)
	j, low := 0, 0 // low: first minimum of ext over [start, j]
	for j < n {
		if ext[j]-ext[low] >= sd {
			i := low
			for k := j; k < n; k++ {
				if ext[k] > ext[j] {
					j = k
				}
				if ext[k]-ext[j] < -sd || k == n-1 {
					sum += ext[j] - ext[i]
					count++
					j = k
					break
				}
			}
			low = j // the next search starts where this excursion closed
			continue
		}
		j++
		if j < n && ext[j] < ext[low] {
			low = j
		}
	}
	return sum, count
}

// mageMinus sums the peak-to-nadir heights (negative) of iglu's MAGE− loop,
// the mirror of magePlus except that the next search starts at the nadir of
// the excursion just closed. Complexity O(len(ext)): the rescan from the
// nadir covers points the excursion's own scan passed once.
func mageMinus(ext []float64, sd float64) (sum float64, count int) {
	n := len(ext)
	j, high := 0, 0 // high: first maximum of ext over [start, j]
	for j < n {
		if ext[j]-ext[high] <= -sd {
			i := high
			for k := j; k < n; k++ {
				if ext[k] < ext[j] {
					j = k
				}
				if ext[k]-ext[j] > sd || k == n-1 {
					sum += ext[j] - ext[i]
					count++
					start := j
					j = k
					high = start
					for m := start + 1; m <= j; m++ {
						if ext[m] > ext[high] {
							high = m
						}
					}
					break
				}
			}
			continue
		}
		j++
		if j < n && ext[j] > ext[high] {
			high = j
		}
	}
	return sum, count
}

// movingMean returns the right-aligned moving mean of the defined values of
// x over windows of w points (NaN before the first full window and where a
// window holds no defined value), with compensated running sums (Neumaier).
// Complexity O(len(x)).
func movingMean(x []float64, w int) []float64 {
	out := make([]float64, len(x))
	var sum, comp float64
	cnt := 0
	add := func(v float64) {
		t := sum + v
		if math.Abs(sum) >= math.Abs(v) {
			comp += (sum - t) + v
		} else {
			comp += (v - t) + sum
		}
		sum = t
	}
	for i, v := range x {
		if v == v {
			add(v)
			cnt++
		}
		if i >= w {
			if o := x[i-w]; o == o {
				add(-o)
				cnt--
			}
		}
		if i < w-1 || cnt == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = (sum + comp) / float64(cnt)
		}
	}
	return out
}
