// Package longcsv reads glucose readings from a "long" CSV file with one
// reading per row and the columns id, time and gl: the layout of the R
// package iglu (its example_data_5_subject, for instance) and of many
// research data sets.
//
// The rules, applied by [Parse]:
//
//   - The first non-blank line is a header naming the columns id, time and gl
//     (any case, any order; other columns are ignored). A UTF-8 byte order
//     mark, CRLF or LF line ends, blank lines, spaces around fields and
//     RFC 4180 quoted fields are accepted.
//   - id is the subject's label; it may contain spaces (quote it if it
//     contains a comma). Subjects are returned in order of first appearance,
//     each with its readings in file order: rows need not be sorted (sort
//     with cgm.NewSeries).
//   - time is an RFC 3339 instant WITH its UTC offset or Z, such as
//     2015-06-06T16:50:27-05:00, optionally with fractional seconds; a space
//     may replace the T (RFC 3339 §5.6). A time without an offset is
//     rejected: its instant is unknown.
//   - gl is glucose in mg/dL, an integer or a decimal with a dot. Values go
//     through cgm.Normalize: values that are not positive or are implausible
//     (above 1000 mg/dL) are rejected, values outside the sensors' 40–500
//     mg/dL are clamped to the limit and flagged. A file in which at least
//     half of the values are 30 or less is refused as a whole: no person's
//     median glucose is that low in mg/dL, so the gl column must hold mmol/L,
//     and clamping it would turn every reading into LO.
//   - Every reading is historic (an automatic CGM reading) in mg/dL, unless
//     the file has the optional columns fsecgm's own export writes
//     ([Writer]): kind (historic, scan, current or strip; empty is
//     historic), value and unit (the value as the device reported it, in
//     mg/dL or mmol/L: the reading keeps them, and gl must agree with value
//     to within 0.05 mg/dL), flag (LO or HI: the reading is at the sensor's
//     limit, below or above its range), trend (the arrow given with the
//     reading: 1 falling fast to 5 rising fast, empty when none) and device
//     (the sensor's serial).
//     With them a patient's readings come back exactly as they were
//     exported.
//
// [Parse] fails only when the input cannot be read as such a file; every bad
// row is reported in [File.Rejected] with its line, column, value and reason,
// and the other rows are still read. The error text contains the offending
// value, which may be a glucose value: do not log it where glucose values
// must not appear.
package longcsv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
)

// File is the content of a long CSV file.
type File struct {
	// Subjects are the subjects in order of first appearance.
	Subjects []Subject
	// Offset is the UTC offset, in seconds east of UTC, that every accepted
	// reading's timestamp carries, when they all carry the same one (-18000
	// for -05:00); nil when the offsets differ or there is no reading. See
	// [File.Zone].
	Offset *int
	// Rejected lists every line that could not be used, in file order.
	Rejected []*LineError
	// Rows counts the data rows after the header, blank lines excluded:
	// each became a reading or was rejected.
	Rows int
}

// Subject is one subject's readings.
type Subject struct {
	// ID is the subject's label from the id column, trimmed.
	ID string
	// Readings are the subject's readings in file order: historic, in
	// mg/dL, with times in UTC.
	Readings []cgm.Reading
	// Lines holds the line of each reading: Lines[i] is the line of
	// Readings[i].
	Lines []int
}

// Zone returns a fixed time zone for the common offset of the file's
// timestamps, named like "-05:00" ("+00:00" for UTC), or nil when there is
// no common offset.
func (f *File) Zone() *time.Location {
	if f.Offset == nil {
		return nil
	}
	off := *f.Offset
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	name := fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60)
	if s := off % 60; s != 0 {
		name += fmt.Sprintf(":%02d", s)
	}
	return time.FixedZone(name, *f.Offset)
}

// LineError says what is wrong with one line of a file and where.
type LineError = cgm.LineError

// Codes lists the codes of LineError and FileError, with the number of
// Args each carries. A line whose reading failed cgm's checks carries the
// code of the cgm.FieldError (cgm.FieldCodes).
var Codes = map[string]int{
	"malformed_csv": 2, "header_column_missing": 1, "empty_file": 0, "values_mmol": 3,
	"field_count": 3, "id_empty": 0, "time_empty": 0, "time_no_offset": 0, "time_invalid": 0,
	"gl_missing": 0, "gl_not_number": 0, "value_col_missing": 1, "value_col_not_number": 1,
	"kind_unknown": 0, "unit_unknown": 0, "gl_disagrees": 4, "trend_unknown": 0, "flag_unknown": 0,
}

