package libreview

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
	// Location is the patient's time zone (an IANA zone such as
	// Europe/Rome), in which the file's wall-clock times are read.
	// Required.
	Location *time.Location
	// DateOrder is the date order to use when the file holds no evidence
	// of its own (see the package documentation). Auto, the zero value,
	// means day first. An explicit DayFirst or MonthFirst that the file
	// contradicts makes Parse fail.
	DateOrder DateOrder
}

// File is the content of a LibreView export.
type File struct {
	// Unit is the glucose unit of the file, from the historic glucose
	// column's name.
	Unit cgm.Unit
	// Language is the language of the file's column names (or of its
	// title line), "" when neither is in a language the package knows.
	Language Language
	// Generated is the generation time written on the title line, in UTC;
	// zero when there is no title line or its date cannot be read (that
	// line is then in Rejected).
	Generated time.Time
	// DateOrder is the date order the file was read with: DayFirst or
	// MonthFirst.
	DateOrder DateOrder
	// DateOrderAssumed is true when the file held no evidence of its date
	// order and Options.DateOrder (day first for Auto) was used.
	DateOrderAssumed bool
	// Readings are the glucose readings (historic, scan and strip), in the
	// order of the file, which is not time order. cgm.NewSeries sorts them
	// (and reorders the slice, so take Lines first if they are needed).
	Readings []cgm.Reading
	// Lines holds the line of the file each reading comes from:
	// Lines[i] is the line of Readings[i].
	Lines []int
	// Devices maps each serial number to its device model (column 1),
	// for the rows that were read.
	Devices map[string]string
	// Skipped counts the rows of non-glucose record types: ketone (3),
	// insulin (4), food (5) and notes or events (6).
	Skipped int
	// Ambiguous counts the readings whose local time fell in an hour
	// repeated at the end of daylight saving time and was resolved from
	// the order of the device's readings.
	Ambiguous int
	// Rejected lists every line that could not be used, in file order.
	Rejected []*LineError
	// Rows counts the data rows after the header, blank lines excluded:
	// each became a reading, was skipped, or was rejected.
	Rows int
}

// LineError says what is wrong with one line of a file and where.
type LineError = cgm.LineError

// Codes lists the codes of LineError and FileError, with the number of
// Args each carries. A line whose reading failed cgm's checks carries the
// code of the cgm.FieldError (cgm.FieldCodes).
var Codes = map[string]int{
	"malformed_csv": 2, "utf16": 0, "empty_file": 0, "no_header": 0, "no_header_early": 1,
	"header_column_missing": 1, "header_no_unit": 0, "header_unit_mismatch": 2,
	"dates_both_orders": 4, "date_order_conflict": 1,
	"generated_day_first": 0, "generated_month_first": 0, "generated_month_first_12h": 0,
	"timestamp_day_first": 0, "timestamp_month_first": 0, "timestamp_month_first_12h": 0,
	"field_count": 3, "type_empty": 0, "type_unknown": 0, "time_nonexistent": 1, "value_empty": 1,
}

// FileError is a file that cannot be read as a LibreView export at all
// (UTF-16, empty, no header, dates in both orders). Line is 0 when the
// error is not about one line.
type FileError struct {
	File   string
	Line   int
	Reason string
	// Code (one of Codes) and Args say it for a display.
	Code string
	Args []string
}

// Error returns "libreview: FILE: reason" or "libreview: FILE:LINE: reason".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return "libreview: " + e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Reason
	}
	return "libreview: " + e.File + ": " + e.Reason
}

// maxPreamble is how many non-blank lines may come before the header.
const maxPreamble = 10

// utf8BOM is the UTF-8 byte order mark, which some tools write first.
const utf8BOM = "\xEF\xBB\xBF"

// record is one CSV record and the line it starts on.
type record struct {
	line   int
	fields []string
}

