package glucosim

import (
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"
)

// Model is the sensor model a patient wears.
type Model uint8

// The simulated sensor models.
const (
	// Libre2 stores a historic value every 15 minutes.
	Libre2 Model = 2
	// Libre3 stores a historic value every 5 minutes.
	Libre3 Model = 3
)

// String returns "Libre 2" or "Libre 3".
func (m Model) String() string {
	switch m {
	case Libre2:
		return "Libre 2"
	case Libre3:
		return "Libre 3"
	}
	return fmt.Sprintf("Model(%d)", uint8(m))
}

// HistoryInterval returns the spacing of the model's historic values: 15
// minutes for Libre 2, 5 minutes for Libre 3 (the Record Type 0 spacing of
// LibreView exports; the Libre 3 graph fixtures of
// timoschlueter/nightscout-librelink-up).
func (m Model) HistoryInterval() time.Duration {
	if m == Libre2 {
		return 15 * time.Minute
	}
	return 5 * time.Minute
}

// ProductType returns the LibreLinkUp sensor `pt` code: 3 for Libre 2, 4 for
// Libre 3 (gui-dos/DiaBLE, DiaBLE/LibreLink.swift).
func (m Model) ProductType() int {
	if m == Libre2 {
		return 3
	}
	return 4
}

// DeviceTypeID returns the LibreLinkUp `dtid` of the patient's app: 40067 for
// Libre 2, 40068 for the Libre 3 app (gui-dos/DiaBLE, DiaBLE/LibreLink.swift).
func (m Model) DeviceTypeID() int {
	if m == Libre2 {
		return 40067
	}
	return 40068
}

// Sensor timing.
const (
	// SensorLife is how long a sensor works after its activation.
	SensorLife = 14 * 24 * time.Hour
	// WarmUp is the time after activation during which a sensor gives no
	// values (the LibreLinkUp sensor field `w`, 60 minutes).
	WarmUp = 60 * time.Minute
	// CurrentInterval is the cadence of current (real-time) values.
	CurrentInterval = time.Minute
	// maxChangeDelay bounds the extra gap between a sensor's end and the
	// activation of the next one.
	maxChangeDelay = 2 * time.Hour
)

// Sensor is one sensor a patient wore.
type Sensor struct {
	// Index numbers the patient's sensors in time order (it may be negative).
	Index int64
	// Serial is the 10-character LibreLinkUp `sn` of the sensor.
	Serial string
	// Activated is when the sensor was started, in UTC, to the second.
	Activated time.Time
	// Ends is when the sensor stopped: 14 days after activation, or earlier
	// if the next sensor was started before that.
	Ends time.Time
	// Model is the sensor model.
	Model Model
}

// DataFrom returns the end of the warm-up: the first instant with values.
func (s Sensor) DataFrom() time.Time { return s.Activated.Add(WarmUp) }

// Point is one simulated glucose value.
type Point struct {
	// Time is the instant of the value, in UTC.
	Time time.Time
	// MgDL is the glucose in mg/dL, between 40 and 500.
	MgDL int
	// Flags is cgm.FlagLow or cgm.FlagHigh when the value was clamped.
	Flags cgm.Flag
	// Trend is the arrow of a current value (0 on historic points and on
	// LO/HI values).
	Trend cgm.Trend
}

// Patient is a simulated person wearing Libre sensors. It is immutable and
// safe for concurrent use.
type Patient struct {
	seed  uint64
	model Model
	loc   *time.Location

	origin int64 // unix second of sensor 0's nominal start

	base       float64 // fasting level, mg/dL
	circadian  float64 // amplitude of the 24-h rhythm
	dawn       float64 // amplitude of the dawn phenomenon
	mealScale  float64 // typical post-prandial rise
	pSnack     float64
	pExercise  float64
	pHypo      float64
	pLoss      float64
	slowNoise  float64 // sd of the slow sensor error
	whiteNoise float64 // sd of the minute-to-minute noise
}