// FileError is a file that cannot be read as a long CSV file at all (no
// header, values in mmol/L).
type FileError struct {
	File   string
	Reason string
	// Code (one of Codes) and Args say it for a display.
	Code string
	Args []string
}

// Error returns "longcsv: FILE: reason".
func (e *FileError) Error() string { return "longcsv: " + e.File + ": " + e.Reason }

// The columns of a long CSV file: id, time and gl are required, the others
// optional.
const (
	colID = iota
	colTime
	colGL
	colKind
	colValue
	colUnit
	colFlag
	colTrend
	colDevice
	numCols
	numRequired = colGL + 1
)

var columnNames = [numCols]string{colID: "id", colTime: "time", colGL: "gl",
	colKind: "kind", colValue: "value", colUnit: "unit", colFlag: "flag", colTrend: "trend", colDevice: "device"}

// mmolLimit is the raw value at or below which at least half of a file's
// values must not be for the file to be taken as mg/dL: a median that low
// would be deep, constant hypoglycaemia, so the file holds mmol/L.
const mmolLimit = 30

// utf8BOM is the UTF-8 byte order mark, which some tools write first.
const utf8BOM = "\xEF\xBB\xBF"

// header is the column layout of a file.
type header struct {
	line  int
	width int
	idx   [numCols]int
	name  [numCols]string
}

// columns finds the columns of a header record (-1 for an optional column
// that is absent), or says which required one is missing.
func columns(rec []string) (idx [numCols]int, missing string) {
	for c := range idx {
		idx[c] = -1
	}
	for i, f := range rec {
		for c, n := range columnNames {
			if idx[c] < 0 && strings.EqualFold(strings.TrimSpace(f), n) {
				idx[c] = i
			}
		}
	}
	for c, i := range idx[:numRequired] {
		if i < 0 {
			return idx, columnNames[c]
		}
	}
	if (idx[colValue] < 0) != (idx[colUnit] < 0) {
		if idx[colValue] < 0 {
			return idx, columnNames[colValue]
		}
		return idx, columnNames[colUnit]
	}
	return idx, ""
}

// Parse reads a long CSV file. name is the file name used in messages. It
// returns an error only when r cannot be read as a long CSV file at all (a
// read error, no header, a gl column in mmol/L); the error names the file
// and, where there is one, the line. Bad rows are reported in File.Rejected.
func Parse(r io.Reader, name string) (*File, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	f := &File{}
	p := parser{f: f, name: name, subjects: make(map[string]int)}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("longcsv: read %s: %w", name, err)
			}
			le := &LineError{File: name, Line: pe.StartLine,
				Reason: fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err),
				Code:   "malformed_csv", Args: []string{strconv.Itoa(pe.Line), strconv.Itoa(pe.Column)}}
			if p.h == nil {
				return nil, fmt.Errorf("longcsv: header: %w", le)
			}
			f.Rows++
			f.Rejected = append(f.Rejected, le)
			continue
		}
		if blank(rec) {
			continue
		}
		line, _ := cr.FieldPos(0)
		if p.h == nil {
			idx, missing := columns(rec)
			if missing != "" {
				return nil, fmt.Errorf("longcsv: %w", &LineError{File: name, Line: line, Reason: fmt.Sprintf(
					"header has no %q column (want a first line naming the columns id, time and gl): not a long CSV file?", missing),
					Code: "header_column_missing", Args: []string{missing}})
			}
			p.h = &header{line: line, width: len(rec), idx: idx}
			for c, i := range idx {
				if i >= 0 {
					p.h.name[c] = strings.TrimSpace(rec[i])
				}
			}
			continue
		}
		f.Rows++
		p.parse(line, rec)
	}
	if p.h == nil {
		return nil, &FileError{File: name, Code: "empty_file", Reason: "empty file (want a header naming the columns id, time and gl)"}
	}
	if p.low > 0 && 2*p.low >= p.n {
		return nil, &FileError{File: name, Code: "values_mmol",
			Args: []string{strconv.Itoa(p.low), strconv.Itoa(p.n), strconv.Itoa(mmolLimit)},
			Reason: fmt.Sprintf("%d of the %d values of column %q are %d or less, implausible in mg/dL: "+
				"the values look like mmol/L, and gl must be in mg/dL", p.low, p.n, p.h.name[colGL], mmolLimit)}
	}
	if p.offsetKnown && !p.mixed {
		off := p.offset
		f.Offset = &off
	}
	cgm.SortLineErrors(f.Rejected)
	return f, nil
}

