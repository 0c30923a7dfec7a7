package summaries

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/internal/testenv"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
)

// listRow is a summary row written by TestListOrder.
type listRow struct {
	id       int64
	category Category
	severity float64
	last     *time.Time // nil: no reading
	flags    Flags
	ended    bool // stale_after in the past
}

// TestListOrder pages through the list of a subset of the patients with
// several page sizes and checks the pages against the documented order
// (category, severity highest first, most recent reading first with none
// last, id), including ties on every key, and the ended periods against
// the caller's set.
func TestListOrder(t *testing.T) {
	ctx := context.Background()
	te := testenv.New(t)
	pool, store := te.Pool, te.Store
	now := time.Date(2026, 4, 5, 8, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { x := now.Add(-time.Duration(h) * time.Hour); return &x }
	specs := []listRow{
		{category: CategoryLow, severity: 2, last: at(1)},
		{category: CategoryVeryLow, severity: 1, last: at(5), flags: 3},
		{category: CategoryLow, severity: 2, last: at(1)}, // tie on every key but id
		{category: CategoryLow, severity: 2, last: nil},
		{category: CategoryLow, severity: 5, last: at(30), ended: true},
		{category: CategoryNoData, severity: 0, last: nil},
		{category: CategoryVeryLow, severity: 1, last: at(2)},
		{category: CategoryMeetingTargets, severity: -0.5, last: at(3)},
		{category: CategoryMeetingTargets, severity: -0.25, last: at(3), ended: true},
		{category: CategoryLow, severity: 2, last: at(0)},
		{category: CategoryHigh, severity: 7.5, last: nil},
		{category: CategoryLow, severity: 2, last: nil},
	}
	var rows []listRow
	for i, r := range specs {
		p, _, err := store.EnsurePatient(ctx, fiscalCode(i), "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		r.id = p.ID
		stale := now.Add(20 * time.Hour)
		if r.ended {
			stale = now.Add(-time.Hour)
		}
		_, err = pool.Exec(ctx, `INSERT INTO patient_summaries (patient_id, time_zone, period_start, period_end,
				stale_after, readings, active_percent, days_worn, sufficient, last_reading_at, category, severity,
				flags, figures_key)
			VALUES ($1, 'Europe/Rome', '2026-03-21', '2026-04-03', $2, 0, 0, 0, false, $3, $4, $5, $6, '')`,
			r.id, stale, r.last, int16(r.category), r.severity, int32(r.flags))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	// The caller sees every patient but the second and the ninth.
	hidden := map[int64]bool{rows[1].id: true, rows[8].id: true}
	var visible []int64
	var want []Entry
	var wantStale []int64
	byOrder := slices.Clone(rows)
	slices.SortFunc(byOrder, func(a, b listRow) int {
		if c := cmp.Compare(a.category, b.category); c != 0 {
			return c
		}
		if c := cmp.Compare(b.severity, a.severity); c != 0 {
			return c
		}
		switch {
		case a.last == nil && b.last != nil:
			return 1
		case a.last != nil && b.last == nil:
			return -1
		case a.last != nil:
			if c := b.last.Compare(*a.last); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, r := range byOrder {
		if hidden[r.id] {
			continue
		}
		want = append(want, Entry{PatientID: r.id, Category: r.category, Severity: r.severity, Flags: r.flags})
	}
	for _, r := range rows {
		if !hidden[r.id] {
			visible = append(visible, r.id)
			if r.ended {
				wantStale = append(wantStale, r.id)
			}
		}
	}
	s := NewStore(pool)
	for _, limit := range []int{1, 2, 3, 5, 50} {
		var got []Entry
		for offset := 0; ; offset += limit {
			l, err := s.List(ctx, Query{Patients: visible, Limit: limit, Offset: offset, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, l.Entries...)
			slices.Sort(l.Stale)
			if !slices.Equal(l.Stale, wantStale) {
				t.Errorf("limit %d offset %d: Stale = %v, want %v", limit, offset, l.Stale, wantStale)
			}
			if wantMore := offset+limit < len(want); l.More != wantMore {
				t.Errorf("limit %d offset %d: More = %v, want %v", limit, offset, l.More, wantMore)
			}
			if !l.More {
				break
			}
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: pages (-want +got):\n%s", limit, diff)
		}
	}

	// The same pages by cursor, forwards (Next) and back (Prev): each row
	// exactly once, in the order, the ties on every key but the id
	// included.
	for _, limit := range []int{1, 2, 3, 5, 50} {
		got, pages := walk(t, s, Query{Patients: visible, Limit: limit, Now: now})
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: pages by cursor (-want +got):\n%s", limit, diff)
		}
		back := backwards(t, s, Query{Patients: visible, Limit: limit, Now: now}, pages[len(pages)-1])
		if diff := gocmp.Diff(want, back); diff != "" {
			t.Errorf("limit %d: pages back by cursor (-want +got):\n%s", limit, diff)
		}
	}
	// A category's pages by cursor.
	var wantLow []Entry
	for _, e := range want {
		if e.Category == CategoryLow {
			wantLow = append(wantLow, e)
		}
	}
	if got, _ := walk(t, s, Query{Patients: visible, Category: CategoryLow, Limit: 2, Now: now}); !slices.Equal(got, wantLow) {
		t.Errorf("low by cursor: %v, want %v", got, wantLow)
	}
	// A cursor of the other order, or not a cursor, is refused.
	first, err := s.List(ctx, Query{Patients: visible, Limit: 2, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []Query{{After: first.Next, ByGRI: true}, {After: "x"}, {Before: "eyJvIjoiYSIsInAiOjB9"}} {
		q.Patients, q.Now = visible, now
		if _, err := s.List(ctx, q); !errors.Is(err, ErrCursor) {
			t.Errorf("List(After %q, Before %q, ByGRI %v) = %v, want ErrCursor", q.After, q.Before, q.ByGRI, err)
		}
	}

	// Before the ends of the periods, no summary has ended.
	l, err := s.List(ctx, Query{Patients: visible, Now: now.Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Stale) != 0 || len(l.Entries) != len(want) {
		t.Errorf("before the ends: %d entries, Stale %v; want %d, none", len(l.Entries), l.Stale, len(want))
	}
	// A period ended for a patient the caller does not see only.
	l, err = s.List(ctx, Query{Patients: []int64{rows[0].id, rows[8].id}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Stale, []int64{rows[8].id}) {
		t.Errorf("Stale of the first and ninth = %v, want [%d]", l.Stale, rows[8].id)
	}
	l, err = s.List(ctx, Query{Patients: []int64{rows[0].id}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Stale) != 0 {
		t.Errorf("Stale of the first = %v, want none (another patient's period ended)", l.Stale)
	}
}

// TestListGRI: the list filtered by GRI zone (in the attention order, with
// counts) and sorted by GRI, highest first, patients without one last.
func TestListGRI(t *testing.T) {
	ctx := context.Background()
	te := testenv.New(t)
	pool, store := te.Pool, te.Store
	now := time.Date(2026, 4, 5, 8, 0, 0, 0, time.UTC)
	specs := []struct {
		category Category
		severity float64
		gri      *float64
	}{
		{CategoryLow, 2, ptr(35)},
		{CategoryVeryLow, 1, ptr(81)},
		{CategoryHigh, 3, ptr(35)},
		{CategoryNoData, 0, nil},
		{CategoryMeetingTargets, -1, ptr(12.5)},
		{CategoryTIRLow, 4, ptr(55)},
	}
	var ids []int64
	for i, sp := range specs {
		p, _, err := store.EnsurePatient(ctx, fiscalCode(100+i), "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		var zone *int16
		if sp.gri != nil {
			z := int16(strings.Index("ABCDE", agp.GRIZone(*sp.gri)) + 1)
			zone = &z
		}
		_, err = pool.Exec(ctx, `INSERT INTO patient_summaries (patient_id, time_zone, period_start, period_end,
				stale_after, readings, active_percent, days_worn, sufficient, category, severity, flags, figures_key, gri, gri_zone)
			VALUES ($1, 'Europe/Rome', '2026-03-21', '2026-04-03', $2, 0, 0, 0, false, $3, $4, 0, '', $5, $6)`,
			p.ID, now.Add(20*time.Hour), int16(sp.category), sp.severity, sp.gri, zone)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	s := NewStore(pool)
	got := func(q Query) []int64 {
		t.Helper()
		q.Patients, q.Now = ids, now
		l, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range l.Entries {
			out = append(out, e.PatientID)
		}
		return out
	}
	// By GRI: 81, 55, 35 (lower id first), 35, 12.5, then none.
	if g, want := got(Query{ByGRI: true}), []int64{ids[1], ids[5], ids[0], ids[2], ids[4], ids[3]}; !slices.Equal(g, want) {
		t.Errorf("by GRI: %v, want %v", g, want)
	}
	// By GRI in pages of two.
	var paged []int64
	for off := 0; off < 6; off += 2 {
		paged = append(paged, got(Query{ByGRI: true, Limit: 2, Offset: off})...)
	}
	if want := []int64{ids[1], ids[5], ids[0], ids[2], ids[4], ids[3]}; !slices.Equal(paged, want) {
		t.Errorf("by GRI in pages: %v, want %v", paged, want)
	}
	// By GRI by cursor, forwards and back, with the tie on 35 and the
	// patient without a GRI; and zone B by cursor.
	for _, limit := range []int{1, 2, 4} {
		q := Query{Patients: ids, Now: now, ByGRI: true, Limit: limit}
		entries, pages := walk(t, s, q)
		back := backwards(t, s, q, pages[len(pages)-1])
		for name, es := range map[string][]Entry{"forwards": entries, "back": back} {
			var got []int64
			for _, e := range es {
				got = append(got, e.PatientID)
			}
			if want := []int64{ids[1], ids[5], ids[0], ids[2], ids[4], ids[3]}; !slices.Equal(got, want) {
				t.Errorf("by GRI by cursor, limit %d, %s: %v, want %v", limit, name, got, want)
			}
		}
	}
	if es, _ := walk(t, s, Query{Patients: ids, Now: now, GRIZone: 2, Limit: 1}); len(es) != 2 || es[0].PatientID != ids[0] || es[1].PatientID != ids[2] {
		t.Errorf("zone B by cursor: %v, want %d then %d", es, ids[0], ids[2])
	}
	// Zone B (two patients) in the attention order: very low first… here
	// low (category 2) before high (category 6).
	if g, want := got(Query{GRIZone: 2}), []int64{ids[0], ids[2]}; !slices.Equal(g, want) {
		t.Errorf("zone B: %v, want %v", g, want)
	}
	if g := got(Query{GRIZone: 4}); len(g) != 0 {
		t.Errorf("zone D: %v, want none", g)
	}
	l, err := s.List(ctx, Query{Patients: ids, GRIZone: 2, Counts: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != 2 || l.Counts[CategoryLow] != 1 || l.Counts[CategoryHigh] != 1 || l.Counts[CategoryVeryLow] != 0 {
		t.Errorf("zone B counts: total %d, %v", l.Total, l.Counts)
	}
}

func ptr(v float64) *float64 { return &v }

// walk reads the pages of q from the first by List.Next, checking More,
// Earlier and the cursors; it returns the entries and the pages.
func walk(t *testing.T, s *Store, q Query) ([]Entry, []List) {
	t.Helper()
	var all []Entry
	var pages []List
	for {
		l, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if l.Earlier != (len(pages) > 0) || (l.Prev != "") != l.Earlier || (l.Next != "") != l.More {
			t.Fatalf("page %d: Earlier %v Prev %q More %v Next %q", len(pages)+1, l.Earlier, l.Prev, l.More, l.Next)
		}
		all, pages = append(all, l.Entries...), append(pages, l)
		if !l.More {
			return all, pages
		}
		if len(pages) > 100 {
			t.Fatal("paging does not end")
		}
		q.After = l.Next
	}
}

// backwards reads the pages of q before last by List.Prev, back to the
// first page; it returns their entries and last's in the list's order.
func backwards(t *testing.T, s *Store, q Query, last List) []Entry {
	t.Helper()
	all := slices.Clone(last.Entries)
	for l := last; l.Earlier; {
		q.After, q.Before = "", l.Prev
		var err error
		if l, err = s.List(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		if !l.More || len(l.Entries) != q.Limit && l.Earlier {
			t.Fatalf("page back: More %v, %d entries (limit %d), Earlier %v", l.More, len(l.Entries), q.Limit, l.Earlier)
		}
		all = append(slices.Clone(l.Entries), all...)
		if len(all) > 1000 {
			t.Fatal("paging back does not end")
		}
	}
	return all
}

// TestListedPage checks the clinic list's one statement against List and
// Rows: the same entries, More, Earlier and cursors (pages by cursor
// forwards and back, by GRI, by category, with counts), the rows of the
// patients the listed queries keep (one left out, as a revoked consent
// would), each kept patient logged once; and with fresh, a page that sees
// an ended period reads and logs nothing and names the ended periods.
func TestListedPage(t *testing.T) {
	ctx := context.Background()
	te := testenv.New(t)
	pool := te.Pool
	now := time.Date(2026, 4, 5, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 9 {
		p, _, err := te.Store.EnsurePatient(ctx, fiscalCode(i), "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		stale := now.Add(time.Hour)
		if i == 4 {
			stale = now.Add(-time.Hour)
		}
		gri := any(nil)
		if i%3 != 0 {
			gri = float64(10 * (i % 4))
		}
		_, err = pool.Exec(ctx, `INSERT INTO patient_summaries (patient_id, time_zone, period_start, period_end,
				stale_after, readings, active_percent, days_worn, sufficient, last_reading_at, category, severity,
				flags, figures_key, gri, gri_zone)
			VALUES ($1, 'Europe/Rome', '2026-03-21', '2026-04-03', $2, 0, 0, 0, false, $3, $4, $5, 1, '', $6, 1)`,
			p.ID, stale, now.Add(-time.Duration(i%2)*time.Hour), int16(1+i%3), float64(i%4), gri)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE test_listed (patient_id int)`); err != nil {
		t.Fatal(err)
	}
	dropped := ids[2]
	listed := func(rel string, first int) (string, []any, error) {
		return `allowed AS (SELECT id FROM ` + rel + ` WHERE id <> $` + strconv.Itoa(first) + `),
			listed AS (INSERT INTO test_listed SELECT id FROM allowed RETURNING patient_id)`, []any{int32(dropped)}, nil
	}
	logged := func() []int64 {
		t.Helper()
		rows, _ := pool.Query(ctx, `DELETE FROM test_listed RETURNING patient_id`)
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	s := NewStore(pool)
	check := func(name string, q Query) List {
		t.Helper()
		want, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, rows, read, err := s.ListedPage(ctx, q, listed, false, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want.Stale = nil
		if diff := gocmp.Diff(want, got); diff != "" || !read {
			t.Errorf("%s: ListedPage's list differs from List's (-List +ListedPage), read %v:\n%s", name, read, diff)
		}
		var shown []int64
		for _, e := range want.Entries {
			if e.PatientID != dropped {
				shown = append(shown, e.PatientID)
			}
		}
		wantRows, err := Rows(ctx, pool, shown, q.Now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(wantRows, rows, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: rows differ from Rows' (-Rows +ListedPage):\n%s", name, diff)
		}
		slices.Sort(shown)
		if got := logged(); !slices.Equal(got, shown) {
			t.Errorf("%s: logged %v, want %v", name, got, shown)
		}
		return want
	}
	for _, limit := range []int{1, 3, 50} {
		for _, byGRI := range []bool{false, true} {
			q := Query{Patients: ids, Limit: limit, Now: now, ByGRI: byGRI, Counts: limit == 3}
			name := fmt.Sprintf("limit %d, by GRI %v", limit, byGRI)
			var last List
			for page := 1; ; page++ {
				last = check(fmt.Sprintf("%s, page %d", name, page), q)
				if !last.More {
					break
				}
				q.After = last.Next
			}
			if last.Earlier {
				q.After, q.Before = "", last.Prev
				check(name+", back from the last page", q)
			}
		}
	}
	check("one category", Query{Patients: ids, Limit: 2, Category: CategoryVeryLow, Now: now})
	check("an offset", Query{Patients: ids, Limit: 2, Offset: 2, Now: now})
	if _, _, _, err := s.ListedPage(ctx, Query{Patients: ids, After: "x", Now: now}, listed, false, true); !errors.Is(err, ErrCursor) {
		t.Errorf("a bad cursor: %v, want ErrCursor", err)
	}

	// fresh: the fifth patient's period has ended.
	l, rows, read, err := s.ListedPage(ctx, Query{Patients: ids, Now: now}, listed, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if read || len(rows) != 0 || !slices.Equal(l.Stale, []int64{ids[4]}) || len(l.Entries) != len(ids) {
		t.Errorf("fresh with an ended period: read %v, %d rows, Stale %v, %d entries; want nothing read, Stale [%d], %d entries",
			read, len(rows), l.Stale, len(l.Entries), ids[4], len(ids))
	}
	if got := logged(); len(got) != 0 {
		t.Errorf("fresh with an ended period logged %v", got)
	}
	// Not seen by the caller, the ended period does not stop the page.
	others := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id == ids[4] })
	if _, rows, read, err = s.ListedPage(ctx, Query{Patients: others, Now: now}, listed, true, true); err != nil || !read || len(rows) != len(others)-1 {
		t.Errorf("fresh, the ended period not seen: read %v, %d rows, %v; want %d rows", read, len(rows), err, len(others)-1)
	}
	logged()
}
