package cgm

import "testing"

func TestParseExportValue(t *testing.T) {
	tests := []struct {
		s      string
		u      Unit
		v      float64
		flags  Flag
		reason string // a part of it; "" when read
	}{
		{"98", MgDL, 98, 0, ""},
		{"98.0", MgDL, 98, 0, ""},
		{"98,5", MgDL, 0, 0, "whole numbers"},
		{"5.4", MmolL, 5.4, 0, ""},
		{"5,4", MmolL, 5.4, 0, ""},
		{"1.234,5", MmolL, 0, 0, "not a number"},
		{"31.0", MmolL, 27.8, FlagHigh, ""},
		{"30", MgDL, 40, FlagLow, ""},
		{"abc", MgDL, 0, 0, "not a number"},
		{"", MgDL, 0, 0, "not a number"},
		{"-5", MgDL, 0, 0, "greater than zero"},
		{"99999", MgDL, 0, 0, "implausible"},
	}
	for _, tc := range tests {
		v, f, reason := ParseExportValue(tc.s, tc.u, "test exports")
		switch {
		case tc.reason == "" && (reason != "" || v != tc.v || f != tc.flags):
			t.Errorf("ParseExportValue(%q, %v) = %v %v %q; want %v %v", tc.s, tc.u, v, f, reason, tc.v, tc.flags)
		case tc.reason != "" && !contains(reason, tc.reason):
			t.Errorf("ParseExportValue(%q, %v) reason %q, want one with %q", tc.s, tc.u, reason, tc.reason)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
