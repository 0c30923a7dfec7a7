package main

import (
	"context"
	"errors"
)

// runDevToken is a placeholder until the subcommand dev-token is built.
func runDevToken(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
