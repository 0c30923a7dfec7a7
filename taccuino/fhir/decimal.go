package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Decimal is a FHIR decimal as its JSON text, so that no precision is lost in
// either direction: a figure of the engine is written with every digit of its
// float64 (the shortest text that reads back to the same float64), and a
// decimal received from a submitter keeps its text, trailing zeros included
// (FHIR gives them meaning: 6.70 is more precise than 6.7). The zero value is
// "no value" and is left out of JSON by omitempty.
type Decimal string

// decimalRE is the FHIR R4 decimal regex (datatypes, decimal).
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// NewDecimal returns the decimal text of v with every digit the float64
// holds and no exponent. It fails for NaN and infinities, which FHIR cannot
// carry.
func NewDecimal(v float64) (Decimal, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("fhir: decimal: %v is not a finite number", v)
	}
	if v == 0 {
		v = 0 // no "-0"
	}
	return Decimal(strconv.FormatFloat(v, 'f', -1, 64)), nil
}

// NewPercent returns v as a decimal with at least two decimal places, which
// the CGM IG asks for percentages ("Percent of time, with at least two
// decimal places of precision", profile cgm-summary-times-in-ranges). Digits
// are only added, never removed: 65 becomes 65.00, 12.3456 stays 12.3456.
func NewPercent(v float64) (Decimal, error) {
	d, err := NewDecimal(v)
	if err != nil {
		return "", err
	}
	s := string(d)
	i := strings.IndexByte(s, '.')
	switch {
	case i < 0:
		s += ".00"
	case len(s)-i-1 < 2:
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	return Decimal(s), nil
}

// DecimalInt returns n as a decimal.
func DecimalInt(n int) Decimal { return Decimal(strconv.Itoa(n)) }

// Float64 returns the value of d.
func (d Decimal) Float64() (float64, error) {
	if !decimalRE.MatchString(string(d)) {
		return 0, fmt.Errorf("fhir: decimal %q is not a FHIR decimal", string(d))
	}
	v, err := strconv.ParseFloat(string(d), 64)
	if err != nil {
		return 0, fmt.Errorf("fhir: decimal %q: %w", string(d), err)
	}
	return v, nil
}

// MarshalJSON writes the decimal as a JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !decimalRE.MatchString(string(d)) {
		return nil, fmt.Errorf("fhir: decimal %q is not a FHIR decimal", string(d))
	}
	return []byte(d), nil
}

// errDecimalString is returned for a decimal sent as a JSON string.
var errDecimalString = errors.New("a decimal must be a JSON number, not a string")

// UnmarshalJSON reads a JSON number and keeps its text. A string, even one
// holding a number, is refused: FHIR JSON writes decimals as numbers.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return errDecimalString
	}
	if !decimalRE.Match(b) {
		// The text is not repeated: it may be a glucose value.
		return errors.New("not a FHIR decimal (a JSON number)")
	}
	*d = Decimal(b)
	return nil
}
