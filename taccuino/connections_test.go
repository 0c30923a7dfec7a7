package taccuino

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/auth"
)

// TestConnections connects a sensor against the fake LibreLinkUp through
// the API, sees readings arrive after a sync, and disconnects with and
// without keeping the readings.
func TestConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cf := cfFor("Luisa", "Collegata", 40)
	p := e.newPatient(cf, "Luisa", "Collegata", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	base := "/api/v1/patients/" + p.PublicID + "/connections"
	a := e.accountFor(p)
	req := func(r ConnectRequest) response {
		b, _ := json.Marshal(r)
		return e.request(http.MethodPost, base, tok, "application/json", b, nil)
	}
	for _, tt := range []struct {
		name  string
		r     ConnectRequest
		field string
	}{
		{"no privacy notice", ConnectRequest{Mode: connsync.ModePatient, Email: a.Email, Password: a.Password}, "/privacy_notice_version"},
		{"old privacy notice", ConnectRequest{PrivacyNoticeVersion: "2020-01", Mode: connsync.ModePatient, Email: a.Email, Password: a.Password}, "/privacy_notice_version"},
		{"no password", ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email}, "/password"},
		{"no serial", ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModeFollower}, "/serial"},
		{"bad mode", ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: "both"}, "/mode"},
	} {
		res := req(tt.r)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"`+tt.field+`"`) {
			t.Errorf("%s: %d %s", tt.name, res.status, res.body)
		}
	}
	if _, err := e.consent.LatestPrivacyNotice(ctx, selfActor(cf), p.ID); err == nil {
		t.Error("a refused request recorded a privacy notice acceptance")
	}
	// Wrong password: LibreLinkUp refuses, the advice comes back.
	res := req(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email, Password: "wrong"})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"reason":"bad_credentials"`) {
		t.Errorf("wrong password: %d %s", res.status, res.body)
	}
	if strings.Contains(string(res.body), "wrong") || strings.Contains(e.logs.String(), a.Password) {
		t.Error("a password was echoed or logged")
	}
	res = req(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email, Password: a.Password})
	conn := decode[ConnectionJSON](t, res)
	if res.status != http.StatusCreated || conn.Mode != connsync.ModePatient || conn.State == connsync.StateDisconnected {
		t.Fatalf("connect: %d %s", res.status, res.body)
	}
	acc, err := e.consent.LatestPrivacyNotice(ctx, selfActor(cf), p.ID)
	if err != nil || acc.Version != PrivacyNoticeVersion || time.Since(acc.AcceptedAt) > time.Minute {
		t.Errorf("privacy notice acceptance %+v %v", acc, err)
	}
	if res := req(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email, Password: a.Password}); res.status != http.StatusConflict {
		t.Errorf("connect the same account again: %d %s", res.status, res.body)
	}
	// Readings arrive with the sync.
	if _, err := e.syncer.SyncDue(ctx); err != nil {
		t.Fatal(err)
	}
	latest := decode[LatestJSON](t, e.get("/api/v1/patients/"+p.PublicID+"/glucose/latest", tok))
	if latest.Reading == nil || *latest.AgeSeconds > 3600 {
		t.Fatalf("after the sync: %+v", latest)
	}
	list := decode[ConnectionsJSON](t, e.get(base, tok))
	if len(list.Connections) != 1 || list.Connections[0].LastSuccessAt == nil || list.Connections[0].Readings == 0 ||
		list.Connections[0].State != connsync.StateActive {
		t.Errorf("connections: %+v", list)
	}
	// Disconnect keeping the readings, then a second connection deleted
	// with its readings.
	res = e.request(http.MethodDelete, base+"/"+conn.ID, tok, "", nil, nil)
	dj := decode[DisconnectJSON](t, res)
	if res.status != http.StatusOK || dj.Connection.State != connsync.StateDisconnected || dj.DeletedReadings != 0 {
		t.Errorf("disconnect: %d %s", res.status, res.body)
	}
	if cov, _ := e.store.Coverage(ctx, p.ID); cov.Count == 0 {
		t.Error("readings gone although kept")
	}
	res = e.request(http.MethodDelete, base+"/"+conn.ID+"?keep_readings=false", tok, "", nil, nil)
	dj = decode[DisconnectJSON](t, res)
	if res.status != http.StatusOK || dj.DeletedReadings == 0 {
		t.Errorf("delete readings: %d %s", res.status, res.body)
	}
	if res := e.request(http.MethodDelete, base+"/nope", tok, "", nil, nil); res.status != http.StatusNotFound {
		t.Errorf("unknown connection: %d %s", res.status, res.body)
	}
	if res := e.request(http.MethodDelete, base+"/"+conn.ID+"?keep_readings=maybe", tok, "", nil, nil); res.status != http.StatusUnprocessableEntity {
		t.Errorf("keep_readings=maybe: %d", res.status)
	}
}

