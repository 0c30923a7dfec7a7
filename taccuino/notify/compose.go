package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/taccuino/locale"

	"github.com/jackc/pgx/v5"
)

// ComposerOptions configure a Composer. Zero fields take the defaults.
type ComposerOptions struct {
	// BaseURL is the service's external URL, for the links in messages.
	BaseURL string
	// From is the sender address (its domain also names the Message-IDs).
	From string
	// DigestHour is the local hour (0-23) at which the digest of a day is
	// composed, on the following day (0: midnight; 'fsecgm serve' defaults
	// to 8, FSECGM_NOTIFY_DIGEST_HOUR). An hour the clocks skip
	// that night is taken as PostgreSQL reads it (the offset before the
	// change).
	DigestHour int
	// Grace is how long after the end of a minute its accesses wait for
	// transactions still committing before mode each tells them (default
	// 5 seconds).
	Grace time.Duration
	// Every is how often Run composes (default 5 seconds).
	Every time.Duration
	// Batch bounds the accesses read in one round (default 5000).
	Batch int
}

// Composer turns the queued accesses into outbox messages. Any number of
// replicas may run one: a round holds a transaction-level advisory lock,
// so only one composes at a time, and a round's messages and the removal
// of the accesses they tell commit together.
type Composer struct {
	s *Store
	o ComposerOptions
}

