package librelinkuptest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

const (
	testEmail    = "anna.bianchi@example.invalid"
	testPassword = "Giusta-2025"
	testVersion  = "4.17.0"
)

type harness struct {
	srv       *Server
	clock     *Clock
	patientID string
	sim       *glucosim.Patient
}

func newHarness(t testing.TB, opts Options, now time.Time, unit cgm.Unit) *harness {
	t.Helper()
	h := &harness{clock: NewClock(now)}
	opts.Now = h.clock.Now
	h.srv = New(opts)
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	h.sim = glucosim.New(99, glucosim.Libre3, loc)
	h.patientID, err = h.srv.AddPatient(Patient{FirstName: "Anna", LastName: "Bianchi", Unit: unit, Sim: h.sim})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.AddAccount(Account{Email: testEmail, Password: testPassword, Region: "eu", Follows: []string{h.patientID}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// do serves one request in process and returns the status, header and body.
func (h *harness) do(t testing.TB, method, target string, hdr map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("product", "llu.android")
	req.Header.Set("version", testVersion)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func (h *harness) login(t testing.TB, target, email, password string) (int, []byte) {
	t.Helper()
	code, _, body := h.do(t, http.MethodPost, target, nil, fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	return code, body
}

// token logs in at /eu and returns the token.
func (h *harness) token(t testing.TB) string {
	t.Helper()
	code, body := h.login(t, "/eu/llu/auth/login", testEmail, testPassword)
	var r struct {
		Data struct {
			AuthTicket struct{ Token string } `json:"authTicket"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || code != 200 || r.Data.AuthTicket.Token == "" {
		t.Fatalf("login: %d %s", code, body)
	}
	return r.Data.AuthTicket.Token
}

func (h *harness) authed(t testing.TB, tok string) map[string]string {
	t.Helper()
	aid, err := h.srv.AccountIDOf(testEmail)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + tok, "Account-Id": aid}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shape maps every JSON pointer of a document (array indices as "*",
// members of maps keyed by ids as "*") to the JSON type found there.
func shape(t testing.TB, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, doc)
	}
	out := map[string]string{}
	set := func(p, typ string) {
		// A pointer that holds several types (a collapsed map or array)
		// lists them all, in order.
		types := strings.Split(out[p], "|")
		if out[p] == "" {
			types = nil
		}
		if !slices.Contains(types, typ) {
			types = append(types, typ)
			slices.Sort(types)
		}
		out[p] = strings.Join(types, "|")
	}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			set(p, "object")
			for k, c := range x {
				if strings.HasSuffix(p, "/devices") || strings.HasSuffix(p, "/system/messages") || strings.HasSuffix(p, "/consents") {
					k = "*"
				}
				walk(p+"/"+k, c)
			}
		case []any:
			set(p, "array")
			for _, c := range x {
				walk(p+"/*", c)
			}
		case string:
			set(p, "string")
		case float64:
			set(p, "number")
		case bool:
			set(p, "bool")
		case nil:
			set(p, "null")
		}
	}
	walk("", v)
	return out
}

// TestWireShapeMatchesFixtures: the fake's replies have the members, and the
// JSON types, of the recorded real replies.
func TestWireShapeMatchesFixtures(t *testing.T) {
	h := newHarness(t, Options{}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	tok := h.token(t)
	auth := h.authed(t, tok)
	_, _, graph := h.do(t, http.MethodGet, "/eu/llu/connections/"+h.patientID+"/graph", auth, "")
	_, _, conns := h.do(t, http.MethodGet, "/eu/llu/connections", auth, "")
	_, _, logbook := h.do(t, http.MethodGet, "/eu/llu/connections/"+h.patientID+"/logbook", auth, "")
	_, login := h.login(t, "/eu/llu/auth/login", testEmail, testPassword)
	if err := h.srv.SetSteps(testEmail, "pp"); err != nil {
		t.Fatal(err)
	}
	_, step := h.login(t, "/eu/llu/auth/login", testEmail, testPassword)
	if err := h.srv.SetSteps(testEmail, "verifyEmail"); err != nil {
		t.Fatal(err)
	}
	_, verify := h.login(t, "/eu/llu/auth/login", testEmail, testPassword)

	tests := []struct {
		name    string
		fake    []byte
		fixture string
		// members the fake leaves out or adds, as a documented difference,
		// and members whose type varies in the fixture
		missing, extra, ignore []string
	}{
		{name: "graph", fake: graph, fixture: "graph_libre3_141_points.json",
			// alarm switches ("on", "l", "h") of the patient's app appear in other fixtures
			extra: []string{"/data/connection/alarmRules/h/on", "/data/connection/alarmRules/l/on",
				"/data/connection/patientDevice/l", "/data/connection/patientDevice/h",
				"/data/activeSensors/*/device/l", "/data/activeSensors/*/device/h"}},
		{name: "connections", fake: conns, fixture: "connections_two_patients.json",
			ignore: []string{"/data/*/sensor"}}, // an object, or null for the fixture's second patient
		{name: "logbook", fake: logbook, fixture: "logbook_type1_mmol.json",
			extra: []string{"/data/*/alarmType"}}, // the fake's logbook also has type-3 alarms
		{name: "login", fake: login, fixture: "login_success.json",
			// the fixture's account has no llu consent; the fake's has no real-world-evidence consent
			missing: []string{"/data/user/consents/*/history", "/data/user/consents/*/history/*", "/data/user/consents/*/history/*/policyAccept"}},
		{name: "step pp", fake: step, fixture: "login_step_pp.json"},
		{name: "step verifyEmail", fake: verify, fixture: "login_step_verifyemail.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := shape(t, tt.fake), shape(t, readFixture(t, tt.fixture))
			for _, p := range tt.missing {
				delete(want, p)
			}
			for _, p := range tt.extra {
				delete(got, p)
			}
			for _, p := range tt.ignore {
				delete(got, p)
				delete(want, p)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("members of the fake's %s differ from %s (-real +fake):\n%s", tt.name, tt.fixture, diff)
			}
		})
	}
	// The connections list also matches the second fixture patient's
	// "sensor": null when the fault is on.
	if err := h.srv.SetSteps(testEmail); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.SetFaults(testEmail, Faults{SensorNull: true}); err != nil {
		t.Fatal(err)
	}
	_, _, conns = h.do(t, http.MethodGet, "/eu/llu/connections", auth, "")
	if !bytes.Contains(conns, []byte(`"sensor":null`)) {
		t.Errorf("sensor null fault: %.200s", conns)
	}
}

// TestFixedBodies: error answers are the recorded bodies, byte for byte
// after compaction, with the recorded HTTP status.
func TestFixedBodies(t *testing.T) {
	h := newHarness(t, Options{MinVersion: "4.12.0"}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	tok := h.token(t)
	auth := h.authed(t, tok)
	compact := func(b []byte) string {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatalf("compact %s: %v", b, err)
		}
		return buf.String()
	}
	type answer struct {
		code int
		body []byte
	}
	get := func(target string, hdr map[string]string) answer {
		code, _, body := h.do(t, http.MethodGet, target, hdr, "")
		return answer{code, body}
	}
	noAccount := map[string]string{"Authorization": auth["Authorization"]}
	old := map[string]string{"Authorization": auth["Authorization"], "Account-Id": auth["Account-Id"], "version": "4.11.2"}
	badLogin := func() answer { c, b := h.login(t, "/eu/llu/auth/login", testEmail, "x"); return answer{c, b} }
	tests := []struct {
		name    string
		got     answer
		code    int
		fixture string
	}{
		{"unknown patient", get("/eu/llu/connections/nobody/graph", auth), 200, "error_status4_couldNotLoadPatient.json"},
		{"missing Account-Id", get("/eu/llu/connections", noAccount), 400, "error_required_header_missing.json"},
		{"bad token", get("/eu/llu/connections", map[string]string{"Authorization": "Bearer x.y.z"}), 401, "error_401_invalid_or_expired_jwt.json"},
		{"old version", get("/eu/llu/connections", old), 403, "error_920_minimum_version.json"},
		{"bad password", badLogin(), 200, "login_failed_status2.json"},
		{"another bad password", badLogin(), 200, "login_failed_status2.json"},
		{"third bad password", badLogin(), 200, "login_failed_status2.json"},
		{"locked", badLogin(), 200, "error_429_locked.json"},
	}
	for _, tt := range tests {
		if tt.got.code != tt.code || compact(tt.got.body) != compact(readFixture(t, tt.fixture)) {
			t.Errorf("%s: %d %s, want %d and the body of %s", tt.name, tt.got.code, tt.got.body, tt.code, tt.fixture)
		}
	}
	if err := h.srv.SetFaults(testEmail, Faults{Maintenance: true}); err != nil {
		t.Fatal(err)
	}
	if a := get("/eu/llu/connections", auth); compact(a.body) != compact(readFixture(t, "error_status911.json")) {
		t.Errorf("maintenance: %s", a.body)
	}
}

// TestTimestampsAcrossDST: FactoryTimestamp is UTC, Timestamp the wall clock
// of Europe/Rome, both in the US layout; across a change the difference
// goes from one hour to two (spring) or back (autumn, with a repeated hour).
func TestTimestampsAcrossDST(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Rome")
	for _, tt := range []struct {
		now           time.Time
		before, after time.Duration
	}{
		{time.Date(2024, 3, 31, 6, 0, 0, 0, time.UTC), time.Hour, 2 * time.Hour},
		{time.Date(2024, 10, 27, 7, 0, 0, 0, time.UTC), 2 * time.Hour, time.Hour},
	} {
		h := newHarness(t, Options{}, tt.now, cgm.MmolL)
		_, _, body := h.do(t, http.MethodGet, "/eu/llu/connections/"+h.patientID+"/graph", h.authed(t, h.token(t)), "")
		var g struct {
			Data struct {
				GraphData []struct {
					FactoryTimestamp, Timestamp string
					ValueInMgPerDl              int
					Value                       float64
					GlucoseUnits                int
				} `json:"graphData"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &g); err != nil {
			t.Fatal(err)
		}
		var offsets []time.Duration
		var prev time.Time
		for _, p := range g.Data.GraphData {
			ft, err1 := time.Parse("1/2/2006 3:04:05 PM", p.FactoryTimestamp)
			lt, err2 := time.Parse("1/2/2006 3:04:05 PM", p.Timestamp)
			if err1 != nil || err2 != nil {
				t.Fatalf("timestamps %q %q: %v %v", p.FactoryTimestamp, p.Timestamp, err1, err2)
			}
			if want := ft.In(loc).Format("1/2/2006 3:04:05 PM"); p.Timestamp != want {
				t.Errorf("Timestamp %q for FactoryTimestamp %q, want %q", p.Timestamp, p.FactoryTimestamp, want)
			}
			if !prev.IsZero() && !ft.After(prev) {
				t.Errorf("FactoryTimestamp %v not after %v", ft, prev)
			}
			prev = ft
			offsets = append(offsets, lt.Sub(ft))
			// mmol/L patient: Value in mmol/L with one decimal, ValueInMgPerDl in mg/dL.
			if want := float64(int(float64(p.ValueInMgPerDl)/cgm.MgDLPerMmolL*10+0.5)) / 10; p.GlucoseUnits != 0 || p.Value != want {
				t.Errorf("mmol/L point %d mg/dL has Value %v units %d, want %v units 0", p.ValueInMgPerDl, p.Value, p.GlucoseUnits, want)
			}
		}
		if len(offsets) < 100 || offsets[0] != tt.before || offsets[len(offsets)-1] != tt.after {
			t.Errorf("%v: offsets from %v to %v over %d points, want %v to %v", tt.now, offsets[0], offsets[len(offsets)-1], len(offsets), tt.before, tt.after)
		}
	}
}

func TestLockoutWindow(t *testing.T) {
	h := newHarness(t, Options{}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	status := func(body []byte) int {
		var r struct{ Status int }
		_ = json.Unmarshal(body, &r)
		return r.Status
	}
	bad := func() int { _, b := h.login(t, "/eu/llu/auth/login", testEmail, "x"); return status(b) }
	good := func() int { _, b := h.login(t, "/eu/llu/auth/login", testEmail, testPassword); return status(b) }
	if bad() != 2 || bad() != 2 {
		t.Fatal("bad logins not status 2")
	}
	h.clock.Advance(61 * time.Second) // the first two leave the 60-s window
	if bad() != 2 || good() != 0 {
		t.Fatal("a third failure after the window locked the account")
	}
	bad()
	bad()
	if s := bad(); s != 2 {
		t.Fatalf("third failure within the window = status %d", s)
	}
	if s := good(); s != 429 {
		t.Fatalf("login after 3 failures in 60 s = status %d, want 429", s)
	}
	h.clock.Advance(300 * time.Second)
	if s := good(); s != 0 {
		t.Errorf("login after 300 s = status %d, want 0", s)
	}
	if st := h.srv.Stats(testEmail); st.FailedLogins != 6 || st.Locked != 1 || st.SuccessfulLogins != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestStepsAndContinue(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{}, now, cgm.MgDL)
	if err := h.srv.SetSteps(testEmail, "tou", "pp"); err != nil {
		t.Fatal(err)
	}
	type stepReply struct {
		Status int
		Data   struct {
			Step       struct{ Type string } `json:"step"`
			AuthTicket struct {
				Token    string
				Expires  int64
				Duration int64
			} `json:"authTicket"`
		}
	}
	parse := func(b []byte) stepReply {
		var r stepReply
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return r
	}
	r := parse(func() []byte { _, b := h.login(t, "/eu/llu/auth/login", testEmail, testPassword); return b }())
	if r.Status != 4 || r.Data.Step.Type != "tou" || r.Data.AuthTicket.Duration != 3600000 || r.Data.AuthTicket.Expires != now.Add(time.Hour).Unix() {
		t.Fatalf("first step %+v", r)
	}
	// The step token opens nothing but the step.
	if code, _, _ := h.do(t, http.MethodGet, "/eu/llu/connections", h.authed(t, r.Data.AuthTicket.Token), ""); code != 401 {
		t.Errorf("connections with a pending step = %d, want 401", code)
	}
	bearer := map[string]string{"Authorization": "Bearer " + r.Data.AuthTicket.Token}
	_, _, b := h.do(t, http.MethodPost, "/eu/auth/continue/tou", bearer, "")
	if r = parse(b); r.Status != 4 || r.Data.Step.Type != "pp" {
		t.Fatalf("after accepting tou: %+v", r)
	}
	_, _, b = h.do(t, http.MethodPost, "/eu/auth/continue/pp", map[string]string{"Authorization": "Bearer " + r.Data.AuthTicket.Token}, "")
	if r = parse(b); r.Status != 0 || r.Data.AuthTicket.Duration != 15552000000 {
		t.Fatalf("after accepting pp: %+v", r)
	}
	if code, _, _ := h.do(t, http.MethodGet, "/eu/llu/connections", h.authed(t, r.Data.AuthTicket.Token), ""); code != 200 {
		t.Errorf("connections after the steps = %d", code)
	}
	if st := h.srv.Stats(testEmail); st.Continues != 2 || st.Steps != 2 {
		t.Errorf("stats %+v, want 2 continues and 2 step answers", st)
	}
}

func TestRegionsByPathAndHost(t *testing.T) {
	h := newHarness(t, Options{}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	if err := h.srv.AddAccount(Account{Email: "uk@example.invalid", Password: testPassword, Region: "eu2"}); err != nil {
		t.Fatal(err)
	}
	login := func(target, host, email string) string {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, testPassword)))
		req.Host = host
		req.Header.Set("product", "llu.ios")
		req.Header.Set("version", testVersion)
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, req)
		var r struct {
			Status int
			Data   struct {
				Redirect bool
				Region   string
			}
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &r)
		if r.Data.Redirect {
			return "redirect " + r.Data.Region
		}
		return fmt.Sprintf("status %d", r.Status)
	}
	tests := []struct{ target, host, email, want string }{
		{"/llu/auth/login", "127.0.0.1:8091", testEmail, "redirect eu"},
		{"/global/llu/auth/login", "127.0.0.1:8091", "uk@example.invalid", "redirect eu2"},
		{"/eu2/llu/auth/login", "127.0.0.1:8091", "uk@example.invalid", "status 0"},
		{"/llu/auth/login", "api-eu2.libreview.io", "uk@example.invalid", "status 0"},
		{"/llu/auth/login", "api.libreview.io", "uk@example.invalid", "redirect eu2"},
		{"/llu/auth/login", "api-eu.libreview.io:443", testEmail, "status 0"},
		{"/de/llu/auth/login", "", testEmail, "redirect eu"},
		{"/llu/auth/login", "api.libreview.ru", testEmail, "redirect eu"},
	}
	for _, tt := range tests {
		if got := login(tt.target, tt.host, tt.email); got != tt.want {
			t.Errorf("login %s (Host %s) for %s = %s, want %s", tt.target, tt.host, tt.email, got, tt.want)
		}
	}
	h911 := newHarness(t, Options{StrangerHost911: true}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	if _, b := h911.login(t, "/de/llu/auth/login", testEmail, testPassword); string(b) != `{"status":911}` {
		t.Errorf("login on a stranger host with StrangerHost911 = %s", b)
	}
	// A data call on another region's host than the token's.
	if code, _, b := h.do(t, http.MethodGet, "/de/llu/connections", h.authed(t, h.token(t)), ""); code != 200 || string(b) != `{"status":911}` {
		t.Errorf("data call at the wrong region = %d %s", code, b)
	}
}

func TestTokensAndTickets(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{}, now, cgm.MgDL)
	tok := h.token(t)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	head, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var hdr map[string]any
	var cl map[string]any
	if json.Unmarshal(head, &hdr) != nil || json.Unmarshal(payload, &cl) != nil {
		t.Fatalf("undecodable token %s %s", head, payload)
	}
	if hdr["alg"] != "HS256" || hdr["typ"] != "JWT" {
		t.Errorf("header %v", hdr)
	}
	for _, k := range []string{"id", "firstName", "lastName", "country", "region", "role", "units", "practices", "email", "c", "s", "exp"} {
		if _, ok := cl[k]; !ok {
			t.Errorf("claim %q missing from %v", k, cl)
		}
	}
	if cl["region"] != "eu" || cl["s"] != "llu.android" || cl["role"] != "patient" || cl["exp"] != float64(now.Add(180*24*time.Hour).Unix()) {
		t.Errorf("claims %v", cl)
	}
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("wrong key"), nil }); err == nil {
		t.Error("token verifies with another key")
	}
	// Every authenticated reply carries a fresh ticket.
	tickets := map[string]bool{}
	for range 3 {
		_, _, b := h.do(t, http.MethodGet, "/eu/llu/connections", h.authed(t, tok), "")
		var r struct {
			Ticket struct {
				Token    string
				Expires  int64
				Duration int64
			}
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.Ticket.Expires != h.clock.Now().Add(TokenLifetime).Unix() || r.Ticket.Duration != 15552000000 {
			t.Errorf("ticket %+v", r.Ticket)
		}
		tickets[r.Ticket.Token] = true
		h.clock.Advance(time.Second)
	}
	if len(tickets) != 3 {
		t.Errorf("%d distinct tickets in 3 replies a second apart, want 3", len(tickets))
	}
	// Tokens expire after 180 days.
	h.clock.Advance(TokenLifetime)
	if code, _, _ := h.do(t, http.MethodGet, "/eu/llu/connections", h.authed(t, tok), ""); code != 401 {
		t.Errorf("call with a 180-day-old token = %d, want 401", code)
	}
}

func TestHeaderChecks(t *testing.T) {
	h := newHarness(t, Options{WrongAccountIDStatus: 403}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	tok := h.token(t)
	auth := h.authed(t, tok)
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range auth {
			if a != k {
				m[a] = b
			}
		}
		return m
	}
	tests := []struct {
		name string
		hdr  map[string]string
		code int
	}{
		{"all good", auth, 200},
		{"wrong Account-Id", with("Account-Id", strings.Repeat("0", 64)), 403},
		{"no version", with("version", ""), 400},
		{"no product", with("product", ""), 400},
		{"version 4.15.9", with("version", "4.15.9"), 403},
		{"version 4.16.0", with("version", "4.16.0"), 200},
		{"version garbage", with("version", "latest"), 403},
	}
	for _, tt := range tests {
		if code, _, body := h.do(t, http.MethodGet, "/eu/llu/connections", tt.hdr, ""); code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, code, body, tt.code)
		}
	}
}

