package cgmstore

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
)

// TestEncodeExactDecimals checks that every value at storage resolution
// reads back as the float of its decimal: 70.1 is 70.1, 3.9 is 3.9.
func TestEncodeExactDecimals(t *testing.T) {
	for _, tc := range []struct {
		unit     cgm.Unit
		lo, hi   int // in storage units
		decimals int
	}{
		{cgm.MgDL, 400, 5000, 1},
		{cgm.MmolL, 220, 2780, 2},
	} {
		div := 10
		if tc.decimals == 2 {
			div = 100
		}
		for n := tc.lo; n <= tc.hi; n++ {
			text := fmt.Sprintf("%d.%0*d", n/div, tc.decimals, n%div)
			v, err := strconv.ParseFloat(text, 64)
			if err != nil {
				t.Fatal(err)
			}
			value, meta := encode(cgm.Reading{Value: v, Unit: tc.unit, Kind: cgm.Historic}, SourceFHIR)
			if int(value) != n {
				t.Fatalf("encode(%s %v) = %d, want %d", text, tc.unit, value, n)
			}
			if got := decode(time.Time{}, value, meta).Value; got != v {
				t.Fatalf("decode(encode(%s %v)) = %v, want %v", text, tc.unit, got, v)
			}
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	for _, r := range []cgm.Reading{
		{Time: at, Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow},
		{Time: at, Value: 500, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagHigh, Trend: cgm.TrendRisingFast},
		{Time: at, Value: 2.2, Unit: cgm.MmolL, Kind: cgm.Current, Flags: cgm.FlagLow, Trend: cgm.TrendFallingFast},
		{Time: at, Value: 27.8, Unit: cgm.MmolL, Kind: cgm.Strip, Flags: cgm.FlagHigh},
		{Time: at, Value: 3.9, Unit: cgm.MmolL, Kind: cgm.Historic, Trend: cgm.TrendStable},
		{Time: at, Value: 70, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendFalling},
	} {
		for src := SourceLibreLinkUp; src <= SourceSimulator; src++ {
			value, meta := encode(r, src)
			if meta < 0 || meta>>12 != 0 {
				t.Errorf("encode(%+v): meta %#x uses reserved bits", r, meta)
			}
			if got := decode(r.Time, value, meta); !cmp.Equal(got, r) {
				t.Errorf("decode(encode(%+v)) = %+v", r, got)
			}
			if got := sourceOf(meta); got != src {
				t.Errorf("sourceOf(encode(_, %v)) = %v", src, got)
			}
		}
	}
}

// TestEncodeRounding documents what happens to values finer than the
// storage resolution: they are rounded to the nearest unit, as math.Round
// does to v*10 (or v*100).
func TestEncodeRounding(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit cgm.Unit
		want float64
	}{
		{120.55, cgm.MgDL, 120.6},
		{120.54, cgm.MgDL, 120.5},
		{70.05, cgm.MgDL, 70.1},
		{5.555, cgm.MmolL, 5.56},
		{5.554, cgm.MmolL, 5.55},
	} {
		value, meta := encode(cgm.Reading{Value: tc.v, Unit: tc.unit, Kind: cgm.Historic}, SourceFHIR)
		if got := decode(time.Time{}, value, meta).Value; got != tc.want {
			t.Errorf("%v %v is stored as %v, want %v", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestSources(t *testing.T) {
	codes := map[int16]Source{}
	for s := SourceLibreLinkUp; s <= SourceNightscout; s++ {
		got, err := ParseSource(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSource(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
		// Each source has its own three bits, and reads back from them.
		_, meta := encode(cgm.Reading{Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic}, s)
		if other, dup := codes[sourceCode(s)]; dup {
			t.Errorf("%v and %v share the code %d", s, other, sourceCode(s))
		}
		codes[sourceCode(s)] = s
		if got := sourceOf(meta); got != s || meta>>12 != 0 {
			t.Errorf("source %v stored as meta %#x, read back as %v", s, meta, got)
		}
	}
	if _, err := ParseSource("carrier pigeon"); err == nil {
		t.Error("ParseSource accepted an unknown source")
	}
	if Source(9).Valid() || Source(0).Valid() {
		t.Error("undefined sources are valid")
	}
}

func TestAttributor(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := []Device{
		{Serial: "A", FirstSeen: day, LastSeen: day.AddDate(0, 0, 14)},
		// B started an hour before A's last reading: the change-over.
		{Serial: "B", ActivatedAt: day.AddDate(0, 0, 14).Add(-time.Hour), FirstSeen: day.AddDate(0, 0, 14).Add(-time.Minute), LastSeen: day.AddDate(0, 0, 28)},
		{Serial: "R", Model: "reader, never read from"},   // no window: never chosen
		{Serial: "C", ActivatedAt: day.AddDate(0, 0, 40)}, // no reading yet: open-ended
	}
	a := newAttributor(ds)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{day.Add(-time.Minute), ""},
		{day, "A"},
		{day.AddDate(0, 0, 7), "A"},
		{day.AddDate(0, 0, 14).Add(-2 * time.Hour), "A"},
		{day.AddDate(0, 0, 14).Add(-30 * time.Minute), "B"}, // both cover it: the later start wins
		{day.AddDate(0, 0, 20), "B"},
		{day.AddDate(0, 0, 30), ""}, // between sensors
		{day.AddDate(0, 0, 41), "C"},
		{day.AddDate(1, 0, 0), "C"},
	} {
		if got := a.device(tc.t); got != tc.want {
			t.Errorf("device(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestMergeComparesValueBits keeps mergeSQL's literal in step with the
// meta layout.
func TestMergeComparesValueBits(t *testing.T) {
	want := fmt.Sprintf("(meta & %d) <> (old_meta & %d)", metaValueBits, metaValueBits)
	if !strings.Contains(mergeSQL, want) {
		t.Errorf("mergeSQL does not compare %q", want)
	}
}
