package librelinkuptest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

// patient is a Patient with its JSON parts that never change encoded once.
type patient struct {
	spec    Patient
	sim     *glucosim.Patient
	loc     *time.Location
	did     string
	created int64

	head       []byte // connection members up to "uom" included, with the trailing comma
	alarmRules []byte // the alarmRules object
	device     []byte // the patientDevice object
}

// newPatient fills the defaults of p and encodes its static parts.
func newPatient(p Patient) (*patient, error) {
	if p.ID == "" {
		p.ID = uuidFrom(hashUint("patient", p.Sim.Seed()))
	}
	if p.Country == "" {
		p.Country = "IT"
	}
	if p.Unit == 0 {
		p.Unit = cgm.MgDL
	}
	if p.Unit != cgm.MgDL && p.Unit != cgm.MmolL {
		return nil, fmt.Errorf("librelinkuptest: patient %s: unit %v", p.ID, p.Unit)
	}
	if p.TargetLow == 0 {
		p.TargetLow = 70
	}
	if p.TargetHigh == 0 {
		p.TargetHigh = 180
	}
	if p.AlarmLow == 0 {
		p.AlarmLow = 70
	}
	if p.AlarmHigh == 0 {
		p.AlarmHigh = 250
	}
	pt := &patient{
		spec:    p,
		sim:     p.Sim,
		loc:     p.Sim.Location(),
		did:     uuidFrom(hashString("device " + p.ID)),
		created: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + int64(hashString("created " + p.ID)[0])*86400,
	}
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	uom := 1
	if p.Unit == cgm.MmolL {
		uom = 0
	}
	connID := uuidFrom(hashString("connection " + p.ID))
	pt.head = fmt.Appendf(nil, `{"id":%s,"patientId":%s,"country":%s,"status":2,"firstName":%s,"lastName":%s,"targetLow":%d,"targetHigh":%d,"uom":%d,`,
		str(connID), str(p.ID), str(p.Country), str(p.FirstName), str(p.LastName), p.TargetLow, p.TargetHigh, uom)
	pt.alarmRules = fmt.Appendf(nil, `{"c":true,"h":{"on":true,"th":%d,"thmm":%s,"d":1440,"f":0.1},"f":{"th":55,"thmm":3,"d":30,"tl":10,"tlmm":0.6},"l":{"on":true,"th":%d,"thmm":%s,"d":1440,"tl":10,"tlmm":0.6},"nd":{"i":20,"r":5,"l":6},"p":5,"r":5,"std":{}}`,
		p.AlarmHigh, mmol(p.AlarmHigh), p.AlarmLow, mmol(p.AlarmLow))
	appVersion := "3.6.2.8032"
	if p.Sim.Model() == glucosim.Libre2 {
		appVersion = "2.10.1.8020"
	}
	pt.device = fmt.Appendf(nil, `{"did":%s,"dtid":%d,"v":%s,"l":true,"ll":%d,"h":true,"hl":%d,"u":%d,"fixedLowAlarmValues":{"mgdl":60,"mmoll":3.3},"alarms":true,"fixedLowThreshold":70}`,
		str(pt.did), p.Sim.Model().DeviceTypeID(), str(appVersion), p.AlarmLow, p.AlarmHigh, pt.created)
	return pt, nil
}

// mmol formats mg/dL as mmol/L with one decimal, as the app does ("14"
// for 14.0).
func mmol(mgdl int) string {
	return strconv.FormatFloat(math.Round(float64(mgdl)/cgm.MgDLPerMmolL*10)/10, 'f', -1, 64)
}