// Parse reads a LibreView export. name is the file name used in messages.
// It returns an error only when r cannot be read as a LibreView export at all
// (a read error, no header, no glucose unit, contradictory date orders); the
// error names the file and, where there is one, the line. Bad rows do not
// stop it: each is reported in File.Rejected. See the package documentation
// for the rules.
func Parse(r io.Reader, name string, opt Options) (*File, error) {
	if opt.Location == nil {
		return nil, errors.New("libreview: Options.Location is required (the patient's IANA time zone)")
	}
	if opt.DateOrder > MonthFirst {
		return nil, fmt.Errorf("libreview: invalid Options.DateOrder %v", opt.DateOrder)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.HasPrefix(b, []byte(utf8BOM)) {
		_, _ = br.Discard(len(utf8BOM))
	} else if len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF) {
		return nil, &FileError{File: name, Code: "utf16",
			Reason: "file is UTF-16, as LibreView exports were before April 2019: save it as UTF-8 and try again"}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true

	f := &File{Devices: make(map[string]string)}
	var (
		hdr      *header
		title    *record
		rows     []record
		preamble int
		seen     bool
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("libreview: read %s: %w", name, err)
			}
			seen = true
			if hdr == nil {
				preamble++
			} else {
				f.Rows++
			}
			f.Rejected = append(f.Rejected, &LineError{File: name, Line: pe.StartLine,
				Reason: fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err),
				Code:   "malformed_csv", Args: []string{strconv.Itoa(pe.Line), strconv.Itoa(pe.Column)}})
			if hdr == nil && preamble >= maxPreamble {
				return nil, errNoHeader(name, true)
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		seen = true
		if hdr != nil {
			rows = append(rows, record{line, rec})
			continue
		}
		switch {
		case isHeader(rec):
			h, err := parseHeader(rec, line)
			if err != nil {
				var le *LineError
				if errors.As(err, &le) {
					le.File = name
				}
				return nil, fmt.Errorf("libreview: %w", err)
			}
			hdr = h
		case title == nil && isTitle(rec):
			title = &record{line, rec}
		default:
			preamble++
		}
		if hdr == nil && preamble >= maxPreamble {
			return nil, errNoHeader(name, true)
		}
	}
	if !seen {
		return nil, &FileError{File: name, Code: "empty_file", Reason: "empty file"}
	}
	if hdr == nil {
		return nil, errNoHeader(name, false)
	}
	f.Unit = hdr.unit
	f.Language = hdr.lang
	if title != nil && f.Language == "" {
		f.Language, _ = titleLang(title.fields)
	}

	ev := gatherEvidence(rows, hdr, title)
	order, assumed, err := ev.decide(opt.DateOrder)
	if err != nil {
		err.File = name
		return nil, err
	}
	f.DateOrder, f.DateOrderAssumed = order, assumed
	if title != nil {
		f.readTitle(title, name, order)
	}

	p := rowParser{f: f, h: hdr, name: name, loc: opt.Location, order: order,
		twelveHour: ev.meridiem.line > 0, prev: make(map[seqKey]time.Time)}
	f.Readings = make([]cgm.Reading, 0, len(rows))
	f.Lines = make([]int, 0, len(rows))
	for _, row := range rows {
		f.Rows++
		p.parse(row)
	}
	sortRejected(f.Rejected)
	return f, nil
}

