package agp

import (
	"testing"
	"time"

	"fsecgm/cgm"
)

// TestEpisodes checks the start and end rules on 5-minute data, where
// 15 minutes is 3 grid points (iglu 4.3.0, R/episode_calculation.R:
// dur_idx = ceiling(dur_length/dt0)).
func TestEpisodes(t *testing.T) {
	n, lo, l2, hi, h2 := 100.0, 65.0, 50.0, 200.0, 260.0
	tests := []struct {
		name                         string
		vals                         []float64
		hypo1, hypo2, hypo1x, hypoEx int
		hyper1, hyper2, hyper1x      int
		hypoMinutes                  float64
	}{
		{name: "two points below 70 is no episode", vals: concat(repeat(n, 5), repeat(lo, 2), repeat(n, 5))},
		{name: "three points below 70 is one episode of 15 min", vals: concat(repeat(n, 5), repeat(lo, 3), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 15},
		{name: "69 counts, 70 does not", vals: concat(repeat(n, 5), repeat(69, 3), repeat(70, 3), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 15},
		{name: "short excursion above stays inside the episode",
			vals:  concat(repeat(n, 5), repeat(lo, 3), repeat(n, 2), repeat(lo, 3), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 40},
		{name: "three points above end the episode",
			vals:  concat(repeat(n, 5), repeat(lo, 3), repeat(n, 3), repeat(lo, 3), repeat(n, 5)),
			hypo1: 2, hypo1x: 2, hypoMinutes: 15},
		{name: "an episode running to the end of the data is counted",
			vals:  concat(repeat(n, 5), repeat(lo, 4)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 20},
		{name: "level 2 inside level 1",
			vals:  concat(repeat(n, 5), repeat(lo, 3), repeat(l2, 3), repeat(lo, 3), repeat(n, 5)),
			hypo1: 1, hypo2: 1, hypo1x: 0, hypoMinutes: 45},
		{name: "54 is not level 2", vals: concat(repeat(n, 5), repeat(54, 4), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 20},
		{name: "extended hypo needs more than 120 minutes: 25 points",
			vals:  concat(repeat(n, 5), repeat(lo, 25), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoEx: 1, hypoMinutes: 125},
		{name: "24 points (120 minutes) is not extended",
			vals:  concat(repeat(n, 5), repeat(lo, 24), repeat(n, 5)),
			hypo1: 1, hypo1x: 1, hypoMinutes: 120},
		{name: "180 is not hyper, 181 is", vals: concat(repeat(n, 5), repeat(180, 3), repeat(n, 3), repeat(181, 3), repeat(n, 3)),
			hyper1: 1, hyper1x: 1},
		{name: "hyper level 2 inside level 1, and an exclusive level 1",
			vals:   concat(repeat(n, 5), repeat(hi, 3), repeat(h2, 3), repeat(n, 5), repeat(hi, 4), repeat(n, 3)),
			hyper1: 2, hyper2: 1, hyper1x: 1},
		{name: "250 is not level 2", vals: concat(repeat(n, 5), repeat(250, 5), repeat(n, 3)),
			hyper1: 1, hyper1x: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compute(t, series(t0, 5*time.Minute, cgm.MgDL, tt.vals...), Options{})
			e := r.Events
			got := [7]int{e.HypoLevel1.Total, e.HypoLevel2.Total, e.HypoLevel1Exclusive.Total, e.HypoExtended.Total,
				e.HyperLevel1.Total, e.HyperLevel2.Total, e.HyperLevel1Exclusive.Total}
			want := [7]int{tt.hypo1, tt.hypo2, tt.hypo1x, tt.hypoEx, tt.hyper1, tt.hyper2, tt.hyper1x}
			if got != want {
				t.Errorf("episodes (hypo1 hypo2 hypo1x hypoExt hyper1 hyper2 hyper1x) = %v, want %v", got, want)
			}
			if tt.hypo1 > 0 && e.HypoLevel1.MeanMinutes != tt.hypoMinutes {
				t.Errorf("hypo level 1 mean duration = %v min, want %v", e.HypoLevel1.MeanMinutes, tt.hypoMinutes)
			}
			if tt.hypo1 == 0 && (e.HypoLevel1.MeanMgDL != nil || e.HypoLevel1.MeanMinutes != 0 || e.HypoLevel1.PerDay != 0) {
				t.Errorf("no hypo episode but %+v", e.HypoLevel1)
			}
		})
	}
}

func TestEpisodeStatistics(t *testing.T) {
	// 12 points at 100, 3 at 60, 12 at 100: one hypo episode of 3 points
	// with mean 60; 27 grid points of 5 minutes = 135 minutes of data.
	r := compute(t, series(t0, 5*time.Minute, cgm.MgDL, concat(repeat(100, 12), repeat(60, 3), repeat(100, 12))...), Options{})
	h := r.Events.HypoLevel1
	if h.Total != 1 || h.MeanMinutes != 15 || *h.MeanMgDL != 60 {
		t.Fatalf("hypo = %+v", h)
	}
	if want := 1 / (27.0 * 5 / 60 / 24); !approx(h.PerDay, want) {
		t.Errorf("per day = %v, want %v", h.PerDay, want)
	}
	if len(h.List) != 1 || !h.List[0].Start.Equal(t0.Add(60*time.Minute)) || !h.List[0].End.Equal(t0.Add(70*time.Minute)) {
		t.Errorf("episode list = %+v", h.List)
	}
}

// TestEpisodes15Minute: with 15-minute Libre history, one reading below 70
// is already a 15-minute episode (iglu 4.3.0, R/episode_calculation.R:
// dur_idx = ceiling(15/15) = 1).
func TestEpisodes15Minute(t *testing.T) {
	r := compute(t, series(t0, 15*time.Minute, cgm.MgDL, 100, 100, 65, 100, 100, 60, 62, 100), Options{})
	if got := r.Events.HypoLevel1; got.Total != 2 || got.MeanMinutes != 22.5 {
		t.Errorf("hypo level 1 = %+v, want 2 episodes of mean 22.5 min", got)
	}
	// Extended: 9 points of 15 minutes (135 min > 120).
	r = compute(t, series(t0, 15*time.Minute, cgm.MgDL, concat(repeat(100, 2), repeat(60, 9), repeat(100, 2))...), Options{})
	if r.Events.HypoExtended.Total != 1 {
		t.Errorf("extended hypo = %d, want 1", r.Events.HypoExtended.Total)
	}
	r = compute(t, series(t0, 15*time.Minute, cgm.MgDL, concat(repeat(100, 2), repeat(60, 8), repeat(100, 2))...), Options{})
	if r.Events.HypoExtended.Total != 0 {
		t.Errorf("8 points: extended hypo = %d, want 0", r.Events.HypoExtended.Total)
	}
}

func TestExtendedHyper(t *testing.T) {
	// > 250 for ceil(120/dt0) = 24 points of 5 minutes (the preset of
	// shstat1729/cgmguru's detect_hyperglycemic_events, type "extended").
	for _, tt := range []struct {
		points, want int
	}{{24, 1}, {23, 0}} {
		r := compute(t, series(t0, 5*time.Minute, cgm.MgDL, concat(repeat(150, 3), repeat(300, tt.points), repeat(150, 3))...), Options{})
		if r.Events.HyperExtended.Total != tt.want {
			t.Errorf("%d points above 250: extended hyper = %d, want %d", tt.points, r.Events.HyperExtended.Total, tt.want)
		}
	}
}

func TestEpisodesDoNotCrossGaps(t *testing.T) {
	// Two runs of 2 low points separated by a 60-minute gap: neither segment
	// holds 3 flagged points, so there is no episode.
	a := series(t0, 5*time.Minute, cgm.MgDL, 100, 100, 65, 65)
	b := series(t0.Add(75*time.Minute), 5*time.Minute, cgm.MgDL, 65, 65, 100, 100)
	r := compute(t, cgm.NewSeries(append(append([]cgm.Reading{}, a...), b...)), Options{})
	if r.Events.HypoLevel1.Total != 0 {
		t.Errorf("episodes across a gap: %d, want 0", r.Events.HypoLevel1.Total)
	}
}
