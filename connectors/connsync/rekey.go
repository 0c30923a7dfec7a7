package connsync

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// rekey implements Syncer.Rekey: one transaction per row, so that a long
// run holds no lock for long and can be repeated after an interruption.
func (s *Syncer) rekey(ctx context.Context) (int, error) {
	primary := s.keys.PrimaryID()
	n := 0
	rows, _ := s.pool.Query(ctx, `SELECT id FROM llu_accounts
		WHERE cred_key_id <> $1 OR session_key_id <> $1 ORDER BY id`, primary)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return n, fmt.Errorf("connsync: rekey: %w", err)
	}
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The login lock: no sync replaces the session meanwhile.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassAccount, int32(id)); err != nil {
				return err
			}
			acc, err := s.scanAccount(func(dest ...any) error {
				return tx.QueryRow(ctx, loadAccountForLoginSQL, id).Scan(dest...)
			})
			if err != nil {
				return err
			}
			var credKey, sessKey *string
			if err := tx.QueryRow(ctx, `SELECT cred_key_id, session_key_id FROM llu_accounts WHERE id = $1`, id).Scan(&credKey, &sessKey); err != nil {
				return err
			}
			if credKey != nil && *credKey != primary {
				cs, err := s.sealCredentials(acc.publicID, acc.creds)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE llu_accounts SET cred_key_id = $2, cred_nonce = $3, cred_sealed = $4,
					fingerprint = CASE WHEN fingerprint IS NULL THEN NULL ELSE $5 END WHERE id = $1`,
					id, cs.KeyID, cs.Nonce, cs.Ciphertext, s.keys.fingerprint(acc.creds.Email)); err != nil {
					return err
				}
				n++
			}
			if sessKey != nil && *sessKey != primary {
				if acc.session.IsZero() {
					// Not openable: drop it, the next sync logs in again.
					_, err = tx.Exec(ctx, `UPDATE llu_accounts SET session_key_id = NULL, session_nonce = NULL,
						session_sealed = NULL, session_version = session_version + 1 WHERE id = $1`, id)
					return err
				}
				ss, err := s.sealSession(acc.publicID, acc.session)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE llu_accounts SET session_key_id = $2, session_nonce = $3,
					session_sealed = $4 WHERE id = $1`, id, ss.KeyID, ss.Nonce, ss.Ciphertext); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("connsync: rekey account %d: %w", id, err)
		}
	}
	rows, _ = s.pool.Query(ctx, `SELECT p.id, p.llu_patient_id, p.key_id, p.nonce, p.sealed, a.public_id
		FROM llu_pending p JOIN llu_accounts a ON a.id = p.account_id WHERE p.key_id <> $1`, primary)
	type pend struct {
		id               int64
		lluPatient, apid string
		sl               Sealed
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pend, error) {
		var p pend
		err := r.Scan(&p.id, &p.lluPatient, &p.sl.KeyID, &p.sl.Nonce, &p.sl.Ciphertext, &p.apid)
		return p, err
	})
	if err != nil {
		return n, fmt.Errorf("connsync: rekey: %w", err)
	}
	for _, p := range ps {
		aad := aadPending(p.apid, p.lluPatient)
		b, err := s.keys.Open(p.sl, aad)
		if err != nil {
			return n, fmt.Errorf("connsync: rekey pending %d: %w", p.id, err)
		}
		sl, err := s.keys.Seal(b, aad)
		if err != nil {
			return n, err
		}
		if _, err := s.pool.Exec(ctx, `UPDATE llu_pending SET key_id = $2, nonce = $3, sealed = $4 WHERE id = $1 AND key_id = $5`,
			p.id, sl.KeyID, sl.Nonce, sl.Ciphertext, p.sl.KeyID); err != nil {
			return n, fmt.Errorf("connsync: rekey pending %d: %w", p.id, err)
		}
		n++
	}
	// The connections' own secrets (Dexcom tokens, Nightscout sites).
	rows, _ = s.pool.Query(ctx, `SELECT id, public_id, secret_key_id, secret_nonce, secret_sealed FROM sync_connections
		WHERE secret_key_id <> $1`, primary)
	type sec struct {
		id  int64
		pid string
		sl  Sealed
	}
	secs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sec, error) {
		var x sec
		err := r.Scan(&x.id, &x.pid, &x.sl.KeyID, &x.sl.Nonce, &x.sl.Ciphertext)
		return x, err
	})
	if err != nil {
		return n, fmt.Errorf("connsync: rekey: %w", err)
	}
	for _, x := range secs {
		aad := aadSecret(x.pid)
		b, err := s.keys.Open(x.sl, aad)
		if err != nil {
			return n, fmt.Errorf("connsync: rekey connection %d: %w", x.id, err)
		}
		sl, err := s.keys.Seal(b, aad)
		if err != nil {
			return n, err
		}
		// Only if unchanged meanwhile (a sync may have rotated it).
		if _, err := s.pool.Exec(ctx, `UPDATE sync_connections SET secret_key_id = $2, secret_nonce = $3, secret_sealed = $4
			WHERE id = $1 AND secret_key_id = $5 AND secret_nonce = $6`,
			x.id, sl.KeyID, sl.Nonce, sl.Ciphertext, x.sl.KeyID, x.sl.Nonce); err != nil {
			return n, fmt.Errorf("connsync: rekey connection %d: %w", x.id, err)
		}
		n++
	}
	s.log.InfoContext(ctx, "connsync: secrets re-encrypted with the primary key", "key", primary, "rewritten", n)
	return n, nil
}

// maintain implements Syncer.Maintain.
func (s *Syncer) maintain(ctx context.Context) error {
	total := int64(0)
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM sync_runs WHERE id IN (
			SELECT id FROM sync_runs WHERE started_at < now() - $1::interval LIMIT 10000)`, s.runRetain)
		if err != nil {
			return fmt.Errorf("connsync: upkeep: prune sync runs: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 10000 {
			break
		}
	}
	s.log.InfoContext(ctx, "connsync: upkeep done", "pruned_runs", total)
	return nil
}
