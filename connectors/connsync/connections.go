package connsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// connectionColumns are read by scanConnection, from sync_connections c
// joined with patients p, and (for LibreLinkUp) llu_links l and
// llu_accounts a.
const connectionColumns = `c.public_id, c.patient_id, p.public_id, c.source, c.mode, coalesce(a.name, ''), c.label, c.state,
	c.created_at, c.disconnected_at, c.last_sync_at, c.last_success_at, c.newest_reading_at, c.next_sync_at,
	c.error_kind, coalesce(c.error_message, ''), coalesce(c.advice_it, ''), coalesce(c.advice_en, ''), c.error_at, c.retry_at,
	c.operator_warning, c.syncs, c.failures, c.readings`

const connectionFrom = ` FROM sync_connections c JOIN patients p ON p.id = c.patient_id
	LEFT JOIN llu_links l ON l.connection_id = c.id LEFT JOIN llu_accounts a ON a.id = l.account_id `

func scanConnection(row pgx.CollectableRow) (Connection, error) {
	var (
		c                                 Connection
		mode, state                       string
		disc, last, success, newest, next *time.Time
		kind                              *string
		msg, it, en                       string
		errAt, retry                      *time.Time
	)
	err := row.Scan(&c.ID, &c.PatientID, &c.PatientPublicID, &c.Source, &mode, &c.Account, &c.Label, &state,
		&c.CreatedAt, &disc, &last, &success, &newest, &next,
		&kind, &msg, &it, &en, &errAt, &retry,
		&c.OperatorWarning, &c.Syncs, &c.Failures, &c.Readings)
	if err != nil {
		return Connection{}, err
	}
	c.Mode, c.State = Mode(mode), State(state)
	c.CreatedAt = c.CreatedAt.UTC()
	c.DisconnectedAt, c.LastSyncAt, c.LastSuccessAt = utc(disc), utc(last), utc(success)
	c.NewestReadingAt, c.NextSyncAt = utc(newest), utc(next)
	if kind != nil {
		c.Problem = &Problem{Kind: *kind, Message: msg, Advice: Text{IT: it, EN: en}, At: utc(errAt), RetryAt: utc(retry)}
	}
	return c, nil
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// listConnections returns the connections matching where (with the one
// argument arg as $1), newest first.
func listConnections(ctx context.Context, db DB, where string, arg any) ([]Connection, error) {
	rows, _ := db.Query(ctx, `SELECT `+connectionColumns+connectionFrom+`WHERE `+where+` ORDER BY c.created_at DESC, c.id DESC`, arg)
	cs, err := pgx.CollectRows(rows, scanConnection)
	if err != nil {
		return nil, fmt.Errorf("connsync: list connections: %w", err)
	}
	return cs, nil
}

// getConnection returns a patient's connection by public id.
func getConnection(ctx context.Context, db DB, patientID int64, publicID string) (Connection, error) {
	rows, _ := db.Query(ctx, `SELECT `+connectionColumns+connectionFrom+`WHERE c.public_id = $1 AND c.patient_id = $2`, publicID, patientID)
	c, err := pgx.CollectExactlyOneRow(rows, scanConnection)
	if errors.Is(err, pgx.ErrNoRows) {
		return Connection{}, fmt.Errorf("connsync: connection %q of patient %d: %w", publicID, patientID, ErrNotFound)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: connection %q: %w", publicID, err)
	}
	return c, nil
}

// newConnection is a connection to insert.
type newConnection struct {
	patientID int64
	source    string
	mode      Mode
	key       string
	label     string
	state     State
	// problem, when set, is the connection's first problem (a step pending
	// at connect time); wait delays the first sync.
	problem *Problem
	wait    time.Duration
	// secret, when set, is sealed as the connection's secret.
	secret []byte
}

// insertConnection inserts a connection in tx and returns its id and
// public id. A live connection of the same remote stream (source and key)
// is errAlreadyConnected.
func (s *Syncer) insertConnection(ctx context.Context, tx pgx.Tx, n newConnection) (int64, string, error) {
	pid, err := newPublicID()
	if err != nil {
		return 0, "", err
	}
	var sl *Sealed
	if n.secret != nil {
		v, err := s.keys.Seal(n.secret, aadSecret(pid))
		if err != nil {
			return 0, "", err
		}
		sl = &v
	}
	var kind, msg, it, en *string
	if p := n.problem; p != nil {
		kind, msg, it, en = &p.Kind, &p.Message, &p.Advice.IT, &p.Advice.EN
	}
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO sync_connections (public_id, patient_id, source, source_key, label, mode, state,
			error_kind, error_message, advice_it, advice_en, error_at, retry_at, next_sync_at,
			secret_key_id, secret_nonce, secret_sealed, secret_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
			CASE WHEN $8::text IS NULL THEN NULL ELSE now() END,
			CASE WHEN $8::text IS NULL THEN NULL ELSE now() + $12::interval END, now() + $12::interval,
			$13, $14, $15, CASE WHEN $15::bytea IS NULL THEN 0 ELSE 1 END)
		RETURNING id`,
		pid, n.patientID, n.source, n.key, n.label, string(n.mode), string(n.state), kind, msg, it, en, n.wait,
		sealedKeyID(sl), sealedNonce(sl), sealedCiphertext(sl)).Scan(&id)
	if isUniqueViolation(err, "sync_connections_live") {
		return 0, "", alreadyConnected(n.source)
	}
	if err != nil {
		return 0, "", fmt.Errorf("connsync: store connection: %w", err)
	}
	return id, pid, nil
}

// insertLLUConnection inserts a LibreLinkUp connection with its link.
func (s *Syncer) insertLLUConnection(ctx context.Context, tx pgx.Tx, n newConnection, accountID int64, lluPatient string) (int64, string, error) {
	id, pid, err := s.insertConnection(ctx, tx, n)
	if err != nil {
		return 0, "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO llu_links (connection_id, account_id, llu_patient_id) VALUES ($1, $2, $3)`,
		id, accountID, lluPatient); err != nil {
		return 0, "", fmt.Errorf("connsync: store connection: %w", err)
	}
	return id, pid, nil
}

