package librelinkup

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"fsecgm/cgm"
)

// testClient returns a client whose clock stands at now, for decoding
// fixtures recorded at that time.
func testClient(t testing.TB, now time.Time) *Client {
	t.Helper()
	c, err := New(Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func okReply(body []byte) *reply {
	return &reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: body}
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGraphFixtureLibre3(t *testing.T) {
	c := testClient(t, utc("2022-12-30 17:00:00"))
	g, e := c.decodeGraph(okReply(fixture(t, "graph_libre3_141_points.json")))
	if e != nil {
		t.Fatal(e)
	}
	if g.Problems.Skipped != 0 || len(g.Problems.Details) != 0 {
		t.Errorf("problems %+v, want none", g.Problems)
	}
	if n := g.Readings.Count(cgm.Historic); n != 141 {
		t.Errorf("%d historic readings, want 141", n)
	}
	hist := g.Readings[:0:0]
	for _, r := range g.Readings {
		if r.Kind == cgm.Historic {
			hist = append(hist, r)
		}
	}
	// FactoryTimestamp "12/30/2022 4:50:40 AM" is UTC; Timestamp (5:50:40,
	// the phone's UTC+1) is not used.
	want := []cgm.Reading{
		{Time: utc("2022-12-30 04:50:40"), Value: 173, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "ABCDEF1234"},
		{Time: utc("2022-12-30 04:55:40"), Value: 178, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "ABCDEF1234"},
	}
	if diff := cmp.Diff(want, []cgm.Reading(hist[:2])); diff != "" {
		t.Errorf("first readings (-want +got):\n%s", diff)
	}
	last := cgm.Reading{Time: utc("2022-12-30 16:30:41"), Value: 103, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "ABCDEF1234"}
	if diff := cmp.Diff(last, hist[len(hist)-1]); diff != "" {
		t.Errorf("last historic reading (-want +got):\n%s", diff)
	}
	cur, ok := g.Readings.Latest(cgm.Current)
	wantCur := cgm.Reading{Time: utc("2022-12-30 16:47:40"), Value: 115, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendStable, Device: "ABCDEF1234"}
	if diff := cmp.Diff(wantCur, cur); !ok || diff != "" {
		t.Errorf("current reading (-want +got):\n%s", diff)
	}
	conn := g.Connection
	if conn.PatientID != "7ad66b40-ba9b-401e-9845-4f49f998cf16" || conn.Unit != cgm.MgDL || conn.TargetLow != 70 || conn.TargetHigh != 160 ||
		conn.DeviceTypeID != 40068 || conn.Current == nil || !conn.Current.Time.Equal(wantCur.Time) {
		t.Errorf("connection %+v", conn)
	}
	wantSensor := Sensor{Serial: "ABCDEF1234", Activated: time.Unix(1671955478, 0).UTC(), WarmUp: time.Hour, ProductType: 4, Streaming: true}
	if diff := cmp.Diff(&wantSensor, conn.Sensor); diff != "" {
		t.Errorf("connection sensor (-want +got):\n%s", diff)
	}
	// activeSensors and connection.sensor name the same sensor: one entry.
	if len(g.Sensors) != 1 || g.Sensors[0].Serial != "ABCDEF1234" || g.Sensors[0].DeviceID == "" {
		t.Errorf("sensors %+v, want the one active sensor with its device id", g.Sensors)
	}
	for i, r := range g.Readings {
		if err := r.Validate(utc("2022-12-30 17:00:00")); err != nil {
			t.Errorf("reading %d: %v", i, err)
		}
		if i > 0 && !g.Readings[i-1].Time.Before(r.Time) {
			t.Errorf("readings %d and %d not ascending", i-1, i)
		}
	}
}

func TestGraphFixtureMmol(t *testing.T) {
	c := testClient(t, utc("2023-06-20 05:00:00"))
	g, e := c.decodeGraph(okReply(fixture(t, "graph_libre3_140_points_mmol.json")))
	if e != nil {
		t.Fatal(e)
	}
	if n := g.Readings.Count(cgm.Historic); n != 140 || g.Problems.Skipped != 0 {
		t.Errorf("%d historic readings, problems %+v; want 140, none", n, g.Problems)
	}
	// Value is 9.7 (mmol/L); the reading takes ValueInMgPerDl.
	first := cgm.Reading{Time: utc("2023-06-19 16:48:28"), Value: 174, Unit: cgm.MgDL, Kind: cgm.Historic, Device: "0E0FAKESN0"}
	if diff := cmp.Diff(first, g.Readings[0]); diff != "" {
		t.Errorf("first reading (-want +got):\n%s", diff)
	}
	cur, _ := g.Readings.Latest(cgm.Current)
	if want := (cgm.Reading{Time: utc("2023-06-20 04:44:13"), Value: 125, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendStable, Device: "0E0FAKESN0"}); cur != want {
		t.Errorf("current = %+v, want %+v", cur, want)
	}
	if g.Connection.Unit != cgm.MmolL || g.Connection.TargetHigh != 180 {
		t.Errorf("connection unit %v target %v, want mmol/L and 180 mg/dL", g.Connection.Unit, g.Connection.TargetHigh)
	}
	if s := g.Connection.Sensor; s == nil || !s.SerialMatches("0E0FAKESN") || !s.SerialMatches("0e0f-akes-n0") || s.SerialMatches("30E0FAKESN0X") {
		t.Errorf("serial matching of %+v is wrong", s)
	}
}

func TestGraphFixtureGist(t *testing.T) {
	c := testClient(t, utc("2022-05-21 14:00:00"))
	g, e := c.decodeGraph(okReply(fixture(t, "graph_gist_3_active_sensors.json")))
	if e != nil {
		t.Fatal(e)
	}
	if n := g.Readings.Count(cgm.Historic); n != 8 {
		t.Errorf("%d historic readings, want 8", n)
	}
	// glucoseMeasurement says ↓ (1) where glucoseItem says →: the
	// measurement is the current reading.
	cur, _ := g.Readings.Latest(cgm.Current)
	if cur.Trend != cgm.TrendFallingFast || cur.Value != 91 || !cur.Time.Equal(utc("2022-05-21 13:38:50")) {
		t.Errorf("current = %+v, want 91 mg/dL falling fast at 13:38:50", cur)
	}
	if len(g.Sensors) != 4 || !g.Sensors[0].Activated.Before(g.Sensors[3].Activated) {
		t.Errorf("sensors %+v, want 4 by activation", g.Sensors)
	}
	// The points come after every activation: the newest sensor is named.
	if d := g.Readings[0].Device; d != "XXXXXXXXXX" {
		t.Errorf("device %q, want the newest sensor XXXXXXXXXX", d)
	}
}

func TestConnectionsFixture(t *testing.T) {
	c := testClient(t, utc("2023-01-01 00:00:00"))
	l, e := c.decodeConnections(okReply(fixture(t, "connections_two_patients.json")))
	if e != nil {
		t.Fatal(e)
	}
	if len(l.Connections) != 2 || l.Problems.Skipped != 0 {
		t.Fatalf("%d connections, problems %+v", len(l.Connections), l.Problems)
	}
	john, jane := l.Connections[0], l.Connections[1]
	if john.Sensor == nil || john.Sensor.Serial != "ABCDEF1234" || john.Current == nil ||
		*john.Current != (cgm.Reading{Time: utc("2022-12-30 16:47:40"), Value: 115, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendStable, Device: "ABCDEF1234"}) {
		t.Errorf("first connection %+v, current %+v", john, john.Current)
	}
	if jane.Sensor != nil || jane.Current == nil || jane.Current.Device != "" || !jane.Current.Time.Equal(utc("2022-03-13 18:53:10")) ||
		jane.PatientID != "77179667-ba4b-11eb-ad1f-0242ac110004" || jane.FirstName != "Jane" {
		t.Errorf("second connection (sensor null) %+v, current %+v", jane, jane.Current)
	}
	if !john.Created.Equal(time.Unix(1638703030, 0)) {
		t.Errorf("created %v", john.Created)
	}
}

func TestLogbookFixtures(t *testing.T) {
	c := testClient(t, utc("2024-11-11 00:00:00"))
	lb, e := c.decodeLogbook(okReply(fixture(t, "logbook_type1_mmol.json")))
	if e != nil {
		t.Fatal(e)
	}
	want := cgm.Series{
		{Time: utc("2024-11-09 15:19:00"), Value: 159, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendStable},
		{Time: utc("2024-11-10 13:08:19"), Value: 181, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendRising},
		{Time: utc("2024-11-10 17:13:36"), Value: 197, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendStable},
	}
	if diff := cmp.Diff(want, lb.Readings); diff != "" || len(lb.Alarms) != 0 {
		t.Errorf("type-1 logbook (-want +got):\n%s\nalarms %v", diff, lb.Alarms)
	}

	c = testClient(t, utc("2023-06-20 06:00:00"))
	lb, e = c.decodeLogbook(okReply(fixture(t, "logbook_alarms_type3.json")))
	if e != nil {
		t.Fatal(e)
	}
	highs, lows := 0, 0
	for _, a := range lb.Alarms {
		switch a.Type {
		case AlarmHigh:
			highs++
		case AlarmLow:
			lows++
		}
		if !a.HasReading {
			t.Errorf("alarm %+v of type 3 without reading", a)
		}
	}
	if len(lb.Alarms) != 70 || highs != 46 || lows != 24 || lb.Readings.Count(cgm.Current) != 70 {
		t.Errorf("%d alarms (%d high, %d low), %d readings; want 70 (46, 24), 70", len(lb.Alarms), highs, lows, len(lb.Readings))
	}
	newest := cgm.Reading{Time: utc("2023-06-19 22:49:13"), Value: 252, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendRisingFast}
	if got := lb.Readings[len(lb.Readings)-1]; got != newest {
		t.Errorf("newest alarm reading %+v, want %+v", got, newest)
	}
}

func TestLoginFixtures(t *testing.T) {
	now := utc("2023-01-01 00:00:00")
	tests := []struct {
		file      string
		kind      ErrorKind
		step      string
		region    string // redirect
		accountID string
		expires   int64
	}{
		{file: "login_success.json", accountID: "e5b55d90f76df8cf4da894b3b96362ea18c180bd7ca9db55e118a14f74503e83", expires: 1687970889},
		{file: "login_success_censored.json", accountID: AccountIDOf(":censored:"), expires: 1702447789},
		{file: "login_success_consents_llu.json", accountID: AccountIDOf("xx"), expires: 1746127527},
		{file: "login_success_consents_rwe_declined.json", accountID: AccountIDOf("<Id>"), expires: 1753443551},
		{file: "login_redirect_eu.json", region: "eu"},
		{file: "login_redirect_eu2.json", region: "eu2"},
		{file: "login_step_tou.json", kind: KindStepRequired, step: "tou"},
		{file: "login_step_pp.json", kind: KindStepRequired, step: "pp"},
		{file: "login_step_verifyemail.json", kind: KindStepRequired, step: "verifyEmail"},
		{file: "login_step_tou_truncated_as_found.json", kind: KindStepRequired, step: "tou"},
		{file: "login_failed_status2.json", kind: KindBadCredentials},
		{file: "login_failed_incorrect_password.json", kind: KindBadCredentials},
		{file: "error_429_locked.json", kind: KindLocked},
		{file: "error_status911.json", kind: KindMaintenance},
		{file: "account.json", kind: KindTwoFactor}, // a user without authTicket: LibreView wants a two-factor code
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := testClient(t, now)
			r := okReply(fixture(t, tt.file))
			d, e := c.decodeLogin(r)
			var s Session
			if e == nil && !d.Redirect {
				s, e = c.sessionOf(d, "de", r.status)
			}
			if tt.kind != 0 {
				if e == nil || e.Kind != tt.kind || e.Step != tt.step {
					t.Fatalf("error %v, want %v step %q", e, tt.kind, tt.step)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			if tt.region != "" {
				if !d.Redirect || d.Region != tt.region {
					t.Errorf("redirect %v to %q, want %q", d.Redirect, d.Region, tt.region)
				}
				return
			}
			if s.AccountID != tt.accountID || s.Expires.Unix() != tt.expires || s.Region != "de" || s.Token == "" {
				t.Errorf("session %+v, want account %s expiring %d", s, tt.accountID, tt.expires)
			}
		})
	}
}

// TestSkipsBadItems: a bad point costs only itself, and the problems say
// where it was.
func TestSkipsBadItems(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(fixture(t, "graph_libre3_141_points.json"), &doc); err != nil {
		t.Fatal(err)
	}
	data := doc["data"].(map[string]any)
	pts := data["graphData"].([]any)
	pts[1].(map[string]any)["FactoryTimestamp"] = "30/12/2022 04:55:40"
	pts[2].(map[string]any)["ValueInMgPerDl"] = "176"  // wrong JSON type
	pts[3].(map[string]any)["ValueInMgPerDl"] = 1750.0 // implausible
	delete(pts[4].(map[string]any), "ValueInMgPerDl")
	pts[5].(map[string]any)["FactoryTimestamp"] = "12/30/2032 5:15:39 AM" // in the future
	pts[6].(map[string]any)["isLow"] = true
	data["connection"].(map[string]any)["glucoseMeasurement"].(map[string]any)["TrendArrow"] = 9.0
	body, _ := json.Marshal(doc)

	c := testClient(t, utc("2022-12-30 17:00:00"))
	g, e := c.decodeGraph(okReply(body))
	if e != nil {
		t.Fatal(e)
	}
	if n := g.Readings.Count(cgm.Historic); n != 141-5 {
		t.Errorf("%d historic readings, want 136", n)
	}
	var ptrs []string
	for _, d := range g.Problems.Details {
		ptrs = append(ptrs, d.Field)
		if strings.Contains(d.Error(), "1750") || strings.Contains(d.Error(), "176") {
			t.Errorf("problem %q quotes a glucose value", d)
		}
	}
	wantPtrs := []string{
		"/data/graphData/2",
		"/data/connection/glucoseMeasurement/TrendArrow",
		"/data/graphData/1/FactoryTimestamp",
		"/data/graphData/3/ValueInMgPerDl",
		"/data/graphData/4/ValueInMgPerDl",
		"/data/graphData/5/FactoryTimestamp",
	}
	if diff := cmp.Diff(wantPtrs, ptrs); diff != "" || g.Problems.Skipped != 5 {
		t.Errorf("problems (-want +got):\n%s\nskipped %d, want 5", diff, g.Problems.Skipped)
	}
	low := g.Readings.Between(utc("2022-12-30 05:20:40"), utc("2022-12-30 05:20:41"))
	if len(low) != 1 || low[0].Value != 40 || low[0].Flags != cgm.FlagLow {
		t.Errorf("isLow point = %+v, want 40 mg/dL flagged LO", low)
	}
	cur, _ := g.Readings.Latest(cgm.Current)
	if cur.Trend != cgm.TrendUnknown || cur.Value != 115 {
		t.Errorf("current with arrow 9 = %+v, want kept with unknown trend", cur)
	}
}

func TestMalformedBodies(t *testing.T) {
	good := fixture(t, "graph_libre3_141_points.json")
	tests := []struct {
		name string
		body string
	}{
		{"truncated", string(good[:len(good)/2])},
		{"doubled comma", strings.Replace(string(good), ",", ",,", 1)},
		{"empty", ""},
		{"not JSON", "upstream connect error"},
		{"data missing", `{"status":0}`},
		{"data of the wrong type", `{"status":0,"data":{"connection":[],"graphData":{}}}`},
	}
	c := testClient(t, utc("2022-12-30 17:00:00"))
	for _, tt := range tests {
		g, e := c.decodeGraph(okReply([]byte(tt.body)))
		if g != nil || e == nil || e.Kind != KindMalformedJSON || e.Message == "" {
			t.Errorf("%s: decodeGraph = %v, %v; want nil and a malformed-JSON error with a message", tt.name, g, e)
		}
	}
}

// TestOverlongSerial: a serial that is not a serial is dropped, and the
// readings are kept without a device.
func TestOverlongSerial(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(fixture(t, "graph_libre3_141_points.json"), &doc); err != nil {
		t.Fatal(err)
	}
	data := doc["data"].(map[string]any)
	long := strings.Repeat("X", 70)
	data["connection"].(map[string]any)["sensor"].(map[string]any)["sn"] = long
	data["activeSensors"].([]any)[0].(map[string]any)["sensor"].(map[string]any)["sn"] = long
	body, _ := json.Marshal(doc)
	g, e := testClient(t, utc("2022-12-30 17:00:00")).decodeGraph(okReply(body))
	if e != nil {
		t.Fatal(e)
	}
	if len(g.Readings) != 142 || g.Problems.Skipped != 0 || len(g.Problems.Details) != 2 {
		t.Fatalf("%d readings, problems %+v; want 142 readings and 2 dropped serials", len(g.Readings), g.Problems)
	}
	for _, r := range g.Readings {
		if r.Device != "" {
			t.Fatalf("reading %v has device %q", r.Time, r.Device)
		}
	}
	if got := []string{g.Problems.Details[0].Field, g.Problems.Details[1].Field}; !cmp.Equal(got, []string{"/data/connection/sensor/sn", "/data/activeSensors/0/sensor/sn"}) {
		t.Errorf("problem pointers %v", got)
	}
}
