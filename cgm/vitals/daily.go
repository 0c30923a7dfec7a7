package vitals

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// SessionGap is the longest break that still joins two sleep intervals
// into one session: a night with a short wake the device did not record is
// one night; an afternoon nap and the following night are two sessions.
const SessionGap = 2 * time.Hour

// Day is the summary of one local calendar day. Its JSON is what `fsecgm
// vitals` prints and the API serves: every key always present, null where
// the day has no such data, numbers unrounded.
type Day struct {
	// Date is the local date, YYYY-MM-DD.
	Date string `json:"date"`
	// Steps, DistanceM and ActiveKcal are the day's totals after merging
	// sources ({steps}, m, kcal).
	Steps      *float64 `json:"steps"`
	DistanceM  *float64 `json:"distance_m"`
	ActiveKcal *float64 `json:"active_kcal"`
	// SleepMinutes is the time asleep (every stage, not awake, not in
	// bed) of the sleep sessions that ended on this day; null when the day
	// has only time in bed.
	SleepMinutes *float64 `json:"sleep_minutes"`
	// SleepStages are the minutes per stage of those sessions.
	SleepStages *SleepStages `json:"sleep_stages"`
	// HeartRate holds the heart-rate figures of the day.
	HeartRate *HeartRateDay `json:"heart_rate"`
	// BloodPressure lists every blood-pressure measurement of the day, in
	// time order (an empty list when none).
	BloodPressure []Pressure `json:"blood_pressure"`

	// HeartRateSamples is the number of heart-rate samples the mean is
	// of (for merging days into periods; not printed).
	HeartRateSamples int `json:"-"`
}

// SleepStages are minutes per sleep stage. Light is HealthKit's "core";
// Unspecified is asleep without a stage (older devices and apps); InBed is
// the time in bed, which overlaps the others.
type SleepStages struct {
	Awake       float64 `json:"awake"`
	Light       float64 `json:"light"`
	Deep        float64 `json:"deep"`
	REM         float64 `json:"rem"`
	Unspecified float64 `json:"unspecified"`
	InBed       float64 `json:"in_bed"`
}

// add adds minutes of kind k.
func (s *SleepStages) add(k Kind, min float64) {
	switch k {
	case SleepAwake:
		s.Awake += min
	case SleepLight:
		s.Light += min
	case SleepDeep:
		s.Deep += min
	case SleepREM:
		s.REM += min
	case SleepAsleep:
		s.Unspecified += min
	case SleepInBed:
		s.InBed += min
	}
}

// Asleep returns the minutes asleep: every stage.
func (s SleepStages) Asleep() float64 { return s.Light + s.Deep + s.REM + s.Unspecified }

// HeartRateDay holds a day's heart rate (/min): minimum, mean and maximum
// of the samples that count (see [HeartRates]), and the resting heart rate
// the device estimated (the best-ranked source's latest of the day); null
// where the day has none.
type HeartRateDay struct {
	Min     *float64 `json:"min"`
	Mean    *float64 `json:"mean"`
	Max     *float64 `json:"max"`
	Resting *float64 `json:"resting"`
}

// Pressure is one blood-pressure measurement: the instant (RFC 3339 in the
// patient's zone) and the pressures in mm[Hg].
type Pressure struct {
	Time      string  `json:"time"`
	Systolic  float64 `json:"systolic"`
	Diastolic float64 `json:"diastolic"`
}

// Options configure [Daily].
type Options struct {
	// Location is the patient's zone: days are its calendar days (UTC
	// when nil).
	Location *time.Location
	// From and To are the first and last local day to return, every day
	// between them included, empty or not (only their dates count). Both
	// zero: the days with data only.
	From, To time.Time
	// Ranking orders the sources where they overlap.
	Ranking Ranking
}

// date is a civil date.
type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time, loc *time.Location) date {
	y, m, d := t.In(loc).Date()
	return date{y, m, d}
}

