// Package takeout reads the activity, sleep and heart data of a Google
// Takeout archive — Fitbit's "Global Export Data" and Google Fit's "Daily
// activity metrics" — into measurements of package cgm/vitals. It depends
// on cgm and cgm/vitals only.
//
// # Formats read
//
// Fitbit, Takeout/Fitbit/Global Export Data/ (JSON arrays, one file per
// period, named TYPE-YYYY-MM-DD.json):
//
//   - steps-*.json: [{"dateTime": "03/07/20 05:00:00", "value": "12"}, …],
//     steps per minute → vitals.Steps over [dateTime, dateTime+1 min);
//   - heart_rate-*.json: [{"dateTime": "03/07/20 05:00:03", "value":
//     {"bpm": 70, "confidence": 2}}, …] → vitals.HeartRate;
//   - resting_heart_rate-*.json: [{"dateTime": "03/07/20 00:00:00",
//     "value": {"date": "03/07/20", "value": 61.2, "error": 8.2}}, …] →
//     vitals.RestingHeartRate at the start of that local day (a value of 0,
//     which Fitbit writes for days without an estimate, is left out);
//   - sleep-*.json: the sleep logs [{"logId", "dateOfSleep", "startTime":
//     "2020-03-06T23:41:00.000", "endTime", "type": "stages" or "classic",
//     "levels": {"data": [{"dateTime", "level", "seconds"}, …], "shortData":
//     […]}}, …]: startTime–endTime → vitals.SleepInBed; each level of data →
//     wake: SleepAwake, light: SleepLight, deep: SleepDeep, rem: SleepREM
//     (stages), asleep and restless: SleepAsleep, awake: SleepAwake
//     (classic), the values Fitbit's Web API documents for the two log
//     types (Sleep Log v1.2, "levels : data : level"); the short wakes of
//     shortData, which overlay the stages of data, are cut out of the
//     stages they fall in.
//
// The minute-level files (steps, heart rate) give times in UTC, the sleep
// logs in the wearer's local time without offset, read in the zone given;
// resting heart rate is per local date. Fitbit does not document these
// files: the structure is the one public parsers of real exports read
// (Fitbit's own "Export your account archive" README describes the folders,
// not the fields), and no real Takeout was available to the tests, which
// use files written to that structure. Fitbit's distance-*.json and
// calories-*.json are not read: their unit (distance) and meaning
// (calories include the basal rate, not only active energy) are not
// documented. The source is named "Fitbit" and ranked as a watch (a wrist
// device worn day and night).
//
// Google Fit, Takeout/Fit/Daily activity metrics/YYYY-MM-DD.csv: one CSV a
// day, a row per 15 minutes, columns named in the header ("Start time",
// "End time" as 00:15:00.000+01:00, "Step count", "Distance (m)", …),
// read by name: Step count → vitals.Steps and Distance (m) →
// vitals.Distance over the row's interval of the file's date. Its
// "Calories (kcal)" are total energy (basal included) and its heart-rate
// columns averages of the quarter, not samples: both are left out. The
// source is "Google Fit" (Google Fit already merges the phone's and the
// watch's counts), ranked with the other apps.
//
// # Errors
//
// A file that breaks its format stops the reading with an *Error naming the
// archive entry, the element (JSON) or line (CSV) and the field; the caller
// stores nothing. Files of other names are skipped.
package takeout

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
)

// The sources the measurements are credited to.
const (
	SourceFitbit    = "Fitbit"
	SourceGoogleFit = "Google Fit"
)

// Error is a malformed file of a Takeout.
type Error struct {
	// File names the file (the archive entry, or the path).
	File string
	// Entry is the JSON array element (0-based; -1 when not in one);
	// Line is the CSV line (1-based; 0 for JSON).
	Entry, Line int
	// Field names what is wrong ("dateTime", "value.bpm", "Step count").
	Field string
	// Value is the offending value (may be empty).
	Value string
	// Reason says what was expected.
	Reason string
}

// Error formats "file: entry 12: field "value": reason" or
// "file:line: field: reason".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	switch {
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d: ", e.Line)
	case e.Entry >= 0:
		fmt.Fprintf(&b, ": entry %d: ", e.Entry)
	default:
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ErrNotTakeout says the input holds no file this package reads.
var ErrNotTakeout = errors.New("no Fitbit Global Export Data (steps-, heart_rate-, resting_heart_rate-, sleep-*.json) nor Google Fit Daily activity metrics (YYYY-MM-DD.csv) found")

// Kind is a kind of Takeout file.
type Kind uint8

