package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzVerify and, if absent, testdata/fuzzkey.jwk")

const (
	fuzzKeyFile = "testdata/fuzzkey.jwk"
	fuzzIssuer  = "https://idp.fuzz.example"
)

// fuzzNow is the fuzz verifier's clock: the seed tokens stay valid forever.
var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fuzzKey loads the fixed test key that signs the seed tokens.
func fuzzKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	raw, err := os.ReadFile(fuzzKeyFile)
	if errors.Is(err, os.ErrNotExist) && *updateFuzzSeeds {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{
			Marshal:  jwkset.JWKMarshalOptions{Private: true},
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: "fuzz-1", USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = json.MarshalIndent(jwk.Marshal(), "", "  ")
		if err := os.WriteFile(fuzzKeyFile, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatalf("%s: %v", fuzzKeyFile, err)
	}
	return jwk.Key().(*ecdsa.PrivateKey), jwk.Marshal().KID
}

func fuzzVerifier(t testing.TB, key *ecdsa.PrivateKey, kid string) *auth.Verifier {
	t.Helper()
	pub, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{pub.Marshal()}})
	v, err := auth.NewVerifier(t.Context(), auth.Config{
		Issuer: fuzzIssuer, Audience: "fsecgm", KeySet: set, ClientIDs: []string{"mmg-record"},
		Now: func() time.Time { return fuzzNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seedTokens are the seed corpus: genuine tokens and the classic forgeries.
func seedTokens(t testing.TB, key *ecdsa.PrivateKey, kid string) map[string]string {
	t.Helper()
	claims := func(spec auth.PrincipalSpec, mod func(jwt.MapClaims)) jwt.MapClaims {
		c, err := auth.DefaultClaimNames().Encode(spec)
		if err != nil {
			t.Fatal(err)
		}
		mc := jwt.MapClaims(c)
		mc["iss"] = fuzzIssuer
		mc["aud"] = "fsecgm"
		mc["iat"] = fuzzNow.Add(-time.Hour).Unix()
		mc["nbf"] = fuzzNow.Add(-time.Hour).Unix()
		mc["exp"] = fuzzNow.Add(time.Hour).Unix()
		mc["jti"] = "seed"
		if mod != nil {
			mod(mc)
		}
		return mc
	}
	signTyp := func(typ string, m jwt.SigningMethod, c jwt.MapClaims, k any) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = kid
		if typ == "" {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = typ
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, k any) string { return signTyp("at+jwt", m, c, k) }
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	good := sign(jwt.SigningMethodES256, claims(citizen, nil), key)
	parts := strings.Split(good, ".")
	return map[string]string{
		"citizen":      good,
		"practitioner": sign(jwt.SigningMethodES256, claims(doctor, nil), key),
		"service":      sign(jwt.SigningMethodES256, claims(service, func(c jwt.MapClaims) { c["scp"] = []string{"system/*.rs"} }), key),
		"none":         sign(jwt.SigningMethodNone, claims(citizen, nil), jwt.UnsafeAllowNoneSignatureType),
		"hs256-pubkey": sign(jwt.SigningMethodHS256, claims(citizen, nil), pemKey),
		"expired":      sign(jwt.SigningMethodES256, claims(citizen, func(c jwt.MapClaims) { c["exp"] = fuzzNow.Add(-time.Hour).Unix() }), key),
		"wrong-aud":    sign(jwt.SigningMethodES256, claims(citizen, func(c jwt.MapClaims) { c["aud"] = []string{"x", "y"} }), key),
		// An ID token (typ JWT) is not an access token; a client the
		// verifier lists is accepted without the typ.
		"id-token":      signTyp("JWT", jwt.SigningMethodES256, claims(citizen, nil), key),
		"listed-client": signTyp("", jwt.SigningMethodES256, claims(service, nil), key),
		"tampered":      parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"service","client_id":"c","iss":"`+fuzzIssuer+`","aud":"fsecgm","exp":2000000000}`)) + "." + parts[2],
	}
}

// TestFuzzSeeds rewrites the seed corpus with -update-fuzz-seeds, and
// otherwise checks that the stored seeds still verify as they should.
func TestFuzzSeeds(t *testing.T) {
	key, kid := fuzzKey(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if *updateFuzzSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, tok := range seedTokens(t, key, kid) {
			body := "go test fuzz v1\nstring(" + strconv.Quote(tok) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := fuzzVerifier(t, key, kid)
	want := map[string]error{"citizen": nil, "practitioner": nil, "service": nil,
		"none": auth.ErrAlgorithm, "hs256-pubkey": auth.ErrAlgorithm, "expired": auth.ErrExpired,
		"wrong-aud": auth.ErrWrongAudience, "tampered": auth.ErrBadSignature, "id-token": auth.ErrClaims, "listed-client": nil}
	for name, wantErr := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (run go test -run TestFuzzSeeds -update-fuzz-seeds)", name, err)
		}
		lines := strings.Split(string(b), "\n")
		tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		_, err = v.Verify(t.Context(), tok)
		if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Errorf("seed %s: Verify = %v, want %v", name, err, wantErr)
		}
	}
}

// FuzzVerify checks that arbitrary strings never panic, are accepted only
// when genuinely signed by the key, and never appear in an error message.
func FuzzVerify(f *testing.F) {
	key, kid := fuzzKey(f)
	v := fuzzVerifier(f, key, kid)
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "Bearer x", strings.Repeat(".", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(t.Context(), raw)
		if err == nil {
			if p == nil {
				t.Fatalf("Verify returned neither a principal nor an error")
			}
			if !genuinelySigned(raw, &key.PublicKey) {
				t.Fatalf("Verify accepted a token not signed ES256 by the key: %q", raw)
			}
			return
		}
		if p != nil {
			t.Fatalf("Verify returned a principal and error %v", err)
		}
		kinds := 0
		for _, k := range allKinds {
			if errors.Is(err, k) {
				kinds++
			}
		}
		if kinds != 1 {
			t.Fatalf("Verify error %q wraps %d of the package's error kinds, want 1", err, kinds)
		}
		msg := err.Error()
		for _, part := range strings.Split(raw, ".") {
			if len(part) >= 20 && isBase64URL(part) && strings.Contains(msg, part) {
				t.Fatalf("error message %q contains a token segment", msg)
			}
		}
	})
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// genuinelySigned checks an ES256 signature over raw independently of the
// verifier (RFC 7518 §3.4).
func genuinelySigned(raw string, pub *ecdsa.PublicKey) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(h, &header) != nil || header.Alg != "ES256" {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return ecdsa.Verify(pub, digest[:], r, s)
}
