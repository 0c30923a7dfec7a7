package population

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The funnel plot (Spiegelhalter DJ, "Funnel plots for comparing
// institutional performance", Statistics in Medicine 2005;24:1185–1202):
// each centre's share of patients meeting a target is plotted against its
// number of patients, around the region's share θ0, with control limits
// that narrow as the number grows, so that a small centre is not flagged
// for what chance alone does. The limits are those of a centre "in
// control", whose patients meet the target with probability θ0: the p and
// 1−p quantiles of Binomial(n, θ0)/n for p = 0.025 (95 %, "about two
// standard deviations") and p = 0.001 (99.8 %, "about three").

// Funnel probabilities: the lower quantiles of the 95 % and 99.8 % limits
// (the upper ones are 1 − p).
const (
	P95  = 0.025
	P998 = 0.001
)

// BinomialLimit returns the control limit of a proportion at the p-quantile
// for n patients and target θ0, exactly as Spiegelhalter (2005), Appendix
// A.1.1, interpolates the discrete binomial quantile so that the limits
// are smooth in n: with R ~ Binomial(n, θ0) and F its distribution
// function, r_p is the smallest r with F(r) ≥ p,
//
//	α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)),  limit = (r_p − α) / n.
//
// θ0 of 0 or 1 gives θ0; n < 1 gives NaN.
func BinomialLimit(p, theta0 float64, n int) float64 {
	if n < 1 || math.IsNaN(theta0) {
		return math.NaN()
	}
	if theta0 <= 0 || theta0 >= 1 {
		return theta0
	}
	b := distuv.Binomial{N: float64(n), P: theta0}
	// r_p by bisection on the distribution function.
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if b.CDF(float64(mid)) >= p {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	r := lo
	fr := b.CDF(float64(r))
	fprev := 0.0
	if r > 0 {
		fprev = b.CDF(float64(r - 1))
	}
	alpha := 0.0
	if fr > fprev {
		alpha = (fr - p) / (fr - fprev)
	}
	return (float64(r) - alpha) / float64(n)
}

// NormalLimit returns the normal approximation of the limit (Spiegelhalter
// 2005, §2.2 and Appendix A.1.1: θ0 + z_p √(θ0(1−θ0)/n), z_p the standard
// normal p-quantile: −1.96 and −3.09 for the lower 95 % and 99.8 % limits).
func NormalLimit(p, theta0 float64, n int) float64 {
	z := distuv.UnitNormal.Quantile(p)
	return theta0 + z*math.Sqrt(theta0*(1-theta0)/float64(n))
}

// Limits are the four control limits of a funnel at one number of
// patients, as proportions (0–1).
type Limits struct {
	N                              int
	Low998, Low95, High95, High998 float64
}

// FunnelLimits returns the limits around θ0 at each n of ns.
func FunnelLimits(theta0 float64, ns []int) []Limits {
	out := make([]Limits, len(ns))
	for i, n := range ns {
		// A proportion's limit lies in [0, 1]: the interpolation goes below
		// 0 (above 1) for the few patients where r_p = 0 (= n).
		clamp := func(x float64) float64 { return min(1, max(0, x)) }
		out[i] = Limits{N: n,
			Low998: clamp(BinomialLimit(P998, theta0, n)), Low95: clamp(BinomialLimit(P95, theta0, n)),
			High95: clamp(BinomialLimit(1-P95, theta0, n)), High998: clamp(BinomialLimit(1-P998, theta0, n))}
	}
	return out
}

// Position says where a centre's proportion falls in its funnel.
type Position string

// The positions.
const (
	AboveHigh998 Position = "above-99.8"
	AboveHigh95  Position = "above-95"
	Within       Position = "within"
	BelowLow95   Position = "below-95"
	BelowLow998  Position = "below-99.8"
)

// PositionOf places proportion x (0–1) of n patients in the funnel around
// θ0. A point exactly on a limit is within it.
func PositionOf(x, theta0 float64, n int) Position {
	l := FunnelLimits(theta0, []int{n})[0]
	switch {
	case x > l.High998:
		return AboveHigh998
	case x > l.High95:
		return AboveHigh95
	case x < l.Low998:
		return BelowLow998
	case x < l.Low95:
		return BelowLow95
	}
	return Within
}

// FunnelNs returns the numbers of patients at which to draw the limits
// from lo to hi: every number up to 50, then steps growing by about 4 %,
// and hi itself, so that the curve is smooth on a linear axis.
func FunnelNs(lo, hi int) []int {
	if lo < 1 {
		lo = 1
	}
	var out []int
	for n := lo; n <= hi; {
		out = append(out, n)
		step := max(1, n/25)
		n += step
	}
	if len(out) == 0 || out[len(out)-1] != hi {
		out = append(out, hi)
	}
	return out
}
