// Package applehealth reads the export of Apple's Health app — the
// export.zip that "Export All Health Data" writes, or the export.xml inside
// it — into measurements of package cgm/vitals: steps, walking and running
// distance, active energy, heart rate, resting heart rate, blood pressure
// and sleep analysis. It depends on cgm and cgm/vitals only.
//
// # Format
//
// export.xml is an XML document with an internal DTD (HealthKit Export
// Version 8 to 11 in the files seen): a HealthData root holding ExportDate,
// Me and then, in any number, Record, Correlation, Workout, ActivitySummary
// and ClinicalRecord elements. A Record has the attributes type (a
// HealthKit type identifier), sourceName, sourceVersion, device (a
// description such as "<<HKDevice: 0x…>, name:Apple Watch, manufacturer:Apple
// Inc., model:Watch, hardware:Watch5,9, software:8.0>"), unit, creationDate,
// startDate, endDate and value; dates are written "2020-10-24 22:04:00
// +0100", local time with the offset in force when the export was made.
// A Correlation groups Records; the export's DTD says that "any Records that
// appear as children of a correlation also appear as top-level records in
// this document". Real exports read in the tests: an iPhone with Garmin
// Connect (export version 11, en_FR), an iPhone alone (version 8, en_US),
// an Apple Watch's heart rate (version 11, ko_KR).
//
// # What is read
//
// Record types (Apple Developer Documentation, HKQuantityTypeIdentifier and
// HKCategoryTypeIdentifier):
//
//   - HKQuantityTypeIdentifierStepCount (unit count) → vitals.Steps;
//   - HKQuantityTypeIdentifierDistanceWalkingRunning (m, km, mi, ft, yd,
//     cm) → vitals.Distance in metres;
//   - HKQuantityTypeIdentifierActiveEnergyBurned (kcal, Cal, kJ) →
//     vitals.ActiveEnergy in kcal;
//   - HKQuantityTypeIdentifierHeartRate and RestingHeartRate (count/min) →
//     vitals.HeartRate, vitals.RestingHeartRate;
//   - HKCorrelationTypeIdentifierBloodPressure: a Correlation whose Records
//     HKQuantityTypeIdentifierBloodPressureSystolic and …Diastolic (mmHg)
//     make one vitals.BloodPressure at the correlation's startDate. The
//     same Records at top level are the correlation's copies and are not
//     counted again; top-level systolic and diastolic Records of one
//     source at one instant that no correlation holds (older exports,
//     other apps) are paired into one measurement; a lone one is counted
//     in Stats.Unpaired and left out;
//   - HKCategoryTypeIdentifierSleepAnalysis with the values of
//     HKCategoryValueSleepAnalysis: InBed → SleepInBed, AsleepUnspecified
//     (and "Asleep", its name before iOS 16) → SleepAsleep, Awake →
//     SleepAwake, AsleepCore → SleepLight, AsleepDeep → SleepDeep,
//     AsleepREM → SleepREM.
//
// Every other element and type is skipped (counted in Stats), and so are
// sleep records without duration (the Health app writes in-bed marks with
// startDate = endDate). The source's
// class comes from the device's model (Watch, iPhone), else from a source
// name containing "Watch" or "iPhone"; the device text kept is the model and
// hardware ("Watch Watch5,9").
//
// # Streaming
//
// The file is read token by token with encoding/xml's Decoder, in constant
// memory whatever its size (Health exports reach gigabytes): each
// measurement is handed to the caller as it is read. Only top-level blood
// pressure Records are held until the end, to pair them.
//
// # Errors
//
// The first malformed element stops the reading with an *Error naming the
// file, the line and column, the element, the attribute and what was
// expected; the caller stores nothing (fsecgm vitals and fsecgm import exit
// with status 2).
package applehealth

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
)

// The HealthKit identifiers read.
const (
	TypeStepCount        = "HKQuantityTypeIdentifierStepCount"
	TypeDistance         = "HKQuantityTypeIdentifierDistanceWalkingRunning"
	TypeActiveEnergy     = "HKQuantityTypeIdentifierActiveEnergyBurned"
	TypeHeartRate        = "HKQuantityTypeIdentifierHeartRate"
	TypeRestingHeartRate = "HKQuantityTypeIdentifierRestingHeartRate"
	TypeSystolic         = "HKQuantityTypeIdentifierBloodPressureSystolic"
	TypeDiastolic        = "HKQuantityTypeIdentifierBloodPressureDiastolic"
	TypeSleepAnalysis    = "HKCategoryTypeIdentifierSleepAnalysis"
	TypeBloodPressure    = "HKCorrelationTypeIdentifierBloodPressure"
)

