package clarity

import (
	"bytes"
	"testing"
	"time"

	"fsecgm/connectors/internal/parsecheck"
)

// FuzzParse checks that Parse never panics and that whatever it returns
// keeps the promises every parser keeps (connectors/internal/parsecheck). Seeds are the fixtures.
func FuzzParse(f *testing.F) {
	parsecheck.Seeds(f, "*.csv")
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.csv"
		file, err := Parse(bytes.NewReader(data), name, Options{Location: loc})
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and the error %v", err)
			}
			return
		}
		parsecheck.Check(t, parsecheck.Parsed{Name: name, Unit: file.Unit, Readings: file.Readings, Lines: file.Lines,
			Skipped: file.Skipped, Rejected: file.Rejected, Rows: file.Rows,
		})
	})
}
