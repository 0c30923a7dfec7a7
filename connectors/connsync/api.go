package connsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file is the package's surface: the types the HTTP layer and the
// commands use, and the exported functions, each delegating to the file
// that implements it.

// Mode is whose account a connection reads through.
type Mode string

// The connection modes.
const (
	// ModePatient: the patient's own account: a LibreLinkUp login (e-mail
	// and password, stored encrypted), the patient's consent to Dexcom,
	// the patient's Nightscout site.
	ModePatient Mode = "patient"
	// ModeFollower: the patient shares their data with the region's
	// LibreLinkUp follower account from the LibreLink app; the connection
	// was bound to the patient with evidence (see [Syncer.Bind]).
	ModeFollower Mode = "follower"
)

// State is where a connection stands. Only active, action_needed,
// backing_off and error connections are synced; bad_credentials waits for
// new credentials, disconnected is final.
type State string

// The connection states.
const (
	// StateActive: the last sync worked.
	StateActive State = "active"
	// StateActionNeeded: the account holder must act in the LibreLink or
	// LibreLinkUp app (accept terms of use or the privacy policy, verify
	// the e-mail). fsecgm never accepts on their behalf; it tries again
	// rarely (Config.ActionNeededRetry) or when asked ([Syncer.SyncSoon]).
	StateActionNeeded State = "action_needed"
	// StateBadCredentials: LibreLinkUp refused the e-mail or password.
	// No login is made with these credentials again (each failed login
	// counts towards the account lockout) until they are replaced
	// ([Syncer.UpdateCredentials], or the operator for a follower account).
	StateBadCredentials State = "bad_credentials"
	// StateBackingOff: LibreLinkUp locked the account, rate limited it or
	// answered a protection page; no request is made before RetryAt.
	StateBackingOff State = "backing_off"
	// StateError: the last sync failed (server error, timeout, malformed
	// answer, patient no longer shared, ...); the next regular sync tries
	// again. Nothing stored was touched.
	StateError State = "error"
	// StateDisconnected: the patient (or an operator) ended the
	// connection; its secrets are erased.
	StateDisconnected State = "disconnected"
)

// Problem is what went wrong with a connection and what to do about it.
// It holds no secret, name or glucose value.
type Problem struct {
	// Kind names the failure: a librelinkup.ErrorKind name ("bad
	// credentials", "account locked", ...) or "internal".
	Kind string
	// Message is the technical detail, for the operator.
	Message string
	// Advice says what to do, in Italian and English, for the patient and
	// the operator.
	Advice Text
	// At is when it happened.
	At time.Time
	// RetryAt is when fsecgm tries again; zero when it waits for someone
	// (new credentials).
	RetryAt time.Time
}

// Connection is a connection as the patient and the operator see it. It
// never holds credentials, tokens or the sensor serial.
type Connection struct {
	// ID is the connection's public identifier (32 hex digits).
	ID string
	// Source is where it reads from: "librelinkup", "dexcom" or
	// "nightscout".
	Source string
	// Label says which remote account or site it reads (a Nightscout
	// site's host); may be empty.
	Label string
	// PatientID is the patient's internal key (cgmstore.Patient.ID);
	// PatientPublicID the patient's public identifier.
	PatientID       int64
	PatientPublicID string
	// Mode is patient (own login) or follower (regional account).
	Mode Mode
	// Account is the follower account's name (ModeFollower); empty for
	// ModePatient.
	Account string
	// State is where the connection stands.
	State State
	// CreatedAt is when it was connected; DisconnectedAt when it was
	// ended (zero while it is not).
	CreatedAt      time.Time
	DisconnectedAt time.Time
	// LastSyncAt is the end of the last sync attempt, LastSuccessAt of
	// the last successful one; zero when none.
	LastSyncAt    time.Time
	LastSuccessAt time.Time
	// NewestReadingAt is the instant of the newest reading received
	// through the connection; zero when none.
	NewestReadingAt time.Time
	// NextSyncAt is when the connection is next due (meaningless for
	// bad_credentials and disconnected connections).
	NextSyncAt time.Time
	// Problem is the current error with its advice; nil when the last
	// sync worked.
	Problem *Problem
	// OperatorWarning, when not empty, is something the operator must
	// know (LibreLinkUp raised its minimum app version, ...).
	OperatorWarning string
	// Syncs counts the syncs made, Failures the failed ones, Readings the
	// readings inserted through the connection.
	Syncs, Failures, Readings int64
}