// newPublicID returns 32 random hex digits.
func newPublicID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("connsync: public id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// isUniqueViolation reports a unique_violation on the named index.
func isUniqueViolation(err error, index string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (index == "" || pe.ConstraintName == index)
}

// refusal turns a LibreLinkUp error met while checking credentials into a
// *UserError for the person who typed them.
func refusal(err error) error {
	var le *librelinkup.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("connsync: check credentials: %w", err)
	}
	code := "librelinkup_error"
	switch le.Kind {
	case librelinkup.KindBadCredentials:
		code = "bad_credentials"
	case librelinkup.KindStepRequired:
		code = "step_required"
	case librelinkup.KindLocked:
		code = "locked"
	case librelinkup.KindRateLimited, librelinkup.KindHTMLPage:
		code = "rate_limited"
	}
	return &UserError{Kind: ErrRefused, Code: code, Text: Text(le.Advice()), Cause: le}
}

// checkCredentials validates the shape of a login.
func checkCredentials(email, password string) error {
	switch {
	case len(email) < 3 || len(email) > 254 || !containsAt(email):
		return &UserError{Kind: ErrInvalid, Code: "email_invalid", Text: Text{
			IT: "Inserire l'indirizzo e-mail dell'account LibreLinkUp.",
			EN: "Enter the e-mail address of the LibreLinkUp account."}}
	case password == "" || len(password) > 256:
		return &UserError{Kind: ErrInvalid, Code: "password_invalid", Text: Text{
			IT: "Inserire la password dell'account LibreLinkUp.",
			EN: "Enter the password of the LibreLinkUp account."}}
	}
	return nil
}

func containsAt(s string) bool {
	for i := range len(s) {
		if s[i] == '@' {
			return i > 0 && i < len(s)-1
		}
	}
	return false
}

