package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// TestCSRFSessionBound checks the signed double-submit token: bound to the
// session cookie, refused for another session (so a token learnt before
// sign-in, or planted, does not work after), rotated when the session
// changes, in a __Host- cookie wherever the browser keeps Secure cookies.
func TestCSRFSessionBound(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(nil, nil)
	opts := CSRFOptions{SessionCookie: SessionCookie}
	e.Use(CSRF(opts))
	e.GET("/form", func(c *echo.Context) error { return c.String(200, CSRFToken(c)) })
	e.POST("/form", func(c *echo.Context) error { return c.String(200, "done") })
	e.POST("/login", func(c *echo.Context) error { return c.String(200, RotateCSRF(c, opts, "new-session")) })
	type req struct {
		method, host, session, cookie, form string
	}
	do := func(r req) *httptest.ResponseRecorder {
		var body *strings.Reader
		if r.form != "" {
			body = strings.NewReader(CSRFField + "=" + r.form)
		} else {
			body = strings.NewReader("")
		}
		hr := httptest.NewRequest(r.method, "http://"+r.host+"/form", body)
		if r.method == "POST" {
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if r.session != "" {
			hr.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.session})
		}
		if r.cookie != "" {
			name := CSRFCookie
			if !loopbackHost(r.host) {
				name = CSRFFallbackCookie
			}
			hr.AddCookie(&http.Cookie{Name: name, Value: r.cookie})
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, hr)
		return w
	}
	// A page gives a token in a __Host- cookie: Secure, Path=/, no Domain.
	w := do(req{method: "GET", host: "127.0.0.1:8080", session: "s1"})
	tok := w.Body.String()
	res := w.Result()
	cs := res.Cookies()
	if len(cs) != 1 || cs[0].Name != "__Host-fsecgm_csrf" || !cs[0].Secure || cs[0].Path != "/" || cs[0].Domain != "" ||
		!cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Value != tok || len(tok) != 64 {
		t.Fatalf("CSRF cookie %+v for token %q", cs, tok)
	}
	if !csrfBound(tok, "s1") || csrfBound(tok, "s2") || csrfBound(tok, "") {
		t.Error("the token is not bound to its session alone")
	}
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"same session", req{"POST", "127.0.0.1:8080", "s1", tok, tok}, 200},
		{"no form token", req{"POST", "127.0.0.1:8080", "s1", tok, ""}, 403},
		{"another session", req{"POST", "127.0.0.1:8080", "s2", tok, tok}, 403},
		{"signed out", req{"POST", "127.0.0.1:8080", "", tok, tok}, 403},
		{"a forged unsigned token", req{"POST", "127.0.0.1:8080", "s1", strings.Repeat("a", 64), strings.Repeat("a", 64)}, 403},
		{"the old 32-character form", req{"POST", "127.0.0.1:8080", "s1", strings.Repeat("a", 32), strings.Repeat("a", 32)}, 403},
	} {
		if w := do(tc.r); w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
	// A token of another session is replaced on the next page (rotation).
	w = do(req{method: "GET", host: "localhost:8080", session: "s2", cookie: tok})
	if w.Body.String() == tok || !csrfBound(w.Body.String(), "s2") {
		t.Error("a page with another session's token did not rotate it")
	}
	// Sign-in rotates at once.
	if w := do(req{method: "POST", host: "localhost", session: "s1", cookie: tok, form: tok}); w.Code != 200 {
		t.Fatalf("sign-in form: %d", w.Code)
	}
	lw := httptest.NewRecorder()
	lr := httptest.NewRequest("POST", "http://localhost/login", nil)
	lr.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
	lr.AddCookie(&http.Cookie{Name: SessionCookie, Value: "s1"})
	lr.Header.Set(CSRFHeader, tok)
	e.ServeHTTP(lw, lr)
	if nt := lw.Body.String(); lw.Code != 200 || nt == tok || !csrfBound(nt, "new-session") {
		t.Errorf("sign-in did not rotate the token: %d %q", lw.Code, nt)
	}
	// Plain http to a host that is not the loopback: the fallback name,
	// without Secure (browsers refuse Secure cookies there).
	w = do(req{method: "GET", host: "192.0.2.7:8080"})
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].Name != CSRFFallbackCookie || cs[0].Secure {
		t.Errorf("plain http on a LAN address: %+v", cs)
	}
	// A service reached over HTTPS never uses (nor reads) the fallback.
	hs := echo.New()
	hs.HTTPErrorHandler = ErrorHandler(nil, nil)
	hs.Use(CSRF(CSRFOptions{Secure: true, SessionCookie: SessionCookie}))
	hs.POST("/form", func(c *echo.Context) error { return c.String(200, "done") })
	ft := NewCSRFToken("")
	hr := httptest.NewRequest("POST", "http://taccuino.example/form", strings.NewReader(CSRFField+"="+ft))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.AddCookie(&http.Cookie{Name: CSRFFallbackCookie, Value: ft})
	hw := httptest.NewRecorder()
	hs.ServeHTTP(hw, hr)
	if hw.Code != 403 {
		t.Errorf("HTTPS service accepted the fallback cookie: %d", hw.Code)
	}
	for host, want := range map[string]bool{"localhost": true, "LOCALHOST:80": true, "app.localhost:1": true, "127.0.0.2:8080": true,
		"[::1]:8080": true, "192.168.1.10:8080": false, "taccuino.example": false, "localhost.example": false} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
