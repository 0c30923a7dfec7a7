package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/taccuino/internal/outbox"

	"github.com/jackc/pgx/v5"
)

// SenderOptions configure a Sender. Zero fields take the defaults.
type SenderOptions struct {
	// Replica names this worker in its leases (default: host, pid and a
	// random suffix).
	Replica string
	// Concurrency is the number of messages sent at once (default 2);
	// each holds two database connections while it sends.
	Concurrency int
	// Lease is how long a claimed message stays with this replica before
	// another may take it (default 2 minutes); it must exceed Timeout.
	// While it is being sent its row is also locked, so that no replica
	// takes it even past the lease.
	Lease time.Duration
	// Poll is how often an idle worker looks for due messages (default 2
	// seconds).
	Poll time.Duration
	// MaxAttempts is the number of failed attempts after which a message
	// is dead (default 10).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry (defaults 30
	// seconds and 1 hour): doubling, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one SMTP conversation (default 30 seconds).
	Timeout time.Duration
	// Grace is how long sends in progress may go on after Run's context
	// ends (default 10 seconds); then they are handed back.
	Grace time.Duration
	// Logger receives the worker's lines (default: the store's).
	Logger *slog.Logger
	// AfterSend, when set, runs after the server accepted a message and
	// before the outcome is committed; an error from it abandons the
	// attempt there, as a crash would (for tests of that window).
	AfterSend func(id int64) error
}

// Sender sends the outbox's messages by SMTP.
type Sender struct {
	s   *Store
	m   Mailer
	o   SenderOptions
	log *slog.Logger
}

