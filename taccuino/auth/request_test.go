package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
)

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		err     error
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"scheme case-insensitive", []string{"bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"extra spaces", []string{"Bearer   abc.def.ghi  "}, "abc.def.ghi", nil},
		{"b64token padding", []string{"Bearer abc+/~_-.9=="}, "abc+/~_-.9==", nil},
		{"none", nil, "", auth.ErrMissing},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", auth.ErrMissing},
		{"bearer without token", []string{"Bearer"}, "", auth.ErrMissing},
		{"bearer blank", []string{"Bearer    "}, "", auth.ErrMissing},
		{"two headers", []string{"Bearer a.b.c", "Bearer d.e.f"}, "", auth.ErrMalformed},
		{"bad characters", []string{`Bearer a.b.c"`}, "", auth.ErrMalformed},
		{"padding inside", []string{"Bearer ab=c"}, "", auth.ErrMalformed},
		{"two tokens", []string{"Bearer a.b.c d.e.f"}, "", auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := auth.FromRequest(r)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("FromRequest = %q, %v; want error %v", got, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("FromRequest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromCookie(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := auth.FromCookie(r, "fsecgm_session"); !errors.Is(err, auth.ErrMissing) {
		t.Errorf("FromCookie without cookie = %v, want ErrMissing", err)
	}
	r.AddCookie(&http.Cookie{Name: "fsecgm_session", Value: "abc.def.ghi"})
	got, err := auth.FromCookie(r, "fsecgm_session")
	if err != nil || got != "abc.def.ghi" {
		t.Errorf("FromCookie = %q, %v; want abc.def.ghi", got, err)
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "fsecgm_session=a,b")
	if _, err := auth.FromCookie(r, "fsecgm_session"); !errors.Is(err, auth.ErrMalformed) {
		t.Errorf("FromCookie with a bad value = %v, want ErrMalformed", err)
	}
}

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, `Bearer realm="fsecgm"`},
		{auth.ErrMissing, `Bearer realm="fsecgm"`},
		{auth.ErrExpired, `Bearer realm="fsecgm", error="invalid_token", error_description="the access token expired"`},
		{auth.ErrBadSignature, `Bearer realm="fsecgm", error="invalid_token", error_description="the access token is invalid"`},
	}
	for _, tt := range tests {
		if got := auth.WWWAuthenticate("fsecgm", tt.err); got != tt.want {
			t.Errorf("WWWAuthenticate(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestContext(t *testing.T) {
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Errorf("FromContext of an empty context found a principal")
	}
	p := &auth.Principal{Role: auth.RoleCitizen, Subject: "s"}
	got, ok := auth.FromContext(auth.NewContext(context.Background(), p))
	if !ok || got != p {
		t.Errorf("FromContext(NewContext(p)) = %v, %v; want p", got, ok)
	}
}

func TestVerifyRequest(t *testing.T) {
	d := openDev(t)
	v := newVerifier(t, d.VerifierConfig())
	tok, err := d.Issue(citizen, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := v.VerifyRequest(r); !errors.Is(err, auth.ErrMissing) {
		t.Errorf("VerifyRequest without header = %v, want ErrMissing", err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	p, err := v.VerifyRequest(r)
	if err != nil || p.FiscalCode != citizenCF {
		t.Errorf("VerifyRequest = %v, %v; want the citizen", p, err)
	}
}
