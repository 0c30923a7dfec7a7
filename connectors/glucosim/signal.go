package glucosim

import (
	"math"
	"time"
)

// Hash tags: each kind of random draw has its own stream.
const (
	tagParam uint64 = iota + 1
	tagSensor
	tagSerial
	tagBias
	tagSlow
	tagWhite
	tagDay // must stay last: day draws use tagDay+i
)

// Draws of a day, added to tagDay.
const (
	drawBreakfast = iota
	drawLunch
	drawDinner
	drawSnack
	drawExercise
	drawHypo
	drawLoss
)

// mix is the splitmix64 finaliser: a fast, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash returns the random word number x of stream tag of the patient.
func (p *Patient) hash(tag, x uint64) uint64 {
	return mix(mix(p.seed^mix(tag)) + x)
}

// unit maps a random word to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// normal maps a random word to an approximately standard normal number: the
// sum of four 16-bit uniforms, centred and scaled to unit variance.
func normal(h uint64) float64 {
	var s float64
	for i := range 4 {
		s += (float64((h>>(16*i))&0xffff) + 0.5) / 65536
	}
	return (s - 2) * math.Sqrt(3)
}

// event is a meal, an exercise session or a hypo.
type event struct {
	at    int64   // unix second
	amp   float64 // mg/dL
	width float64 // minutes: time to peak, or standard deviation for hypos
}

// day holds the events of one local calendar day.
type day struct {
	start, end       int64 // unix seconds of local midnight and of the next one
	meals            [4]event
	nMeals           int
	exercise         event // amp 0 when none
	hypo             event // amp 0 when none
	lossFrom, lossTo int64 // signal-loss gap, empty when equal
}

// day returns the local day containing unix second u.
func (p *Patient) day(u int64) day {
	y, m, d := time.Unix(u, 0).In(p.loc).Date()
	key := uint64(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	at := func(minutes float64) int64 {
		return time.Date(y, m, d, 0, 0, int(minutes*60), 0, p.loc).Unix()
	}
	r := func(draw int, i uint64) float64 { return unit(p.hash(tagDay+uint64(draw), key*8+i)) }
	dy := day{start: at(0), end: time.Date(y, m, d+1, 0, 0, 0, 0, p.loc).Unix()}

	meal := func(draw int, from, spread, scale, scaleSpread float64) {
		dy.meals[dy.nMeals] = event{
			at:    at(from + spread*r(draw, 1)),
			amp:   p.mealScale * (scale + scaleSpread*r(draw, 2)),
			width: 45 + 30*r(draw, 3),
		}
		dy.nMeals++
	}
	if r(drawBreakfast, 0) > 0.08 { // breakfast is sometimes skipped
		meal(drawBreakfast, 6*60+45, 90, 0.6, 0.8)
	}
	meal(drawLunch, 12*60+15, 105, 0.7, 0.9)
	meal(drawDinner, 19*60+15, 105, 0.7, 0.9)
	if r(drawSnack, 0) < p.pSnack {
		meal(drawSnack, 15*60+30, 90, 0.2, 0.3)
	}
	if r(drawExercise, 0) < p.pExercise {
		dy.exercise = event{at: at(16*60 + 30 + 180*r(drawExercise, 1)), amp: 20 + 40*r(drawExercise, 2), width: 40 + 30*r(drawExercise, 3)}
	}
	if r(drawHypo, 0) < p.pHypo {
		dy.hypo = event{at: at(2*60 + 150*r(drawHypo, 1)), amp: 60 + 50*r(drawHypo, 2), width: 20 + 20*r(drawHypo, 3)}
	}
	if r(drawLoss, 0) < p.pLoss {
		dy.lossFrom = at(1440 * r(drawLoss, 1))
		dy.lossTo = dy.lossFrom + int64((15+105*r(drawLoss, 2))*60)
	}
	return dy
}

// gamma is the shape of a meal or exercise response: 0 before the event,
// rising to 1 at x = 1 (the time to peak) and decaying after it.
func gamma(x float64) float64 {
	if x <= 0 || x > 12 {
		return 0
	}
	return x * math.Exp(1-x)
}

// evaluator computes the signal at increasing instants, keeping the events
// of the current and previous local day.
type evaluator struct {
	p         *Patient
	cur, prev day
	ok        bool
}

// load makes cur the day containing u and prev the day before it.
func (e *evaluator) load(u int64) {
	if e.ok && u >= e.cur.start && u < e.cur.end {
		return
	}
	next := e.p.day(u)
	if e.ok && next.start == e.cur.end {
		e.prev = e.cur // the usual case: moving forward by one day
	} else {
		e.prev = e.p.day(next.start - 1)
	}
	e.cur, e.ok = next, true
}

// at returns the simulated value at unix second u (before the sensor bias
// and the limits) and whether the signal is lost then.
func (e *evaluator) at(u int64) (float64, bool) {
	e.load(u)
	if (u >= e.cur.lossFrom && u < e.cur.lossTo) || (u >= e.prev.lossFrom && u < e.prev.lossTo) {
		return 0, true
	}
	return e.smooth(u) + e.p.whiteNoise*normal(e.p.hash(tagWhite, uint64(floorDiv(u, 60)))), false
}

// smooth returns the signal at unix second u without the minute-to-minute
// noise.
func (e *evaluator) smooth(u int64) float64 {
	e.load(u)
	p := e.p
	// Minutes since local midnight; on the days with a DST change the day
	// is not 24 h long and the wall clock is read directly.
	var mod float64
	if e.cur.end-e.cur.start == 86400 {
		mod = float64(u-e.cur.start) / 60
	} else {
		lt := time.Unix(u, 0).In(p.loc)
		mod = float64(lt.Hour()*60+lt.Minute()) + float64(lt.Second())/60
	}
	v := p.base
	// A 24-h rhythm lowest at 03:00, and the dawn phenomenon around 06:30.
	v += p.circadian * math.Sin(2*math.Pi*(mod-9*60)/1440)
	dd := (mod - 390) / 80
	v += p.dawn * math.Exp(-dd*dd/2)

	for _, dy := range [2]*day{&e.prev, &e.cur} {
		for _, m := range dy.meals[:dy.nMeals] {
			v += m.amp * gamma(float64(u-m.at)/60/m.width)
		}
		if dy.exercise.amp > 0 {
			v -= dy.exercise.amp * gamma(float64(u-dy.exercise.at)/60/dy.exercise.width)
		}
		if h := dy.hypo; h.amp > 0 {
			z := float64(u-h.at) / 60 / h.width
			if z > -4 && z < 4 {
				v -= h.amp * math.Exp(-z*z/2)
			}
		}
	}

	// The slow sensor error: normal values every 20 minutes, joined by a
	// smoothstep.
	k := floorDiv(u, 1200)
	fr := float64(u-k*1200) / 1200
	s := fr * fr * (3 - 2*fr)
	n0, n1 := normal(p.hash(tagSlow, uint64(k))), normal(p.hash(tagSlow, uint64(k+1)))
	v += p.slowNoise * (n0 + (n1-n0)*s)
	return v
}
