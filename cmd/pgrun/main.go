// Command pgrun runs a command with a private, throwaway PostgreSQL server.
//
//	go run ./cmd/pgrun -- go test -race ./...
//
// It starts a server from the installed PostgreSQL binaries in a new
// temporary directory (fsync off: the data is thrown away), on a Unix socket
// only, creates the database "fsecgm", runs the command with DATABASE_URL and
// TEST_DATABASE_URL pointing at it, then stops the server, removes the
// directory and exits with the command's status.
//
// When the PostgreSQL server is not installed, pgrun installs it from the OS
// packages on Debian and Ubuntu ("apt-get update && apt-get install -y
// postgresql", as root); elsewhere, or without root, it says what to
// install. "pgrun -install" does only that (for "make run").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"fsecgm/migrations/pgserver"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pgrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", "fsecgm", "name of the database to create")
	keep := fs.Bool("keep", false, "keep the data directory after the command ends (its path is printed)")
	verbose := fs.Bool("v", false, "log the server's start and stop")
	installOnly := fs.Bool("install", false, "only make sure the PostgreSQL server is installed (installing it if needed), then exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pgrun [flags] -- command [args...]\n\nRuns command with a private PostgreSQL server (DATABASE_URL and TEST_DATABASE_URL set).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cmdArgs := fs.Args()
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	if len(cmdArgs) == 0 && !*installOnly {
		fs.Usage()
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// The command gets the signals (it shares the terminal's process
	// group); pgrun waits for it, then cleans up.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	ctx := context.Background()

	if _, err := pgserver.FindBinDir(); errors.Is(err, pgserver.ErrNotInstalled) {
		fmt.Fprintf(stderr, "pgrun: PostgreSQL server not found; installing it from the OS packages\n")
		if err := pgserver.Install(ctx, stderr); err != nil {
			fmt.Fprintf(stderr, "pgrun: %v\n", err)
			return 1
		}
	}
	if *installOnly {
		return 0
	}

	dir, err := os.MkdirTemp("", "pgrun-")
	if err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
		return 1
	}
	cleanup := func() {
		if *keep {
			fmt.Fprintf(stderr, "pgrun: data directory kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}
	// The server may run as the postgres user: it must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
		cleanup()
		return 1
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	srv, err := pgserver.Start(startCtx, pgserver.Options{
		DataDir:  dir + "/data",
		NoSync:   true,
		Settings: map[string]string{"max_connections": "300"},
		Logger:   logger,
	})
	if err == nil {
		err = srv.CreateDatabase(startCtx, *database)
	}
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
		if srv != nil {
			_ = srv.Stop()
		}
		cleanup()
		return 1
	}

	url := srv.URL(*database)
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "TEST_DATABASE_URL="+url)
	code := 0
	if err := cmd.Run(); err != nil {
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			code = xe.ExitCode()
			if code < 0 { // killed by a signal
				code = 1
			}
		} else {
			fmt.Fprintf(stderr, "pgrun: %v\n", err)
			code = 1
		}
	}
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
	}
	cleanup()
	return code
}
