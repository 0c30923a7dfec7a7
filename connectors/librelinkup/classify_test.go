package librelinkup_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup"
)

// TestClassification replays the recorded error bodies with the HTTP status
// they were seen with (the issues and client code testdata/SOURCES.md
// names for each body) and other answers of
// the catalogue, and checks the kind, the action and the details.
func TestClassification(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	html := "text/html; charset=UTF-8"
	tests := []struct {
		name        string
		op          string // "login", "connections" or "graph"
		status      int
		contentType string
		header      map[string]string
		body        string
		kind        librelinkup.ErrorKind
		action      librelinkup.Action
		check       func(*librelinkup.Error) bool
	}{
		{name: "couldNotLoadPatient", op: "graph", status: 200, body: read("error_status4_couldNotLoadPatient.json"),
			kind: librelinkup.KindPatientNotFound, action: librelinkup.ActionRelink,
			check: func(e *librelinkup.Error) bool { return e.Status == 4 && e.Message == "couldNotLoadPatient" }},
		{name: "920 below our version", op: "connections", status: 403, body: read("error_920_minimum_version.json"),
			kind: librelinkup.KindVersionTooOld, action: librelinkup.ActionOperator,
			check: func(e *librelinkup.Error) bool { return e.MinimumVersion == "4.12.0" && e.Status == 920 }},
		{name: "RequiredHeaderMissing", op: "connections", status: 400, body: read("error_required_header_missing.json"),
			kind: librelinkup.KindRequiredHeaderMissing, action: librelinkup.ActionOperator},
		{name: "invalid jwt", op: "connections", status: 401, body: read("error_401_invalid_or_expired_jwt.json"),
			kind: librelinkup.KindUnauthorized, action: librelinkup.ActionLogin,
			check: func(e *librelinkup.Error) bool { return e.Message == "invalid or expired jwt" }},
		{name: "911", op: "graph", status: 200, body: read("error_status911.json"),
			kind: librelinkup.KindMaintenance, action: librelinkup.ActionBackOff,
			check: func(e *librelinkup.Error) bool { return e.Backoff() == librelinkup.DefaultMaintenanceWait }},
		{name: "locked with Retry-After", op: "login", status: 200, header: map[string]string{"Retry-After": "600"}, body: read("error_429_locked.json"),
			kind: librelinkup.KindLocked, action: librelinkup.ActionBackOff,
			check: func(e *librelinkup.Error) bool { return e.RetryAfter == 600*time.Second && e.Message == "locked" }},
		{name: "locked as HTTP 429", op: "login", status: 429, body: read("error_429_locked.json"),
			kind: librelinkup.KindLocked, action: librelinkup.ActionBackOff,
			check: func(e *librelinkup.Error) bool { return e.RetryAfter == 300*time.Second }},
		{name: "incorrect password", op: "login", status: 200, body: read("login_failed_incorrect_password.json"),
			kind: librelinkup.KindBadCredentials, action: librelinkup.ActionStopCredentials,
			check: func(e *librelinkup.Error) bool { return e.Message == "incorrect username/password" }},
		{name: "429 plain", op: "connections", status: 429, contentType: "text/plain", body: "Too Many Requests",
			kind: librelinkup.KindRateLimited, action: librelinkup.ActionBackOff},
		{name: "429 huge Retry-After", op: "connections", status: 429, header: map[string]string{"Retry-After": "9999999"}, body: "{}",
			kind: librelinkup.KindRateLimited, action: librelinkup.ActionBackOff,
			check: func(e *librelinkup.Error) bool { return e.RetryAfter == librelinkup.MaxRetryAfter }},
		{name: "502 HTML", op: "graph", status: 502, contentType: html, body: "<html><head><title>502 Bad Gateway</title></head></html>",
			kind: librelinkup.KindServerError, action: librelinkup.ActionRetry,
			check: func(e *librelinkup.Error) bool { return e.Message == "502 Bad Gateway" }},
		{name: "HTML with 200", op: "connections", status: 200, contentType: "text/plain", body: "\n<!DOCTYPE html><title>Just a moment...</title>",
			kind: librelinkup.KindHTMLPage, action: librelinkup.ActionBackOff,
			check: func(e *librelinkup.Error) bool { return e.Message == "Just a moment..." }},
		{name: "unknown status", op: "connections", status: 200, body: `{"status":7,"error":{"message":"somethingNew"}}`,
			kind: librelinkup.KindUnexpected, action: librelinkup.ActionRetry,
			check: func(e *librelinkup.Error) bool { return e.Status == 7 && e.Message == "somethingNew" }},
		{name: "404", op: "graph", status: 404, body: `{"message":"Not Found"}`,
			kind: librelinkup.KindUnexpected, action: librelinkup.ActionRetry},
		{name: "HTTP redirect not followed", op: "connections", status: 302, header: map[string]string{"Location": "https://example.invalid/"}, body: "",
			kind: librelinkup.KindUnexpected, action: librelinkup.ActionRetry},
		{name: "ProductMismatch", op: "connections", status: 400, body: `{"message":"ProductMismatch"}`,
			kind: librelinkup.KindUnexpected, action: librelinkup.ActionRetry,
			check: func(e *librelinkup.Error) bool { return e.Message == "ProductMismatch" }},
		{name: "connections of the wrong shape", op: "connections", status: 200, body: `{"status":0,"data":{"id":"x"}}`,
			kind: librelinkup.KindMalformedJSON, action: librelinkup.ActionRetry},
		// 2026 (reference librelinkup.md §8): a login refused with HTTP 430
		// or 403 and no body, and a login without a token (two-factor),
		// wait for the patient; the advice names the LibreView website.
		{name: "430 empty on login", op: "login", status: 430, contentType: "text/plain", body: "",
			kind: librelinkup.KindLoginRefused, action: librelinkup.ActionWaitPatient,
			check: func(e *librelinkup.Error) bool { return strings.Contains(e.Advice().IT, "www.libreview.com") }},
		{name: "403 empty on login", op: "login", status: 403, body: "  ",
			kind: librelinkup.KindLoginRefused, action: librelinkup.ActionWaitPatient,
			check: func(e *librelinkup.Error) bool { return strings.Contains(e.Advice().EN, "LibreView website") }},
		{name: "403 empty on a data call", op: "graph", status: 403, body: "",
			kind: librelinkup.KindUnexpected, action: librelinkup.ActionRetry},
		{name: "login without a token", op: "login", status: 200,
			body: `{"status":0,"data":{"user":{"id":"7c6d9cf0-0000-4000-8000-000000000001","twoFactor":{"primaryMethod":"email","primaryValue":"m***@example.invalid"}}}}`,
			kind: librelinkup.KindTwoFactor, action: librelinkup.ActionWaitPatient},
		{name: "login with an empty token", op: "login", status: 200,
			body: `{"status":0,"data":{"user":{"id":"u"},"authTicket":{"token":"","expires":0,"duration":0}}}`,
			kind: librelinkup.KindTwoFactor, action: librelinkup.ActionWaitPatient},
		{name: "tou names the LibreView website", op: "login", status: 200, body: read("login_step_tou.json"),
			kind: librelinkup.KindStepRequired, action: librelinkup.ActionWaitPatient,
			check: func(e *librelinkup.Error) bool { return strings.Contains(e.Advice().IT, "sito LibreView") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := librelinkup.New(librelinkup.Config{BaseURL: srv.URL + "/{region}", Region: "eu"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a := &librelinkup.Account{Session: librelinkup.Session{Token: "token", Expires: time.Now().Add(time.Hour), AccountID: "id", Region: "eu"}}
			switch tt.op {
			case "login":
				_, err = c.Login(ctx, email, password)
			case "connections":
				_, err = c.Connections(ctx, a)
			case "graph":
				_, err = c.Graph(ctx, a, "7ad66b40-ba9b-401e-9845-4f49f998cf16")
			}
			e := asError(t, err)
			if e.Kind != tt.kind || e.Action() != tt.action || e.Op != tt.op || e.HTTPStatus != tt.status {
				t.Errorf("%s: error %v: kind %v, action %v, op %q, HTTP %d; want %v, %v, %q, %d",
					tt.name, err, e.Kind, e.Action(), e.Op, e.HTTPStatus, tt.kind, tt.action, tt.op, tt.status)
			}
			if tt.check != nil && !tt.check(e) {
				t.Errorf("%s: details of %+v are wrong", tt.name, e)
			}
			if adv := e.Advice(); adv.In("it") == "" || adv.In("en") == "" || adv.In("it") == adv.In("en") {
				t.Errorf("%s: advice %+v, want Italian and English", tt.name, adv)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, _ := librelinkup.New(librelinkup.Config{BaseURL: url + "/{region}"})
		_, err := c.Login(context.Background(), email, password)
		if e := asError(t, err); e.Kind != librelinkup.KindNetwork || e.Action() != librelinkup.ActionRetry || e.Err == nil {
			t.Errorf("Login = %v, want a network error", err)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		body, err := os.ReadFile(filepath.Join("testdata", "graph_libre3_141_points.json"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
		defer srv.Close()
		c, _ := librelinkup.New(librelinkup.Config{BaseURL: srv.URL + "/{region}", MaxBodyBytes: 4096})
		a := &librelinkup.Account{Session: librelinkup.Session{Token: "t", Expires: time.Now().Add(time.Hour), AccountID: "x"}}
		g, err := c.Graph(context.Background(), a, "p")
		if e := asError(t, err); g != nil || e.Kind != librelinkup.KindMalformedJSON || !strings.Contains(e.Message, "larger than 4096") {
			t.Errorf("Graph of a 44 kB body with a 4 kB limit = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
			<-r.Context().Done()
		}))
		defer srv.Close()
		c, _ := librelinkup.New(librelinkup.Config{BaseURL: srv.URL + "/{region}"})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		_, err := c.Login(ctx, email, password)
		if !errors.Is(err, context.Canceled) || librelinkup.KindOf(err) != 0 {
			t.Errorf("Login with a cancelled context = %v, want context.Canceled and no kind", err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		for _, cfg := range []librelinkup.Config{
			{BaseURL: "ftp://x/{region}"}, {BaseURL: "/{region}"}, {Region: "EU"}, {Region: "e"}, {Version: "4.x"},
		} {
			if _, err := librelinkup.New(cfg); err == nil {
				t.Errorf("New(%+v) accepted a bad config", cfg)
			}
		}
	})
}

func TestRegionURL(t *testing.T) {
	tests := []struct {
		base, region, want string
	}{
		{"", "", "https://api.libreview.io"},
		{"", "eu2", "https://api-eu2.libreview.io"},
		{"", "ru", "https://api.libreview.ru"},
		{"", "cn", "https://api-cn.myfreestyle.cn"},
		{"http://127.0.0.1:8091/{region}", "de", "http://127.0.0.1:8091/de"},
		{"http://127.0.0.1:8091/{region}/", "", "http://127.0.0.1:8091/global"},
		{"https://proxy.example.invalid/llu-{region}", "la", "https://proxy.example.invalid/llu-la"},
		{"https://api-eu.libreview.io", "eu2", "https://api-eu.libreview.io"},
	}
	for _, tt := range tests {
		c, err := librelinkup.New(librelinkup.Config{BaseURL: tt.base})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.RegionURL(tt.region); err != nil || got != tt.want {
			t.Errorf("RegionURL(%q) with base %q = %q, %v; want %q", tt.region, tt.base, got, err, tt.want)
		}
	}
	c, _ := librelinkup.New(librelinkup.Config{})
	if _, err := c.RegionURL("x.evil.example/"); err == nil {
		t.Error("RegionURL accepted a host-injecting region")
	}
}