func (d date) start(loc *time.Location) time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, loc) }
func (d date) next() date {
	y, m, dd := time.Date(d.y, d.m, d.d+1, 0, 0, 0, 0, time.UTC).Date()
	return date{y, m, dd}
}
func (d date) String() string {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}
func (d date) compare(o date) int {
	if c := cmp.Compare(d.y, o.y); c != 0 {
		return c
	}
	if c := cmp.Compare(d.m, o.m); c != 0 {
		return c
	}
	return cmp.Compare(d.d, o.d)
}

// acc accumulates one day.
type acc struct {
	steps, dist, kcal   float64
	hasSteps, hasDist   bool
	hasKcal, hasSleep   bool
	hasAsleep           bool
	stages              SleepStages
	hrN                 int
	hrSum, hrMin, hrMax float64
	resting             float64
	restingRank         int
	restingAt           time.Time
	hasResting          bool
	bp                  []Pressure
	bpAt                []time.Time
}

// Daily summarises measurements on the local days of o.Location (see the
// package documentation): one [Day] per local date from o.From to o.To,
// empty days included, or, without them, one per day with data. ms may
// be in any order and hold any kinds; measurements that fail Validate are
// the caller's to refuse, not Daily's.
func Daily(ms []Measurement, o Options) []Day {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	days := map[date]*acc{}
	get := func(d date) *acc {
		a := days[d]
		if a == nil {
			a = &acc{}
			days[d] = a
		}
		return a
	}
	var byKind [MaxKind + 1][]Measurement
	for _, m := range ms {
		if m.Kind.Valid() {
			byKind[m.Kind] = append(byKind[m.Kind], m)
		}
	}

	// Steps, distance, active energy: merged pieces split over the days
	// they span. A sample without duration is a total the source wrote at
	// an instant (Garmin Connect writes its daily distance and energy at
	// 23:59:59): it is taken to cover its local day up to that instant.
	for _, k := range []Kind{Steps, Distance, ActiveEnergy} {
		in := byKind[k]
		if len(in) == 0 {
			continue
		}
		widened := make([]Measurement, len(in))
		for i, m := range in {
			if m.End.Equal(m.Start) {
				m.Start = dateOf(m.Start, loc).start(loc).UTC()
			}
			widened[i] = m
		}
		for _, p := range Merge(widened, o.Ranking) {
			spread(p.Start, p.End, p.Value, loc, func(d date, v float64) {
				a := get(d)
				switch k {
				case Steps:
					a.steps += v
					a.hasSteps = true
				case Distance:
					a.dist += v
					a.hasDist = true
				case ActiveEnergy:
					a.kcal += v
					a.hasKcal = true
				}
			})
		}
	}

	// Sleep: merged stretches grouped into sessions, attributed to the
	// day the session ends.
	var sleep []Measurement
	for k := SleepInBed; k <= SleepREM; k++ {
		sleep = append(sleep, byKind[k]...)
	}
	if len(sleep) > 0 {
		stretches := MergeSleep(sleep, o.Ranking)
		var states, beds []StageInterval
		for _, s := range stretches {
			if s.Kind == SleepInBed {
				beds = append(beds, s)
			} else {
				states = append(states, s)
			}
		}
		for li, layer := range [][]StageInterval{states, beds} {
			for _, sess := range sessions(layer) {
				last := sess[len(sess)-1].End.Add(-time.Nanosecond)
				a := get(dateOf(last, loc))
				a.hasSleep = true
				a.hasAsleep = a.hasAsleep || li == 0
				for _, s := range sess {
					a.stages.add(s.Kind, s.End.Sub(s.Start).Minutes())
				}
			}
		}
	}

	// Heart rate.
	if hr := byKind[HeartRate]; len(hr) > 0 {
		for _, i := range HeartRates(hr, o.Ranking) {
			m := hr[i]
			a := get(dateOf(m.Start, loc))
			if a.hrN == 0 || m.Value < a.hrMin {
				a.hrMin = m.Value
			}
			if a.hrN == 0 || m.Value > a.hrMax {
				a.hrMax = m.Value
			}
			a.hrN++
			a.hrSum += m.Value
		}
	}
	if rest := byKind[RestingHeartRate]; len(rest) > 0 {
		rank := o.Ranking.ranks(rest)
		for i, m := range rest {
			a := get(dateOf(m.Start, loc))
			if !a.hasResting || rank[i] < a.restingRank || rank[i] == a.restingRank && !m.Start.Before(a.restingAt) {
				a.resting, a.restingRank, a.restingAt, a.hasResting = m.Value, rank[i], m.Start, true
			}
		}
	}

	// Blood pressure: every measurement, equal ones at the same instant
	// once.
	for _, m := range byKind[BloodPressure] {
		a := get(dateOf(m.Start, loc))
		dup := false
		for j, at := range a.bpAt {
			if at.Equal(m.Start) && a.bp[j].Systolic == m.Value && a.bp[j].Diastolic == m.Value2 {
				dup = true
				break
			}
		}
		if !dup {
			a.bpAt = append(a.bpAt, m.Start)
			a.bp = append(a.bp, Pressure{Time: m.Start.In(loc).Format(time.RFC3339), Systolic: m.Value, Diastolic: m.Value2})
		}
	}

	// The range of days.
	var from, to date
	switch {
	case o.From.IsZero() && o.To.IsZero():
		keys := make([]date, 0, len(days))
		for d := range days {
			keys = append(keys, d)
		}
		slices.SortFunc(keys, date.compare)
		out := make([]Day, len(keys))
		for i, d := range keys {
			out[i] = days[d].day(d)
		}
		return out
	case o.From.IsZero() || o.To.IsZero():
		for d := range days {
			if d.compare(from) < 0 || from == (date{}) {
				from = d
			}
			if d.compare(to) > 0 || to == (date{}) {
				to = d
			}
		}
		if len(days) == 0 {
			return []Day{}
		}
		if !o.From.IsZero() {
			from = civil(o.From)
		}
		if !o.To.IsZero() {
			to = civil(o.To)
		}
	default:
		from, to = civil(o.From), civil(o.To)
	}
	out := []Day{}
	for d := from; d.compare(to) <= 0; d = d.next() {
		out = append(out, days[d].day(d))
	}
	return out
}

