package librelinkup

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkDecodeGraph141 parses and translates the recorded 141-point
// Libre 3 graph. The baseline, measured in the same run, is decoding the
// same body into generic Go values (encoding/json into any), which does no
// translation or validation at all.
func BenchmarkDecodeGraph141(b *testing.B) {
	body := fixture(b, "graph_libre3_141_points.json")
	c := testClient(b, time.Date(2022, 12, 30, 17, 0, 0, 0, time.UTC))
	base := nsPerOp(func() {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	})
	for b.Loop() {
		g, e := c.decodeGraph(okReply(body))
		if e != nil || len(g.Readings) != 142 {
			b.Fatalf("decodeGraph: %v", e)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-generic-json")
}

// BenchmarkDecodeConnections parses the recorded two-connection list.
func BenchmarkDecodeConnections(b *testing.B) {
	body := fixture(b, "connections_two_patients.json")
	c := testClient(b, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC))
	base := nsPerOp(func() {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	})
	for b.Loop() {
		if _, e := c.decodeConnections(okReply(body)); e != nil {
			b.Fatal(e)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-generic-json")
}

// nsPerOp measures a baseline in the same run: the mean time of fn over at
// least 20 ms.
func nsPerOp(fn func()) float64 {
	fn()
	n, start := 0, time.Now()
	for time.Since(start) < 20*time.Millisecond {
		fn()
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