// appendUSTime appends t as "M/D/YYYY h:mm:ss AM", the layout of
// FactoryTimestamp (t in UTC) and Timestamp (t in the patient's zone).
func appendUSTime(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = strconv.AppendInt(b, int64(mo), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ' ')
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	b = strconv.AppendInt(b, int64(h12), 10)
	b = append(b, ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if h < 12 {
		return append(b, " AM"...)
	}
	return append(b, " PM"...)
}

// color is the MeasurementColor of a value: 4 red below target, 3 orange
// above the high alarm, 2 yellow above target, 1 green in target
// (gui-dos/DiaBLE's enum, DiaBLE/LibreLink.swift; consistent with the
// recorded logbook of FokkeZB/libreview-unofficial).
func (p *patient) color(mgdl int) int {
	switch {
	case mgdl < p.spec.TargetLow:
		return 4
	case mgdl > p.spec.AlarmHigh:
		return 3
	case mgdl > p.spec.TargetHigh:
		return 2
	}
	return 1
}

// Item types (gui-dos/DiaBLE, DiaBLE/LibreLink.swift: "0: graph, 1:
// logbook, 2: alarm, 3: hybrid").
const (
	itemGraph        = 0
	itemMeasurement  = 1
	itemAlarmReading = 3
)

// appendItem appends a GlucoseItem. The arrow is written for measurements
// and alarms; alarmType < 0 leaves alarmType out.
func (p *patient) appendItem(b []byte, pt glucosim.Point, typ int, alarmType int) []byte {
	b = append(b, `{"FactoryTimestamp":"`...)
	b = appendUSTime(b, pt.Time)
	b = append(b, `","Timestamp":"`...)
	b = appendUSTime(b, pt.Time.In(p.loc))
	b = append(b, `","type":`...)
	b = strconv.AppendInt(b, int64(typ), 10)
	b = append(b, `,"ValueInMgPerDl":`...)
	b = strconv.AppendInt(b, int64(pt.MgDL), 10)
	if typ != itemGraph {
		b = append(b, `,"TrendArrow":`...)
		b = strconv.AppendInt(b, int64(pt.Trend), 10)
		b = append(b, `,"TrendMessage":null`...)
	}
	b = append(b, `,"MeasurementColor":`...)
	b = strconv.AppendInt(b, int64(p.color(pt.MgDL)), 10)
	if p.spec.Unit == cgm.MmolL {
		b = append(b, `,"GlucoseUnits":0,"Value":`...)
		b = append(b, mmol(pt.MgDL)...)
	} else {
		b = append(b, `,"GlucoseUnits":1,"Value":`...)
		b = strconv.AppendInt(b, int64(pt.MgDL), 10)
	}
	b = append(b, `,"isHigh":`...)
	b = strconv.AppendBool(b, pt.Flags&cgm.FlagHigh != 0)
	b = append(b, `,"isLow":`...)
	b = strconv.AppendBool(b, pt.Flags&cgm.FlagLow != 0)
	if alarmType >= 0 {
		b = append(b, `,"alarmType":`...)
		b = strconv.AppendInt(b, int64(alarmType), 10)
	}
	return append(b, '}')
}

// appendSensor appends a sensor object; deviceID is "" in a connection and
// the app's device id in activeSensors.
func (p *patient) appendSensor(b []byte, s glucosim.Sensor, deviceID string, streaming bool) []byte {
	b = append(b, `{"deviceId":"`...)
	b = append(b, deviceID...) // a UUID: nothing to escape
	b = append(b, `","sn":"`...)
	b = append(b, s.Serial...) // serial alphabet: nothing to escape
	b = append(b, `","a":`...)
	b = strconv.AppendInt(b, s.Activated.Unix(), 10)
	b = append(b, `,"w":`...)
	b = strconv.AppendInt(b, int64(glucosim.WarmUp/time.Minute), 10)
	b = append(b, `,"pt":`...)
	b = strconv.AppendInt(b, int64(s.Model.ProductType()), 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendBool(b, streaming)
	return append(b, `,"lj":false}`...)
}

// measurement returns the connection's latest reading at now: the current
// value, or during a gap the last value the app sent (searching back up to
// two hours), and false when there is none.
func (p *patient) measurement(now time.Time) (glucosim.Point, bool) {
	for i := range 120 {
		if pt, ok := p.sim.Current(now.Add(-time.Duration(i) * time.Minute)); ok {
			return pt, true
		}
	}
	return glucosim.Point{}, false
}

// appendConnection appends the connection object of the patient at now.
func (p *patient) appendConnection(b []byte, now time.Time, f *Faults) []byte {
	b = append(b, p.head...)
	b = append(b, `"sensor":`...)
	sensor, ok := p.sim.SensorAt(now)
	if ok && !f.SensorNull {
		b = p.appendSensor(b, sensor, "", true)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"alarmRules":`...)
	b = append(b, p.alarmRules...)
	if m, ok := p.measurement(now); ok {
		b = append(b, `,"glucoseMeasurement":`...)
		b = p.appendItem(b, m, itemMeasurement, -1)
		b = append(b, `,"glucoseItem":`...)
		b = p.appendItem(b, m, itemMeasurement, -1)
	} else {
		b = append(b, `,"glucoseMeasurement":null,"glucoseItem":null`...)
	}
	b = append(b, `,"glucoseAlarm":null,"patientDevice":`...)
	b = append(b, p.device...)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, p.created, 10)
	return append(b, '}')
}
