package outbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n              int
		lo, hi, after  time.Duration
		wantLo, wantHi time.Duration
	}{
		{1, 30 * time.Second, time.Hour, 0, 15 * time.Second, 30 * time.Second},
		{3, 30 * time.Second, time.Hour, 0, 60 * time.Second, 120 * time.Second},
		{20, 30 * time.Second, time.Hour, 0, 30 * time.Minute, time.Hour},
		{1, 30 * time.Second, time.Hour, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute},
		{1, 30 * time.Second, time.Hour, 3 * time.Hour, time.Hour, time.Hour},
		{1, time.Minute, time.Second, 0, 30 * time.Second, time.Minute},
	} {
		for range 50 {
			if got := Backoff(c.n, c.lo, c.hi, c.after); got < c.wantLo || got > c.wantHi {
				t.Errorf("Backoff(%d, %v, %v, %v) = %v, want in [%v, %v]", c.n, c.lo, c.hi, c.after, got, c.wantLo, c.wantHi)
			}
		}
	}
}

func TestDetach(t *testing.T) {
	t.Parallel()
	parent, stop := context.WithCancel(context.Background())
	ctx, done := Detach(parent, 50*time.Millisecond)
	defer done()
	stop()
	if ctx.Err() != nil {
		t.Fatal("the attempt was cut at once, not after the grace")
	}
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), ErrShutdown) {
		t.Errorf("cause %v, want ErrShutdown", context.Cause(ctx))
	}
	if len(Token()) != 32 || Token() == Token() {
		t.Error("tokens are not 32 random hex digits")
	}
}
