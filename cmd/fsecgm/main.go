// Command fsecgm brings continuous glucose monitoring into the regional
// health record: it computes glucometrics from CGM data, stores readings,
// syncs sensors from LibreLinkUp and serves the taccuino, the FHIR API and
// the AGP reports.
//
// Run "fsecgm help" for the list of subcommands and "fsecgm CMD --help" for
// the flags of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // IANA zones even on minimal images
)

// env is what a subcommand may touch of the outside world. Nothing else reads
// os.Args, os.Getenv or the standard streams, so subcommands are testable.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand, in the order "fsecgm help" shows them.
func commands() []command {
	return []command{
		{"metrics", "compute the glucometrics of a CSV file or of a stored patient", runMetrics},
		{"import", "import a LibreView or long CSV file, or an export of the patient's own devices, into the store", runImport},
		{"vitals", "print the daily activity, sleep, heart rate and blood pressure of a device export as JSON", runVitals},
		{"migrate", "apply the database migrations and report the readings storage", runMigrate},
		{"serve", "run the service: API, taccuino, FHIR, reports and sensor sync", runServe},
		{"sync-worker", "run only the LibreLinkUp sync scheduler (a sync replica without HTTP)", runSyncWorker},
		{"follower-account", "configure the region's LibreLinkUp follower account (add, set-credentials, list)", runFollowerAccount},
		{"bindings", "list the connections found following someone else and remove the readings they stored", runBindings},
		{"dev-token", "print a development bearer token (accepted only by serve --dev)", runDevToken},
		{"fake-librelinkup", "run a fake LibreLinkUp server with simulated patients", runFakeLibreLinkUp},
		{"fake-records", "run a fake FHIR record server (diabetology record, EHR, GP record) for deliveries", runFakeRecords},
		{"notifications", "list the access-notification e-mails waiting for the operator, or send one again", runNotifications},
		{"fhir", "print the FHIR summary Bundle of a CSV file", runFHIR},
		{"report", "write the AGP report of a CSV file as PDF or HTML", runReport},
		{"population", "refresh the population view, or write a de-identified, k-anonymous export for a study", runPopulation},
	}
}

// exitError carries the process exit status of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError makes err exit with status 2 (bad usage or bad input).
func usageError(err error) error { return &exitError{code: 2, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run(ctx, e, []string{args[1], "--help"})
		}
		printHelp(e.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(e.Stderr, "fsecgm %s: %v\n", c.name, err)
		var xe *exitError
		if errors.As(err, &xe) {
			return xe.code
		}
		return 1
	}
	fmt.Fprintf(e.Stderr, "fsecgm: unknown command %q\n\n", args[0])
	printHelp(e.Stderr)
	return 2
}

func printHelp(w io.Writer) {
	cs := commands()
	fmt.Fprintf(w, "fsecgm — continuous glucose monitoring for the regional health record (FSE)\n\nUsage: fsecgm COMMAND [flags]\n\nCommands:\n")
	width := 0
	for _, c := range cs {
		width = max(width, len(c.name))
	}
	for _, c := range cs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n\nRun \"fsecgm COMMAND --help\" for the flags of a command.\n", width, "help", "show this help")
}

// newFlagSet returns a flag set that writes its usage to e.Stderr and
// returns errors instead of exiting.
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("fsecgm "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fsecgm %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	return nil
}
