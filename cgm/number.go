package cgm

import (
	"errors"
	"strconv"
	"strings"
)

// ParseExportValue reads a glucose value as device exports write it and
// applies Normalize: digits with a decimal dot, or with a decimal comma (a
// quoted field of a CSV written in a language that uses one: "5,4"). In
// mg/dL, which exports write as whole numbers, a fraction is refused as the
// sign of mmol/L data under an mg/dL header; what names the export for that
// message ("LibreView exports"). A non-empty reason says what is wrong.
func ParseExportValue(s string, u Unit, what string) (v float64, flags Flag, reason string) {
	v, flags, fe := ReadExportValue(s, u, what)
	if fe != nil {
		return 0, 0, fe.Reason
	}
	return v, flags, ""
}

// ReadExportValue is ParseExportValue with the refusal as a *FieldError:
// its Reason in English, and its Code (FieldCodes) and Args, with which a
// display says it in the person's language.
func ReadExportValue(s string, u Unit, what string) (v float64, flags Flag, fe *FieldError) {
	if strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
		s = strings.Replace(s, ",", ".", 1)
	}
	notNumber := &FieldError{Field: "value", Value: s, Code: "value_not_number",
		Reason: "is not a number (want digits, with a dot or a comma for decimals: 98 or 5.4)"}
	intPart, frac, hasDot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !digits(intPart) || hasDot && !digits(frac) {
		return 0, 0, notNumber
	}
	if u == MgDL && strings.Trim(frac, "0") != "" {
		return 0, 0, &FieldError{Field: "value", Value: s, Code: "value_not_whole",
			Reason: "mg/dL values in " + what + " are whole numbers: is this mmol/L data under an mg/dL header?"}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, rejected by Normalize
		return 0, 0, notNumber
	}
	v, flags, err = Normalize(f, u)
	if err != nil {
		if !errors.As(err, &fe) {
			fe = &FieldError{Field: "value", Value: s, Reason: err.Error()}
		}
		return 0, 0, fe
	}
	return v, flags, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
