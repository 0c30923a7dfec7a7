package dbtest_test

import (
	"context"
	"testing"

	"fsecgm/migrations"
	"fsecgm/migrations/dbtest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestPoolsAreIsolated: two pools are two migrated databases; what one
// test writes, the other does not see.
func TestPoolsAreIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := dbtest.Pool(t), dbtest.Pool(t)
	if ok, err := migrations.Current(ctx, a); err != nil || !ok {
		t.Fatalf("clone is not migrated: %v, %v", ok, err)
	}
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var inB bool
	if err := b.QueryRow(ctx, "SELECT to_regclass('only_in_a') IS NOT NULL").Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if inB {
		t.Error("a table created in one test database appears in another")
	}
	var dbA, dbB string
	if err := a.QueryRow(ctx, "SELECT current_database()").Scan(&dbA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, "SELECT current_database()").Scan(&dbB); err != nil {
		t.Fatal(err)
	}
	if dbA == dbB {
		t.Errorf("both pools are on database %s", dbA)
	}
}

// TestEmptyURL: an empty database has every migration pending.
func TestEmptyURL(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.EmptyURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pending, err := migrations.Pending(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(migrations.Versions(), pending); diff != "" {
		t.Errorf("Pending on an empty database (-want +got):\n%s", diff)
	}
}
