package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	pdf := filepath.Join(dir, "s1.pdf")
	code, out, errOut := runCmd(t, nil, "report", "--input", igluCSV, "--patient", "Subject 1", "--out", pdf)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Subject 1's last reading is on 19 June 2015 (−05:00): the default
	// period is the 14 days ending that day.
	if !strings.Contains(out, "Subject 1, 2015-06-06 to 2015-06-19") {
		t.Errorf("stdout = %q", out)
	}
	b, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %v", err)
	}

	html := filepath.Join(dir, "s2.html")
	code, _, errOut = runCmd(t, nil, "report", "--input", igluCSV, "--patient", "Subject 2", "--lang", "en",
		"--targets", "older", "--from", "2015-02-24", "--to", "2015-03-02", "--out", html)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err = os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<style>", `data-fig="gmi_percent"`, "older / high-risk", "24 Feb 2015 – 2 Mar 2015 (7 days)", "Insufficient data"} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("HTML lacks %q", s)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--input", igluCSV}, "--out is required"},
		{[]string{"report", "--out", "x.pdf"}, "--input is required"},
		{[]string{"report", "--input", igluCSV, "--out", filepath.Join(dir, "x.txt")}, "must end in .pdf or .html"},
		{[]string{"report", "--input", igluCSV, "--out", filepath.Join(dir, "x.pdf"), "--targets", "kids"}, "--targets"},
		{[]string{"report", "--input", igluCSV, "--out", filepath.Join(dir, "x.pdf"), "--patient", "Nobody"}, "no such subject"},
		{[]string{"report", "--input", igluCSV, "--out", filepath.Join(dir, "x.pdf"), "--from", "2015-03-01"}, "go together"},
	} {
		code, _, errOut := runCmd(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); !os.IsNotExist(err) {
		t.Error("a failed run left an output file")
	}
}