// DateLayout is how the export writes dates.
const DateLayout = "2006-01-02 15:04:05 -0700"

// Error is a malformed element of an export.
type Error struct {
	// File names the file.
	File string
	// Line and Column locate the element (1-based; the position at the end
	// of its start tag).
	Line, Column int
	// Element is the element's name and type ("Record HKQuantityTypeIdentifierHeartRate").
	Element string
	// Attr is the attribute at fault ("" for the element itself).
	Attr string
	// Value is the offending value as written (may be empty).
	Value string
	// Reason says what was expected.
	Reason string
}

// Error formats "file:line:col: <Element>: attr "value": reason".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Element != "" {
		fmt.Fprintf(&b, "<%s>: ", e.Element)
	}
	if e.Attr != "" {
		b.WriteString(e.Attr)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ErrNotHealthExport says the input is not a Health export at all.
var ErrNotHealthExport = errors.New("not an Apple Health export (export.zip or export.xml with a HealthData root)")

// Stats counts what a reading saw.
type Stats struct {
	// Records counts Record elements (also those inside correlations).
	Records int
	// Measurements counts the measurements handed to the caller, by kind.
	Measurements [vitals.MaxKind + 1]int
	// Correlations counts blood-pressure correlations.
	Correlations int
	// Skipped counts records of other types, by type.
	Skipped map[string]int
	// Unpaired counts top-level systolic or diastolic records without
	// their other half nor a correlation.
	Unpaired int
	// Outside counts measurements left out by Options.From/To.
	Outside int
	// Empty counts sleep records without duration (startDate = endDate:
	// the Health app writes such in-bed marks), left out.
	Empty int
}

// Total returns the number of measurements handed to the caller.
func (s *Stats) Total() int {
	n := 0
	for _, c := range s.Measurements {
		n += c
	}
	return n
}

// Options configure a reading. The zero value reads everything.
type Options struct {
	// From and To, when not zero, keep only the measurements that meet
	// [From, To) (the others are counted in Stats.Outside).
	From, To time.Time
}

// Emit receives each measurement read and the line of its element. An
// error stops the reading and is returned as it is.
type Emit func(m vitals.Measurement, line int) error

// ReadFile reads an export.zip (its apple_health_export/export.xml) or an
// export.xml.
func ReadFile(name string, o Options, emit Emit) (Stats, error) {
	if zr, err := zip.OpenReader(name); err == nil {
		defer zr.Close()
		return ReadZip(&zr.Reader, name, o, emit)
	}
	f, err := os.Open(name)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	return Read(f, name, o, emit)
}

// ReadZip reads the export.xml of an export.zip already opened.
func ReadZip(zr *zip.Reader, name string, o Options, emit Emit) (Stats, error) {
	f := FindInZip(zr)
	if f == nil {
		return Stats{}, fmt.Errorf("%s: %w: the archive holds no export.xml", name, ErrNotHealthExport)
	}
	rc, err := f.Open()
	if err != nil {
		return Stats{}, fmt.Errorf("%s: %s: %w", name, f.Name, err)
	}
	defer rc.Close()
	return Read(rc, name+"!"+f.Name, o, emit)
}

// FindInZip returns the export.xml of an export.zip (not export_cda.xml),
// or nil.
func FindInZip(zr *zip.Reader) *zip.File {
	for _, f := range zr.File {
		if path.Base(f.Name) == "export.xml" {
			return f
		}
	}
	return nil
}

// Detect reports whether the start of a file is a Health export.xml: an
// XML document whose DTD or root is HealthData.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if !bytes.HasPrefix(bytes.TrimSpace(head), []byte("<?xml")) && !bytes.HasPrefix(bytes.TrimSpace(head), []byte("<")) {
		return false
	}
	return bytes.Contains(head, []byte("<!DOCTYPE HealthData")) || bytes.Contains(head, []byte("<HealthData"))
}

