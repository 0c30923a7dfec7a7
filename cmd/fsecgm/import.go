package main

import (
	"context"
	"errors"
)

// runImport is a placeholder until the subcommand import is built.
func runImport(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
