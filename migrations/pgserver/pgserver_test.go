package pgserver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/migrations/pgserver"

	"github.com/jackc/pgx/v5"
)

// TestStartStop starts a private server in a new directory, uses it,
// finds it again from a second Start, stops it, and starts it again on
// the same data.
func TestStartStop(t *testing.T) {
	if _, err := pgserver.FindBinDir(); errors.Is(err, pgserver.ErrNotInstalled) {
		t.Fatalf("%v (make test installs it)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // reachable by the postgres user when we are root
		t.Fatal(err)
	}
	opts := pgserver.Options{DataDir: filepath.Join(dir, "data"), NoSync: true}
	srv, err := pgserver.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := srv.CreateDatabase(ctx, "fsecgm"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDatabase(ctx, "fsecgm"); err != nil {
		t.Errorf("CreateDatabase of an existing database: %v", err)
	}
	conn, err := pgx.Connect(ctx, srv.URL("fsecgm"))
	if err != nil {
		t.Fatal(err)
	}
	var listen, fsync string
	if err := conn.QueryRow(ctx, "SELECT current_setting('listen_addresses'), current_setting('fsync')").Scan(&listen, &fsync); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if listen != "" || fsync != "off" {
		t.Errorf("listen_addresses = %q, fsync = %q; want \"\" and off", listen, fsync)
	}

	// A second Start on the same directory finds the running server, and
	// stopping that handle leaves the server running.
	same, err := pgserver.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if same.URL("x") != srv.URL("x") {
		t.Errorf("second Start URL %s, want %s", same.URL("x"), srv.URL("x"))
	}
	if err := same.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, srv.URL("fsecgm")); err != nil {
		t.Errorf("the server stopped with a handle that did not start it: %v", err)
	} else {
		conn.Close(ctx)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v, want it gone", err)
	}

	// The data survives a restart.
	srv, err = pgserver.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err = pgx.Connect(ctx, srv.URL("fsecgm"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 42 {
		t.Errorf("after restart: %d, %v; want 42", x, err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := pgserver.Start(ctx, pgserver.Options{}); err == nil {
		t.Error("Start without a data directory succeeded")
	}
	long := t.TempDir()
	for len(long) < 120 {
		long = filepath.Join(long, "aaaaaaaaaa")
	}
	if _, err := pgserver.Start(ctx, pgserver.Options{DataDir: t.TempDir(), SocketDir: long}); err == nil {
		t.Error("Start with a socket path too long succeeded")
	}
	if pgserver.InstallHint() == "" {
		t.Error("InstallHint is empty")
	}
}
