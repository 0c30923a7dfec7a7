package main

import (
	"context"
	"errors"
)

// runServe is a placeholder until the subcommand serve is built.
func runServe(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