// pickConnection chooses, among the people an account follows, the
// patient who (in zone loc): the one whose sensor matches serial when a
// serial is given, otherwise the only one whose name matches the
// patient's FSE identity. An account that follows several people is
// offered to the patient as the one that matches; when none does, the
// refusal names the people the account follows, and nothing is stored.
func pickConnection(list *librelinkup.ConnectionList, serial string, who identity.Patient, loc *time.Location) (librelinkup.Connection, error) {
	cs := list.Connections
	if len(cs) == 0 {
		return librelinkup.Connection{}, &UserError{Kind: ErrRefused, Code: "no_connection", Text: Text{
			IT: "L'account LibreLinkUp non segue nessuno. Nell'app LibreLink condividere i dati con questo account LibreLinkUp e accettare l'invito nell'app LibreLinkUp, poi riprovare.",
			EN: "The LibreLinkUp account follows nobody. In the LibreLink app share the data with this LibreLinkUp account and accept the invitation in the LibreLinkUp app, then try again."}}
	}
	if serial != "" {
		for _, c := range cs {
			if c.Sensor != nil && c.Sensor.SerialMatches(serial) {
				if !matches(who, loc, c) {
					return librelinkup.Connection{}, identityMismatch([]librelinkup.Connection{c})
				}
				return c, nil
			}
		}
		return librelinkup.Connection{}, &UserError{Kind: ErrRefused, Code: "serial_mismatch", Text: textSerialMismatch}
	}
	var found []librelinkup.Connection
	for _, c := range cs {
		if matches(who, loc, c) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return librelinkup.Connection{}, identityMismatch(cs)
	case 1:
		return found[0], nil
	}
	return librelinkup.Connection{}, &UserError{Kind: ErrInvalid, Code: "serial_needed", Text: Text{
		IT: "L'account LibreLinkUp segue più persone con il nome del titolare del fascicolo: indicare il numero di serie del sensore mostrato nell'app LibreLink.",
		EN: "The LibreLinkUp account follows several people with the health record holder's name: give the sensor serial number shown in the LibreLink app."}}
}

var textSerialMismatch = Text{
	IT: "Il numero di serie non corrisponde al sensore che LibreLinkUp mostra. Copiarlo dall'app LibreLink (Menu › Informazioni sul sensore) e riprovare.",
	EN: "The serial number does not match the sensor LibreLinkUp shows. Copy it from the LibreLink app (Menu › Sensor information) and try again.",
}

