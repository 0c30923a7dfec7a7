package vitals

import (
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"
)

// Measurement is one sample of a patient's device.
type Measurement struct {
	// Kind is what is measured.
	Kind Kind
	// Start and End are the interval the sample covers, in UTC; for an
	// instant (heart rate, blood pressure) End equals Start.
	Start, End time.Time
	// Value is the value in Kind.Unit(): steps, metres, kilocalories,
	// beats per minute, the systolic pressure; for a sleep interval its
	// length in minutes (see [Measurement.Normalize]).
	Value float64
	// Value2 is the diastolic pressure of a blood pressure; 0 otherwise.
	Value2 float64
	// Source names who recorded the sample, as the export names it: the
	// device or app ("Apple Watch di Mario", "iPhone", "Connect").
	Source string
	// Class is the kind of device the source is.
	Class Class
	// Device describes the device when the export does (model, hardware;
	// free text of at most 200 characters), else "".
	Device string
}

// Duration returns End − Start.
func (m Measurement) Duration() time.Duration { return m.End.Sub(m.Start) }

// Limits of what is accepted (Validate).
const (
	// MaxInterval bounds a sample's duration: a day's total written over
	// two days is still accepted, a week is not.
	MaxInterval = 48 * time.Hour
	// MaxSourceLen bounds a source name, MaxDeviceLen a device text.
	MaxSourceLen = 128
	MaxDeviceLen = 200
)

// EarliestMeasurement is the earliest instant accepted: no consumer device
// of these kinds recorded before 2000.
var EarliestMeasurement = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// bounds returns the range of plausible values of a kind (Value), per
// sample. The limits reject unit errors (a distance in km read as m is still
// plausible, one in mm is not) and impossible values, not unusual ones:
// heart rate 20–300 /min, blood pressure systolic 40–300 and diastolic
// 20–200 mm[Hg], at most 100,000 steps, 500 km and 20,000 kcal in one
// sample.
func bounds(k Kind) (lo, hi float64) {
	switch k {
	case Steps:
		return 0, 100_000
	case Distance:
		return 0, 500_000
	case ActiveEnergy:
		return 0, 20_000
	case HeartRate, RestingHeartRate:
		return 20, 300
	case BloodPressure:
		return 40, 300
	}
	return 0, MaxInterval.Minutes()
}

// Normalize returns m with what follows from its kind filled in: a sleep
// interval's Value is its length in minutes; instants' End is Start when
// zero; instants are in UTC.
func (m Measurement) Normalize() Measurement {
	m.Start, m.End = m.Start.UTC(), m.End.UTC()
	if m.End.IsZero() {
		m.End = m.Start
	}
	if m.Kind.Sleep() {
		m.Value = m.End.Sub(m.Start).Minutes()
	}
	return m
}

// Validate checks a measurement as it is to be stored: a known kind; a
// start not before [EarliestMeasurement] and not more than a day after now
// (when now is not zero); an end not before the start, at most
// [MaxInterval] later, and after it for sleep; a finite value within the
// kind's bounds (a blood pressure's diastolic 20–200 and below its
// systolic; Value2 zero otherwise); a sleep value equal to its length in
// minutes ([Measurement.Normalize]); a source name of 1 to [MaxSourceLen]
// bytes and a device text of at most [MaxDeviceLen]. The error is a
// *cgm.FieldError naming the field.
func (m Measurement) Validate(now time.Time) error {
	if !m.Kind.Valid() {
		return &cgm.FieldError{Field: "kind", Value: m.Kind.String(), Reason: "unknown kind of measurement"}
	}
	switch {
	case m.Start.IsZero():
		return &cgm.FieldError{Field: "start", Reason: "is missing"}
	case m.Start.Before(EarliestMeasurement):
		return &cgm.FieldError{Field: "start", Value: m.Start.UTC().Format(time.RFC3339), Reason: "is before 2000"}
	case !now.IsZero() && m.Start.After(now.Add(24*time.Hour)):
		return &cgm.FieldError{Field: "start", Value: m.Start.UTC().Format(time.RFC3339),
			Reason: "is more than a day in the future (device clock or time zone error?)"}
	case m.End.Before(m.Start):
		return &cgm.FieldError{Field: "end", Value: m.End.UTC().Format(time.RFC3339), Reason: "is before the start"}
	case m.End.Sub(m.Start) > MaxInterval:
		return &cgm.FieldError{Field: "end", Value: m.End.UTC().Format(time.RFC3339),
			Reason: fmt.Sprintf("is more than %g hours after the start", MaxInterval.Hours())}
	case m.Kind.Sleep() && !m.End.After(m.Start):
		return &cgm.FieldError{Field: "end", Value: m.End.UTC().Format(time.RFC3339), Reason: "a sleep interval must end after it starts"}
	}
	lo, hi := bounds(m.Kind)
	if math.IsNaN(m.Value) || m.Value < lo || m.Value > hi {
		return &cgm.FieldError{Field: "value", Value: fmt.Sprint(m.Value),
			Reason: fmt.Sprintf("%s must be between %g and %g %s", m.Kind, lo, hi, m.Kind.Unit())}
	}
	switch {
	case m.Kind == BloodPressure && (math.IsNaN(m.Value2) || m.Value2 < 20 || m.Value2 > 200):
		return &cgm.FieldError{Field: "value2", Value: fmt.Sprint(m.Value2), Reason: "the diastolic pressure must be between 20 and 200 mm[Hg]"}
	case m.Kind == BloodPressure && m.Value2 >= m.Value:
		return &cgm.FieldError{Field: "value2", Value: fmt.Sprint(m.Value2), Reason: "the diastolic pressure must be below the systolic"}
	case m.Kind != BloodPressure && m.Value2 != 0:
		return &cgm.FieldError{Field: "value2", Value: fmt.Sprint(m.Value2), Reason: "only a blood pressure has a second value"}
	case m.Kind.Sleep() && math.Abs(m.Value-m.End.Sub(m.Start).Minutes()) > 1e-6:
		return &cgm.FieldError{Field: "value", Value: fmt.Sprint(m.Value), Reason: "a sleep interval's value is its length in minutes"}
	}
	switch {
	case m.Source == "" || len(m.Source) > MaxSourceLen:
		return &cgm.FieldError{Field: "source", Value: truncate(m.Source, 64),
			Reason: fmt.Sprintf("the source name must have 1 to %d bytes", MaxSourceLen)}
	case len(m.Device) > MaxDeviceLen:
		return &cgm.FieldError{Field: "device", Value: truncate(m.Device, 64), Reason: fmt.Sprintf("longer than %d bytes", MaxDeviceLen)}
	case m.Class > ClassPhone:
		return &cgm.FieldError{Field: "class", Value: m.Class.String(), Reason: "must be watch, phone or other"}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
