package librelinkup

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// Session is a logged-in LibreLinkUp account: the bearer token, when it
// expires, and what the data calls need besides it. It holds no password.
//
// A Session serializes to JSON (encoding/json) so that the sync can store it,
// encrypted, and share it between replicas: a token lives 180 days and
// logging in on every poll is what gets accounts rate limited
// (authTicket.duration 15552000000 ms in the recorded login replies;
// timoschlueter/nightscout-librelink-up issue #128). The token is a secret: never log a Session's
// fields; its LogValue shows only the region and expiry.
type Session struct {
	// Token is the JWT of authTicket.token, sent as "Authorization: Bearer".
	Token string `json:"token"`
	// Expires is authTicket.expires (UTC).
	Expires time.Time `json:"expires"`
	// AccountID is the lower-case hex SHA-256 of the user id, sent as the
	// Account-Id header (required since LLU 4.12.0,
	// timoschlueter/nightscout-librelink-up issue #167).
	AccountID string `json:"accountId"`
	// Region is the region code of the host that issued the token ("" for the
	// global host api.libreview.io). Data calls go to the same host.
	Region string `json:"region"`
	// Country is the account's country (ISO 3166-1 alpha-2), when given.
	Country string `json:"country,omitempty"`
}

// IsZero reports whether s holds no token.
func (s Session) IsZero() bool { return s.Token == "" }

// ValidAt reports whether the token is still valid at t.
func (s Session) ValidAt(t time.Time) bool { return s.Token != "" && t.Before(s.Expires) }

// Fresh reports whether s can be used at t without renewal: it has a token
// that expires more than renewBefore after t.
func (s Session) Fresh(t time.Time, renewBefore time.Duration) bool {
	return s.Token != "" && t.Add(renewBefore).Before(s.Expires)
}

// Equal reports whether s and o are the same session (the sync stores the
// session again only when it changed).
func (s Session) Equal(o Session) bool {
	return s.Token == o.Token && s.Expires.Equal(o.Expires) && s.AccountID == o.AccountID &&
		s.Region == o.Region && s.Country == o.Country
}

// LogValue implements slog.LogValuer without revealing the token.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("region", s.Region),
		slog.Time("expires", s.Expires),
		slog.Bool("token", s.Token != ""),
	)
}

// AccountIDOf returns the Account-Id header value for a user id: the
// lower-case hex SHA-256 of the id as the login reply gives it.
func AccountIDOf(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return hex.EncodeToString(sum[:])
}

// Credentials are a LibreLinkUp e-mail and password: a patient's own, or a
// regional follower account's.
type Credentials struct {
	Email    string
	Password string
}

// IsZero reports whether no credentials are given.
func (c Credentials) IsZero() bool { return c.Email == "" && c.Password == "" }

// String hides the password (and the e-mail, personal data) from printing.
func (c Credentials) String() string { return "librelinkup.Credentials{redacted}" }

// LogValue implements slog.LogValuer without revealing anything.
func (c Credentials) LogValue() slog.Value { return slog.StringValue("redacted") }

// Account is what the data calls work with: a session and, optionally, the
// credentials that renew it.
//
// A data call logs in first when the session is missing or expires within
// Config.RenewBefore, and logs in again once when the server rejects the
// token (HTTP 401), in both cases only if Credentials are set; it then
// replaces Session. Compare the session before and after a call with
// [Session.Equal] to know whether to store it again. A call makes at most one
// login, so a wrong password costs at most one failed login per call: the
// caller must stop calling after [KindBadCredentials] (its Action is
// [ActionStopCredentials]).
//
// An Account is not safe for concurrent use; the Client is.
type Account struct {
	Credentials Credentials
	Session     Session
}
