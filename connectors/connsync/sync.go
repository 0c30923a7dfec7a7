package connsync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// This file is the core of the sync, the same for every source: claims,
// leases, the run of a leased sync, and the commit of its outcome.

// claim is a connection (or a source's own work, such as a LibreLinkUp
// follower account's connection list) leased to this replica.
type claim struct {
	id        int64
	token     int64
	scheduled time.Time // next_sync_at (or next_list_at) when claimed: the slot served
	source    string
	work      bool // a source's own work, not a connection
}

// workSource is a Source that also has scheduled work of its own, claimed
// and run by the core beside its connections (LibreLinkUp's follower
// account lists).
type workSource interface {
	claimWork(ctx context.Context, n int) ([]claim, error)
	// doWork runs a claimed piece of work; it reports whether it
	// committed.
	doWork(ctx context.Context, c claim) bool
}

// disconnecter is a Source that erases what it keeps of a connection
// beside the core's columns when the connection ends (in the caller's
// transaction).
type disconnecter interface {
	disconnect(ctx context.Context, tx pgx.Tx, connectionID int64) error
}

// notBeforer is a Source whose connections may be blocked beyond their own
// row (a LibreLinkUp account shared by several connections): a sync asked
// for now waits until then.
type notBeforer interface {
	notBefore(ctx context.Context, tx pgx.Tx, connectionID int64) (time.Time, error)
}

// syncableStates are the states whose connections are synced.
const syncableStates = `('active', 'action_needed', 'backing_off', 'error')`

const claimConnectionsSQL = `
	UPDATE sync_connections c
	SET lease_owner = $1, lease_token = nextval('sync_lease_tokens'), lease_expires_at = now() + $2::interval
	WHERE c.id IN (
		SELECT id FROM sync_connections
		WHERE source = $4 AND state IN ` + syncableStates + ` AND next_sync_at <= now()
			AND (lease_expires_at IS NULL OR lease_expires_at < now())
		ORDER BY next_sync_at
		LIMIT $3
		FOR UPDATE SKIP LOCKED)
	RETURNING c.id, c.lease_token, c.next_sync_at`