// Errors returned by the package, possibly wrapped; test with errors.Is.
var (
	// ErrNotFound: no such connection (for that patient), patient,
	// follower account or pending follower connection.
	ErrNotFound = errors.New("connsync: not found")
	// ErrInvalid: an argument is not acceptable; the *UserError says
	// which and why.
	ErrInvalid = errors.New("connsync: invalid")
	// ErrConflict: the request collides with existing state (the account
	// is already connected, the connection is disconnected, ...).
	ErrConflict = errors.New("connsync: conflict")
	// ErrRefused: LibreLinkUp refused the credentials, or the evidence
	// for a binding did not hold. The *UserError carries the advice.
	ErrRefused = errors.New("connsync: refused")
)

// UserError is an error to show to the person who made the request: Text
// says what happened and what to do, in Italian and English. It wraps one
// of the package's sentinel errors (Kind) and, when LibreLinkUp answered,
// the *librelinkup.Error (Cause). It never holds a secret.
type UserError struct {
	// Kind is ErrInvalid, ErrConflict, ErrRefused or ErrNotFound.
	Kind error
	// Code is a stable machine-readable code, such as "bad_credentials",
	// "step_required", "serial_mismatch", "name_mismatch",
	// "identity_missing", "already_connected", "no_connection".
	Code string
	// Text is the message for people.
	Text Text
	// Args are the values of Code's message for displays that say it in
	// their own words (identity_mismatch: the names of the people the
	// account follows).
	Args []string
	// Cause is the underlying error, if any.
	Cause error
}

// UserErrorCodes lists every Code of UserError, so that a display can say
// each in the person's language (a test checks that the package emits no
// other).
var UserErrorCodes = []string{
	"bad_credentials", "step_required", "locked", "rate_limited", "librelinkup_error", "email_invalid",
	"password_invalid", "no_connection", "serial_needed", "serial_mismatch", "already_connected", "disconnected",
	"follower_connection", "serial_invalid", "too_many_attempts", "identity_missing", "name_mismatch",
	"follower_unavailable", "identity_mismatch",
	"no_credentials",
	"dexcom_unavailable", "authorization_unknown", "dexcom_error", "access_denied",
	"nightscout_unavailable", "nightscout_error", "not_nightscout",
}

// Error returns the code and the English text.
func (e *UserError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("connsync: %s: %s (%v)", e.Code, e.Text.EN, e.Cause)
	}
	return fmt.Sprintf("connsync: %s: %s", e.Code, e.Text.EN)
}

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *UserError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// DB is what the read-only functions need: a *pgxpool.Pool, a
// *pgxpool.Conn or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ConnectRequest is a patient's LibreLinkUp login.
type ConnectRequest struct {
	// Email and Password are the patient's LibreLinkUp credentials.
	// Never logged, never returned.
	Email    string
	Password string
	// Serial optionally names the sensor (as the LibreLink app shows it)
	// when the account follows more than one person; it picks the
	// connection. Not needed when the account follows only the patient.
	Serial string
}

// LogValue keeps the request's secrets out of logs.
func (r ConnectRequest) LogValue() slog.Value { return slog.StringValue("redacted") }

// Connect connects a patient's own LibreLinkUp account (ModePatient). It
// logs in once to check the credentials and find the patient's LibreLinkUp
// connection; a refusal is reported at once, as a *UserError wrapping
// ErrRefused with the advice (a wrong password is never retried, and
// nothing is stored). A pending step in the app (terms of use, privacy
// policy, e-mail verification) stores the connection in
// StateActionNeeded. The credentials and the session are stored
// encrypted; the first sync runs at the next scheduler tick.
//
// tx is the caller's transaction (consent.Store.Access with
// consent.ActWriteData); the login happens inside it. The same LibreLinkUp
// account cannot be connected twice while connected (ErrConflict).
func (s *Syncer) Connect(ctx context.Context, tx pgx.Tx, patientID int64, req ConnectRequest) (Connection, error) {
	return s.connect(ctx, tx, patientID, req)
}

