package cgmstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/libreview"
)

// stored returns readings as the readings table stores them (source
// LibreLinkUp), sorted by instant and kind.
func stored(rs []cgm.Reading) []storedReading {
	out := make([]storedReading, len(rs))
	for i, r := range rs {
		v, m := encode(r, SourceLibreLinkUp)
		out[i] = storedReading{us: r.Time.UnixMicro(), value: v, meta: m}
	}
	slices.SortFunc(out, func(a, b storedReading) int {
		if c := cmp.Compare(a.us, b.us); c != 0 {
			return c
		}
		return cmp.Compare(a.meta&metaKindMask, b.meta&metaKindMask)
	})
	return out
}

// uvarints returns the version byte 1 followed by xs as uvarints: a
// compact row's data written by hand.
func uvarints(xs ...uint64) []byte {
	b := []byte{compactVersion}
	for _, x := range xs {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

// realExports returns the directory of the real export files,
// ../shared/data/real-exports beside the repository root (the directory of
// go.mod), or "" when it is not there.
func realExports(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "data", "real-exports")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}

var day0 = time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)

func TestCompactRoundTrip(t *testing.T) {
	jitter := historic(day0.Add(7*time.Minute+3*time.Second), 15*time.Minute, 96, "")
	for i := range jitter {
		jitter[i].Time = jitter[i].Time.Add(time.Duration(i%3) * 61 * time.Second)
	}
	mixed := []cgm.Reading{
		{Time: day0, Value: 40, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagLow, Trend: cgm.TrendFallingFast},
		{Time: day0.Add(time.Microsecond), Value: 500, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagHigh},
		{Time: day0.Add(17*time.Minute + 123456*time.Microsecond), Value: 120.5, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendRising},
		{Time: day0.Add(3 * time.Hour), Value: 3276.7, Unit: cgm.MgDL, Kind: cgm.Scan},
		{Time: day0.Add(24*time.Hour - time.Microsecond), Value: 0.1, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendStable},
	}
	mmol := []cgm.Reading{
		{Time: day0.Add(time.Hour), Value: 3.9, Unit: cgm.MmolL, Kind: cgm.Strip},
		{Time: day0.Add(2 * time.Hour), Value: 27.8, Unit: cgm.MmolL, Kind: cgm.Strip, Flags: cgm.FlagHigh},
		{Time: day0.Add(2*time.Hour + time.Second), Value: 2.2, Unit: cgm.MmolL, Kind: cgm.Strip, Flags: cgm.FlagLow},
	}
	tests := []struct {
		name string
		rs   []cgm.Reading
		max  int // bytes of data at most
	}{
		{"one reading at midnight", historic(day0, time.Minute, 1, ""), 12},
		{"15 minutes", historic(day0.Add(5*time.Minute), 15*time.Minute, 96, ""), 96 * 2},
		{"1 minute", historic(day0, time.Minute, 1440, ""), 1440 * 2},
		{"jittered 15 minutes", jitter, 96 * 4},
		{"scans: extremes, flags, trends, microseconds", mixed, 60},
		{"mmol/L strips", mmol, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := stored(tt.rs)
			b, err := encodeCompact(day0, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > tt.max {
				t.Errorf("%d readings take %d bytes, want at most %d", len(in), len(b), tt.max)
			}
			kind := in[0].meta & metaKindMask
			got, err := decodeCompact([]storedReading{{us: 1}}, day0, kind, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]storedReading{{us: 1}}, in...); !slices.Equal(want, got) {
				t.Errorf("decode(encode) appended to one reading:\n got %v\nwant %v", got, want)
			}
			// Every shortened input is refused, and leaves dst alone.
			for n := range len(b) {
				if out, err := decodeCompact(nil, day0, kind, b[:n]); err == nil || len(out) != 0 {
					t.Fatalf("decode of the first %d of %d bytes = %d readings, %v; want an error", n, len(b), len(out), err)
				}
			}
			if _, err := decodeCompact(nil, day0, kind%4+1, b); err == nil {
				t.Errorf("decoding as another kind succeeded")
			}
		})
	}
}

