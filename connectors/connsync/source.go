package connsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"

	"github.com/jackc/pgx/v5"
)

// Source is a kind of remote system whose connections the core syncs:
// LibreLinkUp, the Dexcom API, a Nightscout site. The core claims a due
// connection, leases it, loads what it knows about it (the patient's FSE
// identity, the connection's sealed secret, its newest reading) into a
// [Job], calls Sync outside any transaction, and commits the [Outcome]
// in one transaction with the lease check: the readings through the
// store's ingestion, the connection's state, advice and next slot, the
// sync run, and the source's own writes (Outcome.Commit). How a source
// talks to its system, what it stores beside the core's columns, and how
// a patient connects it are the source's; leases, slots, back-off, rate
// budgets, the state and advice the patient sees, the identity rule's
// outcome and purge are the core's, the same for every source.
type Source interface {
	// Name is the source's name, as stored in sync_connections.source:
	// "librelinkup", "dexcom" or "nightscout".
	Name() string
	// Store is where the store records the readings came from.
	Store() cgmstore.Source
	// Sync makes the remote calls of one sync of j's connection and says
	// what came of it. It may write to the database only through j
	// (Job.SaveSecret, Job.Budget) and Outcome.Commit.
	Sync(ctx context.Context, j *Job) Outcome
}

// Text is a message for people, in Italian and English.
type Text struct {
	IT string
	EN string
}

// In returns the text in language lang ("it" or "en"; Italian otherwise).
func (t Text) In(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return t.EN
	}
	return t.IT
}

// Job is one leased sync of a connection, as a [Source] sees it.
type Job struct {
	s     *Syncer
	claim claim
	// ID is the connection's internal key, PublicID its public id.
	ID       int64
	PublicID string
	// PatientID is the patient's internal key; Patient their FSE identity
	// (what a source that names the person it serves must match, see
	// cgm/identity) and Zone their time zone.
	PatientID int64
	Patient   identity.Patient
	Zone      *time.Location
	// Mode is whose account the connection reads through.
	Mode Mode
	// Key is the connection's source_key, Label its label.
	Key, Label string
	// Newest is the instant of the newest reading received through the
	// connection, LastSuccess the end of its last successful sync (zero
	// when none).
	Newest, LastSuccess time.Time
	// FailureStreak counts the syncs that failed in a row before this one.
	FailureStreak int
	// Secret is the connection's opened secret (nil when none).
	Secret        []byte
	secretVersion int32
}

// Matches reports whether the person a source names (given and family
// name, date of birth when the source gives one) is the job's patient,
// by cgm/identity's rule, on the patient's local day.
func (j *Job) Matches(who identity.Named) bool {
	return identity.Match(j.Patient, who, time.Now().In(j.Zone)).Match
}

// SaveSecret seals b as the connection's new secret and stores it at once,
// in its own transaction, while the job's lease holds: a source whose
// remote system rotates credentials during a sync (an OAuth refresh token
// is single use) keeps the new ones even if the sync's outcome is never
// committed. It fails with errLeaseLost when the lease has passed.
func (j *Job) SaveSecret(ctx context.Context, b []byte) error {
	sl, err := j.s.keys.Seal(b, aadSecret(j.PublicID))
	if err != nil {
		return err
	}
	var v int32
	err = j.s.pool.QueryRow(ctx, `
		UPDATE sync_connections SET secret_key_id = $3, secret_nonce = $4, secret_sealed = $5,
			secret_version = secret_version + 1
		WHERE id = $1 AND lease_token = $2 RETURNING secret_version`,
		j.ID, j.claim.token, sl.KeyID, sl.Nonce, sl.Ciphertext).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return errLeaseLost
	}
	if err != nil {
		return fmt.Errorf("connsync: save secret of connection %s: %w", j.PublicID, err)
	}
	j.Secret, j.secretVersion = b, v
	return nil
}

// Budget returns the request budget named name (see [Budget]), as the
// Syncer configured it; nil when there is none.
func (j *Job) Budget(name string) *Budget { return j.s.budget(name) }

// Outcome is what one sync of a connection found, to be committed by the
// core.
type Outcome struct {
	// State is where the connection stands after the sync: StateActive
	// when it worked.
	State State
	// Err is the failure (nil on success). Kind names it for the patient,
	// the operator and the metrics; Message is the technical detail;
	// Advice says what to do, in Italian and English.
	Err     error
	Kind    string
	Message string
	Advice  Text
	// Wait, when positive, makes the next attempt come after it instead
	// of at the next slot (a back-off, or a rare retry while waiting for
	// the patient). Retry marks a transient failure: the next slots back
	// off longer each time it repeats (see backoff).
	Wait  time.Duration
	Retry bool
	// Warning is something the operator must know.
	Warning string
	// Logins counts the logins (or token exchanges) the sync made.
	Logins int
	// Readings and Devices are what a successful sync stores; Fetched
	// counts what the remote system answered, Skipped what could not be
	// used.
	Readings         []cgm.Reading
	Devices          []cgmstore.Device
	Fetched, Skipped int
	// Key, when not empty, is the connection's new source_key (a
	// LibreLinkUp connection learning its patient id after a step).
	Key string
	// Commit, when set, makes the source's own writes in the sync's
	// transaction, after the readings are ingested (ok says whether the
	// sync worked, ingestion included).
	Commit func(ctx context.Context, tx pgx.Tx, ok bool) error
}

// failed reports whether the outcome is a failure.
func (o Outcome) failed() bool { return o.Err != nil }

// internalOutcome is a failure of fsecgm itself.
func internalOutcome(err error) Outcome {
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg = "the sync took longer than its lease and was abandoned"
	}
	return Outcome{State: StateError, Err: err, Kind: "internal", Message: msg, Advice: adviceInternal, Retry: true}
}

// mismatchOutcome is a sync that found its connection serving someone
// other than the patient: nothing is stored, and the connection is not
// synced again.
func mismatchOutcome(advice Text) Outcome {
	return Outcome{State: StateIdentityMismatch, Err: errIdentityMismatch, Kind: "identity_mismatch",
		Message: "the person the source says this connection serves is not the patient", Advice: advice}
}

// aadSecret is the associated data of a connection's sealed secret.
func aadSecret(connectionPID string) []byte {
	return []byte("sync_connections/" + connectionPID + "/secret")
}
