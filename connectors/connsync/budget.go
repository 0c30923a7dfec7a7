package connsync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"fsecgm/connectors/internal/upstream"
)

// BudgetConfig configures a request budget: a token bucket shared by every
// replica through the sync_budgets table.
type BudgetConfig struct {
	// PerMinute is the most requests a minute the budget allows (its
	// rate's ceiling).
	PerMinute float64
	// Burst is how many requests may go at once after a quiet spell
	// (default: a tenth of a minute's worth, at least 1).
	Burst float64
	// Recover is how long the rate takes to grow back from a cut to
	// PerMinute (default 30 minutes).
	Recover time.Duration
	// MaxWait is the longest a request waits for the budget before the
	// sync gives up and backs off (default 20 seconds).
	MaxWait time.Duration
}

// DefaultBudgetRecover is how long a cut budget takes to grow back.
const DefaultBudgetRecover = 30 * time.Minute

// Budget is a request budget shared by every replica: a token bucket in
// PostgreSQL (sync_budgets), refilled continuously at its rate up to its
// burst. Each request takes a token, waiting while the bucket is in debt
// ([Budget.Wait]); the claim of due work asks how many tokens are there
// ([Budget.Available]) so that no replica leases more syncs than the budget
// lets it make soon. A 429 from the remote system cuts the rate in half
// (at most once every 5 seconds, however many requests in flight it
// hits) and blocks the budget for its Retry-After ([Budget.Cut]); the rate
// then grows back linearly to its ceiling over Recover: additive increase,
// multiplicative decrease, so that every replica behind one egress address
// adapts together to a limit nobody publishes.
type Budget struct {
	name    string
	pool    *pgxpool.Pool
	cfg     BudgetConfig
	maxWait time.Duration
}

// BudgetError is a request that would have waited longer than the budget's
// MaxWait: it was not made.
type BudgetError struct {
	// Budget is the budget's name; Wait how long the request would have
	// waited.
	Budget string
	Wait   time.Duration
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("connsync: request budget %q spent: next request in %s", e.Budget, e.Wait.Round(time.Second))
}

// newBudget stores (or updates) the budget's configuration and returns it.
func newBudget(ctx context.Context, pool *pgxpool.Pool, name string, cfg BudgetConfig) (*Budget, error) {
	if cfg.PerMinute <= 0 || math.IsInf(cfg.PerMinute, 0) || math.IsNaN(cfg.PerMinute) {
		return nil, fmt.Errorf("connsync: budget %s: %v requests a minute: want a positive number", name, cfg.PerMinute)
	}
	if cfg.Burst < 1 {
		cfg.Burst = max(1, math.Floor(cfg.PerMinute/10))
	}
	if cfg.Recover <= 0 {
		cfg.Recover = DefaultBudgetRecover
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 20 * time.Second
	}
	rate := cfg.PerMinute / 60
	// The floor of a cut rate: a request a minute, or the ceiling if lower.
	minRate := min(rate, 1.0/60)
	_, err := pool.Exec(ctx, `
		INSERT INTO sync_budgets AS b (name, rate, min_rate, max_rate, burst, recover_seconds, tokens)
		VALUES ($1, $2, $3, $2, $4, $5, $4)
		ON CONFLICT (name) DO UPDATE SET min_rate = excluded.min_rate, max_rate = excluded.max_rate,
			burst = excluded.burst, recover_seconds = excluded.recover_seconds,
			rate = greatest(excluded.min_rate, least(b.rate, excluded.max_rate)), tokens = least(b.tokens, excluded.burst)`,
		name, rate, minRate, cfg.Burst, cfg.Recover.Seconds())
	if err != nil {
		return nil, fmt.Errorf("connsync: budget %s: %w", name, err)
	}
	return &Budget{name: name, pool: pool, cfg: cfg, maxWait: cfg.MaxWait}, nil
}

// Name returns the budget's name.
func (b *Budget) Name() string { return b.name }

