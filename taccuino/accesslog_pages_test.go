package taccuino

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccessLogPages: the patient's page shows the access log 50 entries
// at a time, newest first, with a link to the earlier ones that carries
// the keyset cursor of the page's last entry; following the links shows
// every entry exactly once, entries at the same instant included, and a
// cursor that is not one is refused with its field named.
func TestAccessLogPages(t *testing.T) {
	d := newDemo(t)
	ctx := context.Background()
	p, err := d.e.store.PatientByFiscalCode(ctx, DemoPatientCF)
	if err != nil {
		t.Fatal(err)
	}
	// 130 entries, three at each instant.
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	for i := range 130 {
		if _, err := d.e.pool.Exec(ctx, `INSERT INTO access_log (patient_id, at, actor_role, actor_id, actor_name, action, outcome, reason)
			VALUES ($1, $2, 'service', 'fse', $3, 'read_data', 'allowed', 'allowed')`,
			p.ID, at.Add(time.Duration(i/3)*time.Minute), fmt.Sprintf("voce-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var want int
	if err := d.e.pool.QueryRow(ctx, `SELECT count(*) FROM access_log WHERE patient_id = $1`, p.ID).Scan(&want); err != nil {
		t.Fatal(err)
	}
	patient := d.as("patient")
	entry := regexp.MustCompile(`voce-\d{3}`)
	next := regexp.MustCompile(`href="\?log_before=([^"#]+)#access-log"`)
	seen := map[string]int{}
	rows, path := 0, "/taccuino/p/"+d.mario
	for pages := 1; ; pages++ {
		status, page := patient.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, status)
		}
		i := strings.Index(page, `id="access-log"`)
		if i < 0 {
			t.Fatal("no access log on the patient's page")
		}
		log := page[i:]
		n := strings.Count(log, "<tr") - 1 // the header row
		if n > 50 {
			t.Errorf("page %d: %d entries, want at most 50", pages, n)
		}
		rows += n
		for _, v := range entry.FindAllString(log, -1) {
			seen[v]++
		}
		if older := strings.Contains(log, `href="?#access-log"`); older != (pages > 1) {
			t.Errorf("page %d: link to the latest accesses %v", pages, older)
		}
		m := next.FindStringSubmatch(log)
		if m == nil {
			break
		}
		if pages > 10 {
			t.Fatal("the pages do not end")
		}
		path = "/taccuino/p/" + d.mario + "?log_before=" + html.UnescapeString(m[1])
	}
	if rows != want {
		t.Errorf("%d entries shown on the pages, want %d", rows, want)
	}
	for i := range 130 {
		if v := fmt.Sprintf("voce-%03d", i); seen[v] != 1 {
			t.Errorf("%s shown %d times, want once", v, seen[v])
		}
	}
	if status, _ := patient.get("/taccuino/p/" + d.mario + "?log_before=nonsense"); status != http.StatusUnprocessableEntity {
		t.Errorf("a cursor that is not one: %d, want 422", status)
	}
}
