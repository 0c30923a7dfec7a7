package summaries

import (
	"context"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestUpdaterOnCompactHistory: the summaries of patients whose readings are
// in the compressed history of plain PostgreSQL (cgmstore's compact form)
// are those of a twin database where they are plain rows, before and after
// a late upload into compressed days. On TimescaleDB CompactHistory does
// nothing and the twins are alike.
func TestUpdaterOnCompactHistory(t *testing.T) {
	ctx := context.Background()
	plain, compact := newEnv(t, 2), newEnv(t, 2)
	res, err := compact.store.CompactHistory(ctx, time.Now().Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compacted: %+v", res)
	update := func() {
		t.Helper()
		for _, e := range []*env{plain, compact} {
			u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: &fakePublisher{}})
			if _, err := u.UpdateDirty(ctx, 10); err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, e, u)
		}
		a, err := Rows(ctx, plain.pool, plain.ids, plain.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, err := Rows(ctx, compact.pool, compact.ids, compact.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 2 || !a[0].HasSummary {
			t.Fatalf("no summaries: %+v", a)
		}
		if diff := cmp.Diff(a, b, cmpopts.IgnoreFields(Row{}, "PublicID", "UpdatedAt")); diff != "" {
			t.Errorf("summaries differ (-plain +compact):\n%s", diff)
		}
	}
	update()
	// A late upload into a compressed day: scans and a revised historic
	// reading three days ago.
	late := time.Date(2026, 4, 2, 12, 3, 0, 0, plain.loc)
	for _, e := range []*env{plain, compact} {
		rs, err := e.store.Readings(ctx, e.ids[0], late, late.Add(time.Hour), cgm.Historic)
		if err != nil || len(rs) == 0 {
			t.Fatalf("no historic reading to revise: %v", err)
		}
		rev := rs[0]
		rev.Value++
		e.ingest(t, e.ids[0], cgm.NewSeries([]cgm.Reading{rev, {Time: late, Value: 123, Unit: cgm.MgDL, Kind: cgm.Scan}}))
	}
	update()
}
