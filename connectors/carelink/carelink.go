// Package carelink reads the CSV export of Medtronic CareLink (the "Export
// data" of CareLink Personal or CareLink System), from Guardian Connect,
// Guardian 4 and MiniMed systems, into glucose readings and the person the
// file names.
//
// # Layout
//
// A file is a title block, free text, and one table per section (Medtronic
// CareLink Personal User Guide, "Exporting data"):
//
//	Last Name;First Name;Patient ID;System ID;Start Date;End Date;Device;Guardian Connect
//	"Rossi";"Mario";"";"";"01.05.2021 00:00:00";"25.07.2021 23:59:59";"Serial Number";GCZ7PA-…
//
//	Device data shown may exceed selected date range.
//
//	-------;Guardian Connect;Sensor;GCZ7PA-…;-------
//	Index;Date;Time;New Device Time;BG Reading (mg/dL);…;Sensor Glucose (mg/dL);ISIG Value;…
//	2747,00000;2021/07/25;00:32:50;;;…;55;…
//
// The separator is a semicolon, with a decimal comma, in exports made with
// a European language (a comma, with a decimal dot, in US exports: the
// separator is read from the title line). A section starts with a marker
// line "-------;<device>;<section>;<serial>;-------" and its own header;
// its rows are listed newest first. Lines outside a section's table (free
// text, blank lines) are ignored.
//
// # What is read
//
//   - "Sensor Glucose (mg/dL)" or "(mmol/L)": a cgm.Historic reading, the
//     sensor's glucose every 5 minutes. "BG Reading": a cgm.Strip reading
//     (a meter's blood glucose, entered or linked). Rows with neither
//     (insulin, alarms, calibrations, events) are counted in
//     [File.Skipped]. The sensor calibration column is not read: a
//     calibration value is a BG reading the file also lists.
//   - The sensor reports 40–400 mg/dL (2.2–22.2 mmol/L; Medtronic Guardian
//     Connect System User Guide); below and above, the display shows LOW
//     and HIGH. A value at a limit is flagged cgm.FlagLow or cgm.FlagHigh,
//     so that time below and above range is not underestimated (the same
//     rule as for FreeStyle Libre, whose exports write LO at the floor).
//   - Date and Time are the device's local time, without an offset: the
//     date as YYYY/MM/DD, DD.MM.YYYY or, with slashes and the year last,
//     in the order the file's dates show (a first number above 12: day
//     first; a second above 12: month first; no evidence: day first, as
//     European exports write it). They are read in [Options.Location], the
//     patient's zone: a time in the hour skipped when daylight saving time
//     starts is a rejected row; one in the repeated hour is resolved from
//     the order of the section's rows (cgm.Instants.Resolve, newest first
//     unless the section's rows ascend). The column New Device Time
//     (a change of the device's clock) is not applied: the readings keep
//     the time the device recorded.
//   - A reading's device is the serial of its section (or of the title
//     block), [File.Devices] maps it to the device name.
//   - The person: [File.Person] holds Last Name and First Name as written.
//     Whose readings these are is decided by the importer (package
//     cgm/identity), not here.
//
// [Parse] fails only when the input cannot be read as a CareLink export at
// all; every bad row is reported in [File.Rejected] as a *cgm.LineError,
// and the other rows are still read. The error text contains the offending
// value, which may be a glucose value: do not log it where glucose values
// must not appear.
package carelink

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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

// Person is the patient a CareLink export names, as written.
type Person struct {
	GivenName, FamilyName string
	// Line is the line of the title block's values; 0 when there is none.
	Line int
}

// File is the content of a CareLink export.
type File struct {
	// Unit is the glucose unit of the sensor glucose column.
	Unit cgm.Unit
	// Person is the patient the title block names.
	Person Person
	// Readings are the sensor glucose (historic) and BG (strip) readings,
	// in file order (newest first within a section).
	Readings []cgm.Reading
	// Lines holds the line of each reading.
	Lines []int
	// Devices maps each device serial to its name.
	Devices map[string]string
	// Skipped counts the table rows that hold no glucose.
	Skipped int
	// Ambiguous counts the readings whose local time fell in an hour
	// repeated at the end of daylight saving time.
	Ambiguous int
	// Rejected lists every row that could not be used, in file order.
	Rejected []*cgm.LineError
	// Rows counts the rows of the sections' tables, headers excluded.
	Rows int
}

// The columns fsecgm reads.
const (
	colDate = iota
	colTime
	colBG
	colSG
	numCols
)

var columnPrefixes = [numCols]string{colDate: "date", colTime: "time", colBG: "bg reading", colSG: "sensor glucose"}

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xEF\xBB\xBF"

// marker is the beginning and end of a section's marker line.
const marker = "-------"