// UpdateCredentials replaces the credentials of a ModePatient connection
// (the patient changed their password, or it was in
// StateBadCredentials). Like Connect it logs in once first: refused
// credentials are reported and nothing changes. Accepted ones clear
// StateBadCredentials and make the connection due now.
func (s *Syncer) UpdateCredentials(ctx context.Context, tx pgx.Tx, patientID int64, connectionID string, req ConnectRequest) (Connection, error) {
	return s.updateCredentials(ctx, tx, patientID, connectionID, req)
}

// Connections lists a patient's connections, newest first, disconnected
// ones included. No secret is returned.
func (s *Syncer) Connections(ctx context.Context, db DB, patientID int64) ([]Connection, error) {
	return listConnections(ctx, db, "c.patient_id = $1", patientID)
}

// Connection returns one of a patient's connections (ErrNotFound when it
// is not that patient's).
func (s *Syncer) Connection(ctx context.Context, db DB, patientID int64, connectionID string) (Connection, error) {
	return getConnection(ctx, db, patientID, connectionID)
}

// SyncSoon makes a connection due now: the patient says they completed the
// step in the app, or wants fresh data. It does nothing to a connection in
// StateBadCredentials (new credentials are needed) and is ErrConflict for
// a disconnected one. A connection backing off keeps its RetryAt.
func (s *Syncer) SyncSoon(ctx context.Context, tx pgx.Tx, patientID int64, connectionID string) (Connection, error) {
	return s.syncSoon(ctx, tx, patientID, connectionID)
}

// DisconnectResult reports what Disconnect did.
type DisconnectResult struct {
	// Connection is the connection as it is now (disconnected).
	Connection Connection
	// DeletedReadings counts the readings deleted (0 unless asked);
	// RestoredReadings those the connection had revised that got back
	// the value another source had delivered (cgmstore.Removed).
	DeletedReadings, RestoredReadings int64
}

// Disconnect ends a connection: syncing stops at once (a sync in flight
// cannot commit), and its credentials and session are erased. With
// deleteReadings, the readings that came through it are deleted too: the
// patient's readings whose stored source is LibreLinkUp and whose instant
// lies in the connection's window (from its oldest to its newest reading
// received). Readings another source delivered first are kept (the store
// records the first source of a reading), and so are those of other
// windows. The patient's metrics are marked for recomputation.
func (s *Syncer) Disconnect(ctx context.Context, tx pgx.Tx, patientID int64, connectionID string, deleteReadings bool) (DisconnectResult, error) {
	return s.disconnect(ctx, tx, patientID, connectionID, deleteReadings)
}

// BindRequest is a patient's claim to a connection of the regional
// follower account.
type BindRequest struct {
	// Serial is the sensor serial the patient reads in their LibreLink
	// app (or on the sensor box).
	Serial string
	// Actor says who confirmed (for the audit): the consent.Actor's
	// String(), which holds no fiscal code.
	Actor string
}

// Bind binds a pending connection of a follower account to a patient,
// only on evidence: the serial the patient typed must designate the
// sensor LibreLinkUp shows for that connection (librelinkup
// Sensor.SerialMatches), and the names of the connection must match the
// patient's FSE identity (cgmstore.Patient GivenName and FamilyName;
// a patient without them is refused with code "identity_missing"). A
// name alone never binds. Every attempt, refused or not, is written to
// the binding audit (llu_bindings) with who confirmed, the outcome and
// the name check; after five refusals in 24 hours further attempts are
// refused ("too_many_attempts"). Refusals are *UserError wrapping
// ErrRefused.
func (s *Syncer) Bind(ctx context.Context, tx pgx.Tx, patientID int64, req BindRequest) (Connection, error) {
	return s.bind(ctx, tx, patientID, req)
}

