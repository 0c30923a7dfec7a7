package connsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
)

// The source names of the core (sync_connections.source).
const (
	SourceLibreLinkUp = "librelinkup"
	SourceDexcom      = "dexcom"
	SourceNightscout  = "nightscout"
)

// lluSource is LibreLinkUp, the core's first source: a connection reads a
// LibreLinkUp patient (llu_links) through an account (llu_accounts: the
// patient's own login, or the region's follower account) whose logins are
// serialised across replicas (login.go); the follower accounts' connection
// lists are its own scheduled work (follower.go).
type lluSource struct{ s *Syncer }

func (lluSource) Name() string           { return SourceLibreLinkUp }
func (lluSource) Store() cgmstore.Source { return cgmstore.SourceLibreLinkUp }

func (l lluSource) claimWork(ctx context.Context, n int) ([]claim, error) {
	return l.s.claimFollowerLists(ctx, n)
}

func (l lluSource) doWork(ctx context.Context, c claim) bool { return l.s.listFollower(ctx, c) }

func (l lluSource) disconnect(ctx context.Context, tx pgx.Tx, connectionID int64) error {
	// The patient's own account serves only this connection: erase its
	// secrets.
	_, err := tx.Exec(ctx, `
		UPDATE llu_accounts a SET state = 'disconnected', fingerprint = NULL, cred_key_id = NULL,
			cred_nonce = NULL, cred_sealed = NULL, session_key_id = NULL, session_nonce = NULL,
			session_sealed = NULL, lease_owner = NULL, lease_token = NULL, updated_at = now()
		FROM llu_links l WHERE l.connection_id = $1 AND a.id = l.account_id AND a.kind = 'patient'`, connectionID)
	return err
}

func (l lluSource) notBefore(ctx context.Context, tx pgx.Tx, connectionID int64) (time.Time, error) {
	var t *time.Time
	err := tx.QueryRow(ctx, `SELECT a.blocked_until FROM llu_links l JOIN llu_accounts a ON a.id = l.account_id
		WHERE l.connection_id = $1`, connectionID).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return utc(t), err
}

// account is a LibreLinkUp account loaded for a sync, with its secrets
// opened.
type account struct {
	id             int64
	publicID       string
	kind           string
	creds          librelinkup.Credentials
	credVersion    int32
	failedVersion  *int32
	session        librelinkup.Session
	sessionVersion int32
	blocked        bool
	blockedUntil   time.Time
	lockouts       int32
}

// badCredentials reports whether the account's current credentials were
// refused: no login may be made with them.
func (a *account) badCredentials() bool {
	return a.failedVersion != nil && *a.failedVersion == a.credVersion
}

// lluRow is what a LibreLinkUp sync knows of its connection.
type lluRow struct {
	patientID   int64
	publicID    string
	lluPatient  string
	mode        Mode
	logbookDue  bool
	accountName string
	who         identity.Patient
	loc         *time.Location
}

const loadLinkSQL = `
	SELECT l.llu_patient_id, l.logbook_at IS NULL OR l.logbook_at < now() - $2::interval, coalesce(a.name, ''),
		a.id, a.public_id, a.kind, a.cred_key_id, a.cred_nonce, a.cred_sealed, a.credentials_version,
		a.failed_login_version, a.session_key_id, a.session_nonce, a.session_sealed, a.session_version,
		coalesce(a.blocked_until > now(), false), a.blocked_until, a.lockouts
	FROM llu_links l JOIN llu_accounts a ON a.id = l.account_id
	WHERE l.connection_id = $1`