// kindOf maps a quantity Record type to its kind.
func kindOf(typ string) (vitals.Kind, bool) {
	switch typ {
	case TypeStepCount:
		return vitals.Steps, true
	case TypeDistance:
		return vitals.Distance, true
	case TypeActiveEnergy:
		return vitals.ActiveEnergy, true
	case TypeHeartRate:
		return vitals.HeartRate, true
	case TypeRestingHeartRate:
		return vitals.RestingHeartRate, true
	}
	return 0, false
}

// sleepKind maps a HKCategoryValueSleepAnalysis value to its kind.
func sleepKind(v string) (vitals.Kind, bool) {
	switch strings.TrimPrefix(v, "HKCategoryValueSleepAnalysis") {
	case "InBed":
		return vitals.SleepInBed, true
	case "Asleep", "AsleepUnspecified":
		return vitals.SleepAsleep, true
	case "Awake":
		return vitals.SleepAwake, true
	case "AsleepCore":
		return vitals.SleepLight, true
	case "AsleepDeep":
		return vitals.SleepDeep, true
	case "AsleepREM":
		return vitals.SleepREM, true
	}
	return 0, false
}

// factor returns the multiplier from an export unit to the kind's unit.
func factor(k vitals.Kind, unit string) (float64, bool) {
	switch k {
	case vitals.Steps:
		return 1, unit == "count"
	case vitals.Distance:
		switch unit {
		case "m":
			return 1, true
		case "km":
			return 1000, true
		case "cm":
			return 0.01, true
		case "mi":
			return 1609.344, true // international mile
		case "ft":
			return 0.3048, true
		case "yd":
			return 0.9144, true
		}
	case vitals.ActiveEnergy:
		switch unit {
		case "kcal", "Cal":
			return 1, true
		case "kJ":
			return 1 / 4.184, true // thermochemical calorie
		case "cal":
			return 0.001, true
		}
	case vitals.HeartRate, vitals.RestingHeartRate:
		return 1, unit == "count/min"
	case vitals.BloodPressure:
		return 1, unit == "mmHg"
	}
	return 0, false
}

// units lists the units accepted for a kind, for messages.
func units(k vitals.Kind) string {
	switch k {
	case vitals.Steps:
		return "count"
	case vitals.Distance:
		return "m, km, cm, mi, ft or yd"
	case vitals.ActiveEnergy:
		return "kcal, Cal, cal or kJ"
	case vitals.HeartRate, vitals.RestingHeartRate:
		return "count/min"
	}
	return "mmHg"
}

// record holds the attributes of a Record or Correlation being read.
type record struct {
	typ, source, device, unit, value string
	start, end                       string
	line, col                        int
}

// bpHalf is a top-level systolic or diastolic record kept for pairing.
type bpHalf struct {
	source, device string
	class          vitals.Class
	at             time.Time
	value          float64
	systolic       bool
	line           int
}

type bpKey struct {
	source string
	at     int64
}

// reader is the state of one Read.
type reader struct {
	name  string
	d     *xml.Decoder
	o     Options
	emit  Emit
	stats Stats
	// the current correlation, when inside one
	inCorr   bool
	corr     record
	corrSys  float64
	corrDia  float64
	corrHas  [2]bool
	corrSeen map[bpKey]bool // correlations' (source, instant) read
	halves   []bpHalf
	strs     map[string]string // interned source and device texts
	depth    int
	sawRoot  bool
}

// Read reads an export.xml from r; name names it in errors.
func Read(r io.Reader, name string, o Options, emit Emit) (Stats, error) {
	rd := &reader{name: name, o: o, emit: emit, corrSeen: map[bpKey]bool{}, strs: map[string]string{}}
	rd.stats.Skipped = map[string]int{}
	rd.d = xml.NewDecoder(bufio.NewReaderSize(r, 256<<10))
	rd.d.Strict = true
	if err := rd.run(); err != nil {
		return rd.stats, err
	}
	return rd.stats, nil
}

func (rd *reader) fail(rec *record, elem, attr, value, reason string) error {
	line, col := rd.d.InputPos()
	if rec != nil {
		line, col = rec.line, rec.col
	}
	return &Error{File: rd.name, Line: line, Column: col, Element: elem, Attr: attr, Value: value, Reason: reason}
}

