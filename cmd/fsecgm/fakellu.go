package main

import (
	"context"
	"errors"
)

// runFakeLibreLinkUp is a placeholder until the subcommand fake-librelinkup is built.
func runFakeLibreLinkUp(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
