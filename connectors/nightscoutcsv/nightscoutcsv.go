// Package nightscoutcsv reads the CSV that Nightscout data exporters write
// from a site's entries (the "# CGM ENTRIES" section, and the sections
// that follow it, such as "# TREATMENTS"), into glucose readings.
//
// # Layout
//
//	# CGM ENTRIES
//	Date,Time,Glucose (mg/dL),Type,Device,Trend,ID
//	"4/7/2026","7:59:42 PM","129","sgv","","Flat","D6B65522-…"
//	…
//	# TREATMENTS (Insulin, Carbs, Exercise)
//	Date,Time,Event Type,Insulin (U),Carbs (g),Notes,ID
//	…
//
// A line starting with "#" opens a section; the line after it is the
// section's header. Only the CGM entries section holds glucose: its rows
// of Type sgv become cgm.Historic readings, mbg cgm.Strip readings (the
// entry types of Nightscout's API); other types, and the rows of the other
// sections, are counted in [File.Skipped]. The glucose column names its
// unit, "(mg/dL)" or "(mmol/L)" (exporters convert to mmol/L on request).
//
// Date and Time are the local time of the computer that exported the file,
// without an offset: they are read in [Options.Location], the patient's
// zone. The date order is decided once for the file: month first when the
// times have AM/PM (the US format these exporters write with), else from
// the evidence of the dates (a first number above 12: day first; a second
// above 12: month first), else day first. A time in the hour skipped when
// daylight saving time starts is a rejected row; one in the repeated hour
// is resolved from the order of the rows (newest first, as the exporters
// write them, unless the rows ascend: cgm.Instants.Resolve). Values below
// 40 mg/dL are stored at 40 with cgm.FlagLow, above 500 at 500 with
// cgm.FlagHigh (cgm.Normalize); Trend is a Nightscout direction
// (nightscout.Trend).
//
// [Parse] fails only when the input has no CGM entries section; every bad
// row is reported in [File.Rejected] as a *cgm.LineError, and the other
// rows are still read.
package nightscoutcsv

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
	"fsecgm/connectors/nightscout"
)

// Options tell [Parse] what the file itself does not say.
type Options struct {
	// Location is the patient's time zone. Required.
	Location *time.Location
}

// File is the content of an exporter's CSV.
type File struct {
	// Unit is the glucose unit of the entries section.
	Unit cgm.Unit
	// Readings are the sgv (historic) and mbg (strip) readings, in file
	// order.
	Readings []cgm.Reading
	// Lines holds the line of each reading.
	Lines []int
	// Skipped counts the rows that hold no glucose reading (other entry
	// types, the rows of the other sections).
	Skipped int
	// Ambiguous counts the readings in an hour repeated at the end of
	// daylight saving time.
	Ambiguous int
	// Rejected lists every row that could not be used, in file order.
	Rejected []*cgm.LineError
	// Rows counts the rows of every section, headers excluded.
	Rows int
}

// entriesTitle is the lower-case beginning of the entries section's line.
const entriesTitle = "# cgm entries"

// Detect reports whether head, the beginning of a file, starts with the
// entries section of an exporter's CSV.
func Detect(head []byte) bool {
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), []byte("\n"))
		head = rest
		s := strings.ToLower(strings.TrimSpace(string(line)))
		if s == "" {
			continue
		}
		return strings.HasPrefix(s, entriesTitle)
	}
	return false
}

// The columns of the entries section.
const (
	colDate = iota
	colTime
	colGlucose
	colType
	colDevice
	colTrend
	numCols
)

var columnPrefixes = [numCols]string{colDate: "date", colTime: "time", colGlucose: "glucose", colType: "type",
	colDevice: "device", colTrend: "trend"}

type row struct {
	line   int
	fields []string
}

