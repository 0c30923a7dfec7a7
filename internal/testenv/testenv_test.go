package testenv

import (
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestOnlyTestsImport: the test environment is for tests; a file of the
// module that is not a test importing it (or webenv) would build the
// service on test parts. Its own packages (webenv on testenv) are the
// exception.
func TestOnlyTestsImport(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.HasPrefix(path, filepath.Join(root, "internal", "testenv")+string(filepath.Separator)) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, "fsecgm/internal/testenv") {
				t.Errorf("%s imports %s: only tests may", strings.TrimPrefix(path, root+"/"), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d files read: the walk missed the module", files)
	}
}

// TestNew: the environment's stores work on its database and read its
// clock; the logger writes into Logs.
func TestNew(t *testing.T) {
	start := time.Date(2026, 4, 5, 10, 0, 0, 0, time.UTC)
	e := New(t, WithClock(start))
	ctx := context.Background()
	if !e.Now().Equal(start) {
		t.Errorf("Now %v, want %v", e.Now(), start)
	}
	e.Clock.Advance(time.Hour)
	if !e.Now().Equal(start.Add(time.Hour)) {
		t.Errorf("Now after Advance %v", e.Now())
	}
	p, created, err := e.Store.EnsurePatient(ctx, "RSSMRA80A01H501U", "Europe/Rome")
	if err != nil || !created {
		t.Fatalf("EnsurePatient: %v %v", created, err)
	}
	var n int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM patients WHERE id = $1`, p.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("patient in the environment's database: %d %v", n, err)
	}
	e.Logger.Info("hello from the test")
	if !strings.Contains(e.Logs.String(), "hello from the test") {
		t.Errorf("logs %q", e.Logs.String())
	}
	if other := New(t); other.Clock != nil || other.Pool == e.Pool {
		t.Error("a second environment shares the first's clock or pool")
	}
}
