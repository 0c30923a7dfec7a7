package cgm

import "time"

// Wall-clock times. Several exports (LibreView, Dexcom Clarity, Medtronic
// CareLink) write the local time of the device without a UTC offset. Read
// in the patient's IANA zone, such a time is an instant, except twice a
// year: a time in the hour skipped when daylight saving time starts does
// not exist (02:30 on 29 March 2026 in Europe/Rome), and a time in the hour
// repeated when it ends occurs twice (02:30 on 25 October 2026 in
// Europe/Rome: 00:30 and 01:30 UTC). The exports list a device's readings
// of one kind in time order, so a repeated time is resolved from the
// previous reading of the same sequence ([Instants.Resolve]).

// Instants are the instants at which a wall-clock time occurs in a zone,
// in ascending order: none in a daylight-saving gap, two in a repeated
// hour, one otherwise. The zero value holds none.
type Instants struct {
	t [3]time.Time
	n int
}

// LocalInstants returns the instants at which wall, a calendar date and
// clock time given with any location (its fields are read, not its
// instant), occurs in loc.
func LocalInstants(wall time.Time, loc *time.Location) Instants {
	y, mo, d := wall.Date()
	h, mi, s := wall.Clock()
	w := time.Date(y, mo, d, h, mi, s, wall.Nanosecond(), time.UTC)
	// The offsets in force a day either side cover both sides of any
	// transition near w (offsets are within ±14 h).
	var offs [3]int
	n := 0
	for _, probe := range [...]time.Time{w.Add(-24 * time.Hour), w, w.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		dup := false
		for _, o := range offs[:n] {
			dup = dup || o == off
		}
		if !dup {
			offs[n] = off
			n++
		}
	}
	var out Instants
	for _, off := range offs[:n] {
		u := w.Add(-time.Duration(off) * time.Second)
		if _, got := u.In(loc).Zone(); got != off {
			continue // w does not occur with this offset
		}
		i := out.n
		for i > 0 && out.t[i-1].After(u) {
			i--
		}
		if i > 0 && out.t[i-1].Equal(u) {
			continue
		}
		copy(out.t[i+1:out.n+1], out.t[i:out.n])
		out.t[i] = u
		out.n++
	}
	return out
}

// Len returns how many instants there are: 0 in a gap, 2 in a repeated
// hour, 1 otherwise.
func (c Instants) Len() int { return c.n }

// List returns the instants, ascending.
func (c *Instants) List() []time.Time { return c.t[:c.n] }

// Resolve chooses one of the instants (there must be at least one) from
// prev, the instant of the previous reading of the same sequence (zero for
// the first), in a sequence listed in ascending time order, or descending
// when descending is true. Ascending: the earliest instant not before prev,
// or the latest when all are before it (a file out of order). Descending:
// the latest instant not after prev, or the earliest when all are after
// it. The first run through a repeated hour thus gets the instants of the
// first run in the sequence's order, and the second run, which follows
// readings already in that hour, the others.
func (c Instants) Resolve(prev time.Time, descending bool) time.Time {
	if descending {
		for i := c.n - 1; i >= 0; i-- {
			if prev.IsZero() || !c.t[i].After(prev) {
				return c.t[i]
			}
		}
		return c.t[0]
	}
	for _, t := range c.t[:c.n] {
		if prev.IsZero() || !t.Before(prev) {
			return t
		}
	}
	return c.t[c.n-1]
}
