package cgmstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The compact form of readings (table readings_compact, migration 00004):
// the readings of one patient, kind and UTC day in one row, whose data
// column holds them encoded as below. Version 1, all integers as Go's
// encoding/binary varints (uvarint: unsigned LEB128; varint: zigzag then
// uvarint):
//
//	byte     version               1
//	uvarint  n                     readings, 1 to maxCompactReadings
//	uvarint  tunit                 microseconds per time unit, ≥ 1: the
//	                               greatest common divisor of the first
//	                               offset and of every step
//	uvarint  t0                    the first reading's offset from the
//	                               day's 00:00 UTC, in tunit
//	runs     (uvarint step, uvarint repeat)…
//	                               the n−1 steps between consecutive
//	                               instants, in tunit (each ≥ 1), run-length
//	                               encoded: step occurs repeat+1 times
//	uvarint  vunit                 the greatest common divisor of the values
//	varint   v0                    the first value, in vunit
//	varint   Δv…                   n−1 differences between consecutive
//	                               values, in vunit
//	runs     (uvarint meta, uvarint repeat)…
//	                               the n meta fields, run-length encoded
//
// value and meta are those of the readings table (00002_readings.sql):
// value 1 to 32767 in the unit's storage resolution, meta with the row's
// kind in bits 0-2 and bits 12-15 zero. Instants are strictly increasing,
// all within the row's day. Nothing may follow the last run.
//
// Regular readings cost about one byte each: a 15-minute or 1-minute
// cadence is one time run, values in whole mg/dL have vunit 10 and
// differences that fit a byte, and a sensor's meta is one run. Rows over
// PostgreSQL's TOAST threshold (about 2 kB: 1-minute days) are compressed
// again by the column's compression, lz4 where the server has it.
const compactVersion = 1

// maxCompactReadings bounds the readings of one compact row (one patient,
// kind and UTC day): a reading every 0.33 s. A day with more stays plain.
const maxCompactReadings = 1 << 18

// dayMicros is the length of a UTC day in microseconds.
const dayMicros = 24 * 60 * 60 * 1_000_000

// storedReading is a reading as the readings table stores it: the instant
// in Unix microseconds, value and meta.
type storedReading struct {
	us          int64
	value, meta int16
}

// errCompact wraps every decoding error.
var errCompact = errors.New("cgmstore: malformed compact readings")

// utcDay returns the 00:00 UTC that begins the day of t.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// encodeCompact encodes rs, the readings of one kind on the UTC day that
// begins at day, sorted by instant, as a compact row's data.
func encodeCompact(day time.Time, rs []storedReading) ([]byte, error) {
	n := len(rs)
	if n == 0 || n > maxCompactReadings {
		return nil, fmt.Errorf("cgmstore: compact: %d readings in a day, want 1 to %d", n, maxCompactReadings)
	}
	start := day.UnixMicro()
	kind := rs[0].meta & metaKindMask
	tunit, vunit := uint64(0), uint64(0)
	for i, r := range rs {
		off := r.us - start
		if off < 0 || off >= dayMicros {
			return nil, fmt.Errorf("cgmstore: compact: reading %d at %s is not on the day of %s", i,
				time.UnixMicro(r.us).UTC().Format(time.RFC3339Nano), day.Format(time.DateOnly))
		}
		if r.value <= 0 || r.meta < 0 || r.meta>>12 != 0 || r.meta&metaKindMask != kind || kind < 1 || kind > 4 {
			return nil, fmt.Errorf("cgmstore: compact: reading %d: value %d, meta %#x not storable in one row of kind %d", i, r.value, r.meta, kind)
		}
		step := uint64(off)
		if i > 0 {
			if r.us <= rs[i-1].us {
				return nil, fmt.Errorf("cgmstore: compact: reading %d is not after reading %d", i, i-1)
			}
			step = uint64(r.us - rs[i-1].us)
		}
		tunit = gcd(tunit, step)
		vunit = gcd(vunit, uint64(r.value))
	}
	if tunit == 0 { // a single reading at 00:00:00
		tunit = 1
	}

	b := make([]byte, 0, 16+n+n/4)
	b = append(b, compactVersion)
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.AppendUvarint(b, tunit)
	b = binary.AppendUvarint(b, uint64(rs[0].us-start)/tunit)
	for i := 1; i < n; {
		step := rs[i].us - rs[i-1].us
		j := i + 1
		for j < n && rs[j].us-rs[j-1].us == step {
			j++
		}
		b = binary.AppendUvarint(b, uint64(step)/tunit)
		b = binary.AppendUvarint(b, uint64(j-i-1))
		i = j
	}
	b = binary.AppendUvarint(b, vunit)
	prev := int64(0)
	for _, r := range rs {
		v := int64(r.value) / int64(vunit)
		b = binary.AppendVarint(b, v-prev)
		prev = v
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && rs[j].meta == rs[i].meta {
			j++
		}
		b = binary.AppendUvarint(b, uint64(rs[i].meta))
		b = binary.AppendUvarint(b, uint64(j-i-1))
		i = j
	}
	return b, nil
}

