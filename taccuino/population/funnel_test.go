package population

import (
	"math"
	"math/big"
	"testing"
)

// exactCDF returns P(R ≤ r) for r = 0…n, R ~ Binomial(n, θ), in exact
// rational arithmetic (θ a fraction num/den), independent of gonum's
// incomplete beta.
func exactCDF(n int, num, den int64) []float64 {
	th := big.NewRat(num, den)
	q := new(big.Rat).Sub(big.NewRat(1, 1), th)
	sum := new(big.Rat)
	out := make([]float64, n+1)
	for k := 0; k <= n; k++ {
		c := new(big.Rat).SetInt(new(big.Int).Binomial(int64(n), int64(k)))
		term := new(big.Rat).Mul(c, pow(th, k))
		term.Mul(term, pow(q, n-k))
		sum.Add(sum, term)
		out[k], _ = sum.Float64()
	}
	return out
}

func pow(x *big.Rat, k int) *big.Rat {
	out := big.NewRat(1, 1)
	for range k {
		out.Mul(out, x)
	}
	return out
}

// exactLimit applies Spiegelhalter's Appendix A.1.1 to the exact
// distribution function cdf of Binomial(n, θ0).
func exactLimit(p float64, cdf []float64) float64 {
	n := len(cdf) - 1
	r := 0
	for cdf[r] < p {
		r++
	}
	fprev := 0.0
	if r > 0 {
		fprev = cdf[r-1]
	}
	return (float64(r) - (cdf[r]-p)/(cdf[r]-fprev)) / float64(n)
}

// TestFunnelWorkedExample: n = 20 patients, target θ0 = 0.5, worked by hand
// from the cumulative binomial probabilities a printed table gives for n =
// 20, p = 0.5 (e.g. Montgomery & Runger, "Applied Statistics and
// Probability for Engineers", Appendix Table II: P(X ≤ 5) = 0.0207,
// P(X ≤ 6) = 0.0577, P(X ≤ 13) = 0.9423, P(X ≤ 14) = 0.9793), with
// Spiegelhalter's (2005) Appendix A.1.1 interpolation:
//
//	lower 95 %: r = 6,  α = (0.0577 − 0.025) / (0.0577 − 0.0207) = 0.8838,
//	            limit = (6 − 0.8838) / 20 = 0.2558
//	upper 95 %: r = 14, α = (0.9793 − 0.975) / (0.9793 − 0.9423) = 0.1162,
//	            limit = (14 − 0.1162) / 20 = 0.6942
//
// and, for the 99.8 % limits, P(X ≤ 3) = 0.0013, P(X ≤ 2) = 0.0002,
// P(X ≤ 16) = 0.9987, P(X ≤ 17) = 0.9998:
//
//	lower 99.8 %: r = 3,  α = (0.0013 − 0.001) / (0.0013 − 0.0002) = 0.2727,
//	              limit = (3 − 0.2727) / 20 = 0.1364
//	upper 99.8 %: r = 17, α = (0.9998 − 0.999) / (0.9998 − 0.9987) = 0.7273,
//	              limit = (17 − 0.7273) / 20 = 0.8136
//
// The table's four decimals bound the agreement (about 0.003 on a limit).
func TestFunnelWorkedExample(t *testing.T) {
	l := FunnelLimits(0.5, []int{20})[0]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"lower 95 %", l.Low95, 0.2558}, {"upper 95 %", l.High95, 0.6942},
		{"lower 99.8 %", l.Low998, 0.1364}, {"upper 99.8 %", l.High998, 0.8136},
	} {
		if math.Abs(c.got-c.want) > 0.003 {
			t.Errorf("%s: %.4f, want %.4f (worked by hand)", c.name, c.got, c.want)
		}
	}
}

// TestBinomialLimitExact: the limits equal Spiegelhalter's definition
// computed with exact rational binomial probabilities, at the sizes of
// small and middle centres and targets from 5 % to 95 %.
func TestBinomialLimitExact(t *testing.T) {
	for _, th := range [][2]int64{{1, 20}, {3, 10}, {1, 2}, {37, 50}, {19, 20}} {
		for _, n := range []int{1, 2, 7, 10, 23, 60, 150} {
			cdf := exactCDF(n, th[0], th[1])
			for _, p := range []float64{P998, P95, 1 - P95, 1 - P998} {
				got := BinomialLimit(p, float64(th[0])/float64(th[1]), n)
				want := exactLimit(p, cdf)
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("θ0 = %d/%d, n = %d, p = %v: %.12f, want %.12f", th[0], th[1], n, p, got, want)
				}
			}
		}
	}
}

// TestBinomialLimitNormal: for large n the exact limits approach the
// normal approximation θ0 ± z √(θ0(1−θ0)/n) with z = 1.96 and 3.09
// (Spiegelhalter 2005, §2.2), and they narrow as n grows.
func TestBinomialLimitNormal(t *testing.T) {
	const theta = 0.42
	for _, c := range []struct {
		p, z float64
	}{{P95, -1.96}, {1 - P95, 1.96}, {P998, -3.09}, {1 - P998, 3.09}} {
		n := 13200
		want := theta + c.z*math.Sqrt(theta*(1-theta)/float64(n))
		if got := BinomialLimit(c.p, theta, n); math.Abs(got-want) > 0.0015 {
			t.Errorf("p = %v, n = %d: %.5f, want about %.5f", c.p, n, got, want)
		}
		if got := NormalLimit(c.p, theta, n); math.Abs(got-want) > 0.0002 {
			t.Errorf("NormalLimit(p = %v): %.5f, want %.5f", c.p, got, want)
		}
	}
	prev := FunnelLimits(theta, []int{10})[0]
	for _, n := range []int{40, 160, 640, 2560, 10240} {
		l := FunnelLimits(theta, []int{n})[0]
		if !(l.Low998 > prev.Low998 && l.Low95 > prev.Low95 && l.High95 < prev.High95 && l.High998 < prev.High998) {
			t.Errorf("n = %d: limits %+v do not narrow from %+v", n, l, prev)
		}
		if !(l.Low998 < l.Low95 && l.Low95 < theta && theta < l.High95 && l.High95 < l.High998) {
			t.Errorf("n = %d: limits out of order: %+v", n, l)
		}
		prev = l
	}
}

func TestPositionOf(t *testing.T) {
	// 100 patients, target 70 %.
	for _, c := range []struct {
		x    float64
		want Position
	}{{0.70, Within}, {0.79, AboveHigh95}, {0.85, AboveHigh998}, {0.60, BelowLow95}, {0.52, BelowLow998}} {
		if got := PositionOf(c.x, 0.7, 100); got != c.want {
			t.Errorf("PositionOf(%v) = %s, want %s", c.x, got, c.want)
		}
	}
	// A small centre with the same share is not flagged.
	if got := PositionOf(0.60, 0.7, 12); got != Within {
		t.Errorf("12 patients at 60 %%: %s, want within", got)
	}
	if ns := FunnelNs(10, 13200); ns[0] != 10 || ns[len(ns)-1] != 13200 || len(ns) > 400 {
		t.Errorf("FunnelNs: %d points from %d to %d", len(ns), ns[0], ns[len(ns)-1])
	}
}
