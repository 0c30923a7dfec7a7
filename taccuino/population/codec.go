package population

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The stored form of a dashboard (population_dashboards.body): a compact
// binary encoding read back into exactly the Dashboard that was written,
// about a tenth of the JSON's decoding time (BenchmarkDashboardDecode),
// which was most of a dashboard view's cost. Integers are varints
// (encoding/binary: zig-zag for the signed ones, -1 for a suppressed
// count), floats their IEEE 754 bits, strings and lists a length then
// their items, maps a length plus one (0: nil) then their pairs.

// dashboardFormat is the first byte of the stored form.
const dashboardFormat = 1

// errCorrupt: a stored dashboard that cannot be read back.
var errCorrupt = errors.New("population: stored dashboard is corrupt")

type encoder struct{ b []byte }

func (e *encoder) int(v int)       { e.b = binary.AppendVarint(e.b, int64(v)) }
func (e *encoder) uint(v int)      { e.b = binary.AppendUvarint(e.b, uint64(v)) }
func (e *encoder) float(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }
func (e *encoder) str(s string)    { e.uint(len(s)); e.b = append(e.b, s...) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) optInt(p *int) {
	if p == nil {
		e.int(-1)
		return
	}
	e.int(*p)
}

func (e *encoder) optFloat(p *float64) {
	e.bool(p != nil)
	if p != nil {
		e.float(*p)
	}
}

// mapLen writes a map's length plus one, 0 for a nil map.
func (e *encoder) mapLen(n int, isNil bool) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(n + 1)
}

func (e *encoder) share(s Share) { e.optInt(s.Patients); e.optFloat(s.Percent) }

func (e *encoder) row(r Row) {
	e.str(r.Key)
	e.optInt(r.Enrolled)
	e.optInt(r.WithData)
	e.optInt(r.Sufficient)
	e.bool(r.Suppressed)
	for _, m := range []map[string]Share{r.Targets, r.GRIZones} {
		e.mapLen(len(m), m == nil)
		for _, k := range sortedKeys(m) {
			e.str(k)
			e.share(m[k])
		}
	}
	e.mapLen(len(r.Distributions), r.Distributions == nil)
	for _, k := range sortedKeys(r.Distributions) {
		q := r.Distributions[k]
		e.str(k)
		e.float(q.Q1)
		e.float(q.Median)
		e.float(q.Q3)
	}
	e.mapLen(len(r.Histograms), r.Histograms == nil)
	for _, k := range sortedKeys(r.Histograms) {
		e.str(k)
		e.uint(len(r.Histograms[k]))
		for _, b := range r.Histograms[k] {
			e.optInt(b)
		}
	}
}

// encodeDashboard returns the stored form of d.
func encodeDashboard(d Dashboard) []byte {
	e := &encoder{b: make([]byte, 0, 16<<10)}
	e.b = append(e.b, dashboardFormat)
	e.str(string(d.Scope))
	e.int(int(d.Kind))
	e.str(d.First)
	e.str(d.Last)
	e.int(d.K)
	e.b = binary.AppendVarint(e.b, d.BuiltAt.UnixNano())
	e.bool(d.Tables != nil)
	e.uint(len(d.Tables))
	for _, t := range d.Tables {
		e.str(string(t.Scope))
		e.str(string(t.Dim))
		e.uint(len(t.Rows))
		for _, r := range t.Rows {
			e.row(r)
		}
	}
	e.bool(d.Trend != nil)
	e.uint(len(d.Trend))
	for _, p := range d.Trend {
		e.str(p.Month)
		e.row(p.Row)
	}
	e.bool(d.Funnel != nil)
	if f := d.Funnel; f != nil {
		e.str(f.Target)
		e.float(f.Theta0)
		e.int(f.Suppressed)
		e.bool(f.Points != nil)
		e.uint(len(f.Points))
		for _, p := range f.Points {
			e.str(p.Centre)
			e.int(p.N)
			e.int(p.Meeting)
			e.float(p.Proportion)
			e.str(string(p.Position))
		}
		e.bool(f.Limits != nil)
		e.uint(len(f.Limits))
		for _, l := range f.Limits {
			e.int(l.N)
			e.float(l.Low998)
			e.float(l.Low95)
			e.float(l.High95)
			e.float(l.High998)
		}
	}
	return e.b
}