// Parse reads an exporter's CSV. name is the file name used in messages.
func Parse(r io.Reader, name string, opt Options) (*File, error) {
	if opt.Location == nil {
		return nil, errors.New("nightscoutcsv: Options.Location is required (the patient's IANA time zone)")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\xEF\xBB\xBF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	f := &File{}
	var (
		idx     [numCols]int
		names   []string
		section string // "entries", "other" or ""
		header  bool   // the next row is a section's header
		rows    []row
		found   bool
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("nightscoutcsv: read %s: %w", name, err)
			}
			f.Rows++
			f.Rejected = append(f.Rejected, &cgm.LineError{File: name, Line: pe.StartLine,
				Reason: fmt.Sprintf("malformed CSV (line %d, column %d): %v", pe.Line, pe.Column, pe.Err)})
			continue
		}
		line, _ := cr.FieldPos(0)
		first := strings.TrimSpace(rec[0])
		if strings.HasPrefix(first, "#") {
			section, header = "other", true
			if strings.HasPrefix(strings.ToLower(first), entriesTitle) {
				section, found = "entries", true
			}
			continue
		}
		if blank(rec) {
			continue
		}
		switch {
		case header && section == "entries":
			header = false
			names = trimAll(rec)
			for c := range idx {
				idx[c] = -1
			}
			for i, n := range names {
				low := strings.ToLower(n)
				for c, p := range columnPrefixes {
					if idx[c] < 0 && (low == p || strings.HasPrefix(low, p+" (")) {
						idx[c] = i
					}
				}
			}
			if idx[colDate] < 0 || idx[colTime] < 0 || idx[colGlucose] < 0 || idx[colType] < 0 {
				return nil, fmt.Errorf("nightscoutcsv: %w", &cgm.LineError{File: name, Line: line,
					Reason: "the CGM entries header lacks Date, Time, Glucose or Type"})
			}
			switch g := strings.ToLower(names[idx[colGlucose]]); {
			case strings.Contains(g, "mmol"):
				f.Unit = cgm.MmolL
			case strings.Contains(g, "mg/dl"):
				f.Unit = cgm.MgDL
			default:
				return nil, fmt.Errorf("nightscoutcsv: %w", &cgm.LineError{File: name, Line: line, Field: names[idx[colGlucose]],
					Reason: "does not name a unit (want Glucose (mg/dL) or (mmol/L))"})
			}
		case header:
			header = false
		case section == "entries":
			f.Rows++
			rows = append(rows, row{line, rec})
		default:
			f.Rows++
			f.Skipped++
		}
	}
	if !found || f.Unit == 0 {
		return nil, fmt.Errorf("nightscoutcsv: %s: no \"# CGM ENTRIES\" section with its header: not a Nightscout exporter's CSV?", name)
	}
	p := parser{f: f, name: name, loc: opt.Location, idx: idx, names: names, prev: map[cgm.Kind]time.Time{}}
	p.order = dateOrder(rows, idx)
	for _, rw := range rows {
		p.parse(rw)
	}
	cgm.SortLineErrors(f.Rejected)
	return f, nil
}

type order uint8

const (
	dayFirst order = iota
	monthFirst
)

// dateOrder decides the date order of the file (see the package
// documentation).
func dateOrder(rows []row, idx [numCols]int) order {
	var day, month bool
	for _, rw := range rows {
		if idx[colTime] < len(rw.fields) {
			ts := strings.ToUpper(strings.TrimSpace(rw.fields[idx[colTime]]))
			if strings.HasSuffix(ts, "AM") || strings.HasSuffix(ts, "PM") {
				return monthFirst
			}
		}
		if idx[colDate] < len(rw.fields) {
			if n, ok := dateParts(rw.fields[idx[colDate]]); ok {
				day = day || n[0] > 12 && n[1] <= 12
				month = month || n[1] > 12 && n[0] <= 12
			}
		}
	}
	if month && !day {
		return monthFirst
	}
	return dayFirst
}

func dateParts(s string) ([3]int, bool) {
	var n [3]int
	parts := strings.FieldsFunc(strings.TrimSpace(s), func(r rune) bool { return r == '/' || r == '-' || r == '.' })
	if len(parts) != 3 {
		return n, false
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return n, false
		}
		n[i] = v
	}
	return n, true
}

type parser struct {
	f        *File
	name     string
	loc      *time.Location
	idx      [numCols]int
	names    []string
	order    order
	prev     map[cgm.Kind]time.Time
	prevWall time.Time
	ordered  bool
	desc     bool
}

