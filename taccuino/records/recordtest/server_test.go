package recordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tx builds a transaction Bundle; each entry is "METHOD Type system|value"
// (POST with ifNoneExist, PUT conditional update).
func tx(entries ...string) []byte {
	var es []any
	for _, e := range entries {
		f := strings.Fields(e)
		sys, val, _ := strings.Cut(f[2], "|")
		res := map[string]any{"resourceType": f[1], "identifier": []any{map[string]any{"system": sys, "value": val}}}
		req := map[string]any{"method": f[0], "url": f[1]}
		if f[0] == "POST" {
			req["ifNoneExist"] = "identifier=" + f[2]
		} else {
			req["url"] = f[1] + "?identifier=" + url.QueryEscape(f[2])
		}
		es = append(es, map[string]any{"resource": res, "request": req})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": es})
	return b
}

func post(t *testing.T, s *Server, body []byte, token string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct {
		Entry []struct {
			Response struct{ Status string } `json:"response"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(b, &out)
	var st []string
	for _, e := range out.Entry {
		st = append(st, e.Response.Status)
	}
	return res.StatusCode, st
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, st := post(t, s, tx("POST Observation s|1", "POST Patient p|1"), "")
	if code != 200 || !cmp.Equal(st, []string{"201 Created", "201 Created"}) {
		t.Fatalf("first: %d %v", code, st)
	}
	code, st = post(t, s, tx("POST Observation s|1", "POST Observation s|2", "PUT Observation s|1"), "")
	if code != 200 || !cmp.Equal(st, []string{"200 OK", "201 Created", "200 OK"}) {
		t.Fatalf("second: %d %v", code, st)
	}
	if n := s.Count("Observation", "s|1"); n != 1 {
		t.Errorf("s|1 held %d times", n)
	}
	if v := s.Resources("Observation")[0].Version; v != 2 {
		t.Errorf("conditional update: version %d, want 2", v)
	}
	// A bad entry fails the whole transaction: nothing of it is kept.
	bad := tx("POST Observation s|3", "POST Observation s|4")
	var b map[string]any
	_ = json.Unmarshal(bad, &b)
	b["entry"].([]any)[1].(map[string]any)["request"].(map[string]any)["ifNoneExist"] = "code=1"
	bad, _ = json.Marshal(b)
	if code, _ := post(t, s, bad, ""); code != 400 || s.Count("Observation", "s|3") != 0 {
		t.Errorf("bad transaction: %d, s|3 held %d", code, s.Count("Observation", "s|3"))
	}
	if d := s.Duplicates(); len(d) != 0 {
		t.Errorf("duplicates %v", d)
	}
	// Restart on the same port keeps the data.
	u := s.URL()
	s.Stop()
	if code, _ := post(t, s, tx("POST Observation s|9"), ""); code != 0 {
		t.Errorf("stopped server answered %d", code)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != u || s.Count("Observation", "s|2") != 1 {
		t.Errorf("after restart: %s (was %s), s|2 held %d", s.URL(), u, s.Count("Observation", "s|2"))
	}
}

func TestFailuresAreDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []Failure {
		s, err := New(Options{FailRate: 0.5, Seed: 7, Failures: []Failure{Fail500, Fail503, FailAfterCommit}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := range 40 {
			post(t, s, tx(fmt.Sprintf("POST Observation s|%d", i)), "")
		}
		var fs []Failure
		applied := 0
		for _, r := range s.Requests() {
			fs = append(fs, r.Failure)
			if r.Applied {
				applied++
			}
		}
		// Applied: served requests and failures after commit.
		if n := len(s.Resources("")); n != applied {
			t.Errorf("%d resources for %d applied transactions", n, applied)
		}
		return fs
	}
	a, b := run(), run()
	if !cmp.Equal(a, b) {
		t.Error("the same seed failed different requests")
	}
	failed := 0
	for _, f := range a {
		if f != FailNone {
			failed++
		}
	}
	if failed < 10 || failed > 30 {
		t.Errorf("%d of 40 failed at rate 0.5", failed)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Token: "static", Clients: map[string]string{"c": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, _ := post(t, s, tx("POST Observation s|1"), ""); code != 401 {
		t.Errorf("without token: %d", code)
	}
	if code, _ := post(t, s, tx("POST Observation s|1"), "static"); code != 200 {
		t.Errorf("static token: %d", code)
	}
	tokenFor := func(id, secret string) (int, string) {
		req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(res.Body).Decode(&tr)
		return res.StatusCode, tr.AccessToken
	}
	if code, _ := tokenFor("c", "wrong"); code != 401 {
		t.Errorf("wrong secret: %d", code)
	}
	code, tok := tokenFor("c", "secret")
	if code != 200 || tok == "" {
		t.Fatalf("token: %d", code)
	}
	if code, _ := post(t, s, tx("POST Observation s|2"), tok); code != 200 {
		t.Errorf("issued token: %d", code)
	}
}
