package agp

import (
	"math"

	"fsecgm/cgm"
)

// Flags of a grid point, one bit per threshold crossed.
const (
	flagHypo1  uint8 = 1 << iota // g < 70 mg/dL (3.9 mmol/L)
	flagHypo2                    // g < 54 mg/dL (3.0 mmol/L)
	flagHyper1                   // g > 180 mg/dL (10.0 mmol/L)
	flagHyper2                   // g > 250 mg/dL (13.9 mmol/L)
)

// level defines one kind of episode on the grid: points carrying flag are
// flagged; an episode starts at the first point of a run of at least
// minStart flagged points and ends just before the first run of at least
// minEnd unflagged points that begins after its start, or at the end of the
// segment (iglu 4.3.0 event_class; Battelino et al. 2023).
type level struct {
	flag     uint8
	minStart float64
	minEnd   int
}

// span is an episode: grid indices [s, e].
type span struct{ s, e int }

// run is a maximal run of grid points with the same flags; flags 0xFF marks
// missing points, which separate segments.
type run struct {
	start int32
	n     int32
	flags uint8
}

const missing uint8 = 0xFF

// find appends the episodes of level l found in runs.
func (l level) find(runs []run, out []span) []span {
	in, start := false, 0
	// A level run is a maximal sequence of runs with the same level flag
	// inside one segment.
	for i := 0; i < len(runs); {
		if runs[i].flags == missing {
			if in {
				out = append(out, span{start, int(runs[i].start) - 1})
				in = false
			}
			i++
			continue
		}
		f := runs[i].flags&l.flag != 0
		a, n := int(runs[i].start), int(runs[i].n)
		j := i + 1
		for j < len(runs) && runs[j].flags != missing && (runs[j].flags&l.flag != 0) == f {
			n += int(runs[j].n)
			j++
		}
		if f {
			if !in && float64(n) >= l.minStart {
				in, start = true, a
			}
		} else if in && n >= l.minEnd {
			out = append(out, span{start, a - 1})
			in = false
		}
		i = j
	}
	if in {
		last := runs[len(runs)-1]
		out = append(out, span{start, int(last.start+last.n) - 1})
	}
	return out
}

// events finds the episodes of each kind (Battelino et al., Lancet Diabetes
// Endocrinol 2023;11:42–57, as iglu 4.3.0's R/episode_calculation.R encodes
// it).
// Durations count grid points: 15 minutes is ceil(15/dt0) points. Extended
// hypoglycaemia needs more than 120 minutes (120/dt0 + 1 points) below
// 70 mg/dL (iglu's ext_hypo); extended hyperglycaemia needs ceil(120/dt0)
// points above 250 mg/dL, with the same end rule (the preset of
// shstat1729/cgmguru's detect_hyperglycemic_events). The grid is
// run-length encoded once by flags, so each kind of episode costs a pass
// over the runs, not over the points.
func (c *calc) events() Events {
	g := &c.grid
	dt := float64(g.dt0)
	n := math.Ceil(15 / dt)
	levels := [6]level{
		{flag: flagHypo1, minStart: n, minEnd: int(n)},
		{flag: flagHypo2, minStart: n, minEnd: int(n)},
		{flag: flagHypo1, minStart: 120/dt + 1, minEnd: int(n)},
		{flag: flagHyper1, minStart: n, minEnd: int(n)},
		{flag: flagHyper2, minStart: n, minEnd: int(n)},
		{flag: flagHyper2, minStart: math.Ceil(120 / dt), minEnd: int(n)},
	}
	th := c.th
	runs := c.w.runs[:0]
	cur := run{flags: 0xFE} // no point has these flags
	for i, v := range g.vals {
		var f uint8
		switch {
		case v != v:
			f = missing
		case v < th.low:
			f = flagHypo1
			if v < th.veryLow {
				f |= flagHypo2
			}
		case v > th.targetHigh:
			f = flagHyper1
			if v > th.high {
				f |= flagHyper2
			}
		}
		if f == cur.flags {
			cur.n++
			continue
		}
		if cur.n > 0 {
			runs = append(runs, cur)
		}
		cur = run{start: int32(i), n: 1, flags: f}
	}
	if cur.n > 0 {
		runs = append(runs, cur)
	}
	c.w.runs = runs
	var spans [6][]span
	for i, l := range levels {
		spans[i] = l.find(runs, nil)
	}
	return Events{
		HypoLevel1:           c.summarise(spans[0]),
		HypoLevel2:           c.summarise(spans[1]),
		HypoLevel1Exclusive:  c.summarise(exclusive(spans[0], spans[1])),
		HypoExtended:         c.summarise(spans[2]),
		HyperLevel1:          c.summarise(spans[3]),
		HyperLevel2:          c.summarise(spans[4]),
		HyperLevel1Exclusive: c.summarise(exclusive(spans[3], spans[4])),
		HyperExtended:        c.summarise(spans[5]),
	}
}

// exclusive returns the level 1 episodes that contain no point of a level 2
// episode (iglu's lv1_excl).
func exclusive(lv1, lv2 []span) []span {
	out := make([]span, 0, len(lv1))
	j := 0
	for _, e := range lv1 {
		for j < len(lv2) && lv2[j].e < e.s {
			j++
		}
		if j < len(lv2) && lv2[j].s <= e.e {
			continue // overlaps a level 2 episode
		}
		out = append(out, e)
	}
	return out
}

// summarise reports count, rate, mean duration and mean glucose of episodes,
// as iglu's episode_summary: per day = episodes / (non-missing grid points ·
// dt0 / 60 / 24); mean glucose = mean of the episodes' mean grid values.
func (c *calc) summarise(sp []span) Episodes {
	g := &c.grid
	ep := Episodes{Total: len(sp)}
	if len(sp) == 0 {
		return ep
	}
	dt := float64(g.dt0)
	ep.PerDay = float64(len(sp)) / (float64(g.valid) * dt / 60 / 24)
	ep.List = make([]Episode, len(sp))
	var sumMin, sumGl float64
	for i, e := range sp {
		sum := 0.0
		for _, v := range g.vals[e.s : e.e+1] {
			sum += v
		}
		pts := float64(e.e - e.s + 1)
		mean := cgm.ToMgDL(sum/pts, c.unit)
		ep.List[i] = Episode{Start: g.instant(e.s), End: g.instant(e.e), Minutes: pts * dt, MeanMgDL: mean}
		sumMin += pts * dt
		sumGl += sum / pts
	}
	ep.MeanMinutes = sumMin / float64(len(sp))
	m := cgm.ToMgDL(sumGl/float64(len(sp)), c.unit)
	ep.MeanMgDL = &m
	return ep
}

// noEvents is the events report when no grid can be built.
func noEvents() Events { return Events{} }
