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
	if strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
		s = strings.Replace(s, ",", ".", 1)
	}
	const notNumber = "is not a number (want digits, with a dot or a comma for decimals: 98 or 5.4)"
	intPart, frac, hasDot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !digits(intPart) || hasDot && !digits(frac) {
		return 0, 0, notNumber
	}
	if u == MgDL && strings.Trim(frac, "0") != "" {
		return 0, 0, "mg/dL values in " + what + " are whole numbers: is this mmol/L data under an mg/dL header?"
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, rejected by Normalize
		return 0, 0, notNumber
	}
	v, flags, err = Normalize(f, u)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return 0, 0, fe.Reason
		}
		return 0, 0, err.Error()
	}
	return v, flags, ""
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
