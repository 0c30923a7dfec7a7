package records

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// dateTimeRE is a FHIR date or dateTime, to the year, month, day, minute,
// second or fraction, with an optional offset (a search value may leave
// out the seconds and the offset).
var dateTimeRE = regexp.MustCompile(`^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$`)

// ParseDateTime returns the range of instants [start, end) a FHIR date or
// dateTime stands for, at its precision: "2024" the year, "2024-05" the
// month, "2024-05-01" the day, "2024-05-01T10:15:00Z" the second,
// "2024-05-01T10:15:00.5Z" the tenth of a second. Values without an
// offset (dates, and times written without one) are read in loc: a
// patient's dates are their local calendar dates.
func ParseDateTime(s string, loc *time.Location) (start, end time.Time, err error) {
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return start, end, fmt.Errorf("%q is not a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.f]][Z|±hh:mm])", s)
	}
	n := func(i int, def int) int {
		if m[i] == "" {
			return def
		}
		v, _ := strconv.Atoi(m[i])
		return v
	}
	y, mo, d, h, mi, sec := n(1, 0), n(2, 1), n(3, 1), n(4, 0), n(5, 0), n(6, 0)
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo), y) || h > 23 || mi > 59 || sec > 59 {
		return start, end, fmt.Errorf("%q is not a valid date or time", s)
	}
	zone := loc
	if z := m[8]; z != "" {
		if z == "Z" {
			zone = time.UTC
		} else {
			zh, _ := strconv.Atoi(z[1:3])
			zm, _ := strconv.Atoi(z[4:6])
			if zh > 14 || zm > 59 {
				return start, end, fmt.Errorf("%q: offset out of range", s)
			}
			off := zh*3600 + zm*60
			if z[0] == '-' {
				off = -off
			}
			zone = time.FixedZone(z, off)
		}
	}
	if zone == nil {
		zone = time.UTC
	}
	var ns int
	if f := m[7]; f != "" {
		v, _ := strconv.Atoi(f)
		ns = v
		for i := len(f); i < 9; i++ {
			ns *= 10
		}
	}
	start = time.Date(y, time.Month(mo), d, h, mi, sec, ns, zone)
	switch {
	case m[2] == "":
		end = time.Date(y+1, 1, 1, 0, 0, 0, 0, zone)
	case m[3] == "":
		end = time.Date(y, time.Month(mo)+1, 1, 0, 0, 0, 0, zone)
	case m[4] == "":
		end = time.Date(y, time.Month(mo), d+1, 0, 0, 0, 0, zone)
	case m[6] == "":
		end = start.Add(time.Minute)
	case m[7] == "":
		end = start.Add(time.Second)
	default:
		step := time.Duration(1)
		for i := len(m[7]); i < 9; i++ {
			step *= 10
		}
		end = start.Add(max(step, time.Microsecond))
	}
	return start.UTC(), end.UTC(), nil
}

// daysIn returns the number of days of month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// periodRange returns the range of a FHIR Period with start and end (each
// a date or dateTime; end inclusive at its precision, as FHIR reads it):
// [low of start, high of end). An absent bound is open: the range starts
// at year 1 or ends at year 9999.
func periodRange(startText, endText string, loc *time.Location) (start, end time.Time, err error) {
	start = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	end = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if startText != "" {
		if start, _, err = ParseDateTime(startText, loc); err != nil {
			return start, end, err
		}
	}
	if endText != "" {
		if _, end, err = ParseDateTime(endText, loc); err != nil {
			return start, end, err
		}
	}
	if !end.After(start) {
		return start, end, fmt.Errorf("the period ends (%s) before it starts (%s)", endText, startText)
	}
	return start, end, nil
}