// TestConnectionCredentialsAndSync walks a connection through what the
// patient fixes themselves: a password changed in the app (the sync stops
// at "bad credentials" until the patient gives the new one), and a step
// to accept in the app (after which the patient asks for a sync).
func TestConnectionCredentialsAndSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cf := cfFor("Piero", "Aggiornato", 41)
	p := e.newPatient(cf, "Piero", "Aggiornato", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	base := "/api/v1/patients/" + p.PublicID + "/connections"
	a := e.accountFor(p)
	b, _ := json.Marshal(ConnectRequest{PrivacyNoticeVersion: PrivacyNoticeVersion, Mode: connsync.ModePatient, Email: a.Email, Password: a.Password})
	res := e.request(http.MethodPost, base, tok, "application/json", b, nil)
	conn := decode[ConnectionJSON](t, res)
	if res.status != http.StatusCreated {
		t.Fatalf("connect: %d %s", res.status, res.body)
	}
	sync := func() {
		t.Helper()
		if _, err := e.syncer.SyncDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	state := func() ConnectionJSON {
		t.Helper()
		for _, c := range decode[ConnectionsJSON](t, e.get(base, tok)).Connections {
			if c.ID == conn.ID {
				return c
			}
		}
		t.Fatalf("connection %s not listed", conn.ID)
		return ConnectionJSON{}
	}
	put := func(email, password string) response {
		b, _ := json.Marshal(CredentialsRequest{Email: email, Password: password})
		return e.request(http.MethodPut, base+"/"+conn.ID+"/credentials", tok, "application/json", b, nil)
	}
	post := func() response { return e.request(http.MethodPost, base+"/"+conn.ID+"/sync", tok, "", nil, nil) }

	// The password changes in the app: the next login is refused.
	if err := e.fake.SetPassword(a.Email, "nuova-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.ExpireTokens(a.Email); err != nil {
		t.Fatal(err)
	}
	sync()
	if c := state(); c.State != connsync.StateBadCredentials || c.NextSyncAt != nil {
		t.Fatalf("after the password change: %+v", c)
	}
	// Asking for a sync does not help: new credentials are needed.
	if res := post(); res.status != http.StatusAccepted || decode[ConnectionJSON](t, res).State != connsync.StateBadCredentials {
		t.Errorf("sync of a connection with refused credentials: %d %s", res.status, res.body)
	}
	for _, tt := range []struct {
		name, email, password string
		status                int
		want                  string
	}{
		{"no password", a.Email, "", http.StatusUnprocessableEntity, `"field":"/password"`},
		{"no e-mail", "", "x", http.StatusUnprocessableEntity, `"field":"/email"`},
		{"the old password", a.Email, a.Password, http.StatusUnprocessableEntity, `"reason":"bad_credentials"`},
	} {
		if res := put(tt.email, tt.password); res.status != tt.status || !strings.Contains(string(res.body), tt.want) {
			t.Errorf("%s: %d %s", tt.name, res.status, res.body)
		}
	}
	if c := state(); c.State != connsync.StateBadCredentials {
		t.Errorf("refused credentials changed the connection: %+v", c)
	}
	res = put(a.Email, "nuova-password-1")
	if c := decode[ConnectionJSON](t, res); res.status != http.StatusOK || c.State != connsync.StateActive ||
		c.NextSyncAt == nil || c.NextSyncAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("new credentials: %d %s", res.status, res.body)
	}
	if strings.Contains(e.logs.String(), "nuova-password-1") || strings.Contains(string(res.body), "nuova-password-1") {
		t.Error("the new password was logged or returned")
	}
	sync()
	if c := state(); c.State != connsync.StateActive || c.LastSuccessAt == nil || c.Readings == 0 {
		t.Errorf("sync with the new credentials: %+v", c)
	}

	// A step to accept in the app: the connection waits for the patient.
	if err := e.fake.SetSteps(a.Email, "tou"); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.ExpireTokens(a.Email); err != nil {
		t.Fatal(err)
	}
	if res := post(); res.status != http.StatusAccepted {
		t.Fatalf("sync now: %d %s", res.status, res.body)
	}
	sync()
	if c := state(); c.State != connsync.StateActionNeeded {
		t.Fatalf("with a step pending: %+v", c)
	}
	// Accepted in the app; the patient asks for a sync: due now.
	if err := e.fake.SetSteps(a.Email); err != nil {
		t.Fatal(err)
	}
	res = post()
	if c := decode[ConnectionJSON](t, res); res.status != http.StatusAccepted || c.NextSyncAt == nil || c.NextSyncAt.After(time.Now()) {
		t.Fatalf("sync now after the step: %d %s", res.status, res.body)
	}
	sync()
	if c := state(); c.State != connsync.StateActive {
		t.Errorf("after the step and a sync: %+v", c)
	}

	// A disconnected connection takes neither.
	if res := e.request(http.MethodDelete, base+"/"+conn.ID, tok, "", nil, nil); res.status != http.StatusOK {
		t.Fatalf("disconnect: %d %s", res.status, res.body)
	}
	if res := post(); res.status != http.StatusConflict {
		t.Errorf("sync of a disconnected connection: %d %s", res.status, res.body)
	}
	if res := put(a.Email, "nuova-password-1"); res.status != http.StatusConflict {
		t.Errorf("credentials of a disconnected connection: %d %s", res.status, res.body)
	}
	if res := e.request(http.MethodPost, base+"/nope/sync", tok, "", nil, nil); res.status != http.StatusNotFound {
		t.Errorf("unknown connection: %d %s", res.status, res.body)
	}
}
