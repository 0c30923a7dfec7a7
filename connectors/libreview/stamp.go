package libreview

import (
	"fmt"
	"strings"
	"time"
)

// DateOrder says whether the dates of an export put the day or the month
// first. See the package documentation for how [Parse] decides it.
type DateOrder uint8

// The date orders. The zero value is Auto.
const (
	// Auto decides from the file, and assumes day first when the file does
	// not tell.
	Auto DateOrder = iota
	// DayFirst is DD-MM-YYYY, the European format.
	DayFirst
	// MonthFirst is MM-DD-YYYY, the US format.
	MonthFirst
)

// String returns "auto", "day first" or "month first".
func (o DateOrder) String() string {
	switch o {
	case Auto:
		return "auto"
	case DayFirst:
		return "day first"
	case MonthFirst:
		return "month first"
	}
	return fmt.Sprintf("DateOrder(%d)", uint8(o))
}

// Meridiem markers of a 12-hour clock.
const (
	noMeridiem = iota
	am
	pm
)

// stamp is a timestamp as written in the file, before the date order is
// known: a and b are the first two numbers of the date.
type stamp struct {
	a, b, year     int
	hour, min, sec int
	meridiem       int
}

// scanStamp reads "NN-NN-YYYY HH:MM[:SS][ AM|PM]" (separators "-", "/" or
// ".", one or two digits for the first two numbers and the hour). It checks
// the shape only; [stamp.civil] checks the ranges.
func scanStamp(s string) (stamp, bool) {
	var st stamp
	p := scanner{s: s}
	var ok bool
	if st.a, ok = p.digits(1, 2); !ok {
		return st, false
	}
	sep := p.peek()
	if sep != '-' && sep != '/' && sep != '.' {
		return st, false
	}
	p.i++
	if st.b, ok = p.digits(1, 2); !ok || !p.byte(sep) {
		return st, false
	}
	if st.year, ok = p.digits(4, 4); !ok {
		return st, false
	}
	if !p.spaces() {
		return st, false
	}
	if st.hour, ok = p.digits(1, 2); !ok || !p.byte(':') {
		return st, false
	}
	if st.min, ok = p.digits(2, 2); !ok {
		return st, false
	}
	if p.byte(':') {
		if st.sec, ok = p.digits(2, 2); !ok {
			return st, false
		}
	}
	p.spaces()
	if rest := p.s[p.i:]; rest != "" {
		switch {
		case strings.EqualFold(rest, "AM"):
			st.meridiem = am
		case strings.EqualFold(rest, "PM"):
			st.meridiem = pm
		default:
			return st, false
		}
	}
	return st, true
}

// scanner walks a string byte by byte.
type scanner struct {
	s string
	i int
}

func (p *scanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *scanner) byte(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// spaces skips blanks and reports whether there was at least one.
func (p *scanner) spaces() bool {
	j := p.i
	for p.peek() == ' ' || p.peek() == '\t' {
		p.i++
	}
	return p.i > j
}

// digits reads between lo and hi decimal digits.
func (p *scanner) digits(lo, hi int) (int, bool) {
	n, j := 0, p.i
	for p.i < len(p.s) && p.i-j < hi && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	return n, p.i-j >= lo
}

// civil returns the calendar date and clock time of st read in the given
// order (DayFirst or MonthFirst), checking every range.
func (st stamp) civil(order DateOrder) (wall time.Time, ok bool) {
	day, month := st.a, st.b
	if order == MonthFirst {
		day, month = st.b, st.a
	}
	hour := st.hour
	switch st.meridiem {
	case am, pm:
		if hour < 1 || hour > 12 {
			return time.Time{}, false
		}
		hour %= 12 // 12 AM is midnight, 12 PM noon
		if st.meridiem == pm {
			hour += 12
		}
	default:
		if hour > 23 {
			return time.Time{}, false
		}
	}
	if month < 1 || month > 12 || day < 1 || st.min > 59 || st.sec > 59 ||
		day > time.Date(st.year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(st.year, time.Month(month), day, hour, st.min, st.sec, 0, time.UTC), true
}

// layout describes the timestamp format expected in a file of the given date
// order, for error messages.
func layout(order DateOrder, twelveHour bool) string {
	switch {
	case order == MonthFirst && twelveHour:
		return "MM-DD-YYYY hh:mm AM/PM (month first, as the rest of the file)"
	case order == MonthFirst:
		return "MM-DD-YYYY HH:MM (month first, as the rest of the file)"
	}
	return "DD-MM-YYYY HH:MM (day first, as the rest of the file)"
}

// layoutCode names the timestamp format of layout for the codes of
// LineError: "day_first", "month_first" or "month_first_12h".
func layoutCode(order DateOrder, twelveHour bool) string {
	switch {
	case order == MonthFirst && twelveHour:
		return "month_first_12h"
	case order == MonthFirst:
		return "month_first"
	}
	return "day_first"
}