// decoder reads the stored form; the first error sticks.
type decoder struct {
	b    []byte
	err  error
	ints []int     // slab of the counts' pointers
	fls  []float64 // slab of the percentages' pointers
	// known interns the strings that repeat (metric, target and zone
	// codes, positions, categories).
	known map[string]string
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) int() int {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) uint() int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool {
	if len(d.b) < 1 {
		d.fail()
		return false
	}
	v := d.b[0] != 0
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.uint()
	if n > len(d.b) {
		d.fail()
		return ""
	}
	raw := d.b[:n]
	d.b = d.b[n:]
	if s, ok := d.known[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if len(s) <= 64 {
		d.known[s] = s
	}
	return s
}

// count returns n checked against what is left (each item takes a byte at
// least), so that a corrupt length cannot make a huge allocation.
func (d *decoder) count() int {
	n := d.uint()
	if n > len(d.b) {
		d.fail()
		return 0
	}
	return n
}

func (d *decoder) optInt() *int {
	v := d.int()
	if v < 0 {
		return nil
	}
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int, 0, 512)
	}
	d.ints = append(d.ints, v)
	return &d.ints[len(d.ints)-1]
}

func (d *decoder) optFloat() *float64 {
	if !d.bool() {
		return nil
	}
	if len(d.fls) == cap(d.fls) {
		d.fls = make([]float64, 0, 256)
	}
	d.fls = append(d.fls, d.float())
	return &d.fls[len(d.fls)-1]
}

// mapLen returns a map's length and whether it is nil.
func (d *decoder) mapLen() (int, bool) {
	n := d.count()
	if n == 0 {
		return 0, true
	}
	return n - 1, false
}

func (d *decoder) share() Share { return Share{Patients: d.optInt(), Percent: d.optFloat()} }

func (d *decoder) row() Row {
	r := Row{Key: d.str(), Enrolled: d.optInt(), WithData: d.optInt(), Sufficient: d.optInt(), Suppressed: d.bool()}
	for _, m := range []*map[string]Share{&r.Targets, &r.GRIZones} {
		if n, isNil := d.mapLen(); !isNil {
			*m = make(map[string]Share, n)
			for range n {
				k := d.str()
				(*m)[k] = d.share()
			}
		}
	}
	if n, isNil := d.mapLen(); !isNil {
		r.Distributions = make(map[string]Quartiles, n)
		for range n {
			k := d.str()
			r.Distributions[k] = Quartiles{Q1: d.float(), Median: d.float(), Q3: d.float()}
		}
	}
	if n, isNil := d.mapLen(); !isNil {
		r.Histograms = make(map[string][]*int, n)
		for range n {
			k := d.str()
			bins := make([]*int, d.count())
			for i := range bins {
				bins[i] = d.optInt()
			}
			r.Histograms[k] = bins
		}
	}
	return r
}

// decodeDashboard reads a stored dashboard.
func decodeDashboard(b []byte) (Dashboard, error) {
	var out Dashboard
	if len(b) == 0 || b[0] != dashboardFormat {
		return out, fmt.Errorf("%w: format %v", errCorrupt, b[:min(1, len(b))])
	}
	d := &decoder{b: b[1:], known: map[string]string{}}
	out.Scope = Scope(d.str())
	out.Kind = PeriodKind(d.int())
	out.First, out.Last = d.str(), d.str()
	out.K = d.int()
	ns, n := binary.Varint(d.b)
	if n <= 0 {
		return out, errCorrupt
	}
	d.b = d.b[n:]
	out.BuiltAt = time.Unix(0, ns).UTC()
	if d.bool() {
		out.Tables = make([]Table, d.count())
	} else {
		d.count()
	}
	for i := range out.Tables {
		t := Table{Scope: Scope(d.str()), Dim: Dim(d.str())}
		if rows := d.count(); rows > 0 {
			t.Rows = make([]Row, rows)
			for j := range t.Rows {
				t.Rows[j] = d.row()
			}
		}
		out.Tables[i] = t
	}
	if d.bool() {
		out.Trend = make([]TrendPoint, d.count())
		for i := range out.Trend {
			out.Trend[i] = TrendPoint{Month: d.str()}
			out.Trend[i].Row = d.row()
		}
	} else {
		d.count()
	}
	if d.bool() {
		f := &Funnel{Target: d.str(), Theta0: d.float(), Suppressed: d.int()}
		if d.bool() {
			f.Points = make([]FunnelPoint, d.count())
		} else {
			d.count()
		}
		for i := range f.Points {
			f.Points[i] = FunnelPoint{Centre: d.str(), N: d.int(), Meeting: d.int(), Proportion: d.float(), Position: Position(d.str())}
		}
		if d.bool() {
			f.Limits = make([]Limits, d.count())
		} else {
			d.count()
		}
		for i := range f.Limits {
			f.Limits[i] = Limits{N: d.int(), Low998: d.float(), Low95: d.float(), High95: d.float(), High998: d.float()}
		}
		out.Funnel = f
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return out, d.err
}

// sortedKeys returns m's keys in order (the same data, the same bytes).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
