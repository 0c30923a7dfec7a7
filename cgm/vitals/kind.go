package vitals

import (
	"fmt"
	"strings"
)

// Kind says what a measurement measures.
type Kind uint8

// The kinds of measurement. The numbers are stored (measurements.kind):
// never renumber them.
const (
	// Steps: steps counted over an interval ({steps}).
	Steps Kind = 1
	// Distance: distance walked or run over an interval (m).
	Distance Kind = 2
	// ActiveEnergy: active energy burned over an interval (kcal), the
	// energy above the basal rate (HKQuantityTypeIdentifierActiveEnergyBurned).
	ActiveEnergy Kind = 3
	// SleepInBed: an interval in bed (HKCategoryValueSleepAnalysisInBed).
	SleepInBed Kind = 4
	// SleepAwake: an interval awake during a sleep session
	// (HKCategoryValueSleepAnalysisAwake).
	SleepAwake Kind = 5
	// SleepAsleep: an interval asleep, stage not given
	// (HKCategoryValueSleepAnalysisAsleepUnspecified, formerly "Asleep").
	SleepAsleep Kind = 6
	// SleepLight: light or intermediate sleep (HealthKit's "core",
	// HKCategoryValueSleepAnalysisAsleepCore; Fitbit's "light").
	SleepLight Kind = 7
	// SleepDeep: deep sleep (HKCategoryValueSleepAnalysisAsleepDeep).
	SleepDeep Kind = 8
	// SleepREM: REM sleep (HKCategoryValueSleepAnalysisAsleepREM).
	SleepREM Kind = 9
	// HeartRate: heart rate (/min), usually an instant.
	HeartRate Kind = 10
	// RestingHeartRate: the resting heart rate the device estimated for a
	// day (/min).
	RestingHeartRate Kind = 11
	// BloodPressure: one blood-pressure measurement, systolic in Value and
	// diastolic in Value2 (mm[Hg]), an instant.
	BloodPressure Kind = 12
)

// MaxKind is the largest kind.
const MaxKind = BloodPressure

var kindNames = [...]string{
	Steps:            "steps",
	Distance:         "distance",
	ActiveEnergy:     "active_energy",
	SleepInBed:       "sleep_in_bed",
	SleepAwake:       "sleep_awake",
	SleepAsleep:      "sleep_asleep",
	SleepLight:       "sleep_light",
	SleepDeep:        "sleep_deep",
	SleepREM:         "sleep_rem",
	HeartRate:        "heart_rate",
	RestingHeartRate: "resting_heart_rate",
	BloodPressure:    "blood_pressure",
}

// Kinds returns every kind, in order.
func Kinds() []Kind {
	out := make([]Kind, 0, MaxKind)
	for k := Steps; k <= MaxKind; k++ {
		out = append(out, k)
	}
	return out
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= Steps && k <= MaxKind }

// String returns the kind's name (steps, distance, active_energy,
// sleep_in_bed, sleep_awake, sleep_asleep, sleep_light, sleep_deep,
// sleep_rem, heart_rate, resting_heart_rate, blood_pressure).
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a name written by [Kind.String].
func ParseKind(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("vitals: unknown measurement kind %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// The UCUM units of the kinds (The Unified Code for Units of Measure,
// https://ucum.org/ucum: "{steps}" an annotation of the unity, "m", "kcal"
// the thermochemical kilocalorie, "min", "/min" per minute, "mm[Hg]" the
// millimetre of mercury).
const (
	UnitSteps  = "{steps}"
	UnitMetre  = "m"
	UnitKcal   = "kcal"
	UnitMinute = "min"
	UnitPerMin = "/min"
	UnitMmHg   = "mm[Hg]"
)

// Unit returns the UCUM code of the kind's values.
func (k Kind) Unit() string {
	switch k {
	case Steps:
		return UnitSteps
	case Distance:
		return UnitMetre
	case ActiveEnergy:
		return UnitKcal
	case HeartRate, RestingHeartRate:
		return UnitPerMin
	case BloodPressure:
		return UnitMmHg
	}
	if k.Sleep() {
		return UnitMinute
	}
	return ""
}

// Cumulative reports whether the kind's values add up over time (steps,
// distance, active energy): a sample's value is spread over its interval.
func (k Kind) Cumulative() bool { return k == Steps || k == Distance || k == ActiveEnergy }

// Sleep reports whether the kind is a sleep interval (in bed or a stage).
func (k Kind) Sleep() bool { return k >= SleepInBed && k <= SleepREM }

// Asleep reports whether the kind is a stage of sleep (not awake, not in
// bed).
func (k Kind) Asleep() bool { return k >= SleepAsleep && k <= SleepREM }

// Instant reports whether the kind is measured at an instant (heart rate,
// resting heart rate, blood pressure) rather than over an interval.
func (k Kind) Instant() bool { return k == HeartRate || k == RestingHeartRate || k == BloodPressure }

// Class says what kind of device recorded a measurement, for the default
// ranking of sources: a watch is worn all day and all night, a phone is
// carried only part of it.
type Class uint8

// The classes of source.
const (
	// ClassOther: an app or a device of another kind (a band, a blood
	// pressure monitor, a scale), or unknown.
	ClassOther Class = 0
	// ClassWatch: a smartwatch (Apple Watch, a Garmin or Fitbit watch
	// when the export says so).
	ClassWatch Class = 1
	// ClassPhone: a phone's own sensors.
	ClassPhone Class = 2
)

var classNames = [...]string{ClassOther: "other", ClassWatch: "watch", ClassPhone: "phone"}

// String returns other, watch or phone.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// ParseClass parses a name written by [Class.String].
func ParseClass(s string) (Class, error) {
	for c, n := range classNames {
		if n == strings.ToLower(strings.TrimSpace(s)) {
			return Class(c), nil
		}
	}
	return 0, fmt.Errorf("vitals: unknown source class %q (want watch, phone or other)", s)
}

// defaultClassRank orders the classes by default: watch before phone
// before the rest.
func defaultClassRank(c Class) int {
	switch c {
	case ClassWatch:
		return 0
	case ClassPhone:
		return 1
	}
	return 2
}
