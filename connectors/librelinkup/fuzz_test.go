package librelinkup

import (
	"testing"
	"time"
	"unicode/utf8"

	"fsecgm/cgm"
)

// The seed corpora under testdata/fuzz are the recorded payloads of
// testdata (one file each); the f.Add seeds are edge cases.

// fuzzNow is the decoding clock: after every fixture, so that none is in
// the future.
var fuzzNow = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

// checkError checks the invariants of a decoding error.
func checkError(t *testing.T, e *Error) {
	t.Helper()
	if e.Kind < KindBadCredentials || e.Kind > KindTwoFactor {
		t.Fatalf("error %v has kind %d outside the catalogue", e, e.Kind)
	}
	if msg := e.Error(); msg == "" || !utf8.ValidString(e.Message) || len(e.Message) > 200 {
		t.Fatalf("error message %q", msg)
	}
}

// checkSeries checks the invariants of decoded readings: each valid for the
// store, strictly ordered by (time, kind), of the allowed kinds.
func checkSeries(t *testing.T, s cgm.Series, p Problems, kinds ...cgm.Kind) {
	t.Helper()
	for i, r := range s {
		if err := r.Validate(fuzzNow); err != nil {
			t.Fatalf("reading %d %+v is invalid: %v", i, r, err)
		}
		ok := false
		for _, k := range kinds {
			ok = ok || r.Kind == k
		}
		if !ok {
			t.Fatalf("reading %d has kind %v", i, r.Kind)
		}
		if i > 0 {
			a := s[i-1]
			if a.Time.After(r.Time) || a.Time.Equal(r.Time) && a.Kind >= r.Kind {
				t.Fatalf("readings %d and %d out of order", i-1, i)
			}
		}
	}
	if len(p.Details) > MaxProblemDetails || p.Skipped < 0 {
		t.Fatalf("problems %+v", p)
	}
}

func FuzzDecodeGraph(f *testing.F) {
	f.Add([]byte(`{"status":0,"data":{"graphData":[{"FactoryTimestamp":"1/2/2024 3:04:05 PM","ValueInMgPerDl":"x"}]}}`))
	f.Add([]byte(`{"status":0,"data":{"connection":{"patientId":"p","sensor":{"sn":"A","a":-5}},"graphData":[{"FactoryTimestamp":"1/2/2024 3:04:05 PM","ValueInMgPerDl":1e308,"isHigh":true}]}}`))
	c := testClient(f, fuzzNow)
	f.Fuzz(func(t *testing.T, body []byte) {
		g, e := c.decodeGraph(okReply(body))
		if (g == nil) == (e == nil) {
			t.Fatalf("decodeGraph = %v, %v: want exactly one", g, e)
		}
		if e != nil {
			checkError(t, e)
			return
		}
		checkSeries(t, g.Readings, g.Problems, cgm.Historic, cgm.Current)
		if g.Readings.Count(cgm.Current) > 1 {
			t.Fatalf("%d current readings in one graph", g.Readings.Count(cgm.Current))
		}
	})
}

func FuzzDecodeConnections(f *testing.F) {
	f.Add([]byte(`{"status":0,"data":[{"patientId":"p","glucoseMeasurement":{"FactoryTimestamp":"13/1/2024 1:00:00 AM","ValueInMgPerDl":100}},{"patientId":7}]}`))
	f.Add([]byte(`{"status":0,"data":[]}`))
	c := testClient(f, fuzzNow)
	f.Fuzz(func(t *testing.T, body []byte) {
		l, e := c.decodeConnections(okReply(body))
		if (l == nil) == (e == nil) {
			t.Fatalf("decodeConnections = %v, %v: want exactly one", l, e)
		}
		if e != nil {
			checkError(t, e)
			return
		}
		for _, conn := range l.Connections {
			if conn.PatientID == "" {
				t.Fatal("connection without patient id")
			}
			if conn.Current != nil {
				checkSeries(t, cgm.Series{*conn.Current}, l.Problems, cgm.Current)
			}
		}
	})
}

func FuzzDecodeLogin(f *testing.F) {
	f.Add([]byte(`{"status":0,"data":{"redirect":true,"region":"../x"}}`))
	f.Add([]byte(`{"status":0,"data":{"user":{"id":"u"},"authTicket":{"token":"t","expires":0,"duration":-1}}}`))
	c := testClient(f, fuzzNow)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := okReply(body)
		d, e := c.decodeLogin(r)
		if (d == nil) == (e == nil) {
			t.Fatalf("decodeLogin = %v, %v: want exactly one", d, e)
		}
		if e != nil {
			checkError(t, e)
			return
		}
		if d.Redirect {
			return
		}
		s, e := c.sessionOf(d, "eu", r.status)
		if e != nil {
			checkError(t, e)
			return
		}
		if s.Token == "" || len(s.AccountID) != 64 || !s.Expires.After(fuzzNow) || !s.Fresh(fuzzNow, 0) {
			t.Fatalf("session %+v from a successful login", s)
		}
	})
}

func FuzzDecodeLogbook(f *testing.F) {
	f.Add([]byte(`{"status":0,"data":[{"type":2,"FactoryTimestamp":"1/2/2024 3:04:05 PM","alarmType":300},{"type":9}]}`))
	c := testClient(f, fuzzNow)
	f.Fuzz(func(t *testing.T, body []byte) {
		lb, e := c.decodeLogbook(okReply(body))
		if (lb == nil) == (e == nil) {
			t.Fatalf("decodeLogbook = %v, %v: want exactly one", lb, e)
		}
		if e != nil {
			checkError(t, e)
			return
		}
		checkSeries(t, lb.Readings, lb.Problems, cgm.Historic, cgm.Scan, cgm.Current)
		for i := 1; i < len(lb.Alarms); i++ {
			if lb.Alarms[i].Time.Before(lb.Alarms[i-1].Time) {
				t.Fatal("alarms out of order")
			}
		}
	})
}