// civil returns the date t names (its year, month and day as written,
// whatever its zone).
func civil(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// day turns an accumulator into a Day (a nil one into an empty day).
func (a *acc) day(d date) Day {
	out := Day{Date: d.String(), BloodPressure: []Pressure{}}
	if a == nil {
		return out
	}
	num := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	out.Steps = num(a.steps, a.hasSteps)
	out.DistanceM = num(a.dist, a.hasDist)
	out.ActiveKcal = num(a.kcal, a.hasKcal)
	if a.hasSleep {
		st := a.stages
		out.SleepStages = &st
		out.SleepMinutes = num(st.Asleep(), a.hasAsleep)
	}
	if a.hrN > 0 || a.hasResting {
		hr := &HeartRateDay{Resting: num(a.resting, a.hasResting)}
		if a.hrN > 0 {
			hr.Min, hr.Max = num(a.hrMin, true), num(a.hrMax, true)
			hr.Mean = num(a.hrSum/float64(a.hrN), true)
		}
		out.HeartRate = hr
		out.HeartRateSamples = a.hrN
	}
	if len(a.bp) > 0 {
		idx := make([]int, len(a.bp))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(x, y int) int { return a.bpAt[x].Compare(a.bpAt[y]) })
		out.BloodPressure = make([]Pressure, len(idx))
		for i, j := range idx {
			out.BloodPressure[i] = a.bp[j]
		}
	}
	return out
}