func (rd *reader) run() error {
	for {
		tok, err := rd.d.Token()
		if err == io.EOF {
			if !rd.sawRoot {
				return fmt.Errorf("%s: %w", rd.name, ErrNotHealthExport)
			}
			if rd.depth != 0 {
				return rd.fail(nil, "", "", "", "the document ends inside an element (a truncated export?)")
			}
			return rd.pairHalves()
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				msg := "malformed XML: " + se.Msg
				if se.Msg == "unexpected EOF" {
					msg = "malformed XML: the file ends inside an element (a truncated export?)"
				}
				return &Error{File: rd.name, Line: se.Line, Reason: msg}
			}
			line, col := rd.d.InputPos()
			return &Error{File: rd.name, Line: line, Column: col, Reason: "reading the XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			rd.depth++
			if err := rd.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			rd.depth--
			if t.Name.Local == "Correlation" && rd.inCorr {
				if err := rd.endCorrelation(); err != nil {
					return err
				}
			}
		}
	}
}

func (rd *reader) start(t xml.StartElement) error {
	if rd.depth == 1 {
		if t.Name.Local != "HealthData" {
			return fmt.Errorf("%s: %w: the root element is <%s>", rd.name, ErrNotHealthExport, t.Name.Local)
		}
		rd.sawRoot = true
		return nil
	}
	switch t.Name.Local {
	case "Record":
		if rd.depth != 2 && !(rd.depth == 3 && rd.inCorr) {
			return nil // records nested elsewhere (none in the DTD)
		}
		rd.stats.Records++
		return rd.record(rd.attrs(t))
	case "Correlation":
		if rd.depth != 2 {
			return nil
		}
		rec := rd.attrs(t)
		if rec.typ != TypeBloodPressure {
			rd.stats.Skipped[rec.typ]++
			return nil
		}
		rd.inCorr, rd.corr, rd.corrHas = true, rec, [2]bool{}
	}
	return nil
}

func (rd *reader) attrs(t xml.StartElement) record {
	var rec record
	for _, a := range t.Attr {
		switch a.Name.Local {
		case "type":
			rec.typ = a.Value
		case "sourceName":
			rec.source = a.Value
		case "device":
			rec.device = a.Value
		case "unit":
			rec.unit = a.Value
		case "value":
			rec.value = a.Value
		case "startDate":
			rec.start = a.Value
		case "endDate":
			rec.end = a.Value
		}
	}
	rec.line, rec.col = rd.d.InputPos()
	return rec
}

// intern returns a shared copy of s.
func (rd *reader) intern(s string) string {
	if v, ok := rd.strs[s]; ok {
		return v
	}
	if len(rd.strs) < 4096 {
		rd.strs[s] = s
	}
	return s
}

// deviceOf returns the class and short device text of a record.
func (rd *reader) deviceOf(source, device string) (vitals.Class, string) {
	model, hardware := field(device, "model:"), field(device, "hardware:")
	class := vitals.ClassOther
	switch {
	case strings.HasPrefix(model, "Watch"):
		class = vitals.ClassWatch
	case strings.HasPrefix(model, "iPhone"):
		class = vitals.ClassPhone
	case model == "" && strings.Contains(source, "Watch"):
		class = vitals.ClassWatch
	case model == "" && strings.Contains(source, "iPhone"):
		class = vitals.ClassPhone
	}
	text := strings.TrimSpace(model + " " + hardware)
	if len(text) > vitals.MaxDeviceLen {
		text = text[:vitals.MaxDeviceLen]
	}
	return class, rd.intern(text)
}

// field returns the value of "key:value" in an HKDevice description, whose
// fields are separated by ", " (a value may hold a comma: hardware:iPhone10,4).
func field(device, key string) string {
	i := strings.Index(device, key)
	if i < 0 {
		return ""
	}
	v := device[i+len(key):]
	if j := strings.Index(v, ", "); j >= 0 {
		v = v[:j]
	}
	return strings.TrimSpace(strings.TrimSuffix(v, ">"))
}

func (rd *reader) date(rec *record, elem, attr, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, rd.fail(rec, elem, attr, "", "is missing")
	}
	t, err := parseDate(v)
	if err != nil {
		return time.Time{}, rd.fail(rec, elem, attr, v, "want a date such as 2020-10-24 22:04:00 +0100")
	}
	return t, nil
}

