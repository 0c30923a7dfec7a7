package agp_test

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
)

// TestIgluExtendedReference compares every extended metric with iglu 4.3.0's
// all_metrics() on iglu's example data (testdata/iglu_example_5_subject.
// extended.iglu.txt; its header says how the figures were produced): every
// figure within 1e-9 relative, NA where iglu gives NA. The test needs no R.
func TestIgluExtendedReference(t *testing.T) {
	subjects, _ := readLong(t, "../testdata/iglu_example_5_subject.csv")
	est := time.FixedZone("-05:00", -5*3600)
	ext := map[string]agp.Extended{}
	for id, s := range subjects {
		e, err := agp.ComputeExtended(s, agp.Options{Patient: id, Location: est})
		if err != nil {
			t.Fatal(err)
		}
		ext[id] = e
	}
	f, err := os.Open("testdata/iglu_example_5_subject.extended.iglu.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	checked := 0
	seen := map[agp.Metric]int{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "|")
		if len(fields) != 3 {
			t.Fatalf("bad reference line %q", line)
		}
		subject, column, value := fields[0], fields[1], fields[2]
		m, ok := agp.MetricByColumn(column)
		if !ok {
			t.Fatalf("reference column %q is not an extended metric", column)
		}
		e, ok := ext[subject]
		if !ok {
			t.Fatalf("no subject %q", subject)
		}
		seen[m]++
		checked++
		got := e.Value(m)
		if value == "NA" {
			if got != nil {
				t.Errorf("%s %s = %.17g, want NA (iglu)", subject, column, *got)
			}
			continue
		}
		want, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("bad reference value %q", value)
		}
		switch {
		case got == nil:
			t.Errorf("%s %s = NA, want %.17g (iglu)", subject, column, want)
		case *got != want && math.Abs(*got-want) > 1e-9*math.Max(math.Abs(*got), math.Abs(want)):
			t.Errorf("%s %s = %.17g, want %.17g (iglu; rel %.2g)", subject, column, *got, want, math.Abs(*got-want)/math.Abs(want))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != agp.NumMetrics {
		t.Errorf("the reference covers %d metrics, want all %d", len(seen), agp.NumMetrics)
	}
	if checked != 5*agp.NumMetrics {
		t.Errorf("%d reference figures checked, want %d", checked, 5*agp.NumMetrics)
	}
	t.Logf("%d iglu 4.3.0 figures checked", checked)
}
