package vitals

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Source is a source of measurements: its name and class.
type Source struct {
	Name  string
	Class Class
}

// Ranking orders the sources of a patient's measurements: where two
// sources cover the same time, the better-ranked one counts. The zero value
// is the default order: watches, then phones, then the rest, each group by
// name.
type Ranking struct {
	// Order lists source names the patient put first, best first; sources
	// not listed come after them in the default order.
	Order []string
}

// Less reports whether a ranks before b.
func (r Ranking) Less(a, b Source) bool { return r.compare(a, b) < 0 }

func (r Ranking) compare(a, b Source) int {
	ia, ib := slices.Index(r.Order, a.Name), slices.Index(r.Order, b.Name)
	switch {
	case ia >= 0 && ib >= 0:
		if c := cmp.Compare(ia, ib); c != 0 {
			return c
		}
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	if c := cmp.Compare(defaultClassRank(a.Class), defaultClassRank(b.Class)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.Class, b.Class)
}

// Sort orders sources best first.
func (r Ranking) Sort(srcs []Source) { slices.SortFunc(srcs, r.compare) }

// ranks returns each measurement's rank (0 is best) among the distinct
// sources of ms.
func (r Ranking) ranks(ms []Measurement) []int {
	var srcs []Source
	seen := map[Source]bool{}
	for _, m := range ms {
		s := Source{m.Source, m.Class}
		if !seen[s] {
			seen[s] = true
			srcs = append(srcs, s)
		}
	}
	r.Sort(srcs)
	idx := make(map[Source]int, len(srcs))
	for i, s := range srcs {
		idx[s] = i
	}
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = idx[Source{m.Source, m.Class}]
	}
	return out
}

// Piece is the part of a measurement that counts after merging: the
// interval [Start, End) where its source wins, and the share of its value
// that falls there (its value × the piece's length ÷ its duration).
type Piece struct {
	// Index is the measurement's position in the slice given to Merge.
	Index      int
	Start, End time.Time
	Value      float64
}

// segment is a stretch of time with the best rank covering it (-1: none).
type segment struct {
	start, end int64 // UnixNano
	rank       int
}

// winners sweeps the intervals of ms (those with a duration) and returns
// the segments of time each is won by the best rank covering it, in order,
// without the stretches nobody covers.
func winners(ms []Measurement, rank []int, nranks int) []segment {
	type event struct {
		t     int64
		delta int
		rank  int
	}
	evs := make([]event, 0, 2*len(ms))
	for i, m := range ms {
		if m.End.After(m.Start) {
			evs = append(evs, event{m.Start.UnixNano(), 1, rank[i]}, event{m.End.UnixNano(), -1, rank[i]})
		}
	}
	slices.SortFunc(evs, func(a, b event) int { return cmp.Compare(a.t, b.t) })
	count := make([]int, nranks)
	var segs []segment
	for i := 0; i < len(evs); {
		t := evs[i].t
		for ; i < len(evs) && evs[i].t == t; i++ {
			count[evs[i].rank] += evs[i].delta
		}
		if i == len(evs) {
			break
		}
		best := -1
		for r, n := range count {
			if n > 0 {
				best = r
				break
			}
		}
		if best < 0 {
			continue
		}
		next := evs[i].t
		if n := len(segs); n > 0 && segs[n-1].rank == best && segs[n-1].end == t {
			segs[n-1].end = next
		} else {
			segs = append(segs, segment{t, next, best})
		}
	}
	return segs
}

// Merge returns the pieces of cumulative measurements ms (all of one kind)
// that count once the overlaps between sources are resolved by ranking r:
// at each moment only the samples of the best-ranked source covering it
// count, each contributing its value spread evenly over its duration. Two
// samples of the same source that overlap both count (a source's own
// samples are its business). A sample without duration (start = end) counts
// whole unless a better-ranked source covers its instant.
//
// Hence the merged total is the best-ranked source's total plus, for each
// other source, what it counted where no better-ranked source was covering:
// it never exceeds the largest single-source total by more than what the
// other sources recorded outside the time the best-ranked source covers
// (TestMergeBound).
func Merge(ms []Measurement, r Ranking) []Piece {
	if len(ms) == 0 {
		return nil
	}
	rank := r.ranks(ms)
	nranks := slices.Max(rank) + 1
	segs := winners(ms, rank, nranks)
	// The segments each rank wins, in order.
	won := make([][]segment, nranks)
	for _, s := range segs {
		won[s.rank] = append(won[s.rank], s)
	}
	var out []Piece
	for i, m := range ms {
		a, b := m.Start.UnixNano(), m.End.UnixNano()
		if a == b {
			j, _ := slices.BinarySearchFunc(segs, a, func(s segment, t int64) int {
				switch {
				case s.end <= t:
					return -1
				case s.start > t:
					return 1
				}
				return 0
			})
			if j < len(segs) && segs[j].start <= a && a < segs[j].end && segs[j].rank < rank[i] {
				continue
			}
			out = append(out, Piece{Index: i, Start: m.Start, End: m.End, Value: m.Value})
			continue
		}
		ws := won[rank[i]]
		j, _ := slices.BinarySearchFunc(ws, a, func(s segment, t int64) int {
			if s.end <= t {
				return -1
			}
			return 1
		})
		dur := float64(b - a)
		for ; j < len(ws) && ws[j].start < b; j++ {
			lo, hi := max(a, ws[j].start), min(b, ws[j].end)
			if hi <= lo {
				continue
			}
			out = append(out, Piece{Index: i, Start: time.Unix(0, lo).UTC(), End: time.Unix(0, hi).UTC(),
				Value: m.Value * float64(hi-lo) / dur})
		}
	}
	return out
}

