package connsync

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestKeyringRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	k, err := NewKeyring(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"email":"a@b.c","password":"p"}`)
	s, err := k.Seal(secret, []byte("row 1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != KeyID(testKey(1)) || len(s.KeyID) != 8 || bytes.Contains(s.Ciphertext, []byte("password")) {
		t.Fatalf("sealed = %+v", s)
	}
	if got, err := k.Open(s, []byte("row 1")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := s
	flipped.Ciphertext = bytes.Clone(s.Ciphertext)
	flipped.Ciphertext[3] ^= 1
	for name, tc := range map[string]struct {
		s   Sealed
		aad string
	}{
		"other row (swapped ciphertext)": {s, "row 2"},
		"flipped bit":                    {flipped, "row 1"},
		"unknown key":                    {Sealed{KeyID: "deadbeef", Nonce: s.Nonce, Ciphertext: s.Ciphertext}, "row 1"},
	} {
		if _, err := k.Open(tc.s, []byte(tc.aad)); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: Open = %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := NewKeyring([]byte("short")); err == nil {
		t.Errorf("NewKeyring accepted a short key")
	}
	if strings.Contains(k.String(), string(testKey(1))) {
		t.Errorf("String shows the key")
	}
}

func TestKeyringFromEnv(t *testing.T) {
	t.Parallel()
	b64 := func(n byte) string { return base64.StdEncoding.EncodeToString(testKey(n)) }
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte("# rotation\n"+b64(2)+"\n"+b64(1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	k, err := KeyringFromEnv(env(map[string]string{EnvCredentialsKeyFile: file}), EnvOptions{})
	if err != nil || k.PrimaryID() != KeyID(testKey(2)) || len(k.aeads) != 2 {
		t.Fatalf("key file: %v, %v", k, err)
	}
	k, err = KeyringFromEnv(env(map[string]string{EnvCredentialsKey: b64(3), EnvCredentialsOldKeys: b64(1) + "," + b64(2)}), EnvOptions{})
	if err != nil || k.PrimaryID() != KeyID(testKey(3)) || len(k.aeads) != 3 {
		t.Fatalf("env keys: %v, %v", k, err)
	}
	for name, m := range map[string]map[string]string{
		"none (production)": {},
		"both":              {EnvCredentialsKey: b64(1), EnvCredentialsKeyFile: file},
		"bad base64":        {EnvCredentialsKey: "not base64!"},
		"short key":         {EnvCredentialsKey: base64.StdEncoding.EncodeToString([]byte("short"))},
	} {
		if _, err := KeyringFromEnv(env(m), EnvOptions{}); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), b64(1)) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	// Development mode creates a key file once and reuses it.
	dev := EnvOptions{Dev: true, DataDir: filepath.Join(dir, "data")}
	k1, err := KeyringFromEnv(env(nil), dev)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := KeyringFromEnv(env(nil), dev)
	if err != nil || k2.PrimaryID() != k1.PrimaryID() {
		t.Fatalf("dev key not reused: %v, %v", k2, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "data", "secrets", "credentials.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("dev key file: %v, %v", st, err)
	}
}

// TestRotation: secrets sealed with an old key still open once a new
// primary is configured; Rekey rewrites them with the new key, after which
// the old key can go; a ciphertext moved to another row does not open.
func TestRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, 0, nil)
	p0, c0 := e.connect(0)
	e.connect(1)
	e.syncDue()
	ctx := context.Background()

	// New primary key 2, old key 1 kept.
	k2, err := NewKeyring(testKey(2), testKey(1))
	must(t, err)
	e.syncer.keys = k2
	e.due()
	if st := e.syncDue(); st.Synced != 2 || st.Failed != 0 {
		t.Fatalf("SyncDue with the old key among others = %+v", st)
	}
	n, err := e.syncer.Rekey(ctx)
	if err != nil || n != 4 { // credentials and session of two accounts
		t.Fatalf("Rekey = %d, %v; want 4", n, err)
	}
	if got := e.count(`SELECT count(*) FROM llu_accounts WHERE cred_key_id <> $1 OR session_key_id <> $1`, k2.PrimaryID()); got != 0 {
		t.Errorf("%d accounts still sealed with the old key", got)
	}
	// Only key 2 now.
	only2, err := NewKeyring(testKey(2))
	must(t, err)
	e.syncer.keys = only2
	e.due()
	if st := e.syncDue(); st.Synced != 2 || st.Failed != 0 {
		t.Fatalf("SyncDue after rekey with the new key only = %+v", st)
	}
	// The fingerprint follows the new key: the account is still known.
	err = e.tx(func(tx pgx.Tx) error {
		_, err := e.syncer.Connect(ctx, tx, p0.ID, ConnectRequest{Email: e.accounts[0].Email, Password: e.accounts[0].Password})
		return err
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("Connect of an already connected account after rekey = %v, want ErrConflict", err)
	}

	// Swap the sealed credentials of the two accounts: neither opens.
	e.exec(`UPDATE llu_accounts a SET cred_nonce = b.cred_nonce, cred_sealed = b.cred_sealed
		FROM llu_accounts b WHERE a.id <> b.id`)
	e.exec(`UPDATE llu_accounts SET session_sealed = NULL, session_nonce = NULL, session_key_id = NULL`)
	e.due()
	st := e.syncDue()
	if st.Synced != 2 || st.Failed != 2 {
		t.Fatalf("SyncDue with swapped ciphertexts = %+v, want two failed syncs", st)
	}
	got := e.conn(p0, c0.ID)
	if got.State != StateError || got.Problem == nil || got.Problem.Kind != "internal" {
		t.Errorf("connection with a swapped ciphertext = %s, %+v", got.State, got.Problem)
	}
	if s := e.fake.Stats(e.accounts[0].Email); s.FailedLogins != 0 {
		t.Errorf("a swapped ciphertext led to a login with the other account's password: %+v", s)
	}
}
