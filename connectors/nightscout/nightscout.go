// Package nightscout reads the glucose entries of Nightscout
// (cgm-remote-monitor): the JSON array that GET /api/v1/entries.json
// answers and that people save as a file, or the result of API v3's GET
// /api/v3/entries. The types are those the other Nightscout connectors use.
//
// # Entries
//
// An entry is a JSON object (Nightscout API v1 specification,
// lib/server/swagger.yaml of cgm-remote-monitor, "Entry"):
//
//	{"_id": "…", "type": "sgv", "sgv": 162, "date": 1775421029000,
//	 "dateString": "2026-04-05T20:30:29.000Z", "direction": "Flat",
//	 "device": "xDrip-LibreReceiver", "utcOffset": 0, …}
//
// The members read:
//
//   - type "sgv" (sensor glucose value) becomes a cgm.Historic reading of
//     sgv mg/dL; type "mbg" (meter blood glucose) a cgm.Strip reading of
//     mbg mg/dL; other types ("cal" calibrations, notes) hold no glucose
//     and are counted in [File.Skipped]. Entries are always in mg/dL,
//     whatever unit the site displays.
//   - date is the instant in milliseconds since the Unix epoch (UTC); when
//     it is missing, dateString (ISO 8601 with an offset) is read.
//   - sgv values from 0 to 12 are not glucose but the special values
//     Dexcom receivers send in its place (1 sensor not active, 3 no
//     antenna, 5 sensor not calibrated, 10 power deviation, 12 bad radio
//     signal…; Nightscout shows them as ?SN, ?NA, ?NC, ???, ?RF): skipped.
//     Values from 13 to 39 are glucose below the 40 mg/dL the model keeps
//     (39 is also how Dexcom sends LOW): like every value under 40 mg/dL
//     they are stored at 40 with cgm.FlagLow, and values above 500 at 500
//     with cgm.FlagHigh (cgm.Normalize), so that time below and above
//     range is kept. Numbers written as strings ("162") are read.
//   - direction gives the trend ([Trend]): DoubleDown and SingleDown
//     falling fast, FortyFiveDown falling, Flat stable, FortyFiveUp rising,
//     SingleUp and DoubleUp rising fast; NONE, NOT COMPUTABLE and RATE OUT
//     OF RANGE unknown.
//   - device, the name of the uploader (xDrip-LibreReceiver, share2, …),
//     becomes the reading's device.
//
// [Parse] fails only when the input is not a JSON array of objects (or an
// API v3 answer holding one); every entry that cannot be used is reported
// in [File.Rejected] as a *cgm.LineError with the line where it starts,
// its member and the reason, and the others are still read.
package nightscout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
)

// maxSpecialValue is the largest of the special values Dexcom receivers
// send instead of glucose (see the package documentation).
const maxSpecialValue = 12

// MaxBytes bounds the JSON text Parse reads.
const MaxBytes = 64 << 20

// Entry is a Nightscout entry, with the members fsecgm reads.
type Entry struct {
	ID         string          `json:"_id,omitempty"`
	Type       string          `json:"type"`
	SGV        json.RawMessage `json:"sgv,omitempty"`
	MBG        json.RawMessage `json:"mbg,omitempty"`
	Date       json.RawMessage `json:"date,omitempty"`
	DateString string          `json:"dateString,omitempty"`
	Direction  string          `json:"direction,omitempty"`
	Device     string          `json:"device,omitempty"`
}

// File is the content of an entries file.
type File struct {
	// Readings are the sgv (historic) and mbg (strip) readings, in file
	// order (Nightscout answers newest first).
	Readings []cgm.Reading
	// Lines holds the line where each reading's entry starts.
	Lines []int
	// Skipped counts the entries that hold no glucose: other types and
	// Dexcom's special values.
	Skipped int
	// Rejected lists every entry that could not be used, in file order.
	Rejected []*cgm.LineError
	// Entries counts the entries of the array.
	Entries int
}

// Parse reads an entries file. name is the file name used in messages.
func Parse(r io.Reader, name string) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("nightscout: read %s: %w", name, err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("nightscout: %s: larger than %d MB", name, MaxBytes>>20)
	}
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := openArray(dec); err != nil {
		return nil, fmt.Errorf("nightscout: %s:%d: %w", name, lines.at(data, dec.InputOffset()), err)
	}
	f := &File{}
	for dec.More() {
		start := lines.at(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("nightscout: %s:%d: malformed JSON: %w", name, start, err)
		}
		f.Entries++
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			f.Rejected = append(f.Rejected, &cgm.LineError{File: name, Line: start, Reason: "not an entry object: " + err.Error()})
			continue
		}
		rd, ok, le := e.Reading()
		switch {
		case le != nil:
			le.File, le.Line = name, start
			f.Rejected = append(f.Rejected, le)
		case !ok:
			f.Skipped++
		default:
			f.Readings = append(f.Readings, rd)
			f.Lines = append(f.Lines, start)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, fmt.Errorf("nightscout: %s:%d: malformed JSON: the array of entries does not end", name, lines.at(data, dec.InputOffset()))
	}
	return f, nil
}

// openArray reads up to the first element of the entries array: the
// top-level array, or the "result" array of an API v3 answer.
func openArray(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	switch tok {
	case json.Delim('['):
		return nil
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return fmt.Errorf("malformed JSON: %w", err)
			}
			if key == "result" {
				if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
					return errors.New(`"result" is not an array of entries`)
				}
				return nil
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("malformed JSON: %w", err)
			}
		}
		return errors.New(`an object without "result": want the array of entries /api/v1/entries.json answers`)
	}
	return errors.New("not a JSON array of entries (want the array /api/v1/entries.json answers)")
}

