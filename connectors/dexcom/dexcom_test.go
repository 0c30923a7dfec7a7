package dexcom_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/dexcom"
	"fsecgm/connectors/dexcom/dexcomtest"
	"fsecgm/connectors/glucosim"

	"github.com/google/go-cmp/cmp"
)

const redirect = "https://fsecgm.example.invalid/taccuino/dexcom/callback"

// env is a fake Dexcom with one user and a client of it.
type env struct {
	fake   *dexcomtest.Server
	client *dexcom.Client
	sim    *glucosim.Patient
	now    time.Time
}

func newEnv(t *testing.T, opts dexcomtest.Options, unit cgm.Unit) *env {
	t.Helper()
	e := &env{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	opts.Now = func() time.Time { return e.now }
	opts.RedirectURIs = []string{redirect}
	e.fake = dexcomtest.New(opts)
	rome, err := cgm.Zone("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	e.sim = glucosim.New(17, glucosim.Libre3, rome)
	if _, err := e.fake.AddUser(dexcomtest.User{Username: "SandboxUser7", Sim: e.sim, Generation: "g7", Unit: unit}); err != nil {
		t.Fatal(err)
	}
	base := e.fake.Start()
	t.Cleanup(e.fake.Close)
	e.client, err = dexcom.New(dexcom.Config{BaseURL: base, ClientID: e.fake.ClientID(), ClientSecret: e.fake.ClientSecret(),
		RedirectURI: redirect, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// authorize runs the authorization code flow with PKCE and returns the
// token.
func (e *env) authorize(t *testing.T) dexcom.Token {
	t.Helper()
	verifier, challenge, err := dexcom.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	back, err := e.fake.Approve(e.client.AuthorizeURL("state-1", challenge), "SandboxUser7", true)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(back)
	if u.Query().Get("state") != "state-1" || dexcom.CallbackError(u.Query()) != nil {
		t.Fatalf("redirect %s: want the state back and no error", back)
	}
	tok, err := e.client.Exchange(context.Background(), u.Query().Get("code"), verifier)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dexcomtest.Options{}, cgm.MgDL)
	ctx := context.Background()
	authURL := e.client.AuthorizeURL("s", dexcom.Challenge("v"))
	q, _ := url.Parse(authURL)
	for k, want := range map[string]string{"client_id": e.fake.ClientID(), "redirect_uri": redirect, "response_type": "code",
		"scope": "offline_access", "state": "s", "code_challenge_method": "S256"} {
		if got := q.Query().Get(k); got != want {
			t.Errorf("authorize URL %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasSuffix(q.Path, "/v2/oauth2/login") {
		t.Errorf("authorize path %q", q.Path)
	}
	tok := e.authorize(t)
	if !tok.Fresh(e.now, time.Minute) || !tok.Expires.Equal(e.now.Add(2*time.Hour)) {
		t.Errorf("token expires %s, want in two hours", tok.Expires)
	}

	// A code is single use; a wrong verifier is refused.
	verifier, challenge, _ := dexcom.NewVerifier()
	back, _ := e.fake.Approve(e.client.AuthorizeURL("s2", challenge), "SandboxUser7", true)
	u, _ := url.Parse(back)
	code := u.Query().Get("code")
	if _, err := e.client.Exchange(ctx, code, verifier+"x"); dexcom.KindOf(err) != dexcom.KindInvalidGrant {
		t.Errorf("exchange with a wrong verifier = %v, want invalid grant", err)
	}
	if _, err := e.client.Exchange(ctx, code, verifier); dexcom.KindOf(err) != dexcom.KindInvalidGrant {
		t.Errorf("exchange of a used code = %v, want invalid grant", err)
	}
	// The patient declines.
	back, _ = e.fake.Approve(e.client.AuthorizeURL("s3", ""), "SandboxUser7", false)
	u, _ = url.Parse(back)
	if err := dexcom.CallbackError(u.Query()); dexcom.KindOf(err) != dexcom.KindAccessDenied || u.Query().Get("state") != "s3" {
		t.Errorf("declined: %s, %v; want access denied with the state", back, err)
	}

	// Refresh rotates: the old refresh token is refused afterwards.
	next, err := e.client.Refresh(ctx, tok.RefreshToken)
	if err != nil || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatalf("Refresh = %+v, %v; want a new pair", next.Expires, err)
	}
	if _, err := e.client.Refresh(ctx, tok.RefreshToken); dexcom.KindOf(err) != dexcom.KindInvalidGrant {
		t.Errorf("refresh with a used refresh token = %v, want invalid grant", err)
	}
	// An expired access token is 401; a withdrawn consent refuses refresh.
	e.now = e.now.Add(3 * time.Hour)
	if _, err := e.client.DataRange(ctx, next.AccessToken); dexcom.KindOf(err) != dexcom.KindUnauthorized {
		t.Errorf("expired access token: %v, want unauthorized", err)
	}
	if err := e.fake.Revoke("SandboxUser7"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Refresh(ctx, next.RefreshToken); dexcom.KindOf(err) != dexcom.KindInvalidGrant || dexcom.KindOf(err).Action() != dexcom.ActionReauthorize {
		t.Errorf("refresh after the consent was withdrawn = %v, want invalid grant (reauthorize)", err)
	}
	// Wrong client credentials are the operator's.
	bad, _ := dexcom.New(dexcom.Config{BaseURL: e.client.BaseURL(), ClientID: "other", ClientSecret: "x", RedirectURI: redirect})
	if _, err := bad.Exchange(ctx, "c", ""); dexcom.KindOf(err) != dexcom.KindInvalidClient {
		t.Errorf("exchange with wrong client credentials = %v, want invalid client", err)
	}
}

func TestEGVs(t *testing.T) {
	t.Parallel()
	for _, unit := range []cgm.Unit{cgm.MgDL, cgm.MmolL} {
		t.Run(unit.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dexcomtest.Options{}, unit)
			tok := e.authorize(t)
			ctx := context.Background()
			// 40 days: two requests (30 days at most each).
			from, to := e.now.Add(-40*24*time.Hour), e.now
			got, err := e.client.EGVs(ctx, tok.AccessToken, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if s := e.fake.Stats("SandboxUser7"); s.EGVs != 2 {
				t.Errorf("egvs requests = %d, want 2", s.EGVs)
			}
			if got.UserID != e.fake.UserID("SandboxUser7") || got.UserID == "" {
				t.Errorf("user id %q", got.UserID)
			}
			want := e.sim.Historic(from, to)
			if len(got.Readings) != len(want) || got.Skipped != 0 {
				t.Fatalf("%d readings (%d skipped, %v), want %d", len(got.Readings), got.Skipped, got.Problems, len(want))
			}
			for i, w := range want {
				r := got.Readings[i]
				wantValue := float64(w.MgDL)
				if unit == cgm.MmolL {
					wantValue = roundTo(wantValue/cgm.MgDLPerMmolL, 1)
				}
				if w.MgDL > 400 || w.Flags&cgm.FlagHigh != 0 {
					wantValue = cgm.HighLimits(unit)[0]
				}
				if w.Flags&cgm.FlagLow != 0 || w.MgDL < 40 {
					wantValue, _ = cgm.Limits(unit)
				}
				if !r.Time.Equal(w.Time.Truncate(time.Second)) || r.Kind != cgm.Historic || r.Unit != unit || r.Value != wantValue || r.Device == "" {
					t.Fatalf("reading %d = %+v, want %s %v %v", i, r, w.Time, wantValue, unit)
				}
			}
			for i, r := range got.Readings {
				if err := r.Validate(e.now.Add(time.Minute)); err != nil {
					t.Fatalf("reading %d does not validate: %v", i, err)
				}
			}
			dr, err := e.client.DataRange(ctx, tok.AccessToken)
			if err != nil || dr.EGVs.End.IsZero() || !dr.EGVs.Start.Before(dr.EGVs.End) {
				t.Errorf("DataRange = %+v, %v", dr, err)
			}
			ds, err := e.client.Devices(ctx, tok.AccessToken)
			if err != nil || len(ds) != 1 || dexcom.Model(ds[0].TransmitterGeneration) != "Dexcom G7" || ds[0].TransmitterID == "" {
				t.Errorf("Devices = %+v, %v", ds, err)
			}
		})
	}
}

func roundTo(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

// TestWireEGV translates the records of Dexcom's documentation: an app's
// record with an offset, a receiver's without, low and high without a
// value, unknown status, an unknown unit.
func TestWireEGV(t *testing.T) {
	parse := func(s string) dexcom.WireEGV {
		var w dexcom.WireEGV
		if err := json.Unmarshal([]byte(s), &w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	tests := []struct {
		name, json string
		want       cgm.Reading
		ok         bool
	}{
		{"app record", `{"recordId":"a","systemTime":"2021-04-05T17:53:03Z","displayTime":"2021-04-05T10:52:48-07:00","transmitterId":"8AB12C","transmitterTicks":1,"value":122,"status":"ok","trend":"flat","trendRate":-0.5,"unit":"mg/dL","rateUnit":"mg/dL/min","displayDevice":"iOS","transmitterGeneration":"g6"}`,
			cgm.Reading{Time: time.Date(2021, 4, 5, 17, 53, 3, 0, time.UTC), Value: 122, Unit: cgm.MgDL, Kind: cgm.Historic, Trend: cgm.TrendStable, Device: "8AB12C"}, true},
		{"receiver record without offset", `{"systemTime":"2022-02-06T09:12:35","value":6.8,"unit":"mmol/L","trend":"fortyFiveDown","transmitterGeneration":"g6"}`,
			cgm.Reading{Time: time.Date(2022, 2, 6, 9, 12, 35, 0, time.UTC), Value: 6.8, Unit: cgm.MmolL, Kind: cgm.Historic, Trend: cgm.TrendFalling}, true},
		{"low", `{"systemTime":"2022-02-06T09:12:35Z","value":null,"status":"low","trend":"doubleDown","unit":"mg/dL"}`,
			cgm.Reading{Time: time.Date(2022, 2, 6, 9, 12, 35, 0, time.UTC), Value: 40, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagLow}, true},
		{"high", `{"systemTime":"2022-02-06T09:12:35Z","value":null,"status":"high","unit":"mg/dL"}`,
			cgm.Reading{Time: time.Date(2022, 2, 6, 9, 12, 35, 0, time.UTC), Value: 400, Unit: cgm.MgDL, Kind: cgm.Historic, Flags: cgm.FlagHigh}, true},
		{"unknown status", `{"systemTime":"2022-02-06T09:12:35Z","value":null,"status":"unknown","unit":"mg/dL"}`, cgm.Reading{}, false},
		{"unknown unit", `{"systemTime":"2022-02-06T09:12:35Z","value":5,"unit":"g/L"}`, cgm.Reading{}, false},
	}
	for _, tt := range tests {
		r, ok, _ := parse(tt.json).Reading()
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if ok {
			if diff := cmp.Diff(tt.want, r); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	}
}

func TestRateLimitAndFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dexcomtest.Options{RequestsPerHour: 3}, cgm.MgDL)
	tok := e.authorize(t) // 1 request (the token)
	ctx := context.Background()
	for range 2 {
		if _, err := e.client.DataRange(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.client.DataRange(ctx, tok.AccessToken)
	var de *dexcom.Error
	if dexcom.KindOf(err) != dexcom.KindRateLimited || !asError(err, &de) || de.Backoff() <= 0 || de.Backoff() > time.Hour+time.Minute {
		t.Fatalf("fourth request of the hour = %v, want 429 with a wait up to the hour's end", err)
	}
	e.now = e.now.Add(time.Hour)
	for _, tt := range []struct {
		f    dexcomtest.Faults
		kind dexcom.Kind
	}{
		{dexcomtest.Faults{ServerError: 503}, dexcom.KindServerError},
		{dexcomtest.Faults{TruncatedJSON: true}, dexcom.KindMalformedJSON},
		{dexcomtest.Faults{MalformedJSON: true}, dexcom.KindMalformedJSON},
	} {
		must(t, e.fake.SetFaults("SandboxUser7", tt.f))
		if _, err := e.client.EGVs(ctx, tok.AccessToken, e.now.Add(-time.Hour), e.now); dexcom.KindOf(err) != tt.kind {
			t.Errorf("fault %+v: %v, want %v", tt.f, err, tt.kind)
		}
	}
}

func asError(err error, target **dexcom.Error) bool {
	e, ok := err.(*dexcom.Error)
	if ok {
		*target = e
	}
	return ok
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
