package connsync

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestUserErrorCodes checks that UserErrorCodes lists every code the
// package's sources give a UserError (displays translate them by code).
func TestUserErrorCodes(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`Code: "([a-z_]+)"|refuse\("([a-z_]+)"|code = "([a-z_]+)"|code := "([a-z_]+)"`)
	found := 0
	for _, f := range files {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			code := m[1] + m[2] + m[3] + m[4]
			found++
			if !slices.Contains(UserErrorCodes, code) {
				t.Errorf("%s: code %q is not in UserErrorCodes", f, code)
			}
		}
	}
	if found < 15 {
		t.Errorf("found %d codes in the sources; the pattern no longer matches them", found)
	}
}
