package main

import (
	"context"
	"errors"
)

// runReport is a placeholder until the subcommand report is built.
func runReport(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
