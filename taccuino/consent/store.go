package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"fsecgm/cgm"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives what the store handles itself (an access-log entry
	// that could not be written after a failed access). Nil discards it.
	Logger *slog.Logger
	// Now is the clock of decisions and log entries; time.Now when nil.
	Now func() time.Time
	// MaxDelegationYears bounds how far ahead a delegation may expire
	// (DefaultMaxDelegationYears when 0).
	MaxDelegationYears int
	// RepeatWindow is the span (aligned on the clock: the hour by
	// default) within which repeated identical refusals are counted on
	// one access-log entry; zero means DefaultRepeatWindow.
	RepeatWindow time.Duration
	// Replica is a pool on a hot standby of the database (PostgreSQL 15
	// documentation, 27.4 "Hot Standby"), or nil. The reads that write
	// nothing go there: a patient reading their own glucose data
	// (ActReadData on basis self, which the access log does not record).
	// Every other access, and every read a standby cannot serve (a
	// write inside it, an unreachable standby), runs on pool.
	Replica *pgxpool.Pool
}

// DefaultMaxDelegationYears is how many years ahead a delegation may
// expire by default: a delegation is a lasting power over health data, to
// be renewed, not granted for ever.
const DefaultMaxDelegationYears = 5

// DefaultRepeatWindow is the span within which repeated identical
// refusals make one access-log entry.
const DefaultRepeatWindow = time.Hour

// Store keeps consents, delegations, guardianships, care relationships and
// the access log in PostgreSQL, and applies the rules (Decide) to every
// access. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	replica  *pgxpool.Pool
	logger   *slog.Logger
	now      func() time.Time
	maxYears int
	window   time.Duration
}

