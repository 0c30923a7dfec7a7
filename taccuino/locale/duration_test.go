package locale

import "testing"

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		min  float64
		want string
	}{
		{0, "0 min"}, {0.4, "0 min"}, {0.5, "1 min"}, {14.4, "14 min"}, {59.5, "1 h 0 min"},
		{202.1, "3 h 22 min"}, {1440, "24 h 0 min"}, {-1, "—"},
	} {
		if got := IT.Duration(tc.min); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.min, got, tc.want)
		}
	}
}

func TestSigned(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		digits int
		l      Lang
		want   string
	}{
		{2.54, 1, IT, "+2,5"}, {-0.44, 1, IT, "−0,4"}, {0.04, 1, EN, "0.0"}, {-0.04, 1, EN, "0.0"},
		{12, 0, EN, "+12"}, {-3, 0, EN, "−3"},
	} {
		if got := tc.l.Signed(tc.v, tc.digits); got != tc.want {
			t.Errorf("%s.Signed(%v, %d) = %q, want %q", tc.l, tc.v, tc.digits, got, tc.want)
		}
	}
}