// NewSender returns a worker sending s's outbox through m.
func NewSender(s *Store, m Mailer, o SenderOptions) (*Sender, error) {
	if s == nil || m == nil {
		return nil, fmt.Errorf("%w: sender: store and mailer are required", ErrInvalid)
	}
	if o.Replica == "" {
		o.Replica = outbox.Replica()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	def(&o.Lease, 2*time.Minute)
	def(&o.Poll, 2*time.Second)
	def(&o.MinBackoff, 30*time.Second)
	def(&o.MaxBackoff, time.Hour)
	def(&o.Timeout, 30*time.Second)
	def(&o.Grace, 10*time.Second)
	if o.Lease <= o.Timeout {
		return nil, fmt.Errorf("%w: sender: the lease (%v) must exceed the timeout (%v)", ErrInvalid, o.Lease, o.Timeout)
	}
	l := o.Logger
	if l == nil {
		l = s.logger
	}
	return &Sender{s: s, m: m, o: o, log: l.With(slog.String("replica", o.Replica))}, nil
}

// Run sends due messages with Concurrency workers until ctx is done, then
// lets sends in progress finish (within Grace) and returns nil.
func (w *Sender) Run(ctx context.Context) error {
	outbox.Work(ctx, w.o.Concurrency, w.o.Poll, w.sendNext, func(err error) {
		w.log.Error("notify: sender", slog.String("err", err.Error()))
	})
	return nil
}

// SendDue sends the messages due now one after the other and returns how
// many it attempted (tests, one-shot commands).
func (w *Sender) SendDue(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := w.sendNext(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (w *Sender) sendNext(ctx context.Context) (int, error) {
	c, ok, err := w.s.claim(ctx, w.o.Replica, outbox.Token(), w.o.Lease)
	if err != nil || !ok {
		return 0, err
	}
	actx, cancel := outbox.Detach(ctx, w.o.Grace)
	defer cancel()
	return 1, w.attempt(actx, c)
}

// attempt makes one attempt at c, in a transaction that holds the
// message's row (FOR NO KEY UPDATE: no other replica claims it) until the
// outcome commits.
func (w *Sender) attempt(ctx context.Context, c claimed) error {
	log := w.log.With(slog.Int64("message_id", c.id), slog.Int("attempt", c.attempts))
	tx, err := w.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("notify: attempt: %w", translate(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var mine, active bool
	err = tx.QueryRow(ctx, `SELECT m.lease_token = $2, coalesce(s.email = m.recipient AND s.bounced_at IS NULL AND s.mode <> 'off', false)
		FROM notification_messages m LEFT JOIN notification_settings s ON s.patient_id = m.patient_id
		WHERE m.id = $1 AND m.state = 'pending' FOR NO KEY UPDATE OF m`, c.id, c.token).Scan(&mine, &active)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !mine {
		log.Warn("notify: the lease on a message was lost; another replica sends it")
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify: attempt: %w", translate(err))
	}
	// What follows the send is recorded even when ctx ended meanwhile
	// (shutdown past the grace): octx.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	finish := func(state MessageState, code int, reason string) error {
		var cd *int
		if code != 0 {
			cd = &code
		}
		// A finished message needs its hand-offs no more; a dead one keeps
		// them for the operator (Message.Handoffs; Resend clears them).
		if _, err := tx.Exec(octx, `DELETE FROM notification_handoffs WHERE message_id = $1 AND $2 <> 'dead'`,
			c.id, string(state)); err != nil {
			return fmt.Errorf("notify: message %d: %w", c.id, translate(err))
		}
		if _, err := tx.Exec(octx, `UPDATE notification_messages SET state = $2, finished_at = now(),
				last_code = coalesce($3, last_code), last_error = $4, lease_owner = NULL, lease_token = NULL, lease_until = NULL
			WHERE id = $1`, c.id, string(state), cd, clip(reason, 1024)); err != nil {
			return fmt.Errorf("notify: message %d: %s: %w", c.id, state, translate(err))
		}
		return translate(tx.Commit(octx))
	}
	if !active {
		log.Info("notify: message cancelled: the address changed, bounced or was turned off")
		return finish(MessageCancelled, 0, "the address changed, bounced or was turned off before it was sent")
	}
	if c.handoffs >= 2 {
		log.Warn("notify: message dead: two attempts ended after handing it over; not sent a third time (fsecgm notifications)")
		return finish(MessageDead, 0, "two attempts ended after the message was handed to the SMTP server without a reply: "+
			"up to two copies may be out; not sent again")
	}
	handedOff := false
	err = w.m.Send(ctx, c.recipient, c.raw, func() error {
		// Committed before the end of DATA: if this attempt ends without
		// its outcome, the next one knows a copy may be out.
		if _, err := w.s.pool.Exec(ctx, `INSERT INTO notification_handoffs (message_id, attempt) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, c.id, c.attempts); err != nil {
			return fmt.Errorf("notify: hand-off: %w", translate(err))
		}
		handedOff = true
		return nil
	})
	if err == nil && w.o.AfterSend != nil {
		if aerr := w.o.AfterSend(c.id); aerr != nil {
			log.Warn("notify: attempt abandoned after the send (AfterSend)", slog.String("err", aerr.Error()))
			return nil // the deferred rollback: as if the process had died here
		}
	}
	var se *SendError
	isSend := errors.As(err, &se)
	// The hand-off stays only when the server may hold a copy.
	if handedOff && (err == nil || isSend && !se.Uncertain()) {
		if _, derr := tx.Exec(octx, `DELETE FROM notification_handoffs WHERE message_id = $1 AND attempt = $2`,
			c.id, c.attempts); derr != nil {
			return fmt.Errorf("notify: message %d: %w", c.id, translate(derr))
		}
	}
	switch {
	case err == nil:
		log.Debug("notify: sent")
		return finish(MessageSent, 250, "")
	case isSend && se.Bounce():
		if _, err := tx.Exec(octx, `UPDATE notification_settings SET bounced_at = now(), bounce_reason = $3
			WHERE patient_id = $1 AND email = $2 AND bounced_at IS NULL`, c.patient, c.recipient, clip(se.Error(), 512)); err != nil {
			return fmt.Errorf("notify: message %d: bounce: %w", c.id, translate(err))
		}
		log.Warn("notify: the recipient was refused for good; the address is bounced until confirmed again",
			slog.Int64("patient_id", c.patient), slog.Int("code", se.Code))
		return finish(MessageBounced, se.Code, se.Error())
	case errors.Is(context.Cause(ctx), outbox.ErrShutdown):
		log.Info("notify: send handed back at shutdown")
		return w.reschedule(octx, tx, c, 0, 0, "", true)
	}
	code := 0
	if isSend {
		code = se.Code
	}
	if c.attempts >= w.o.MaxAttempts {
		log.Warn("notify: message dead after its last attempt (fsecgm notifications)", slog.String("last_error", err.Error()))
		return finish(MessageDead, code, err.Error())
	}
	delay := outbox.Backoff(c.attempts, w.o.MinBackoff, w.o.MaxBackoff, 0)
	log.Info("notify: send failed; will retry", slog.Duration("in", delay), slog.String("err", err.Error()))
	return w.reschedule(octx, tx, c, delay, code, err.Error(), false)
}

// reschedule gives c back, due after delay, in tx, and commits; with undo
// the attempt is not counted.
func (w *Sender) reschedule(ctx context.Context, tx pgx.Tx, c claimed, delay time.Duration, code int, reason string, undo bool) error {
	var cd *int
	if code != 0 {
		cd = &code
	}
	dec := 0
	if undo {
		dec = 1
	}
	if _, err := tx.Exec(ctx, `UPDATE notification_messages SET next_attempt_at = now() + $2::float8 * interval '1 second',
			last_code = coalesce($3, last_code), last_error = CASE WHEN $4 = '' THEN last_error ELSE $4 END,
			attempts = attempts - $5, lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = $1`, c.id, delay.Seconds(), cd, clip(reason, 1024), dec); err != nil {
		return fmt.Errorf("notify: message %d: reschedule: %w", c.id, translate(err))
	}
	return translate(tx.Commit(ctx))
}
