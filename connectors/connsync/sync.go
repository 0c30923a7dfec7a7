package connsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// claim is a connection or follower account leased to this replica.
type claim struct {
	id        int64
	token     int64
	scheduled time.Time // next_sync_at (or next_list_at) when claimed: the slot served
	follower  bool      // a follower account's connection list, not a connection
}

// syncableStates are the states whose connections are synced.
const syncableStates = `('active', 'action_needed', 'backing_off', 'error')`

const claimConnectionsSQL = `
	UPDATE llu_connections c
	SET lease_owner = $1, lease_token = nextval('llu_lease_tokens'), lease_expires_at = now() + $2::interval
	WHERE c.id IN (
		SELECT id FROM llu_connections
		WHERE state IN ` + syncableStates + ` AND next_sync_at <= now()
			AND (lease_expires_at IS NULL OR lease_expires_at < now())
		ORDER BY next_sync_at
		LIMIT $3
		FOR UPDATE SKIP LOCKED)
	RETURNING c.id, c.lease_token, c.next_sync_at`

const claimAccountsSQL = `
	UPDATE llu_accounts a
	SET lease_owner = $1, lease_token = nextval('llu_lease_tokens'), lease_expires_at = now() + $2::interval
	WHERE a.id IN (
		SELECT id FROM llu_accounts
		WHERE kind = 'follower' AND state NOT IN ('disconnected', 'bad_credentials') AND next_list_at <= now()
			AND (lease_expires_at IS NULL OR lease_expires_at < now())
		ORDER BY next_list_at
		LIMIT $3
		FOR UPDATE SKIP LOCKED)
	RETURNING a.id, a.lease_token, a.next_list_at`

