package librelinkup

import (
	"log/slog"
	"strings"
	"time"

	"fsecgm/cgm"
)

// Connection is a patient the account follows (an element of
// /llu/connections, or the connection of a graph). Names are personal data:
// never log them; LogValue shows only the ids.
type Connection struct {
	// ID is the connection id.
	ID string
	// PatientID is the id to use for Graph and Logbook.
	PatientID string
	// FirstName and LastName are the patient's names as the patient gave
	// them in the app.
	FirstName, LastName string
	// Country is the patient's country (ISO 3166-1 alpha-2).
	Country string
	// Unit is the unit the patient's app shows (uom 1 mg/dL, 0 mmol/L).
	Unit cgm.Unit
	// TargetLow and TargetHigh are the target range set in the patient's
	// app, in mg/dL even for mmol/L users.
	TargetLow, TargetHigh float64
	// Sensor is the sensor worn now; nil when the server sends "sensor":
	// null (no active sensor).
	Sensor *Sensor
	// DeviceTypeID is the patient app's dtid (40066, 40067, 40068) and
	// AppVersion its version, when given.
	DeviceTypeID int
	AppVersion   string
	// Current is the latest reading (glucoseMeasurement), kind cgm.Current;
	// nil when absent or unusable.
	Current *cgm.Reading
	// Created is when the connection was created.
	Created time.Time
}

// LogValue implements slog.LogValuer, leaving out names.
func (c Connection) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("patientId", c.PatientID))
}

// Sensor is a sensor as LibreLinkUp describes it (gui-dos/DiaBLE,
// DiaBLE/LibreLink.swift; FokkeZB/libreview-unofficial, models).
type Sensor struct {
	// Serial is the 10-character `sn`. It is the Device of the readings.
	Serial string
	// DeviceID is the `deviceId` (the app install it reports to), often "".
	DeviceID string
	// Activated is the activation time `a` (zero when absent).
	Activated time.Time
	// WarmUp is `w`, the warm-up (60 minutes).
	WarmUp time.Duration
	// ProductType is `pt`: 4 for Libre 3 (3 for Libre 2, 0 for Libre 1,
	// per DiaBLE; not reliable).
	ProductType int
	// Streaming is `s`.
	Streaming bool
}

// SerialMatches reports whether printed, a serial number as the patient
// reads it in the LibreLink app or on the sensor box, designates this
// sensor. The app's serial differs from `sn` by a prefix "0" (Libre 1) or
// "3" (Libre 2), or by the final "0" of `sn` (Libre 3) (gui-dos/DiaBLE;
// JohanDegraeve/xdripswift, LibreLinkUpFollowManager.swift); case, spaces and dashes are ignored. It is the
// evidence that binds a follower-account connection to a patient, together
// with the name.
func (s Sensor) SerialMatches(printed string) bool {
	sn := normSerial(s.Serial)
	p := normSerial(printed)
	if len(sn) < 6 || p == "" {
		return false
	}
	switch p {
	case sn, "0" + sn, "3" + sn:
		return true
	}
	return strings.HasSuffix(sn, "0") && p == sn[:len(sn)-1]
}

func normSerial(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// Graph is the answer of /llu/connections/{patientId}/graph: about 12 hours
// of historic points and the current reading.
type Graph struct {
	// Connection is the patient's connection, with the current reading.
	Connection Connection
	// Sensors are the activeSensors, oldest activation first (empty when
	// the server leaves them out).
	Sensors []Sensor
	// Readings holds the graph points (kind cgm.Historic, no trend) and the
	// current reading (kind cgm.Current, with trend), sorted by time. Values
	// come from ValueInMgPerDl, so Unit is always mg/dL; Time is
	// FactoryTimestamp read as UTC; Device is the serial of the sensor
	// active at that time.
	Readings cgm.Series
	// Problems lists the points that were skipped (and why).
	Problems Problems
}

// ConnectionList is the answer of /llu/connections.
type ConnectionList struct {
	// Connections are the patients the account follows, in the server's
	// order (which is not stable). Empty when it follows nobody: usually
	// an invitation not yet accepted in the LibreLinkUp app.
	Connections []Connection
	// Problems lists the connections that were skipped (and why).
	Problems Problems
}

// AlarmType is the alarmType of a logbook alarm.
type AlarmType uint8

// The logbook alarm types (the recorded logbook of
// FokkeZB/libreview-unofficial shows 1 with 53–69 mg/dL and 2 with 252–259
// mg/dL; gui-dos/DiaBLE: "0: fixedLow, 1: low, 2: high").
const (
	AlarmFixedLow AlarmType = 0
	AlarmLow      AlarmType = 1
	AlarmHigh     AlarmType = 2
)

// String returns "fixed low", "low" or "high".
func (a AlarmType) String() string {
	switch a {
	case AlarmFixedLow:
		return "fixed low"
	case AlarmLow:
		return "low"
	case AlarmHigh:
		return "high"
	}
	return "unknown"
}

// Alarm is a glucose alarm from the logbook.
type Alarm struct {
	// Time is when it fired (FactoryTimestamp, UTC).
	Time time.Time
	// Type says which alarm.
	Type AlarmType
	// HasReading is true for type 3 entries, whose reading is also in
	// Logbook.Readings.
	HasReading bool
}

// Logbook is the answer of /llu/connections/{patientId}/logbook: about 14
// days of events.
//
// Entries of type 1 are readings the patient asked for in the app (an NFC
// scan with Libre 1/2; with Libre 3 the app's "glucose events"): they become
// kind cgm.Scan, as in the LibreView CSV, where each app reading is a scan
// record (j-kaltes/Juggluco, libreviewexport.cpp; LibreView exports of
// Libre 3 accounts). Entries of type 3 are alarms
// that carry the real-time value at the alarm: that value becomes kind
// cgm.Current (the kind of the 1-minute values) and the alarm an [Alarm].
// Entries of type 2 are alarms without a value. Type 0 (a graph point, never
// seen in a logbook) would become cgm.Historic. The logbook names no sensor,
// so Device is empty.
type Logbook struct {
	// Readings are the scans and alarm readings, sorted by time.
	Readings cgm.Series
	// Alarms are the alarms, oldest first.
	Alarms []Alarm
	// Problems lists the entries that were skipped (and why).
	Problems Problems
}

// MaxProblemDetails is how many problems a [Problems] describes in full.
const MaxProblemDetails = 20

// Problems counts the items of a reply that were skipped or kept with a
// defect, and says what and where for the first of them: Field is a JSON
// pointer into the reply ("/data/graphData/17/FactoryTimestamp"). No value
// in it is a glucose value.
type Problems struct {
	// Skipped counts the items left out.
	Skipped int
	// Details describes the first MaxProblemDetails problems (skipped items
	// and kept items with a defect, such as an unknown trend arrow).
	Details []*cgm.FieldError
}

// add records a problem; skip says the item was left out.
func (p *Problems) add(skip bool, pointer, value, reason string) {
	if skip {
		p.Skipped++
	}
	if len(p.Details) < MaxProblemDetails {
		p.Details = append(p.Details, &cgm.FieldError{Field: pointer, Value: value, Reason: reason})
	}
}
