package agp

import (
	"math"
	"slices"
	"sort"
)

// quantile7 returns the p-quantile of sorted (ascending, no NaN, non-empty)
// with Hyndman and Fan's type 7, the default of R and numpy, computed as R's
// quantile.default does: index = 1 + (n−1)·p, lo = floor(index),
// q = (1−h)·x[lo] + h·x[hi] with h = index − lo.
func quantile7(sorted []float64, p float64) float64 { return quantileAt(sorted, len(sorted), p) }

// median returns the median of xs (R's median: the mean of the two middle
// values for an even count), reordering xs. It selects instead of sorting.
func median(xs []float64) float64 {
	n := len(xs)
	half := n / 2
	hi := selectKth(xs, half)
	if n%2 == 1 {
		return hi
	}
	// The lower middle value is the largest of the elements left of half.
	lo := slices.Max(xs[:half])
	return (lo + hi) / 2
}

// selectKth reorders xs so that xs[k] is the value it would hold if xs were
// sorted, every element before it is ≤ and every element after it is ≥, and
// returns xs[k]. It is a three-way quickselect: CGM intervals are mostly equal,
// which a three-way partition handles in linear time.
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		// median of three as pivot
		mid := lo + (hi-lo)/2
		a, b, c := xs[lo], xs[mid], xs[hi]
		pivot := b
		if (a <= b) == (b <= c) {
			pivot = b
		} else if (b <= a) == (a <= c) {
			pivot = a
		} else {
			pivot = c
		}
		// Dutch national flag partition of xs[lo..hi].
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := xs[i]; {
			case v < pivot:
				xs[lt], xs[i] = xs[i], xs[lt]
				lt++
				i++
			case v > pivot:
				xs[i], xs[gt] = xs[gt], xs[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return xs[k]
}

// roundHalfEven rounds to the nearest integer, ties to even, as R's round(x)
// does (IEC 60559).
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// roundDigits1 rounds x to one decimal as R (≥ 4.0.0) does with round(x, 1):
// of the two candidates with one decimal around x, the closer one; on a tie,
// the one with an even last digit.
func roundDigits1(x float64) float64 {
	const p = 10
	f := math.Floor(x * p)
	lo, hi := f/p, (f+1)/p
	if math.Ceil(x*p) == f { // x·10 is an integer
		return f / p
	}
	dlo, dhi := x-lo, hi-x
	switch {
	case dlo < dhi:
		return lo
	case dhi < dlo:
		return hi
	case math.Mod(f, 2) == 0:
		return lo
	default:
		return hi
	}
}

// quantileBuckets is the number of value buckets [slotQuantiles] uses.
const quantileBuckets = 64

// slotQuantiles sets out to the type-7 quantiles probs of vs (finite values),
// reordering vs; scratch must hold len(vs) values. It equals sorting vs and
// calling quantile7, but finds only the order statistics it needs: the
// values are spread over buckets by a monotone map of their value (a bucket
// holds only values greater than every value of the buckets before it),
// each needed rank is located in its bucket from the counts, and only those
// few buckets are sorted. For the few dozen values of an AGP slot this avoids
// the mispredicted branches of a full comparison sort.
func slotQuantiles(vs, scratch []float64, probs []float64, out []float64) {
	n := len(vs)
	if n <= 32 {
		slices.Sort(vs)
		for i, p := range probs {
			out[i] = quantile7(vs, p)
		}
		return
	}
	lo, hi := vs[0], vs[0]
	for _, v := range vs[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	if lo == hi {
		for i := range probs {
			out[i] = lo
		}
		return
	}
	scale := float64(quantileBuckets) / (hi - lo)
	bucket := func(v float64) int {
		return min(int((v-lo)*scale), quantileBuckets-1)
	}
	var starts [quantileBuckets + 1]int
	for _, v := range vs {
		starts[bucket(v)+1]++
	}
	for b := 1; b <= quantileBuckets; b++ {
		starts[b] += starts[b-1]
	}
	// Place the values by bucket (counting sort) into scratch.
	pos := starts
	for _, v := range vs {
		b := bucket(v)
		scratch[pos[b]] = v
		pos[b]++
	}
	// Sort the buckets that hold a needed rank; then scratch[r] is the
	// r-th smallest value for every needed r.
	sorted := uint64(0)
	need := func(r int) {
		b := sort.SearchInts(starts[1:], r+1) // first bucket whose end passes r
		if sorted&(1<<b) == 0 {
			slices.Sort(scratch[starts[b]:starts[b+1]])
			sorted |= 1 << b
		}
	}
	for _, p := range probs {
		index := 1 + float64(n-1)*p
		need(int(math.Floor(index)) - 1)
		need(int(math.Ceil(index)) - 1)
	}
	for i, p := range probs {
		out[i] = quantileAt(scratch, n, p)
	}
}

// quantileAt is quantile7 on values whose needed order statistics are in
// place (sorted[r] is the r-th smallest for the ranks p needs).
func quantileAt(sorted []float64, n int, p float64) float64 {
	index := 1 + float64(n-1)*p
	lo := math.Floor(index)
	hi := math.Ceil(index)
	qs := sorted[int(lo)-1]
	xhi := sorted[int(hi)-1]
	if index > lo && xhi != qs {
		h := index - lo
		qs = (1-h)*qs + h*xhi
	}
	return qs
}
