package population

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"fsecgm/migrations/dbtest"
)

// TestExportKAnonymity: a study export of 296 members in groups of every
// size: every combination of age band, sex, ASL and diabetes type in the
// file is shared by at least k = 10 rows; rows written, generalised and
// dropped add up to the members, as the log says; no column holds a
// fiscal code, a name, a birth date or an exact date; two studies' keys
// give unlinkable pseudonyms.
func TestExportKAnonymity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := Period{Kind: Days14, First: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Last: time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC)}
	geo, err := loadGeography(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	members := seedPseudonymised(t, pool, p, []seedGroup{
		{"TC", geo.districtsOf("TC")[0], nil, 200},
		{"NO", geo.districtsOf("NO")[0], nil, 80},
		{"SE", geo.districtsOf("SE")[0], nil, 12},
		{"", "", nil, 4},
	})
	export := func(key string) ([][]string, ExportResult) {
		var b bytes.Buffer
		res, err := Export(ctx, pool, ExportOptions{Study: "STUDY-1", Key: []byte(strings.Repeat(key, 32)), Operator: "test", K: 10}, &b)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs, res
	}
	recs, res := export("a")
	if strings.Join(recs[0], ",") != strings.Join(ExportColumns, ",") {
		t.Errorf("header %v", recs[0])
	}
	t.Logf("%d members: %d rows written, %d of them generalised, %d dropped", members, res.Rows, res.Generalised, res.Dropped)
	rows := recs[1:]
	if len(rows) != res.Rows || res.Rows+res.Dropped != members {
		t.Errorf("%d rows (result %+v) for %d members", len(rows), res, members)
	}
	if res.Generalised == 0 || res.Rows < members/2 {
		t.Errorf("result %+v: want some generalised rows and most rows kept", res)
	}
	groups := map[string]int{}
	for _, r := range rows {
		groups[strings.Join(r[3:7], "|")]++
		for i, v := range r {
			if _, err := time.Parse(time.DateOnly, v); err == nil {
				t.Errorf("column %s holds a date: %s", ExportColumns[i], v)
			}
		}
		if len(r[0]) != 32 || r[2] != "2026-11" {
			t.Errorf("row %v", r)
		}
	}
	for g, n := range groups {
		if n < 10 {
			t.Errorf("quasi-identifiers %s: %d rows, want at least 10", g, n)
		}
	}
	var logged ExportResult
	if err := pool.QueryRow(ctx, `SELECT rows_out, generalised, dropped, key_fingerprint FROM population_exports`).Scan(
		&logged.Rows, &logged.Generalised, &logged.Dropped, &logged.KeyFingerprint); err != nil {
		t.Fatal(err)
	}
	if logged != res {
		t.Errorf("logged %+v, want %+v", logged, res)
	}
	other, _ := export("b")
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r[0]] = true
	}
	for _, r := range other[1:] {
		if seen[r[0]] {
			t.Errorf("pseudonym %s in both studies", r[0])
		}
	}
	for _, bad := range []ExportOptions{
		{Study: "bad name", Key: make([]byte, 32), Operator: "x"},
		{Study: "S", Key: make([]byte, 16), Operator: "x"},
		{Study: "S", Key: make([]byte, 32)},
	} {
		if _, err := Export(ctx, pool, bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
