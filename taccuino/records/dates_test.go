package records

import (
	"testing"
	"time"
)

func TestParseDateTime(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		in         string
		start, end string // RFC 3339; "" for an error
	}{
		{"2024", "2023-12-31T23:00:00Z", "2024-12-31T23:00:00Z"},
		{"2024-05", "2024-04-30T22:00:00Z", "2024-05-31T22:00:00Z"},
		{"2024-05-01", "2024-04-30T22:00:00Z", "2024-05-01T22:00:00Z"},
		{"2024-03-31", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"}, // 23-hour day
		{"2024-05-01T10:15:00Z", "2024-05-01T10:15:00Z", "2024-05-01T10:15:01Z"},
		{"2024-05-01T10:15:00.5+02:00", "2024-05-01T08:15:00.5Z", "2024-05-01T08:15:00.6Z"},
		{"2024-05-01T10:15:00.123456789Z", "2024-05-01T10:15:00.123456789Z", "2024-05-01T10:15:00.123457789Z"},
		{"2024-05-01T10:15", "2024-05-01T08:15:00Z", "2024-05-01T08:16:00Z"},
		{"2024-05-01T10:15:00-05:00", "2024-05-01T15:15:00Z", "2024-05-01T15:15:01Z"},
		{"2024-13-01", "", ""},
		{"2024-02-30", "", ""},
		{"2024-05-01T24:00:00Z", "", ""},
		{"2024-05-01T10:15:00+15:00", "", ""},
		{"24-05-01", "", ""},
		{"2024-05-01 10:15", "", ""},
	} {
		start, end, err := ParseDateTime(tc.in, rome)
		if tc.start == "" {
			if err == nil {
				t.Errorf("ParseDateTime(%q) = %v, %v; want an error", tc.in, start, end)
			}
			continue
		}
		if err != nil || !start.Equal(utc(tc.start)) || !end.Equal(utc(tc.end)) {
			t.Errorf("ParseDateTime(%q) = %v, %v, %v; want %s, %s", tc.in, start, end, err, tc.start, tc.end)
		}
	}
}

func TestPeriodRange(t *testing.T) {
	t.Parallel()
	s, e, err := periodRange("2024-05-01", "2024-05-14", rome)
	if err != nil || !s.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, rome)) || !e.Equal(time.Date(2024, 5, 15, 0, 0, 0, 0, rome)) {
		t.Errorf("14-day period: %v..%v %v (the end date is inclusive)", s, e, err)
	}
	if _, _, err := periodRange("2024-05-14", "2024-05-01", rome); err == nil {
		t.Error("a period ending before it starts was accepted")
	}
	if s, e, err := periodRange("2024-05-01T10:00:00Z", "", rome); err != nil || e.Year() != 9999 || s.Hour() != 10 {
		t.Errorf("open period: %v..%v %v", s, e, err)
	}
}
