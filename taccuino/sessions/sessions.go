// Package sessions ends sign-in sessions on the server. The taccuino's
// pages keep the caller's bearer token in a session cookie; when the
// caller signs out, the token is recorded here as ended, and from then on
// every replica refuses it, as a cookie and as a bearer token alike, until
// it expires (after which the verifier refuses it anyway).
//
// The check runs on every authenticated request, so it must be cheap: each
// replica keeps the ended tokens of its database in memory, told of new
// ones by PostgreSQL's LISTEN/NOTIFY (the notification is sent in the
// transaction that records the end, so it arrives when the end is
// committed, within milliseconds) and reloaded whenever the listening
// connection is made again. While the listener is not connected (at
// start, or after its connection dropped), the check asks the database
// instead, so that no ended token passes in between.
//
// Tokens are kept by their SHA-256, never as they are.
package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// channel is the PostgreSQL notification channel of ended sessions; the
// payload is "<hex SHA-256 of the token> <until, Unix seconds>".
const channel = "fsecgm_sessions_ended"

// ListenerName is the application_name of the listener's connection, as
// pg_stat_activity shows it.
const ListenerName = "fsecgm sessions listener"

// Options configure a Store. The zero value is usable.
type Options struct {
	// Logger receives the listener's connection problems; nil discards
	// them.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Retry is the wait before the listener connects again after a
	// failure; one second when zero.
	Retry time.Duration
}

// Store records ended sessions and answers whether a token's session was
// ended. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	now    func() time.Time
	retry  time.Duration

	mu    sync.RWMutex
	ended map[[sha256.Size]byte]time.Time // digest → until
	live  bool                            // the listener is connected and loaded
}

// New returns a store on pool, whose database must be migrated. Until Run
// has connected its listener, Ended asks the database.
func New(pool *pgxpool.Pool, opts Options) *Store {
	s := &Store{pool: pool, logger: opts.Logger, now: opts.Now, retry: opts.Retry,
		ended: map[[sha256.Size]byte]time.Time{}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.retry <= 0 {
		s.retry = time.Second
	}
	return s
}

// Digest is what a token is kept by.
func Digest(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// End records that the session of token ended now; until is the token's
// expiry (after which the record may be dropped: the verifier refuses the
// token then). It takes effect on this replica before End returns and on
// the others when they receive the notification sent with the commit.
func (s *Store) End(ctx context.Context, token string, until time.Time) error {
	d := Digest(token)
	now := s.now().UTC().Truncate(time.Microsecond)
	if !until.After(now) {
		until = now.Add(time.Minute)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ended_sessions (token_digest, until, ended_at) VALUES ($1, $2, $3)
			ON CONFLICT (token_digest) DO NOTHING`, d[:], until.UTC(), now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, hex.EncodeToString(d[:])+" "+strconv.FormatInt(until.Unix(), 10))
		return err
	})
	if err != nil {
		return fmt.Errorf("sessions: end: %w", err)
	}
	s.mu.Lock()
	s.ended[d] = until
	s.mu.Unlock()
	return nil
}

// Ended reports whether token's session was ended (and the token has not
// expired since). It answers from memory while the listener is connected,
// and asks the database otherwise.
func (s *Store) Ended(ctx context.Context, token string) (bool, error) {
	d := Digest(token)
	s.mu.RLock()
	until, found := s.ended[d]
	live := s.live
	s.mu.RUnlock()
	if found {
		return s.now().Before(until), nil
	}
	if live {
		return false, nil
	}
	var ended bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ended_sessions WHERE token_digest = $1 AND until > $2)`,
		d[:], s.now().UTC()).Scan(&ended)
	if err != nil {
		return false, fmt.Errorf("sessions: check: %w", err)
	}
	return ended, nil
}

// Live reports whether the listener is connected and has loaded the ended
// sessions, so that Ended answers from memory.
func (s *Store) Live() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

// Run keeps the listener connected until ctx is done: it listens on the
// channel, loads the ended sessions not yet expired, and applies each
// notification; when its connection fails it falls back to the database
// for every check, and connects again after Options.Retry. Once a minute
// it forgets expired entries and deletes expired rows. It returns nil
// when ctx is done.
func (s *Store) Run(ctx context.Context) error {
	for {
		err := s.listen(ctx)
		s.setLive(false)
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("sessions: listener disconnected; checking ended sessions in the database meanwhile", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.retry):
		}
	}
}

func (s *Store) setLive(v bool) {
	s.mu.Lock()
	s.live = v
	s.mu.Unlock()
}

// listen runs one connection of the listener until it fails or ctx is
// done.
func (s *Store) listen(ctx context.Context) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	// Listening first, then loading: an end committed in between is in
	// both, and none is missed.
	if err := s.load(ctx, conn); err != nil {
		return err
	}
	s.setLive(true)
	s.logger.Debug("sessions: listener connected")
	upkeep := time.NewTicker(time.Minute)
	defer upkeep.Stop()
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			s.apply(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		select {
		case <-upkeep.C:
			if err := s.upkeep(ctx, conn); err != nil {
				return err
			}
		default:
		}
	}
}

// load reads the ended sessions not yet expired.
func (s *Store) load(ctx context.Context, conn *pgx.Conn) error {
	rows, _ := conn.Query(ctx, `SELECT token_digest, until FROM ended_sessions WHERE until > $1`, s.now().UTC())
	loaded := map[[sha256.Size]byte]time.Time{}
	var b []byte
	var until time.Time
	_, err := pgx.ForEachRow(rows, []any{&b, &until}, func() error {
		var d [sha256.Size]byte
		if copy(d[:], b) == sha256.Size {
			loaded[d] = until
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	for d, u := range loaded {
		s.ended[d] = u
	}
	s.mu.Unlock()
	return nil
}

// apply records a notification's ended session.
func (s *Store) apply(payload string) {
	h, u, ok := strings.Cut(payload, " ")
	raw, err := hex.DecodeString(h)
	secs, err2 := strconv.ParseInt(u, 10, 64)
	if !ok || err != nil || err2 != nil || len(raw) != sha256.Size {
		s.logger.Warn("sessions: malformed notification ignored")
		return
	}
	var d [sha256.Size]byte
	copy(d[:], raw)
	s.mu.Lock()
	s.ended[d] = time.Unix(secs, 0)
	s.mu.Unlock()
}

// upkeep forgets expired entries and deletes expired rows.
func (s *Store) upkeep(ctx context.Context, conn *pgx.Conn) error {
	now := s.now()
	s.mu.Lock()
	for d, u := range s.ended {
		if !now.Before(u) {
			delete(s.ended, d)
		}
	}
	s.mu.Unlock()
	_, err := conn.Exec(ctx, `DELETE FROM ended_sessions WHERE until <= $1`, now.UTC())
	return err
}
