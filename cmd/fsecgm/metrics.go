package main

import (
	"context"
	"errors"
)

// runMetrics is a placeholder until the engine is wired.
func runMetrics(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
