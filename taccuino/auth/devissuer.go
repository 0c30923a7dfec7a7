package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The development issuer's identity. A Verifier for the real provider never
// accepts its tokens: its issuer differs and its key is not in the
// provider's JWKS.
const (
	// DevIssuerID is the iss of development tokens.
	DevIssuerID = "urn:fsecgm:dev"
	// DevAudience is the aud of development tokens.
	DevAudience = "fsecgm"
	// DefaultDevKeyFile is where "fsecgm dev-token" and "fsecgm serve --dev"
	// keep the development signing key, relative to the working directory.
	DefaultDevKeyFile = ".data/secrets/dev-issuer.jwk"
)

// maxKeyFileBytes bounds the key file read.
const maxKeyFileBytes = 64 << 10

// DevIssuer signs development tokens with an ES256 key kept in a key file,
// so that separate processes (dev-token, serve --dev) share it. Its tokens
// are verified by an ordinary Verifier built from VerifierConfig.
type DevIssuer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []byte
}

// OpenDevIssuer loads the key file at path, creating it (mode 0600, parent
// directories 0700) with a new P-256 key when it does not exist. Two
// processes creating it at once agree on one key: the file appears whole or
// not at all, and an existing file is never overwritten.
func OpenDevIssuer(path string) (*DevIssuer, error) {
	raw, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return nil, fmt.Errorf("auth: dev issuer key file %s: %w", path, err)
		}
		raw, err = readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key file %s: %w", path, err)
	}
	d, err := parseDevKey(raw)
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key file %s: %w", path, err)
	}
	return d, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxKeyFileBytes))
}

// createKeyFile writes a new key to a temporary file and links it into
// place, which fails if another process got there first (then its key is
// used).
func createKeyFile(path string) error {
	// The key's directory is private (0700); a missing parent is created
	// 0755, because .data also holds the private PostgreSQL's data directory,
	// which its server user must be able to reach.
	dir := filepath.Dir(path)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		return err
	}
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(jwk.Marshal(), "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".dev-issuer-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func parseDevKey(raw []byte) (*DevIssuer, error) {
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, fmt.Errorf("not a JWK: %w", err)
	}
	key, ok := jwk.Key().(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("not an EC P-256 private key")
	}
	kid := jwk.Marshal().KID
	if kid == "" {
		return nil, errors.New("key has no kid")
	}
	pub, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{pub.Marshal()}})
	if err != nil {
		return nil, err
	}
	return &DevIssuer{key: key, kid: kid, jwks: jwks}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of an EC P-256 public key.
func thumbprint(pub *ecdsa.PublicKey) (string, error) {
	b, err := pub.Bytes() // uncompressed point: 0x04 || X || Y
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
	canon := `{"crv":"P-256","kty":"EC","x":"` + enc(b[1:33]) + `","y":"` + enc(b[33:65]) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return enc(sum[:]), nil
}

// KeyID returns the kid of the development key.
func (d *DevIssuer) KeyID() string { return d.kid }

// JWKS returns the public JWK Set of the development issuer.
func (d *DevIssuer) JWKS() []byte { return append([]byte(nil), d.jwks...) }

// VerifierConfig returns the Config of a Verifier that accepts this
// issuer's tokens, through the same verification as the real provider's
// (a static key set instead of a JWKS URL). Set Logger and the like on it
// before calling NewVerifier.
func (d *DevIssuer) VerifierConfig() Config {
	return Config{Issuer: DevIssuerID, Audience: DevAudience, KeySet: d.JWKS()}
}

// Issue returns a signed ES256 token for spec, valid from now for ttl, with
// the claims of DefaultClaimNames.
func (d *DevIssuer) Issue(spec PrincipalSpec, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("auth: dev token: ttl must be positive, got %s", ttl)
	}
	claims, err := DefaultClaimNames().Encode(spec)
	if err != nil {
		return "", fmt.Errorf("auth: dev token: %w", err)
	}
	now := time.Now()
	jti := make([]byte, 16)
	rand.Read(jti)
	mc := jwt.MapClaims(claims)
	mc["iss"] = DevIssuerID
	mc["aud"] = DevAudience
	mc["iat"] = now.Unix()
	mc["nbf"] = now.Unix()
	mc["exp"] = now.Add(ttl).Unix()
	mc["jti"] = base64.RawURLEncoding.EncodeToString(jti)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, mc)
	t.Header["kid"] = d.kid
	t.Header["typ"] = "at+jwt" // RFC 9068 §2.1
	s, err := t.SignedString(d.key)
	if err != nil {
		return "", fmt.Errorf("auth: dev token: sign: %w", err)
	}
	return s, nil
}
