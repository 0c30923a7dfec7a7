package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/population"
)

func TestTimeOfDayLatest(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	at := timeOfDay{3, 30}
	for _, tt := range []struct{ now, want time.Time }{
		{time.Date(2026, 12, 7, 3, 30, 0, 0, rome), time.Date(2026, 12, 7, 3, 30, 0, 0, rome)},
		{time.Date(2026, 12, 7, 3, 29, 59, 0, rome), time.Date(2026, 12, 6, 3, 30, 0, 0, rome)},
		{time.Date(2026, 12, 7, 23, 0, 0, 0, rome), time.Date(2026, 12, 7, 3, 30, 0, 0, rome)},
		{time.Date(2026, 1, 1, 0, 10, 0, 0, rome), time.Date(2025, 12, 31, 3, 30, 0, 0, rome)},
		// The night summer time starts (29 March 2026, 02:00 → 03:00).
		{time.Date(2026, 3, 29, 4, 0, 0, 0, rome), time.Date(2026, 3, 29, 3, 30, 0, 0, rome)},
	} {
		if got := at.latest(tt.now); !got.Equal(tt.want) {
			t.Errorf("latest(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
	for in, ok := range map[string]bool{"03:30": true, "00:00": true, "23:59": true, "24:00": false, "3": false, "night": false} {
		if _, err := parseTimeOfDay(in); (err == nil) != ok {
			t.Errorf("parseTimeOfDay(%q): %v", in, err)
		}
	}
}

// TestPopulationJob: the population-refresh job builds the view at start
// when it was never built, refreshes again only when due (once for two
// replicas started together), and stops with its context.
func TestPopulationJob(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := dbtest.Pool(t)
	var logs [2]lockedWriter
	done := make(chan error, 2)
	for i := range logs {
		r := population.NewRefresher(pool, cgmstore.New(pool, cgmstore.Options{}), population.Options{})
		go func() {
			done <- populationJob(r, timeOfDay{3, 30}, slog.New(slog.NewJSONHandler(&logs[i], nil)))(ctx)
		}()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var refreshed bool
		if err := pool.QueryRow(ctx, `SELECT refreshed_at IS NOT NULL AND NOT dirty FROM population_state`).Scan(&refreshed); err != nil {
			t.Fatal(err)
		}
		if refreshed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refresh in a minute: %s %s", logs[0].String(), logs[1].String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Both replicas' first rounds are over once each logged or found the
	// view fresh; the second cannot refresh again: not due.
	r := population.NewRefresher(pool, nil, population.Options{})
	if _, did, err := r.RefreshIfDue(ctx, time.Now().Add(-time.Hour)); err != nil || did {
		t.Errorf("a fresh view refreshed again: %t, %v", did, err)
	}
	cancel()
	for range logs {
		if err := <-done; err != nil {
			t.Errorf("job: %v", err)
		}
	}
	refreshes := strings.Count(logs[0].String()+logs[1].String(), "population view refreshed")
	if refreshes != 1 {
		t.Errorf("%d refreshes by two replicas, want 1: %s %s", refreshes, logs[0].String(), logs[1].String())
	}
	if strings.Contains(logs[0].String()+logs[1].String(), "failed") {
		t.Errorf("a round failed: %s %s", logs[0].String(), logs[1].String())
	}
}

// TestPopulationComuniLoad: "fsecgm population comuni load FILE" loads
// the list and says what changed; a malformed list is refused with its
// line and column, and the usage is said when the file is missing.
func TestPopulationComuniLoad(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	code, out, errOut := runCmd(t, nil, "population", "comuni", "load", "../../taccuino/population/testdata/comuni_sample.csv", "--database-url", url)
	if code != 0 || !strings.Contains(out, "comuni: 10\n") || !strings.Contains(out, "zones: 9\n") {
		t.Fatalf("load: exit %d, %q %q", code, out, errOut)
	}
	bad := t.TempDir() + "/comuni.csv"
	if err := os.WriteFile(bad, []byte("istat,comune,zona,zona_nome,asl\n100005,Prato,pratese,Pratese,TC\n1,X,pratese,Pratese,TC\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(t, nil, "population", "comuni", "load", bad, "--database-url", url); code == 0 || out != "" ||
		!strings.Contains(errOut, "line 3, column istat") {
		t.Errorf("a malformed list: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "population", "comuni", "load"); code != 2 || !strings.Contains(errOut, "comuni load FILE") {
		t.Errorf("no file: exit %d, %q", code, errOut)
	}
}
