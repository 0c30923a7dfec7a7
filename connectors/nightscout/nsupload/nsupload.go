// Package nsupload keeps the uploaders of fsecgm's Nightscout-compatible
// upload door: the apps that people with diabetes run on their phones
// (xDrip+, Juggluco, AndroidAPS) upload glucose to a Nightscout site
// (cgm-remote-monitor), and fsecgm answers as such a site, for one patient
// per uploader.
//
// A site is given to those apps as a URL with the API secret as its user
// information, https://SECRET@host/path (xDrip+'s "Nightscout Sync (REST
// API)" base URL; Juggluco's Nightscout upload), and they send, with
// every request, the header api-secret holding the SHA-1 of SECRET in
// hexadecimal (Nightscout API v1, lib/server/swagger.yaml of
// cgm-remote-monitor, securitySchemes api_secret; lib/authorization
// compares it with the hash of its API_SECRET). Here the path names the
// uploader ({base}/nightscout/{id}); the secret is 160 random bits, shown
// once (Create), and only SHA-256(SHA-1(secret)) is kept (an unsalted hash
// is enough for a random secret of that length: NIST SP 800-63B §5.1.1.2
// asks salting of secrets people choose). An uploader is revoked, never
// deleted, so that the patient's access log keeps naming it.
package nsupload

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors.
var (
	// ErrNotFound: no such uploader (of the patient, for Revoke).
	ErrNotFound = errors.New("nsupload: no such uploader")
	// ErrUnauthorized: the api-secret header does not match the
	// uploader's secret, or is missing.
	ErrUnauthorized = errors.New("nsupload: wrong or missing api-secret")
	// ErrRevoked: the uploader was revoked.
	ErrRevoked = errors.New("nsupload: uploader revoked")
	// ErrInvalid: a label that cannot be used, or too many uploaders.
	ErrInvalid = errors.New("nsupload: invalid request")
)

// MaxLive bounds a patient's live (not revoked) uploaders.
const MaxLive = 10

// SecretBytes is the length of a secret: 160 bits.
const SecretBytes = 20

// Uploader is an uploader, without its secret.
type Uploader struct {
	ID           string     `json:"id"`
	PatientID    int64      `json:"-"`
	Label        string     `json:"label"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	LastUploadAt *time.Time `json:"last_upload_at"`
	Readings     int64      `json:"readings"`
}

// Querier is what the store runs its statements on: a pool or a
// transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const columns = `id, patient_id, label, created_at, revoked_at, last_upload_at, readings`

func scan(row pgx.Row) (Uploader, error) {
	var u Uploader
	var pid int32
	err := row.Scan(&u.ID, &pid, &u.Label, &u.CreatedAt, &u.RevokedAt, &u.LastUploadAt, &u.Readings)
	u.PatientID = int64(pid)
	return u, err
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Create creates, in q, an uploader of the patient named label (what the
// patient calls the app: "xDrip+ sul telefono") and returns it with its
// secret, which is never available again.
func Create(ctx context.Context, q Querier, patientID int64, label string) (Uploader, string, error) {
	label = strings.TrimSpace(label)
	if label == "" || utf8.RuneCountInString(label) > 64 || !utf8.ValidString(label) {
		return Uploader{}, "", fmt.Errorf("%w: the name must have 1 to 64 characters", ErrInvalid)
	}
	idb := make([]byte, 10)
	secret := make([]byte, SecretBytes)
	if _, err := rand.Read(idb); err != nil {
		return Uploader{}, "", fmt.Errorf("nsupload: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return Uploader{}, "", fmt.Errorf("nsupload: %w", err)
	}
	id := strings.ToLower(idEncoding.EncodeToString(idb))
	plain := hex.EncodeToString(secret)
	// The count and the insert in one statement, under a lock of the
	// patient's row, so that two requests cannot both pass MaxLive.
	row := q.QueryRow(ctx, `
		WITH p AS (SELECT id FROM patients WHERE id = $2 FOR NO KEY UPDATE),
		live AS (SELECT count(*) AS n FROM ns_uploaders WHERE patient_id = (SELECT id FROM p) AND revoked_at IS NULL)
		INSERT INTO ns_uploaders (id, patient_id, label, secret_hash)
		SELECT $1, p.id, $3, $4 FROM p, live WHERE live.n < $5
		RETURNING `+columns, id, patientID, label, hashOf(plain), MaxLive)
	u, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`, patientID).Scan(&exists); err != nil {
			return Uploader{}, "", fmt.Errorf("nsupload: create: %w", err)
		}
		if !exists {
			return Uploader{}, "", fmt.Errorf("nsupload: create: patient %d: %w", patientID, ErrNotFound)
		}
		return Uploader{}, "", fmt.Errorf("%w: at most %d uploaders; revoke one first", ErrInvalid, MaxLive)
	}
	if err != nil {
		return Uploader{}, "", fmt.Errorf("nsupload: create: %w", err)
	}
	return u, plain, nil
}

