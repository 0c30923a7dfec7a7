package cgm

import (
	"fmt"
	"math"
	"time"
)

// FieldError says which field of an input is wrong and why. Parsers wrap it
// with the place (file and line, or JSON pointer) where the field was read.
type FieldError struct {
	// Field names the field: a column name, a JSON member or a JSON pointer.
	Field string
	// Value is the offending value as received (may be empty).
	Value string
	// Reason says what was expected, in English (logs and APIs).
	Reason string
	// Code names the rule that refused the value (one of FieldCodes), and
	// Args its values, so that a display can say it in the person's
	// language.
	Code string
	Args []string
}

// FieldCodes lists the codes of the errors of Normalize, Validate and
// ParseExportValue with the number of Args each carries.
var FieldCodes = map[string]int{
	"unit_invalid": 0, "value_not_finite": 0, "value_not_positive": 0, "value_implausible": 2,
	"value_not_number": 0, "value_not_whole": 0,
	"time_missing": 0, "time_before_1999": 0, "time_future": 0, "kind_invalid": 0, "value_out_of_range": 3,
	"flags_limit": 0, "trend_invalid": 0, "device_long": 1,
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %q: %s", e.Field, e.Value, e.Reason)
}

// Earliest and latest instants accepted for a reading. CGM sensors did not
// exist before 1999; a reading dated more than a day ahead of the clock that
// validates it is a device clock or time zone error.
var (
	EarliestReading = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ImplausibleFactor bounds raw values: a value above this many times the
// sensor's high limit (1000 mg/dL, 55.6 mmol/L) is not an out-of-range
// reading but a unit or transmission error, and is rejected instead of being
// clamped to HI (a mmol/L value read as mg/dL, or the reverse, is the classic
// case: timoschlueter/nightscout-librelink-up issue #16, fixed in commit
// 7d7a868, and pachi81/GlucoDataHandler commit 5a883d9e, "invalid glucose
// value (39mmol caused 700mg/dl)").
const ImplausibleFactor = 2

// Normalize checks a raw glucose value reported by a device in unit u and
// applies the LO/HI limits with [Clamp]. It rejects values that are not
// finite, not positive, or implausible for the unit.
func Normalize(v float64, u Unit) (float64, Flag, error) {
	if u != MgDL && u != MmolL {
		return 0, 0, &FieldError{Field: "unit", Reason: "must be mg/dL or mmol/L", Code: "unit_invalid"}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, 0, &FieldError{Field: "value", Value: fmt.Sprint(v), Reason: "must be a finite number", Code: "value_not_finite"}
	}
	if v <= 0 {
		return 0, 0, &FieldError{Field: "value", Value: fmt.Sprint(v), Reason: "glucose must be greater than zero", Code: "value_not_positive"}
	}
	_, hi := Limits(u)
	if v > hi*ImplausibleFactor {
		return 0, 0, &FieldError{Field: "value", Value: fmt.Sprint(v),
			Reason: fmt.Sprintf("implausible glucose for %s (more than %g): wrong unit?", u, hi*ImplausibleFactor),
			Code:   "value_implausible", Args: []string{fmt.Sprint(hi * ImplausibleFactor), u.String()}}
	}
	c, f := Clamp(v, u)
	return c, f, nil
}

// Validate checks a reading as it is to be stored: a UTC instant not before
// [EarliestReading] and not after now plus a day, a known unit and kind, a
// value inside the sensor's reporting limits consistent with its LO/HI flag
// (a HI reading holds 500 mg/dL, FreeStyle Libre's limit, or 400 mg/dL,
// Dexcom's and Medtronic's: see [HighLimits]),
// a trend between 0 and 5. The error is a *FieldError.
func (r Reading) Validate(now time.Time) error {
	switch {
	case r.Time.IsZero():
		return &FieldError{Field: "time", Reason: "is missing", Code: "time_missing"}
	case r.Time.Before(EarliestReading):
		return &FieldError{Field: "time", Value: r.Time.Format(time.RFC3339), Reason: "is before 1999, before any CGM sensor", Code: "time_before_1999"}
	case !now.IsZero() && r.Time.After(now.Add(24*time.Hour)):
		return &FieldError{Field: "time", Value: r.Time.Format(time.RFC3339), Reason: "is more than a day in the future (device clock or time zone error?)", Code: "time_future"}
	}
	if r.Unit != MgDL && r.Unit != MmolL {
		return &FieldError{Field: "unit", Value: r.Unit.String(), Reason: "must be mg/dL or mmol/L", Code: "unit_invalid"}
	}
	if r.Kind < Historic || r.Kind > Strip {
		return &FieldError{Field: "kind", Value: r.Kind.String(), Reason: "must be historic, scan, current or strip", Code: "kind_invalid"}
	}
	lo, hi := Limits(r.Unit)
	if math.IsNaN(r.Value) || r.Value < lo || r.Value > hi {
		return &FieldError{Field: "value", Value: fmt.Sprint(r.Value),
			Reason: fmt.Sprintf("must be between %g and %g %s (LO/HI readings are stored at the limit)", lo, hi, r.Unit),
			Code:   "value_out_of_range", Args: []string{fmt.Sprint(lo), fmt.Sprint(hi), r.Unit.String()}}
	}
	his := HighLimits(r.Unit)
	if r.Flags&FlagLow != 0 && r.Value != lo || r.Flags&FlagHigh != 0 && r.Value != his[0] && r.Value != his[1] {
		return &FieldError{Field: "flags", Reason: "a LO/HI reading must hold the limit value of its sensor", Code: "flags_limit"}
	}
	if r.Trend > TrendRisingFast {
		return &FieldError{Field: "trend", Value: fmt.Sprint(r.Trend), Reason: "must be 0 (unknown) to 5", Code: "trend_invalid"}
	}
	if len(r.Device) > 64 {
		return &FieldError{Field: "device", Value: r.Device[:64] + "…", Reason: "serial longer than 64 characters", Code: "device_long", Args: []string{"64"}}
	}
	return nil
}
