package carelink

import (
	"strconv"
	"strings"
	"time"
)

// order is how the file writes its dates.
type order uint8

const (
	yearFirst  order = iota // YYYY/MM/DD or YYYY-MM-DD
	dayFirst                // DD/MM/YYYY, DD.MM.YYYY
	monthFirst              // MM/DD/YYYY (US exports)
)

// layout describes the date format of o, for messages.
func (o order) layout() string {
	switch o {
	case dayFirst:
		return "DD/MM/YYYY"
	case monthFirst:
		return "MM/DD/YYYY"
	}
	return "YYYY/MM/DD"
}

// splitDate returns the three numbers of a date written with "/", "-" or
// "." and whether the year is first (four digits).
func splitDate(s string) (n [3]int, yearFirst bool, ok bool) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '-' || r == '.' })
	if len(parts) != 3 {
		return n, false, false
	}
	for i, part := range parts {
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return n, false, false
		}
		n[i] = v
	}
	return n, len(parts[0]) == 4, true
}

// dateOrder decides the date order of the file from the dates of its
// glucose rows: year first when they are so written; with the year last, a
// first number above 12 means day first, a second above 12 month first,
// dots day first, and no evidence day first (see the package
// documentation).
func dateOrder(rows []row) order {
	for _, rw := range rows {
		if field(rw, colSG) == "" && field(rw, colBG) == "" {
			continue
		}
		ds := field(rw, colDate)
		n, yf, ok := splitDate(ds)
		switch {
		case !ok:
			continue
		case yf:
			return yearFirst
		case strings.Contains(ds, "."):
			return dayFirst
		case n[0] > 12 && n[1] <= 12:
			return dayFirst
		case n[1] > 12 && n[0] <= 12:
			return monthFirst
		}
	}
	return dayFirst
}

// civil returns the wall-clock time of a row's date and time (hh:mm:ss or
// hh:mm), as UTC fields.
func (o order) civil(date, clock string) (time.Time, bool) {
	n, yf, ok := splitDate(date)
	if !ok || yf != (o == yearFirst) {
		return time.Time{}, false
	}
	var y, m, d int
	switch o {
	case yearFirst:
		y, m, d = n[0], n[1], n[2]
	case dayFirst:
		d, m, y = n[0], n[1], n[2]
	case monthFirst:
		m, d, y = n[0], n[1], n[2]
	}
	if y < 100 {
		y += 2000
	}
	cp := strings.Split(clock, ":")
	if len(cp) < 2 || len(cp) > 3 {
		return time.Time{}, false
	}
	var hms [3]int
	for i, part := range cp {
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return time.Time{}, false
		}
		hms[i] = v
	}
	if m < 1 || m > 12 || d < 1 || hms[0] > 23 || hms[1] > 59 || hms[2] > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, hms[0], hms[1], hms[2], 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}
