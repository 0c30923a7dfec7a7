// Package clarity reads the CSV export of Dexcom Clarity (Clarity's
// "Export" of a patient's data), from the Dexcom G6 and G7 systems, in
// mg/dL or mmol/L, into glucose readings and the person the file names.
//
// # Layout
//
// A file is one comma-separated table with a header and one row per event
// (Dexcom Clarity User Guide, "Export"):
//
//	Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,
//	Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),Duration (hh:mm:ss),
//	Glucose Rate of Change (mg/dL/min)[,Transmitter Time (Long Integer),Transmitter ID]
//
// The first rows have no timestamp: the patient (Event Type FirstName,
// LastName and DateOfBirth, the value in Patient Info), the devices
// (Device: the model in Device Info, the receiving device in Source Device
// ID) and the alert settings (Alert). Then come the events: EGV (estimated
// glucose value, the sensor's reading every 5 minutes), Calibration (a
// finger-stick value entered to calibrate), Insulin, Carbs, Exercise,
// Health and others. The glucose unit is the one in the name of the glucose
// column, "(mg/dL)" or "(mmol/L)". A UTF-8 byte order mark, CRLF or LF line
// ends, spaces around fields and RFC 4180 quoting are accepted.
//
// # What is read
//
//   - An EGV row becomes a cgm.Historic reading, a Calibration row a
//     cgm.Strip reading (a meter's blood glucose). Every other event, and
//     the rows without a timestamp, are counted in [File.Skipped].
//   - Values are whole numbers in mg/dL files and have a decimal dot (or a
//     decimal comma, in a quoted field) in mmol/L files. "Low" and "High"
//     are readings outside the sensor's range, 40–400 mg/dL (2.2–22.2
//     mmol/L; Dexcom G6 and G7 CGM System User Guides): they are stored at
//     the limit with cgm.FlagLow or cgm.FlagHigh, so that time below and
//     above range is not underestimated.
//   - The timestamp is the local time of the display device, without an
//     offset: it is read in [Options.Location], the patient's zone; a time
//     in the hour skipped when daylight saving time starts is a rejected
//     row, and one in the repeated hour is resolved from the order of the
//     device's readings, which the export lists in ascending time
//     (cgm.Instants.Resolve; [File.Ambiguous] counts them).
//   - A reading's device is its transmitter (Transmitter ID, when the
//     export has the column and the row a value), else the receiving device
//     (Source Device ID); [File.Devices] maps each to the model the Device
//     rows give.
//   - The person: [File.Person] holds FirstName, LastName and DateOfBirth
//     as written. Whose readings these are is decided by the importer
//     (package cgm/identity), not here.
//
// [Parse] fails only when the input cannot be read as a Clarity export at
// all; every bad row is reported in [File.Rejected] as a *cgm.LineError
// with the line, column, value and reason, and the other rows are still
// read. The error text contains the offending value, which may be a
// glucose value: do not log it where glucose values must not appear.
package clarity

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
)

// Options tell [Parse] what the file itself does not say.
type Options struct {
	// Location is the patient's time zone, in which the file's local
	// times are read. Required.
	Location *time.Location
}

// Person is the patient a Clarity export names, as written.
type Person struct {
	GivenName, FamilyName string
	// BirthDate is the date of birth; zero when the file gives none or
	// gives one whose day and month order cannot be told (BirthText then
	// holds it).
	BirthDate time.Time
	// BirthText is the date of birth as written.
	BirthText string
	// Line is the line of the first of these rows; 0 when there is none.
	Line int
}

// File is the content of a Clarity export.
type File struct {
	// Unit is the glucose unit of the file.
	Unit cgm.Unit
	// Person is the patient the file names.
	Person Person
	// Readings are the EGV (historic) and Calibration (strip) readings, in
	// file order.
	Readings []cgm.Reading
	// Lines holds the line of each reading: Lines[i] is the line of
	// Readings[i].
	Lines []int
	// Devices maps each device serial the readings name to its model, when
	// the file gives one.
	Devices map[string]string
	// Skipped counts the rows that hold no glucose reading: the patient and
	// device rows, alert settings, insulin, carbs, exercise, health and
	// other events.
	Skipped int
	// Ambiguous counts the readings whose local time fell in an hour
	// repeated at the end of daylight saving time.
	Ambiguous int
	// Rejected lists every row that could not be used, in file order.
	Rejected []*cgm.LineError
	// Rows counts the rows after the header, blank lines excluded.
	Rows int
}

// The columns fsecgm reads.
const (
	colIndex = iota
	colTime
	colType
	colSubtype
	colPatient
	colDeviceInfo
	colSource
	colGlucose
	colTransmitter
	numCols
)

// columnPrefixes are the lower-case beginnings of the columns' names;
// the glucose column's name goes on with its unit in parentheses.
var columnPrefixes = [numCols]string{
	colIndex: "index", colTime: "timestamp", colType: "event type", colSubtype: "event subtype",
	colPatient: "patient info", colDeviceInfo: "device info", colSource: "source device id",
	colGlucose: "glucose value", colTransmitter: "transmitter id",
}

