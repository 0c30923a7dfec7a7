package agp

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"fsecgm/cgm"
)

// benchSeries returns n historic readings every step with a daily rhythm,
// meals and noise (deterministic), starting on 2026-03-16 in Europe/Rome so
// that the 14-day series crosses the 29 March DST change.
func benchSeries(n int, step time.Duration) cgm.Series {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 3, 16, 0, 0, 0, 0, rome)
	rs := make([]cgm.Reading, n)
	for i := range rs {
		t := start.Add(time.Duration(i) * step)
		h := float64(t.Hour()) + float64(t.Minute())/60
		v := 130 + 40*math.Sin((h-6)/24*2*math.Pi) + 60*math.Exp(-math.Pow(h-13.5, 2)) + 15*rng.NormFloat64()
		v, f := cgm.Clamp(math.Round(v), cgm.MgDL)
		rs[i] = cgm.Reading{Time: t.UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: f, Device: "0D00000ABC"}
	}
	return cgm.NewSeries(rs)
}

var sink float64

func benchMetrics(b *testing.B, s cgm.Series) {
	o := Options{Location: rome, AGP: true, Daily: true}
	b.ReportAllocs()
	for b.Loop() {
		r, err := Compute(s, o)
		if err != nil {
			b.Fatal(err)
		}
		sink += r.MeanGlucose.MgDL
	}
}

func benchSum(b *testing.B, s cgm.Series) {
	b.ReportAllocs()
	for b.Loop() {
		sum := 0.0
		for i := range s {
			sum += s[i].Value
		}
		sink += sum
	}
}

// BenchmarkMetrics14d1min computes every metric plus the AGP profile and the
// daily profiles of 14 days of one-minute readings (20,160).
func BenchmarkMetrics14d1min(b *testing.B) { benchMetrics(b, benchSeries(20160, time.Minute)) }

// BenchmarkSum14d1min is the baseline: it only sums the same readings.
func BenchmarkSum14d1min(b *testing.B) { benchSum(b, benchSeries(20160, time.Minute)) }

// BenchmarkMetrics90d15min computes everything on 90 days of 15-minute
// readings (8,640).
func BenchmarkMetrics90d15min(b *testing.B) { benchMetrics(b, benchSeries(8640, 15*time.Minute)) }

// BenchmarkSum90d15min is the baseline for BenchmarkMetrics90d15min.
func BenchmarkSum90d15min(b *testing.B) { benchSum(b, benchSeries(8640, 15*time.Minute)) }

func benchExtended(b *testing.B, s cgm.Series) {
	o := Options{Location: rome}
	b.ReportAllocs()
	for b.Loop() {
		e, err := ComputeExtended(s, o)
		if err != nil {
			b.Fatal(err)
		}
		sink += *e.Value(MetricMAGE)
	}
}

// BenchmarkExtended14d1min computes every extended metric (iglu 4.3.0's
// all_metrics()) of 14 days of one-minute readings (20,160), the consensus
// figures they build on included.
func BenchmarkExtended14d1min(b *testing.B) { benchExtended(b, benchSeries(20160, time.Minute)) }

// BenchmarkExtended90d15min computes every extended metric of 90 days of
// 15-minute readings (8,640).
func BenchmarkExtended90d15min(b *testing.B) { benchExtended(b, benchSeries(8640, 15*time.Minute)) }
