package records

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// State is the state of an outbox message.
type State string

// The states of an outbox message.
const (
	// StatePending: to be delivered (at NextAttemptAt).
	StatePending State = "pending"
	// StateDelivered: the record server accepted every entry.
	StateDelivered State = "delivered"
	// StatePoisoned: failed too often or for good; left for the operator
	// ([Store.Retry] puts it back).
	StatePoisoned State = "poisoned"
	// StateCancelled: never sent, because the patient's third-party
	// consent was revoked or the subscription no longer serves the
	// patient.
	StateCancelled State = "cancelled"
)

// Message is an outbox message: one transaction Bundle for one
// subscription.
type Message struct {
	ID             int64
	SubscriptionID int64
	// Subscription is the subscription's name.
	Subscription string
	PatientID    int64
	// Detail says what the Bundle carries ("CGM summary
	// 2024-05-01..2024-05-14"); no clinical value.
	Detail string
	// Identifiers are "system|value" of the Bundle's entries (for the
	// Patient, fsecgm's public id, never the codice fiscale).
	Identifiers []string
	CreatedAt   time.Time
	State       State
	// Attempts counts the delivery attempts so far.
	Attempts      int
	NextAttemptAt time.Time
	// LastError says why the last attempt failed (HTTP status, entry,
	// network error); LastStatus is the last HTTP status, 0 when none.
	LastError  string
	LastStatus int
	// FinishedAt is when the message left the pending state.
	FinishedAt time.Time
}

const messageColumns = `o.id, o.subscription_id, s.name, o.patient_id, o.detail, o.identifiers, o.created_at, o.state,
	o.attempts, o.next_attempt_at, o.last_error, coalesce(o.last_status, 0), o.finished_at`

func scanMessage(row pgx.CollectableRow) (Message, error) {
	var m Message
	var fin *time.Time
	err := row.Scan(&m.ID, &m.SubscriptionID, &m.Subscription, &m.PatientID, &m.Detail, &m.Identifiers, &m.CreatedAt,
		&m.State, &m.Attempts, &m.NextAttemptAt, &m.LastError, &m.LastStatus, &fin)
	m.CreatedAt, m.NextAttemptAt = m.CreatedAt.UTC(), m.NextAttemptAt.UTC()
	if fin != nil {
		m.FinishedAt = fin.UTC()
	}
	return m, err
}

// MessageFilter selects outbox messages; zero fields select all.
type MessageFilter struct {
	State        State
	PatientID    int64
	Subscription string
	// Limit bounds the result (default and maximum 1000).
	Limit int
}