// Reading returns the reading of an entry: ok false for an entry that holds
// no glucose; a *cgm.LineError (without file and line) for one that
// cannot be used.
func (e Entry) Reading() (cgm.Reading, bool, *cgm.LineError) {
	var member string
	var kind cgm.Kind
	var v json.RawMessage
	switch strings.ToLower(e.Type) {
	case "sgv":
		member, kind, v = "sgv", cgm.Historic, e.SGV
	case "mbg":
		member, kind, v = "mbg", cgm.Strip, e.MBG
	case "":
		if len(e.SGV) == 0 {
			return cgm.Reading{}, false, &cgm.LineError{Field: "type", Reason: "is missing (want sgv or mbg)"}
		}
		member, kind, v = "sgv", cgm.Historic, e.SGV
	default:
		return cgm.Reading{}, false, nil
	}
	mgdl, ok := number(v)
	if !ok {
		return cgm.Reading{}, false, &cgm.LineError{Field: member, Value: string(v), Reason: "is not a glucose value in mg/dL"}
	}
	if kind == cgm.Historic && mgdl >= 0 && mgdl <= maxSpecialValue {
		return cgm.Reading{}, false, nil // a Dexcom special value, not glucose
	}
	t, le := e.instant()
	if le != nil {
		return cgm.Reading{}, false, le
	}
	val, flags, err := cgm.Normalize(mgdl, cgm.MgDL)
	if err != nil {
		return cgm.Reading{}, false, &cgm.LineError{Field: member, Value: string(v), Reason: reason(err)}
	}
	rd := cgm.Reading{Time: t, Value: val, Unit: cgm.MgDL, Kind: kind, Flags: flags, Trend: Trend(e.Direction)}
	if len(e.Device) <= 64 {
		rd.Device = strings.TrimSpace(e.Device)
	}
	if err := rd.Validate(time.Time{}); err != nil {
		var fe *cgm.FieldError
		if errors.As(err, &fe) && fe.Field == "time" {
			return cgm.Reading{}, false, &cgm.LineError{Field: "date", Value: string(e.Date), Reason: fe.Reason}
		}
		return cgm.Reading{}, false, &cgm.LineError{Field: member, Value: string(v), Reason: reason(err)}
	}
	return rd, true, nil
}

// instant returns the entry's instant from date (epoch milliseconds), or
// from dateString when date is missing.
func (e Entry) instant() (time.Time, *cgm.LineError) {
	if len(e.Date) > 0 && string(e.Date) != "null" {
		ms, ok := number(e.Date)
		if !ok || ms < 0 || ms > 1e15 || ms != math.Trunc(ms) {
			return time.Time{}, &cgm.LineError{Field: "date", Value: string(e.Date), Reason: "is not a time in milliseconds since 1970"}
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	if e.DateString == "" {
		return time.Time{}, &cgm.LineError{Field: "date", Reason: "is missing, and so is dateString"}
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, e.DateString); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &cgm.LineError{Field: "dateString", Value: e.DateString, Reason: "is not an ISO 8601 time with an offset"}
}

// number reads a JSON number, or a string holding one.
func number(v json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(v))
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func reason(err error) string {
	var fe *cgm.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// Trend maps a Nightscout direction (an entry's direction) to a trend
// arrow: see the package documentation.
func Trend(direction string) cgm.Trend {
	switch direction {
	case "DoubleDown", "SingleDown":
		return cgm.TrendFallingFast
	case "FortyFiveDown":
		return cgm.TrendFalling
	case "Flat":
		return cgm.TrendStable
	case "FortyFiveUp":
		return cgm.TrendRising
	case "SingleUp", "DoubleUp":
		return cgm.TrendRisingFast
	}
	return cgm.TrendUnknown
}

// lineIndex finds the line of a byte offset.
type lineIndex []int // offsets of the newlines

func newLineIndex(data []byte) lineIndex {
	var idx lineIndex
	for i, b := range data {
		if b == '\n' {
			idx = append(idx, i)
		}
	}
	return idx
}

// at returns the line (from 1) of the first non-space byte at or after
// offset.
func (l lineIndex) at(data []byte, offset int64) int {
	o := int(offset)
	for o < len(data) && (data[o] == ' ' || data[o] == '\t' || data[o] == '\r' || data[o] == '\n' || data[o] == ',') {
		o++
	}
	return sort.SearchInts(l, o) + 1
}

// What names what a JSON file of Nightscout's holds, from its beginning:
// "entries" (the array entries.json answers), "treatments", "devicestatus"
// or "profile"; "" when it is none of them.
func What(head []byte) string {
	s := bytes.TrimSpace(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")))
	if len(s) == 0 || s[0] != '[' && s[0] != '{' {
		return ""
	}
	// The first object's members decide; a truncated head is enough.
	first := s
	if i := bytes.IndexByte(s[1:], '}'); i >= 0 {
		first = s[:i+2]
	}
	has := func(member string) bool { return bytes.Contains(first, []byte(`"`+member+`"`)) }
	switch {
	case s[0] == '{' && has("result") && (has("sgv") || has("type")):
		return "entries"
	case has("sgv") || has("mbg") || has("type") && has("date") && !has("eventType"):
		return "entries"
	case has("eventType"):
		return "treatments"
	case has("uploader") || has("openaps") || has("loop") || has("pump") && has("created_at"):
		return "devicestatus"
	case has("defaultProfile") || has("store"):
		return "profile"
	}
	return ""
}

// Detect reports whether head, the beginning of a file, is a Nightscout
// entries JSON file.
func Detect(head []byte) bool { return What(head) == "entries" }
