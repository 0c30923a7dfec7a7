package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/migrations/dbtest"
)

// listeningRE finds the address "fsecgm serve" logs once it listens.
var listeningRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// devServeVars starts a fake LibreLinkUp with the demo's accounts
// (populateDemo: accounts[0] follows Mario Rossi, the demo patient; the
// others follow Giulia Bianchi, someone else and all three), closed with
// the test, and returns it, its accounts and the environment of a
// development "fsecgm serve" on a fresh database that syncs from it every
// 2 s; seed varies the credentials key.
func devServeVars(t *testing.T, seed uint64) (*librelinkuptest.Server, []librelinkuptest.Account, map[string]string) {
	t.Helper()
	fake := librelinkuptest.New(librelinkuptest.Options{})
	accounts, err := populateDemo(fake)
	if err != nil {
		t.Fatal(err)
	}
	lluURL := fake.Start()
	t.Cleanup(fake.Close)
	return fake, accounts, map[string]string{
		"DATABASE_URL":              dbtest.URL(t),
		"FSECGM_DEV_KEY_FILE":       filepath.Join(t.TempDir(), "dev.jwk"),
		"FSECGM_CREDENTIALS_KEY":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(seed)}, 32)),
		"FSECGM_LIBRELINKUP_URL":    lluURL,
		"FSECGM_SYNC_INTERVAL":      "2s",
		"FSECGM_LIBRELINKUP_BUDGET": "60000",
	}
}

// inProcess is "fsecgm serve" run by run in this test's process.
type inProcess struct {
	base   string // http://host:port
	stderr *lockedWriter
	cancel context.CancelFunc
	done   chan int
}

// serveInProcess runs "fsecgm serve args..." with vars in this process and
// returns once it listens (within 60 s).
func serveInProcess(t *testing.T, vars map[string]string, args ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &inProcess{stderr: &lockedWriter{}, cancel: cancel, done: make(chan int, 1)}
	e := &env{Stdout: &lockedWriter{}, Stderr: s.stderr, Getenv: mapEnv(vars)}
	go func() { s.done <- run(ctx, e, append([]string{"serve"}, args...)) }()
	s.base = waitListening(t, s.stderr, 60*time.Second, func() (string, bool) {
		select {
		case code := <-s.done:
			return fmt.Sprintf("with %d", code), true
		default:
			return "", false
		}
	})
	return s
}

// waitListening returns the base URL of the service logging to log once it
// listens; the test fails when exited reports (how) it exited, or after d.
func waitListening(t *testing.T, log *lockedWriter, d time.Duration, exited func() (string, bool)) string {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(log.String()); m != nil {
			return "http://" + m[1]
		}
		if how, ok := exited(); ok {
			t.Fatalf("serve exited %s:\n%s", how, log.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", log.String())
		}
	}
}

// stop cancels the service and returns its exit status; the test fails
// when it has not stopped within d.
func (s *inProcess) stop(t *testing.T, d time.Duration) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		return code
	case <-time.After(d):
		t.Fatalf("serve did not stop within %s", d)
		return -1
	}
}
