package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/jsonscan"

	"github.com/labstack/echo/v5"
)

func TestJSONDepth(t *testing.T) {
	for in, want := range map[string]int{
		`{}`:                    1,
		`{"a":[1,{"b":[]}]}`:    4,
		`"[[[[["`:               0,
		`{"a":"\"[[["}`:         1,
		`[[["x\\"],[]]]`:        3,
		strings.Repeat("[", 50): 50,
	} {
		if got := jsonscan.Depth([]byte(in)); got != want {
			t.Errorf("Depth(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestDecodeJSONDuplicates checks that a body naming a member twice, at
// any depth and in any spelling encoding/json would match to the same
// field, is refused with 400 naming the member's JSON pointer, before
// decoding.
func TestDecodeJSONDuplicates(t *testing.T) {
	for _, tt := range []struct{ body, field string }{
		{`{"name":"a","name":"b"}`, "/name"},
		{`{"granted":true,"Granted":false}`, "/Granted"},
		{`{"name":"a","n\u0061me":"b"}`, "/name"},
		{`{"inner":{"count":1,"count":2}}`, "/inner/count"},
		{`{"inner":{"inner":{"tags":[],"value":1,"VALUE":2}}}`, "/inner/inner/VALUE"},
		{`{"extra":{"k":"1","k":"2"}}`, "/extra/k"},
	} {
		var v fuzzBody
		err := decode([]byte(tt.body), "application/json", &v)
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Field != tt.field || !strings.Contains(e.Message, tt.field) {
			t.Errorf("%s: %v (field %q), want 400 naming %s", tt.body, err, fieldOf(e), tt.field)
		}
	}
	var v fuzzBody
	if err := decode([]byte(`{"name":"a","inner":{"name":"b"},"extra":{"name":"c"}}`), "application/json", &v); err != nil {
		t.Errorf("the same name in different objects: %v", err)
	}
}

func fieldOf(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestAsError(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{&consent.DeniedError{Action: consent.ActReadData, Reason: consent.ReasonNoConsent}, 403, CodeForbidden},
		{fmt.Errorf("x: %w", consent.ErrNotFound), 404, CodeNotFound},
		{fmt.Errorf("x: %w", cgmstore.ErrNotFound), 404, CodeNotFound},
		{fmt.Errorf("%w: delegate: must be an adult", consent.ErrInvalid), 422, CodeInvalid},
		{fmt.Errorf("x: %w", cgmstore.ErrConflict), 409, CodeConflict},
		{fmt.Errorf("verify: %w", auth.ErrExpired), 401, CodeUnauthenticated},
		{fmt.Errorf("verify: %w", auth.ErrKeySetUnavailable), 503, CodeUnavailable},
		{echo.ErrNotFound, 404, CodeNotFound},
		{echo.ErrStatusRequestEntityTooLarge, 413, CodeTooLarge},
		{errors.New("boom"), 500, CodeInternal},
		{Invalid("/x", "bad"), 422, CodeInvalid},
	} {
		e := AsError(tt.err)
		if e.Status != tt.status || e.Code != tt.code {
			t.Errorf("AsError(%v) = %d %s, want %d %s", tt.err, e.Status, e.Code, tt.status, tt.code)
		}
		if tt.status == 500 && strings.Contains(e.Message, "boom") {
			t.Errorf("a 500 shows its cause: %q", e.Message)
		}
	}
	// A refusal never says why.
	e := AsError(&consent.DeniedError{Action: consent.ActReadData, Reason: consent.ReasonNoConsent})
	b, _ := json.Marshal(e)
	if strings.Contains(string(b), "consent") || string(b) != `{"error":{"code":"forbidden","message":"access to this record is not allowed"}}` {
		t.Errorf("403 body %s", b)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		origin, referer, host, self string
		ok                          bool
	}{
		{"", "", "a.example", "", true},
		{"https://a.example", "", "a.example", "", true},
		{"https://b.example", "", "a.example", "", false},
		{"https://a.example", "", "a.example", "https://a.example", true},
		{"http://a.example", "", "a.example", "https://a.example", false},
		{"", "https://a.example/taccuino", "a.example", "", true},
		{"", "https://evil.example/x", "a.example", "", false},
		{"null", "", "a.example", "", false}, // opaque origins (sandboxes) are refused
	} {
		r := httptest.NewRequest("POST", "http://"+tt.host+"/x", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if tt.referer != "" {
			r.Header.Set("Referer", tt.referer)
		}
		if got := sameOrigin(r, tt.self); got != tt.ok {
			t.Errorf("%+v: %v", tt, got)
		}
	}
}

// TestMiddlewareChain runs a tiny echo app through the kit: request id,
// log line without the path's query, JSON errors, body limit, decode.
func TestMiddlewareChain(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(logger, nil)
	e.Use(RequestID(), RequestLogger(logger), Recover(), SecurityHeaders(SecurityOptions{HSTS: true}), BodyLimit(100))
	type body struct {
		N int `json:"n"`
	}
	e.POST("/echo/:x", func(c *echo.Context) error {
		var b body
		if err := DecodeJSON(c, &b); err != nil {
			return err
		}
		return c.JSON(200, b)
	})
	e.GET("/panic", func(c *echo.Context) error { panic("secret value 123") })
	do := func(method, path, ct, b string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(b))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	if w := do("POST", "/echo/RSSMRA80A01H501U?cf=RSSMRA80A01H501U", "application/json", `{"n":7}`); w.Code != 200 || w.Body.String() != "{\"n\":7}\n" {
		t.Errorf("echo: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/echo/x", "application/json", `{"n":"`+strings.Repeat("a", 200)+`"}`); w.Code != 413 {
		t.Errorf("over the limit: %d", w.Code)
	}
	if w := do("GET", "/panic", "", ""); w.Code != 500 || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("panic: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/panic", "", ""); w.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS")
	}
	out := logs.String()
	if strings.Contains(out, "RSSMRA80A01H501U") || strings.Contains(out, "secret value") {
		t.Errorf("the log holds personal data:\n%s", out)
	}
	if !strings.Contains(out, `"route":"/echo/:x"`) || !strings.Contains(out, `"request_id":"`) {
		t.Errorf("the log lacks the route pattern or request id:\n%s", out)
	}
	if n := strings.Count(out, `"msg":"request"`); n != 4 {
		t.Errorf("%d request lines, want 4", n)
	}
}
