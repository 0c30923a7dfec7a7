// Package outbox holds what the transactional outboxes of fsecgm share
// (the FHIR deliveries of package records, the e-mails of package notify):
// the workers' loop, the lease tokens and replica names, the retry delays
// and the grace given to an attempt in progress at shutdown. Each outbox
// keeps its own table and SQL; this package touches no database.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"
)

// Token returns 16 random bytes in hex: a lease token, which proves that
// the lease a worker acts on is still its own.
func Token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Replica returns a name for this process in the leases it takes: the host
// name, the process id and a random suffix.
func Replica() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), Token()[:8])
}

// Backoff returns the wait after the n-th failed attempt (n ≥ 1): lo ×
// 2^(n-1), at most hi, with random jitter over its upper half, and at
// least after (a Retry-After the other side asked for), itself capped at
// hi.
func Backoff(n int, lo, hi, after time.Duration) time.Duration {
	if hi < lo {
		hi = lo
	}
	b := lo
	for i := 1; i < n && b < hi; i++ {
		b *= 2
	}
	b = min(b, hi)
	b = b/2 + time.Duration(mrand.Int64N(int64(b/2)+1))
	if b < after {
		b = after
	}
	return min(b, hi)
}

// Work runs n workers until ctx is done; each calls next over and over,
// and waits poll after a call that found nothing to do (0) or failed (the
// error goes to onErr, unless ctx is done). It returns when every worker
// has returned.
func Work(ctx context.Context, n int, poll time.Duration, next func(context.Context) (int, error), onErr func(error)) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				done, err := next(ctx)
				if err != nil && ctx.Err() == nil {
					onErr(err)
				}
				if done == 0 || err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(poll):
					}
				}
			}
		})
	}
	wg.Wait()
}

// ErrShutdown is the cause of a Detach context cut short at shutdown.
var ErrShutdown = errors.New("outbox: attempt cut short by shutdown")

// Detach returns a context for one attempt that outlives parent by at most
// grace: when parent is done, the attempt gets grace to finish, then its
// context is cancelled with cause ErrShutdown. Call the CancelFunc when
// the attempt ends.
func Detach(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.AfterFunc(grace, func() { cancel(ErrShutdown) })
		context.AfterFunc(actx, func() { t.Stop() })
	})
	return actx, func() { stop(); cancel(nil) }
}
