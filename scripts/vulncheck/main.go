// Command vulncheck runs govulncheck on the module against the Go
// vulnerability database, built offline from the golang.org/x/vulndb module
// that the Go module proxy serves (vuln.go.dev itself need not be
// reachable), and fails on any finding that affects the code (a vulnerable
// symbol it calls) unless accepted.txt beside this file accepts it with a
// reason.
//
// The database is built once per vulndb version with the vulndb module's own
// indexdb program and cached under $(go env GOCACHE)/fsecgm-vulndb/VERSION
// (about two minutes the first time). The versions are pinned below; bump
// vulndbVersion to check against newer reports.
//
//	go run ./scripts/vulncheck              # the whole module
//	go run ./scripts/vulncheck -v           # and govulncheck's own report
//
// Exit status: 0 when no finding is left, 1 when some are, 2 when the check
// could not run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// The pinned tools and database.
const (
	vulndbVersion      = "v0.0.0-20261105234957-e22db6528018"
	govulncheckVersion = "v1.9.0"
)

func main() {
	verbose := flag.Bool("v", false, "also print govulncheck's text report")
	flag.Parse()
	code, err := run(*verbose, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulncheck: %v\n", err)
	}
	os.Exit(code)
}

func run(verbose bool, stdout, stderr io.Writer) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 2, err
	}
	db, err := database(stderr)
	if err != nil {
		return 2, err
	}
	accepted, err := readAccepted(filepath.Join(root, "scripts", "vulncheck", "accepted.txt"))
	if err != nil {
		return 2, err
	}
	if verbose {
		cmd := goCmd(root, "run", "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion, "-db", "file://"+db, "./...")
		cmd.Stdout, cmd.Stderr = stdout, stderr
		_ = cmd.Run()
	}
	cmd := goCmd(root, "run", "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion, "-db", "file://"+db, "-format", "json", "./...")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return 2, fmt.Errorf("govulncheck: %w", err)
	}
	findings, err := parse(&out)
	if err != nil {
		return 2, err
	}
	ids := make([]string, 0, len(findings))
	for id := range findings {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	left := 0
	for _, id := range ids {
		f := findings[id]
		if reason, ok := accepted[id]; ok {
			fmt.Fprintf(stdout, "vulncheck: accepted %s (%s, fixed in %s): %s\n", id, f.where, f.fixed, reason)
			continue
		}
		left++
		fmt.Fprintf(stdout, "vulncheck: FOUND %s: %s\n    in %s, fixed in %s; called from %s\n", id, f.summary, f.where, f.fixed, f.caller)
	}
	for id := range accepted {
		if _, ok := findings[id]; !ok {
			fmt.Fprintf(stdout, "vulncheck: %s is accepted in accepted.txt but no longer found: remove it\n", id)
		}
	}
	if left > 0 {
		fmt.Fprintf(stdout, "vulncheck: %d vulnerabilities affect the code (govulncheck %s, vulndb %s); run with -v for the traces\n",
			left, govulncheckVersion, vulndbVersion)
		return 1, nil
	}
	fmt.Fprintf(stdout, "vulncheck: no vulnerability affects the code beyond the %d accepted (govulncheck %s, vulndb %s)\n",
		len(findings), govulncheckVersion, vulndbVersion)
	return 0, nil
}

// finding is one vulnerability that the code reaches.
type finding struct {
	summary, where, fixed, caller string
}

// parse reads govulncheck's JSON stream and returns the vulnerabilities
// whose vulnerable symbol is called (a trace whose first frame has a
// function), by OSV id.
func parse(r io.Reader) (map[string]finding, error) {
	type frame struct {
		Module, Version, Package, Function, Receiver string
		Position                                     *struct {
			Filename string `json:"filename"`
			Line     int    `json:"line"`
		}
	}
	type message struct {
		OSV *struct {
			ID      string `json:"id"`
			Summary string `json:"summary"`
		} `json:"osv"`
		Finding *struct {
			OSV          string   `json:"osv"`
			FixedVersion string   `json:"fixed_version"`
			Trace        []*frame `json:"trace"`
		} `json:"finding"`
	}
	summaries := map[string]string{}
	out := map[string]finding{}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("govulncheck output: %w", err)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue // module or package level: imported, not called
		}
		if _, ok := out[f.OSV]; ok {
			continue
		}
		top := f.Trace[0]
		fx := finding{where: top.Module + "@" + top.Version, fixed: f.FixedVersion}
		if top.Module == "stdlib" {
			fx.where = top.Package + "@go" + strings.TrimPrefix(top.Version, "v")
			if fx.fixed != "" {
				fx.fixed = "go" + strings.TrimPrefix(fx.fixed, "v")
			}
		}
		if fx.fixed == "" {
			fx.fixed = "no fixed version yet"
		}
		last := f.Trace[len(f.Trace)-1]
		fx.caller = last.Package + "."
		if last.Receiver != "" {
			fx.caller += strings.TrimPrefix(last.Receiver, "*") + "."
		}
		fx.caller += last.Function
		if last.Position != nil {
			fx.caller += " (" + last.Position.Filename + fmt.Sprintf(":%d)", last.Position.Line)
		}
		out[f.OSV] = fx
	}
	for id, f := range out {
		f.summary = summaries[id]
		out[id] = f
	}
	return out, nil
}

// readAccepted reads "ID reason..." lines; # starts a comment.
func readAccepted(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if reason = strings.TrimSpace(reason); reason == "" {
			return nil, fmt.Errorf("%s:%d: %s is accepted without a reason", path, n, id)
		}
		out[id] = reason
	}
	return out, sc.Err()
}

// database returns the directory of the vulnerability database, building
// it first when it is not cached.
func database(stderr io.Writer) (string, error) {
	cacheRoot, err := goEnv("GOCACHE")
	if err != nil {
		return "", err
	}
	db := filepath.Join(cacheRoot, "fsecgm-vulndb", vulndbVersion)
	if _, err := os.Stat(filepath.Join(db, "index", "db.json")); err == nil {
		return db, nil
	}
	fmt.Fprintf(stderr, "vulncheck: building the vulnerability database %s (once; cached in %s)\n", vulndbVersion, db)
	var dl struct{ Dir, Error string }
	out, err := goCmd("", "mod", "download", "-json", "golang.org/x/vulndb@"+vulndbVersion).Output()
	if jerr := json.Unmarshal(out, &dl); err != nil || jerr != nil || dl.Dir == "" {
		return "", fmt.Errorf("download golang.org/x/vulndb@%s from the module proxy: %v %s", vulndbVersion, err, dl.Error)
	}
	tmp := fmt.Sprintf("%s.tmp.%d", db, os.Getpid())
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := goCmd("", "run", "golang.org/x/vulndb/cmd/indexdb@"+vulndbVersion, "-vulns", filepath.Join(dl.Dir, "data", "osv"), "-out", tmp)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the database: %w", err)
	}
	_ = os.RemoveAll(db)
	if err := os.Rename(tmp, db); err != nil {
		return "", err
	}
	return db, nil
}

func goCmd(dir string, args ...string) *exec.Cmd {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	return cmd
}

func goEnv(name string) (string, error) {
	out, err := goCmd("", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func moduleRoot() (string, error) {
	out, err := goCmd("", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run it inside the fsecgm module")
	}
	return filepath.Dir(mod), nil
}