// credentialsJSON is how credentials are sealed.
type credentialsJSON struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// connect implements Syncer.Connect.
func (s *Syncer) connect(ctx context.Context, tx pgx.Tx, patientID int64, req ConnectRequest) (Connection, error) {
	if err := checkCredentials(req.Email, req.Password); err != nil {
		return Connection{}, err
	}
	who, loc, err := patientIdentity(ctx, tx, patientID)
	if err != nil {
		return Connection{}, err
	}
	var exists bool
	fp := s.keys.fingerprint(req.Email)
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM llu_accounts WHERE fingerprint = $1 AND state <> 'disconnected')`, fp).Scan(&exists); err != nil {
		return Connection{}, fmt.Errorf("connsync: connect: %w", err)
	}
	if exists {
		return Connection{}, errAlreadyConnected
	}

	// One login, never retried: a wrong password is reported now.
	state, problem := StateActive, (*librelinkup.Error)(nil)
	acc := librelinkup.Account{Credentials: librelinkup.Credentials{Email: req.Email, Password: req.Password}}
	var conn librelinkup.Connection
	sess, err := s.client.Login(ctx, req.Email, req.Password)
	logins := 1
	switch {
	case err == nil:
		acc.Session = sess
		list, err := s.client.Connections(ctx, &librelinkup.Account{Session: sess})
		if err != nil {
			return Connection{}, refusal(err)
		}
		if conn, err = pickConnection(list, req.Serial, who, loc); err != nil {
			return Connection{}, err
		}
	case waitsForPatient(err):
		// The patient must act in the app or on the LibreView website
		// (a step, documents to accept, a two-factor code): the
		// connection waits for them. The LibreLinkUp patient is not known
		// yet: it is the account's own connection, found (and its person
		// checked) at the first sync after the step.
		errors.As(err, &problem)
		state = StateActionNeeded
	default:
		return Connection{}, refusal(err)
	}

	accountPID, err := newPublicID()
	if err != nil {
		return Connection{}, err
	}
	credSealed, err := s.sealCredentials(accountPID, acc.Credentials)
	if err != nil {
		return Connection{}, err
	}
	var sessSealed *Sealed
	if !acc.Session.IsZero() {
		ss, err := s.sealSession(accountPID, acc.Session)
		if err != nil {
			return Connection{}, err
		}
		sessSealed = &ss
	}
	var accountID int64
	err = tx.QueryRow(ctx, `
		INSERT INTO llu_accounts (public_id, kind, fingerprint, cred_key_id, cred_nonce, cred_sealed,
			session_key_id, session_nonce, session_sealed, session_version, logins)
		VALUES ($1, 'patient', $2, $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING id`,
		accountPID, fp, credSealed.KeyID, credSealed.Nonce, credSealed.Ciphertext,
		sealedKeyID(sessSealed), sealedNonce(sessSealed), sealedCiphertext(sessSealed), boolInt(sessSealed != nil), logins,
	).Scan(&accountID)
	if isUniqueViolation(err, "llu_accounts_fingerprint") {
		return Connection{}, errAlreadyConnected
	}
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: connect: store account: %w", err)
	}
	lluPatient := conn.PatientID
	if lluPatient == "" {
		lluPatient = unknownLLUPatient
	}
	n := newConnection{patientID: patientID, source: SourceLibreLinkUp, mode: ModePatient, key: lluKey(accountID, lluPatient),
		state: state}
	if problem != nil {
		n.problem = &Problem{Kind: problem.Kind.String(), Message: problem.Error(), Advice: Text(problem.Advice())}
		n.wait = s.actionRetry
	}
	_, connPID, err := s.insertLLUConnection(ctx, tx, n, accountID, lluPatient)
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: connect: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: patient connected a LibreLinkUp account", "connection", connPID, "state", state)
	return getConnection(ctx, tx, patientID, connPID)
}

// waitsForPatient reports whether a login failed on something the
// account holder must do (ActionWaitPatient: a step, documents to accept,
// a two-factor code), not on the credentials.
func waitsForPatient(err error) bool {
	var le *librelinkup.Error
	return errors.As(err, &le) && le.Action() == librelinkup.ActionWaitPatient
}

// unknownLLUPatient stands for the LibreLinkUp patient of a connection
// whose account could not list its connections yet (a pending step).
const unknownLLUPatient = "?"

var errAlreadyConnected = &UserError{Kind: ErrConflict, Code: "already_connected", Text: Text{
	IT: "Questo account LibreLinkUp è già collegato.",
	EN: "This LibreLinkUp account is already connected."}}

// alreadyConnected is the refusal of a second live connection of the same
// remote stream.
func alreadyConnected(source string) *UserError {
	switch source {
	case SourceDexcom:
		return &UserError{Kind: ErrConflict, Code: "already_connected", Text: Text{
			IT: "Questo account Dexcom è già collegato a un fascicolo.",
			EN: "This Dexcom account is already connected to a health record."}}
	case SourceNightscout:
		return &UserError{Kind: ErrConflict, Code: "already_connected", Text: Text{
			IT: "Questo sito Nightscout è già collegato a un fascicolo.",
			EN: "This Nightscout site is already connected to a health record."}}
	}
	return errAlreadyConnected
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// connectionRef is the part of a connection the write operations need.
type connectionRef struct {
	id          int64
	publicID    string
	source      string
	mode        Mode
	state       State
	accountID   int64  // LibreLinkUp: the account (0 for other sources)
	accountPID  string // LibreLinkUp
	accountKind string // LibreLinkUp
	oldest      *time.Time
	newest      *time.Time
}

// lockConnection finds and row-locks a patient's connection.
func lockConnection(ctx context.Context, tx pgx.Tx, patientID int64, publicID string) (connectionRef, error) {
	r := connectionRef{publicID: publicID}
	var mode, state string
	var accountID *int64
	var accountPID, accountKind *string
	err := tx.QueryRow(ctx, `
		SELECT c.id, c.source, c.mode, c.state, l.account_id, a.public_id, a.kind, c.oldest_reading_at, c.newest_reading_at
		FROM sync_connections c LEFT JOIN llu_links l ON l.connection_id = c.id LEFT JOIN llu_accounts a ON a.id = l.account_id
		WHERE c.public_id = $1 AND c.patient_id = $2
		FOR UPDATE OF c`, publicID, patientID).Scan(&r.id, &r.source, &mode, &state, &accountID, &accountPID, &accountKind, &r.oldest, &r.newest)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("connsync: connection %q of patient %d: %w", publicID, patientID, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("connsync: connection %q: %w", publicID, err)
	}
	r.mode, r.state = Mode(mode), State(state)
	if accountID != nil {
		r.accountID, r.accountPID, r.accountKind = *accountID, *accountPID, *accountKind
	}
	return r, nil
}

var errDisconnected = &UserError{Kind: ErrConflict, Code: "disconnected", Text: Text{
	IT: "Il collegamento è stato chiuso: crearne uno nuovo.",
	EN: "The connection was ended: create a new one."}}

// updateCredentials implements Syncer.UpdateCredentials.
func (s *Syncer) updateCredentials(ctx context.Context, tx pgx.Tx, patientID int64, publicID string, req ConnectRequest) (Connection, error) {
	if err := checkCredentials(req.Email, req.Password); err != nil {
		return Connection{}, err
	}
	ref, err := lockConnection(ctx, tx, patientID, publicID)
	if err != nil {
		return Connection{}, err
	}
	if ref.state == StateDisconnected {
		return Connection{}, errDisconnected
	}
	if ref.source != SourceLibreLinkUp {
		return Connection{}, &UserError{Kind: ErrInvalid, Code: "no_credentials", Text: Text{
			IT: "Questo collegamento non usa una password: per cambiarlo, scollegarlo e collegarlo di nuovo.",
			EN: "This connection does not use a password: to change it, disconnect it and connect it again."}}
	}
	if ref.mode != ModePatient {
		return Connection{}, &UserError{Kind: ErrInvalid, Code: "follower_connection", Text: Text{
			IT: "Questo collegamento usa l'account regionale: non ha credenziali del paziente.",
			EN: "This connection uses the regional account: it has no patient credentials."}}
	}
	fp := s.keys.fingerprint(req.Email)
	var taken bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM llu_accounts WHERE fingerprint = $1 AND state <> 'disconnected' AND id <> $2)`,
		fp, ref.accountID).Scan(&taken); err != nil {
		return Connection{}, fmt.Errorf("connsync: update credentials: %w", err)
	}
	if taken {
		return Connection{}, errAlreadyConnected
	}
	// Serialise with the sync's logins to this account.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassAccount, int32(ref.accountID)); err != nil {
		return Connection{}, fmt.Errorf("connsync: update credentials: lock: %w", err)
	}
	creds := librelinkup.Credentials{Email: req.Email, Password: req.Password}
	sess, err := s.client.Login(ctx, req.Email, req.Password)
	if _, err := tx.Exec(ctx, `UPDATE llu_accounts SET logins = logins + 1 WHERE id = $1`, ref.accountID); err != nil {
		return Connection{}, fmt.Errorf("connsync: update credentials: %w", err)
	}
	state := StateActive
	var problem *librelinkup.Error
	switch {
	case err == nil:
	case waitsForPatient(err):
		errors.As(err, &problem)
		state = StateActionNeeded
	default:
		return Connection{}, refusal(err)
	}
	cs, err := s.sealCredentials(ref.accountPID, creds)
	if err != nil {
		return Connection{}, err
	}
	var ss *Sealed
	if !sess.IsZero() {
		v, err := s.sealSession(ref.accountPID, sess)
		if err != nil {
			return Connection{}, err
		}
		ss = &v
	}
	_, err = tx.Exec(ctx, `
		UPDATE llu_accounts SET fingerprint = $2, cred_key_id = $3, cred_nonce = $4, cred_sealed = $5,
			credentials_version = credentials_version + 1, failed_login_version = NULL, blocked_until = NULL,
			session_key_id = $6, session_nonce = $7, session_sealed = $8, session_version = session_version + 1,
			updated_at = now()
		WHERE id = $1`, ref.accountID, fp, cs.KeyID, cs.Nonce, cs.Ciphertext, sealedKeyID(ss), sealedNonce(ss), sealedCiphertext(ss))
	if isUniqueViolation(err, "llu_accounts_fingerprint") {
		return Connection{}, errAlreadyConnected
	}
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: update credentials: %w", err)
	}
	if problem != nil {
		adv := problem.Advice()
		_, err = tx.Exec(ctx, `
			UPDATE sync_connections SET state = 'action_needed', error_kind = $2, error_message = $3, advice_it = $4,
				advice_en = $5, error_at = now(), retry_at = now() + $6::interval, next_sync_at = now() + $6::interval
			WHERE id = $1`, ref.id, problem.Kind.String(), problem.Error(), adv.IT, adv.EN, s.actionRetry)
	} else {
		_, err = tx.Exec(ctx, `
			UPDATE sync_connections SET state = $2, error_kind = NULL, error_message = NULL, advice_it = NULL,
				advice_en = NULL, error_at = NULL, retry_at = NULL, next_sync_at = now()
			WHERE id = $1`, ref.id, string(state))
	}
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: update credentials: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: credentials replaced", "connection", publicID, "state", state)
	return getConnection(ctx, tx, patientID, publicID)
}