// New returns the patient with the given seed wearing sensors of model m,
// living in loc (local time drives meals, sleep and the dawn phenomenon; nil
// means UTC). Every parameter of the patient is derived from the seed. A
// model other than Libre2 and Libre3 is taken as Libre3.
func New(seed uint64, m Model, loc *time.Location) *Patient {
	if m != Libre2 && m != Libre3 {
		m = Libre3
	}
	if loc == nil {
		loc = time.UTC
	}
	p := &Patient{seed: seed, model: m, loc: loc}
	u := func(tag uint64) float64 { return unit(p.hash(tagParam, tag)) }
	// Sensor 0 starts somewhere in the 14 days after 2020-01-06 00:00 UTC,
	// at a random second: the grid of every later sensor follows from it.
	p.origin = time.Date(2020, 1, 6, 0, 0, 0, 0, time.UTC).Unix() + int64(u(1)*float64(SensorLife/time.Second))
	p.base = 110 + 35*u(2)
	p.circadian = 4 + 8*u(3)
	p.dawn = 8 + 27*u(4)
	p.mealScale = 45 + 45*u(5)
	p.pSnack = 0.2 + 0.4*u(6)
	p.pExercise = 0.15 + 0.35*u(7)
	p.pHypo = 0.1 + 0.3*u(8)
	p.pLoss = 0.1 + 0.3*u(9)
	p.slowNoise = 6 + 6*u(10)
	p.whiteNoise = 1.5 + 2*u(11)
	return p
}

// Seed returns the patient's seed.
func (p *Patient) Seed() uint64 { return p.seed }

// Model returns the patient's sensor model.
func (p *Patient) Model() Model { return p.model }

// Location returns the patient's time zone.
func (p *Patient) Location() *time.Location { return p.loc }

// SensorAt returns the sensor worn at t, and false when no sensor was
// worn (between one sensor's end and the next one's activation).
func (p *Patient) SensorAt(t time.Time) (Sensor, bool) {
	k := floorDiv(t.Unix()-p.origin, int64(SensorLife/time.Second))
	for _, i := range [2]int64{k, k - 1} {
		s := p.sensor(i)
		if !t.Before(s.Activated) && t.Before(s.Ends) {
			return s, true
		}
	}
	return Sensor{}, false
}

// sensor returns sensor k.
func (p *Patient) sensor(k int64) Sensor {
	act := p.activation(k)
	ends := min(act+int64(SensorLife/time.Second), p.activation(k+1))
	return Sensor{
		Index:     k,
		Serial:    p.serial(k),
		Activated: time.Unix(act, 0).UTC(),
		Ends:      time.Unix(ends, 0).UTC(),
		Model:     p.model,
	}
}

// activation returns the unix second of sensor k's activation: its nominal
// start plus a delay of up to two hours.
func (p *Patient) activation(k int64) int64 {
	delay := int64(unit(p.hash(tagSensor, uint64(k))) * float64(maxChangeDelay/time.Second))
	return p.origin + k*int64(SensorLife/time.Second) + delay
}

// serialAlphabet is the 32-symbol alphabet of Libre serial numbers (no B, I,
// O or S).
const serialAlphabet = "0123456789ACDEFGHJKLMNPQRTUVWXYZ"

// serial returns the LibreLinkUp `sn` of sensor k.
func (p *Patient) serial(k int64) string {
	h := p.hash(tagSerial, uint64(k))
	var b [10]byte
	switch p.model {
	case Libre2:
		b[0], b[1] = 'M', 'H'
		for i := 2; i < 10; i++ {
			b[i] = serialAlphabet[h&31]
			h >>= 5
		}
	default:
		b[0] = '0'
		b[1] = "DE"[h&1]
		h >>= 1
		for i := 2; i < 9; i++ {
			b[i] = serialAlphabet[h&31]
			h >>= 5
		}
		b[9] = '0'
	}
	return string(b[:])
}

// Historic returns the historic points with from <= Time < to, oldest first:
// one every 5 or 15 minutes on each sensor's grid, none during warm-ups,
// sensor changes and signal losses.
func (p *Patient) Historic(from, to time.Time) []Point {
	n := int(to.Sub(from)/p.model.HistoryInterval()) + 2
	if n < 0 {
		n = 0
	}
	return p.AppendHistoric(make([]Point, 0, n), from, to)
}