// optional columns: all others are required.
var optional = [numCols]bool{colIndex: true, colSubtype: true, colTransmitter: true}

// utf8BOM is the UTF-8 byte order mark, which Clarity writes first.
const utf8BOM = "\xEF\xBB\xBF"

type header struct {
	line  int
	width int
	idx   [numCols]int
	name  [numCols]string
	unit  cgm.Unit
}

// columnOf returns the column a header field names, if any.
func columnOf(field string) (int, bool) {
	s := strings.ToLower(strings.TrimSpace(field))
	for c, p := range columnPrefixes {
		if s == p || strings.HasPrefix(s, p+" (") {
			return c, true
		}
	}
	return 0, false
}

// glucoseUnit returns the unit of the glucose column's name.
func glucoseUnit(name string) (cgm.Unit, bool) {
	s := strings.ToLower(name)
	switch {
	case strings.Contains(s, "(mg/dl)"):
		return cgm.MgDL, true
	case strings.Contains(s, "(mmol/l)"):
		return cgm.MmolL, true
	}
	return 0, false
}

// parseHeader maps the columns of a header record; an error says what is
// missing.
func parseHeader(rec []string, line int) (*header, string) {
	h := &header{line: line, width: len(rec)}
	for c := range h.idx {
		h.idx[c] = -1
	}
	for i, f := range rec {
		if c, ok := columnOf(f); ok && h.idx[c] < 0 {
			h.idx[c] = i
			h.name[c] = strings.TrimSpace(f)
		}
	}
	for c, i := range h.idx {
		if i < 0 && !optional[c] {
			return nil, fmt.Sprintf("header has no %q column (want the columns of a Dexcom Clarity export: "+
				"Timestamp, Event Type, Patient Info, Device Info, Source Device ID, Glucose Value)", columnPrefixes[c])
		}
	}
	u, ok := glucoseUnit(h.name[colGlucose])
	if !ok {
		return nil, fmt.Sprintf("column %q does not name a unit (want Glucose Value (mg/dL) or (mmol/L))", h.name[colGlucose])
	}
	h.unit = u
	return h, ""
}

// Detect reports whether head, the beginning of a file, starts with the
// header of a Clarity export: its first non-blank line names the columns
// Timestamp, Event Type and Glucose Value with a unit.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err != nil {
			return false
		}
		_, missing := parseHeader(rec, 1)
		return missing == ""
	}
	return false
}

// Parse reads a Clarity export. name is the file name used in messages. It
// returns an error only when r cannot be read as a Clarity export at all (a
// read error, no header); bad rows are reported in File.Rejected.
func Parse(r io.Reader, name string, opt Options) (*File, error) {
	if opt.Location == nil {
		return nil, errors.New("clarity: Options.Location is required (the patient's IANA time zone)")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	f := &File{Devices: map[string]string{}}
	p := parser{f: f, name: name, loc: opt.Location, prev: map[seqKey]time.Time{}, models: map[string]string{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("clarity: read %s: %w", name, err)
			}
			le := &cgm.LineError{File: name, Line: pe.StartLine,
				Reason: fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err)}
			if p.h == nil {
				return nil, fmt.Errorf("clarity: header: %w", le)
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
			h, missing := parseHeader(rec, line)
			if missing != "" {
				return nil, fmt.Errorf("clarity: %w", &cgm.LineError{File: name, Line: line, Reason: missing + ": not a Dexcom Clarity export?"})
			}
			p.h, f.Unit = h, h.unit
			continue
		}
		f.Rows++
		p.parse(line, rec)
	}
	if p.h == nil {
		return nil, fmt.Errorf("clarity: %s: empty file (want a Dexcom Clarity export)", name)
	}
	for i, r := range f.Readings {
		if m, ok := p.models[p.sources[i]]; ok && r.Device != "" && f.Devices[r.Device] == "" {
			f.Devices[r.Device] = m
		}
	}
	p.sources = nil
	cgm.SortLineErrors(f.Rejected)
	return f, nil
}

// seqKey identifies a sequence of readings in time order: one device's
// readings of one kind.
type seqKey struct {
	device string
	kind   cgm.Kind
}

type parser struct {
	f       *File
	h       *header
	name    string
	loc     *time.Location
	prev    map[seqKey]time.Time
	models  map[string]string // Source Device ID → model (Device rows)
	sources []string          // the Source Device ID of each reading
}

func (p *parser) reject(line, col int, value, reason string) {
	le := &cgm.LineError{File: p.name, Line: line, Value: value, Reason: reason}
	if col >= 0 {
		le.Field = p.h.name[col]
	}
	p.f.Rejected = append(p.f.Rejected, le)
}

