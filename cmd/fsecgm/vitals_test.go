package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	appleFixture   = "../../connectors/applehealth/testdata/export_watch_phone.xml"
	takeoutFixture = "../../connectors/takeout/testdata/Takeout"
	fhirFixture    = "../../taccuino/fhir/testdata/submissions/vitals.json"
)

// TestVitalsCommand: fsecgm vitals prints the JSON array of the issue for
// each format, the day the clocks go forward included; bad input exits 2
// naming the element or line.
func TestVitalsCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCmd(t, nil, "vitals", "--input", appleFixture, "--tz", "Europe/Rome")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var days []map[string]any
	if err := json.Unmarshal([]byte(out), &days); err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[1]["date"] != "2026-03-29" || days[1]["steps"] != 4300.0 || days[1]["sleep_minutes"] != 300.0 {
		t.Fatalf("days %v", days)
	}
	keys := []string{"active_kcal", "blood_pressure", "date", "distance_m", "heart_rate", "sleep_minutes", "sleep_stages", "steps"}
	for _, d := range days {
		var got []string
		for k := range d {
			got = append(got, k)
		}
		if len(got) != len(keys) {
			t.Errorf("keys %v, want %v", got, keys)
		}
	}
	hr := days[1]["heart_rate"].(map[string]any)
	if hr["min"] != 72.0 || hr["mean"] != 85.0 || hr["max"] != 95.0 || hr["resting"] != 58.0 {
		t.Errorf("heart rate %v", hr)
	}
	bp := days[1]["blood_pressure"].([]any)[0].(map[string]any)
	if bp["time"] != "2026-03-29T08:15:00+02:00" || bp["systolic"] != 132.0 || bp["diastolic"] != 84.0 {
		t.Errorf("blood pressure %v", bp)
	}

	// A range prints every day in it.
	code, out, _ = runCmd(t, nil, "vitals", "--input", appleFixture, "--tz", "Europe/Rome", "--from", "2026-03-27", "--to", "2026-03-30")
	if code != 0 {
		t.Fatal(code)
	}
	json.Unmarshal([]byte(out), &days)
	if len(days) != 4 || days[0]["steps"] != nil || days[3]["date"] != "2026-03-30" {
		t.Errorf("range: %v", days)
	}

	// Takeout and FHIR.
	for _, in := range []string{takeoutFixture, fhirFixture} {
		code, out, errOut = runCmd(t, nil, "vitals", "--input", in, "--tz", "Europe/Rome")
		if code != 0 || !strings.Contains(out, `"date": "2026-03-29"`) {
			t.Errorf("%s: exit %d\n%s\n%s", in, code, out, errOut)
		}
	}

	// Bad input: exit 2, the place named.
	data, _ := os.ReadFile(appleFixture)
	bad := filepath.Join(t.TempDir(), "export.xml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), `value="3000"`, `value="tremila"`, 1)), 0o644)
	code, out, errOut = runCmd(t, nil, "vitals", "--input", bad)
	if code != 2 || out != "" || !strings.Contains(errOut, "export.xml:30:") || !strings.Contains(errOut, `value "tremila": want a number`) {
		t.Errorf("bad value: exit %d, %q, %s", code, out, errOut)
	}
	glucose, _, _, _ := writeLibreView(t, 3)
	code, _, errOut = runCmd(t, nil, "vitals", "--input", glucose)
	if code != 2 || !strings.Contains(errOut, "this is a LibreView CSV export, a glucose export") {
		t.Errorf("a glucose file: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCmd(t, nil, "vitals", "--input", appleFixture, "--tz", "Mars/Base"); code != 2 {
		t.Errorf("bad zone: exit %d", code)
	}
}

// TestImportVitals: fsecgm import takes an Apple Health export (detected),
// whole file or nothing; again it changes nothing.
func TestImportVitals(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cf := testCF(7)
	count := func() int {
		var n int
		pool.QueryRow(context.Background(), "SELECT count(*) FROM measurements").Scan(&n)
		return n
	}

	// A record dated in the future: refused with its line, nothing stored.
	data, _ := os.ReadFile(appleFixture)
	future := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	bad := filepath.Join(t.TempDir(), "export.xml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), `startDate="2026-03-29 13:00:00 +0100" endDate="2026-03-29 13:00:00 +0100"`,
		`startDate="`+future+` 13:00:00 +0100" endDate="`+future+` 13:00:00 +0100"`, 1)), 0o644)
	code, out, errOut := runCmd(t, nil, "import", "--patient", cf, "--input", bad, "--database-url", url)
	if code != 2 || out != "" || !strings.Contains(errOut, "export.xml:44: start:") || count() != 0 {
		t.Fatalf("a future record: exit %d, %q, %s; %d measurements stored", code, out, errOut, count())
	}
	code, out, errOut = runCmd(t, nil, "import", "--patient", cf, "--input", bad, "--skip-invalid", "--json", "--database-url", url)
	if code != 0 || strings.TrimSpace(out) != `{"format":"applehealth","inserted":19,"duplicate":0,"revised":0,"rejected":1,"skipped":2,"repeated":0,"conflicts":[]}` {
		t.Fatalf("--skip-invalid: exit %d, %s %s", code, out, errOut)
	}
	code, out, _ = runCmd(t, nil, "import", "--patient", cf, "--input", appleFixture, "--json", "--database-url", url)
	if code != 0 || strings.TrimSpace(out) != `{"format":"applehealth","inserted":1,"duplicate":19,"revised":0,"rejected":0,"skipped":2,"repeated":0,"conflicts":[]}` {
		t.Fatalf("the good file: exit %d, %s", code, out)
	}
	code, out, _ = runCmd(t, nil, "import", "--patient", cf, "--input", appleFixture, "--database-url", url)
	if code != 0 || !strings.Contains(out, "(applehealth, existing patient): 0 measurements inserted, 20 duplicate") {
		t.Fatalf("again: exit %d, %s", code, out)
	}
	if count() != 20 {
		t.Errorf("%d measurements stored, want 20", count())
	}
}
