package migrations

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ApplyFS applies the migrations of fsys instead of the embedded ones.
func ApplyFS(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (Result, error) {
	return apply(ctx, pool, fsys)
}

// Embedded is the embedded migrations.
var Embedded fs.FS = embedded
