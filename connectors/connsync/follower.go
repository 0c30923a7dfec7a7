package connsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm/identity"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
)

// pendingInfo is what a follower account shows about a person not bound
// yet; it is stored sealed and only compared with a patient's evidence.
type pendingInfo struct {
	FirstName string              `json:"firstName"`
	LastName  string              `json:"lastName"`
	Sensor    *librelinkup.Sensor `json:"sensor,omitempty"`
}

const claimAccountsSQL = `
	UPDATE llu_accounts a
	SET lease_owner = $1, lease_token = nextval('sync_lease_tokens'), lease_expires_at = now() + $2::interval
	WHERE a.id IN (
		SELECT id FROM llu_accounts
		WHERE kind = 'follower' AND state NOT IN ('disconnected', 'bad_credentials') AND next_list_at <= now()
			AND (lease_expires_at IS NULL OR lease_expires_at < now())
		ORDER BY next_list_at
		LIMIT $3
		FOR UPDATE SKIP LOCKED)
	RETURNING a.id, a.lease_token, a.next_list_at`

// claimFollowerLists leases up to n due follower account lists.
func (s *Syncer) claimFollowerLists(ctx context.Context, n int) ([]claim, error) {
	var out []claim
	rows, _ := s.pool.Query(ctx, claimAccountsSQL, s.replica, s.leaseTTL, n)
	var c claim
	_, err := pgx.ForEachRow(rows, []any{&c.id, &c.token, &c.scheduled}, func() error {
		out = append(out, claim{id: c.id, token: c.token, scheduled: c.scheduled, source: SourceLibreLinkUp, work: true})
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("connsync: claim follower lists: %w", err)
	}
	return out, nil
}

const loadFollowerSQL = `
	SELECT coalesce(name, ''), id, public_id, kind, cred_key_id, cred_nonce, cred_sealed, credentials_version,
		failed_login_version, session_key_id, session_nonce, session_sealed, session_version,
		coalesce(blocked_until > now(), false), blocked_until, lockouts
	FROM llu_accounts WHERE id = $1 AND lease_token = $2`

// listFollower reads the connection list of a leased follower account,
// once per interval: bound connections are left to their own syncs, the
// others are stored (sealed) as pending, and pending ones the account no
// longer lists are forgotten. It reports whether it committed.
func (s *Syncer) listFollower(parent context.Context, c claim) (committed bool) {
	started := time.Now()
	var r syncResult
	defer func() {
		r.committed = committed
		s.report(SourceLibreLinkUp, true, r, started)
	}()
	ctx, cancel := context.WithTimeout(parent, s.leaseTTL-s.leaseMargin())
	defer cancel()
	var name string
	acc, err := s.scanAccount(func(dest ...any) error {
		return s.pool.QueryRow(ctx, loadFollowerSQL, c.id, c.token).Scan(dest...)
	}, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		r.lost = true
		return false
	}
	var list *librelinkup.ConnectionList
	var out Outcome
	var block time.Duration
	switch {
	case err != nil:
		out = s.classify(ctx, err, ModeFollower)
	case acc.badCredentials():
		out = s.classify(ctx, &librelinkup.Error{Kind: librelinkup.KindBadCredentials, Op: "login",
			Message: "credentials refused before; waiting for new ones (no login made)"}, ModeFollower)
	case acc.blocked:
		out = Outcome{State: StateBackingOff, Err: errBlocked, Kind: "backing off", Message: "account blocked; no request made",
			Advice: Text(librelinkup.KindLocked.Advice()), Wait: max(time.Until(acc.blockedUntil), time.Second)}
	default:
		la := &librelinkup.Account{Session: acc.session}
		loggedIn := false
		if !la.Session.Fresh(time.Now(), librelinkup.DefaultRenewBefore) {
			_, err = s.login(ctx, acc, false)
			loggedIn, la.Session = true, acc.session
		}
		if err == nil {
			list, err = s.client.Connections(ctx, la)
			if librelinkup.KindOf(err) == librelinkup.KindUnauthorized && !loggedIn {
				if _, err = s.login(ctx, acc, true); err == nil {
					la.Session = acc.session
					list, err = s.client.Connections(ctx, la)
				}
			}
		}
		if err != nil {
			out = s.classify(ctx, err, ModeFollower)
			if le := (*librelinkup.Error)(nil); errors.As(err, &le) && le.Action() == librelinkup.ActionBackOff {
				block = out.Wait
			}
		} else {
			out.State = StateActive
		}
	}
	if parent.Err() != nil {
		s.releaseLease(c)
		return false
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
	defer fcancel()
	lost := false
	err = pgx.BeginFunc(fctx, s.pool, func(tx pgx.Tx) error {
		var token *int64
		if err := tx.QueryRow(fctx, `SELECT lease_token FROM llu_accounts WHERE id = $1 FOR UPDATE`, c.id).Scan(&token); err != nil {
			return err
		}
		if token == nil || *token != c.token {
			lost = true
			return errLeaseLost
		}
		if list != nil {
			if err := s.storePending(fctx, tx, acc, list); err != nil {
				return err
			}
		}
		ok := out.Err == nil
		var kind, msg, it, en *string
		if !ok {
			kind, msg, it, en = &out.Kind, &out.Message, &out.Advice.IT, &out.Advice.EN
		}
		var wait *time.Duration
		if out.Wait > 0 {
			wait = &out.Wait
		}
		_, err := tx.Exec(fctx, `
			UPDATE llu_accounts SET state = $2, error_kind = $3, error_message = $4, advice_it = $5, advice_en = $6,
				error_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END,
				next_list_at = CASE WHEN $7::interval IS NOT NULL THEN now() + $7::interval
					ELSE sync_next_slot(now() + $8::interval / 2, $8::interval, phase) END,
				blocked_until = CASE WHEN $9::interval > '0'::interval THEN greatest(blocked_until, now() + $9::interval) ELSE blocked_until END,
				last_list_at = CASE WHEN $10 THEN now() ELSE last_list_at END,
				lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
			WHERE id = $1`, c.id, string(out.State), kind, msg, it, en, wait, s.interval, block, ok)
		return err
	})
	switch {
	case lost:
		r.lost = true
		return false
	case err != nil:
		s.log.ErrorContext(fctx, "connsync: cannot record a follower list", "account", name, "err", err)
		s.releaseLease(c)
		return false
	}
	if list != nil {
		s.log.DebugContext(fctx, "connsync: follower account listed", "account", name, "connections", len(list.Connections))
	}
	r.failed, r.kind = out.Err != nil, out.Kind
	return true
}

var errBlocked = errors.New("connsync: account blocked")

// storePending records the unbound connections of a follower list.
func (s *Syncer) storePending(ctx context.Context, tx pgx.Tx, acc *account, list *librelinkup.ConnectionList) error {
	rows, _ := tx.Query(ctx, `SELECT l.llu_patient_id FROM llu_links l JOIN sync_connections c ON c.id = l.connection_id
		WHERE l.account_id = $1 AND c.state <> 'disconnected'`, acc.id)
	bound, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	isBound := make(map[string]bool, len(bound))
	for _, b := range bound {
		isBound[b] = true
	}
	var seen []string
	for _, c := range list.Connections {
		if c.PatientID == "" || len(c.PatientID) > 64 || isBound[c.PatientID] {
			continue
		}
		seen = append(seen, c.PatientID)
		b, err := json.Marshal(pendingInfo{FirstName: c.FirstName, LastName: c.LastName, Sensor: c.Sensor})
		if err != nil {
			return err
		}
		sl, err := s.keys.Seal(b, aadPending(acc.publicID, c.PatientID))
		if err != nil {
			return err
		}
		pid, err := newPublicID()
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO llu_pending AS p (public_id, account_id, llu_patient_id, key_id, nonce, sealed)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account_id, llu_patient_id) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce,
				sealed = excluded.sealed, last_seen = now()`,
			pid, acc.id, c.PatientID, sl.KeyID, sl.Nonce, sl.Ciphertext)
		if err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM llu_pending WHERE account_id = $1 AND NOT (llu_patient_id = ANY($2::text[]))`, acc.id, seen)
	return err
}

// FollowerModeAvailable reports whether the region's follower account is
// configured (fsecgm follower-account add): without it, patients cannot
// share their data with the region, and the mode is not offered.
func (s *Syncer) FollowerModeAvailable(ctx context.Context, db DB) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM llu_accounts WHERE kind = 'follower' AND state <> 'disconnected')`).Scan(&ok); err != nil {
		return false, fmt.Errorf("connsync: follower mode: %w", err)
	}
	return ok, nil
}

// errFollowerUnavailable refuses a binding while no follower account is
// configured.
var errFollowerUnavailable = &UserError{Kind: ErrConflict, Code: "follower_unavailable", Text: Text{
	IT: "La condivisione con l'account regionale non è ancora attiva: collegare il sensore con il proprio account LibreLinkUp.",
	EN: "Sharing with the regional account is not available yet: connect the sensor with your own LibreLinkUp account."}}

// bind implements Syncer.Bind.
func (s *Syncer) bind(ctx context.Context, tx pgx.Tx, patientID int64, req BindRequest) (Connection, error) {
	if ok, err := s.FollowerModeAvailable(ctx, tx); err != nil {
		return Connection{}, err
	} else if !ok {
		return Connection{}, errFollowerUnavailable
	}
	actor := strings.TrimSpace(req.Actor)
	if actor == "" || len(actor) > 500 {
		return Connection{}, fmt.Errorf("connsync: bind: %w: the actor who confirms is required", ErrInvalid)
	}
	if strings.TrimSpace(req.Serial) == "" || len(req.Serial) > 64 {
		return Connection{}, &UserError{Kind: ErrInvalid, Code: "serial_invalid", Text: Text{
			IT: "Inserire il numero di serie del sensore come lo mostra l'app LibreLink.",
			EN: "Enter the sensor serial number as the LibreLink app shows it."}}
	}
	who, loc, err := patientIdentity(ctx, tx, patientID)
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: %w", err)
	}
	// Refusals are audited outside tx: the caller rolls tx back on error.
	refuse := func(code, nameCheck string, accountID *int64, text Text) error {
		if _, err := s.pool.Exec(ctx, `INSERT INTO llu_bindings (patient_id, actor, outcome, name_check, account_id)
			VALUES ($1, $2, $3, $4, $5)`, patientID, actor, code, nameCheck, accountID); err != nil {
			return fmt.Errorf("connsync: bind: audit: %w", err)
		}
		s.log.InfoContext(ctx, "connsync: binding refused", "patient", patientID, "reason", code)
		return &UserError{Kind: ErrRefused, Code: code, Text: text}
	}
	var refusals int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM llu_bindings WHERE patient_id = $1 AND outcome <> 'bound'
		AND at > now() - interval '24 hours'`, patientID).Scan(&refusals); err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: %w", err)
	}
	if refusals >= maxRefusals {
		return Connection{}, refuse("too_many_attempts", "not_checked", nil, Text{
			IT: "Troppi tentativi non riusciti nelle ultime 24 ore: riprovare domani o rivolgersi al servizio di assistenza.",
			EN: "Too many failed attempts in the last 24 hours: try again tomorrow or contact the help desk."})
	}
	rows, _ := tx.Query(ctx, `
		SELECT p.id, p.llu_patient_id, p.key_id, p.nonce, p.sealed, a.id, a.public_id
		FROM llu_pending p JOIN llu_accounts a ON a.id = p.account_id
		WHERE a.state <> 'disconnected'
		ORDER BY p.last_seen DESC
		FOR UPDATE OF p`)
	type cand struct {
		pendingID, accountID int64
		lluPatient, account  string
		info                 pendingInfo
	}
	var cands []cand
	var (
		c     cand
		sl    Sealed
		keyID string
	)
	_, err = pgx.ForEachRow(rows, []any{&c.pendingID, &c.lluPatient, &keyID, &sl.Nonce, &sl.Ciphertext, &c.accountID, &c.account}, func() error {
		sl.KeyID = keyID
		b, err := s.keys.Open(sl, aadPending(c.account, c.lluPatient))
		if err != nil {
			s.log.WarnContext(ctx, "connsync: pending follower connection cannot be opened", "account", c.account, "err", err)
			return nil
		}
		var info pendingInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return err
		}
		if info.Sensor != nil && info.Sensor.SerialMatches(req.Serial) {
			cands = append(cands, cand{pendingID: c.pendingID, accountID: c.accountID, lluPatient: c.lluPatient, account: c.account, info: info})
		}
		return nil
	})
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: %w", err)
	}
	if len(cands) == 0 {
		return Connection{}, refuse("serial_mismatch", "not_checked", nil, Text{
			IT: "Nessuna condivisione con l'account regionale mostra un sensore con questo numero di serie. Verificare il numero nell'app LibreLink (Menu › Informazioni sul sensore) e che la condivisione con l'account regionale sia attiva; la condivisione compare qui entro qualche minuto.",
			EN: "No connection shared with the regional account shows a sensor with this serial number. Check the number in the LibreLink app (Menu › Sensor information) and that sharing with the regional account is on; a new share shows up here within a few minutes."})
	}
	var match *cand
	for i := range cands {
		if identity.Match(who, identity.Named{GivenName: cands[i].info.FirstName, FamilyName: cands[i].info.LastName},
			time.Now().In(loc)).Match {
			match = &cands[i]
			break
		}
	}
	if match == nil {
		return Connection{}, refuse("name_mismatch", "mismatch", &cands[0].accountID, Text{
			IT: "Il sensore è stato trovato, ma il nome nell'app LibreLink non corrisponde a quello del fascicolo sanitario. Correggere nome e cognome nell'app LibreLink (Menu › Profilo) e riprovare.",
			EN: "The sensor was found, but the name in the LibreLink app does not match the health record's. Correct the name and surname in the LibreLink app (Menu › Profile) and try again."})
	}

	connID, connPID, err := s.insertLLUConnection(ctx, tx, newConnection{patientID: patientID, source: SourceLibreLinkUp,
		mode: ModeFollower, key: lluKey(match.accountID, match.lluPatient), state: StateActive}, match.accountID, match.lluPatient)
	if err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM llu_pending WHERE id = $1`, match.pendingID); err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO llu_bindings (patient_id, actor, outcome, name_check, serial, account_id, connection_id)
		VALUES ($1, $2, 'bound', 'match', $3, $4, $5)`, patientID, actor, match.info.Sensor.Serial, match.accountID, connID); err != nil {
		return Connection{}, fmt.Errorf("connsync: bind: audit: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: follower connection bound with evidence", "connection", connPID)
	return getConnection(ctx, tx, patientID, connPID)
}

