package fhir

import (
	"fmt"
	"time"

	"fsecgm/cgm"
)

// readingKindCode returns the local code of a reading kind.
func readingKindCode(k cgm.Kind) string {
	switch k {
	case cgm.Scan:
		return LocalReadingScan
	case cgm.Current:
		return LocalReadingCurrent
	}
	return LocalReadingHistoric
}

// readingKindText describes a reading kind in Observation.method.text.
func readingKindText(k cgm.Kind) string {
	switch k {
	case cgm.Scan:
		return "scan (a reading the user asked for by scanning the sensor)"
	case cgm.Current:
		return "current (the real-time value of a streaming sensor)"
	}
	return "historic (an automatic reading at the sensor's fixed interval)"
}

// SensorReadings maps readings to the IG's CGM sensor reading Observations:
// LOINC 99504-3 (profile cgm-sensor-reading-mass-per-volume, mg/dL) or
// 105272-9 (cgm-sensor-reading-moles-per-volume, mmol/L), in the unit the
// device reported, never converted. Each has effectiveDateTime (UTC, with
// the reading's full precision), subject the patient, device the sensor
// (Device/<id from the patient and the serial>, when the reading names one), method the
// kind of reading (local codes reading-historic, reading-scan,
// reading-current with a text), and an identifier (system
// base/identifier/observation) hashed from patient, sensor, kind, instant
// and code, from which the id is derived.
//
// LO and HI readings (the HL7 FHIR CGM IG 1.0.0 defines no code for them;
// dropping them would underestimate time below and above range). A FreeStyle Libre
// reports LO below 40 mg/dL and HI above 500 mg/dL; fsecgm stores them at
// the limit with a flag. They are sent with their limit as value and the
// FHIR Quantity comparator "<" (LO) or ">" (HI), which says exactly what
// the sensor knows: the glucose is below 40 (above 500) mg/dL. The
// interpretation carries the matching v3 ObservationInterpretation code "<"
// (Off scale low: "below the minimum detection limit (the test procedure
// or equipment is the limiting factor)") or ">" (Off scale high). This
// keeps the readings (dropping them would understate time below and above
// range) and satisfies the IG's invariant cgm-sensor-value-or-dar.
// dataAbsentReason was not chosen: the IG defines no code for out-of-range
// readings, and R4's negative-infinity and positive-infinity mean a
// floating point error, not a sensor limit.
//
// Strip readings (finger-stick blood glucose) are not interstitial sensor
// readings, would be mislabelled by 99504-3, and are left out. A reading
// that does not pass [cgm.Reading.Validate] is an error naming its index.
func SensorReadings(base string, patient PatientInfo, readings []cgm.Reading) ([]*Observation, error) {
	base, err := normalizeBase(base)
	if err != nil {
		return nil, err
	}
	if err := checkPatient(patient); err != nil {
		return nil, err
	}
	out := make([]*Observation, 0, len(readings))
	for i, r := range readings {
		if r.Kind == cgm.Strip {
			continue
		}
		if err := r.Validate(time.Time{}); err != nil {
			return nil, fmt.Errorf("fhir: reading %d: %w", i, err)
		}
		if r.Device != "" && !tokenRE.MatchString(r.Device) {
			return nil, fmt.Errorf("fhir: reading %d: device serial %q: want 1-64 of A-Z a-z 0-9 . _ : -", i, r.Device)
		}
		out = append(out, sensorReading(base, patient.ID, r))
	}
	return out, nil
}

// sensorReading maps one valid reading.
func sensorReading(base, patient string, r cgm.Reading) *Observation {
	code, profile := CodeSensorReadingMass, ProfileSensorReadingMass
	if r.Unit == cgm.MmolL {
		code, profile = CodeSensorReadingMol, ProfileSensorReadingMolar
	}
	at := r.Time.UTC().Format(time.RFC3339Nano)
	k := key("reading", patient, r.Device, r.Kind.String(), at, LOINC+"|"+code)
	v, _ := NewDecimal(r.Value) // finite: Validate checked the range
	q := unitOf(r.Unit).quantity(v)
	method := "CGM sensor reading, " + readingKindText(r.Kind)
	var interp []CodeableConcept
	switch {
	case r.Flags&cgm.FlagLow != 0:
		q.Comparator = "<"
		interp = []CodeableConcept{{Coding: []Coding{{System: ObservationInterpretation, Code: "<", Display: "Off scale low"}}}}
		method += "; LO: below the sensor's reporting range, sent as < " + string(v) + " " + r.Unit.String()
	case r.Flags&cgm.FlagHigh != 0:
		q.Comparator = ">"
		interp = []CodeableConcept{{Coding: []Coding{{System: ObservationInterpretation, Code: ">", Display: "Off scale high"}}}}
		method += "; HI: above the sensor's reporting range, sent as > " + string(v) + " " + r.Unit.String()
	}
	kind := readingKindCode(r.Kind)
	o := &Observation{
		ID:                idOf(k),
		Meta:              &Meta{Profile: []string{profile}},
		Identifier:        []Identifier{{System: base + identifierObservation, Value: k}},
		Status:            "final",
		Category:          laboratory(),
		Code:              loinc(code),
		Subject:           patientRef(patient),
		EffectiveDateTime: at,
		ValueQuantity:     q,
		Interpretation:    interp,
		Method: &CodeableConcept{
			Coding: []Coding{{System: LocalCodeSystem, Code: kind, Display: localDisplay(kind)}},
			Text:   method,
		},
	}
	if r.Device != "" {
		o.Device = &Reference{Reference: "Device/" + deviceID(patient, r.Device)}
	}
	return o
}

// ReadingsInput is what [ReadingsBundle] maps.
type ReadingsInput struct {
	// Base is the issuer base URL.
	Base string
	// Patient is the patient the readings are about.
	Patient PatientInfo
	// Devices are the sensors the readings reference; each becomes a
	// Device entry.
	Devices []DeviceInfo
	// Readings are the readings (strip readings are left out).
	Readings []cgm.Reading
	// Type is the bundle type (BundleCollection, BundleSearchset or
	// BundleTransaction).
	Type string
	// Timestamp is Bundle.timestamp (required for a transaction).
	Timestamp time.Time
}

// ReadingsBundle returns a Bundle with the Patient, the Devices and the
// sensor reading Observations of [SensorReadings].
func ReadingsBundle(in ReadingsInput) (Bundle, error) {
	obs, err := SensorReadings(in.Base, in.Patient, in.Readings)
	if err != nil {
		return Bundle{}, err
	}
	pt, err := PatientResource(in.Base, in.Patient)
	if err != nil {
		return Bundle{}, err
	}
	res := make([]Resource, 0, 1+len(in.Devices)+len(obs))
	res = append(res, &pt)
	for _, d := range in.Devices {
		dev, err := DeviceResource(in.Base, d, in.Patient.ID)
		if err != nil {
			return Bundle{}, err
		}
		res = append(res, &dev)
	}
	for _, o := range obs {
		res = append(res, o)
	}
	return NewBundle(in.Type, in.Base, in.Timestamp, res...)
}
