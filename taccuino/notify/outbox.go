package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MessageState is the state of an outbox message.
type MessageState string

// The states of an outbox message.
const (
	// MessagePending: to send (at NextAttemptAt).
	MessagePending MessageState = "pending"
	// MessageSent: the SMTP server accepted it.
	MessageSent MessageState = "sent"
	// MessageDead: failed MaxAttempts times, or two attempts ended without
	// an outcome after handing it over (a copy may be out twice): for the
	// operator (Store.Resend).
	MessageDead MessageState = "dead"
	// MessageBounced: the server refused the recipient for good; the
	// address is marked bounced.
	MessageBounced MessageState = "bounced"
	// MessageCancelled: never sent: the address changed, bounced or was
	// turned off before.
	MessageCancelled MessageState = "cancelled"
)

// Message is an outbox message, as the operator sees it (no body: it is
// the patient's).
type Message struct {
	ID        int64
	PatientID int64
	Kind      Mode
	// Key identifies what the message tells (each-<first access id>,
	// daily-<patient>-<day>).
	Key string
	// Accesses counts the access-log entries it tells.
	Accesses      int
	CreatedAt     time.Time
	State         MessageState
	Attempts      int
	NextAttemptAt time.Time
	// LastError says why the last attempt failed; LastCode is its SMTP
	// reply code (0 when none).
	LastError  string
	LastCode   int
	FinishedAt time.Time
	// Handoffs counts the attempts that ended after handing the message
	// over without an outcome (each may have delivered a copy).
	Handoffs int
}

// MessageFilter selects messages; zero fields select all.
type MessageFilter struct {
	State     MessageState
	PatientID int64
	// Limit bounds the result (default and maximum 1000).
	Limit int
}

// Messages returns the messages f selects, oldest first.
func (s *Store) Messages(ctx context.Context, f MessageFilter) ([]Message, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, _ := s.pool.Query(ctx, `SELECT m.id, m.patient_id, m.kind, m.key, cardinality(m.access_log_ids), m.created_at,
			m.state, m.attempts, m.next_attempt_at, m.last_error, coalesce(m.last_code, 0), m.finished_at,
			(SELECT count(*) FROM notification_handoffs h WHERE h.message_id = m.id)
		FROM notification_messages m
		WHERE ($1 = '' OR m.state = $1) AND ($2 = 0 OR m.patient_id = $2) ORDER BY m.id LIMIT $3`,
		string(f.State), f.PatientID, limit)
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		var fin *time.Time
		err := r.Scan(&m.ID, &m.PatientID, &m.Kind, &m.Key, &m.Accesses, &m.CreatedAt, &m.State, &m.Attempts,
			&m.NextAttemptAt, &m.LastError, &m.LastCode, &fin, &m.Handoffs)
		m.CreatedAt, m.NextAttemptAt = m.CreatedAt.UTC(), m.NextAttemptAt.UTC()
		if fin != nil {
			m.FinishedAt = fin.UTC()
		}
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: messages: %w", translate(err))
	}
	return ms, nil
}

// Resend puts a dead message back in the outbox, due now, its attempts and
// hand-offs reset (the operator accepts that a copy may already be out).
// Other states are ErrInvalid, an unknown id ErrNotFound.
func (s *Store) Resend(ctx context.Context, id int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE notification_messages SET state = 'pending', attempts = 0, next_attempt_at = now(),
			finished_at = NULL, last_error = '' WHERE id = $1 AND state = 'dead'`, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 1 {
			_, err := tx.Exec(ctx, `DELETE FROM notification_handoffs WHERE message_id = $1`, id)
			return translate(err)
		}
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM notification_messages WHERE id = $1`, id).Scan(&state); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return translate(err)
		}
		return fmt.Errorf("%w: it is %s, not dead", ErrInvalid, state)
	})
	if err != nil {
		return fmt.Errorf("notify: resend message %d: %w", id, err)
	}
	return nil
}

// Stats are the outbox figures of /metrics.
type Stats struct {
	// Pending messages wait to be sent; Leased of them are being sent.
	Pending, Leased int
	// Dead messages wait for the operator; Bounced ones were refused.
	Dead, Bounced int
	// Sent and Cancelled count finished messages (until purged).
	Sent, Cancelled int
	// Queued counts the accesses not yet composed into messages (daily
	// ones wait for their digest).
	Queued int
	// OldestPending is the age of the oldest pending message (0 when
	// none), on the database clock.
	OldestPending time.Duration
}

// Stats returns the outbox figures.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var oldest float64
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'pending' AND lease_until > now()),
			count(*) FILTER (WHERE state = 'dead'),
			count(*) FILTER (WHERE state = 'bounced'),
			count(*) FILTER (WHERE state = 'sent'),
			count(*) FILTER (WHERE state = 'cancelled'),
			(SELECT count(*) FROM notification_events),
			coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending')), 0)::float8
		FROM notification_messages`).Scan(&st.Pending, &st.Leased, &st.Dead, &st.Bounced, &st.Sent, &st.Cancelled,
		&st.Queued, &oldest)
	if err != nil {
		return st, fmt.Errorf("notify: stats: %w", translate(err))
	}
	st.OldestPending = time.Duration(oldest * float64(time.Second))
	return st, nil
}

// PurgeFinished deletes the sent and cancelled messages finished before
// before (their text is the patient's; the access log keeps the accesses)
// and returns how many. Dead and bounced ones stay for the operator.
func (s *Store) PurgeFinished(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notification_messages WHERE state IN ('sent', 'cancelled') AND finished_at < $1`,
		before.UTC())
	if err != nil {
		return 0, fmt.Errorf("notify: purge: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}

// claimed is a message claimed by a sender.
type claimed struct {
	id, patient int64
	recipient   string
	raw         []byte
	attempts    int
	handoffs    int
	token       string
}

// claim leases the next due message for lease (database clock), counting
// the attempt now, or returns ok false when none is due.
func (s *Store) claim(ctx context.Context, owner, token string, lease time.Duration) (c claimed, ok bool, err error) {
	var raw string
	err = s.pool.QueryRow(ctx, `UPDATE notification_messages m SET lease_owner = $1, lease_token = $2,
			lease_until = now() + $3::float8 * interval '1 second', attempts = m.attempts + 1
		FROM (SELECT id FROM notification_messages
			WHERE state = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now())
			ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) due
		WHERE m.id = due.id
		RETURNING m.id, m.patient_id, m.recipient, m.raw, m.attempts,
			(SELECT count(*) FROM notification_handoffs h WHERE h.message_id = m.id)`,
		owner, token, lease.Seconds()).Scan(&c.id, &c.patient, &c.recipient, &raw, &c.attempts, &c.handoffs)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("notify: claim: %w", translate(err))
	}
	c.raw, c.token = []byte(raw), token
	return c, true, nil
}
