// Command faults runs scripted fault scenarios against fsecgm on loopback and
// prints, for each check, PASS or FAIL and what it checked, then
//
//	faults: N passed, M failed
//
// It builds the fsecgm binary, starts a private PostgreSQL (pgserver) in a
// temporary directory, a fake LibreLinkUp in this process (so that its
// faults can be switched), and "fsecgm serve --dev" as a child process,
// with simulated patients connected to the fake. The scenarios:
//
//	a  kill -9 of the service in the middle of a large CSV import and in
//	   the middle of syncs, then restart: the stored readings are exactly
//	   the expected set (no loss, no duplicates);
//	b  PostgreSQL stopped for 30 s and restarted under load: requests fail
//	   fast with 503, readiness flips, the service recovers by itself,
//	   nothing is lost;
//	c  the fake LibreLinkUp answering each fault of the connectors under
//	   load: each connection records the right state and error kind, the
//	   service keeps serving, and once the faults are gone nothing is lost;
//	d  the fake FHIR record server failing and slow (when the service
//	   delivers to record servers).
//
// Waits that the service would sit out (a 5-minute lockout, a 2-minute
// Retry-After) are fast-forwarded in the database, as if time had passed.
//
//	go run ./cmd/faults            # all scenarios, a few minutes
//	go run ./cmd/faults -only b    # one scenario
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "abcd", "scenarios to run (letters a to d)")
	patients := fs.Int("patients", 20, "simulated patients with a LibreLinkUp connection")
	outage := fs.Duration("outage", 30*time.Second, "how long PostgreSQL stays down in scenario b")
	keep := fs.Bool("keep", false, "keep the temporary directory (logs, database) for inspection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *patients < 17 || *patients > 200 {
		fmt.Fprintln(stderr, "faults: -patients must be 17 to 200 (scenario c uses 16 faulty accounts and a healthy one)")
		return 2
	}
	r := &report{out: stdout}
	h, err := newHarness(ctx, stderr, *patients, *keep)
	if err != nil {
		fmt.Fprintf(stderr, "faults: setup: %v\n", err)
		r.check(false, "setup: %v", err)
		r.summary()
		return 1
	}
	defer h.close()
	scenarios := []struct {
		letter string
		name   string
		run    func(context.Context, *harness, *report) error
	}{
		{"a", "kill -9 during an import and during syncs", scenarioKill},
		{"b", "PostgreSQL down for a while under load", func(ctx context.Context, h *harness, r *report) error {
			return scenarioPostgresDown(ctx, h, r, *outage)
		}},
		{"c", "LibreLinkUp faults under load", scenarioLibreLinkUp},
		{"d", "record server failing and slow", scenarioRecords},
	}
	for _, s := range scenarios {
		if !strings.Contains(*only, s.letter) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stdout, "== %s: %s\n", s.letter, s.name)
		start := time.Now()
		if err := s.run(ctx, h, r); err != nil {
			r.check(false, "%s: scenario could not complete: %v", s.letter, err)
		}
		fmt.Fprintf(stdout, "   (%s in %s)\n", s.letter, time.Since(start).Round(time.Second))
	}
	if *keep || r.failed > 0 {
		fmt.Fprintf(stdout, "logs and data kept in %s\n", h.dir)
		h.keep = true
	}
	r.summary()
	if r.failed > 0 {
		return 1
	}
	return 0
}

// report prints the checks and counts them.
type report struct {
	out            io.Writer
	passed, failed int
}

// check prints PASS or FAIL and the sentence.
func (r *report) check(ok bool, format string, args ...any) bool {
	word := "PASS"
	if ok {
		r.passed++
	} else {
		r.failed++
		word = "FAIL"
	}
	fmt.Fprintf(r.out, "%s %s\n", word, fmt.Sprintf(format, args...))
	return ok
}

// summary prints the final line.
func (r *report) summary() {
	fmt.Fprintf(r.out, "faults: %d passed, %d failed\n", r.passed, r.failed)
}