func TestRequestFaults(t *testing.T) {
	h := newHarness(t, Options{}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	tok := h.token(t)
	auth := h.authed(t, tok)
	target := "/eu/llu/connections/" + h.patientID + "/graph"
	_, _, good := h.do(t, http.MethodGet, target, auth, "")
	tests := []struct {
		name   string
		faults Faults
		check  func(code int, hdr http.Header, body []byte) bool
	}{
		{"cloudflare 403", Faults{Cloudflare: 403}, func(c int, hd http.Header, b []byte) bool {
			return c == 403 && strings.HasPrefix(hd.Get("Content-Type"), "text/html") && bytes.Contains(b, []byte("Attention Required! | Cloudflare"))
		}},
		{"cloudflare 429", Faults{Cloudflare: 429, RetryAfter: 90 * time.Second}, func(c int, hd http.Header, b []byte) bool {
			return c == 429 && hd.Get("Retry-After") == "90" && bytes.Contains(b, []byte("1015"))
		}},
		{"429 with date", Faults{RateLimit: true, RetryAfter: time.Minute, RetryAfterDate: true}, func(c int, hd http.Header, b []byte) bool {
			at, err := http.ParseTime(hd.Get("Retry-After"))
			return c == 429 && err == nil && at.Equal(h.clock.Now().Add(time.Minute))
		}},
		{"429 without Retry-After", Faults{RateLimit: true}, func(c int, hd http.Header, b []byte) bool { return c == 429 && hd.Get("Retry-After") == "" }},
		{"503", Faults{ServerError: 503}, func(c int, hd http.Header, b []byte) bool { return c == 503 }},
		{"truncated", Faults{TruncatedJSON: true}, func(c int, hd http.Header, b []byte) bool {
			return c == 200 && len(b) > 100 && !json.Valid(b) && bytes.HasPrefix(good, b[:len(b)-10])
		}},
		{"malformed", Faults{MalformedJSON: true}, func(c int, hd http.Header, b []byte) bool {
			return c == 200 && !json.Valid(b) && len(b) > len(good)-200
		}},
		{"only on login", Faults{ServerError: 500, On: EndpointLogin}, func(c int, hd http.Header, b []byte) bool { return c == 200 && json.Valid(b) }},
		{"no active sensors", Faults{NoActiveSensors: true}, func(c int, hd http.Header, b []byte) bool {
			return c == 200 && !bytes.Contains(b, []byte(`"activeSensors"`)) && bytes.Contains(b, []byte(`"graphData"`))
		}},
	}
	for _, tt := range tests {
		if err := h.srv.SetFaults(testEmail, tt.faults); err != nil {
			t.Fatal(err)
		}
		code, hdr, body := h.do(t, http.MethodGet, target, auth, "")
		if !tt.check(code, hdr, body) {
			t.Errorf("%s: %d %v %.200s", tt.name, code, hdr, body)
		}
	}
}

func TestPopulate(t *testing.T) {
	s := New(Options{})
	accounts, err := s.Populate(5, 12, 3, "eu")
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 15 {
		t.Fatalf("%d accounts, want 12 patients and 3 followers", len(accounts))
	}
	followed := map[string]int{}
	models := map[glucosim.Model]int{}
	units := map[cgm.Unit]int{}
	for i, a := range accounts {
		if len(a.Password) < 8 {
			t.Errorf("password %q too short", a.Password)
		}
		for _, id := range a.Follows {
			followed[id]++
		}
		if i < 12 {
			p, ok := s.Patient(a.Follows[0])
			if len(a.Follows) != 1 || !ok {
				t.Fatalf("patient account %s follows %v", a.Email, a.Follows)
			}
			models[p.Sim.Model()]++
			units[p.Unit]++
		} else if len(a.Follows) != 4 {
			t.Errorf("follower %s follows %d patients, want 4", a.Email, len(a.Follows))
		}
	}
	if len(followed) != 12 || slices.ContainsFunc(slices.Collect(func(yield func(int) bool) {
		for _, n := range followed {
			if !yield(n) {
				return
			}
		}
	}), func(n int) bool { return n != 2 }) {
		t.Errorf("followed %v, want each patient by itself and one follower", followed)
	}
	if models[glucosim.Libre2] != 6 || models[glucosim.Libre3] != 6 || units[cgm.MmolL] != 1 {
		t.Errorf("models %v units %v", models, units)
	}
	again, _ := New(Options{}).Populate(5, 12, 3, "eu")
	if diff := cmp.Diff(accounts, again); diff != "" {
		t.Errorf("Populate is not reproducible:\n%s", diff)
	}
}

// BenchmarkGraphHandler measures one graph request served in process: token
// check, 12 h of simulated Libre 3 points, encoding. The baseline, measured
// in the same run, re-encodes the same reply with encoding/json from
// generic values, as a fake built on encoding/json would at least do.
func BenchmarkGraphHandler(b *testing.B) {
	h := newHarness(b, Options{}, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), cgm.MgDL)
	auth := h.authed(b, h.token(b))
	target := "/eu/llu/connections/" + h.patientID + "/graph"
	code, _, body := h.do(b, http.MethodGet, target, auth, "")
	if code != 200 {
		b.Fatalf("graph: %d", code)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		b.Fatal(err)
	}
	base := nsPerOp(func() {
		if _, err := json.Marshal(doc); err != nil {
			b.Fatal(err)
		}
	})
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range auth {
		req.Header.Set(k, v)
	}
	req.Header.Set("product", "llu.android")
	req.Header.Set("version", testVersion)
	w := &discardWriter{h: http.Header{}}
	for b.Loop() {
		clear(w.h)
		h.srv.ServeHTTP(w, req)
	}
	b.SetBytes(int64(len(body)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-encoding/json")
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (w *discardWriter) WriteHeader(int)             {}

func nsPerOp(fn func()) float64 {
	fn()
	n, start := 0, time.Now()
	for time.Since(start) < 20*time.Millisecond {
		fn()
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