// maxRefusals is how many refused bindings a patient may have in 24 hours
// before further attempts are refused without being checked.
const maxRefusals = 5

// addFollowerAccount implements Syncer.AddFollowerAccount.
func (s *Syncer) addFollowerAccount(ctx context.Context, name, region string, creds librelinkup.Credentials) (FollowerAccount, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return FollowerAccount{}, fmt.Errorf("connsync: follower account: %w: name must have 1 to 100 characters", ErrInvalid)
	}
	if region != "" && !librelinkup.ValidRegion(region) {
		return FollowerAccount{}, fmt.Errorf("connsync: follower account: %w: region %q", ErrInvalid, region)
	}
	if err := checkCredentials(creds.Email, creds.Password); err != nil {
		return FollowerAccount{}, err
	}
	sess, err := s.client.Login(ctx, creds.Email, creds.Password)
	if err != nil {
		return FollowerAccount{}, refusal(err)
	}
	pid, err := newPublicID()
	if err != nil {
		return FollowerAccount{}, err
	}
	cs, err := s.sealCredentials(pid, creds)
	if err != nil {
		return FollowerAccount{}, err
	}
	ss, err := s.sealSession(pid, sess)
	if err != nil {
		return FollowerAccount{}, err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO llu_accounts (public_id, kind, name, region, fingerprint, cred_key_id, cred_nonce, cred_sealed,
			session_key_id, session_nonce, session_sealed, session_version, logins, next_list_at)
		VALUES ($1, 'follower', $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, 1, now())`,
		pid, name, region, s.keys.fingerprint(creds.Email), cs.KeyID, cs.Nonce, cs.Ciphertext, ss.KeyID, ss.Nonce, ss.Ciphertext)
	if isUniqueViolation(err, "") {
		return FollowerAccount{}, &UserError{Kind: ErrConflict, Code: "already_connected", Text: Text{
			IT: "Esiste già un account con questo nome o queste credenziali.",
			EN: "An account with this name or these credentials already exists."}}
	}
	if err != nil {
		return FollowerAccount{}, fmt.Errorf("connsync: follower account: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: follower account added", "account", name)
	return followerAccount(ctx, s.pool, name)
}

// updateFollowerCredentials implements Syncer.UpdateFollowerCredentials.
func (s *Syncer) updateFollowerCredentials(ctx context.Context, name string, creds librelinkup.Credentials) (FollowerAccount, error) {
	if err := checkCredentials(creds.Email, creds.Password); err != nil {
		return FollowerAccount{}, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		var pid string
		err := tx.QueryRow(ctx, `SELECT id, public_id FROM llu_accounts WHERE kind = 'follower' AND name = $1
			AND state <> 'disconnected' FOR UPDATE`, name).Scan(&id, &pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("connsync: follower account %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassAccount, int32(id)); err != nil {
			return err
		}
		sess, err := s.client.Login(ctx, creds.Email, creds.Password)
		if err != nil {
			return refusal(err)
		}
		cs, err := s.sealCredentials(pid, creds)
		if err != nil {
			return err
		}
		ss, err := s.sealSession(pid, sess)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE llu_accounts SET fingerprint = $2, cred_key_id = $3, cred_nonce = $4, cred_sealed = $5,
				credentials_version = credentials_version + 1, failed_login_version = NULL, blocked_until = NULL,
				session_key_id = $6, session_nonce = $7, session_sealed = $8, session_version = session_version + 1,
				logins = logins + 1, state = 'active', error_kind = NULL, error_message = NULL, advice_it = NULL,
				advice_en = NULL, error_at = NULL, next_list_at = now(), updated_at = now()
			WHERE id = $1`, id, s.keys.fingerprint(creds.Email), cs.KeyID, cs.Nonce, cs.Ciphertext, ss.KeyID, ss.Nonce, ss.Ciphertext); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sync_connections c SET state = 'active', next_sync_at = now()
			FROM llu_links l WHERE l.connection_id = c.id AND l.account_id = $1 AND c.state IN ('bad_credentials', 'action_needed')`, id)
		return err
	})
	if err != nil {
		var ue *UserError
		if errors.As(err, &ue) || errors.Is(err, ErrNotFound) {
			return FollowerAccount{}, err
		}
		return FollowerAccount{}, fmt.Errorf("connsync: follower account %q: %w", name, err)
	}
	return followerAccount(ctx, s.pool, name)
}

const followerColumns = `a.name, a.region, a.state, a.error_kind, coalesce(a.error_message, ''), coalesce(a.advice_it, ''),
	coalesce(a.advice_en, ''), a.error_at, a.last_list_at,
	(SELECT count(*) FROM llu_links l JOIN sync_connections c ON c.id = l.connection_id
		WHERE l.account_id = a.id AND c.state <> 'disconnected'),
	(SELECT count(*) FROM llu_pending p WHERE p.account_id = a.id)`

func scanFollower(row pgx.CollectableRow) (FollowerAccount, error) {
	var (
		f            FollowerAccount
		state        string
		kind         *string
		msg, it, en  string
		errAt, listd *time.Time
	)
	if err := row.Scan(&f.Name, &f.Region, &state, &kind, &msg, &it, &en, &errAt, &listd, &f.Connections, &f.Pending); err != nil {
		return f, err
	}
	f.State, f.LastListAt = State(state), utc(listd)
	if kind != nil {
		f.Problem = &Problem{Kind: *kind, Message: msg, Advice: Text{IT: it, EN: en}, At: utc(errAt)}
	}
	return f, nil
}

func followerAccount(ctx context.Context, db DB, name string) (FollowerAccount, error) {
	rows, _ := db.Query(ctx, `SELECT `+followerColumns+` FROM llu_accounts a WHERE a.kind = 'follower' AND a.name = $1
		AND a.state <> 'disconnected'`, name)
	f, err := pgx.CollectExactlyOneRow(rows, scanFollower)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("connsync: follower account %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("connsync: follower account %q: %w", name, err)
	}
	return f, nil
}

func listFollowerAccounts(ctx context.Context, db DB) ([]FollowerAccount, error) {
	rows, _ := db.Query(ctx, `SELECT `+followerColumns+` FROM llu_accounts a WHERE a.kind = 'follower'
		AND a.state <> 'disconnected' ORDER BY a.name`)
	fs, err := pgx.CollectRows(rows, scanFollower)
	if err != nil {
		return nil, fmt.Errorf("connsync: follower accounts: %w", err)
	}
	return fs, nil
}

func listPending(ctx context.Context, db DB) ([]Pending, error) {
	rows, _ := db.Query(ctx, `SELECT p.public_id, a.name, p.first_seen, p.last_seen
		FROM llu_pending p JOIN llu_accounts a ON a.id = p.account_id ORDER BY p.first_seen, p.id`)
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Pending, error) {
		var p Pending
		err := row.Scan(&p.ID, &p.Account, &p.FirstSeen, &p.LastSeen)
		p.FirstSeen, p.LastSeen = p.FirstSeen.UTC(), p.LastSeen.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("connsync: pending connections: %w", err)
	}
	return ps, nil
}