func errNoHeader(name string, early bool) error {
	where, code, args := "found", "no_header", []string(nil)
	if early {
		where, code, args = fmt.Sprintf("in the first %d lines", maxPreamble), "no_header_early", []string{strconv.Itoa(maxPreamble)}
	}
	return &FileError{File: name, Code: code, Args: args, Reason: "no LibreView header " + where + " (want a line naming the columns " +
		"Device Timestamp and Record Type, or their German, French, Dutch, Spanish or Portuguese names, " +
		"or 19 or 21 columns whose fifth names a glucose unit): not a LibreView export?"}
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

// isTitle reports whether a record is the title line: "Glucose Data,
// Generated on,<date> UTC,Generated by,<name>" in one of the known
// languages, or any line of that shape: at least five fields, the third a
// date and time followed by "UTC" (LibreView writes the generation time in
// UTC in every language).
func isTitle(rec []string) bool {
	_, ok := titleLang(rec)
	return ok
}

// titleLang reports whether rec is the title line, and its language when
// its words are known.
func titleLang(rec []string) (Language, bool) {
	if len(rec) < 3 {
		return "", false
	}
	first := strings.ToLower(strings.TrimSpace(rec[0]))
	second := strings.ToLower(strings.TrimSpace(rec[1]))
	for _, l := range langs {
		if l.title[0] != "" && (first == l.title[0] || second == l.title[1]) {
			return l.code, true
		}
	}
	if len(rec) < 5 {
		return "", false
	}
	s := strings.TrimSpace(rec[2])
	if n := len(s); n < 4 || !strings.EqualFold(s[n-3:], "UTC") {
		return "", false
	}
	_, ok := scanStamp(titleStamp(rec))
	return "", ok
}

// titleStamp returns the date of the title line without its " UTC" suffix.
func titleStamp(rec []string) string {
	s := strings.TrimSpace(rec[2])
	if n := len(s); n >= 3 && strings.EqualFold(s[n-3:], "UTC") {
		s = strings.TrimSpace(s[:n-3])
	}
	return s
}

// readTitle sets f.Generated from the title line, or rejects the line.
func (f *File) readTitle(title *record, name string, order DateOrder) {
	s := titleStamp(title.fields)
	st, ok := scanStamp(s)
	var wall time.Time
	if ok {
		wall, ok = st.civil(order)
	}
	if !ok {
		f.Rejected = append(f.Rejected, &LineError{File: name, Line: title.line,
			Field: strings.TrimSpace(title.fields[1]), Value: strings.TrimSpace(title.fields[2]),
			Reason: "not a generation time in the format " + layout(order, st.meridiem != noMeridiem) + " followed by UTC",
			Code:   "generated_" + layoutCode(order, st.meridiem != noMeridiem)})
		return
	}
	f.Generated = wall // the title's time is in UTC
}

// sighting is the first place a kind of date-order evidence was seen.
type sighting struct {
	line  int
	value string
}

// evidence is what a file's timestamps say about its date order.
type evidence struct {
	meridiem, dayFirst, monthFirst sighting
}

func (ev *evidence) see(line int, s string) {
	st, ok := scanStamp(s)
	if !ok {
		return
	}
	note := func(sg *sighting) {
		if sg.line == 0 {
			*sg = sighting{line, s}
		}
	}
	switch {
	case st.meridiem != noMeridiem:
		note(&ev.meridiem)
	case st.a > 12 && st.b <= 12:
		note(&ev.dayFirst)
	case st.b > 12 && st.a <= 12:
		note(&ev.monthFirst)
	}
}

func gatherEvidence(rows []record, h *header, title *record) *evidence {
	ev := new(evidence)
	if title != nil {
		ev.see(title.line, titleStamp(title.fields))
	}
	i := h.idx[colTimestamp]
	for _, row := range rows {
		if i < len(row.fields) {
			ev.see(row.line, strings.TrimSpace(row.fields[i]))
		}
	}
	return ev
}

// decide applies the date-order rules of the package documentation. The
// error text starts with the line, to follow "file:".
func (ev *evidence) decide(opt DateOrder) (order DateOrder, assumed bool, err *FileError) {
	var why sighting
	switch {
	case ev.meridiem.line > 0:
		order, why = MonthFirst, ev.meridiem
	case ev.dayFirst.line > 0 && ev.monthFirst.line > 0:
		return 0, false, &FileError{Line: ev.monthFirst.line, Code: "dates_both_orders",
			Args: []string{ev.dayFirst.value, strconv.Itoa(ev.dayFirst.line), ev.monthFirst.value, strconv.Itoa(ev.monthFirst.line)},
			Reason: fmt.Sprintf("dates in both orders: %q (line %d) can only be day first and %q (line %d) only month first",
				ev.dayFirst.value, ev.dayFirst.line, ev.monthFirst.value, ev.monthFirst.line)}
	case ev.dayFirst.line > 0:
		order, why = DayFirst, ev.dayFirst
	case ev.monthFirst.line > 0:
		order, why = MonthFirst, ev.monthFirst
	default:
		if opt == Auto {
			opt = DayFirst
		}
		return opt, true, nil
	}
	if opt != Auto && opt != order {
		return 0, false, &FileError{Line: why.line, Code: "date_order_conflict", Args: []string{why.value},
			Reason: fmt.Sprintf("the date order was given as %s, but %q is %s", opt, why.value, order)}
	}
	return order, false, nil
}

// seqKey identifies a sequence of readings in ascending time order: one
// device's rows of one record type.
type seqKey struct {
	serial string
	kind   cgm.Kind
}

// rowParser turns data rows into readings.
type rowParser struct {
	f          *File
	h          *header
	name       string
	loc        *time.Location
	order      DateOrder
	twelveHour bool
	prev       map[seqKey]time.Time
}

// kinds maps the glucose record types to reading kinds and value columns.
var kinds = [...]struct {
	kind cgm.Kind
	col  int
	what string
}{
	0: {cgm.Historic, colHistoric, "historic glucose"},
	1: {cgm.Scan, colScan, "scan glucose"},
	2: {cgm.Strip, colStrip, "strip glucose"},
}

func (p *rowParser) reject(line int, col int, value, reason, code string, args ...string) {
	le := &LineError{File: p.name, Line: line, Value: value, Reason: reason, Code: code, Args: args}
	if col >= 0 {
		le.Field = p.h.name[col]
	}
	p.f.Rejected = append(p.f.Rejected, le)
}

func (p *rowParser) parse(row record) {
	rec, h := row.fields, p.h
	if n := len(rec); n < h.width || n > h.width && !blank(rec[h.width:]) {
		p.reject(row.line, -1, "", fmt.Sprintf("has %d fields, want %d as the header on line %d", n, h.width, h.line),
			"field_count", strconv.Itoa(n), strconv.Itoa(h.width), strconv.Itoa(h.line))
		return
	}
	field := func(c int) string { return strings.TrimSpace(rec[h.idx[c]]) }

	typ := field(colType)
	code, err := strconv.Atoi(typ)
	switch {
	case typ == "":
		p.reject(row.line, colType, "", "is empty (want a record type from 0 to 6)", "type_empty")
		return
	case err != nil || code < 0 || code > 6 || len(typ) > 2:
		p.reject(row.line, colType, typ, "unknown record type (want 0 historic, 1 scan, 2 strip, 3 ketone, 4 insulin, 5 food or 6 note)",
			"type_unknown")
		return
	}
	serial := field(colSerial)
	if code >= len(kinds) {
		p.f.Skipped++
		p.noteDevice(serial, field(colDevice))
		return
	}
	k := kinds[code]

	ts := field(colTimestamp)
	st, ok := scanStamp(ts)
	var wall time.Time
	if ok {
		wall, ok = st.civil(p.order)
	}
	if !ok {
		p.reject(row.line, colTimestamp, ts, "not a date and time in the format "+layout(p.order, p.twelveHour),
			"timestamp_"+layoutCode(p.order, p.twelveHour))
		return
	}
	cands := cgm.LocalInstants(wall, p.loc)
	key := seqKey{serial, k.kind}
	if cands.Len() == 0 {
		p.reject(row.line, colTimestamp, ts, fmt.Sprintf("this local time does not exist in %s (the hour skipped when daylight saving time starts)", p.loc),
			"time_nonexistent", p.loc.String())
		return
	}
	t := cands.Resolve(p.prev[key], false)
	if cands.Len() > 1 {
		p.f.Ambiguous++
	}
	p.prev[key] = t

	raw := field(k.col)
	if raw == "" {
		p.reject(row.line, k.col, "", fmt.Sprintf("is empty: a %s record (type %d) needs a value", k.what, code),
			"value_empty", strconv.Itoa(code))
		return
	}
	v, flags, reason, rcode, rargs := parseValue(raw, p.h.unit)
	if reason != "" {
		p.reject(row.line, k.col, raw, reason, rcode, rargs...)
		return
	}
	rd := cgm.Reading{Time: t, Value: v, Unit: p.h.unit, Kind: k.kind, Flags: flags, Device: serial}
	if err := rd.Validate(time.Time{}); err != nil {
		col, value, reason, code, args := k.col, raw, err.Error(), "", []string(nil)
		var fe *cgm.FieldError
		if errors.As(err, &fe) {
			reason, code, args = fe.Reason, fe.Code, fe.Args
			switch fe.Field {
			case "time":
				col, value = colTimestamp, ts
			case "device":
				col, value = colSerial, serial
			}
		}
		p.reject(row.line, col, value, reason, code, args...)
		return
	}
	p.f.Readings = append(p.f.Readings, rd)
	p.f.Lines = append(p.f.Lines, row.line)
	p.noteDevice(serial, field(colDevice))
}

func (p *rowParser) noteDevice(serial, model string) {
	if _, ok := p.f.Devices[serial]; !ok && serial != "" {
		p.f.Devices[serial] = model
	}
}

// parseValue reads a glucose value written in unit u and applies the
// sensor limits (see "Values" in the package documentation). A non-empty
// reason means the value is rejected; code and args say why (Codes).
func parseValue(s string, u cgm.Unit) (v float64, flags cgm.Flag, reason, code string, args []string) {
	lo, hi := cgm.Limits(u)
	switch {
	case strings.EqualFold(s, "LO"):
		return lo, cgm.FlagLow, "", "", nil
	case strings.EqualFold(s, "HI"):
		return hi, cgm.FlagHigh, "", "", nil
	}
	v, flags, fe := cgm.ReadExportValue(s, u, "LibreView exports")
	if fe != nil {
		return 0, 0, fe.Reason, fe.Code, fe.Args
	}
	// LibreView writes LO at the floor (values pile up there in real exports;
	// Abbott does not document it): a value at a
	// limit is an out-of-range reading.
	switch {
	case v <= lo:
		flags |= cgm.FlagLow
	case v >= hi:
		flags |= cgm.FlagHigh
	}
	return v, flags, "", "", nil
}

// sortRejected orders rejected lines by line number (CSV errors are found
// while reading, row errors after).
func sortRejected(rs []*LineError) { cgm.SortLineErrors(rs) }

// Detect reports whether head, the beginning of a file (its first few
// kilobytes), looks like a LibreView export: among its first non-blank
// lines, a title line or a header (see [Parse]), in any language LibreView
// writes.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte(utf8BOM))
	if i := bytes.LastIndexByte(head, '\n'); i >= 0 && len(head) >= 4<<10 {
		head = head[:i+1] // only whole lines
	}
	cr := csv.NewReader(bytes.NewReader(head))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true
	for n := 0; n < maxPreamble; {
		rec, err := cr.Read()
		if err == io.EOF {
			return false
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return false
			}
			n++
			continue
		}
		if blank(rec) {
			continue
		}
		if isTitle(rec) || isHeader(rec) {
			return true
		}
		n++
	}
	return false
}
