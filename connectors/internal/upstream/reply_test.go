package upstream

import (
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"99999999", 6 * time.Hour},
		{"Mon, 07 Dec 2026 10:01:30 GMT", 90 * time.Second},
		{"Mon, 07 Dec 2026 09:00:00 GMT", 0},
		{"Tue, 08 Dec 2026 10:00:00 GMT", 6 * time.Hour},
		{"soon", 0},
	} {
		if got := RetryAfter(c.v, now, 6*time.Hour); got != c.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestClean(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"  a\n\tb\x00c\x7f  ", "a bc"},
		{"caf\ufffdé", "café"},
		{strings.Repeat("a", 159) + "é" + "zzz", strings.Repeat("a", 159) + "…"},
		{strings.Repeat("b", 160), strings.Repeat("b", 160)},
	} {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