// New returns a store on pool, whose database must be migrated (package
// migrations).
func New(pool *pgxpool.Pool, opts Options) *Store {
	s := &Store{pool: pool, replica: opts.Replica, logger: opts.Logger, now: opts.Now, maxYears: opts.MaxDelegationYears, window: opts.RepeatWindow}
	if s.maxYears <= 0 {
		s.maxYears = DefaultMaxDelegationYears
	}
	if s.window <= 0 {
		s.window = DefaultRepeatWindow
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// clock returns now in UTC at PostgreSQL's resolution, so that what is
// returned equals what is stored.
// MaxDelegationYears is how many years ahead a delegation may expire.
func (s *Store) MaxDelegationYears() int { return s.maxYears }

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Access is the gate of every handler that touches a patient's record. In
// one transaction it gathers the facts about actor a and patient patientID,
// decides (Decide), writes the access-log entry (not for the patient acting
// on their own record), runs fn inside the same transaction, and commits:
// the read and its log entry commit together. fn may be nil (a pure check).
// A refusal identical to one already logged within the repeat window
// (same actor, action and reason) is counted on that entry instead of
// adding one (see RepeatWindow).
//
// Serve the data fn gathered only when Access returns nil. Errors:
//   - the patient does not exist: ErrNotFound, nothing logged;
//   - the rules refuse: the denial is logged and committed, fn is never
//     called, and the error is a *DeniedError (errors.Is ErrDenied);
//   - fn fails: the transaction is rolled back (no "allowed" entry), an
//     "error" entry is written in a transaction of its own, and fn's error
//     is returned as it is.
//
// detail says what exactly is accessed ("glucometrics
// 2026-05-01..2026-05-14"); it is shown to the patient, so it must not
// hold glucose values.
func (s *Store) Access(ctx context.Context, a Actor, patientID int64, act Action, detail string,
	fn func(ctx context.Context, tx pgx.Tx) error) error {
	var inner func(context.Context, pgx.Tx, Decision, Facts) error
	if fn != nil {
		inner = func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error { return fn(ctx, tx) }
	}
	_, err := s.access(ctx, a, patientID, act, detail, inner)
	return err
}

// access is Access for the package's own operations, whose fn also gets
// the decision (to record on what basis the actor acted) and the facts.
func (s *Store) access(ctx context.Context, a Actor, patientID int64, act Action, detail string,
	fn func(context.Context, pgx.Tx, Decision, Facts) error) (Decision, error) {
	if s.replica != nil && act == ActReadData && a.Role == auth.RoleCitizen {
		if d, done, err := s.accessReplica(ctx, a, patientID, act, fn); done {
			return d, err
		}
	}
	now := s.clock()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Decision{}, fmt.Errorf("consent: %s: begin: %w", act, translate(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	f, err := s.loadFacts(ctx, tx, a, patientID, act)
	if err != nil {
		return Decision{}, fmt.Errorf("consent: %s: patient %d: %w", act, patientID, err)
	}
	d := Decide(f, a, act, now)
	e := entry{patientID: patientID, at: now, actor: a, basis: d.Basis, action: act, detail: detail, reason: d.Reason}
	if !d.Allowed {
		e.outcome = OutcomeDenied
		e.repeatKey = s.repeatKey(e)
		if err := writeEntry(ctx, tx, e); err != nil {
			return d, err
		}
		if err := tx.Commit(ctx); err != nil {
			return d, fmt.Errorf("consent: %s: commit denial: %w", act, translate(err))
		}
		return d, &DeniedError{Action: act, Reason: d.Reason}
	}
	logged := d.Basis != BasisSelf || alwaysLogged(act)
	if logged {
		e.outcome = OutcomeAllowed
		if err := writeEntry(ctx, tx, e); err != nil {
			return d, err
		}
	}
	if fn != nil {
		if err := fn(ctx, tx, d, f); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			if logged {
				s.recordError(ctx, e, err)
			}
			return d, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if logged {
			s.recordError(ctx, e, err)
		}
		return d, fmt.Errorf("consent: %s: commit: %w", act, translate(err))
	}
	return d, nil
}

// accessReplica runs a citizen's read on the standby (Options.Replica) in
// a read-only transaction when the rules allow it on basis self, which
// writes no access-log entry. done is false when the read must run on the
// primary instead: another basis (a parent's, a delegate's read is
// logged), a refusal (logged), a standby that cannot be reached, or an fn
// that writes (the standby refuses it: SQLSTATE 25006).
func (s *Store) accessReplica(ctx context.Context, a Actor, patientID int64, act Action,
	fn func(context.Context, pgx.Tx, Decision, Facts) error) (d Decision, done bool, err error) {
	tx, err := s.replica.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		s.logger.Warn("consent: the standby cannot be reached; reading on the primary", slog.Any("err", err))
		return Decision{}, false, nil
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	f, err := s.loadFacts(ctx, tx, a, patientID, act)
	if err != nil {
		return Decision{}, false, nil // the primary says what is wrong
	}
	d = Decide(f, a, act, s.clock())
	if !d.Allowed || d.Basis != BasisSelf || alwaysLogged(act) {
		return d, false, nil
	}
	if fn != nil {
		if err := fn(ctx, tx, d, f); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "25006" { // read_only_sql_transaction
				return d, false, nil
			}
			return d, true, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return d, false, nil
	}
	return d, true, nil
}

// alwaysLogged reports whether act is logged even when the patient does it
// on their own record: the notification address, whose change the patient
// must be able to see in the log whoever made it.
func alwaysLogged(act Action) bool { return act == ActWriteNotifications }

// LogLinkAction records in tx, in patientID's access log, an action done
// by opening a single-use link fsecgm sent by e-mail (act, with detail;
// BasisLink, outcome allowed): no token identified the caller, the link's
// secret did, and the caller of LogLinkAction has checked it. It commits
// with tx.
func (s *Store) LogLinkAction(ctx context.Context, tx pgx.Tx, patientID int64, act Action, detail, requestID string) error {
	e := entry{patientID: patientID, at: s.clock(), actor: Actor{RequestID: requestID}, basis: BasisLink,
		action: act, detail: detail, outcome: OutcomeAllowed, reason: ReasonAllowed}
	if err := writeEntry(ctx, tx, e); err != nil {
		return fmt.Errorf("consent: log link action: patient %d: %w", patientID, err)
	}
	return nil
}

// LogUploader records in tx, in patientID's access log, what an uploader
// app did through the Nightscout-compatible door (act, with detail;
// BasisUploader, outcome allowed): no token identified the caller, the
// uploader's secret did, and the caller of LogUploader has checked it.
// name is the uploader's name as the patient gave it; a is the request's
// actor (its RequestID, Client and Route are used). An app uploads every
// few minutes: the same act of the same uploader from the same client
// within the repeat window is counted on one entry. It commits with tx.
func (s *Store) LogUploader(ctx context.Context, tx pgx.Tx, patientID int64, act Action, name, detail string, a Actor) error {
	e := entry{patientID: patientID, at: s.clock(), actor: Actor{Name: name, RequestID: a.RequestID, Client: a.Client, Route: a.Route},
		basis: BasisUploader, action: act, detail: detail, outcome: OutcomeAllowed, reason: ReasonAllowed}
	e.repeatKey = s.repeatKey(e)
	if err := writeEntry(ctx, tx, e); err != nil {
		return fmt.Errorf("consent: log uploader: patient %d: %w", patientID, err)
	}
	return nil
}

// recordError writes the "error" entry of a failed access in a transaction
// of its own, even when ctx is done (a cancelled request is a failure to
// record too).
func (s *Store) recordError(ctx context.Context, e entry, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e.outcome, e.reason = OutcomeError, reasonOf(cause)
	if err := writeEntry(ctx, s.pool, e); err != nil {
		s.logger.Error("consent: could not record a failed access in the access log",
			slog.Any("actor", e.actor), slog.String("action", string(e.action)),
			slog.Int64("patient_id", e.patientID), slog.Any("err", err))
	}
}

// reasonOf classifies the error of a failed access.
func reasonOf(err error) Reason {
	switch {
	case errors.Is(err, ErrInvalid):
		return ReasonInvalidRequest
	case errors.Is(err, ErrNotFound):
		return ReasonNotFound
	}
	return ReasonError
}

// LogDenied records in patientID's access log a refused attempt by a caller
// that could not be authenticated (no, forged, expired or wrong-audience
// token, an ended session) to do act. detail says what was attempted and
// why it failed, in a few safe words ("GET glucometrics: expired token";
// never the token); the entry's reason is ReasonUnauthenticated. a is the
// request's actor: only its RequestID and Client are used (the caller is
// nobody). The same attempt from the same client within the repeat window
// is counted on one entry. Use it whenever the target patient is known, so
// that every denial is logged. An unknown patient is ErrNotFound.
func (s *Store) LogDenied(ctx context.Context, patientID int64, act Action, detail string, a Actor) error {
	if patientID <= 0 || patientID > math.MaxInt32 {
		return fmt.Errorf("consent: log denial: patient %d: %w", patientID, ErrNotFound)
	}
	e := entry{patientID: patientID, at: s.clock(), actor: Actor{RequestID: a.RequestID, Client: a.Client, Route: a.Route}, action: act,
		detail: detail, outcome: OutcomeDenied, reason: ReasonUnauthenticated}
	e.repeatKey = s.repeatKey(e)
	if err := writeEntry(ctx, s.pool, e); err != nil {
		return fmt.Errorf("consent: log denial: patient %d: %w", patientID, err)
	}
	return nil
}

// Probe records an attempt by a to do act on something that does not
// exist — a patient id or a resource id that names nothing — and returns
// an error wrapping ErrNotFound (or the database's). It is the twin of a
// refusal: for an authenticated actor, a transaction with the same
// statements as a refused Access (the facts query, for no patient, and
// one counted row written), for a caller without a valid token the one
// statement of LogDenied; so that the answer to an id that does not exist
// costs what the refusal of another patient's id costs, and tells nothing
// by its time either. The row goes to access_probes, for the operator (no
// patient's access log can hold it); the same attempt of the same caller
// within the repeat window is one row, counted. detail says what was asked
// for, in a few safe words ("FHIR Observation read").
func (s *Store) Probe(ctx context.Context, a Actor, act Action, detail string) error {
	e := entry{at: s.clock(), actor: a, action: act, detail: detail, outcome: OutcomeDenied, reason: ReasonNotFound}
	e.repeatKey = s.repeatKey(e)
	if a.Role == "" {
		e.actor = Actor{RequestID: a.RequestID, Client: a.Client, Route: a.Route}
		if err := writeProbe(ctx, s.pool, e); err != nil {
			return err
		}
		return fmt.Errorf("consent: %s: %w", act, ErrNotFound)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("consent: %s: begin: %w", act, translate(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := s.queryFacts(ctx, tx, a, 0, act); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("consent: %s: %w", act, err)
	}
	if err := writeProbe(ctx, tx, e); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("consent: %s: commit probe: %w", act, translate(err))
	}
	return fmt.Errorf("consent: %s: %w", act, ErrNotFound)
}

// writeProbe writes a probe row, or counts one more on the row of its
// repeat key.
func writeProbe(ctx context.Context, q querier, e entry) error {
	const ins = `INSERT INTO access_probes AS p (at, actor_role, actor_id, action, detail, request_id, repeat_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (repeat_key) DO UPDATE
		SET occurrences = p.occurrences + 1, last_at = EXCLUDED.at, last_request_id = EXCLUDED.request_id`
	role := e.actor.Role
	switch role {
	case auth.RoleCitizen, auth.RolePractitioner, auth.RoleService, auth.RoleAnalyst:
	default:
		role = ""
	}
	if _, err := q.Exec(ctx, ins, e.at, string(role), clip(actorID(e.actor), 256), clip(string(e.action), 64),
		clip(e.detail, 512), clip(e.actor.RequestID, 128), e.repeatKey); err != nil {
		return fmt.Errorf("consent: probe: %w", translate(err))
	}
	return nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// entry is an access-log row to write.
type entry struct {
	patientID int64
	at        time.Time
	actor     Actor
	basis     Basis
	action    Action
	detail    string
	outcome   Outcome
	reason    Reason
	// repeatKey, for a refusal, makes repeats of it within the window one
	// entry (see repeatKey); "" writes an entry of its own.
	repeatKey string
}

// repeatKey returns what makes two refusals the same within the repeat
// window: the window (aligned on the clock), the actor (role and fiscal
// code or client id), the basis they claimed, the route (Actor.Route), the
// action and the reason; for a caller without a valid token (nobody to
// name), also its client address and the attempt's detail (route and why
// the token failed: a small set). An authenticated actor's detail is left
// out, because it may carry request parameters (dates) that would make
// every repeat new; the entry keeps the first one's. The key is a hash:
// the address is not stored.
func (s *Store) repeatKey(e entry) string {
	h := sha256.New()
	part := func(v string) { h.Write([]byte(strconv.Itoa(len(v)) + ":" + v + ";")) }
	part(e.at.Truncate(s.window).UTC().Format(time.RFC3339Nano))
	part(string(e.actor.Role))
	part(actorID(e.actor))
	part(e.actor.Organization)
	part(string(e.basis))
	part(e.actor.Route)
	part(string(e.action))
	part(string(e.reason))
	if e.actor.Role == "" {
		part(e.actor.Client)
		part(e.detail)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// actorID returns what identifies a in the access log: the fiscal code of
// a person, the client id of a service.
func actorID(a Actor) string {
	switch a.Role {
	case auth.RoleCitizen, auth.RolePractitioner, auth.RoleAnalyst:
		return a.FiscalCode
	case auth.RoleService:
		return a.ClientID
	}
	return ""
}

// writeEntry writes e; a refusal with a repeat key already written within
// its window counts one more occurrence on that entry instead.
func writeEntry(ctx context.Context, q querier, e entry) error {
	const ins = `INSERT INTO access_log AS l (patient_id, at, actor_role, actor_id, actor_name, practitioner_role,
		on_behalf_of, basis, action, detail, outcome, reason, request_id, repeat_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, nullif($14, ''))
		ON CONFLICT (patient_id, repeat_key) WHERE repeat_key IS NOT NULL DO UPDATE
		SET occurrences = l.occurrences + 1, last_at = EXCLUDED.at, last_request_id = EXCLUDED.request_id`
	role := e.actor.Role
	switch role {
	case auth.RoleCitizen, auth.RolePractitioner, auth.RoleService, auth.RoleAnalyst:
	default:
		role = ""
	}
	_, err := q.Exec(ctx, ins, e.patientID, e.at, string(role), clip(actorID(e.actor), 256), clip(e.actor.Name, 256),
		clip(string(e.actor.PractitionerRole), 32), clip(e.actor.Organization, 256), string(e.basis),
		clip(string(e.action), 64), clip(e.detail, 512), string(e.outcome), string(e.reason),
		clip(e.actor.RequestID, 128), e.repeatKey)
	if err != nil {
		return fmt.Errorf("consent: access log: %w", translate(err))
	}
	return nil
}

// RoleOperator is the access-log role of the service's operator, who acts
// on a patient's data from the command line (never through the API).
const RoleOperator auth.Role = "operator"

// BasisOperator is the basis of an operator's act: the duty to keep the
// record correct (GDPR art. 5(1)(d), accuracy; art. 16, rectification).
const BasisOperator Basis = "operator"

// RecordOperator writes, in tx, an access-log entry for an act of the
// service's operator on patientID's data (act, detail as for Access), so
// that the patient sees it: the operator, not the rules of the taccuino,
// authorised it, and the caller commits it with the act itself. operator
// names the person (as they gave it to the command); requestID identifies
// the run.
func RecordOperator(ctx context.Context, tx pgx.Tx, patientID int64, operator string, act Action, detail, requestID string) error {
	if strings.TrimSpace(operator) == "" {
		return fmt.Errorf("consent: operator entry: %w: the operator's name is required", ErrInvalid)
	}
	const ins = `INSERT INTO access_log (patient_id, at, actor_role, actor_name, basis, action, detail, outcome, reason, request_id)
		VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err := tx.Exec(ctx, ins, patientID, string(RoleOperator), clip(operator, 256), string(BasisOperator),
		clip(string(act), 64), clip(detail, 512), string(OutcomeAllowed), string(ReasonAllowed), clip(requestID, 128))
	if err != nil {
		return fmt.Errorf("consent: operator entry: %w", translate(err))
	}
	return nil
}

// clip makes s storable in a text column of at most n characters: invalid
// UTF-8 becomes U+FFFD, control characters (NUL included, which PostgreSQL
// refuses) become spaces, and the text is cut after n characters. Odd text
// in a detail or name is not worth failing an access for.
func clip(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if i == n {
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}

// loadFacts gathers what the rules need about actor a and patient id, in
// tx, in one round trip (a batch). A practitioner's or service's read
// locks the consent row FOR SHARE, so that a revocation waits for the
// reads decided before it.
func (s *Store) loadFacts(ctx context.Context, tx pgx.Tx, a Actor, id int64, act Action) (Facts, error) {
	if id <= 0 || id > math.MaxInt32 {
		return Facts{}, ErrNotFound
	}
	return s.queryFacts(ctx, tx, a, id, act)
}

// queryFacts is loadFacts for any id, 0 included (Probe: the same batch,
// which finds nothing, and ErrNotFound).
func (s *Store) queryFacts(ctx context.Context, tx pgx.Tx, a Actor, id int64, act Action) (Facts, error) {
	var f Facts
	lock := ""
	if (a.Role == auth.RolePractitioner || a.Role == auth.RoleService) && act == ActReadData {
		lock = ` FOR SHARE`
	}
	// The patient's fiscal code, for the rows keyed by it.
	const patientCF = `(SELECT fiscal_code FROM patients WHERE id = $2)`
	b := &pgx.Batch{}
	b.Queue(`SELECT p.fiscal_code, p.time_zone, p.birth_date,
		(SELECT granted FROM third_party_consents WHERE patient_id = p.id`+lock+`)
		FROM patients p WHERE p.id = $1`, id)
	var kind CareKind
	var party string
	care := false
	switch a.Role {
	case auth.RoleCitizen:
		if a.FiscalCode != "" {
			b.Queue(`SELECT `+guardianshipColumns+` FROM guardianships
				WHERE guardian_fiscal_code = $1 AND patient_fiscal_code = `+patientCF, a.FiscalCode, id)
			b.Queue(`SELECT `+delegationColumns+` FROM delegations
				WHERE delegate_fiscal_code = $1 AND patient_id = $2`, a.FiscalCode, id)
		}
	case auth.RolePractitioner:
		if kind, party, care = careKey(a); care {
			b.Queue(`SELECT `+careColumns+` FROM care_relationships
				WHERE kind = $1 AND party = $3 AND patient_fiscal_code = `+patientCF, string(kind), id, party)
		}
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()

	var tz string
	var birth *time.Time
	var granted *bool
	if err := br.QueryRow().Scan(&f.PatientFiscalCode, &tz, &birth, &granted); err != nil {
		return f, translate(err)
	}
	var err error
	if f.PatientLocation, err = cgm.Zone(tz); err != nil {
		return f, fmt.Errorf("time zone: %w", err)
	}
	f.PatientBirthDate = timeOf(birth)
	f.ThirdPartyConsent = granted != nil && *granted

	switch {
	case a.Role == auth.RoleCitizen && a.FiscalCode != "":
		rows, _ := br.Query()
		if f.Guardianships, err = pgx.CollectRows(rows, scanGuardianship); err != nil {
			return f, translate(err)
		}
		rows, _ = br.Query()
		if f.Delegations, err = pgx.CollectRows(rows, scanDelegation); err != nil {
			return f, translate(err)
		}
	case care:
		rows, _ := br.Query()
		if f.CareRelationships, err = pgx.CollectRows(rows, scanCare); err != nil {
			return f, translate(err)
		}
	}
	return f, translate(br.Close())
}

// lockPatient serialises the writes of one patient's consent and
// delegations (FOR NO KEY UPDATE does not block ingestion, which takes FOR
// KEY SHARE).
func lockPatient(ctx context.Context, tx pgx.Tx, id int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM patients WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
	return translate(err)
}

// timeOf returns *t in UTC, or the zero time for nil.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime returns nil for the zero time, else t in UTC at microsecond
// resolution.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

// translate turns a pgx error into the package's errors. PostgreSQL errors
// keep their message (which names constraints, not values) but not their
// type; other errors (network, context) are returned as they are.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "23503": // foreign_key_violation
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.Message)
	case pgErr.Code == "23502", pgErr.Code == "23514", pgErr.Code[:2] == "22": // not null, check, data exception
		return fmt.Errorf("%w: %s", ErrInvalid, pgErr.Message)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
}