// scanAccount scans the account columns of loadLinkSQL (or of
// loadAccountForLoginSQL) after head, and opens its secrets.
func (s *Syncer) scanAccount(scan func(dest ...any) error, head ...any) (*account, error) {
	a := &account{}
	var (
		credKey, sessKey  *string
		credNonce, credCT []byte
		sessNonce, sessCT []byte
		blockedUntil      *time.Time
	)
	dest := append(head, &a.id, &a.publicID, &a.kind, &credKey, &credNonce, &credCT, &a.credVersion,
		&a.failedVersion, &sessKey, &sessNonce, &sessCT, &a.sessionVersion, &a.blocked, &blockedUntil, &a.lockouts)
	if err := scan(dest...); err != nil {
		return nil, err
	}
	a.blockedUntil = utc(blockedUntil)
	if sl := sealedOf(credKey, credNonce, credCT); sl != nil {
		c, err := s.openCredentials(a.publicID, *sl)
		if err != nil {
			return a, err
		}
		a.creds = c
	}
	if sl := sealedOf(sessKey, sessNonce, sessCT); sl != nil {
		sess, err := s.openSession(a.publicID, *sl)
		if err != nil {
			// A session that cannot be opened is only a lost token: log in again.
			s.log.Warn("connsync: stored session cannot be opened; logging in again", "account", a.publicID, "err", err)
		} else {
			a.session = sess
		}
	}
	return a, nil
}

// lluOutcome is a LibreLinkUp sync's outcome with what it changes beside
// the core's columns.
type lluOutcome struct {
	Outcome
	lluPatient string        // the LibreLinkUp patient learnt by this sync
	logbook    bool          // the logbook was read
	blockAcct  time.Duration // > 0: block the whole account that long
	lockout    bool          // the account answered "locked"
}

// Sync implements Source for LibreLinkUp.
func (l lluSource) Sync(ctx context.Context, j *Job) Outcome {
	s := l.s
	row := lluRow{patientID: j.PatientID, publicID: j.PublicID, mode: j.Mode, who: j.Patient, loc: j.Zone}
	acc, err := s.scanAccount(func(dest ...any) error {
		return s.pool.QueryRow(ctx, loadLinkSQL, j.ID, s.logbookEvery).Scan(dest...)
	}, &row.lluPatient, &row.logbookDue, &row.accountName)
	var out lluOutcome
	if err != nil {
		out = lluOutcome{Outcome: s.classify(ctx, err, row.mode)}
	} else {
		out = s.fetch(ctx, acc, row)
	}
	o := out.Outcome
	if acc != nil && out.lluPatient != "" && out.lluPatient != row.lluPatient {
		o.Key = lluKey(acc.id, out.lluPatient)
	}
	o.Commit = func(ctx context.Context, tx pgx.Tx, ok bool) error {
		if acc == nil {
			return nil
		}
		var lluPatient *string
		if out.lluPatient != "" && out.lluPatient != row.lluPatient {
			lluPatient = &out.lluPatient
		}
		if _, err := tx.Exec(ctx, `UPDATE llu_links SET logbook_at = CASE WHEN $2 THEN now() ELSE logbook_at END,
			llu_patient_id = coalesce($3, llu_patient_id) WHERE connection_id = $1`, j.ID, out.logbook && ok, lluPatient); err != nil {
			return err
		}
		if out.blockAcct > 0 {
			if _, err := tx.Exec(ctx, `UPDATE llu_accounts SET blocked_until = greatest(blocked_until, now() + $2::interval)
				WHERE id = $1`, acc.id, out.blockAcct); err != nil {
				return err
			}
		}
		return nil
	}
	return o
}

// lluKey is a LibreLinkUp connection's source_key.
func lluKey(accountID int64, lluPatient string) string {
	return fmt.Sprintf("%d/%s", accountID, lluPatient)
}

