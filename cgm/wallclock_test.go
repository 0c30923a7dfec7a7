package cgm

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"
)

func TestLocalInstants(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		wall string
		want []string
	}{
		{"2026-03-29T01:59:00Z", []string{"2026-03-29T00:59:00Z"}},
		{"2026-03-29T02:00:00Z", nil},
		{"2026-03-29T02:59:00Z", nil},
		{"2026-03-29T03:00:00Z", []string{"2026-03-29T01:00:00Z"}},
		{"2026-10-25T01:59:00Z", []string{"2026-10-24T23:59:00Z"}},
		{"2026-10-25T02:00:00Z", []string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"}},
		{"2026-10-25T02:59:00Z", []string{"2026-10-25T00:59:00Z", "2026-10-25T01:59:00Z"}},
		{"2026-10-25T03:00:00Z", []string{"2026-10-25T02:00:00Z"}},
		{"2026-07-01T12:00:00Z", []string{"2026-07-01T10:00:00Z"}},
	}
	for _, tc := range tests {
		wall, _ := time.Parse(time.RFC3339, tc.wall)
		c := LocalInstants(wall, rome)
		var got []string
		for _, x := range c.List() {
			got = append(got, x.UTC().Format(time.RFC3339))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("instants(%s) mismatch (-want +got):\n%s", tc.wall, diff)
		}
	}
}

// TestResolve resolves a repeated hour (Europe/Rome, 25 October 2026) in
// ascending and descending sequences.
func TestResolve(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	c := LocalInstants(at("2026-10-25T02:30:00Z"), rome) // 00:30Z (summer) or 01:30Z (winter)
	summer, winter := at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z")
	tests := []struct {
		name       string
		prev       time.Time
		descending bool
		want       time.Time
	}{
		{"ascending, first of a sequence", time.Time{}, false, summer},
		{"ascending, after 02:15 summer", at("2026-10-25T00:15:00Z"), false, summer},
		{"ascending, after 02:45 summer (second run)", at("2026-10-25T00:45:00Z"), false, winter},
		{"ascending, after everything (out of order)", at("2026-10-26T00:00:00Z"), false, winter},
		{"descending, first of a sequence", time.Time{}, true, winter},
		{"descending, after 02:45 winter", at("2026-10-25T01:45:00Z"), true, winter},
		{"descending, after 02:15 winter (second run)", at("2026-10-25T01:15:00Z"), true, summer},
		{"descending, before everything (out of order)", at("2026-10-24T00:00:00Z"), true, summer},
	}
	for _, tc := range tests {
		if got := c.Resolve(tc.prev, tc.descending); !got.Equal(tc.want) {
			t.Errorf("%s: Resolve = %v, want %v", tc.name, got.UTC(), tc.want)
		}
	}
}