// budgetRate and budgetTokens are the SQL of a bucket's rate and tokens
// now, from its row b.
const (
	budgetRate   = `least(b.max_rate, b.rate + b.max_rate / b.recover_seconds * greatest(0, extract(epoch FROM now() - b.at)))`
	budgetTokens = `least(b.burst, b.tokens + ` + budgetRate + ` * greatest(0, extract(epoch FROM now() - b.at)))`
)

// Available returns how many requests the budget allows now (0 while it
// is blocked or in debt).
func (b *Budget) Available(ctx context.Context) (float64, error) {
	var tokens float64
	var blocked bool
	err := b.pool.QueryRow(ctx, `SELECT `+budgetTokens+`, coalesce(b.blocked_until > now(), false)
		FROM sync_budgets b WHERE b.name = $1`, b.name).Scan(&tokens, &blocked)
	if err != nil {
		return 0, fmt.Errorf("connsync: budget %s: %w", b.name, err)
	}
	if blocked || tokens < 0 {
		return 0, nil
	}
	return tokens, nil
}

// reserve takes n tokens (possibly into debt) and returns how long the
// caller must wait before its requests may go.
func (b *Budget) reserve(ctx context.Context, n float64) (time.Duration, error) {
	var tokens, rate, blocked float64
	err := b.pool.QueryRow(ctx, `
		UPDATE sync_budgets b SET rate = `+budgetRate+`, tokens = `+budgetTokens+` - $2::float8, at = now(),
			requests = b.requests + round($2::float8)::bigint
		WHERE b.name = $1
		RETURNING b.tokens, b.rate, coalesce(greatest(0, extract(epoch FROM b.blocked_until - now())), 0)`,
		b.name, n).Scan(&tokens, &rate, &blocked)
	if err != nil {
		return 0, fmt.Errorf("connsync: budget %s: %w", b.name, err)
	}
	wait := blocked
	if tokens < 0 {
		wait = max(wait, -tokens/rate)
	}
	return time.Duration(wait * float64(time.Second)), nil
}

