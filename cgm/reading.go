package cgm

import (
	"fmt"
	"strings"
	"time"
)

// Kind says how a reading was taken. Only [Historic] readings enter the
// glucometrics (LibreView's Record Type 0, as tidepool-org/uploader's
// lib/drivers/abbott/libreViewDriver.js imports it as CGM; scans, Record Type
// 1, are irregular and taken at symptomatic times); scans are counted, current
// values are shown to the patient, strips are kept for the record.
type Kind uint8

// The kinds of glucose reading.
const (
	// Historic is an automatic sensor reading stored at the device's fixed
	// interval (LibreView record type 0, LibreLinkUp graph points).
	Historic Kind = 1
	// Scan is a reading the user asked for by scanning the sensor
	// (LibreView record type 1).
	Scan Kind = 2
	// Current is the real-time value a streaming sensor reports about
	// once a minute (LibreLinkUp glucoseMeasurement).
	Current Kind = 3
	// Strip is a finger-stick blood glucose reading from a meter
	// (LibreView record type 2).
	Strip Kind = 4
)

var kindNames = [...]string{Historic: "historic", Scan: "scan", Current: "current", Strip: "strip"}

// String returns the kind's name: historic, scan, current or strip.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a kind name as written by [Kind.String].
func ParseKind(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for k, name := range kindNames {
		if name != "" && name == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("cgm: unknown reading kind %q (want historic, scan, current or strip)", s)
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

// Flag marks a reading that the device reported outside its range.
type Flag uint8

// Reading flags.
const (
	// FlagLow: the device reported LO; the value is stored at the low limit.
	FlagLow Flag = 1 << iota
	// FlagHigh: the device reported HI; the value is stored at the high limit.
	FlagHigh
)

// Trend is the direction of glucose given with a current reading, as the
// LibreLinkUp TrendArrow: 1 falling fast (↓), 2 falling (↘), 3 stable (→),
// 4 rising (↗), 5 rising fast (↑); 0 when unknown (as the open-source
// LibreLinkUp clients read it: timoschlueter/nightscout-librelink-up
// mapTrendArrow, robberwick/pylibrelinkup Trend, gui-dos/DiaBLE
// DiaBLE/LibreLink.swift).
type Trend uint8

// The LibreLinkUp trend arrows.
const (
	TrendUnknown     Trend = 0
	TrendFallingFast Trend = 1
	TrendFalling     Trend = 2
	TrendStable      Trend = 3
	TrendRising      Trend = 4
	TrendRisingFast  Trend = 5
)

// Arrow returns the arrow character of the trend, or "" when unknown.
func (t Trend) Arrow() string {
	switch t {
	case TrendFallingFast:
		return "↓"
	case TrendFalling:
		return "↘"
	case TrendStable:
		return "→"
	case TrendRising:
		return "↗"
	case TrendRisingFast:
		return "↑"
	}
	return ""
}

// Reading is one glucose value.
type Reading struct {
	// Time is the instant of the reading, in UTC.
	Time time.Time
	// Value is the glucose in Unit, as the device reported it (LO/HI
	// readings hold the limit and carry a flag).
	Value float64
	// Unit is the unit the device reported the value in.
	Unit Unit
	// Kind says how the reading was taken.
	Kind Kind
	// Flags marks LO/HI readings.
	Flags Flag
	// Trend is the arrow given with a current or scan reading.
	Trend Trend
	// Device is the serial number of the sensor or device, when known.
	Device string
}

// MgDL returns the value in mg/dL.
func (r Reading) MgDL() float64 { return ToMgDL(r.Value, r.Unit) }

// Clamp applies the sensor reporting limits: a value below the low limit of
// its unit becomes the limit with FlagLow, one above the high limit becomes
// the limit with FlagHigh, as tidepool-org/uploader's
// lib/drivers/abbott/libreViewDriver.js annotates them bg/out-of-range:
// dropping them would underestimate time below and above range.
func Clamp(v float64, u Unit) (float64, Flag) {
	lo, hi := Limits(u)
	switch {
	case v < lo:
		return lo, FlagLow
	case v > hi:
		return hi, FlagHigh
	}
	return v, 0
}