// Messages returns the outbox messages f selects, oldest first.
func (s *Store) Messages(ctx context.Context, f MessageFilter) ([]Message, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id
		WHERE ($1 = '' OR o.state = $1) AND ($2 = 0 OR o.patient_id = $2) AND ($3 = '' OR s.name = $3)
		ORDER BY o.id LIMIT $4`, string(f.State), f.PatientID, f.Subscription, limit)
	ms, err := pgx.CollectRows(rows, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("records: outbox messages: %w", translate(err))
	}
	return ms, nil
}

// Poisoned returns the poisoned messages, oldest first: what the operator
// must look at (the reason is in LastError).
func (s *Store) Poisoned(ctx context.Context) ([]Message, error) {
	return s.Messages(ctx, MessageFilter{State: StatePoisoned})
}

// Retry puts a poisoned message back in the outbox, due now, with its
// attempts reset (after the operator fixed the cause). Other states are
// ErrInvalid; an unknown id ErrNotFound.
func (s *Store) Retry(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = now(),
		finished_at = NULL, last_error = '' WHERE id = $1 AND state = 'poisoned'`, id)
	if err != nil {
		return fmt.Errorf("records: retry message %d: %w", id, translate(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var state string
	if err := s.pool.QueryRow(ctx, `SELECT state FROM outbox WHERE id = $1`, id).Scan(&state); err != nil {
		return fmt.Errorf("records: retry message %d: %w", id, translate(err))
	}
	return fmt.Errorf("records: retry message %d: %w: it is %s, not poisoned", id, ErrInvalid, state)
}

// Stats are the outbox figures of the operations dashboard.
type Stats struct {
	// Pending messages wait for delivery; Leased of them are being
	// delivered now.
	Pending, Leased int
	// Poisoned messages wait for the operator.
	Poisoned int
	// Delivered and Cancelled count the finished messages.
	Delivered, Cancelled int
	// OldestPending is the age of the oldest pending message (0 when
	// none), on the database clock.
	OldestPending time.Duration
}

// Stats returns the outbox figures: its depth, the age of its oldest
// pending message, and the poisoned ones.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var oldest float64
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'pending' AND lease_until > now()),
			count(*) FILTER (WHERE state = 'poisoned'),
			count(*) FILTER (WHERE state = 'delivered'),
			count(*) FILTER (WHERE state = 'cancelled'),
			coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending')), 0)::float8
		FROM outbox`).Scan(&st.Pending, &st.Leased, &st.Poisoned, &st.Delivered, &st.Cancelled, &oldest)
	if err != nil {
		return st, fmt.Errorf("records: outbox stats: %w", translate(err))
	}
	st.OldestPending = time.Duration(oldest * float64(time.Second))
	return st, nil
}

// claimed is a message claimed by a delivery worker.
type claimed struct {
	id, sub, patient int64
	bundle           []byte
	entries          int
	attempts         int
	detail, token    string
}

// claim leases the next due message for lease, on the database clock, or
// returns ok false when none is due. The attempt is counted now, so that a
// worker that dies mid-delivery still uses one up.
func (s *Store) claim(ctx context.Context, owner, token string, lease time.Duration) (c claimed, ok bool, err error) {
	const q = `UPDATE outbox o SET lease_owner = $1, lease_token = $2,
			lease_until = now() + $3::float8 * interval '1 second', attempts = o.attempts + 1
		FROM (SELECT id FROM outbox
			WHERE state = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now())
			ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) due
		WHERE o.id = due.id
		RETURNING o.id, o.subscription_id, o.patient_id, o.bundle::text, o.entries, o.attempts, o.detail`
	var bundle string
	err = s.pool.QueryRow(ctx, q, owner, token, lease.Seconds()).Scan(&c.id, &c.sub, &c.patient, &bundle, &c.entries, &c.attempts, &c.detail)
	if err == pgx.ErrNoRows {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("records: claim outbox message: %w", translate(err))
	}
	c.bundle, c.token = []byte(bundle), token
	return c, true, nil
}

// finish moves a claimed message to a final state (delivered, poisoned,
// cancelled), if the lease is still c's.
func finish(ctx context.Context, db DB, c claimed, state State, status int, reason string) (bool, error) {
	var st *int
	if status != 0 {
		st = &status
	}
	tag, err := db.Exec(ctx, `UPDATE outbox SET state = $3, finished_at = now(), last_status = coalesce($4, last_status),
			last_error = $5, lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = $1 AND lease_token = $2 AND state = 'pending'`, c.id, c.token, string(state), st, clip(reason, 1024))
	if err != nil {
		return false, fmt.Errorf("records: outbox message %d: %s: %w", c.id, state, translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// reschedule gives a claimed message back, due after delay; with undo, the
// attempt is not counted (a delivery cut short by shutdown).
func reschedule(ctx context.Context, db DB, c claimed, delay time.Duration, status int, reason string, undo bool) error {
	var st *int
	if status != 0 {
		st = &status
	}
	dec := 0
	if undo {
		dec = 1
	}
	_, err := db.Exec(ctx, `UPDATE outbox SET next_attempt_at = now() + $3::float8 * interval '1 second',
			last_status = coalesce($4, last_status), last_error = CASE WHEN $5 = '' THEN last_error ELSE $5 END,
			attempts = attempts - $6, lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = $1 AND lease_token = $2 AND state = 'pending'`, c.id, c.token, delay.Seconds(), st, clip(reason, 1024), dec)
	if err != nil {
		return fmt.Errorf("records: outbox message %d: reschedule: %w", c.id, translate(err))
	}
	return nil
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// PurgeFinished deletes the delivered and cancelled messages finished
// before before (their Bundles hold patient data and PDFs; the access
// log keeps the record of each delivery) and returns how many it
// deleted. Poisoned messages stay until the operator retries them. Run it
// daily, e.g. with a retention of 30 days.
func (s *Store) PurgeFinished(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE state IN ('delivered', 'cancelled') AND finished_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("records: purge outbox: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
