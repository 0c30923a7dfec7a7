package locale

import (
	"math"
	"strconv"
)

// Duration writes a length of time given in minutes, rounded to the whole
// minute (half away from zero), as hours and minutes: "3 h 22 min",
// "45 min", "0 min". The unit symbols are the same in both languages (SI
// "h" and "min"). NaN, infinities and negative values are written as "—".
// The AGP reports use it for the time per day of each glucose range
// (1 % of a day = 14.4 min).
func (l Lang) Duration(minutes float64) string {
	if math.IsNaN(minutes) || math.IsInf(minutes, 0) || minutes < 0 {
		return "—"
	}
	m := int64(math.Round(minutes))
	h, m := m/60, m%60
	if h == 0 {
		return strconv.FormatInt(m, 10) + " min"
	}
	return strconv.FormatInt(h, 10) + " h " + strconv.FormatInt(m, 10) + " min"
}

// Signed writes v like Number, with a leading "+" when the rounded value is
// positive and the typographic minus sign "−" when it is negative: the
// changes between two periods ("+2,5", "−0,4", "0,0").
func (l Lang) Signed(v float64, digits int) string {
	s := l.Number(v, digits)
	if s == "—" {
		return s
	}
	if s[0] == '-' {
		return "−" + s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '1' && s[i] <= '9' {
			return "+" + s
		}
	}
	return s
}
