package connsync

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a credentials key: 32 bytes (AES-256).
const KeySize = 32

// Keyring seals and opens the stored secrets with AES-256-GCM. New secrets
// are sealed with the primary key; any key of the ring opens what it
// sealed, so keys can be rotated: add a new primary, keep the old one
// among the others, run [Syncer.Rekey], then drop the old key.
//
// A key is known by its id, the first 8 hex digits of its SHA-256, stored
// beside each ciphertext. The associated data names the row and the field a
// ciphertext belongs to, so a ciphertext copied to another row or field
// does not open. A Keyring never prints its keys.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	macKey  []byte
}

// Sealed is a secret as stored: the id of the key that sealed it, the
// 12-byte GCM nonce and the ciphertext with its tag.
type Sealed struct {
	KeyID      string
	Nonce      []byte
	Ciphertext []byte
}

// KeyID returns the id of a key: the first 8 hex digits of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// NewKeyring returns a keyring sealing with primary and opening with
// primary and the old keys. Every key must be KeySize bytes.
func NewKeyring(primary []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{primary}, old...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("connsync: credentials key %d has %d bytes, want %d", i+1, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("connsync: credentials key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("connsync: credentials key: %w", err)
		}
		id := KeyID(key)
		if i == 0 {
			k.primary = id
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte("fsecgm account fingerprint"))
			k.macKey = mac.Sum(nil)
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// PrimaryID returns the id of the key new secrets are sealed with.
func (k *Keyring) PrimaryID() string { return k.primary }

// Seal encrypts plaintext with the primary key; aad names what it is for.
func (k *Keyring) Seal(plaintext, aad []byte) (Sealed, error) {
	aead := k.aeads[k.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("connsync: nonce: %w", err)
	}
	return Sealed{KeyID: k.primary, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, aad)}, nil
}

// ErrUnsealable is returned by Open when the key is unknown or the
// ciphertext, nonce or associated data do not match (a tampered or moved
// secret).
var ErrUnsealable = errors.New("connsync: secret cannot be opened (unknown key, or tampered or moved ciphertext)")

// Open decrypts s, which must have been sealed with the same aad.
func (k *Keyring) Open(s Sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: key %s is not configured", ErrUnsealable, s.KeyID)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("%w: bad nonce", ErrUnsealable)
	}
	p, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, ErrUnsealable
	}
	return p, nil
}

// fingerprint returns a keyed hash of a LibreLinkUp e-mail, so that the
// same account cannot be connected twice without storing the e-mail in
// clear. It changes with the primary key (Rekey recomputes it).
func (k *Keyring) fingerprint(email string) string {
	mac := hmac.New(sha256.New, k.macKey)
	mac.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(mac.Sum(nil))
}

// String shows the key ids only.
func (k *Keyring) String() string {
	return fmt.Sprintf("connsync.Keyring{primary: %s, keys: %d}", k.primary, len(k.aeads))
}

// LogValue shows the key ids only.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", k.primary), slog.Int("keys", len(k.aeads)))
}

// GenerateKey returns a new random key, base64-encoded as the environment
// and key files hold it.
func GenerateKey() (string, error) {
	var b [KeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("connsync: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

func decodeKey(what, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			b, err = b2, nil
		}
	}
	if err != nil || len(b) != KeySize {
		return nil, fmt.Errorf("connsync: %s: want %d random bytes in base64 (for example: openssl rand -base64 32)", what, KeySize)
	}
	return b, nil
}

// KeyringFromEnv builds the keyring from the environment:
//
//   - FSECGM_CREDENTIALS_KEY: the primary key, 32 bytes in base64; or
//   - FSECGM_CREDENTIALS_KEY_FILE: a file holding one base64 key per line,
//     the first being the primary and the others old keys still accepted
//     for opening ("#" starts a comment);
//   - FSECGM_CREDENTIALS_OLD_KEYS: more old keys, comma-separated.
//
// Giving both the key and the key file is an error. With neither, in
// development mode (o.Dev), the key file o.DataDir/credentials.key is used,
// and created (mode 0600) with a random key when missing; otherwise it is an
// error saying what to set.
func KeyringFromEnv(getenv func(string) string, o EnvOptions) (*Keyring, error) {
	keyEnv := strings.TrimSpace(getenv(EnvCredentialsKey))
	file := strings.TrimSpace(getenv(EnvCredentialsKeyFile))
	var keys [][]byte
	switch {
	case keyEnv != "" && file != "":
		return nil, fmt.Errorf("connsync: set %s or %s, not both", EnvCredentialsKey, EnvCredentialsKeyFile)
	case keyEnv != "":
		k, err := decodeKey(EnvCredentialsKey, keyEnv)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	default:
		if file == "" {
			if !o.Dev {
				return nil, fmt.Errorf("connsync: no credentials key: set %s (32 random bytes in base64, e.g. from openssl rand -base64 32) or %s", EnvCredentialsKey, EnvCredentialsKeyFile)
			}
			dir := o.DataDir
			if dir == "" {
				dir = ".data"
			}
			file = filepath.Join(dir, "secrets", "credentials.key")
			if err := ensureDevKeyFile(file); err != nil {
				return nil, err
			}
		}
		ks, err := readKeyFile(file)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	for i, s := range strings.Split(getenv(EnvCredentialsOldKeys), ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := decodeKey(fmt.Sprintf("%s item %d", EnvCredentialsOldKeys, i+1), s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys[0], keys[1:]...)
}

// readKeyFile reads a key file: base64 keys, one per line, primary first.
func readKeyFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connsync: credentials key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, err := decodeKey(fmt.Sprintf("%s:%d", path, line), s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("connsync: credentials key file %s holds no key", path)
	}
	return keys, nil
}

// ensureDevKeyFile creates a development key file with a random key when
// there is none.
func ensureDevKeyFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("connsync: development key file: %w", err)
	}
	k, err := GenerateKey()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // created meanwhile by another process
	}
	if err != nil {
		return fmt.Errorf("connsync: development key file: %w", err)
	}
	_, err = fmt.Fprintf(f, "# fsecgm development credentials key (primary first; one base64 key per line)\n%s\n", k)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("connsync: development key file: %w", err)
	}
	return nil
}

// mkdirPrivate creates dir with mode 0700, and any missing parent with mode
// 0755: the parent is typically .data, which also holds the private
// PostgreSQL's data directory and must stay traversable by its server user.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}
