package main

import (
	"context"
	"errors"
)

// runFHIR is a placeholder until the subcommand fhir is built.
func runFHIR(ctx context.Context, e *env, args []string) error {
	return errors.New("not built yet")
}