// decodeCompact appends to dst the readings of a compact row of the given
// kind on the UTC day that begins at day. It checks everything the format
// promises and returns an error wrapping errCompact, with dst unchanged,
// for anything else.
func decodeCompact(dst []storedReading, day time.Time, kind int16, data []byte) ([]storedReading, error) {
	d := compactDecoder{b: data}
	bad := func(format string, args ...any) ([]storedReading, error) {
		return dst, fmt.Errorf("%w (%s, kind %d): %s", errCompact, day.Format(time.DateOnly), kind, fmt.Sprintf(format, args...))
	}
	if kind < 1 || kind > 4 {
		return bad("no such kind")
	}
	if len(data) == 0 || data[0] != compactVersion {
		return bad("unknown version")
	}
	d.b = d.b[1:]
	n := d.uvarint()
	tunit := d.uvarint()
	t0 := d.uvarint()
	if d.err != nil || n < 1 || n > maxCompactReadings || tunit < 1 || tunit >= dayMicros {
		return bad("bad header")
	}
	// Each reading takes at least one byte of values: n cannot exceed
	// what is left, which bounds the allocation by the input's size.
	if n > uint64(len(d.b)) {
		return bad("%d readings in %d bytes", n, len(d.b))
	}
	if t0 > (dayMicros-1)/tunit {
		return bad("first instant outside the day")
	}
	base := len(dst)
	out := append(dst, make([]storedReading, n)...)
	rs := out[base:]
	start := day.UnixMicro()
	off := t0 * tunit
	rs[0].us = start + int64(off)
	for i := 1; i < int(n); {
		step, repeat := d.uvarint(), d.uvarint()
		if d.err != nil || step < 1 || step >= dayMicros || repeat >= n-uint64(i) {
			return bad("bad time run")
		}
		for range repeat + 1 {
			if step > (dayMicros-1-off)/tunit {
				return bad("instant outside the day")
			}
			off += step * tunit
			rs[i].us = start + int64(off)
			i++
		}
	}
	vunit := d.uvarint()
	if d.err != nil || vunit < 1 || vunit > 32767 {
		return bad("bad value unit")
	}
	v := int64(0)
	for i := range rs {
		dv := d.varint()
		if d.err != nil || dv < -32767 || dv > 32767 {
			return bad("bad value difference")
		}
		v += dv
		if v < 1 || v*int64(vunit) > 32767 {
			return bad("value %d out of range", v*int64(vunit))
		}
		rs[i].value = int16(v * int64(vunit))
	}
	for i := 0; i < int(n); {
		meta, repeat := d.uvarint(), d.uvarint()
		if d.err != nil || meta>>12 != 0 || int16(meta)&metaKindMask != kind || repeat >= n-uint64(i) {
			return bad("bad meta run")
		}
		for range repeat + 1 {
			rs[i].meta = int16(meta)
			i++
		}
	}
	if len(d.b) != 0 {
		return bad("%d bytes after the readings", len(d.b))
	}
	return out, nil
}

// compactDecoder reads varints, remembering the first error.
type compactDecoder struct {
	b   []byte
	err error
}

func (d *compactDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errCompact
		return 0
	}
	d.b = d.b[k:]
	return x
}

func (d *compactDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = errCompact
		return 0
	}
	d.b = d.b[k:]
	return x
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
