package longcsv

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses the iglu example data: 13,866 rows of 5 subjects.
// Its first sub-benchmark, the baseline, only reads the same bytes with
// encoding/csv; the second runs Parse and reports, as "x-csv", how many
// times the baseline it takes.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "iglu_example_5_subject.csv"))
	if err != nil {
		b.Fatal(err)
	}
	var base float64 // seconds per op of the baseline
	b.Run("baseline=encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.ReuseRecord = true
			for {
				if _, err := r.Read(); err == io.EOF {
					break
				}
			}
		}
		base = b.Elapsed().Seconds() / float64(b.N)
	})
	b.Run("rows=13866", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			f, err := Parse(bytes.NewReader(data), "iglu.csv")
			if err != nil || len(f.Subjects) != 5 {
				b.Fatalf("Parse: %v", err)
			}
		}
		if base > 0 {
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/base, "x-csv")
		}
	})
}