// claimDue leases up to n due pieces of work and connections, source by
// source; a source with a request budget gets no more connections than
// its budget allows now.
func (s *Syncer) claimDue(ctx context.Context, n int) ([]claim, error) {
	var out []claim
	for _, src := range s.sourceList {
		if len(out) >= n {
			break
		}
		if ws, ok := src.(workSource); ok {
			cs, err := ws.claimWork(ctx, n-len(out))
			out = append(out, cs...)
			if err != nil {
				return out, err
			}
		}
		limit := n - len(out)
		if b := s.sourceBudget[src.Name()]; b != nil && limit > 0 {
			avail, err := b.Available(ctx)
			if err != nil {
				return out, err
			}
			limit = min(limit, int(math.Floor(avail)))
		}
		if limit <= 0 {
			continue
		}
		rows, _ := s.pool.Query(ctx, claimConnectionsSQL, s.replica, s.leaseTTL, limit, src.Name())
		var c claim
		_, err := pgx.ForEachRow(rows, []any{&c.id, &c.token, &c.scheduled}, func() error {
			out = append(out, claim{id: c.id, token: c.token, scheduled: c.scheduled, source: src.Name()})
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
				if c.work {
					if s.sources[c.source].(workSource).doWork(ctx, c) {
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

// syncResult is what syncConnection reports to SyncDue.
type syncResult struct {
	committed, lost, failed bool
	inserted                int
	kind                    string // Outcome.Kind of a failed sync
}

// report tells Config.Observe how a sync or a source's work ended.
func (s *Syncer) report(source string, work bool, r syncResult, started time.Time) {
	if s.observe == nil {
		return
	}
	e := SyncEvent{Source: source, Follower: work, Inserted: r.inserted, Duration: time.Since(started)}
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

const loadConnectionSQL = `
	SELECT c.patient_id, c.public_id, c.mode, c.source_key, c.label, c.newest_reading_at, c.last_success_at,
		c.failure_streak, c.secret_key_id, c.secret_nonce, c.secret_sealed, c.secret_version,
		p.fiscal_code, p.time_zone, p.birth_date, coalesce(p.given_name, ''), coalesce(p.family_name, '')
	FROM sync_connections c JOIN patients p ON p.id = c.patient_id
	WHERE c.id = $1 AND c.lease_token = $2`

// loadJob loads a leased connection into a Job (pgx.ErrNoRows when the
// lease has passed or the connection is gone).
func (s *Syncer) loadJob(ctx context.Context, c claim) (*Job, error) {
	j := &Job{s: s, claim: c, ID: c.id}
	var (
		mode, zone    string
		newest, last  *time.Time
		birth         *time.Time
		keyID         *string
		nonce, sealed []byte
		streak        int32
		secretVersion int32
		given, family string
		fiscal        string
	)
	err := s.pool.QueryRow(ctx, loadConnectionSQL, c.id, c.token).Scan(&j.PatientID, &j.PublicID, &mode, &j.Key, &j.Label,
		&newest, &last, &streak, &keyID, &nonce, &sealed, &secretVersion, &fiscal, &zone, &birth, &given, &family)
	if err != nil {
		return nil, err
	}
	j.Mode, j.Newest, j.LastSuccess, j.FailureStreak, j.secretVersion = Mode(mode), utc(newest), utc(last), int(streak), secretVersion
	j.Patient.FiscalCode, j.Patient.GivenName, j.Patient.FamilyName, j.Patient.BirthDate = fiscal, given, family, utc(birth)
	if j.Zone, _ = cgm.Zone(zone); j.Zone == nil {
		j.Zone = time.UTC
	}
	if sl := sealedOf(keyID, nonce, sealed); sl != nil {
		b, err := s.keys.Open(*sl, aadSecret(j.PublicID))
		if err != nil {
			return j, fmt.Errorf("connsync: secret of connection %s: %w", j.PublicID, err)
		}
		j.Secret = b
	}
	return j, nil
}

// leaseMargin is how long before its lease expires a sync gives up.
func (s *Syncer) leaseMargin() time.Duration { return min(5*time.Second, s.leaseTTL/5) }

// syncConnection syncs one leased connection and commits the outcome.
func (s *Syncer) syncConnection(parent context.Context, c claim) (res syncResult) {
	started := time.Now()
	defer func() { s.report(c.source, false, res, started) }()
	ctx, cancel := context.WithTimeout(parent, s.leaseTTL-s.leaseMargin())
	defer cancel()

	src := s.sources[c.source]
	j, err := s.loadJob(ctx, c)
	if errors.Is(err, pgx.ErrNoRows) {
		return syncResult{lost: true} // disconnected, or the lease passed to another replica
	}
	var out Outcome
	switch {
	case err != nil:
		s.log.ErrorContext(ctx, "connsync: sync failed", "connection", c.id, "err", err)
		out = internalOutcome(err)
		if j == nil {
			j = &Job{s: s, claim: c, ID: c.id}
		}
	case src == nil:
		out = internalOutcome(fmt.Errorf("connsync: no source %q configured", c.source))
	default:
		out = src.Sync(ctx, j)
	}
	if parent.Err() != nil {
		// Shutting down: give the lease back so another replica takes over now.
		s.releaseLease(c)
		return syncResult{}
	}
	return s.finish(parent, c, j, src, out, started)
}

// releaseLease clears a lease this replica holds.
func (s *Syncer) releaseLease(c claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	table := "sync_connections"
	if c.work {
		table = "llu_accounts"
	}
	_, _ = s.pool.Exec(ctx, `UPDATE `+table+` SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
		WHERE id = $1 AND lease_token = $2`, c.id, c.token)
}

// maxBackoff caps the back-off of repeated transient failures.
const maxBackoff = 6 * time.Hour

// backoff returns how long after a transient failure (Outcome.Retry) the
// next attempt waits: nothing more than the next slot for the first three
// failures in a row, then the interval doubled at each further failure, at
// most maxBackoff, so that a connection whose remote system is down for a
// day costs a few requests, not hundreds.
func backoff(interval time.Duration, streak int) time.Duration {
	if streak < 3 {
		return 0
	}
	d := interval
	for i := 3; i < streak && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// finish commits the outcome of a connection's sync, if this replica
// still holds its lease.
func (s *Syncer) finish(ctx context.Context, c claim, j *Job, src Source, out Outcome, started time.Time) syncResult {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	interval := s.intervalOf(c.source)
	var res syncResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var token *int64
		if err := tx.QueryRow(ctx, `SELECT lease_token FROM sync_connections WHERE id = $1 FOR UPDATE`, c.id).Scan(&token); err != nil {
			return err
		}
		if token == nil || *token != c.token {
			res.lost = true
			return errLeaseLost
		}
		var ir cgmstore.Result
		var oldest, newest *time.Time
		if !out.failed() && len(out.Readings) > 0 {
			var err error
			ir, err = s.store.IngestTx(ctx, tx, cgmstore.Batch{Patient: j.PatientID, Source: src.Store(),
				Readings: out.Readings, Devices: out.Devices})
			if err != nil {
				s.log.ErrorContext(ctx, "connsync: ingestion failed", "connection", j.PublicID, "err", err)
				o := internalOutcome(err)
				o.Logins = out.Logins
				out = o
			} else {
				// The ingestion marked the patient's summaries dirty from
				// the earliest reading it inserted or revised.
				first := out.Readings[0].Time
				for _, r := range out.Readings {
					if r.Time.Before(first) {
						first = r.Time
					}
				}
				first = first.UTC()
				oldest, newest = &first, &ir.Newest
				out.Skipped += ir.Rejected
			}
		}
		ok := !out.failed()
		var kind, msg, it, en, key *string
		if !ok {
			kind, msg, it, en = &out.Kind, &out.Message, &out.Advice.IT, &out.Advice.EN
		}
		if out.Key != "" && out.Key != j.Key {
			key = &out.Key
		}
		wait := out.Wait
		if !ok && wait <= 0 && out.Retry {
			wait = backoff(interval, j.FailureStreak+1)
		}
		var waitArg *time.Duration
		if wait > 0 {
			waitArg = &wait
		}
		_, err := tx.Exec(ctx, `
			UPDATE sync_connections SET
				state = $2, error_kind = $3, error_message = $4, advice_it = $5, advice_en = $6,
				error_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END,
				retry_at = CASE WHEN $7::interval IS NULL THEN NULL ELSE now() + $7::interval END,
				next_sync_at = CASE WHEN $7::interval IS NOT NULL THEN now() + $7::interval
					ELSE sync_next_slot(now() + $8::interval / 2, $8::interval, phase) END,
				last_sync_at = now(),
				last_success_at = CASE WHEN $9 THEN now() ELSE last_success_at END,
				oldest_reading_at = least(oldest_reading_at, $10),
				newest_reading_at = greatest(newest_reading_at, $11),
				source_key = coalesce($12, source_key),
				operator_warning = CASE WHEN $13 <> '' THEN $13 ELSE operator_warning END,
				identity_mismatch_at = CASE WHEN $2 = 'identity_mismatch' THEN coalesce(identity_mismatch_at, now())
					ELSE identity_mismatch_at END,
				syncs = syncs + 1, failures = failures + CASE WHEN $9 THEN 0 ELSE 1 END, readings = readings + $14,
				failure_streak = CASE WHEN $9 THEN 0 ELSE failure_streak + 1 END,
				lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
			WHERE id = $1`,
			c.id, string(out.State), kind, msg, it, en, waitArg, interval, ok, oldest, newest, key,
			out.Warning, ir.Inserted)
		if err != nil {
			return err
		}
		if out.Commit != nil {
			if err := out.Commit(ctx, tx, ok); err != nil {
				return err
			}
		}
		outcomeName := "ok"
		if !ok {
			outcomeName = out.Kind
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO sync_runs (connection_id, scheduled_for, started_at, finished_at, replica, fetched, inserted,
				duplicate, revised, skipped, logins, outcome)
			VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.id, c.scheduled, started, s.replica, out.Fetched, ir.Inserted, ir.Duplicate, ir.Revised, out.Skipped,
			out.Logins, outcomeName)
		if err != nil {
			return err
		}
		res.committed, res.failed, res.inserted = true, !ok, ir.Inserted
		if !ok {
			res.kind = out.Kind
		}
		return nil
	})
	switch {
	case res.lost:
		s.log.InfoContext(ctx, "connsync: sync discarded: the lease passed to another replica", "connection", j.PublicID)
		return syncResult{lost: true}
	case err != nil:
		s.log.ErrorContext(ctx, "connsync: cannot record a sync", "connection", j.PublicID, "err", err)
		s.releaseLease(c)
		return syncResult{}
	}
	if !res.failed {
		s.log.DebugContext(ctx, "connsync: synced", "connection", j.PublicID, "source", c.source, "inserted", res.inserted, "logins", out.Logins)
	} else {
		s.log.InfoContext(ctx, "connsync: sync failed", "connection", j.PublicID, "source", c.source, "state", out.State,
			"kind", out.Kind, "logins", out.Logins)
	}
	return res
}

var (
	adviceInternal = Text{
		IT: "Errore interno di fsecgm durante la sincronizzazione. Nessun dato salvato è stato toccato; fsecgm riprova alla prossima sincronizzazione e l'operatore è stato avvisato.",
		EN: "Internal fsecgm error during the sync. No stored data was touched; fsecgm tries again at the next sync and the operator has been told.",
	}
	adviceBudget = Text{
		IT: "fsecgm ha raggiunto il numero di richieste che si concede verso questo servizio e rimanda la sincronizzazione di qualche minuto. Nessuna azione necessaria.",
		EN: "fsecgm reached the number of requests it allows itself towards this service and postpones the sync by a few minutes. Nothing to do.",
	}
)

// budgetOutcome is a sync that could not make its requests within the
// request budget: it backs off without a request, for the wait the budget
// named.
func budgetOutcome(be *BudgetError) Outcome {
	return Outcome{State: StateBackingOff, Err: be, Kind: "backing off", Message: be.Error(), Advice: adviceBudget,
		Wait: max(be.Wait, time.Second)}
}

var (
	errLeaseLost        = errors.New("connsync: lease lost")
	errIdentityMismatch = errors.New("connsync: the person the connection serves is not the patient")
)