// Wait takes a token for one request, waiting until the budget allows it.
// A wait longer than the budget's MaxWait is not made: the token is given
// back and the error is a *BudgetError.
func (b *Budget) Wait(ctx context.Context) error {
	wait, err := b.reserve(ctx, 1)
	if err != nil {
		return err
	}
	if wait <= 0 {
		return nil
	}
	limit := b.maxWait
	if dl, ok := ctx.Deadline(); ok {
		// Waiting into the request's deadline would turn a budget that
		// says "later" into a timeout.
		limit = min(limit, time.Until(dl)-time.Second)
	}
	if wait > limit {
		_, _ = b.reserve(context.WithoutCancel(ctx), -1)
		return &BudgetError{Budget: b.name, Wait: wait}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Cut records a 429 (or a protection page) from the remote system: the
// rate halves (not below its floor, at most once every 5 seconds) and no
// request goes before retryAfter has passed.
func (b *Budget) Cut(ctx context.Context, retryAfter time.Duration) error {
	_, err := b.pool.Exec(ctx, `
		UPDATE sync_budgets SET
			rate = CASE WHEN cut_at IS NULL OR cut_at < now() - interval '5 seconds' THEN greatest(min_rate, rate / 2) ELSE rate END,
			cuts = cuts + CASE WHEN cut_at IS NULL OR cut_at < now() - interval '5 seconds' THEN 1 ELSE 0 END,
			cut_at = CASE WHEN cut_at IS NULL OR cut_at < now() - interval '5 seconds' THEN now() ELSE cut_at END,
			tokens = least(tokens, 0),
			blocked_until = CASE WHEN $2::interval > '0'::interval THEN greatest(blocked_until, now() + $2::interval)
				ELSE blocked_until END
		WHERE name = $1`, b.name, retryAfter)
	if err != nil {
		return fmt.Errorf("connsync: budget %s: %w", b.name, err)
	}
	return nil
}

// BudgetState is a budget as the operator sees it.
type BudgetState struct {
	Name string
	// PerMinute is the rate now, MaxPerMinute its ceiling, in requests a
	// minute.
	PerMinute, MaxPerMinute float64
	// Tokens is what the bucket holds now (negative: in debt).
	Tokens float64
	// BlockedUntil is when a Retry-After ends (zero when none).
	BlockedUntil time.Time
	// Cuts counts the 429s that cut the rate; Requests the requests made.
	Cuts, Requests int64
}

// State returns the budget as it stands.
func (b *Budget) State(ctx context.Context) (BudgetState, error) {
	st := BudgetState{Name: b.name}
	var blocked *time.Time
	err := b.pool.QueryRow(ctx, `SELECT `+budgetRate+` * 60, b.max_rate * 60, `+budgetTokens+`, b.blocked_until, b.cuts, b.requests
		FROM sync_budgets b WHERE b.name = $1`, b.name).Scan(&st.PerMinute, &st.MaxPerMinute, &st.Tokens, &blocked, &st.Cuts, &st.Requests)
	if err != nil {
		return st, fmt.Errorf("connsync: budget %s: %w", b.name, err)
	}
	st.BlockedUntil = utc(blocked)
	return st, nil
}

// budgetTransport makes every request of an HTTP client take a token of
// its budget first, and cuts the budget when the answer is a 429 or (with
// cutOn403HTML) a protection page: the requests of every source's client go
// through the budget, logins at connect time included.
type budgetTransport struct {
	base   http.RoundTripper
	budget *Budget
	// htmlPages: an HTML 403 is a protection page that limits the address
	// (Cloudflare, in front of LibreLinkUp).
	htmlPages bool
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p, ok := req.Context().Value(prepaidKey{}).(*prepaid); ok && p.budget == t.budget && p.n.Add(-1) >= 0 {
		// Paid before: the caller holds a database connection (and maybe
		// a lock) that waiting for the budget's row must not queue behind.
	} else if err := t.budget.Wait(req.Context()); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	cut := resp.StatusCode == http.StatusTooManyRequests ||
		t.htmlPages && resp.StatusCode == http.StatusForbidden &&
			strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "text/html")
	if cut {
		_ = t.budget.Cut(context.WithoutCancel(req.Context()), upstream.RetryAfter(resp.Header.Get("Retry-After"), time.Now(), 6*time.Hour))
	}
	return resp, nil
}

// prepaid is a number of requests paid for in advance (prepay).
type prepaid struct {
	budget *Budget
	n      atomic.Int32
}

type prepaidKey struct{}

// prepay takes n tokens of b before a caller makes requests while holding
// a database connection: the budget's transport then takes them from ctx
// instead of asking the database (which, with the pool's connections held
// by syncs waiting for a login lock, could wait for ever). release gives
// back the tokens not used; call it once the connection is released.
func prepay(ctx context.Context, b *Budget, n int32) (context.Context, func(), error) {
	if b == nil || n <= 0 {
		return ctx, func() {}, nil
	}
	for range n {
		if err := b.Wait(ctx); err != nil {
			return ctx, func() {}, err
		}
	}
	p := &prepaid{budget: b}
	p.n.Store(n)
	return context.WithValue(ctx, prepaidKey{}, p), func() {
		if left := p.n.Swap(0); left > 0 {
			_, _ = b.reserve(context.Background(), -float64(left))
		}
	}, nil
}

// withBudget returns a copy of hc whose requests go through budget b.
func withBudget(hc *http.Client, b *Budget, htmlPages bool) *http.Client {
	if b == nil {
		return hc
	}
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &budgetTransport{base: base, budget: b, htmlPages: htmlPages}
	return &c
}

// asBudgetError finds a *BudgetError in err's chain.
func asBudgetError(err error) (*BudgetError, bool) {
	var be *BudgetError
	ok := errors.As(err, &be)
	return be, ok
}