// NewComposer returns a composer of s's queue.
func NewComposer(s *Store, o ComposerOptions) (*Composer, error) {
	if o.BaseURL == "" || o.From == "" {
		return nil, fmt.Errorf("%w: composer: BaseURL and From are required", ErrInvalid)
	}
	if o.DigestHour < 0 || o.DigestHour > 23 {
		return nil, fmt.Errorf("%w: composer: digest hour %d: want 0 to 23", ErrInvalid, o.DigestHour)
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	return &Composer{s: s, o: o}, nil
}

// composeLock is the transaction advisory lock of a compose round (the
// crc32 of "fsecgm notify compose").
const composeLock = 3056791741

// Run composes every Every until ctx is done. Database errors are logged
// and the round tried again.
func (c *Composer) Run(ctx context.Context) error {
	t := time.NewTicker(c.o.Every)
	defer t.Stop()
	for {
		if _, err := c.ComposeDue(ctx); err != nil && ctx.Err() == nil {
			c.s.logger.Error("notify: compose", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ComposeDue runs one round: drops the queued accesses of patients whose
// notifications are no longer on, and turns the due ones into messages
// (mode each: the minute ended Grace ago; mode daily: the day's digest
// hour has come). It returns the number of messages written; 0 also when
// another replica holds the round.
func (c *Composer) ComposeDue(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, c.s.pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(composeLock)).Scan(&got); err != nil || !got {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM notification_events e WHERE NOT EXISTS (
				SELECT 1 FROM notification_settings s WHERE s.patient_id = e.patient_id
				AND s.email IS NOT NULL AND s.bounced_at IS NULL AND s.mode <> 'off')`); err != nil {
			return fmt.Errorf("notify: compose: drop: %w", translate(err))
		}
		now := c.s.clock()
		rows, _ := tx.Query(ctx, `SELECT a.id, a.patient_id, a.at, a.actor_role, a.actor_id, a.actor_name, a.practitioner_role,
				a.on_behalf_of, a.basis, a.action, a.detail, a.outcome, a.reason, s.email, s.mode, s.lang, p.time_zone, p.public_id
			FROM notification_events e
			JOIN notification_settings s ON s.patient_id = e.patient_id
			JOIN patients p ON p.id = e.patient_id
			JOIN access_log a ON a.id = e.access_log_id
			WHERE (s.mode = 'each' AND e.at < date_trunc('minute', $1::timestamptz - $2::float8 * interval '1 second'))
				OR (s.mode = 'daily' AND (date_trunc('day', e.at AT TIME ZONE p.time_zone) + interval '1 day'
					+ $3::int * interval '1 hour') AT TIME ZONE p.time_zone <= $1)
			ORDER BY e.patient_id, e.at, e.access_log_id
			LIMIT $4`, now, c.o.Grace.Seconds(), c.o.DigestHour, c.o.Batch)
		type row struct {
			a                 access
			email, mode, lang string
			zone, publicID    string
		}
		got2, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.a.id, &x.a.patientID, &x.a.at, &x.a.role, &x.a.actorID, &x.a.name, &x.a.prole, &x.a.org,
				&x.a.basis, &x.a.action, &x.a.detail, &x.a.outcome, &x.a.reason, &x.email, &x.mode, &x.lang, &x.zone, &x.publicID)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("notify: compose: read: %w", translate(err))
		}
		if len(got2) == c.o.Batch && got2[0].a.patientID != got2[len(got2)-1].a.patientID {
			// A full batch may have cut the last patient's accesses:
			// leave them all to the next round.
			last := got2[len(got2)-1].a.patientID
			for len(got2) > 0 && got2[len(got2)-1].a.patientID == last {
				got2 = got2[:len(got2)-1]
			}
		}
		h := header{from: c.o.From, base: c.o.BaseURL, date: now}
		var done []int64
		for i := 0; i < len(got2); {
			j := i
			for j < len(got2) && got2[j].a.patientID == got2[i].a.patientID {
				j++
			}
			x := got2[i]
			loc, err := cgm.Zone(x.zone)
			if err != nil {
				return fmt.Errorf("notify: compose: patient %d: %w", x.a.patientID, err)
			}
			t := target{email: x.email, lang: locale.Lang(x.lang), loc: loc, publicID: x.publicID}
			as := make([]access, 0, j-i)
			for _, y := range got2[i:j] {
				as = append(as, y.a)
			}
			m, err := c.composePatient(ctx, tx, h, t, Mode(x.mode), as)
			if err != nil {
				return err
			}
			n += m
			for _, a := range as {
				done = append(done, a.id)
			}
			i = j
		}
		if len(done) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM notification_events WHERE access_log_id = ANY($1)`, done); err != nil {
				return fmt.Errorf("notify: compose: %w", translate(err))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// composePatient writes the messages of one patient's due accesses (oldest
// first) and returns how many.
func (c *Composer) composePatient(ctx context.Context, tx pgx.Tx, h header, t target, mode Mode, as []access) (int, error) {
	n := 0
	write := func(key string, m rendered, group []access) error {
		ids := make([]int64, len(group))
		for i, a := range group {
			ids[i] = a.id
		}
		tag, err := tx.Exec(ctx, `INSERT INTO notification_messages (patient_id, kind, key, recipient, subject, raw, access_log_ids)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
			group[0].patientID, string(mode), key, t.email, clip(m.subject, 998), string(m.raw), ids)
		if err != nil {
			return fmt.Errorf("notify: compose: patient %d: %w", group[0].patientID, translate(err))
		}
		if tag.RowsAffected() == 0 {
			return errConflict
		}
		n++
		return nil
	}
	switch mode {
	case ModeEach:
		// One message per person and minute.
		for len(as) > 0 {
			first := as[0]
			minute := first.at.Truncate(time.Minute)
			var group, rest []access
			for _, a := range as {
				if a.actorKey() == first.actorKey() && a.at.Truncate(time.Minute).Equal(minute) {
					group = append(group, a)
				} else {
					rest = append(rest, a)
				}
			}
			key := "each-" + strconv.FormatInt(first.id, 10)
			h.messageID = "fsecgm.notification." + key
			if err := write(key, renderEach(h, t, group), group); err != nil {
				return n, err
			}
			as = rest
		}
	case ModeDaily:
		for len(as) > 0 {
			y, m, d := as[0].at.In(t.loc).Date()
			day := time.Date(y, m, d, 0, 0, 0, 0, t.loc)
			var group, rest []access
			for _, a := range as {
				if ay, am, ad := a.at.In(t.loc).Date(); ay == y && am == m && ad == d {
					group = append(group, a)
				} else {
					rest = append(rest, a)
				}
			}
			key := "daily-" + strconv.FormatInt(group[0].patientID, 10) + "-" + day.Format(time.DateOnly)
			h.messageID = "fsecgm.notification." + key
			err := write(key, renderDaily(h, t, day, group), group)
			if err == errConflict {
				// The day's digest went out already: these accesses
				// committed after it, and get a digest of their own.
				key += "-" + strconv.FormatInt(group[0].id, 10)
				h.messageID = "fsecgm.notification." + key
				err = write(key, renderDaily(h, t, day, group), group)
			}
			if err != nil {
				return n, err
			}
			as = rest
		}
	}
	return n, nil
}

// errConflict: a message with that key exists.
var errConflict = fmt.Errorf("notify: a message with that key exists")
