package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"

	"github.com/google/go-cmp/cmp"
)

// openDev opens a development issuer with a key file in a temporary directory.
func openDev(t *testing.T) *auth.DevIssuer {
	t.Helper()
	d, err := auth.OpenDevIssuer(filepath.Join(t.TempDir(), ".data", "dev-issuer.jwk"))
	if err != nil {
		t.Fatalf("OpenDevIssuer: %v", err)
	}
	return d
}

func TestDevIssuerRoundTrip(t *testing.T) {
	d := openDev(t)
	v := newVerifier(t, d.VerifierConfig())
	for _, spec := range []auth.PrincipalSpec{citizen, doctor, service} {
		t.Run(string(spec.Role), func(t *testing.T) {
			tok, err := d.Issue(spec, 12*time.Hour)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify dev token: %v", err)
			}
			if diff := cmp.Diff(wantPrincipal(spec, auth.DevIssuerID), got, principalCmp...); diff != "" {
				t.Errorf("Verify dev token principal (-want +got):\n%s", diff)
			}
			if d := time.Until(got.Expiry); d < 11*time.Hour || d > 12*time.Hour {
				t.Errorf("dev token expires in %v, want 12h", d)
			}
		})
	}
	if _, err := d.Issue(citizen, 0); err == nil {
		t.Errorf("Issue with zero ttl succeeded")
	}
	if _, err := d.Issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: "RSSMRA80A01H501X"}, time.Hour); err == nil {
		t.Errorf("Issue with an invalid fiscal code succeeded")
	}
}

func TestDevIssuerKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nested", "dev.jwk")

	// Two processes starting together agree on one key.
	var wg sync.WaitGroup
	issuers := make([]*auth.DevIssuer, 4)
	errs := make([]error, 4)
	for i := range issuers {
		wg.Go(func() { issuers[i], errs[i] = auth.OpenDevIssuer(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("OpenDevIssuer #%d: %v", i, err)
		}
		if issuers[i].KeyID() != issuers[0].KeyID() {
			t.Errorf("OpenDevIssuer #%d kid %s, want %s (same key file)", i, issuers[i].KeyID(), issuers[0].KeyID())
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".dev-issuer-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	// A token of one process verifies in another that reopens the file.
	tok, err := issuers[1].Issue(citizen, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	again, err := auth.OpenDevIssuer(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newVerifier(t, again.VerifierConfig()).Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify token of the same key file: %v", err)
	}

	// A damaged key file is reported, never replaced.
	bad := filepath.Join(dir, "bad.jwk")
	if err := os.WriteFile(bad, []byte(`{"kty":"oct","k":"c2VjcmV0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.OpenDevIssuer(bad); err == nil {
		t.Errorf("OpenDevIssuer of a symmetric key succeeded")
	} else if !strings.Contains(err.Error(), bad) {
		t.Errorf("OpenDevIssuer error %q does not name the file", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != `{"kty":"oct","k":"c2VjcmV0"}` {
		t.Errorf("damaged key file was rewritten: %s", b)
	}
}

func TestDevTokensRefusedByRealVerifier(t *testing.T) {
	p := authtest.New(t)
	real := newVerifier(t, p.Config())
	d := openDev(t)
	dev := newVerifier(t, d.VerifierConfig())

	devTok, err := d.Issue(citizen, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := real.Verify(t.Context(), devTok); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("real verifier on a dev token = %v, want ErrBadSignature", err)
	}
	// Even with the provider's issuer and a published kid, the dev key does
	// not verify.
	realTok := p.Token(t, citizen)
	if _, err := dev.Verify(t.Context(), realTok); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("dev verifier on a provider token = %v, want ErrBadSignature", err)
	}
	// A provider token claiming the dev issuer is refused by the real verifier.
	if _, err := real.Verify(t.Context(), p.Token(t, citizen, authtest.WithIssuer(auth.DevIssuerID))); !errors.Is(err, auth.ErrWrongIssuer) {
		t.Errorf("real verifier on a token with the dev issuer = %v, want ErrWrongIssuer", err)
	}
}