// fetch makes the LibreLinkUp calls of a connection's sync.
func (s *Syncer) fetch(ctx context.Context, acc *account, row lluRow) lluOutcome {
	switch {
	case acc.badCredentials():
		return lluOutcome{Outcome: s.classify(ctx, &librelinkup.Error{Kind: librelinkup.KindBadCredentials, Op: "login",
			Message: "credentials refused before; waiting for new ones (no login made)"}, row.mode)}
	case acc.blocked:
		o := s.classify(ctx, &librelinkup.Error{Kind: librelinkup.KindLocked, Op: "login",
			Message: "account blocked by an earlier answer; no request made"}, row.mode)
		o.Kind, o.Wait = "backing off", time.Until(acc.blockedUntil)
		if o.Wait <= 0 {
			o.Wait = time.Second
		}
		return lluOutcome{Outcome: o}
	}
	version := s.client.Version()
	var out lluOutcome
	la := &librelinkup.Account{Session: acc.session}
	loggedIn := false
	// call runs fn with the account's session, logging in first when the
	// session is missing or stale and again (once) when the token is
	// refused.
	call := func(fn func() error) error {
		if !la.Session.Fresh(time.Now(), librelinkup.DefaultRenewBefore) && !loggedIn {
			n, err := s.login(ctx, acc, false)
			out.Logins += n
			loggedIn = true
			if err != nil {
				return err
			}
			la.Session = acc.session
		}
		err := fn()
		if librelinkup.KindOf(err) == librelinkup.KindUnauthorized && !loggedIn {
			n, lerr := s.login(ctx, acc, true)
			out.Logins += n
			loggedIn = true
			if lerr != nil {
				return lerr
			}
			la.Session = acc.session
			err = fn()
		}
		return err
	}
	failed := func(err error) lluOutcome {
		o := lluOutcome{Outcome: s.classify(ctx, err, row.mode)}
		o.Logins = out.Logins
		if le, ok := err.(*librelinkup.Error); ok || errors.As(err, &le) {
			if le.Action() == librelinkup.ActionBackOff {
				o.blockAcct = o.Wait
			}
		}
		return o
	}
	lluPatient := row.lluPatient
	if lluPatient == unknownLLUPatient {
		// A patient's own account whose connection was not known at
		// connect time (a pending step): it must follow exactly one person.
		var list *librelinkup.ConnectionList
		err := call(func() (err error) { list, err = s.client.Connections(ctx, la); return })
		if err == nil {
			var conn librelinkup.Connection
			if conn, err = pickConnection(list, "", row.who, row.loc); err == nil {
				lluPatient = conn.PatientID
			}
		}
		if err != nil {
			return failed(err)
		}
	}
	var g *librelinkup.Graph
	err := call(func() (err error) { g, err = s.client.Graph(ctx, la, lluPatient); return })
	var lb *librelinkup.Logbook
	if err == nil && row.logbookDue {
		err = call(func() (err error) { lb, err = s.client.Logbook(ctx, la, lluPatient); return })
	}
	if err != nil {
		return failed(err)
	}
	if g.Connection.FirstName != "" || g.Connection.LastName != "" {
		if !matches(row.who, row.loc, g.Connection) {
			// The account now follows someone else under this id (or
			// the binding predates the identity check): store nothing.
			o := mismatchOutcome(adviceIdentityMismatch(g.Connection))
			o.Logins = out.Logins
			return lluOutcome{Outcome: o}
		}
	}
	out.State = StateActive
	out.lluPatient = lluPatient
	out.Readings = append(out.Readings, g.Readings...)
	out.Skipped = g.Problems.Skipped
	out.Devices = devicesOf(g)
	if lb != nil {
		out.logbook = true
		out.Readings = append(out.Readings, lb.Readings...)
		out.Skipped += lb.Problems.Skipped
	}
	out.Fetched = len(out.Readings) + out.Skipped
	if v := s.client.Version(); v != version {
		out.Warning = fmt.Sprintf("LibreLinkUp asked for app version %s (was %s): fsecgm now sends it. Update FSECGM_LIBRELINKUP_VERSION and check that the API has not changed.", v, version)
	}
	return out
}

