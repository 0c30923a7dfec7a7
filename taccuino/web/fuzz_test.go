package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/jsonscan"

	"github.com/labstack/echo/v5"
)

// fuzzBody is a request body type with the member kinds the API's bodies
// use.
type fuzzBody struct {
	Name    string            `json:"name"`
	Granted *bool             `json:"granted"`
	Count   int               `json:"count"`
	Value   float64           `json:"value"`
	When    *time.Time        `json:"when"`
	Tags    []string          `json:"tags"`
	Inner   *fuzzBody         `json:"inner"`
	Extra   map[string]string `json:"extra"`
}

// decode runs DecodeJSON on body sent with content type ctype.
func decode(body []byte, ctype string, v any) error {
	req := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	c := echo.New().NewContext(req, httptest.NewRecorder())
	return DecodeJSON(c, v)
}

// FuzzDecodeJSON checks that no body panics DecodeJSON, that every refusal
// is an *Error with a client status (400, 413, 415 or 422), that the
// limits hold (size, depth), and that an accepted body is one JSON value
// whose decoding survives a round trip.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"x","granted":true,"count":3,"tags":["a"],"inner":{"name":"y"}}`,
		`{"granted":"yes"}`, `{"unknown":1}`, `{"a":1}{"b":2}`, `[1,2,3]`, `null`, `{"name":"\u00e8\"[["}`,
		`{"when":"2026-01-02T03:04:05Z"}`, `{"name":"a","Name":"b"}`, `{"inner":{"count":1,"count":2}}`, `{"when":"yesterday"}`, `{"count":1e400}`, `{"extra":{"k":"v"}}`,
		strings.Repeat(`{"inner":`, 20) + `{}` + strings.Repeat(`}`, 20), `{"name":"` + strings.Repeat("x", 200) + `"`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte(`{"name":"x"}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		ctype := []string{"application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", ""}[int(ct)%5]
		for _, target := range []func() any{func() any { return &fuzzBody{} }, func() any { var m map[string]any; return &m }} {
			v := target()
			err := decode(body, ctype, v)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("refusal is %T, not *Error: %v", err, err)
				}
				switch e.Status {
				case 400, 413, 415, 422:
				default:
					t.Fatalf("refusal status %d: %v", e.Status, err)
				}
				if e.Message == "" {
					t.Fatal("refusal without message")
				}
				continue
			}
			if !strings.HasPrefix(ctype, "application/json") {
				t.Fatalf("accepted a body of type %q", ctype)
			}
			if len(body) > MaxJSONBytes {
				t.Fatalf("accepted %d bytes", len(body))
			}
			if d := jsonscan.Depth(body); d > MaxJSONDepth {
				t.Fatalf("accepted a body nested %d deep", d)
			}
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			if name, dup := repeatedMember(body); dup {
				t.Fatalf("accepted a body that names %q twice in one object: %q", name, body)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("accepted value does not encode: %v", err)
			}
			if err := decode(again, "application/json", target()); err != nil && jsonscan.Depth(again) <= MaxJSONDepth && len(again) <= MaxJSONBytes {
				t.Fatalf("round trip refused: %v\n%s", err, again)
			}
		}
	})
}

// repeatedMember reports whether an object of the valid JSON text b names
// a member twice, compared as encoding/json compares names with struct
// fields (after unescaping, regardless of case): the fuzz target's own
// check, by encoding/json's tokenizer, of what jsonscan finds by bytes.
func repeatedMember(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	type level struct {
		obj, wantKey bool
		seen         []string
	}
	var st []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := func() *level {
			if len(st) == 0 {
				return nil
			}
			return st[len(st)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				st = append(st, &level{obj: v == '{', wantKey: v == '{'})
				continue
			}
			st = st[:len(st)-1]
			if l := top(); l != nil && l.obj {
				l.wantKey = true
			}
		case string:
			if l := top(); l != nil && l.obj && l.wantKey {
				for _, s := range l.seen {
					if strings.EqualFold(s, v) {
						return v, true
					}
				}
				l.seen, l.wantKey = append(l.seen, v), false
				continue
			}
			if l := top(); l != nil && l.obj {
				l.wantKey = true
			}
		default:
			if l := top(); l != nil && l.obj {
				l.wantKey = true
			}
		}
	}
}

// countingReader counts the bytes read from it; it produces n bytes of b
// repeated.
type countingReader struct {
	b    []byte
	n    int64
	read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.read < r.n {
		p[k] = r.b[int(r.read)%len(r.b)]
		k++
		r.read++
	}
	return k, nil
}

// TestDecodeJSONCheap checks that hostile bodies are refused cheaply: an
// endless body is read no further than the limit, and a deeply nested one
// is refused by the byte scan before the decoder sees it.
func TestDecodeJSONCheap(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		r      *countingReader
		status int
	}{
		{"1 GB of array", &countingReader{b: []byte(`[1,`), n: 1 << 30}, 413},
		{"1 GB of nesting", &countingReader{b: []byte(`[`), n: 1 << 30}, 413},
		{"60 KB of nesting", &countingReader{b: []byte(`[`), n: 60 << 10}, 400},
	} {
		req := httptest.NewRequest(http.MethodPost, "/x", tt.r)
		req.Header.Set("Content-Type", "application/json")
		c := echo.New().NewContext(req, httptest.NewRecorder())
		var v any
		err := DecodeJSON(c, &v)
		var e *Error
		if !errors.As(err, &e) || e.Status != tt.status {
			t.Errorf("%s: %v, want %d", tt.name, err, tt.status)
		}
		if tt.r.read > MaxJSONBytes+1 {
			t.Errorf("%s: read %d bytes, more than the limit %d", tt.name, tt.r.read, MaxJSONBytes)
		}
	}
	// The same through the echo body limit of the service (Content-Length
	// known): refused before any read.
	r := &countingReader{b: []byte(`[`), n: 10 << 20}
	req := httptest.NewRequest(http.MethodPost, "/x", r)
	req.ContentLength = r.n
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(nil, nil)
	e.POST("/x", func(c *echo.Context) error { var v any; return DecodeJSON(c, &v) }, BodyLimit(MaxJSONBytes))
	e.ServeHTTP(rec, req)
	if rec.Code != 413 || r.read != 0 {
		t.Errorf("body limit: %d after reading %d bytes, want 413 after none", rec.Code, r.read)
	}
}