func TestCompactRefuses(t *testing.T) {
	ok := stored(historic(day0, time.Hour, 3, ""))
	for _, tt := range []struct {
		name string
		day  time.Time
		rs   []storedReading
	}{
		{"none", day0, nil},
		{"another day", day0.AddDate(0, 0, 1), ok},
		{"not increasing", day0, []storedReading{ok[1], ok[0]}},
		{"same instant", day0, []storedReading{ok[0], ok[0]}},
		{"two kinds", day0, []storedReading{ok[0], {us: ok[1].us, value: 10, meta: int16(cgm.Scan)}}},
		{"zero value", day0, []storedReading{{us: ok[0].us, value: 0, meta: 1}}},
		{"reserved meta bits", day0, []storedReading{{us: ok[0].us, value: 1, meta: 1 | 1<<12}}},
		{"kind 5", day0, []storedReading{{us: ok[0].us, value: 1, meta: 5}}},
	} {
		if b, err := encodeCompact(tt.day, tt.rs); err == nil {
			t.Errorf("%s: encoded as %x, want an error", tt.name, b)
		}
	}
	good, _ := encodeCompact(day0, ok)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"trailing byte", append(slices.Clone(good), 0)},
		// n, tunit, t0, [time runs], vunit, zigzag values, meta runs
		{"one reading", uvarints(1, 1, 0, 1, 2, 1, 0)[:0]}, // replaced below by a valid control
		{"zero readings", uvarints(0, 1, 0, 1, 2, 1, 0)},
		{"past the day", uvarints(1, 1, dayMicros, 1, 2, 1, 0)},
		{"tunit of a day", uvarints(1, dayMicros, 0, 1, 2, 1, 0)},
		{"step past the day", uvarints(2, 1, 1, dayMicros-1, 0, 1, 2, 0, 1, 1)},
		{"huge step", uvarints(2, 1, 1, 1<<62, 0, 1, 2, 0, 1, 1)},
		{"zero step", uvarints(2, 1, 0, 0, 0, 1, 2, 0, 1, 1)},
		{"time run too long", uvarints(2, 1, 0, 1, 1, 1, 2, 0, 1, 1)},
		{"value 0", uvarints(1, 1, 0, 1, 0, 1, 0)},
		{"value below 0", uvarints(2, 1, 0, 1, 0, 1, 2, 3, 1, 1)},
		{"value over 32767", uvarints(1, 1, 0, 2, 32767*2, 1, 0)},
		{"meta of kind 2", uvarints(1, 1, 0, 1, 2, 2, 0)},
		{"meta with reserved bits", uvarints(1, 1, 0, 1, 2, 1|1<<12, 0)},
		{"meta run too long", uvarints(1, 1, 0, 1, 2, 1, 1)},
		{"more readings than bytes", uvarints(maxCompactReadings, 1, 0, 1, maxCompactReadings-2, 1, 2, 1, maxCompactReadings-1)},
	} {
		if tt.name == "one reading" {
			// The hand-written form is right: a control for the others.
			if got, err := decodeCompact(nil, day0, 1, uvarints(1, 1, 0, 1, 2, 1, 0)); err != nil || len(got) != 1 || got[0] != (storedReading{us: day0.UnixMicro(), value: 1, meta: 1}) {
				t.Fatalf("the hand-written control decodes as %v, %v", got, err)
			}
			continue
		}
		if got, err := decodeCompact(nil, day0, 1, tt.data); !errors.Is(err, errCompact) {
			t.Errorf("%s: decoded %d readings, %v; want errCompact", tt.name, len(got), err)
		}
	}
}

