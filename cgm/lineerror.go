package cgm

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// LineError says what is wrong with one line of an input file and where:
// the error of every file parser (connectors/libreview, longcsv, clarity,
// carelink, nightscout, nightscoutcsv).
type LineError struct {
	// File is the file name given to the parser.
	File string
	// Line is the line number, counting from 1; for a record spanning
	// several lines (a quoted note with a line break), its first line. In a
	// JSON file, the line where the offending element starts.
	Line int
	// Field is the name of the column (or JSON member) as written in the
	// file; empty when the whole line is wrong.
	Field string
	// Value is the offending value as read, trimmed; may be empty.
	Value string
	// Reason says what was expected, in English (logs, the command line,
	// APIs).
	Reason string
	// Code names the rule the line broke and Args its values, so that a
	// display can say it in the person's language: one of the parser's
	// Codes (connectors/libreview, connectors/longcsv) or of FieldCodes;
	// empty when the parser gives none (a display then says the line is
	// not valid, with Field and Value).
	Code string
	Args []string
}

// Error returns `FILE:LINE: field "X": value "v": reason`, leaving out the
// field and value when they are empty. It contains the offending value,
// which may be a glucose value: do not log it where glucose values must not
// appear.
func (e *LineError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	} else {
		b.WriteString("line ")
	}
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, "value %q: ", e.Value)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// SortLineErrors orders line errors by line number, keeping the order of
// errors on the same line.
func SortLineErrors(es []*LineError) {
	slices.SortStableFunc(es, func(a, b *LineError) int { return cmp.Compare(a.Line, b.Line) })
}
