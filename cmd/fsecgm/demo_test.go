package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"
)

// TestDemoConnectsOnlyThePatient drives the demo as a newcomer following
// the README does (issue 14): Mario connects "his" account
// paziente0001, which follows another person (Marco Bianchi): the
// connection is refused with a message naming that person, and no reading
// is stored; his own account (mario.rossi) connects and syncs. The
// regional follower mode is offered because the demo configures the
// region's follower account.
func TestDemoConnectsOnlyThePatient(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"DATABASE_URL":              dbtest.URL(t),
		"FSECGM_DEV_KEY_FILE":       filepath.Join(t.TempDir(), "dev.jwk"),
		"FSECGM_CREDENTIALS_KEY":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{14}, 32)),
		"FSECGM_SYNC_INTERVAL":      "2s",
		"FSECGM_LIBRELINKUP_BUDGET": "60000",
	}
	srv := serveInProcess(t, vars, "--dev", "--addr", "127.0.0.1:0")
	// The demo's fake LibreLinkUp is deterministic: the same accounts.
	accounts, err := populateDemo(librelinkuptest.New(librelinkuptest.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	account := func(email string) librelinkuptest.Account {
		for _, a := range accounts {
			if a.Email == email {
				return a
			}
		}
		t.Fatalf("no demo account %s", email)
		return librelinkuptest.Account{}
	}
	iss, err := auth.OpenDevIssuer(vars["FSECGM_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: taccuino.DemoPatientCF, Name: "Mario Rossi",
		GivenName: "Mario", FamilyName: "Rossi"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, body := call("GET", "/api/v1/patients?identifier="+taccuino.DemoPatientCF, "")
	var found struct{ Patients []struct{ ID string } }
	if err := json.Unmarshal(body, &found); code != 200 || err != nil || len(found.Patients) != 1 {
		t.Fatalf("find the demo patient: %d %s", code, body)
	}
	id := found.Patients[0].ID
	readings := func() int {
		t.Helper()
		code, body := call("GET", "/api/v1/patients/"+id+"/readings", "")
		var rd struct{ Readings []json.RawMessage }
		if err := json.Unmarshal(body, &rd); code != 200 || err != nil {
			t.Fatalf("readings: %d %s", code, truncated(body))
		}
		return len(rd.Readings)
	}
	connect := func(a librelinkuptest.Account) (int, []byte) {
		return call("POST", "/api/v1/patients/"+id+"/connections",
			fmt.Sprintf(`{"privacy_notice_version":%q,"mode":"patient","email":%q,"password":%q}`,
				taccuino.PrivacyNoticeVersion, a.Email, a.Password))
	}
	before := readings()

	other := account("paziente0001@example.invalid")
	code, body = connect(other)
	var refusal struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &refusal); code != http.StatusUnprocessableEntity || err != nil ||
		!strings.Contains(refusal.Error.Message, "Marco Bianchi") {
		t.Fatalf("connect Marco Bianchi's account to Mario: %d %s; want 422 naming Marco Bianchi", code, body)
	}
	code, body = call("GET", "/api/v1/patients/"+id+"/connections", "")
	if code != 200 || strings.Contains(string(body), `"id"`) {
		t.Errorf("connections after the refusal: %d %s; want none", code, body)
	}
	time.Sleep(5 * time.Second) // more than two sync intervals
	if after := readings(); after != before {
		t.Errorf("readings after the refused connection: %d, want %d (nothing stored)", after, before)
	}

	if code, body := connect(account("mario.rossi@example.invalid")); code != http.StatusCreated {
		t.Fatalf("connect Mario's own account: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := call("GET", "/api/v1/patients/"+id+"/connections", "")
		if strings.Contains(string(body), `"last_success_at"`) && strings.Contains(string(body), `"state":"active"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mario's own connection never synced: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", srv.base+"/taccuino/p/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), `id="connect-follower"`) {
		t.Errorf("the demo's patient page does not offer the regional follower mode (status %d)", res.StatusCode)
	}
}
