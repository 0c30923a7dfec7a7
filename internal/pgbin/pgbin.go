// Package pgbin decodes column values that PostgreSQL sent in its binary
// format, for the reads that move enough rows or columns for pgx's general
// Scan (a scan plan per column, reflection, an allocation per nullable
// value) to cost several times the decoding itself: the readings of a
// window and the clinic list's page.
//
// The formats are those of the types' send functions (PostgreSQL
// documentation, "Message Data Types" and the types' chapter 8; the source
// of each type's *_send): integers and float8 in network byte order, bool
// one byte, text and json their bytes, date the days and timestamptz the
// microseconds since 2000-01-01 00:00 UTC, with the extreme values for
// ±infinity.
package pgbin

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// epochMicros is 2000-01-01 00:00:00 UTC, PostgreSQL's epoch of binary
// dates and timestamps, in Unix microseconds.
const epochMicros = 946684800 * 1_000_000

// Is reports whether the columns fds have the type OIDs oids (pgtype's
// constants), one per column, each in binary format; text, varchar and
// json may come in either format (pgx asks for text: their binary form is
// their text).
func Is(fds []pgconn.FieldDescription, oids ...uint32) bool {
	if len(fds) != len(oids) {
		return false
	}
	for i, fd := range fds {
		if fd.DataTypeOID != oids[i] {
			return false
		}
		switch fd.DataTypeOID {
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.JSONOID:
		default:
			if fd.Format != pgx.BinaryFormatCode {
				return false
			}
		}
	}
	return true
}

// Row decodes the raw values of a row whose columns Is checked. A value
// of the wrong size (or an infinite date or time) makes the accessor
// return the zero value and Err the first such error, with its column.
// NULL, where a column may hold it, is tested with Null first.
type Row struct {
	v   [][]byte
	err error
}

// Reset makes r decode the row of raw values v (pgx.Rows.RawValues: valid
// until the next row).
func (r *Row) Reset(v [][]byte) { r.v, r.err = v, nil }

// Err returns the first error of the accessors since Reset.
func (r *Row) Err() error { return r.err }

// Null reports whether column i is NULL.
func (r *Row) Null(i int) bool { return r.v[i] == nil }

// fixed returns column i when it is n bytes long.
func (r *Row) fixed(i, n int, typ string) ([]byte, bool) {
	b := r.v[i]
	if len(b) != n {
		if r.err == nil {
			r.err = fmt.Errorf("column %d: %s of %d bytes, want %d", i+1, typ, len(b), n)
		}
		return nil, false
	}
	return b, true
}

// Int2 decodes column i, an int2.
func (r *Row) Int2(i int) int16 {
	b, ok := r.fixed(i, 2, "int2")
	if !ok {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

// Int4 decodes column i, an int4.
func (r *Row) Int4(i int) int32 {
	b, ok := r.fixed(i, 4, "int4")
	if !ok {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Float8 decodes column i, a float8.
func (r *Row) Float8(i int) float64 {
	b, ok := r.fixed(i, 8, "float8")
	if !ok {
		return 0
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}

// Bool decodes column i, a bool.
func (r *Row) Bool(i int) bool {
	b, ok := r.fixed(i, 1, "bool")
	return ok && b[0] != 0
}

// Text returns column i (text, varchar, json) as a string.
func (r *Row) Text(i int) string { return string(r.v[i]) }

// Bytes returns column i (bytea, json) as it came: valid until the next
// row. Copy it to keep it.
func (r *Row) Bytes(i int) []byte { return r.v[i] }

// Time decodes column i, a timestamptz, in the local zone (as pgx does).
func (r *Row) Time(i int) time.Time {
	b, ok := r.fixed(i, 8, "timestamptz")
	if !ok {
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		if r.err == nil {
			r.err = fmt.Errorf("column %d: infinite timestamptz", i+1)
		}
		return time.Time{}
	}
	return time.UnixMicro(us + epochMicros)
}

// Date decodes column i, a date, as its midnight UTC (as pgx does).
func (r *Row) Date(i int) time.Time {
	b, ok := r.fixed(i, 4, "date")
	if !ok {
		return time.Time{}
	}
	days := int32(binary.BigEndian.Uint32(b))
	if days == math.MaxInt32 || days == math.MinInt32 {
		if r.err == nil {
			r.err = fmt.Errorf("column %d: infinite date", i+1)
		}
		return time.Time{}
	}
	return time.Date(2000, 1, 1+int(days), 0, 0, 0, 0, time.UTC)
}
