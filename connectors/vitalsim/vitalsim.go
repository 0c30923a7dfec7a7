// Package vitalsim simulates what the demo patients' own devices record
// beside their glucose sensor — an Apple Watch, an iPhone and a blood
// pressure monitor — for the demo (fsecgm serve --dev) and tests. Like
// connectors/glucosim it is a pure function of the patient's seed and of
// time: the same window asked twice gives the same measurements.
//
// The person of a glucosim.Patient:
//
//   - walks: steps through the waking hours, more around meals and in the
//     afternoon exercise session that lowers their glucose
//     (glucosim.Patient.Exercise), counted by the watch in 15-minute
//     samples and by the phone, carried only part of the day, in samples
//     of its own over some of the same hours (the summaries must not count
//     them twice); distance and active energy follow the steps;
//   - sleeps: to bed between about 22:30 and 23:45, up between about 06:15
//     and 07:30 local time, in cycles of light, deep and REM sleep with
//     short awakenings (the watch's stages) and the phone's time in bed;
//   - has a pulse that moves with their glucose: a resting rate of their
//     own, lower asleep, higher while walking, raised by hyperglycaemia and
//     more by hypoglycaemia (the adrenergic response), every 5 minutes from
//     the watch, and a daily resting rate;
//   - measures their blood pressure some mornings.
//
// None of the numbers is clinical truth: they only have to look plausible
// and move with the glucose in the day view.
package vitalsim

import (
	"math"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/connectors/glucosim"
)

// The sources, as an Apple Health export would name them.
const (
	Watch  = "Apple Watch"
	Phone  = "iPhone"
	Cuff   = "OMRON connect"
	device = "Watch Watch6,1"
)

// Patient is the simulated person behind a glucosim.Patient.
type Patient struct {
	g    *glucosim.Patient
	seed uint64
	loc  *time.Location

	rest    float64 // resting heart rate, /min
	walk    float64 // steps per waking hour
	stride  float64 // metres per step
	sys     float64 // usual systolic, mm[Hg]
	bpEvery int     // a blood pressure every so many days
}

// New returns the person of g (the same seed, zone and days).
func New(g *glucosim.Patient) *Patient {
	p := &Patient{g: g, seed: g.Seed() ^ 0x5eed_70_51, loc: g.Location()}
	p.rest = 56 + 16*p.unit(1, 0)
	p.walk = 350 + 450*p.unit(2, 0)
	p.stride = 0.65 + 0.15*p.unit(3, 0)
	p.sys = 118 + 22*p.unit(4, 0)
	p.bpEvery = 1 + int(3*p.unit(5, 0))
	return p
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// unit returns a number in [0, 1) from the seed, a tag and a position.
func (p *Patient) unit(tag, x uint64) float64 {
	return float64(mix(p.seed^mix(tag<<56^x))>>11) / (1 << 53)
}

// night is a night's sleep: asleep from start to end.
type night struct {
	bed, start, end time.Time
}

// nightEnding returns the night that ends on the local day d (a local
// midnight).
func (p *Patient) nightEnding(d time.Time) night {
	k := uint64(d.Unix() / 86400)
	prev := time.Date(d.Year(), d.Month(), d.Day()-1, 0, 0, 0, 0, p.loc)
	bedMin := 22*60 + 30 + 75*p.unit(10, k)
	start := prev.Add(time.Duration(bedMin+10+15*p.unit(11, k)) * time.Minute)
	wake := d.Add(time.Duration(6*60+15+75*p.unit(12, k)) * time.Minute)
	return night{bed: prev.Add(time.Duration(bedMin) * time.Minute).Truncate(time.Second), start: start.Truncate(time.Second), end: wake.Truncate(time.Second)}
}

// asleep reports whether the person sleeps at t.
func (p *Patient) asleep(t time.Time) bool {
	local := t.In(p.loc)
	d := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, p.loc)
	for _, day := range []time.Time{d, time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, p.loc)} {
		n := p.nightEnding(day)
		if !t.Before(n.start) && t.Before(n.end) {
			return true
		}
	}
	return false
}

// stepsRate returns the steps per minute at t (0 asleep).
func (p *Patient) stepsRate(t time.Time) float64 {
	if p.asleep(t) {
		return 0
	}
	local := t.In(p.loc)
	h := float64(local.Hour()) + float64(local.Minute())/60
	if h < 7 || h >= 22.5 {
		return 0.5
	}
	rate := p.walk / 60 * (0.5 + 0.8*p.unit(20, uint64(t.Unix()/900)))
	// After meals, a short walk.
	for _, meal := range []float64{8, 13.25, 20} {
		if h > meal && h < meal+0.5 {
			rate *= 2.2
		}
	}
	if s, d, ok := p.g.Exercise(t); ok && !t.Before(s) && t.Before(s.Add(d)) {
		rate = 95 + 20*p.unit(21, uint64(t.Unix()/300))
	}
	return rate
}

// heartRate returns the pulse at t.
func (p *Patient) heartRate(t time.Time) float64 {
	hr := p.rest + 6 + 4*p.unit(30, uint64(t.Unix()/300))
	if p.asleep(t) {
		hr = p.rest - 6 + 3*p.unit(31, uint64(t.Unix()/300))
	}
	hr += 0.45 * p.stepsRate(t) // walking
	g := p.g.Glucose(t)
	if g > 160 {
		hr += 0.05 * (g - 160) // hyperglycaemia
	}
	if g < 72 {
		hr += 0.6 * (72 - g) // the adrenergic response to a hypo
	}
	return math.Round(math.Min(hr, 190)*10) / 10
}

