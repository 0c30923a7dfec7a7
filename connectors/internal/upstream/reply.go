// Package upstream reads what a remote service's HTTP reply says beyond its
// body, for the connectors that call one (LibreLinkUp, Dexcom, the sync
// core's egress budget): how long it asks the caller to wait, and its
// message made fit for a log line and for the advice shown to a patient.
package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads a Retry-After value (RFC 9110 §10.2.3: delay-seconds or
// an HTTP-date, the latter relative to now), capped at limit; 0 when empty,
// unreadable or in the past.
func RetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(limit/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, limit))
}

// Clean keeps a server's message printable, on one line and short (160
// bytes, cut on a character boundary, with an ellipsis).
func Clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\ufffd' {
			return -1
		}
		return r
	}, s)
	if len(s) > 160 {
		cut := 160
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
