package agp

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestQuantile7 checks type-7 quantiles against values computed by hand
// with R's definition.
func TestQuantile7(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct{ p, want float64 }{
		{0, 1}, {0.05, 1.45}, {0.25, 3.25}, {0.5, 5.5}, {0.75, 7.75}, {0.95, 9.55}, {1, 10},
	}
	for _, tt := range tests {
		if got := quantile7(xs, tt.p); !approx(got, tt.want) {
			t.Errorf("quantile7(1..10, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := quantile7([]float64{42}, 0.95); got != 42 {
		t.Errorf("quantile7([42], .95) = %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{5, 1}, 3},
		{[]float64{5, 5, 5, 4.5, 5.5}, 5},
		{[]float64{1, 2, 3, 4}, 2.5},
	} {
		if got := median(slices.Clone(tt.xs)); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestRoundDigits1(t *testing.T) {
	for _, tt := range []struct{ x, want float64 }{
		{12.7, 12.7}, {12.74, 12.7}, {12.76, 12.8}, {0.25, 0.2}, {0.35, 0.3}, {12.0, 12},
	} {
		if got := roundDigits1(tt.x); got != tt.want {
			t.Errorf("roundDigits1(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}

// TestSlotQuantilesMatchSort: the bucketed selection gives the quantiles of
// the sorted values, bit for bit, with ties, equal values and fractions.
func TestSlotQuantilesMatchSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	probs := agpProbs[:]
	got := make([]float64, len(probs))
	for n := 1; n < 300; n++ {
		for _, spread := range []int{1, 3, 40, 400} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = 60 + float64(rng.IntN(spread))
				if rng.IntN(3) == 0 {
					xs[i] += rng.Float64()
				}
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			slotQuantiles(xs, make([]float64, n), probs, got)
			for i, p := range probs {
				if want := quantile7(sorted, p); got[i] != want {
					t.Fatalf("n=%d spread=%d p=%v: %v, want %v", n, spread, p, got[i], want)
				}
			}
		}
	}
}
