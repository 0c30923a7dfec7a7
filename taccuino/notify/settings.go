package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors of the package, possibly wrapped; consent's errors (ErrDenied,
// ErrNotFound) pass through as they are.
var (
	// ErrInvalid: an argument is not acceptable; the message says which.
	ErrInvalid = errors.New("notify: invalid")
	// ErrToken: a confirmation token that is unknown, already used or
	// replaced by a newer request.
	ErrToken = errors.New("notify: unknown or used confirmation link")
	// ErrExpired: a confirmation token past its 24 hours.
	ErrExpired = errors.New("notify: expired confirmation link")
	// ErrNotFound: an outbox message that does not exist.
	ErrNotFound = errors.New("notify: not found")
)

// Mode is how often a patient is told.
type Mode string

// The modes.
const (
	// ModeEach: a message for every access, within about a minute; the
	// accesses of one person in one minute in one message.
	ModeEach Mode = "each"
	// ModeDaily: one digest per local day, at the configured hour of the
	// following day.
	ModeDaily Mode = "daily"
	// ModeOff: no notification.
	ModeOff Mode = "off"
)

// ParseMode returns the mode named s, or ErrInvalid.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeEach, ModeDaily, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("%w: mode %q: want each, daily or off", ErrInvalid, s)
}

// State is the state of a patient's notification address.
type State string

// The states.
const (
	// StateNone: no address was ever confirmed, and none waits.
	StateNone State = "none"
	// StatePending: a new address (or a first one) waits for its link to
	// be opened; the confirmed one, if any, stays in force meanwhile.
	StatePending State = "pending"
	// StateConfirmed: the address in force was confirmed.
	StateConfirmed State = "confirmed"
	// StateBounced: the mail server refused the confirmed address for
	// good; nothing is sent until an address is confirmed again.
	StateBounced State = "bounced"
)

// TokenValidity is how long a confirmation link works.
const TokenValidity = 24 * time.Hour

// Settings are a patient's notification settings.
type Settings struct {
	// State summarises them: pending while a change waits for its
	// confirmation, else confirmed, bounced or none.
	State State
	// Email, Mode, Lang are the confirmed address in force (Email empty
	// when none), how often and in which language its messages are.
	Email string
	Mode  Mode
	Lang  locale.Lang
	// ConfirmedAt is when Email was confirmed; BouncedAt when it was
	// refused for good (zero if not), with BounceReason.
	ConfirmedAt, BouncedAt time.Time
	BounceReason           string
	// Pending is the change waiting for its confirmation, or nil.
	Pending *Pending
}

// Active reports whether messages are sent: a confirmed address, not
// bounced, mode not off.
func (s Settings) Active() bool {
	return s.Email != "" && s.BouncedAt.IsZero() && s.Mode != ModeOff
}

// Pending is a change of address waiting for the link sent to it.
type Pending struct {
	Email     string
	Mode      Mode
	Lang      locale.Lang
	ExpiresAt time.Time
}

// Request is a change of a patient's notification settings.
type Request struct {
	// Email is the address to notify; ignored with ModeOff.
	Email string
	Mode  Mode
	// Lang is the language of the messages (Italian when empty).
	Lang locale.Lang
}

// Change is what Store.Request did: the new settings and, when the
// address must be confirmed, the token of the link to send to it.
type Change struct {
	Settings Settings
	// Token is the confirmation token to send to Settings.Pending.Email;
	// empty when nothing needs confirming (off, or a mode change on the
	// confirmed address). It is stored nowhere: only its SHA-256.
	Token string
}

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives what the store and its workers log; nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): token expiry and the
	// composer's cut-offs. Leases use the database clock.
	Now func() time.Time
}

// Store keeps the notification settings, the queue of accesses to tell
// and the outbox in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	consent *consent.Store
	logger  *slog.Logger
	now     func() time.Time
}