// parser turns data rows into readings.
type parser struct {
	f           *File
	h           *header
	name        string
	subjects    map[string]int // id -> index in f.Subjects
	n, low      int            // readings, and those with a raw value <= mmolLimit
	offset      int
	offsetKnown bool
	mixed       bool
}

func (p *parser) reject(line, col int, value, reason, code string, args ...string) {
	le := &LineError{File: p.name, Line: line, Value: value, Reason: reason, Code: code, Args: args}
	if col >= 0 {
		le.Field = p.h.name[col]
	}
	p.f.Rejected = append(p.f.Rejected, le)
}

func (p *parser) parse(line int, rec []string) {
	h := p.h
	if n := len(rec); n < h.width || n > h.width && !blank(rec[h.width:]) {
		p.reject(line, -1, "", fmt.Sprintf("has %d fields, want %d as the header on line %d", n, h.width, h.line),
			"field_count", strconv.Itoa(n), strconv.Itoa(h.width), strconv.Itoa(h.line))
		return
	}
	id := strings.TrimSpace(rec[h.idx[colID]])
	ts := strings.TrimSpace(rec[h.idx[colTime]])
	gl := strings.TrimSpace(rec[h.idx[colGL]])
	if id == "" {
		p.reject(line, colID, "", "is empty (want the subject's label)", "id_empty")
		return
	}
	t, reason, code := parseTime(ts)
	if reason != "" {
		p.reject(line, colTime, ts, reason, code)
		return
	}
	raw, reason, code := parseGL(gl)
	if reason != "" {
		p.reject(line, colGL, gl, reason, code)
		return
	}
	rd, col, value, reason, code, args := p.reading(rec, t, raw, gl)
	if reason != "" {
		p.reject(line, col, value, reason, code, args...)
		return
	}
	if err := rd.Validate(time.Time{}); err != nil {
		col, value := colGL, gl
		var fe *cgm.FieldError
		if errors.As(err, &fe) && fe.Field == "time" {
			col, value = colTime, ts
		}
		reason, code, args := fieldReason(err)
		p.reject(line, col, value, reason, code, args...)
		return
	}
	_, off := t.Zone()
	switch {
	case !p.offsetKnown:
		p.offset, p.offsetKnown = off, true
	case off != p.offset:
		p.mixed = true
	}
	i, ok := p.subjects[id]
	if !ok {
		i = len(p.f.Subjects)
		p.subjects[id] = i
		p.f.Subjects = append(p.f.Subjects, Subject{ID: strings.Clone(id)})
	}
	s := &p.f.Subjects[i]
	s.Readings = append(s.Readings, rd)
	s.Lines = append(s.Lines, line)
	if h.idx[colUnit] < 0 {
		p.n++
		if raw <= mmolLimit {
			p.low++
		}
	}
}

