package cgm

import (
	"cmp"
	"slices"
	"time"
)

// Series is a patient's readings sorted by time, with at most one reading per
// instant and kind. Build it with [NewSeries]; the glucometrics engine relies
// on that order and never sorts again.
type Series []Reading

// NewSeries sorts readings by time (and kind, for equal times) and removes
// duplicates: of several readings with the same instant and kind, the last
// one given is kept (iglu's CGMS2DayByDay keeps the last of repeated
// timestamps: irinagain/iglu 4.3.0, R/utils.R). The input
// slice is reordered in place and reused.
func NewSeries(rs []Reading) Series {
	slices.SortStableFunc(rs, func(a, b Reading) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	out := rs[:0]
	for i, r := range rs {
		if i+1 < len(rs) && rs[i+1].Time.Equal(r.Time) && rs[i+1].Kind == r.Kind {
			continue // a later duplicate follows: keep that one
		}
		out = append(out, r)
	}
	return Series(out)
}

// Between returns the readings taken in [from, to), sharing the series' memory.
func (s Series) Between(from, to time.Time) Series {
	i, _ := slices.BinarySearchFunc(s, from, func(r Reading, t time.Time) int { return r.Time.Compare(t) })
	j, _ := slices.BinarySearchFunc(s, to, func(r Reading, t time.Time) int { return r.Time.Compare(t) })
	return s[i:j]
}

// Count returns the number of readings of kind k.
func (s Series) Count(k Kind) int {
	n := 0
	for _, r := range s {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// Latest returns the most recent reading of one of the given kinds (any kind
// when none is given) and whether there is one.
func (s Series) Latest(kinds ...Kind) (Reading, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if len(kinds) == 0 || slices.Contains(kinds, s[i].Kind) {
			return s[i], true
		}
	}
	return Reading{}, false
}