// New returns a store on pool (migrated), whose accesses to the settings
// go through the gate c.
func New(pool *pgxpool.Pool, c *consent.Store, o Options) *Store {
	s := &Store{pool: pool, consent: c, logger: o.Logger, now: o.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

const settingsColumns = `coalesce(email, ''), mode, lang, confirmed_at, bounced_at, bounce_reason,
	pending_email, pending_mode, pending_lang, token_expires_at`

func scanSettings(row pgx.Row) (Settings, error) {
	var st Settings
	var confirmed, bounced, expires *time.Time
	var pEmail, pMode, pLang *string
	var mode, lang string
	if err := row.Scan(&st.Email, &mode, &lang, &confirmed, &bounced, &st.BounceReason, &pEmail, &pMode, &pLang, &expires); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Settings{State: StateNone, Mode: ModeOff, Lang: locale.IT}, nil
		}
		return st, err
	}
	st.Mode, st.Lang = Mode(mode), locale.Lang(lang)
	if confirmed != nil {
		st.ConfirmedAt = confirmed.UTC()
	}
	if bounced != nil {
		st.BouncedAt = bounced.UTC()
	}
	if pEmail != nil {
		st.Pending = &Pending{Email: *pEmail, Mode: Mode(*pMode), Lang: locale.Lang(*pLang), ExpiresAt: expires.UTC()}
	}
	switch {
	case st.Pending != nil:
		st.State = StatePending
	case st.Email == "":
		st.State = StateNone
	case !st.BouncedAt.IsZero():
		st.State = StateBounced
	default:
		st.State = StateConfirmed
	}
	return st, nil
}

