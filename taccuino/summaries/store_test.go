package summaries

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/migrations/dbtest"

	gocmp "github.com/google/go-cmp/cmp"
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
	pool := dbtest.Pool(t)
	store := cgmstore.New(pool, cgmstore.Options{})
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