func (p *parser) field(rec []string, c int) string {
	if i := p.idx[c]; i >= 0 && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

func (p *parser) reject(line, col int, value, reason string) {
	le := &cgm.LineError{File: p.name, Line: line, Value: value, Reason: reason}
	if col >= 0 {
		le.Field = p.names[p.idx[col]]
	}
	p.f.Rejected = append(p.f.Rejected, le)
}

func (p *parser) parse(rw row) {
	var kind cgm.Kind
	switch strings.ToLower(p.field(rw.fields, colType)) {
	case "sgv":
		kind = cgm.Historic
	case "mbg":
		kind = cgm.Strip
	default:
		p.f.Skipped++
		return
	}
	ds, ts := p.field(rw.fields, colDate), p.field(rw.fields, colTime)
	wall, ok := p.civil(ds, ts)
	if !ok {
		layout := "DD/MM/YYYY"
		if p.order == monthFirst {
			layout = "MM/DD/YYYY"
		}
		p.reject(rw.line, colDate, ds+" "+ts, "not a date and time in the file's format ("+layout+" and h:mm:ss, with AM/PM or 24-hour)")
		return
	}
	if !p.ordered && !p.prevWall.IsZero() && !wall.Equal(p.prevWall) {
		p.ordered, p.desc = true, wall.Before(p.prevWall)
	}
	p.prevWall = wall
	cands := cgm.LocalInstants(wall, p.loc)
	if cands.Len() == 0 {
		p.reject(rw.line, colTime, ds+" "+ts, fmt.Sprintf("this local time does not exist in %s (the hour skipped when daylight saving time starts)", p.loc))
		return
	}
	t := cands.Resolve(p.prev[kind], !p.ordered || p.desc)
	p.prev[kind] = t
	raw := p.field(rw.fields, colGlucose)
	if strings.Count(raw, ",") == 1 && !strings.Contains(raw, ".") {
		raw = strings.Replace(raw, ",", ".", 1)
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		p.reject(rw.line, colGlucose, raw, "is not a number")
		return
	}
	val, flags, err := cgm.Normalize(v, p.f.Unit)
	if err != nil {
		p.reject(rw.line, colGlucose, raw, reason(err))
		return
	}
	rd := cgm.Reading{Time: t, Value: val, Unit: p.f.Unit, Kind: kind, Flags: flags, Trend: nightscout.Trend(p.field(rw.fields, colTrend))}
	if d := p.field(rw.fields, colDevice); len(d) <= 64 {
		rd.Device = d
	}
	if err := rd.Validate(time.Time{}); err != nil {
		p.reject(rw.line, colGlucose, raw, reason(err))
		return
	}
	if cands.Len() > 1 {
		p.f.Ambiguous++
	}
	p.f.Readings = append(p.f.Readings, rd)
	p.f.Lines = append(p.f.Lines, rw.line)
}

// civil reads a date in the file's order and a time h:mm[:ss] with an
// optional AM/PM.
func (p *parser) civil(date, clock string) (time.Time, bool) {
	n, ok := dateParts(date)
	if !ok {
		return time.Time{}, false
	}
	d, m, y := n[0], n[1], n[2]
	if p.order == monthFirst {
		d, m = n[1], n[0]
	}
	c := strings.ToUpper(strings.TrimSpace(clock))
	pm, am := strings.HasSuffix(c, "PM"), strings.HasSuffix(c, "AM")
	c = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(c, "PM"), "AM"))
	parts := strings.Split(c, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return time.Time{}, false
	}
	var hms [3]int
	for i, s := range parts {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return time.Time{}, false
		}
		hms[i] = v
	}
	h := hms[0]
	if am || pm {
		if h < 1 || h > 12 {
			return time.Time{}, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if y < 1000 || m < 1 || m > 12 || d < 1 || h > 23 || hms[1] > 59 || hms[2] > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, h, hms[1], hms[2], 0, time.UTC)
	return t, t.Day() == d
}

func reason(err error) string {
	var fe *cgm.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, s := range rec {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