// Measurements returns what the devices recorded in [from, to): the
// watch's steps, distance and active energy every 15 minutes and its heart
// rate every 5, the phone's steps when carried (every 20 minutes from 08:00
// to 19:00), the nights that end in the window (stages from the watch, in
// bed from the phone; each interval in the window its start falls in), a
// resting heart rate a day and the mornings' blood pressures.
func (p *Patient) Measurements(from, to time.Time) []vitals.Measurement {
	var out []vitals.Measurement
	add := func(m vitals.Measurement) {
		if !m.Start.Before(from) && m.Start.Before(to) {
			out = append(out, m.Normalize())
		}
	}
	grid := func(step time.Duration) time.Time { return from.Truncate(step) }
	// Steps, distance, energy: the watch.
	for t := grid(15 * time.Minute); t.Before(to); t = t.Add(15 * time.Minute) {
		steps := 0.0
		for m := range 15 {
			steps += p.stepsRate(t.Add(time.Duration(m) * time.Minute))
		}
		steps = math.Round(steps)
		if steps == 0 {
			continue
		}
		end := t.Add(15 * time.Minute)
		w := vitals.Measurement{Start: t, End: end, Source: Watch, Class: vitals.ClassWatch, Device: device}
		w.Kind, w.Value = vitals.Steps, steps
		add(w)
		w.Kind, w.Value = vitals.Distance, math.Round(steps*p.stride*10)/10
		add(w)
		w.Kind, w.Value = vitals.ActiveEnergy, math.Round(steps*0.042*100)/100
		add(w)
	}
	// The phone, carried from 08:00 to 19:00: other samples over the same
	// time.
	for t := grid(20 * time.Minute); t.Before(to); t = t.Add(20 * time.Minute) {
		if h := t.In(p.loc).Hour(); h < 8 || h >= 19 {
			continue
		}
		steps := 0.0
		for m := range 20 {
			steps += p.stepsRate(t.Add(time.Duration(m) * time.Minute))
		}
		steps = math.Round(steps * (0.9 + 0.15*p.unit(40, uint64(t.Unix()))))
		if steps > 0 {
			add(vitals.Measurement{Kind: vitals.Steps, Start: t, End: t.Add(20 * time.Minute), Value: steps, Source: Phone, Class: vitals.ClassPhone})
		}
	}
	// Heart rate every 5 minutes.
	for t := grid(5 * time.Minute); t.Before(to); t = t.Add(5 * time.Minute) {
		add(vitals.Measurement{Kind: vitals.HeartRate, Start: t, End: t, Value: p.heartRate(t), Source: Watch, Class: vitals.ClassWatch, Device: device})
	}
	// Nights, resting heart rate, blood pressure: by local day.
	first := from.In(p.loc)
	for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, p.loc); d.Before(to.Add(24 * time.Hour)); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, p.loc) {
		k := uint64(d.Unix() / 86400)
		n := p.nightEnding(d)
		if !n.end.After(from) || !n.bed.Before(to) {
			continue // each interval goes to the window its start is in
		}
		add(vitals.Measurement{Kind: vitals.SleepInBed, Start: n.bed, End: n.end.Add(time.Duration(5+10*p.unit(50, k)) * time.Minute), Source: Phone, Class: vitals.ClassPhone})
		for t, c := n.start, 0; t.Before(n.end); c++ {
			for _, st := range []struct {
				kind vitals.Kind
				min  float64
			}{{vitals.SleepLight, 40 + 15*p.unit(51, k*8+uint64(c))}, {vitals.SleepDeep, math.Max(5, 35-7*float64(c)+10*p.unit(52, k*8+uint64(c)))},
				{vitals.SleepLight, 15}, {vitals.SleepREM, 12 + 6*float64(c) + 8*p.unit(53, k*8+uint64(c))}, {vitals.SleepAwake, 2 + 4*p.unit(54, k*8+uint64(c))}} {
				end := t.Add(time.Duration(st.min * float64(time.Minute))).Truncate(time.Second)
				if end.After(n.end) {
					end = n.end
				}
				if end.After(t) {
					add(vitals.Measurement{Kind: st.kind, Start: t, End: end, Source: Watch, Class: vitals.ClassWatch, Device: device})
				}
				t = end
				if !t.Before(n.end) {
					break
				}
			}
		}
		add(vitals.Measurement{Kind: vitals.RestingHeartRate, Start: n.end, End: n.end, Value: math.Round((p.rest+2*p.unit(55, k))*10) / 10,
			Source: Watch, Class: vitals.ClassWatch, Device: device})
		if int(k)%p.bpEvery == 0 {
			at := n.end.Add(time.Duration(20+40*p.unit(56, k)) * time.Minute).Truncate(time.Minute)
			sys := math.Round(p.sys + 12*p.unit(57, k) - 6)
			add(vitals.Measurement{Kind: vitals.BloodPressure, Start: at, End: at, Value: sys, Value2: math.Round(sys*0.62 + 6*p.unit(58, k)), Source: Cuff})
		}
	}
	return out
}