// parseDate reads "2006-01-02 15:04:05 -0700" without time.Parse's
// generality (it is the hottest call of a reading); anything else is an
// error.
func parseDate(s string) (time.Time, error) {
	if len(s) != 25 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || s[19] != ' ' ||
		(s[20] != '+' && s[20] != '-') {
		return time.Parse(DateLayout, s) // its error, or a form it accepts
	}
	n := func(i, w int) (int, bool) {
		v := 0
		for j := i; j < i+w; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := n(0, 4)
	mo, ok2 := n(5, 2)
	d, ok3 := n(8, 2)
	h, ok4 := n(11, 2)
	mi, ok5 := n(14, 2)
	se, ok6 := n(17, 2)
	oh, ok7 := n(21, 2)
	om, ok8 := n(23, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 || oh > 14 || om > 59 {
		return time.Parse(DateLayout, s)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d { // 31 April
		return time.Parse(DateLayout, s)
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if s[20] == '+' {
		return t.Add(-off), nil
	}
	return t.Add(off), nil
}

func (rd *reader) number(rec *record, elem string) (float64, error) {
	if rec.value == "" {
		return 0, rd.fail(rec, elem, "value", "", "is missing")
	}
	v, err := strconv.ParseFloat(rec.value, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, rd.fail(rec, elem, "value", rec.value, "want a number")
	}
	return v, nil
}

// record reads a Record.
func (rd *reader) record(rec record) error {
	elem := "Record " + rec.typ
	switch rec.typ {
	case TypeSystolic, TypeDiastolic:
		return rd.bpRecord(rec, elem)
	case TypeSleepAnalysis:
		k, ok := sleepKind(rec.value)
		if !ok {
			return rd.fail(&rec, elem, "value", rec.value, "want a HKCategoryValueSleepAnalysis value (InBed, AsleepUnspecified, Awake, AsleepCore, AsleepDeep, AsleepREM)")
		}
		return rd.interval(rec, elem, k, 0)
	}
	k, ok := kindOf(rec.typ)
	if !ok {
		if rec.typ == "" {
			return rd.fail(&rec, "Record", "type", "", "is missing")
		}
		rd.stats.Skipped[rd.intern(rec.typ)]++
		return nil
	}
	f, ok := factor(k, rec.unit)
	if !ok {
		return rd.fail(&rec, elem, "unit", rec.unit, "want "+units(k))
	}
	v, err := rd.number(&rec, elem)
	if err != nil {
		return err
	}
	return rd.interval(rec, elem, k, v*f)
}

// interval reads the dates and source of a record of kind k and value v
// and hands the measurement over.
func (rd *reader) interval(rec record, elem string, k vitals.Kind, v float64) error {
	start, err := rd.date(&rec, elem, "startDate", rec.start)
	if err != nil {
		return err
	}
	end, err := rd.date(&rec, elem, "endDate", rec.end)
	if err != nil {
		return err
	}
	if rec.source == "" {
		return rd.fail(&rec, elem, "sourceName", "", "is missing")
	}
	class, device := rd.deviceOf(rec.source, rec.device)
	if k.Sleep() && end.Equal(start) {
		rd.stats.Empty++
		return nil
	}
	m := vitals.Measurement{Kind: k, Start: start, End: end, Value: v, Source: rd.intern(truncate(rec.source)), Class: class, Device: device}
	if k.Instant() && k != vitals.HeartRate {
		m.End = m.Start
	}
	return rd.hand(m, &rec, elem)
}

func truncate(s string) string {
	if len(s) <= vitals.MaxSourceLen {
		return s
	}
	cut := vitals.MaxSourceLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}

// hand validates a measurement (without a clock: dates in the future are
// the store's to judge) and gives it to the caller.
func (rd *reader) hand(m vitals.Measurement, rec *record, elem string) error {
	m = m.Normalize()
	if err := m.Validate(time.Time{}); err != nil {
		attr, reason := "", err.Error()
		var f *cgm.FieldError
		if errors.As(err, &f) {
			reason = f.Reason
			switch f.Field {
			case "start":
				attr = "startDate"
			case "end":
				attr = "endDate"
			case "value", "value2":
				attr = "value"
			case "source":
				attr = "sourceName"
			case "device":
				attr = "device"
			}
			return rd.fail(rec, elem, attr, f.Value, reason)
		}
		return rd.fail(rec, elem, attr, "", reason)
	}
	if !rd.o.From.IsZero() || !rd.o.To.IsZero() {
		if (!rd.o.To.IsZero() && !m.Start.Before(rd.o.To)) || (!rd.o.From.IsZero() && m.End.Before(rd.o.From)) ||
			(!rd.o.From.IsZero() && m.End.Equal(rd.o.From) && m.End.After(m.Start)) {
			rd.stats.Outside++
			return nil
		}
	}
	rd.stats.Measurements[m.Kind]++
	return rd.emit(m, rec.line)
}

// bpRecord reads a systolic or diastolic Record: inside a correlation it is
// half of its measurement; at top level it is kept for pairing.
func (rd *reader) bpRecord(rec record, elem string) error {
	if rec.unit != "mmHg" {
		return rd.fail(&rec, elem, "unit", rec.unit, "want mmHg")
	}
	v, err := rd.number(&rec, elem)
	if err != nil {
		return err
	}
	sys := rec.typ == TypeSystolic
	if rd.inCorr && rd.depth == 3 {
		i := 1
		if sys {
			i = 0
			rd.corrSys = v
		} else {
			rd.corrDia = v
		}
		if rd.corrHas[i] {
			return rd.fail(&rec, elem, "type", rec.typ, "the blood-pressure correlation holds two of it")
		}
		rd.corrHas[i] = true
		return nil
	}
	at, err := rd.date(&rec, elem, "startDate", rec.start)
	if err != nil {
		return err
	}
	if rec.source == "" {
		return rd.fail(&rec, elem, "sourceName", "", "is missing")
	}
	class, device := rd.deviceOf(rec.source, rec.device)
	rd.halves = append(rd.halves, bpHalf{source: rd.intern(truncate(rec.source)), device: device, class: class, at: at, value: v, systolic: sys, line: rec.line})
	return nil
}

// endCorrelation hands over the blood pressure of a correlation.
func (rd *reader) endCorrelation() error {
	rec := rd.corr
	rd.inCorr = false
	rd.stats.Correlations++
	elem := "Correlation " + rec.typ
	if !rd.corrHas[0] || !rd.corrHas[1] {
		return rd.fail(&rec, elem, "", "", "a blood-pressure correlation needs a systolic and a diastolic Record")
	}
	at, err := rd.date(&rec, elem, "startDate", rec.start)
	if err != nil {
		return err
	}
	if rec.source == "" {
		return rd.fail(&rec, elem, "sourceName", "", "is missing")
	}
	class, device := rd.deviceOf(rec.source, rec.device)
	src := rd.intern(truncate(rec.source))
	rd.corrSeen[bpKey{src, at.UnixNano()}] = true
	m := vitals.Measurement{Kind: vitals.BloodPressure, Start: at, End: at, Value: rd.corrSys, Value2: rd.corrDia, Source: src, Class: class, Device: device}
	return rd.hand(m, &rec, elem)
}

// pairHalves pairs the top-level systolic and diastolic records no
// correlation held, at the end of the file.
func (rd *reader) pairHalves() error {
	type pair struct {
		sys, dia *bpHalf
	}
	pairs := map[bpKey]*pair{}
	var order []bpKey
	for i := range rd.halves {
		h := &rd.halves[i]
		k := bpKey{h.source, h.at.UnixNano()}
		if rd.corrSeen[k] {
			continue // the correlation's own copy
		}
		p := pairs[k]
		if p == nil {
			p = &pair{}
			pairs[k] = p
			order = append(order, k)
		}
		if h.systolic {
			p.sys = h
		} else {
			p.dia = h
		}
	}
	for _, k := range order {
		p := pairs[k]
		if p.sys == nil || p.dia == nil {
			rd.stats.Unpaired++
			continue
		}
		rec := record{line: p.sys.line}
		m := vitals.Measurement{Kind: vitals.BloodPressure, Start: p.sys.at, End: p.sys.at, Value: p.sys.value, Value2: p.dia.value,
			Source: p.sys.source, Class: p.sys.class, Device: p.sys.device}
		if err := rd.hand(m, &rec, "Record "+TypeSystolic); err != nil {
			return err
		}
	}
	return nil
}