// load reads the settings of a patient in tx (FOR UPDATE with lock).
func load(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, patientID int64, lock bool) (Settings, error) {
	sql := `SELECT ` + settingsColumns + ` FROM notification_settings WHERE patient_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	st, err := scanSettings(q.QueryRow(ctx, sql, patientID))
	if err != nil {
		return st, fmt.Errorf("notify: settings of patient %d: %w", patientID, err)
	}
	return st, nil
}

// Settings returns a patient's notification settings
// (consent.ActReadNotifications, through the gate).
func (s *Store) Settings(ctx context.Context, a consent.Actor, patientID int64) (Settings, error) {
	var st Settings
	err := s.consent.Access(ctx, a, patientID, consent.ActReadNotifications, "notification settings",
		func(ctx context.Context, tx pgx.Tx) error {
			var err error
			st, err = load(ctx, tx, patientID, false)
			return err
		})
	return st, err
}

// Request changes a patient's notification settings as a
// (consent.ActWriteNotifications; logged even for the patient): ModeOff
// turns them off at once; a mode or language change on the confirmed,
// unbounced address takes effect at once; any other address becomes
// pending, replacing a pending one, and Change.Token is the token of the
// link to send to it (the confirmed address stays in force until then).
func (s *Store) Request(ctx context.Context, a consent.Actor, patientID int64, r Request) (Change, error) {
	var ch Change
	mode, err := ParseMode(string(r.Mode))
	if err != nil {
		return ch, err
	}
	lang := r.Lang
	if lang != locale.EN {
		lang = locale.IT
	}
	email := ""
	detail := "notifications off"
	if mode != ModeOff {
		if email, err = NormalizeEmail(r.Email); err != nil {
			return ch, err
		}
		detail = "notifications " + string(mode) + " to " + MaskEmail(email)
	}
	err = s.consent.Access(ctx, a, patientID, consent.ActWriteNotifications, detail, func(ctx context.Context, tx pgx.Tx) error {
		now := s.clock()
		if _, err := tx.Exec(ctx, `INSERT INTO notification_settings (patient_id, changed_at) VALUES ($1, $2)
			ON CONFLICT (patient_id) DO NOTHING`, patientID, now); err != nil {
			return fmt.Errorf("notify: request: %w", translate(err))
		}
		cur, err := load(ctx, tx, patientID, true)
		if err != nil {
			return err
		}
		var sql string
		var args []any
		switch {
		case mode == ModeOff:
			sql = `UPDATE notification_settings SET mode = 'off', pending_email = NULL, pending_mode = NULL,
				pending_lang = NULL, token_hash = NULL, token_expires_at = NULL, changed_at = $2 WHERE patient_id = $1`
			args = []any{patientID, now}
		case cur.Email == email && cur.BouncedAt.IsZero():
			sql = `UPDATE notification_settings SET mode = $3, lang = $4, pending_email = NULL, pending_mode = NULL,
				pending_lang = NULL, token_hash = NULL, token_expires_at = NULL, changed_at = $2 WHERE patient_id = $1`
			args = []any{patientID, now, string(mode), string(lang)}
		default:
			tok, hash := newToken()
			ch.Token = tok
			sql = `UPDATE notification_settings SET pending_email = $3, pending_mode = $4, pending_lang = $5,
				token_hash = $6, token_expires_at = $7, requested_at = $2, changed_at = $2 WHERE patient_id = $1`
			args = []any{patientID, now, email, string(mode), string(lang), hash, now.Add(TokenValidity)}
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("notify: request: %w", translate(err))
		}
		ch.Settings, err = load(ctx, tx, patientID, false)
		return err
	})
	return ch, err
}

// Withdraw drops the pending change whose link has token, if it is still
// pending (the confirmation e-mail could not be sent).
func (s *Store) Withdraw(ctx context.Context, patientID int64, token string) error {
	_, err := s.pool.Exec(ctx, `UPDATE notification_settings SET pending_email = NULL, pending_mode = NULL,
		pending_lang = NULL, token_hash = NULL, token_expires_at = NULL WHERE patient_id = $1 AND token_hash = $2`,
		patientID, hashToken(token))
	if err != nil {
		return fmt.Errorf("notify: withdraw: %w", translate(err))
	}
	return nil
}

// Confirmed is what a confirmation did.
type Confirmed struct {
	PatientID int64
	// PublicID is the patient's public id, for links.
	PublicID string
	Settings Settings
}

// Confirm applies the pending change whose link carries token, once: the
// address becomes the one in force (any bounce forgotten), and the
// confirmation is written in the patient's access log (consent.BasisLink,
// request requestID). An unknown or used token is ErrToken; an expired one
// ErrExpired (and the pending change is dropped).
func (s *Store) Confirm(ctx context.Context, token, requestID string) (Confirmed, error) {
	var c Confirmed
	if len(token) < 16 || len(token) > 128 {
		return c, ErrToken
	}
	expired := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var expires time.Time
		err := tx.QueryRow(ctx, `SELECT n.patient_id, p.public_id, n.token_expires_at FROM notification_settings n
			JOIN patients p ON p.id = n.patient_id WHERE n.token_hash = $1 FOR UPDATE OF n`, hashToken(token)).
			Scan(&c.PatientID, &c.PublicID, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrToken
		}
		if err != nil {
			return fmt.Errorf("notify: confirm: %w", translate(err))
		}
		now := s.clock()
		if !now.Before(expires) {
			expired = true
			_, err := tx.Exec(ctx, `UPDATE notification_settings SET pending_email = NULL, pending_mode = NULL,
				pending_lang = NULL, token_hash = NULL, token_expires_at = NULL WHERE patient_id = $1`, c.PatientID)
			return translate(err)
		}
		var email string
		err = tx.QueryRow(ctx, `UPDATE notification_settings SET email = pending_email, mode = pending_mode,
				lang = pending_lang, confirmed_at = $2, bounced_at = NULL, bounce_reason = '', pending_email = NULL,
				pending_mode = NULL, pending_lang = NULL, token_hash = NULL, token_expires_at = NULL, changed_at = $2
			WHERE patient_id = $1 RETURNING email`, c.PatientID, now).Scan(&email)
		if err != nil {
			return fmt.Errorf("notify: confirm: %w", translate(err))
		}
		if err := s.consent.LogLinkAction(ctx, tx, c.PatientID, consent.ActWriteNotifications,
			"confirm notification address "+MaskEmail(email), requestID); err != nil {
			return err
		}
		c.Settings, err = load(ctx, tx, c.PatientID, false)
		return err
	})
	if err == nil && expired {
		return c, ErrExpired
	}
	return c, err
}

// newToken returns a confirmation token (256 random bits, URL-safe
// base64) and its SHA-256.
func newToken() (string, []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("notify: crypto/rand: " + err.Error()) // never fails on supported platforms (Go 1.24+)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// NormalizeEmail checks that s is a plain e-mail address (local@domain,
// no display name, ASCII, at most 254 characters, a domain with a dot) and
// returns it with the domain in lower case. Errors are ErrInvalid.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: email: %s", ErrInvalid, why)
	}
	if s == "" {
		return bad("required")
	}
	if len(s) > 254 {
		return bad("longer than 254 characters")
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return bad("must be a plain ASCII address such as nome@example.org")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return bad("not an e-mail address such as nome@example.org")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "[") {
		return bad("not an e-mail address such as nome@example.org")
	}
	return local + "@" + domain, nil
}

// MaskEmail shows enough of an address to recognise it, not to read it:
// mario.rossi@example.org becomes m***@e***.org.
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "***"
	}
	local, domain := s[:at], s[at+1:]
	tld := ""
	if dot := strings.LastIndexByte(domain, '.'); dot > 0 {
		tld, domain = domain[dot:], domain[:dot]
	}
	first := func(x string) string {
		if x == "" {
			return ""
		}
		return x[:1]
	}
	return first(local) + "***@" + first(domain) + "***" + tld
}

// translate keeps PostgreSQL errors' messages without their types.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("postgres: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err
}