// spread splits value v of [from, to) over the local days it spans, in
// proportion to time; a zero-length interval goes whole to its day.
func spread(from, to time.Time, v float64, loc *time.Location, add func(date, float64)) {
	if !to.After(from) {
		add(dateOf(from, loc), v)
		return
	}
	total := float64(to.Sub(from))
	for cur := from; cur.Before(to); {
		d := dateOf(cur, loc)
		end := d.next().start(loc)
		if end.After(to) {
			end = to
		}
		add(d, v*float64(end.Sub(cur))/total)
		cur = end
	}
}

// sessions groups merged stretches (one layer, in time order) into
// sessions: stretches closer than SessionGap.
func sessions(ss []StageInterval) [][]StageInterval {
	slices.SortStableFunc(ss, func(a, b StageInterval) int { return a.Start.Compare(b.Start) })
	var out [][]StageInterval
	for i, s := range ss {
		if i == 0 || s.Start.Sub(out[len(out)-1][len(out[len(out)-1])-1].End) >= SessionGap {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	return out
}

// Period summarises days for the taccuino's blocks and the AGP report's
// line: means over the days that have the figure (NaN when no day has it).
type Period struct {
	// Days is the number of days summarised.
	Days int
	// StepsDays, SleepDays, ... count the days with that figure.
	StepsDays, DistanceDays, KcalDays, SleepDays, HeartRateDays, RestingDays int
	// MeanSteps, MeanDistanceM, MeanActiveKcal are daily means over the
	// days with data; MeanSleepMinutes over the nights with sleep.
	MeanSteps, MeanDistanceM, MeanActiveKcal, MeanSleepMinutes float64
	// Stages sums the sleep stages of the period (for the shares).
	Stages SleepStages
	// HeartRateMin, HeartRateMean, HeartRateMax over every counted sample
	// of the period; MeanResting the mean of the days' resting rates.
	HeartRateMin, HeartRateMean, HeartRateMax, MeanResting float64
	// Pressures counts the blood-pressure measurements; Last is the
	// latest one.
	Pressures int
	Last      *Pressure
}

// Summarize merges days into a Period.
func Summarize(days []Day) Period {
	p := Period{Days: len(days)}
	var steps, dist, kcal, sleep, rest, hrSum float64
	hrN := 0
	for _, d := range days {
		if d.Steps != nil {
			steps += *d.Steps
			p.StepsDays++
		}
		if d.DistanceM != nil {
			dist += *d.DistanceM
			p.DistanceDays++
		}
		if d.ActiveKcal != nil {
			kcal += *d.ActiveKcal
			p.KcalDays++
		}
		if d.SleepMinutes != nil && d.SleepStages != nil {
			sleep += *d.SleepMinutes
			p.SleepDays++
			s := d.SleepStages
			p.Stages.Awake += s.Awake
			p.Stages.Light += s.Light
			p.Stages.Deep += s.Deep
			p.Stages.REM += s.REM
			p.Stages.Unspecified += s.Unspecified
			p.Stages.InBed += s.InBed
		}
		if hr := d.HeartRate; hr != nil {
			if hr.Mean != nil && d.HeartRateSamples > 0 {
				if hrN == 0 || *hr.Min < p.HeartRateMin {
					p.HeartRateMin = *hr.Min
				}
				if hrN == 0 || *hr.Max > p.HeartRateMax {
					p.HeartRateMax = *hr.Max
				}
				hrSum += *hr.Mean * float64(d.HeartRateSamples)
				hrN += d.HeartRateSamples
				p.HeartRateDays++
			}
			if hr.Resting != nil {
				rest += *hr.Resting
				p.RestingDays++
			}
		}
		for i := range d.BloodPressure {
			p.Pressures++
			p.Last = &d.BloodPressure[i]
		}
	}
	div := func(s float64, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return s / float64(n)
	}
	p.MeanSteps, p.MeanDistanceM, p.MeanActiveKcal = div(steps, p.StepsDays), div(dist, p.DistanceDays), div(kcal, p.KcalDays)
	p.MeanSleepMinutes, p.MeanResting = div(sleep, p.SleepDays), div(rest, p.RestingDays)
	p.HeartRateMean = div(hrSum, hrN)
	return p
}
