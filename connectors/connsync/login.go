package connsync

import (
	"context"
	"fmt"
	"time"

	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
)

const loadAccountForLoginSQL = `
	SELECT id, public_id, kind, cred_key_id, cred_nonce, cred_sealed, credentials_version,
		failed_login_version, session_key_id, session_nonce, session_sealed, session_version,
		coalesce(blocked_until > now(), false), blocked_until, lockouts
	FROM llu_accounts WHERE id = $1`

// login gives acc a fresh session, logging in at most once, under the
// account's advisory lock so that no two logins to one account ever run at
// the same time, on any replica. Inside the lock it reads the account
// again: a session another replica stored meanwhile is used instead of
// logging in (unless force, and it is the session that was refused),
// refused credentials and a blocked account make no login at all. The
// outcome of a login is written before the lock is released: a new
// session, refused credentials (failed_login_version), or a block after a
// lockout or rate limit. It returns the number of logins made (0 or 1).
func (s *Syncer) login(ctx context.Context, acc *account, force bool) (int, error) {
	logins := 0
	var loginErr error
	// The login's requests (two with a region redirect) are paid before
	// the lock: waiting for the budget inside it would hold a pool
	// connection that the budget's own update may need.
	ctx, release, err := prepay(ctx, s.sourceBudget[SourceLibreLinkUp], 2)
	if err != nil {
		return 0, err
	}
	defer release()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassAccount, int32(acc.id)); err != nil {
			return err
		}
		cur, err := s.scanAccount(func(dest ...any) error {
			return tx.QueryRow(ctx, loadAccountForLoginSQL, acc.id).Scan(dest...)
		})
		if err != nil {
			return err
		}
		switch {
		case cur.badCredentials():
			*acc = *cur
			loginErr = &librelinkup.Error{Kind: librelinkup.KindBadCredentials, Op: "login",
				Message: "credentials refused before; waiting for new ones (no login made)"}
			return nil
		case cur.blocked:
			*acc = *cur
			wait := time.Until(cur.blockedUntil)
			loginErr = &librelinkup.Error{Kind: librelinkup.KindLocked, Op: "login", RetryAfter: max(wait, time.Second),
				Message: "account blocked by an earlier answer; no login made"}
			return nil
		case cur.creds.IsZero():
			*acc = *cur
			loginErr = &librelinkup.Error{Kind: librelinkup.KindUnauthorized, Op: "login", Message: "no credentials stored"}
			return nil
		case cur.sessionVersion != acc.sessionVersion && cur.session.Fresh(time.Now(), librelinkup.DefaultRenewBefore):
			// Another replica logged in meanwhile: use its session.
			*acc = *cur
			return nil
		case !force && cur.session.Fresh(time.Now(), librelinkup.DefaultRenewBefore):
			*acc = *cur
			return nil
		}
		*acc = *cur
		sess, err := s.client.Login(ctx, cur.creds.Email, cur.creds.Password)
		logins = 1
		if err != nil {
			loginErr = err
			var wait time.Duration
			kind := librelinkup.KindOf(err)
			if kind == 0 {
				return err // cancelled: nothing learned
			}
			failed := kind == librelinkup.KindBadCredentials
			locked := kind == librelinkup.KindLocked
			if e, ok := err.(*librelinkup.Error); ok && e.Action() == librelinkup.ActionBackOff {
				wait = min(max(e.Backoff(), time.Second), librelinkup.MaxRetryAfter)
				if locked {
					// A lock that repeats waits longer each time: its
					// lockout, doubled for each lock since the last good
					// login (a lock that persisted for hours, even without
					// retries, was reported in February 2026: reference
					// librelinkup.md §8).
					wait = lockoutWait(wait, int(cur.lockouts)+1)
					le := *e
					le.RetryAfter = wait
					loginErr = &le
				}
			}
			_, err = tx.Exec(ctx, `
				UPDATE llu_accounts SET logins = logins + 1,
					failed_logins = failed_logins + CASE WHEN $2 THEN 1 ELSE 0 END,
					failed_login_version = CASE WHEN $2 THEN credentials_version ELSE failed_login_version END,
					blocked_until = CASE WHEN $3::interval > '0'::interval THEN now() + $3::interval ELSE blocked_until END,
					lockouts = lockouts + CASE WHEN $4 THEN 1 ELSE 0 END,
					updated_at = now()
				WHERE id = $1`, acc.id, failed, wait, locked)
			if failed {
				acc.failedVersion = &acc.credVersion
			}
			return err
		}
		sealed, err := s.sealSession(acc.publicID, sess)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			UPDATE llu_accounts SET logins = logins + 1, session_key_id = $2, session_nonce = $3, session_sealed = $4,
				session_version = session_version + 1, blocked_until = NULL, lockouts = 0, updated_at = now()
			WHERE id = $1 RETURNING session_version`, acc.id, sealed.KeyID, sealed.Nonce, sealed.Ciphertext).Scan(&acc.sessionVersion)
		if err != nil {
			return err
		}
		acc.session = sess
		s.log.DebugContext(ctx, "connsync: logged in", "account", acc.publicID, "session", sess)
		return nil
	})
	if err != nil {
		return logins, fmt.Errorf("connsync: login to account %s: %w", acc.publicID, err)
	}
	return logins, loginErr
}

// lockoutWait returns the wait after the n-th lockout in a row (n ≥ 1): the
// lockout the server named, doubled for each earlier one, at most
// librelinkup.MaxRetryAfter.
func lockoutWait(lockout time.Duration, n int) time.Duration {
	d := lockout
	for i := 1; i < n && d < librelinkup.MaxRetryAfter; i++ {
		d *= 2
	}
	return min(d, librelinkup.MaxRetryAfter)
}