// The files read.
const (
	KindUnknown Kind = iota
	FitbitSteps
	FitbitHeartRate
	FitbitRestingHeartRate
	FitbitSleep
	GoogleFitDaily
)

var (
	fitbitName = regexp.MustCompile(`^(steps|heart_rate|resting_heart_rate|sleep)-\d{4}-\d{2}-\d{2}\.json$`)
	fitDayName = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})\.csv$`)
)

// KindOf tells which file a path is, by its name (and, for Google Fit, its
// folder "Daily activity metrics").
func KindOf(p string) Kind {
	p = filepath.ToSlash(p)
	base := path.Base(p)
	if m := fitbitName.FindStringSubmatch(base); m != nil {
		switch m[1] {
		case "steps":
			return FitbitSteps
		case "heart_rate":
			return FitbitHeartRate
		case "resting_heart_rate":
			return FitbitRestingHeartRate
		case "sleep":
			return FitbitSleep
		}
	}
	if fitDayName.MatchString(base) && strings.HasSuffix(path.Dir(p), "Daily activity metrics") {
		return GoogleFitDaily
	}
	return KindUnknown
}

// Options configure a reading.
type Options struct {
	// Location is the wearer's zone: sleep logs' local times and resting
	// heart rate's dates are read in it (Europe/Rome when nil).
	Location *time.Location
	// From and To, when not zero, keep only the measurements that meet
	// [From, To).
	From, To time.Time
}

// Emit receives each measurement with the place it was read (the file and
// the entry or line).
type Emit func(m vitals.Measurement, file string, entry int) error

// Stats counts what a reading saw.
type Stats struct {
	// Files counts the files read, by kind.
	Files map[Kind]int
	// Measurements counts the measurements handed over, by kind.
	Measurements [vitals.MaxKind + 1]int
	// Skipped counts entries left out: zero steps, zero resting rates.
	Skipped int
	// Outside counts measurements left out by Options.From/To.
	Outside int
}

// Total returns the number of measurements handed over.
func (s *Stats) Total() int {
	n := 0
	for _, c := range s.Measurements {
		n += c
	}
	return n
}

// ReadPath reads a Takeout: a .zip archive, a directory (walked), or one
// file of a kind KindOf knows.
func ReadPath(name string, o Options, emit Emit) (Stats, error) {
	st := Stats{Files: map[Kind]int{}}
	fi, err := os.Stat(name)
	if err != nil {
		return st, err
	}
	r := &reader{o: o, emit: emit, st: &st}
	if r.o.Location == nil {
		if r.o.Location, err = cgm.Zone("Europe/Rome"); err != nil {
			return st, err
		}
	}
	switch {
	case fi.IsDir():
		var files []string
		err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && KindOf(p) != KindUnknown {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return st, err
		}
		slices.Sort(files)
		for _, p := range files {
			if err := r.openFile(p); err != nil {
				return st, err
			}
		}
	case strings.EqualFold(filepath.Ext(name), ".zip"):
		zr, err := zip.OpenReader(name)
		if err != nil {
			return st, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		return ReadZip(&zr.Reader, name, o, emit)
	default:
		if KindOf(name) == KindUnknown {
			return st, fmt.Errorf("%s: %w", name, ErrNotTakeout)
		}
		if err := r.openFile(name); err != nil {
			return st, err
		}
	}
	if st.sum() == 0 {
		return st, fmt.Errorf("%s: %w", name, ErrNotTakeout)
	}
	return st, nil
}

func (s *Stats) sum() int {
	n := 0
	for _, c := range s.Files {
		n += c
	}
	return n
}

// ReadZip reads the files of a Takeout archive already opened; name names
// it in messages.
func ReadZip(zr *zip.Reader, name string, o Options, emit Emit) (Stats, error) {
	st := Stats{Files: map[Kind]int{}}
	r := &reader{o: o, emit: emit, st: &st}
	if r.o.Location == nil {
		var err error
		if r.o.Location, err = cgm.Zone("Europe/Rome"); err != nil {
			return st, err
		}
	}
	var files []*zip.File
	for _, f := range zr.File {
		if KindOf(f.Name) != KindUnknown {
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			return st, fmt.Errorf("%s: %s: %w", name, f.Name, err)
		}
		err = r.read(rc, name+"!"+f.Name, KindOf(f.Name))
		rc.Close()
		if err != nil {
			return st, err
		}
	}
	if st.sum() == 0 {
		return st, fmt.Errorf("%s: %w", name, ErrNotTakeout)
	}
	return st, nil
}

// Read reads one file of kind k from r; name names it.
func Read(r io.Reader, name string, k Kind, o Options, emit Emit) (Stats, error) {
	st := Stats{Files: map[Kind]int{}}
	rd := &reader{o: o, emit: emit, st: &st}
	if rd.o.Location == nil {
		rd.o.Location = time.UTC
	}
	return st, rd.read(r, name, k)
}

// Detect reports whether a zip archive holds Takeout files of the kinds
// this package reads.
func Detect(zr *zip.Reader) bool {
	for _, f := range zr.File {
		if KindOf(f.Name) != KindUnknown {
			return true
		}
	}
	return false
}

// DetectDir reports whether a folder holds Takeout files of the kinds this
// package reads.
func DetectDir(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && KindOf(p) != KindUnknown {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

type reader struct {
	o    Options
	emit Emit
	st   *Stats
}

func (r *reader) openFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.read(f, p, KindOf(p))
}

func (r *reader) read(in io.Reader, name string, k Kind) error {
	r.st.Files[k]++
	br := bufio.NewReaderSize(in, 64<<10)
	switch k {
	case FitbitSteps, FitbitHeartRate, FitbitRestingHeartRate, FitbitSleep:
		return r.fitbit(br, name, k)
	case GoogleFitDaily:
		return r.googleFit(br, name)
	}
	return fmt.Errorf("%s: %w", name, ErrNotTakeout)
}

// hand validates a measurement and gives it over.
func (r *reader) hand(m vitals.Measurement, file string, entry, line int, field string) error {
	m = m.Normalize()
	if err := m.Validate(time.Time{}); err != nil {
		var fe *cgm.FieldError
		reason, value := err.Error(), ""
		if errors.As(err, &fe) {
			reason, value = fe.Reason, fe.Value
		}
		return &Error{File: file, Entry: entry, Line: line, Field: field, Value: value, Reason: reason}
	}
	if (!r.o.To.IsZero() && !m.Start.Before(r.o.To)) || (!r.o.From.IsZero() && m.End.Before(r.o.From)) ||
		(!r.o.From.IsZero() && m.End.Equal(r.o.From) && m.End.After(m.Start)) {
		r.st.Outside++
		return nil
	}
	r.st.Measurements[m.Kind]++
	at := entry
	if line > 0 {
		at = line
	}
	return r.emit(m, file, at)
}

// fitbitTime is the layout of the minute-level files' dateTime.
const fitbitTime = "01/02/06 15:04:05"

// fitbitLocal is the layout of the sleep logs' times.
const fitbitLocal = "2006-01-02T15:04:05.000"

// fitbit streams a JSON array of a Fitbit file, one element at a time.
func (r *reader) fitbit(in io.Reader, name string, k Kind) error {
	dec := json.NewDecoder(in)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return &Error{File: name, Entry: -1, Reason: "want a JSON array of entries"}
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &Error{File: name, Entry: i, Reason: "malformed JSON: " + jsonProblem(err)}
		}
		var err error
		switch k {
		case FitbitSteps:
			err = r.fitbitSteps(raw, name, i)
		case FitbitHeartRate:
			err = r.fitbitHeartRate(raw, name, i)
		case FitbitRestingHeartRate:
			err = r.fitbitResting(raw, name, i)
		case FitbitSleep:
			err = r.fitbitSleep(raw, name, i)
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return &Error{File: name, Entry: -1, Reason: "malformed JSON: the array does not end (a truncated file?)"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{File: name, Entry: -1, Reason: "malformed JSON: data after the array"}
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (byte %d)", se.Error(), se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s must not be a JSON %s", te.Field, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the file ends inside an entry (a truncated file?)"
	}
	return err.Error()
}

func (r *reader) utc(name string, i int, s string) (time.Time, error) {
	t, err := time.Parse(fitbitTime, s)
	if err != nil {
		return time.Time{}, &Error{File: name, Entry: i, Field: "dateTime", Value: s, Reason: "want MM/DD/YY hh:mm:ss"}
	}
	return t, nil
}

// decodeEntry decodes an element into v, naming the element on error.
func decodeEntry(raw json.RawMessage, v any, name string, i int) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{File: name, Entry: i, Reason: jsonProblem(err)}
	}
	return nil
}

// number reads a JSON number or a number in a string ("12").
func number(raw json.RawMessage) (float64, bool) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	v, err := strconv.ParseFloat(string(n), 64)
	return v, err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

func (r *reader) fitbitSteps(raw json.RawMessage, name string, i int) error {
	var e struct {
		DateTime string          `json:"dateTime"`
		Value    json.RawMessage `json:"value"`
	}
	if err := decodeEntry(raw, &e, name, i); err != nil {
		return err
	}
	t, err := r.utc(name, i, e.DateTime)
	if err != nil {
		return err
	}
	v, ok := number(e.Value)
	if !ok {
		return &Error{File: name, Entry: i, Field: "value", Value: string(e.Value), Reason: "want a number of steps"}
	}
	if v == 0 {
		r.st.Skipped++
		return nil
	}
	return r.hand(vitals.Measurement{Kind: vitals.Steps, Start: t, End: t.Add(time.Minute), Value: v,
		Source: SourceFitbit, Class: vitals.ClassWatch}, name, i, 0, "value")
}

func (r *reader) fitbitHeartRate(raw json.RawMessage, name string, i int) error {
	var e struct {
		DateTime string `json:"dateTime"`
		Value    struct {
			BPM json.RawMessage `json:"bpm"`
		} `json:"value"`
	}
	if err := decodeEntry(raw, &e, name, i); err != nil {
		return err
	}
	t, err := r.utc(name, i, e.DateTime)
	if err != nil {
		return err
	}
	v, ok := number(e.Value.BPM)
	if !ok {
		return &Error{File: name, Entry: i, Field: "value.bpm", Value: string(e.Value.BPM), Reason: "want a heart rate"}
	}
	return r.hand(vitals.Measurement{Kind: vitals.HeartRate, Start: t, End: t, Value: v,
		Source: SourceFitbit, Class: vitals.ClassWatch}, name, i, 0, "value.bpm")
}

func (r *reader) fitbitResting(raw json.RawMessage, name string, i int) error {
	var e struct {
		DateTime string `json:"dateTime"`
		Value    struct {
			Date  string          `json:"date"`
			Value json.RawMessage `json:"value"`
		} `json:"value"`
	}
	if err := decodeEntry(raw, &e, name, i); err != nil {
		return err
	}
	v, ok := number(e.Value.Value)
	if !ok {
		return &Error{File: name, Entry: i, Field: "value.value", Value: string(e.Value.Value), Reason: "want a resting heart rate"}
	}
	if v == 0 {
		r.st.Skipped++
		return nil
	}
	d, err := time.ParseInLocation("01/02/06", e.Value.Date, r.o.Location)
	if err != nil {
		return &Error{File: name, Entry: i, Field: "value.date", Value: e.Value.Date, Reason: "want MM/DD/YY"}
	}
	return r.hand(vitals.Measurement{Kind: vitals.RestingHeartRate, Start: d, End: d, Value: v,
		Source: SourceFitbit, Class: vitals.ClassWatch}, name, i, 0, "value.value")
}

// sleepLevels maps Fitbit's sleep levels to kinds.
var sleepLevels = map[string]vitals.Kind{
	"wake": vitals.SleepAwake, "light": vitals.SleepLight, "deep": vitals.SleepDeep, "rem": vitals.SleepREM, // stages
	"asleep": vitals.SleepAsleep, "restless": vitals.SleepAsleep, "awake": vitals.SleepAwake, // classic
}

type fitbitLevel struct {
	DateTime string          `json:"dateTime"`
	Level    string          `json:"level"`
	Seconds  json.RawMessage `json:"seconds"`
}

func (r *reader) fitbitSleep(raw json.RawMessage, name string, i int) error {
	var e struct {
		StartTime string `json:"startTime"`
		EndTime   string `json:"endTime"`
		Levels    struct {
			Data      []fitbitLevel `json:"data"`
			ShortData []fitbitLevel `json:"shortData"`
		} `json:"levels"`
	}
	if err := decodeEntry(raw, &e, name, i); err != nil {
		return err
	}
	local := func(field, s string) (time.Time, error) {
		t, err := time.ParseInLocation(fitbitLocal, s, r.o.Location)
		if err != nil {
			return time.Time{}, &Error{File: name, Entry: i, Field: field, Value: s, Reason: "want a local time such as 2020-03-06T23:41:00.000"}
		}
		return t, nil
	}
	start, err := local("startTime", e.StartTime)
	if err != nil {
		return err
	}
	end, err := local("endTime", e.EndTime)
	if err != nil {
		return err
	}
	if err := r.hand(vitals.Measurement{Kind: vitals.SleepInBed, Start: start, End: end, Source: SourceFitbit, Class: vitals.ClassWatch},
		name, i, 0, "endTime"); err != nil {
		return err
	}
	type span struct {
		kind     vitals.Kind
		from, to time.Time
	}
	levels := func(field string, ls []fitbitLevel) ([]span, error) {
		out := make([]span, 0, len(ls))
		for j, l := range ls {
			f := fmt.Sprintf("levels.%s[%d]", field, j)
			k, ok := sleepLevels[l.Level]
			if !ok {
				return nil, &Error{File: name, Entry: i, Field: f + ".level", Value: l.Level, Reason: "want wake, light, deep, rem, asleep, restless or awake"}
			}
			t, err := local(f+".dateTime", l.DateTime)
			if err != nil {
				return nil, err
			}
			secs, ok := number(l.Seconds)
			if !ok || secs <= 0 || secs > vitals.MaxInterval.Seconds() {
				return nil, &Error{File: name, Entry: i, Field: f + ".seconds", Value: string(l.Seconds), Reason: "want a positive number of seconds"}
			}
			out = append(out, span{k, t, t.Add(time.Duration(secs * float64(time.Second)))})
		}
		return out, nil
	}
	data, err := levels("data", e.Levels.Data)
	if err != nil {
		return err
	}
	short, err := levels("shortData", e.Levels.ShortData)
	if err != nil {
		return err
	}
	// The short wakes overlay the stages: cut them out, then add them.
	for _, w := range short {
		var cut []span
		for _, s := range data {
			if !w.from.Before(s.to) || !s.from.Before(w.to) {
				cut = append(cut, s)
				continue
			}
			if s.from.Before(w.from) {
				cut = append(cut, span{s.kind, s.from, w.from})
			}
			if w.to.Before(s.to) {
				cut = append(cut, span{s.kind, w.to, s.to})
			}
		}
		data = append(cut, w)
	}
	slices.SortFunc(data, func(a, b span) int { return a.from.Compare(b.from) })
	for _, s := range data {
		if err := r.hand(vitals.Measurement{Kind: s.kind, Start: s.from, End: s.to, Source: SourceFitbit, Class: vitals.ClassWatch},
			name, i, 0, "levels"); err != nil {
			return err
		}
	}
	return nil
}

// googleFit reads a Daily activity metrics CSV.
func (r *reader) googleFit(in io.Reader, name string) error {
	m := fitDayName.FindStringSubmatch(path.Base(filepath.ToSlash(name)))
	if m == nil {
		return &Error{File: name, Entry: -1, Reason: "the file name is not a date YYYY-MM-DD.csv"}
	}
	day, err := time.Parse(time.DateOnly, m[1])
	if err != nil {
		return &Error{File: name, Entry: -1, Reason: "the file name is not a date YYYY-MM-DD.csv"}
	}
	// A UTF-8 byte order mark may start the file.
	br := bufio.NewReader(in)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return &Error{File: name, Line: 1, Reason: "no header line"}
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"Start time", "End time"} {
		if _, ok := col[need]; !ok {
			return &Error{File: name, Line: 1, Field: need, Reason: "column missing: not a Google Fit Daily activity metrics file"}
		}
	}
	at := func(line int, field, s string) (time.Time, error) {
		// "00:15:00.000+01:00": a time of the file's day with its offset.
		t, err := time.Parse("15:04:05.000Z07:00", s)
		if err != nil {
			return time.Time{}, &Error{File: name, Line: line, Field: field, Value: s, Reason: "want a time such as 00:15:00.000+01:00"}
		}
		_, off := t.Zone()
		return time.Date(day.Year(), day.Month(), day.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.FixedZone("", off)), nil
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return &Error{File: name, Line: line, Entry: -1, Reason: "malformed CSV: " + err.Error()}
		}
		line, _ := cr.FieldPos(0)
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		start, err := at(line, "Start time", get("Start time"))
		if err != nil {
			return err
		}
		end, err := at(line, "End time", get("End time"))
		if err != nil {
			return err
		}
		if !end.After(start) { // the last quarter ends at 00:00 of the next day
			end = end.AddDate(0, 0, 1)
		}
		for _, c := range []struct {
			col  string
			kind vitals.Kind
		}{{"Step count", vitals.Steps}, {"Distance (m)", vitals.Distance}} {
			s := get(c.col)
			if s == "" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return &Error{File: name, Line: line, Field: c.col, Value: s, Reason: "want a number"}
			}
			if v == 0 {
				r.st.Skipped++
				continue
			}
			if err := r.hand(vitals.Measurement{Kind: c.kind, Start: start, End: end, Value: v, Source: SourceGoogleFit},
				name, -1, line, c.col); err != nil {
				return err
			}
		}
	}
}