// AppendHistoric appends the points [Patient.Historic] would return to dst,
// so that a caller can reuse its buffer.
func (p *Patient) AppendHistoric(dst []Point, from, to time.Time) []Point {
	if !from.Before(to) {
		return dst
	}
	step := int64(p.model.HistoryInterval() / time.Second)
	f, t := from.Unix(), to.Unix()
	if from.Nanosecond() > 0 {
		f++ // points fall on whole seconds
	}
	if to.Nanosecond() > 0 {
		t++
	}
	life := int64(SensorLife / time.Second)
	ev := evaluator{p: p}
	for k := floorDiv(f-p.origin, life) - 1; ; k++ {
		act := p.activation(k)
		if act >= t {
			break
		}
		ends := min(act+life, p.activation(k+1))
		start := act + int64(WarmUp/time.Second)
		lo, hi := max(f, start), min(t, ends)
		if lo >= hi {
			continue
		}
		bias := p.sensorBias(k)
		first := start + ceilDiv(lo-start, step)*step
		for u := first; u < hi; u += step {
			v, lost := ev.at(u)
			if lost {
				continue
			}
			mg, flags := clamp(v * bias)
			dst = append(dst, Point{Time: time.Unix(u, 0).UTC(), MgDL: mg, Flags: flags})
		}
	}
	return dst
}

// Current returns the current value at instant at: the value of the latest
// 1-minute tick of the worn sensor not after at, with its trend arrow. It
// returns false during warm-ups, sensor changes and signal losses.
func (p *Patient) Current(at time.Time) (Point, bool) {
	s, ok := p.SensorAt(at)
	if !ok {
		return Point{}, false
	}
	start := s.DataFrom().Unix()
	now := at.Unix()
	if now < start {
		return Point{}, false
	}
	u := start + (now-start)/60*60
	ev := evaluator{p: p}
	v, lost := ev.at(u)
	if lost {
		return Point{}, false
	}
	bias := p.sensorBias(s.Index)
	mg, flags := clamp(v * bias)
	pt := Point{Time: time.Unix(u, 0).UTC(), MgDL: mg, Flags: flags}
	if flags == 0 {
		// The arrow follows the rate of change over the last 15 minutes of
		// the smooth signal: ±1 and ±2 mg/dL/min separate the five arrows
		// (GlucoDataHandler's rates, pachi81/GlucoDataHandler
		// LibreLinkSourceTask.kt).
		prev := ev.smooth(u - 15*60)
		rate := (ev.smooth(u) - prev) * bias / 15
		pt.Trend = trendOf(rate)
	}
	return pt, true
}

// trendOf maps a rate in mg/dL per minute to a LibreLinkUp arrow.
func trendOf(rate float64) cgm.Trend {
	switch {
	case rate <= -2:
		return cgm.TrendFallingFast
	case rate <= -1:
		return cgm.TrendFalling
	case rate < 1:
		return cgm.TrendStable
	case rate < 2:
		return cgm.TrendRising
	}
	return cgm.TrendRisingFast
}

// clamp rounds v to whole mg/dL and applies the sensor limits.
func clamp(v float64) (int, cgm.Flag) {
	c, f := cgm.Clamp(math.Round(v), cgm.MgDL)
	return int(c), f
}

// sensorBias is the calibration error of sensor k: a factor within ±6 %.
func (p *Patient) sensorBias(k int64) float64 {
	return 1 + 0.12*(unit(p.hash(tagBias, uint64(k)))-0.5)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// Glucose returns the person's glucose at instant at in mg/dL, as the body
// has it: the smooth signal without the sensor's bias, noise, gaps and
// limits. Other simulations (connectors/vitalsim: a pulse that follows
// the glucose) read it; it is not what any sensor reports.
func (p *Patient) Glucose(at time.Time) float64 {
	ev := evaluator{p: p}
	return ev.smooth(at.Unix())
}

// Exercise returns the exercise session of the local day containing at,
// the one that lowers the glucose that afternoon: its start and how long
// it lasts. ok is false on days without one.
func (p *Patient) Exercise(at time.Time) (start time.Time, d time.Duration, ok bool) {
	dy := p.day(at.Unix())
	if dy.exercise.amp == 0 {
		return time.Time{}, 0, false
	}
	return time.Unix(dy.exercise.at, 0).UTC(), time.Duration(dy.exercise.width * float64(time.Minute)), true
}