// devicesOf describes the sensors of a graph for the store.
func devicesOf(g *librelinkup.Graph) []cgmstore.Device {
	model := modelName(g.Connection.DeviceTypeID, 0)
	var ds []cgmstore.Device
	add := func(sn librelinkup.Sensor) {
		if sn.Serial == "" || len(sn.Serial) > 64 {
			return
		}
		m := model
		if m == "" {
			m = modelName(0, sn.ProductType)
		}
		ds = append(ds, cgmstore.Device{Serial: sn.Serial, Model: m, ActivatedAt: sn.Activated})
	}
	for _, sn := range g.Sensors {
		add(sn)
	}
	if g.Connection.Sensor != nil {
		add(*g.Connection.Sensor)
	}
	return ds
}

// modelName names a sensor model from the app's device type id (dtid)
// or the sensor's product type (pt), as gui-dos/DiaBLE reads them
// (DiaBLE/LibreLink.swift).
func modelName(dtid, pt int) string {
	switch {
	case dtid == 40068, dtid == 0 && pt == 4:
		return "FreeStyle Libre 3"
	case dtid == 40067, dtid == 0 && pt == 3:
		return "FreeStyle Libre 2"
	case dtid == 40066:
		return "FreeStyle Libre"
	}
	return ""
}

// classify turns a failure of a LibreLinkUp sync (or follower list) into
// the outcome the connection records.
func (s *Syncer) classify(ctx context.Context, err error, mode Mode) Outcome {
	var le *librelinkup.Error
	var ue *UserError
	if be, ok := asBudgetError(err); ok {
		return budgetOutcome(be)
	}
	if !errors.As(err, &le) && errors.As(err, &ue) {
		// Something the account holder must fix (the account follows
		// nobody, or several people): shown as is.
		st := StateError
		if ue.Code == "identity_mismatch" {
			st = StateIdentityMismatch // never synced again: another person's data
		}
		return Outcome{State: st, Err: err, Kind: ue.Code, Message: ue.Error(), Advice: ue.Text}
	}
	if le == nil {
		s.log.ErrorContext(ctx, "connsync: sync failed", "err", err)
		return internalOutcome(err)
	}
	o := Outcome{Err: err, Kind: le.Kind.String(), Message: le.Error(), Advice: Text(le.Advice())}
	switch le.Action() {
	case librelinkup.ActionStopCredentials:
		o.State = StateBadCredentials
		if mode == ModeFollower {
			o.Advice = adviceFollowerCredentials
		}
	case librelinkup.ActionWaitPatient:
		o.State, o.Wait = StateActionNeeded, s.actionRetry
		if mode == ModeFollower {
			o.Advice = adviceFollowerStep
		}
	case librelinkup.ActionBackOff:
		o.State = StateBackingOff
		o.Wait = min(max(le.Backoff(), time.Second), librelinkup.MaxRetryAfter)
	case librelinkup.ActionOperator:
		o.State = StateError
		o.Warning = le.Advice().EN
		s.log.WarnContext(ctx, "connsync: LibreLinkUp needs the operator", "kind", le.Kind.String(), "op", le.Op, "err", le.Error())
	default: // retry, log in again, relink: the next regular sync tries again
		o.State, o.Retry = StateError, true
	}
	return o
}

var (
	adviceFollowerCredentials = Text{
		IT: "LibreLinkUp ha rifiutato le credenziali dell'account regionale. fsecgm non riprova finché l'operatore non le aggiorna; non serve alcuna azione del paziente.",
		EN: "LibreLinkUp rejected the regional account's credentials. fsecgm does not try again until the operator updates them; the patient need not do anything.",
	}
	adviceFollowerStep = Text{
		IT: "L'account regionale LibreLinkUp richiede un'azione nell'app (condizioni d'uso, informativa privacy o verifica e-mail): l'operatore deve completarla. fsecgm non accetta mai automaticamente.",
		EN: "The regional LibreLinkUp account requires an action in the app (terms of use, privacy policy or e-mail verification): the operator must complete it. fsecgm never accepts automatically.",
	}
)
