package web

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestDatabaseUnavailable checks that errors saying the database cannot be
// reached are answered 503 with Retry-After, and others are not.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	// A real connection error: a server that is not there.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, "postgres://x@/db?host="+t.TempDir()+"&sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	connErr := pool.Ping(ctx)
	if connErr == nil {
		t.Fatal("ping of no server worked")
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"connect error", fmt.Errorf("cgmstore: latest: %w", connErr), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"flattened by a store", errors.New("cgmstore: readings: postgres: terminating connection due to administrator command (SQLSTATE 57P01)"), true},
		{"connection failure class", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := DatabaseUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: DatabaseUnavailable = %v, want %v", tt.name, got, tt.want)
		}
		if tt.err == nil {
			continue
		}
		e := AsError(tt.err)
		if tt.want && (e.Status != 503 || e.Code != CodeUnavailable || e.Header.Get("Retry-After") == "") {
			t.Errorf("%s: AsError = %d %s %v", tt.name, e.Status, e.Code, e.Header)
		}
		if !tt.want && e.Status == 503 {
			t.Errorf("%s: answered 503", tt.name)
		}
	}
	pool.Close()
	if err := pool.Ping(context.Background()); !DatabaseUnavailable(err) {
		t.Errorf("closed pool: %v not recognised", err)
	}
}