// hashOf returns what is stored of a secret: SHA-256 of its SHA-1.
func hashOf(secret string) []byte {
	s1 := sha1.Sum([]byte(secret))
	h := sha256.Sum256(s1[:])
	return h[:]
}

// List returns the patient's uploaders, newest first, revoked ones too.
func List(ctx context.Context, q Querier, patientID int64) ([]Uploader, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM ns_uploaders WHERE patient_id = $1 ORDER BY created_at DESC, id`, patientID)
	if err != nil {
		return nil, fmt.Errorf("nsupload: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Uploader, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("nsupload: list: %w", err)
	}
	return out, nil
}

// Revoke revokes the patient's uploader id, in q: its secret is refused
// from then on. Revoking a revoked uploader changes nothing.
func Revoke(ctx context.Context, q Querier, patientID int64, id string) (Uploader, error) {
	u, err := scan(q.QueryRow(ctx, `UPDATE ns_uploaders SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 AND patient_id = $2 RETURNING `+columns, id, patientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Uploader{}, fmt.Errorf("nsupload: revoke %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Uploader{}, fmt.Errorf("nsupload: revoke: %w", err)
	}
	return u, nil
}

// Authenticate returns the uploader id when apiSecret, the api-secret
// header, is the SHA-1 of its secret in hexadecimal (either case). An
// unknown id is ErrNotFound; a wrong or missing secret ErrUnauthorized,
// with the uploader (its patient is known); a revoked uploader
// ErrRevoked, with the uploader.
func Authenticate(ctx context.Context, q Querier, id, apiSecret string) (Uploader, error) {
	if len(id) != 16 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return Uploader{}, ErrNotFound
	}
	var stored []byte
	var u Uploader
	var pid int32
	err := q.QueryRow(ctx, `SELECT `+columns+`, secret_hash FROM ns_uploaders WHERE id = $1`, id).
		Scan(&u.ID, &pid, &u.Label, &u.CreatedAt, &u.RevokedAt, &u.LastUploadAt, &u.Readings, &stored)
	u.PatientID = int64(pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return Uploader{}, ErrNotFound
	}
	if err != nil {
		return Uploader{}, fmt.Errorf("nsupload: authenticate: %w", err)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(apiSecret))
	if err != nil || len(sum) != sha1.Size {
		return u, ErrUnauthorized
	}
	h := sha256.Sum256(sum)
	if subtle.ConstantTimeCompare(h[:], stored) != 1 {
		return u, ErrUnauthorized
	}
	if u.RevokedAt != nil {
		return u, ErrRevoked
	}
	return u, nil
}

// Uploaded records, in q, that the uploader delivered n readings now.
func Uploaded(ctx context.Context, q Querier, id string, n int, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE ns_uploaders SET last_upload_at = $2, readings = readings + $3 WHERE id = $1`, id, now, n); err != nil {
		return fmt.Errorf("nsupload: uploaded: %w", err)
	}
	return nil
}

// Path is the path of an uploader's site under the service's base.
func Path(id string) string { return "/nightscout/" + id }

// URL returns the URL an app is given: the service's base (scheme and
// host, and path if any) with the secret as user information and the
// uploader's path, https://SECRET@host/nightscout/ID.
func URL(base, id, secret string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("nsupload: base URL %q: want http(s)://host", base)
	}
	u.User = url.User(secret)
	u.Path = strings.TrimSuffix(u.Path, "/") + Path(id)
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// APISecret returns the api-secret header an app sends for secret: its
// SHA-1 in hexadecimal.
func APISecret(secret string) string {
	s := sha1.Sum([]byte(secret))
	return hex.EncodeToString(s[:])
}