func (p *parser) field(rec []string, c int) string {
	if i := p.h.idx[c]; i >= 0 && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

func (p *parser) parse(line int, rec []string) {
	if len(rec) <= maxIndex(p.h) {
		p.reject(line, -1, "", fmt.Sprintf("has %d fields, want %d as the header on line %d", len(rec), p.h.width, p.h.line))
		return
	}
	typ := p.field(rec, colType)
	var kind cgm.Kind
	switch strings.ToLower(typ) {
	case "egv":
		kind = cgm.Historic
	case "calibration":
		kind = cgm.Strip
	case "firstname", "lastname", "dateofbirth":
		p.person(line, strings.ToLower(typ), p.field(rec, colPatient))
		p.f.Skipped++
		return
	case "device":
		if src, model := p.field(rec, colSource), p.field(rec, colDeviceInfo); src != "" && model != "" {
			p.models[src] = model
		}
		p.f.Skipped++
		return
	case "":
		p.reject(line, colType, "", "is empty (want an event type such as EGV)")
		return
	default:
		p.f.Skipped++
		return
	}
	ts := p.field(rec, colTime)
	wall, ok := scanTime(ts)
	if !ok {
		p.reject(line, colTime, ts, "not a date and time YYYY-MM-DDThh:mm:ss")
		return
	}
	src := p.field(rec, colSource)
	dev := p.field(rec, colTransmitter)
	if dev == "" {
		dev = src
	}
	cands := cgm.LocalInstants(wall, p.loc)
	if cands.Len() == 0 {
		p.reject(line, colTime, ts, fmt.Sprintf("this local time does not exist in %s (the hour skipped when daylight saving time starts)", p.loc))
		return
	}
	key := seqKey{dev, kind}
	t := cands.Resolve(p.prev[key], false)
	if cands.Len() > 1 {
		p.f.Ambiguous++
	}
	p.prev[key] = t
	raw := p.field(rec, colGlucose)
	v, flags, reason := value(raw, p.h.unit)
	if reason != "" {
		p.reject(line, colGlucose, raw, reason)
		return
	}
	rd := cgm.Reading{Time: t, Value: v, Unit: p.h.unit, Kind: kind, Flags: flags, Device: dev}
	if err := rd.Validate(time.Time{}); err != nil {
		col, val := colGlucose, raw
		var fe *cgm.FieldError
		if errors.As(err, &fe) {
			switch fe.Field {
			case "time":
				col, val = colTime, ts
			case "device":
				col, val = colSource, dev
			}
			err = errors.New(fe.Reason)
		}
		p.reject(line, col, val, err.Error())
		return
	}
	p.f.Readings = append(p.f.Readings, rd)
	p.f.Lines = append(p.f.Lines, line)
	p.sources = append(p.sources, src)
}

// person records a patient row.
func (p *parser) person(line int, typ, v string) {
	ps := &p.f.Person
	if ps.Line == 0 {
		ps.Line = line
	}
	switch typ {
	case "firstname":
		ps.GivenName = v
	case "lastname":
		ps.FamilyName = v
	case "dateofbirth":
		ps.BirthText = v
		ps.BirthDate, _ = birthDate(v)
	}
}

func maxIndex(h *header) int {
	m := 0
	for _, i := range h.idx {
		m = max(m, i)
	}
	return m
}

// value reads a glucose value of unit u (see the package documentation). A
// non-empty reason means it is rejected.
func value(s string, u cgm.Unit) (v float64, flags cgm.Flag, reason string) {
	his := cgm.HighLimits(u)
	lo := cgm.LowLimitMgDL
	if u == cgm.MmolL {
		lo = cgm.LowLimitMmolL
	}
	switch {
	case s == "":
		return 0, 0, "is empty: the event needs a glucose value"
	case strings.EqualFold(s, "low"):
		return lo, cgm.FlagLow, ""
	case strings.EqualFold(s, "high"):
		return his[0], cgm.FlagHigh, ""
	}
	v, flags, reason = cgm.ParseExportValue(s, u, "Clarity exports")
	if strings.HasPrefix(reason, "is not a number") {
		reason = "is not a glucose value (want a number, Low or High)"
	}
	if reason != "" {
		return 0, 0, reason
	}
	return v, flags, ""
}

// scanTime reads "YYYY-MM-DDThh:mm:ss" (a space may replace the T; the
// seconds may be missing, as in files re-saved by spreadsheets), as a wall
// clock time in UTC.
func scanTime(s string) (time.Time, bool) {
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range [...]string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// birthDate reads a date of birth: YYYY-MM-DD, D.M.YYYY, or M/D/YYYY as
// the US Clarity writes it (1/1/1970), or D/M/YYYY when the first number
// is greater than 12. ok is false when the date cannot be read or, with
// slashes and both numbers up to 12 and different, its order cannot be
// told.
func birthDate(s string) (time.Time, bool) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	sep := "/"
	if strings.Contains(s, ".") {
		sep = "."
	}
	parts := strings.Split(s, sep)
	if len(parts) != 3 {
		return time.Time{}, false
	}
	var n [3]int
	for i, part := range parts {
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return time.Time{}, false
		}
		n[i] = v
	}
	a, b, y := n[0], n[1], n[2]
	day, month := b, a // month first, as the US Clarity writes it
	switch {
	case sep == ".":
		day, month = a, b
	case a > 12 && b <= 12:
		day, month = a, b
	case a <= 12 && b <= 12 && a != b:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if y < 1900 || t.Day() != day || int(t.Month()) != month {
		return time.Time{}, false
	}
	return t, true
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