// stagePrecedence orders the sleep kinds a source may write over the same
// minutes: a stage is more specific than "asleep", and "awake" inside a
// session more specific than "asleep" too.
var stagePrecedence = [...]Kind{SleepREM, SleepDeep, SleepLight, SleepAwake, SleepAsleep}

// StageInterval is a stretch of one sleep kind after merging.
type StageInterval struct {
	Kind       Kind
	Start, End time.Time
	// Source is the source the stretch comes from.
	Source string
}

// MergeSleep resolves overlapping sleep intervals: the in-bed intervals
// (SleepInBed) and the sleep-state intervals (awake and the stages) are two
// layers, each merged on its own. In each layer, at each moment the
// best-ranked source covering it decides; where that source has several
// state intervals over the same moment, the most specific wins (REM, deep,
// light, awake, then asleep without a stage). It returns the stretches in
// time order, adjacent equal ones joined, the in-bed layer after the
// states.
func MergeSleep(ms []Measurement, r Ranking) []StageInterval {
	var states, beds []Measurement
	for _, m := range ms {
		switch {
		case m.Kind == SleepInBed:
			beds = append(beds, m)
		case m.Kind.Sleep():
			states = append(states, m)
		}
	}
	return append(mergeLayer(states, r), mergeLayer(beds, r)...)
}

// mergeLayer merges one layer of sleep intervals.
func mergeLayer(ms []Measurement, r Ranking) []StageInterval {
	if len(ms) == 0 {
		return nil
	}
	rank := r.ranks(ms)
	nranks := slices.Max(rank) + 1
	names := make([]string, nranks)
	for i, m := range ms {
		names[rank[i]] = m.Source
	}
	type event struct {
		t     int64
		delta int
		rank  int
		kind  Kind
	}
	evs := make([]event, 0, 2*len(ms))
	for i, m := range ms {
		if m.End.After(m.Start) {
			evs = append(evs, event{m.Start.UnixNano(), 1, rank[i], m.Kind}, event{m.End.UnixNano(), -1, rank[i], m.Kind})
		}
	}
	slices.SortFunc(evs, func(a, b event) int { return cmp.Compare(a.t, b.t) })
	count := make([][MaxKind + 1]int, nranks)
	var out []StageInterval
	for i := 0; i < len(evs); {
		t := evs[i].t
		for ; i < len(evs) && evs[i].t == t; i++ {
			count[evs[i].rank][evs[i].kind] += evs[i].delta
		}
		if i == len(evs) {
			break
		}
		best, kind := -1, Kind(0)
		for rk := range count {
			if count[rk][SleepInBed] > 0 {
				best, kind = rk, SleepInBed
				break
			}
			for _, k := range stagePrecedence {
				if count[rk][k] > 0 {
					best, kind = rk, k
					break
				}
			}
			if best >= 0 {
				break
			}
		}
		if best < 0 {
			continue
		}
		from, to := time.Unix(0, t).UTC(), time.Unix(0, evs[i].t).UTC()
		if n := len(out); n > 0 && out[n-1].Kind == kind && out[n-1].Source == names[best] && out[n-1].End.Equal(from) {
			out[n-1].End = to
		} else {
			out = append(out, StageInterval{Kind: kind, Start: from, End: to, Source: names[best]})
		}
	}
	return out
}

// HeartRates returns the indices of the heart-rate samples of ms that
// count: in each minute (UTC, by start) only those of the best-ranked
// source present in that minute, so that a watch and a chest strap worn
// together are not averaged twice over. The indices are in time order.
func HeartRates(ms []Measurement, r Ranking) []int {
	rank := r.ranks(ms)
	idx := make([]int, len(ms))
	for i := range idx {
		idx[i] = i
	}
	minute := func(i int) int64 { return ms[i].Start.Unix() / 60 }
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(minute(a), minute(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(rank[a], rank[b]); c != 0 {
			return c
		}
		return ms[a].Start.Compare(ms[b].Start)
	})
	out := make([]int, 0, len(idx))
	cur, best := int64(0), 0
	for j, i := range idx {
		if j == 0 || minute(i) != cur {
			cur, best = minute(i), rank[i]
		}
		if rank[i] == best {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int { return ms[a].Start.Compare(ms[b].Start) })
	return out
}
