package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/notify/mailtest"
)

// TestServeNotifications runs 'fsecgm serve' with FSECGM_SMTP_URL pointing
// at a receiver of the test's own, sets and confirms Mario's address
// through the API and the e-mailed link, has his GP and a stranger read
// his data, and reads what arrives: one message for the GP, one for the
// refused stranger, the right roles, no glucose value, no fiscal code.
func TestServeNotifications(t *testing.T) {
	t.Parallel()
	mail, err := mailtest.Start(mailtest.Options{Username: "fsecgm", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer mail.Close()
	_, _, vars := devServeVars(t, 21)
	vars["FSECGM_SMTP_URL"] = mail.URL() // loopback: credentials without TLS allowed
	srv := serveInProcess(t, vars, "--dev", "--addr", "127.0.0.1:0")
	defer srv.stop(t, 30*time.Second)
	iss, err := auth.OpenDevIssuer(vars["FSECGM_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	issue := func(spec auth.PrincipalSpec) string {
		tok, err := iss.Issue(spec, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mario := issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: taccuino.DemoPatientCF, Name: "Mario Rossi"})
	gp := issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: taccuino.DemoMMGCF, PractitionerRole: auth.PractitionerMMG,
		Name: "Luca Verdi"})
	stranger := issue(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: "BNCPLA70A01D612B", PractitionerRole: auth.PractitionerMMG,
		Name: "Paolo Bianchi"})
	client := &http.Client{Timeout: 20 * time.Second}
	call := func(method, url, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, body := call("GET", srv.base+"/api/v1/patients?identifier="+taccuino.DemoPatientCF, mario, "")
	var found struct{ Patients []struct{ ID string } }
	if err := json.Unmarshal(body, &found); code != 200 || err != nil || len(found.Patients) != 1 {
		t.Fatalf("find Mario: %d %s", code, body)
	}
	api := srv.base + "/api/v1/patients/" + found.Patients[0].ID
	code, body = call("GET", api+"/readings", mario, "")
	var rd struct{ Readings []struct{ Value float64 } }
	if err := json.Unmarshal(body, &rd); code != 200 || err != nil || len(rd.Readings) == 0 {
		t.Fatalf("readings: %d", code)
	}

	code, body = call("PUT", api+"/notifications", mario, `{"email":"mario.rossi@example.org","mode":"each"}`)
	if code != http.StatusAccepted || !strings.Contains(string(body), `"state":"pending"`) || strings.Contains(string(body), "mario.rossi") {
		t.Fatalf("PUT notifications: %d %s", code, body)
	}
	ms := mail.Wait(1, 10*time.Second)
	if len(ms) != 1 {
		t.Fatalf("%d confirmation e-mails", len(ms))
	}
	link := regexp.MustCompile(`https?://\S+/notifications/confirm\?token=\S+`).FindString(ms[0].Body)
	if link == "" {
		t.Fatalf("no link in %q", ms[0].Body)
	}
	link = srv.base + link[strings.Index(link, "/notifications/confirm"):]
	if code, body := call("GET", link, "", ""); code != 200 || !strings.Contains(string(body), "m***@e***.org") {
		t.Fatalf("confirmation page: %d %s", code, body)
	}
	if code, _ := call("GET", link, "", ""); code != 404 {
		t.Errorf("the link a second time: %d, want 404", code)
	}
	if code, body := call("GET", api+"/notifications", mario, ""); code != 200 || !strings.Contains(string(body), `"state":"confirmed"`) {
		t.Fatalf("GET notifications: %d %s", code, body)
	}

	// Within one minute: the GP's reads (one message) and the stranger's
	// refused attempt (another).
	if s := time.Now().Second(); s > 45 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	for _, p := range []string{"/glucose/latest", "/glucometrics"} {
		if code, _ := call("GET", api+p, gp, ""); code != 200 {
			t.Fatalf("GP reads %s: %d", p, code)
		}
	}
	if code, _ := call("GET", api+"/glucose/latest", stranger, ""); code != 403 {
		t.Fatalf("stranger: %d, want 403", code)
	}
	for range 3 {
		call("GET", api+"/glucose/latest", mario, "") // his own: never told
	}
	got := mail.Wait(3, 90*time.Second)[1:]
	time.Sleep(6 * time.Second) // a third message would be composed by now
	got = mail.Messages()[1:]
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2", len(got))
	}
	// The two messages are sent side by side: their order is not fixed.
	if !strings.Contains(got[0].Body, "Luca Verdi") {
		got[0], got[1] = got[1], got[0]
	}
	for i, want := range [][]string{
		{"Luca Verdi, medico di medicina generale", "ha consultato l'ultima glicemia", "ha consultato il profilo glicemico", "consentito"},
		{"Paolo Bianchi, medico di medicina generale", "ha tentato di consultare l'ultima glicemia", "negato"},
	} {
		for _, s := range want {
			if !strings.Contains(got[i].Body, s) {
				t.Errorf("message %d lacks %q:\n%s", i, s, got[i].Body)
			}
		}
	}
	cf := regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)
	for i, m := range got {
		text := string(m.Data) + m.Body
		if cf.MatchString(text) {
			t.Errorf("message %d holds a fiscal code", i)
		}
		for _, r := range rd.Readings {
			for _, v := range []string{fmt.Sprintf(" %g ", r.Value), fmt.Sprintf(" %g\n", r.Value)} {
				if strings.Contains(text, v) {
					t.Errorf("message %d holds the glucose value %q", i, v)
				}
			}
		}
		if m.To[0] != "mario.rossi@example.org" {
			t.Errorf("message %d went to %v", i, m.To)
		}
	}
	// /metrics shows the outbox.
	if code, body := call("GET", srv.base+"/metrics", "", ""); code != 200 ||
		!strings.Contains(string(body), `fsecgm_notification_messages{state="sent"} 2`) {
		t.Errorf("/metrics: %d, no sent notifications", code)
	}
}

// TestNotificationsCommand: 'fsecgm notifications' lists and refuses what
// it cannot do, with the right exit statuses.
func TestNotificationsCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"notifications", "list", "--database-url", url}, 0, "0 messages"},
		{[]string{"notifications", "list", "--state", "all", "--database-url", url}, 0, "ID  PATIENT"},
		{[]string{"notifications", "resend", "42", "--database-url", url}, 1, "not found"},
		{[]string{"notifications", "resend", "x"}, 2, "not a message id"},
		{[]string{"notifications", "list", "--state", "lost"}, 2, "--state"},
		{[]string{"notifications", "purge"}, 2, "unknown verb"},
	} {
		var stdout, stderr strings.Builder
		e := &env{Stdout: &stdout, Stderr: &stderr, Getenv: mapEnv(nil)}
		code := run(context.Background(), e, c.args)
		if code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.out) {
			t.Errorf("%v: exit %d, want %d; output %q, want %q", c.args, code, c.code, stdout.String()+stderr.String(), c.out)
		}
	}
}
