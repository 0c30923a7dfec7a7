// Package fhircheck checks FHIR JSON with validators that are not
// fsecgm's own, for the tests of what fsecgm emits (delivered Bundles, API
// answers): github.com/google/fhir/go for the R4 structure, always, and
// the project's node validator (../shared/tools/fhir-validate: base R4
// plus the CGM IG's profiles) when ../shared is present, installed once
// with npm ci into the user cache keyed by the hash of its files, as
// taccuino/fhir's tests do (the same cache entry). It is apart from
// package recordtest so that the fake record server does not bring the
// validators into the fsecgm binary.
package fhircheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// R4 validates one resource (or Bundle) as FHIR R4 JSON with Google's
// parser in validating mode (required elements, cardinality, primitive
// formats, required codes, reference types).
type R4 struct {
	mu sync.Mutex
	u  *jsonformat.Unmarshaller
}

// NewR4 returns the structure validator.
func NewR4(t testing.TB) *R4 {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return &R4{u: u}
}

// Validate returns the first structural error of data, or nil.
func (v *R4) Validate(data []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, err := v.u.Unmarshal(data)
	return err
}

// Node runs the project's node validator.
type Node struct {
	toolDir, igDir string
}

// sharedDir returns ../shared beside the repository root (the directory
// of go.mod), or "" when it is not there.
func sharedDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	for _, need := range []string{"tools/fhir-validate/validate.mjs", "tools/fhir-validate/package-lock.json", "fhir/cgm-ig/profiles"} {
		if _, err := os.Stat(filepath.Join(shared, need)); err != nil {
			return ""
		}
	}
	return shared
}

// NewNode returns the node validator, installing it once in the user
// cache, or skips the test loudly when ../shared or node/npm are missing.
func NewNode(t testing.TB) *Node {
	t.Helper()
	shared := sharedDir()
	if shared == "" {
		t.Skip("SKIPPED: ../shared/tools/fhir-validate not found: the IG profile validation (node) did not run; " +
			"only the Go R4 structure validation did")
	}
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIPPED: %s not installed: the IG profile validation (node) did not run", bin)
		}
	}
	src := filepath.Join(shared, "tools", "fhir-validate")
	files := []string{"validate.mjs", "package.json", "package-lock.json"}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f))
		h.Write(b)
	}
	dir, err := NPMInstall(t, "fsecgm-fhir-validate", hex.EncodeToString(h.Sum(nil))[:16], func(tmp string) error {
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Node{toolDir: dir, igDir: filepath.Join(shared, "fhir", "cgm-ig")}
}

// NPMInstall returns a directory under the user cache (root/key) holding
// the files fill writes and their node_modules installed by npm ci,
// installing it on first use (in a temporary directory renamed into
// place, so that concurrent test processes do not see half an install).
func NPMInstall(t testing.TB, root, key string, fill func(dir string) error) (string, error) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, root)
	dir := filepath.Join(base, key)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("npm ci: " + err.Error() + "\n" + string(out))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules")); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}

// NodeReport is the part of validate.mjs --json output the tests read.
type NodeReport struct {
	Valid   bool `json:"valid"`
	Reports []struct {
		File     string `json:"file"`
		Resource string `json:"resource"`
		Valid    bool   `json:"valid"`
		Profiles []struct {
			Profile string `json:"profile"`
		} `json:"profiles"`
		Issues []struct {
			Severity string `json:"severity"`
			Path     string `json:"path"`
			Message  string `json:"message"`
		} `json:"issues"`
	} `json:"reports"`
}

// Profiled counts the resources checked against at least one CGM profile.
func (r NodeReport) Profiled() int {
	n := 0
	for _, x := range r.Reports {
		if len(x.Profiles) > 0 {
			n++
		}
	}
	return n
}

// Errors lists the error issues as "file resource: path: message".
func (r NodeReport) Errors() []string {
	var out []string
	for _, x := range r.Reports {
		for _, is := range x.Issues {
			if is.Severity == "error" {
				out = append(out, filepath.Base(x.File)+" "+x.Resource+": "+is.Path+": "+is.Message)
			}
		}
	}
	return out
}

// Validate runs validate.mjs with args on the files (name → JSON) and
// returns its exit status and report.
func (n *Node) Validate(t testing.TB, args []string, files map[string][]byte) (int, NodeReport) {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"validate.mjs", "--ig", n.igDir, "--json"}, args...)
	for name, data := range files {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = n.toolDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("node validate.mjs: %v\n%s", err, stderr.String())
	}
	var rep NodeReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("node validate.mjs (exit %d): unreadable output: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	return code, rep
}