// claimDue leases up to n due follower lists and connections.
func (s *Syncer) claimDue(ctx context.Context, n int) ([]claim, error) {
	var out []claim
	for _, q := range []struct {
		sql      string
		follower bool
	}{{claimAccountsSQL, true}, {claimConnectionsSQL, false}} {
		if len(out) >= n {
			break
		}
		rows, _ := s.pool.Query(ctx, q.sql, s.replica, s.leaseTTL, n-len(out))
		var c claim
		_, err := pgx.ForEachRow(rows, []any{&c.id, &c.token, &c.scheduled}, func() error {
			out = append(out, claim{id: c.id, token: c.token, scheduled: c.scheduled, follower: q.follower})
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("connsync: claim due work: %w", err)
		}
	}
	return out, nil
}

// syncDue implements Syncer.SyncDue.
func (s *Syncer) syncDue(ctx context.Context) (TickStats, error) {
	var (
		mu sync.Mutex
		st TickStats
	)
	add := func(f func(*TickStats)) {
		mu.Lock()
		f(&st)
		mu.Unlock()
	}
	var g errgroup.Group
	g.SetLimit(s.workers)
	var err error
	for ctx.Err() == nil {
		var cs []claim
		cs, err = s.claimDue(ctx, s.batch)
		for _, c := range cs {
			g.Go(func() error {
				if c.follower {
					if s.listFollower(ctx, c) {
						add(func(t *TickStats) { t.Lists++ })
					}
					return nil
				}
				r := s.syncConnection(ctx, c)
				add(func(t *TickStats) {
					switch {
					case r.lost:
						t.Lost++
					case r.committed:
						t.Synced++
						t.Inserted += r.inserted
						if r.failed {
							t.Failed++
						}
					}
				})
				return nil
			})
		}
		if err != nil || len(cs) == 0 {
			break
		}
	}
	_ = g.Wait()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return st, err
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
}

// badCredentials reports whether the account's current credentials were
// refused: no login may be made with them.
func (a *account) badCredentials() bool {
	return a.failedVersion != nil && *a.failedVersion == a.credVersion
}

// outcome is what a sync (or a follower list) found, to be committed.
type outcome struct {
	state     State
	err       error // nil on success
	kind      string
	message   string
	advice    librelinkup.Text
	wait      time.Duration // > 0: next attempt after this wait instead of the next slot
	stop      bool          // bad credentials: no next attempt
	blockAcct time.Duration // > 0: block the whole account that long
	warning   string
	logins    int

	// successful connection syncs
	readings   []cgm.Reading
	devices    []cgmstore.Device
	fetched    int
	skipped    int
	lluPatient string
	logbook    bool
}

// syncResult is what syncConnection reports to SyncDue.
type syncResult struct {
	committed, lost, failed bool
	inserted                int
	kind                    string // outcome.kind of a failed sync
}

// report tells Config.Observe how a sync or follower list run ended.
func (s *Syncer) report(follower bool, r syncResult, started time.Time) {
	if s.observe == nil {
		return
	}
	e := SyncEvent{Follower: follower, Inserted: r.inserted, Duration: time.Since(started)}
	switch {
	case r.lost:
		e.Outcome = OutcomeLost
	case !r.committed:
		e.Outcome = OutcomeReleased
	case r.failed:
		e.Outcome, e.Kind = OutcomeFailed, r.kind
	default:
		e.Outcome = OutcomeOK
	}
	s.observe(e)
}

// connRow is a connection loaded for a sync.
type connRow struct {
	patientID   int64
	publicID    string
	lluPatient  string
	mode        Mode
	logbookDue  bool
	accountName string
	// who is the patient's FSE identity, loc their zone: the person the
	// connection follows must match it at every sync.
	who identity.Patient
	loc *time.Location
}

const loadConnectionSQL = `
	SELECT c.patient_id, c.public_id, c.llu_patient_id, c.mode,
		c.logbook_at IS NULL OR c.logbook_at < now() - $3::interval,
		coalesce(a.name, ''),
		p.fiscal_code, p.time_zone, p.birth_date, coalesce(p.given_name, ''), coalesce(p.family_name, ''),
		a.id, a.public_id, a.kind, a.cred_key_id, a.cred_nonce, a.cred_sealed, a.credentials_version,
		a.failed_login_version, a.session_key_id, a.session_nonce, a.session_sealed, a.session_version,
		coalesce(a.blocked_until > now(), false), a.blocked_until
	FROM llu_connections c JOIN llu_accounts a ON a.id = c.account_id JOIN patients p ON p.id = c.patient_id
	WHERE c.id = $1 AND c.lease_token = $2`

// loadAccount scans the account columns of loadConnectionSQL (or of
// loadAccountSQL) and opens its secrets.
func (s *Syncer) scanAccount(scan func(dest ...any) error, head ...any) (*account, error) {
	a := &account{}
	var (
		credKey, sessKey  *string
		credNonce, credCT []byte
		sessNonce, sessCT []byte
		blockedUntil      *time.Time
	)
	dest := append(head, &a.id, &a.publicID, &a.kind, &credKey, &credNonce, &credCT, &a.credVersion,
		&a.failedVersion, &sessKey, &sessNonce, &sessCT, &a.sessionVersion, &a.blocked, &blockedUntil)
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

// leaseMargin is how long before its lease expires a sync gives up.
func (s *Syncer) leaseMargin() time.Duration { return min(5*time.Second, s.leaseTTL/5) }

// syncConnection syncs one leased connection and commits the outcome.
func (s *Syncer) syncConnection(parent context.Context, c claim) (res syncResult) {
	started := time.Now()
	defer func() { s.report(false, res, started) }()
	ctx, cancel := context.WithTimeout(parent, s.leaseTTL-s.leaseMargin())
	defer cancel()

	var row connRow
	var mode, zone string
	var birth *time.Time
	acc, err := s.scanAccount(func(dest ...any) error {
		return s.pool.QueryRow(ctx, loadConnectionSQL, c.id, c.token, s.logbookEvery).Scan(dest...)
	}, &row.patientID, &row.publicID, &row.lluPatient, &mode, &row.logbookDue, &row.accountName,
		&row.who.FiscalCode, &zone, &birth, &row.who.GivenName, &row.who.FamilyName)
	row.mode = Mode(mode)
	row.who.BirthDate = utc(birth)
	if row.loc, _ = cgm.Zone(zone); row.loc == nil {
		row.loc = time.UTC
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return syncResult{lost: true} // disconnected, or the lease passed to another replica
	}
	var out outcome
	if err != nil {
		out = s.classify(ctx, err, row.mode)
	} else {
		out = s.fetch(ctx, acc, row)
	}
	if parent.Err() != nil {
		// Shutting down: give the lease back so another replica takes over now.
		s.releaseLease(c)
		return syncResult{}
	}
	return s.finish(parent, c, row, acc, out, started)
}

// releaseLease clears a lease this replica holds.
func (s *Syncer) releaseLease(c claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	table := "llu_connections"
	if c.follower {
		table = "llu_accounts"
	}
	_, _ = s.pool.Exec(ctx, `UPDATE `+table+` SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
		WHERE id = $1 AND lease_token = $2`, c.id, c.token)
}

// fetch makes the LibreLinkUp calls of a connection's sync.
func (s *Syncer) fetch(ctx context.Context, acc *account, row connRow) outcome {
	switch {
	case acc.badCredentials():
		return s.classify(ctx, &librelinkup.Error{Kind: librelinkup.KindBadCredentials, Op: "login",
			Message: "credentials refused before; waiting for new ones (no login made)"}, row.mode)
	case acc.blocked:
		o := s.classify(ctx, &librelinkup.Error{Kind: librelinkup.KindLocked, Op: "login",
			Message: "account blocked by an earlier answer; no request made"}, row.mode)
		o.kind, o.wait = "backing off", time.Until(acc.blockedUntil)
		if o.wait <= 0 {
			o.wait = time.Second
		}
		return o
	}
	version := s.client.Version()
	var out outcome
	la := &librelinkup.Account{Session: acc.session}
	loggedIn := false
	// call runs fn with the account's session, logging in first when the
	// session is missing or stale and again (once) when the token is
	// refused.
	call := func(fn func() error) error {
		if !la.Session.Fresh(time.Now(), librelinkup.DefaultRenewBefore) && !loggedIn {
			n, err := s.login(ctx, acc, false)
			out.logins += n
			loggedIn = true
			if err != nil {
				return err
			}
			la.Session = acc.session
		}
		err := fn()
		if librelinkup.KindOf(err) == librelinkup.KindUnauthorized && !loggedIn {
			n, lerr := s.login(ctx, acc, true)
			out.logins += n
			loggedIn = true
			if lerr != nil {
				return lerr
			}
			la.Session = acc.session
			err = fn()
		}
		return err
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
			o := s.classify(ctx, err, row.mode)
			o.logins = out.logins
			return o
		}
	}
	var g *librelinkup.Graph
	err := call(func() (err error) { g, err = s.client.Graph(ctx, la, lluPatient); return })
	var lb *librelinkup.Logbook
	if err == nil && row.logbookDue {
		err = call(func() (err error) { lb, err = s.client.Logbook(ctx, la, lluPatient); return })
	}
	if err != nil {
		o := s.classify(ctx, err, row.mode)
		o.logins = out.logins
		return o
	}
	if g.Connection.FirstName != "" || g.Connection.LastName != "" {
		if !matches(row.who, row.loc, g.Connection) {
			// The account now follows someone else under this id (or
			// the binding predates the identity check): store nothing.
			return outcome{state: StateIdentityMismatch, err: errIdentityMismatch, kind: "identity_mismatch",
				message: "the person LibreLinkUp says this connection follows is not the patient",
				advice:  adviceIdentityMismatch(g.Connection), logins: out.logins}
		}
	}
	out.state = StateActive
	out.lluPatient = lluPatient
	out.readings = append(out.readings, g.Readings...)
	out.skipped = g.Problems.Skipped
	out.devices = devicesOf(g)
	if lb != nil {
		out.logbook = true
		out.readings = append(out.readings, lb.Readings...)
		out.skipped += lb.Problems.Skipped
	}
	out.fetched = len(out.readings) + out.skipped
	if v := s.client.Version(); v != version {
		out.warning = fmt.Sprintf("LibreLinkUp asked for app version %s (was %s): fsecgm now sends it. Update FSECGM_LIBRELINKUP_VERSION and check that the API has not changed.", v, version)
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

// classify turns a failure into the outcome the connection records.
func (s *Syncer) classify(ctx context.Context, err error, mode Mode) outcome {
	var le *librelinkup.Error
	var ue *UserError
	if !errors.As(err, &le) && errors.As(err, &ue) {
		// Something the account holder must fix (the account follows
		// nobody, or several people): shown as is.
		st := StateError
		if ue.Code == "identity_mismatch" {
			st = StateIdentityMismatch // never synced again: another person's data
		}
		return outcome{state: st, err: err, kind: ue.Code, message: ue.Error(), advice: ue.Text}
	}
	if le == nil {
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			msg = "the sync took longer than its lease and was abandoned"
		}
		s.log.ErrorContext(ctx, "connsync: sync failed", "err", err)
		return outcome{state: StateError, err: err, kind: "internal", message: msg, advice: adviceInternal}
	}
	o := outcome{err: err, kind: le.Kind.String(), message: le.Error(), advice: le.Advice()}
	switch le.Action() {
	case librelinkup.ActionStopCredentials:
		o.state, o.stop = StateBadCredentials, true
		if mode == ModeFollower {
			o.advice = adviceFollowerCredentials
		}
	case librelinkup.ActionWaitPatient:
		o.state, o.wait = StateActionNeeded, s.actionRetry
		if mode == ModeFollower {
			o.advice = adviceFollowerStep
		}
	case librelinkup.ActionBackOff:
		o.state = StateBackingOff
		o.wait = min(max(le.Backoff(), time.Second), librelinkup.MaxRetryAfter)
		o.blockAcct = o.wait
	case librelinkup.ActionOperator:
		o.state = StateError
		o.warning = le.Advice().EN
		s.log.WarnContext(ctx, "connsync: LibreLinkUp needs the operator", "kind", le.Kind.String(), "op", le.Op, "err", le.Error())
	default: // retry, log in again, relink: the next regular sync tries again
		o.state = StateError
	}
	return o
}

var (
	adviceInternal = librelinkup.Text{
		IT: "Errore interno di fsecgm durante la sincronizzazione. Nessun dato salvato è stato toccato; fsecgm riprova alla prossima sincronizzazione e l'operatore è stato avvisato.",
		EN: "Internal fsecgm error during the sync. No stored data was touched; fsecgm tries again at the next sync and the operator has been told.",
	}
	adviceFollowerCredentials = librelinkup.Text{
		IT: "LibreLinkUp ha rifiutato le credenziali dell'account regionale. fsecgm non riprova finché l'operatore non le aggiorna; non serve alcuna azione del paziente.",
		EN: "LibreLinkUp rejected the regional account's credentials. fsecgm does not try again until the operator updates them; the patient need not do anything.",
	}
	adviceFollowerStep = librelinkup.Text{
		IT: "L'account regionale LibreLinkUp richiede un'azione nell'app (condizioni d'uso, informativa privacy o verifica e-mail): l'operatore deve completarla. fsecgm non accetta mai automaticamente.",
		EN: "The regional LibreLinkUp account requires an action in the app (terms of use, privacy policy or e-mail verification): the operator must complete it. fsecgm never accepts automatically.",
	}
)

// finish commits the outcome of a connection's sync, if this replica
// still holds its lease.
func (s *Syncer) finish(ctx context.Context, c claim, row connRow, acc *account, out outcome, started time.Time) syncResult {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var res syncResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var token *int64
		if err := tx.QueryRow(ctx, `SELECT lease_token FROM llu_connections WHERE id = $1 FOR UPDATE`, c.id).Scan(&token); err != nil {
			return err
		}
		if token == nil || *token != c.token {
			res.lost = true
			return errLeaseLost
		}
		var ir cgmstore.Result
		var oldest, newest *time.Time
		if out.err == nil && len(out.readings) > 0 {
			var err error
			ir, err = s.store.IngestTx(ctx, tx, cgmstore.Batch{Patient: row.patientID, Source: cgmstore.SourceLibreLinkUp,
				Readings: out.readings, Devices: out.devices})
			if err != nil {
				s.log.ErrorContext(ctx, "connsync: ingestion failed", "connection", row.publicID, "err", err)
				out = outcome{state: StateError, err: err, kind: "internal", message: err.Error(), advice: adviceInternal, logins: out.logins}
			} else {
				// The ingestion marked the patient's summaries dirty from
				// the earliest reading it inserted or revised.
				first := out.readings[0].Time
				for _, r := range out.readings {
					if r.Time.Before(first) {
						first = r.Time
					}
				}
				first = first.UTC()
				oldest, newest = &first, &ir.Newest
				out.skipped += ir.Rejected
			}
		}
		ok := out.err == nil
		var kind, msg, it, en, lluPatient *string
		if !ok {
			kind, msg, it, en = &out.kind, &out.message, &out.advice.IT, &out.advice.EN
		}
		if out.lluPatient != "" && out.lluPatient != row.lluPatient {
			lluPatient = &out.lluPatient
		}
		var wait *time.Duration
		if out.wait > 0 {
			wait = &out.wait
		}
		_, err := tx.Exec(ctx, `
			UPDATE llu_connections SET
				state = $2, error_kind = $3, error_message = $4, advice_it = $5, advice_en = $6,
				error_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END,
				retry_at = CASE WHEN $7::interval IS NULL THEN NULL ELSE now() + $7::interval END,
				next_sync_at = CASE WHEN $7::interval IS NOT NULL THEN now() + $7::interval
					ELSE llu_next_slot(now() + $8::interval / 2, $8::interval, phase) END,
				last_sync_at = now(),
				last_success_at = CASE WHEN $9 THEN now() ELSE last_success_at END,
				oldest_reading_at = least(oldest_reading_at, $10),
				newest_reading_at = greatest(newest_reading_at, $11),
				logbook_at = CASE WHEN $12 THEN now() ELSE logbook_at END,
				llu_patient_id = coalesce($13, llu_patient_id),
				operator_warning = CASE WHEN $14 <> '' THEN $14 ELSE operator_warning END,
				identity_mismatch_at = CASE WHEN $2 = 'identity_mismatch' THEN coalesce(identity_mismatch_at, now())
					ELSE identity_mismatch_at END,
				syncs = syncs + 1, failures = failures + CASE WHEN $9 THEN 0 ELSE 1 END, readings = readings + $15,
				lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
			WHERE id = $1`,
			c.id, string(out.state), kind, msg, it, en, wait, s.interval, ok, oldest, newest, out.logbook, lluPatient,
			out.warning, ir.Inserted)
		if err != nil {
			return err
		}
		if out.blockAcct > 0 {
			if _, err := tx.Exec(ctx, `UPDATE llu_accounts SET blocked_until = greatest(blocked_until, now() + $2::interval)
				WHERE id = $1`, acc.id, out.blockAcct); err != nil {
				return err
			}
		}
		outcomeName := "ok"
		if !ok {
			outcomeName = out.kind
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO llu_sync_runs (connection_id, scheduled_for, started_at, finished_at, replica, fetched, inserted,
				duplicate, revised, skipped, logins, outcome)
			VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.id, c.scheduled, started, s.replica, out.fetched, ir.Inserted, ir.Duplicate, ir.Revised, out.skipped,
			out.logins, outcomeName)
		if err != nil {
			return err
		}
		res.committed, res.failed, res.inserted = true, !ok, ir.Inserted
		if !ok {
			res.kind = out.kind
		}
		return nil
	})
	switch {
	case res.lost:
		s.log.InfoContext(ctx, "connsync: sync discarded: the lease passed to another replica", "connection", row.publicID)
		return syncResult{lost: true}
	case err != nil:
		s.log.ErrorContext(ctx, "connsync: cannot record a sync", "connection", row.publicID, "err", err)
		s.releaseLease(c)
		return syncResult{}
	}
	level := s.log.DebugContext
	if !res.failed {
		level(ctx, "connsync: synced", "connection", row.publicID, "inserted", res.inserted, "logins", out.logins)
	} else {
		s.log.InfoContext(ctx, "connsync: sync failed", "connection", row.publicID, "state", out.state, "kind", out.kind, "logins", out.logins)
	}
	return res
}

var (
	errLeaseLost        = errors.New("connsync: lease lost")
	errIdentityMismatch = errors.New("connsync: the followed person is not the patient")
)
