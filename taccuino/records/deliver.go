package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/internal/outbox"

	"github.com/jackc/pgx/v5"
)

// DeliveryOptions configure a Deliverer. Zero fields take the defaults.
type DeliveryOptions struct {
	// Replica names this worker in the leases it takes (default: the host
	// name, the process id and a random suffix).
	Replica string
	// Concurrency is the number of messages delivered at once (default
	// 2). Each holds a database connection while its Bundle is sent (the
	// transaction of the consent check), so the pool needs Concurrency + 1
	// connections to spare.
	Concurrency int
	// Lease is how long a claimed message stays with this replica before
	// another may take it (default 2 minutes); it must exceed Timeout.
	Lease time.Duration
	// Poll is how often an idle worker looks for due messages (default 2
	// seconds).
	Poll time.Duration
	// MaxAttempts is the number of failed attempts after which a message
	// is poisoned (default 10).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry: MinBackoff
	// after the first failure, doubling after each, at most MaxBackoff,
	// each with random jitter over its upper half (defaults 30 seconds and
	// 1 hour). A Retry-After header is honoured up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt: the token request and the POST
	// (default 30 seconds).
	Timeout time.Duration
	// Grace is how long deliveries in progress may take to finish after
	// Run's context is cancelled (default 10 seconds); those still
	// running then are handed back, their attempt not counted.
	Grace time.Duration
	// Client sends the requests (default: a client without timeout of its
	// own; Timeout applies).
	Client *http.Client
	// Getenv and ReadFile read the subscriptions' secrets (defaults
	// os.Getenv and os.ReadFile).
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Logger receives the delivery log (never a token, a fiscal code or
	// a glucose value). Nil: the store's.
	Logger *slog.Logger
}

// Deliverer is the outbox worker: see the package documentation. Any
// number of Deliverers, in one process or many, may run on one database.
type Deliverer struct {
	s       *Store
	consent *consent.Store
	o       DeliveryOptions
	log     *slog.Logger

	mu     sync.Mutex
	tokens map[int64]cachedToken // access tokens by subscription id
}

type cachedToken struct {
	value   string
	expires time.Time
	key     string // what the token was issued for (URL, client, secret hash)
}

// NewDeliverer returns a worker delivering s's outbox, checking each
// delivery through c.
func NewDeliverer(s *Store, c *consent.Store, o DeliveryOptions) (*Deliverer, error) {
	if s == nil || c == nil {
		return nil, fmt.Errorf("records: deliverer: %w: store and consent are required", ErrInvalid)
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
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Lease <= o.Timeout {
		return nil, fmt.Errorf("records: deliverer: %w: the lease (%v) must exceed the timeout (%v)", ErrInvalid, o.Lease, o.Timeout)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	l := o.Logger
	if l == nil {
		l = s.logger
	}
	return &Deliverer{s: s, consent: c, o: o, log: l.With(slog.String("replica", o.Replica)), tokens: map[int64]cachedToken{}}, nil
}

// Run delivers due messages with Concurrency workers until ctx is
// cancelled, then lets the deliveries in progress finish (within Grace)
// and returns nil. Database errors are logged and retried after Poll.
func (d *Deliverer) Run(ctx context.Context) error {
	outbox.Work(ctx, d.o.Concurrency, d.o.Poll, d.deliverNext, func(err error) {
		d.log.Error("records: delivery worker", slog.String("err", err.Error()))
	})
	return nil
}

// DeliverDue delivers, one after the other, the messages due now, and
// returns how many it attempted: for tests and one-shot commands.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := d.deliverNext(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// deliverNext claims one due message and delivers it; 0 when none is due.
func (d *Deliverer) deliverNext(ctx context.Context) (int, error) {
	c, ok, err := d.s.claim(ctx, d.o.Replica, outbox.Token(), d.o.Lease)
	if err != nil || !ok {
		return 0, err
	}
	// The attempt outlives ctx by at most Grace: shutdown lets it finish.
	actx, cancel := outbox.Detach(ctx, d.o.Grace)
	defer cancel()
	return 1, d.deliver(actx, c)
}

// errLeaseLost: another replica holds the message now.
var errLeaseLost = errors.New("records: the lease on the message was lost")

// deliver makes one attempt at message c.
func (d *Deliverer) deliver(ctx context.Context, c claimed) error {
	log := d.log.With(slog.Int64("outbox_id", c.id), slog.Int("attempt", c.attempts))
	sub, err := subscription(ctx, d.s.pool, c.sub)
	if err != nil {
		return d.retry(ctx, c, 0, err, log)
	}
	log = log.With(slog.String("subscription", sub.Name))
	if !sub.Active {
		return d.cancel(ctx, c, "the subscription is inactive", log)
	}
	if ok, err := serves(ctx, d.s.pool, sub.ID, c.patient, d.s.now()); err != nil {
		return d.retry(ctx, c, 0, err, log)
	} else if !ok {
		return d.cancel(ctx, c, "the subscription no longer serves the patient", log)
	}
	actor := consent.Actor{Role: auth.RoleService, ClientID: "fsecgm-delivery/" + sub.Name,
		Scopes: []string{consent.ScopeReadData}, Name: sub.displayName(),
		RequestID: "outbox-" + strconv.FormatInt(c.id, 10) + "-" + strconv.Itoa(c.attempts)}
	var status int
	err = d.consent.Access(ctx, actor, c.patient, consent.ActReadData, clip(c.detail+" sent to "+sub.Name, 512),
		func(ctx context.Context, tx pgx.Tx) error {
			// The row lock keeps other replicas off the message while it is
			// being sent, even past the lease.
			var mine bool
			if err := tx.QueryRow(ctx, `SELECT lease_token = $2 FROM outbox WHERE id = $1 AND state = 'pending' FOR UPDATE`,
				c.id, c.token).Scan(&mine); err != nil || !mine {
				return errLeaseLost
			}
			var err error
			if status, err = d.send(ctx, sub, c.bundle, c.entries); err != nil {
				return err
			}
			ok, err := finish(ctx, tx, c, StateDelivered, status, "")
			if err == nil && !ok {
				err = errLeaseLost
			}
			return err
		})
	var denied *consent.DeniedError
	switch {
	case err == nil:
		log.Debug("records: delivered", slog.Int("status", status))
		return nil
	case errors.As(err, &denied):
		return d.cancel(ctx, c, "refused by consent: "+string(denied.Reason), log)
	case errors.Is(err, errLeaseLost):
		log.Warn("records: the lease on a message was lost; another replica delivers it")
		return nil
	case errors.Is(context.Cause(ctx), outbox.ErrShutdown):
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		log.Info("records: delivery handed back at shutdown")
		return reschedule(rctx, d.s.pool, c, 0, 0, "", true)
	}
	var de *deliveryError
	if errors.As(err, &de) {
		return d.retry(ctx, c, de.status, err, log)
	}
	return d.retry(ctx, c, 0, err, log)
}

// cancel ends message c without sending it.
func (d *Deliverer) cancel(ctx context.Context, c claimed, reason string, log *slog.Logger) error {
	if _, err := finish(ctx, d.s.pool, c, StateCancelled, 0, reason); err != nil {
		return err
	}
	log.Info("records: delivery cancelled", slog.String("reason", reason))
	return nil
}

// retry records the failure of an attempt at c: poisoned after
// MaxAttempts or for a failure that re-sending cannot fix, otherwise due
// again after the backoff.
func (d *Deliverer) retry(ctx context.Context, c claimed, status int, cause error, log *slog.Logger) error {
	var de *deliveryError
	permanent, after := false, time.Duration(0)
	if errors.As(cause, &de) {
		permanent, after = de.permanent, de.retryAfter
	}
	reason := cause.Error()
	if permanent || c.attempts >= d.o.MaxAttempts {
		if _, err := finish(ctx, d.s.pool, c, StatePoisoned, status, reason); err != nil {
			return err
		}
		log.Warn("records: delivery poisoned: the operator must look at it (Store.Poisoned, Store.Retry)",
			slog.Int64("patient_id", c.patient), slog.Int("attempts", c.attempts), slog.Bool("permanent", permanent),
			slog.String("last_error", reason))
		return nil
	}
	delay := d.backoff(c.attempts, after)
	log.Info("records: delivery failed; will retry", slog.Duration("in", delay), slog.String("err", reason))
	return reschedule(ctx, d.s.pool, c, delay, status, reason, false)
}

// backoff returns the wait after the n-th failed attempt: MinBackoff ×
// 2^(n-1), at most MaxBackoff, with jitter over its upper half, and at
// least after (a Retry-After), itself capped at MaxBackoff.
func (d *Deliverer) backoff(n int, after time.Duration) time.Duration {
	return outbox.Backoff(n, d.o.MinBackoff, d.o.MaxBackoff, after)
}

// deliveryError is a failed POST.
type deliveryError struct {
	status     int
	permanent  bool
	retryAfter time.Duration
	msg        string
}

// Error returns what failed, without patient data.
func (e *deliveryError) Error() string { return e.msg }

// permanentStatus reports whether re-sending the same Bundle cannot
// change an HTTP status: a malformed or refused Bundle. Authentication
// failures (401, 403), a wrong URL (404), timeouts (408), conflicts
// (409), rate limits (429) and server errors may be fixed by the operator
// or by time, so they are retried.
func permanentStatus(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusGone, http.StatusPreconditionFailed,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// maxResponseBytes bounds the transaction-response read.
const maxResponseBytes = 16 << 20

// send POSTs bundle to the subscription's base URL (a FHIR transaction)
// and checks the transaction-response: HTTP 200, a Bundle of type
// transaction-response with one entry per entry sent, each 200 or 201.
func (d *Deliverer) send(ctx context.Context, sub Subscription, bundle []byte, entries int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	authz, err := d.authorization(ctx, sub)
	if err != nil {
		return 0, &deliveryError{msg: "authentication: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.BaseURL, bytes.NewReader(bundle))
	if err != nil {
		return 0, &deliveryError{permanent: true, msg: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return 0, &deliveryError{msg: "POST: " + scrubURL(err.Error(), sub.BaseURL)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, &deliveryError{status: resp.StatusCode, msg: "reading the response: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusUnauthorized {
			d.forgetToken(sub.ID)
		}
		return resp.StatusCode, &deliveryError{status: resp.StatusCode, permanent: permanentStatus(resp.StatusCode),
			retryAfter: retryAfter(resp.Header.Get("Retry-After")), msg: "HTTP " + resp.Status}
	}
	return resp.StatusCode, checkResponse(entries, body)
}

// scrubURL keeps a network error's text but not the request URL's query
// (there is none in a base URL; this is belt and braces).
func scrubURL(msg, base string) string { return strings.ReplaceAll(msg, base, "[base URL]") }

// retryAfter reads a Retry-After header in seconds (0 when absent or a
// date).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// checkResponse checks a transaction-response to a Bundle of n entries.
func checkResponse(n int, got []byte) error {
	if len(got) > maxResponseBytes {
		return &deliveryError{status: 200, msg: "the transaction-response is too large"}
	}
	var resp struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response *struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(got, &resp); err != nil || resp.ResourceType != "Bundle" || resp.Type != "transaction-response" {
		return &deliveryError{status: 200, msg: "HTTP 200 without a transaction-response Bundle"}
	}
	if len(resp.Entry) != n {
		return &deliveryError{status: 200, msg: fmt.Sprintf("the transaction-response has %d entries for %d sent", len(resp.Entry), n)}
	}
	for i, e := range resp.Entry {
		if e.Response == nil {
			return &deliveryError{status: 200, msg: fmt.Sprintf("entry %d: no response", i)}
		}
		code, _, _ := strings.Cut(strings.TrimSpace(e.Response.Status), " ")
		n, err := strconv.Atoi(code)
		if err != nil {
			return &deliveryError{status: 200, msg: fmt.Sprintf("entry %d: unreadable status", i)}
		}
		if n != http.StatusOK && n != http.StatusCreated {
			// 4xx on an entry (412: several resources match the
			// identifier) will not change by re-sending; 5xx might.
			return &deliveryError{status: 200, permanent: n >= 400 && n < 500 && n != 408 && n != 429,
				msg: fmt.Sprintf("entry %d: status %d", i, n)}
		}
	}
	return nil
}