// FollowerAccount is a regional LibreLinkUp follower account, as the
// operator sees it (no secret).
type FollowerAccount struct {
	// Name is the operator's label of the account.
	Name string
	// Region is the region the operator gave, for reference; logins
	// follow LibreLinkUp's redirect to the account's region.
	Region string
	// State is the state of its connection list (active, action_needed,
	// bad_credentials, backing_off or error).
	State State
	// Problem is the current error of the account, nil when none.
	Problem *Problem
	// LastListAt is when its connections were last listed.
	LastListAt time.Time
	// Connections counts its bound connections, Pending the connections
	// seen but not bound to a patient yet.
	Connections, Pending int
}

// AddFollowerAccount stores a regional follower account after logging in
// once with its credentials (refused credentials are a *UserError wrapping
// ErrRefused, and nothing is stored). Its connection list is then read
// once per sync interval.
func (s *Syncer) AddFollowerAccount(ctx context.Context, name, region string, creds librelinkup.Credentials) (FollowerAccount, error) {
	return s.addFollowerAccount(ctx, name, region, creds)
}

// UpdateFollowerCredentials replaces the credentials of a follower account
// (after checking them with one login), clearing StateBadCredentials on it
// and its connections.
func (s *Syncer) UpdateFollowerCredentials(ctx context.Context, name string, creds librelinkup.Credentials) (FollowerAccount, error) {
	return s.updateFollowerCredentials(ctx, name, creds)
}

// FollowerAccounts lists the follower accounts for the operator.
func (s *Syncer) FollowerAccounts(ctx context.Context, db DB) ([]FollowerAccount, error) {
	return listFollowerAccounts(ctx, db)
}

// Pending is a connection of a follower account not bound to a patient
// yet, as the operator sees it: no name, no serial.
type Pending struct {
	// ID is its public identifier.
	ID string
	// Account is the follower account's name.
	Account string
	// FirstSeen and LastSeen bound when the account's list showed it.
	FirstSeen, LastSeen time.Time
}

// PendingConnections lists the follower connections not bound yet.
func (s *Syncer) PendingConnections(ctx context.Context, db DB) ([]Pending, error) {
	return listPending(ctx, db)
}

// Problems lists, for the operator, every connection that needs attention
// (any state but active and disconnected, or an operator warning), the
// oldest problem first.
func (s *Syncer) Problems(ctx context.Context, db DB) ([]Connection, error) {
	return listConnections(ctx, db,
		"(c.state NOT IN ('active', 'disconnected') OR c.operator_warning <> '') AND $1::int IS NULL", nil)
}

// Warnings returns the operator warnings the LibreLinkUp client raised
// in this process (a raised version header after a 920 answer), oldest
// first; at most the last 100.
func (s *Syncer) Warnings() []librelinkup.Warning { return s.warnings.list() }

// Rekey re-encrypts, with the primary key, every stored secret (credentials,
// sessions, pending follower connections) sealed with another key, and
// recomputes the account fingerprints. It returns how many secrets it
// rewrote. Run it after adding a new primary key; then the old key can be
// dropped from the configuration.
func (s *Syncer) Rekey(ctx context.Context) (int, error) { return s.rekey(ctx) }

// SyncDue syncs, on this replica, every connection and follower list that
// is due and not leased by another replica, until none is left, with
// Config.Workers at a time. Run calls it every Config.Tick; tests and
// benchmarks call it directly.
func (s *Syncer) SyncDue(ctx context.Context) (TickStats, error) { return s.syncDue(ctx) }

// TickStats counts what one SyncDue did.
type TickStats struct {
	// Synced counts connection syncs that committed (whatever their
	// outcome), Failed those whose outcome was an error, Lost those that
	// could not commit because their lease had passed to another replica.
	Synced, Failed, Lost int
	// Lists counts follower-account list runs.
	Lists int
	// Inserted counts readings inserted.
	Inserted int
}

// Maintain does the sync's upkeep: pruning of sync runs older than
// Config.RunRetention. Run schedules it at start and every hour. (The
// readings partitions are the store's: cgmstore.Store.KeepPartitions, run
// by the service's daily job.)
func (s *Syncer) Maintain(ctx context.Context) error { return s.maintain(ctx) }