// field returns the trimmed field of column c, "" when the file has no
// such column.
func (p *parser) field(rec []string, c int) string {
	if i := p.h.idx[c]; i >= 0 {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// reading makes the reading of a row from its gl value raw and the
// optional columns. A non-empty reason rejects the row at column col, with
// code and args (Codes, cgm.FieldCodes).
func (p *parser) reading(rec []string, t time.Time, raw float64, gl string) (rd cgm.Reading, col int, value, reason, code string, args []string) {
	rd = cgm.Reading{Time: t.UTC(), Unit: cgm.MgDL, Kind: cgm.Historic, Device: p.field(rec, colDevice)}
	if k := p.field(rec, colKind); k != "" {
		kind, err := cgm.ParseKind(k)
		if err != nil {
			return rd, colKind, k, "unknown kind (want historic, scan, current or strip)", "kind_unknown", nil
		}
		rd.Kind = kind
	}
	if p.h.idx[colUnit] < 0 {
		v, flags, err := cgm.Normalize(raw, cgm.MgDL)
		if err != nil {
			reason, code, args := fieldReason(err)
			return rd, colGL, gl, reason, code, args
		}
		rd.Value, rd.Flags = v, flags
	} else {
		us, vs := p.field(rec, colUnit), p.field(rec, colValue)
		u, err := cgm.ParseUnit(us)
		if err != nil {
			return rd, colUnit, us, "unknown unit (want mg/dL or mmol/L)", "unit_unknown", nil
		}
		v, reason, code := parseGL(vs)
		if reason != "" {
			code = strings.Replace(code, "gl_", "value_col_", 1) // value_col_missing, value_col_not_number
			return rd, colValue, vs, strings.Replace(reason, "glucose in mg/dL", "glucose in the unit of column "+p.h.name[colUnit], 1),
				code, []string{p.h.name[colUnit]}
		}
		if math.Abs(cgm.ToMgDL(v, u)-raw) > 0.05 {
			return rd, colGL, gl, fmt.Sprintf("disagrees with %s %s %s (%s) of the same row", p.h.name[colValue], vs, u, p.h.name[colUnit]),
				"gl_disagrees", []string{p.h.name[colValue], vs, u.String(), p.h.name[colUnit]}
		}
		rd.Value, rd.Unit = v, u
	}
	if tr := p.field(rec, colTrend); tr != "" {
		n, err := strconv.Atoi(tr)
		if err != nil || n < int(cgm.TrendUnknown) || n > int(cgm.TrendRisingFast) {
			return rd, colTrend, tr, "unknown trend (want 1 falling fast to 5 rising fast, or nothing)", "trend_unknown", nil
		}
		rd.Trend = cgm.Trend(n)
	}
	switch f := p.field(rec, colFlag); strings.ToUpper(f) {
	case "":
	case "LO":
		rd.Flags = cgm.FlagLow
	case "HI":
		rd.Flags = cgm.FlagHigh
	default:
		return rd, colFlag, f, "unknown flag (want LO, HI or nothing)", "flag_unknown", nil
	}
	return rd, 0, "", "", "", nil
}

// fieldReason returns the reason, code and values of a *cgm.FieldError,
// or the error text.
func fieldReason(err error) (string, string, []string) {
	var fe *cgm.FieldError
	if errors.As(err, &fe) {
		return fe.Reason, fe.Code, fe.Args
	}
	return err.Error(), "", nil
}

const (
	layoutWithOffset = "2006-01-02T15:04:05Z07:00"
	layoutNoOffset   = "2006-01-02T15:04:05"
	timeExample      = "2015-06-06T16:50:27-05:00"
)

// parseTime reads an RFC 3339 time with its offset. A non-empty reason
// means it is rejected; code says why (Codes).
func parseTime(s string) (t time.Time, reason, code string) {
	if s == "" {
		return time.Time{}, "is empty (want an RFC 3339 time with its UTC offset, such as " + timeExample + ")", "time_empty"
	}
	if len(s) > 10 && s[10] == ' ' { // RFC 3339 §5.6 allows a space for the T
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(layoutWithOffset, s)
	if err == nil {
		return t, "", ""
	}
	if _, err := time.Parse(layoutNoOffset, s); err == nil {
		return time.Time{}, "has no UTC offset, so its instant is unknown (want RFC 3339 with an offset or Z, such as " + timeExample + ")",
			"time_no_offset"
	}
	return time.Time{}, "not an RFC 3339 time with a UTC offset (want such as " + timeExample + ")", "time_invalid"
}

// parseGL reads a glucose value: digits with an optional decimal dot and
// sign. A non-empty reason means it is rejected; code says why (Codes).
func parseGL(s string) (v float64, reason, code string) {
	const notNumber = "is not a number (want glucose in mg/dL, digits with a dot for decimals: 153 or 98.5)"
	if s == "" || strings.EqualFold(s, "NA") {
		return 0, "is missing (want glucose in mg/dL)", "gl_missing"
	}
	intPart, frac, hasDot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !allDigits(intPart) || hasDot && !allDigits(frac) {
		return 0, notNumber, "gl_not_number"
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, rejected by cgm.Normalize
		return 0, notNumber, "gl_not_number"
	}
	return v, "", ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// blank reports whether every field of a record is empty or spaces.
func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Detect reports whether head, the beginning of a file, starts with the
// header of a long CSV file: its first non-blank line names the columns
// id, time and gl.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(s)).Read()
		if err != nil {
			return false
		}
		_, missing := columns(rec)
		return missing == ""
	}
	return false
}