// syncSoon implements Syncer.SyncSoon.
func (s *Syncer) syncSoon(ctx context.Context, tx pgx.Tx, patientID int64, publicID string) (Connection, error) {
	ref, err := lockConnection(ctx, tx, patientID, publicID)
	if err != nil {
		return Connection{}, err
	}
	switch ref.state {
	case StateDisconnected:
		return Connection{}, errDisconnected
	case StateBadCredentials, StateIdentityMismatch:
		return getConnection(ctx, tx, patientID, publicID)
	}
	var notBefore time.Time
	if nb, ok := s.sources[ref.source].(notBeforer); ok {
		if notBefore, err = nb.notBefore(ctx, tx, ref.id); err != nil {
			return Connection{}, fmt.Errorf("connsync: sync soon: %w", err)
		}
	}
	_, err = tx.Exec(ctx, `UPDATE sync_connections SET next_sync_at = greatest(now(), coalesce($2, now())) WHERE id = $1`,
		ref.id, tstzOrNil(notBefore))
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: sync soon: %w", err)
	}
	return getConnection(ctx, tx, patientID, publicID)
}

// tstzOrNil returns nil for the zero time, for nullable columns.
func tstzOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// storeSource returns the store's source of a sync source's readings.
func (s *Syncer) storeSource(source string) cgmstore.Source {
	if src := s.sources[source]; src != nil {
		return src.Store()
	}
	switch source {
	case SourceDexcom:
		return cgmstore.SourceDexcom
	case SourceNightscout:
		return cgmstore.SourceNightscout
	}
	return cgmstore.SourceLibreLinkUp
}

