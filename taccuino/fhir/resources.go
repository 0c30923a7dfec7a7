package fhir

import (
	"fmt"
	"regexp"
	"strings"
)

// PatientInfo is what the mapping needs of a patient.
type PatientInfo struct {
	// ID is the patient's public id in fsecgm, used as the Patient
	// resource id and in every deterministic identifier: a FHIR id (1 to
	// 64 of A-Z a-z 0-9 - and ".").
	ID string
	// FiscalCode is the codice fiscale, or "" when unknown. It is written
	// upper-case with the system http://hl7.it/sid/codiceFiscale.
	FiscalCode string
	// Family and Given are the names, both optional.
	Family string
	Given  []string
}

// DeviceInfo is what the mapping needs of a CGM sensor.
type DeviceInfo struct {
	// Serial is the sensor's serial number (required): 1 to 64 of
	// A-Z a-z 0-9 . _ : and -.
	Serial string
	// Manufacturer is e.g. "Abbott"; optional.
	Manufacturer string
	// Model is e.g. "FreeStyle Libre 3"; optional.
	Model string
}

// fiscalCodeRE is the format constraint pat-id-cf-1 of the HL7 Italia
// Patient-it-base profile (HL7 Italia FHIR base, hl7.fhir.it.base,
// StructureDefinition Patient-it-base): 16 characters, the numeric
// positions also allowing the omocodia letters. The check character is not
// verified here (provisional codes exist; the store validates what it
// accepts).
var fiscalCodeRE = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)

// patientRef returns the reference to the patient's resource.
func patientRef(id string) *Reference { return &Reference{Reference: "Patient/" + id} }

// checkPatient validates p.ID.
func checkPatient(p PatientInfo) error {
	if !idRE.MatchString(p.ID) {
		return fmt.Errorf("fhir: patient id %q is not a FHIR id (1-64 of A-Z a-z 0-9 - .)", p.ID)
	}
	return nil
}

// PatientResource returns the Patient resource of p under the issuer base
// URL: id p.ID, an identifier with fsecgm's public id
// (base/identifier/patient) and, when known, the codice fiscale
// (system http://hl7.it/sid/codiceFiscale, use "official", upper-case), as
// the HL7 Italia base profile slices it. The resource claims no profile:
// Patient-it-base is a draft.
func PatientResource(base string, p PatientInfo) (Patient, error) {
	base, err := normalizeBase(base)
	if err != nil {
		return Patient{}, err
	}
	if err := checkPatient(p); err != nil {
		return Patient{}, err
	}
	pt := Patient{ID: p.ID}
	if p.FiscalCode != "" {
		cf := strings.ToUpper(strings.TrimSpace(p.FiscalCode))
		if !fiscalCodeRE.MatchString(cf) {
			// The message does not repeat the code: it is personal data.
			return Patient{}, fmt.Errorf("fhir: patient %s: the codice fiscale is not 16 characters in the HL7 Italia format (pat-id-cf-1)", p.ID)
		}
		pt.Identifier = append(pt.Identifier, Identifier{Use: "official", System: FiscalCodeSystem, Value: cf})
	}
	pt.Identifier = append(pt.Identifier, Identifier{Use: "secondary", System: base + identifierPatient, Value: p.ID})
	if p.Family != "" || len(p.Given) > 0 {
		pt.Name = []HumanName{{Family: p.Family, Given: p.Given}}
	}
	return pt, nil
}

// deviceID returns the resource id of the sensor with the given serial
// worn by the patient with public id patient: the same serial worn by two
// patients (a typo, a reused number, or a submission naming another
// patient's sensor) is two resources, one in each record, so that no
// patient's data can learn of, block or take another's device. Without a
// patient (a Device described on its own) it depends on the serial only.
func deviceID(patient, serial string) string {
	if patient == "" {
		return idOf(key("device", serial))
	}
	return idOf(key("device", patient, serial))
}

// DeviceResource returns the Device resource of a CGM sensor under the
// issuer base URL, conforming to the IG's cgm-device profile ("the CGM
// sensor, not a reader or app"): an identifier with the serial number
// (type v2-0203 SNO, system base/identifier/device-serial), serialNumber,
// and a deviceName of type user-friendly-name "Manufacturer Model" (e.g.
// "Abbott FreeStyle Libre 3"; "CGM sensor (model unknown)" when neither is
// known) plus the model as model-name. patientID, when not "", links the
// sensor to its wearer (Device.patient). The id is derived from the
// patient and the serial (see deviceID).
func DeviceResource(base string, d DeviceInfo, patientID string) (Device, error) {
	base, err := normalizeBase(base)
	if err != nil {
		return Device{}, err
	}
	if !tokenRE.MatchString(d.Serial) {
		return Device{}, fmt.Errorf("fhir: device serial %q: want 1-64 of A-Z a-z 0-9 . _ : -", d.Serial)
	}
	name := strings.TrimSpace(strings.TrimSpace(d.Manufacturer) + " " + strings.TrimSpace(d.Model))
	if name == "" {
		name = "CGM sensor (model unknown)"
	}
	dev := Device{
		ID:   deviceID(patientID, d.Serial),
		Meta: &Meta{Profile: []string{ProfileDevice}},
		Identifier: []Identifier{{
			Type:   &CodeableConcept{Coding: []Coding{{System: IdentifierType, Code: "SNO", Display: "Serial Number"}}},
			System: base + identifierDevice,
			Value:  d.Serial,
		}},
		Manufacturer: strings.TrimSpace(d.Manufacturer),
		SerialNumber: d.Serial,
		DeviceName:   []DeviceName{{Name: name, Type: "user-friendly-name"}},
	}
	if m := strings.TrimSpace(d.Model); m != "" {
		dev.DeviceName = append(dev.DeviceName, DeviceName{Name: m, Type: "model-name"})
	}
	if patientID != "" {
		if !idRE.MatchString(patientID) {
			return Device{}, fmt.Errorf("fhir: patient id %q is not a FHIR id", patientID)
		}
		dev.Patient = patientRef(patientID)
	}
	return dev, nil
}