// TestCompactSizeOnRealData encodes the days of real exports (LibreView,
// read in place from ../shared) and of simulated 15- and 1-minute
// sensors, and reports the bytes per reading of the data alone: the row
// and index add about 100 bytes per day and kind (make bench-ingest
// measures the whole).
func TestCompactSizeOnRealData(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]cgm.Reading{}
	dir := realExports(t)
	if dir == "" {
		t.Log("../shared/data/real-exports not found beside the repository: only simulated data is measured")
	}
	for _, name := range []string{"libreview_fr_mgdl_us12h_librelink.csv", "libreview_de_mgdl_libre3.csv", "libreview_en_mmol_librelink_ukcols.csv"} {
		if dir == "" {
			break
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		file, err := libreview.Parse(f, name, libreview.Options{Location: rome})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sets[name] = file.Readings
	}
	sim2 := glucosim.New(7, glucosim.Libre2, rome)
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range sim2.Historic(from, from.AddDate(0, 0, 28)) {
		sets["glucosim Libre 2, 15 minutes"] = append(sets["glucosim Libre 2, 15 minutes"],
			cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags})
	}
	sim3 := glucosim.New(8, glucosim.Libre3, rome)
	const oneMinute = "glucosim Libre 3, 1 minute"
	for at := from; at.Before(from.AddDate(0, 0, 7)); at = at.Add(time.Minute) {
		p, ok := sim3.Current(at) // the value of the last 1-minute tick
		if rs := sets[oneMinute]; ok && (len(rs) == 0 || !rs[len(rs)-1].Time.Equal(p.Time)) {
			sets[oneMinute] = append(rs, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags})
		}
	}
	for name, rs := range sets {
		// One row per kind and UTC day, as CompactHistory makes them;
		// duplicates of an instant and kind (the file's) kept once.
		all := stored(rs)
		all = slices.CompactFunc(all, func(a, b storedReading) bool { return a.us == b.us && a.meta&7 == b.meta&7 })
		slices.SortStableFunc(all, func(a, b storedReading) int { return int(a.meta&7) - int(b.meta&7) })
		var bytes, n, rows int
		for i := 0; i < len(all); {
			d := utcDay(time.UnixMicro(all[i].us))
			j := i + 1
			for j < len(all) && all[j].meta&7 == all[i].meta&7 && utcDay(time.UnixMicro(all[j].us)).Equal(d) {
				j++
			}
			b, err := encodeCompact(d, all[i:j])
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			back, err := decodeCompact(nil, d, all[i].meta&7, b)
			if err != nil || !slices.Equal(back, all[i:j]) {
				t.Fatalf("%s, %s: round trip failed: %v", name, d.Format(time.DateOnly), err)
			}
			bytes, n, rows = bytes+len(b), n+j-i, rows+1
			i = j
		}
		perReading := float64(bytes) / float64(n)
		t.Logf("%s: %d readings in %d rows, %.2f bytes per reading of data", name, n, rows, perReading)
		if perReading > 3 {
			t.Errorf("%s: %.2f bytes per reading, want at most 3", name, perReading)
		}
	}
}

// FuzzCompactDecode: no input makes the decoder panic or return readings
// that break the format's promises, and what it accepts encodes back to
// the same readings.
func FuzzCompactDecode(f *testing.F) {
	for _, rs := range [][]cgm.Reading{
		historic(day0, 15*time.Minute, 96, ""),
		historic(day0.Add(13*time.Second), time.Minute, 300, ""),
		{{Time: day0.Add(time.Hour), Value: 3.9, Unit: cgm.MmolL, Kind: cgm.Historic, Flags: cgm.FlagLow, Trend: 3}},
	} {
		b, err := encodeCompact(day0, stored(rs))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int16(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, kind int16) {
		rs, err := decodeCompact(nil, day0, kind, data)
		if err != nil {
			if !errors.Is(err, errCompact) || len(rs) != 0 {
				t.Fatalf("error %v with %d readings", err, len(rs))
			}
			return
		}
		end := day0.Add(24 * time.Hour).UnixMicro()
		for i, r := range rs {
			if r.us < day0.UnixMicro() || r.us >= end || i > 0 && r.us <= rs[i-1].us || r.value < 1 ||
				r.meta&metaKindMask != kind || r.meta>>12 != 0 {
				t.Fatalf("reading %d of %d breaks the format: %+v", i, len(rs), r)
			}
		}
		b, err := encodeCompact(day0, rs)
		if err != nil {
			t.Fatalf("decoded readings do not encode: %v", err)
		}
		again, err := decodeCompact(nil, day0, kind, b)
		if err != nil || !slices.Equal(again, rs) {
			t.Fatalf("re-encoded readings decode as %d readings, %v", len(again), err)
		}
	})
}

// FuzzCompactRoundTrip: any storable day of readings decodes as itself.
func FuzzCompactRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, uint8(1))
	f.Add([]byte{255, 0, 255, 0, 128, 7, 9, 200, 3, 3, 3, 3, 3, 3, 3}, uint8(4))
	f.Fuzz(func(t *testing.T, seed []byte, kind uint8) {
		k := int16(kind%4 + 1)
		var rs []storedReading
		us := day0.UnixMicro()
		end := day0.Add(24 * time.Hour).UnixMicro()
		for i := 0; i+3 <= len(seed); i += 3 {
			us += 1 + int64(seed[i])*int64(seed[i])*int64(1+seed[i]%7)*1_000_003%3_600_000_000
			if us >= end {
				break
			}
			v := int16(seed[i+1])<<7 | int16(seed[i+2]&0x7f) | 1
			meta := k | int16(seed[i+2]>>7)<<metaSourceShift | int16(seed[i+1]&0xf)<<6
			rs = append(rs, storedReading{us: us, value: v, meta: meta & 0xfff})
		}
		if len(rs) == 0 {
			return
		}
		b, err := encodeCompact(day0, rs)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		got, err := decodeCompact(nil, day0, k, b)
		if err != nil || !slices.Equal(got, rs) {
			t.Fatalf("round trip: %v\nin  %v\nout %v", err, rs, got)
		}
	})
}