// disconnect implements Syncer.Disconnect.
func (s *Syncer) disconnect(ctx context.Context, tx pgx.Tx, patientID int64, publicID string, deleteReadings bool) (DisconnectResult, error) {
	ref, err := lockConnection(ctx, tx, patientID, publicID)
	if err != nil {
		return DisconnectResult{}, err
	}
	if ref.state != StateDisconnected {
		// Clearing the lease token makes a sync in flight unable to
		// commit; the connection's own secret is erased.
		_, err = tx.Exec(ctx, `
			UPDATE sync_connections SET state = 'disconnected', disconnected_at = now(), lease_owner = NULL,
				lease_token = NULL, lease_expires_at = NULL, retry_at = NULL,
				secret_key_id = NULL, secret_nonce = NULL, secret_sealed = NULL, secret_version = secret_version + 1
			WHERE id = $1`, ref.id)
		if err != nil {
			return DisconnectResult{}, fmt.Errorf("connsync: disconnect: %w", err)
		}
		if d, ok := s.sources[ref.source].(disconnecter); ok {
			if err := d.disconnect(ctx, tx, ref.id); err != nil {
				return DisconnectResult{}, fmt.Errorf("connsync: disconnect: %w", err)
			}
		} else if ref.source == SourceLibreLinkUp {
			if err := (lluSource{s}).disconnect(ctx, tx, ref.id); err != nil {
				return DisconnectResult{}, fmt.Errorf("connsync: disconnect: %w", err)
			}
		}
	}
	var res DisconnectResult
	if deleteReadings && ref.oldest != nil && ref.newest != nil {
		rm, err := s.store.RemoveSourceReadings(ctx, tx, patientID, s.storeSource(ref.source), *ref.oldest, *ref.newest)
		if err != nil {
			return DisconnectResult{}, fmt.Errorf("connsync: disconnect: %w", err)
		}
		res.DeletedReadings, res.RestoredReadings = rm.Deleted, rm.Restored
	}
	s.log.InfoContext(ctx, "connsync: connection ended", "connection", publicID, "deleted_readings", res.DeletedReadings)
	res.Connection, err = getConnection(ctx, tx, patientID, publicID)
	return res, err
}