// Detect reports whether head, the beginning of a file, is a CareLink
// export: a title line starting "Last Name" and naming "First Name", or a
// section marker line.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	for n := 0; len(head) > 0 && n < 12; n++ {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, marker+";") || strings.HasPrefix(s, marker+",") {
			return true
		}
		low := strings.ToLower(strings.Trim(s, `"`))
		return strings.HasPrefix(low, "last name") && strings.Contains(low, "first name")
	}
	return false
}

// section is a table of the file.
type section struct {
	device, serial string
	hdr            []string // names as written
	idx            [numCols]int
	unit           cgm.Unit
	headerLine     int
	prevWall       time.Time
	ordered        bool // the order of the rows is known
	desc           bool
}

// row is a table row kept until the date order is known.
type row struct {
	line   int
	fields []string
	sec    *section
}

// Parse reads a CareLink export. name is the file name used in messages.
// It returns an error only when r cannot be read as a CareLink export at
// all (a read error, no section with a glucose column); bad rows are
// reported in File.Rejected.
func Parse(r io.Reader, name string, opt Options) (*File, error) {
	if opt.Location == nil {
		return nil, errors.New("carelink: Options.Location is required (the patient's IANA time zone)")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	first, _ := br.Peek(4 << 10)
	sep := ';'
	if l, _, _ := bytes.Cut(first, []byte("\n")); bytes.Count(l, []byte(",")) > bytes.Count(l, []byte(";")) {
		sep = ','
	}
	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	f := &File{Devices: map[string]string{}}
	p := parser{f: f, name: name, loc: opt.Location, prev: map[seqKey]time.Time{}}
	var (
		titleKeys []string
		sec       *section
		rows      []row
		sawHeader bool
		lineNo    int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("carelink: read %s: %w", name, err)
			}
			if sec != nil {
				f.Rows++
				f.Rejected = append(f.Rejected, &cgm.LineError{File: name, Line: pe.StartLine,
					Reason: fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err)})
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		lineNo++
		if blank(rec) {
			continue
		}
		first := strings.TrimSpace(rec[0])
		switch {
		case first == marker:
			sec = &section{}
			if len(rec) > 1 {
				sec.device = strings.TrimSpace(rec[1])
			}
			if len(rec) > 3 {
				sec.serial = strings.TrimSpace(rec[3])
			}
			continue
		case titleKeys == nil && lineNo == 1 && strings.EqualFold(first, "last name"):
			titleKeys = trimAll(rec)
			continue
		case titleKeys != nil && p.f.Person.Line == 0 && sec == nil:
			p.title(titleKeys, trimAll(rec), line)
			continue
		case sec != nil && sec.hdr == nil:
			if !strings.EqualFold(first, "index") {
				sec = nil // a marker without a table: ignore it
				continue
			}
			if msg := sec.header(trimAll(rec), line); msg != "" {
				return nil, fmt.Errorf("carelink: %w", &cgm.LineError{File: name, Line: line, Reason: msg})
			}
			if sec.serial == "" {
				sec.serial = p.serial
			}
			if sec.device == "" {
				sec.device = p.device
			}
			if sec.idx[colSG] >= 0 {
				if f.Unit != 0 && f.Unit != sec.unit {
					return nil, fmt.Errorf("carelink: %w", &cgm.LineError{File: name, Line: line,
						Reason: fmt.Sprintf("sensor glucose in %s here but in %s in an earlier section", sec.unit, f.Unit)})
				}
				f.Unit = sec.unit
			}
			sawHeader = true
			continue
		case sec == nil || sec.hdr == nil:
			continue // free text outside the tables
		}
		f.Rows++
		rows = append(rows, row{line: line, fields: rec, sec: sec})
	}
	if !sawHeader {
		return nil, fmt.Errorf("carelink: %s: no section with a table (want a line \"-------;<device>;<section>;<serial>;-------\" "+
			"followed by a header Index;Date;Time;…): not a CareLink export?", name)
	}
	if f.Unit == 0 {
		f.Unit = cgm.MgDL
		for _, s := range rows {
			if s.sec.unit != 0 {
				f.Unit = s.sec.unit
				break
			}
		}
	}
	p.order = dateOrder(rows)
	for _, rw := range rows {
		p.parse(rw)
	}
	cgm.SortLineErrors(f.Rejected)
	return f, nil
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, s := range rec {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// header maps a section's table header; a non-empty result says what is
// wrong.
func (s *section) header(rec []string, line int) string {
	s.hdr, s.headerLine = rec, line
	for c := range s.idx {
		s.idx[c] = -1
	}
	for i, f := range rec {
		low := strings.ToLower(f)
		for c, p := range columnPrefixes {
			if s.idx[c] < 0 && (low == p || strings.HasPrefix(low, p+" (")) {
				s.idx[c] = i
			}
		}
	}
	if s.idx[colDate] < 0 || s.idx[colTime] < 0 {
		return "section header has no Date and Time columns"
	}
	for _, c := range []int{colSG, colBG} {
		if s.idx[c] < 0 {
			continue
		}
		switch low := strings.ToLower(rec[s.idx[c]]); {
		case strings.Contains(low, "(mg/dl)"):
			s.unit = cgm.MgDL
		case strings.Contains(low, "(mmol/l)"):
			s.unit = cgm.MmolL
		default:
			return fmt.Sprintf("column %q does not name a unit (want (mg/dL) or (mmol/L))", rec[s.idx[c]])
		}
	}
	return ""
}

type seqKey struct {
	device string
	kind   cgm.Kind
}

type parser struct {
	f              *File
	name           string
	loc            *time.Location
	prev           map[seqKey]time.Time
	order          order
	serial, device string // from the title block
}

// title reads the title block's values under its keys.
func (p *parser) title(keys, vals []string, line int) {
	get := func(k string) string {
		for i, key := range keys {
			if strings.EqualFold(key, k) && i < len(vals) {
				return vals[i]
			}
		}
		return ""
	}
	p.f.Person = Person{GivenName: get("first name"), FamilyName: get("last name"), Line: line}
	// "Device;<name>" over "Serial Number;<serial>".
	for i, key := range keys {
		if strings.EqualFold(key, "device") && i+1 < len(keys) && i+1 < len(vals) {
			p.device, p.serial = keys[i+1], vals[i+1]
		}
	}
}

func (p *parser) reject(rw row, col int, value, reason string) {
	le := &cgm.LineError{File: p.name, Line: rw.line, Value: value, Reason: reason}
	if col >= 0 && rw.sec.idx[col] >= 0 {
		le.Field = rw.sec.hdr[rw.sec.idx[col]]
	}
	p.f.Rejected = append(p.f.Rejected, le)
}

func field(rw row, c int) string {
	if i := rw.sec.idx[c]; i >= 0 && i < len(rw.fields) {
		return strings.TrimSpace(rw.fields[i])
	}
	return ""
}

func (p *parser) parse(rw row) {
	sg, bg := field(rw, colSG), field(rw, colBG)
	if sg == "" && bg == "" {
		p.f.Skipped++
		return
	}
	ds, ts := field(rw, colDate), field(rw, colTime)
	wall, ok := p.order.civil(ds, ts)
	if !ok {
		p.reject(rw, colDate, ds+" "+ts, "not a date and time in the file's format ("+p.order.layout()+" and hh:mm:ss)")
		return
	}
	sec := rw.sec
	if !sec.ordered && !sec.prevWall.IsZero() && !wall.Equal(sec.prevWall) {
		sec.ordered, sec.desc = true, wall.Before(sec.prevWall)
	}
	descending := !sec.ordered || sec.desc
	sec.prevWall = wall
	cands := cgm.LocalInstants(wall, p.loc)
	if cands.Len() == 0 {
		p.reject(rw, colTime, ds+" "+ts, fmt.Sprintf("this local time does not exist in %s (the hour skipped when daylight saving time starts)", p.loc))
		return
	}
	if sec.serial != "" {
		if _, ok := p.f.Devices[sec.serial]; !ok {
			p.f.Devices[sec.serial] = sec.device
		}
	}
	for _, v := range []struct {
		col  int
		raw  string
		kind cgm.Kind
	}{{colSG, sg, cgm.Historic}, {colBG, bg, cgm.Strip}} {
		if v.raw == "" {
			continue
		}
		key := seqKey{sec.serial + "/" + sec.device, v.kind}
		t := cands.Resolve(p.prev[key], descending)
		p.prev[key] = t
		val, flags, reason := value(v.raw, sec.unit, v.kind == cgm.Historic)
		if reason != "" {
			p.reject(rw, v.col, v.raw, reason)
			continue
		}
		rd := cgm.Reading{Time: t, Value: val, Unit: sec.unit, Kind: v.kind, Flags: flags, Device: sec.serial}
		if err := rd.Validate(time.Time{}); err != nil {
			reason := err.Error()
			var fe *cgm.FieldError
			if errors.As(err, &fe) {
				reason = fe.Reason
			}
			p.reject(rw, v.col, v.raw, reason)
			continue
		}
		if cands.Len() > 1 {
			p.f.Ambiguous++
		}
		p.f.Readings = append(p.f.Readings, rd)
		p.f.Lines = append(p.f.Lines, rw.line)
	}
}

// value reads a glucose value of unit u, with a decimal comma or dot; a
// sensor value at a limit of the sensor's range is flagged. A non-empty
// reason means it is rejected.
func value(s string, u cgm.Unit, sensor bool) (float64, cgm.Flag, string) {
	v, flags, reason := cgm.ParseExportValue(s, u, "CareLink exports")
	if reason != "" {
		return 0, 0, reason
	}
	lo, _ := cgm.Limits(u)
	hi := cgm.HighLimits(u)[0]
	if sensor {
		switch {
		case v <= lo:
			v, flags = lo, cgm.FlagLow
		case v == hi:
			flags = cgm.FlagHigh
		}
	}
	return v, flags, ""
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
