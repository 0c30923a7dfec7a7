package main

import (
	"context"
	"errors"
)

// runMigrate is a placeholder until the subcommand migrate is built.
func runMigrate(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
