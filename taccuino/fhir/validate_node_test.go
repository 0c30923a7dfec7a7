package fhir

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
	"testing"
	"time"
)

// sharedDir returns ../shared beside the repository root (the directory of
// go.mod), or "" when it is not there (as in CI without the shared folder).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
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
	if env := os.Getenv("FSECGM_SHARED"); env != "" {
		shared = env // a worktree away from the shared data
	}
	for _, need := range []string{"tools/fhir-validate/validate.mjs", "tools/fhir-validate/package-lock.json", "fhir/cgm-ig/profiles"} {
		if _, err := os.Stat(filepath.Join(shared, need)); err != nil {
			return ""
		}
	}
	return shared
}

// nodeValidator returns the directory of a ready copy of the shared
// fhir-validate tool, installed once with npm ci in the user cache (keyed by
// the hash of its files, so a changed tool is installed again), or skips
// the test loudly when the tool or node/npm are missing.
func nodeValidator(t *testing.T) (toolDir, igDir string) {
	t.Helper()
	shared := sharedDir(t)
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
		h.Write([]byte(f))
		h.Write(readFile(t, filepath.Join(src, f)))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "fsecgm-fhir-validate")
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return dir, filepath.Join(shared, "fhir", "cgm-ig")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // nothing left after a successful rename
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, f), readFile(t, filepath.Join(src, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci for the fhir-validate tool: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules")); statErr != nil {
			t.Fatalf("install fhir-validate in %s: %v", dir, err)
		} // another test process installed it first
	}
	return dir, filepath.Join(shared, "fhir", "cgm-ig")
}

// nodeReport is the part of validate.mjs --json output the test reads.
type nodeReport struct {
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

// runNode runs validate.mjs on the named files and returns its exit status
// and report.
func runNode(t *testing.T, toolDir, igDir string, args []string, files map[string][]byte) (int, nodeReport) {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"validate.mjs", "--ig", igDir, "--json"}, args...)
	for name, data := range files {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = toolDir
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
	var rep nodeReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("node validate.mjs (exit %d): unreadable output: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	return code, rep
}

// logFailures reports the failing resources of a node run.
func logFailures(t *testing.T, rep nodeReport, except string) {
	t.Helper()
	for _, r := range rep.Reports {
		if r.Valid || (except != "" && strings.HasSuffix(r.File, except)) {
			continue
		}
		for _, is := range r.Issues {
			if is.Severity == "error" {
				t.Errorf("%s %s: %s: %s", filepath.Base(r.File), r.Resource, is.Path, is.Message)
			}
		}
	}
}

// TestIGProfilesNode validates what the package writes with the project's
// independent node validator (R4 base rules plus the CGM IG's profiles):
// first the IG resources with --require-profile (every Observation, Device,
// DiagnosticReport and Bundle must fall under a CGM profile and pass it),
// then the rest (local figures, CodeSystem, answers to a submission) and a
// deliberately broken resource, which must be the only failure.
func TestIGProfilesNode(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the IG profile validation (node) did not run")
	}
	toolDir, igDir := nodeValidator(t)
	all := emitted(t)

	ig := summaryInput(t, BundleTransaction)
	ig.IGOnly, ig.PDF = true, examplePDF
	igBundle, err := SummaryBundle(ig)
	if err != nil {
		t.Fatal(err)
	}
	code, rep := runNode(t, toolDir, igDir, []string{"--require-profile"}, map[string][]byte{
		"summary-ig":           mustJSON(t, igBundle),
		"readings-transaction": all["readings-transaction"],
		"device":               all["device"],
		"report":               all["report"],
	})
	if code != 0 || !rep.Valid {
		logFailures(t, rep, "")
		t.Fatalf("IG resources: validate.mjs --require-profile exit status %d, want 0", code)
	}
	profiled := 0
	for _, r := range rep.Reports {
		if len(r.Profiles) > 0 {
			profiled++
		}
	}
	// 2 Bundles + 10 summary entries (Device, 8 Observations, the report)
	// + 6 readings entries (Device, 5 readings) + Device + report.
	if profiled < 20 {
		t.Errorf("only %d resources were checked against a CGM profile", profiled)
	}

	// The rest, with a broken control: our GMI with the unit text "mg/dL".
	var gmi map[string]any
	for _, e := range igBundle.Entry {
		if o, ok := e.Resource.(*Observation); ok && o.Code.Coding[0].Code == CodeGMI {
			broken := *o
			broken.ValueQuantity = &Quantity{Value: o.ValueQuantity.Value, Unit: "mg/dL", System: UCUM, Code: "%"}
			if err := json.Unmarshal(mustJSON(t, broken), &gmi); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, rep = runNode(t, toolDir, igDir, nil, map[string][]byte{
		"summary-collection": all["summary-collection"],
		"patient":            all["patient"],
		"codesystem":         all["codesystem"],
		"outcome":            all["outcome"],
		"response":           all["response"],
		"broken-control":     mustJSON(t, gmi),
	})
	logFailures(t, rep, "broken-control.json")
	controlFailed := false
	for _, r := range rep.Reports {
		if strings.HasSuffix(r.File, "broken-control.json") && !r.Valid {
			controlFailed = true
		}
	}
	if code != 1 || !controlFailed {
		t.Errorf("exit status %d with the broken control failing: %v; want 1 and true (is the validator checking profiles?)", code, controlFailed)
	}
	if len(rep.Reports) < 25 {
		t.Errorf("only %d resources reported", len(rep.Reports))
	}
}
