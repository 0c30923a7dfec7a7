package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// This file holds the FHIR R4 data types and resources fsecgm writes and
// reads: only the elements it uses. Every optional element is left out of
// JSON when empty (FHIR forbids empty objects, arrays and strings), and each
// resource writes its "resourceType" first.

// Resource is a FHIR resource: one of the resource types of this package, or
// a [RawResource] for any other type read from JSON.
type Resource interface {
	// ResourceType returns the FHIR resource type, e.g. "Observation".
	ResourceType() string
}

// Meta is Resource.meta.
type Meta struct {
	// Profile lists the canonical URLs of the profiles the resource claims.
	Profile []string `json:"profile,omitempty"`
}

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept given by codes and/or text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a business identifier.
type Identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

// Reference points at another resource.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Period is a time range; Start and End are FHIR dateTime texts (a date
// YYYY-MM-DD, or a date and time with offset). A date-only End includes the
// whole day.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Quantity is a measured amount. Comparator "<" or ">" says the real value
// is below or above Value (a sensor's LO or HI).
type Quantity struct {
	Value      Decimal `json:"value,omitempty"`
	Comparator string  `json:"comparator,omitempty"`
	Unit       string  `json:"unit,omitempty"`
	System     string  `json:"system,omitempty"`
	Code       string  `json:"code,omitempty"`
}

// HumanName is a person's name.
type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

// Attachment is content in line (Data, base64 in JSON) or by URL.
type Attachment struct {
	ContentType string `json:"contentType,omitempty"`
	Language    string `json:"language,omitempty"`
	Data        []byte `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
	Title       string `json:"title,omitempty"`
	Creation    string `json:"creation,omitempty"`
}

// Observation is an R4 Observation.
type Observation struct {
	ID                string                 `json:"id,omitempty"`
	Meta              *Meta                  `json:"meta,omitempty"`
	Identifier        []Identifier           `json:"identifier,omitempty"`
	Status            string                 `json:"status,omitempty"`
	Category          []CodeableConcept      `json:"category,omitempty"`
	Code              CodeableConcept        `json:"code,omitzero"`
	Subject           *Reference             `json:"subject,omitempty"`
	EffectiveDateTime string                 `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *Period                `json:"effectivePeriod,omitempty"`
	Issued            string                 `json:"issued,omitempty"`
	ValueQuantity     *Quantity              `json:"valueQuantity,omitempty"`
	DataAbsentReason  *CodeableConcept       `json:"dataAbsentReason,omitempty"`
	Interpretation    []CodeableConcept      `json:"interpretation,omitempty"`
	Method            *CodeableConcept       `json:"method,omitempty"`
	Device            *Reference             `json:"device,omitempty"`
	HasMember         []Reference            `json:"hasMember,omitempty"`
	Component         []ObservationComponent `json:"component,omitempty"`
}

// ObservationComponent is one component of an Observation.
type ObservationComponent struct {
	Code                 CodeableConcept   `json:"code,omitzero"`
	ValueQuantity        *Quantity         `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept  `json:"valueCodeableConcept,omitempty"`
	DataAbsentReason     *CodeableConcept  `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept `json:"interpretation,omitempty"`
}

// Patient is an R4 Patient.
type Patient struct {
	ID         string       `json:"id,omitempty"`
	Meta       *Meta        `json:"meta,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
	Active     *bool        `json:"active,omitempty"`
	Name       []HumanName  `json:"name,omitempty"`
	Gender     string       `json:"gender,omitempty"`
	BirthDate  string       `json:"birthDate,omitempty"`
}

// DeviceName is a name of a Device; Type is a code of
// http://hl7.org/fhir/device-nametype (required binding).
type DeviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Device is an R4 Device.
type Device struct {
	ID           string       `json:"id,omitempty"`
	Meta         *Meta        `json:"meta,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Status       string       `json:"status,omitempty"`
	Manufacturer string       `json:"manufacturer,omitempty"`
	SerialNumber string       `json:"serialNumber,omitempty"`
	DeviceName   []DeviceName `json:"deviceName,omitempty"`
	ModelNumber  string       `json:"modelNumber,omitempty"`
	Patient      *Reference   `json:"patient,omitempty"`
}

// DiagnosticReport is an R4 DiagnosticReport.
type DiagnosticReport struct {
	ID              string            `json:"id,omitempty"`
	Meta            *Meta             `json:"meta,omitempty"`
	Identifier      []Identifier      `json:"identifier,omitempty"`
	Status          string            `json:"status,omitempty"`
	Category        []CodeableConcept `json:"category,omitempty"`
	Code            CodeableConcept   `json:"code,omitzero"`
	Subject         *Reference        `json:"subject,omitempty"`
	EffectivePeriod *Period           `json:"effectivePeriod,omitempty"`
	Issued          string            `json:"issued,omitempty"`
	Result          []Reference       `json:"result,omitempty"`
	PresentedForm   []Attachment      `json:"presentedForm,omitempty"`
}

// OperationOutcome is an R4 OperationOutcome.
type OperationOutcome struct {
	ID    string                  `json:"id,omitempty"`
	Issue []OperationOutcomeIssue `json:"issue,omitempty"`
}

// OperationOutcomeIssue is one issue of an OperationOutcome. Severity and
// Code come from the required value sets issue-severity and issue-type.
type OperationOutcomeIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// CodeSystem is an R4 CodeSystem (a complete, flat one).
type CodeSystem struct {
	ID            string              `json:"id,omitempty"`
	URL           string              `json:"url,omitempty"`
	Version       string              `json:"version,omitempty"`
	Name          string              `json:"name,omitempty"`
	Title         string              `json:"title,omitempty"`
	Status        string              `json:"status,omitempty"`
	Experimental  *bool               `json:"experimental,omitempty"`
	Date          string              `json:"date,omitempty"`
	Publisher     string              `json:"publisher,omitempty"`
	Description   string              `json:"description,omitempty"`
	CaseSensitive *bool               `json:"caseSensitive,omitempty"`
	Content       string              `json:"content,omitempty"`
	Count         *int                `json:"count,omitempty"`
	Concept       []CodeSystemConcept `json:"concept,omitempty"`
}

// CodeSystemConcept is one code of a CodeSystem.
type CodeSystemConcept struct {
	Code       string `json:"code"`
	Display    string `json:"display,omitempty"`
	Definition string `json:"definition,omitempty"`
}

// Bundle is an R4 Bundle.
type Bundle struct {
	ID         string        `json:"id,omitempty"`
	Meta       *Meta         `json:"meta,omitempty"`
	Identifier *Identifier   `json:"identifier,omitempty"`
	Type       string        `json:"type,omitempty"`
	Timestamp  string        `json:"timestamp,omitempty"`
	Total      *int          `json:"total,omitempty"`
	Entry      []BundleEntry `json:"entry,omitempty"`
}

// BundleEntry is one entry of a Bundle.
type BundleEntry struct {
	FullURL  string               `json:"fullUrl,omitempty"`
	Resource Resource             `json:"resource,omitempty"`
	Search   *BundleEntrySearch   `json:"search,omitempty"`
	Request  *BundleEntryRequest  `json:"request,omitempty"`
	Response *BundleEntryResponse `json:"response,omitempty"`
}

// BundleEntrySearch says why an entry is in a searchset.
type BundleEntrySearch struct {
	Mode string `json:"mode,omitempty"`
}

// BundleEntryRequest is the request of a transaction entry.
type BundleEntryRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
}

// BundleEntryResponse is the response to one transaction entry.
type BundleEntryResponse struct {
	Status       string            `json:"status"`
	Location     string            `json:"location,omitempty"`
	Etag         string            `json:"etag,omitempty"`
	LastModified string            `json:"lastModified,omitempty"`
	Outcome      *OperationOutcome `json:"outcome,omitempty"`
}

// RawResource is a resource of a type this package does not model, kept as
// the JSON it was read from.
type RawResource struct {
	Type string
	JSON json.RawMessage
}

// ResourceType implements Resource.
func (r *RawResource) ResourceType() string { return r.Type }

// MarshalJSON writes the JSON as read.
func (r *RawResource) MarshalJSON() ([]byte, error) { return r.JSON, nil }

// The resource types write and check their resourceType.

// ResourceType implements Resource.
func (Observation) ResourceType() string { return "Observation" }

// ResourceType implements Resource.
func (Patient) ResourceType() string { return "Patient" }

// ResourceType implements Resource.
func (Device) ResourceType() string { return "Device" }

// ResourceType implements Resource.
func (DiagnosticReport) ResourceType() string { return "DiagnosticReport" }

// ResourceType implements Resource.
func (OperationOutcome) ResourceType() string { return "OperationOutcome" }

// ResourceType implements Resource.
func (CodeSystem) ResourceType() string { return "CodeSystem" }

// ResourceType implements Resource.
func (Bundle) ResourceType() string { return "Bundle" }

// marshalResource writes v (a struct without methods) with "resourceType"
// first.
func marshalResource(typ string, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":`)
	t, _ := json.Marshal(typ)
	b.Write(t)
	if len(body) > 2 { // not "{}"
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// unmarshalResource reads data into v (a struct without methods) after
// checking that its resourceType is typ.
func unmarshalResource(typ string, data []byte, v any) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("fhir: %s: %w", typ, err)
	}
	if head.ResourceType != typ {
		return fmt.Errorf("fhir: resourceType is %q, want %q", head.ResourceType, typ)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("fhir: %s: %w", typ, err)
	}
	return nil
}

type (
	plainObservation      Observation
	plainPatient          Patient
	plainDevice           Device
	plainDiagnosticReport DiagnosticReport
	plainOutcome          OperationOutcome
	plainCodeSystem       CodeSystem
	plainBundle           Bundle
)

// MarshalJSON writes the resource with its resourceType.
func (o Observation) MarshalJSON() ([]byte, error) {
	return marshalResource("Observation", plainObservation(o))
}

// UnmarshalJSON reads the resource and checks its resourceType.
func (o *Observation) UnmarshalJSON(b []byte) error {
	return unmarshalResource("Observation", b, (*plainObservation)(o))
}

// MarshalJSON writes the resource with its resourceType.
func (p Patient) MarshalJSON() ([]byte, error) { return marshalResource("Patient", plainPatient(p)) }

// UnmarshalJSON reads the resource and checks its resourceType.
func (p *Patient) UnmarshalJSON(b []byte) error {
	return unmarshalResource("Patient", b, (*plainPatient)(p))
}

// MarshalJSON writes the resource with its resourceType.
func (d Device) MarshalJSON() ([]byte, error) { return marshalResource("Device", plainDevice(d)) }

// UnmarshalJSON reads the resource and checks its resourceType.
func (d *Device) UnmarshalJSON(b []byte) error {
	return unmarshalResource("Device", b, (*plainDevice)(d))
}

// MarshalJSON writes the resource with its resourceType.
func (r DiagnosticReport) MarshalJSON() ([]byte, error) {
	return marshalResource("DiagnosticReport", plainDiagnosticReport(r))
}

// UnmarshalJSON reads the resource and checks its resourceType.
func (r *DiagnosticReport) UnmarshalJSON(b []byte) error {
	return unmarshalResource("DiagnosticReport", b, (*plainDiagnosticReport)(r))
}

// MarshalJSON writes the resource with its resourceType.
func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	return marshalResource("OperationOutcome", plainOutcome(o))
}

// UnmarshalJSON reads the resource and checks its resourceType.
func (o *OperationOutcome) UnmarshalJSON(b []byte) error {
	return unmarshalResource("OperationOutcome", b, (*plainOutcome)(o))
}

// MarshalJSON writes the resource with its resourceType.
func (c CodeSystem) MarshalJSON() ([]byte, error) {
	return marshalResource("CodeSystem", plainCodeSystem(c))
}

// UnmarshalJSON reads the resource and checks its resourceType.
func (c *CodeSystem) UnmarshalJSON(b []byte) error {
	return unmarshalResource("CodeSystem", b, (*plainCodeSystem)(c))
}

// MarshalJSON writes the resource with its resourceType.
func (b Bundle) MarshalJSON() ([]byte, error) { return marshalResource("Bundle", plainBundle(b)) }

// UnmarshalJSON reads the resource and checks its resourceType.
func (b *Bundle) UnmarshalJSON(data []byte) error {
	return unmarshalResource("Bundle", data, (*plainBundle)(b))
}

// UnmarshalJSON reads an entry, decoding its resource with [ParseResource].
func (e *BundleEntry) UnmarshalJSON(b []byte) error {
	var aux struct {
		FullURL  string               `json:"fullUrl"`
		Resource json.RawMessage      `json:"resource"`
		Search   *BundleEntrySearch   `json:"search"`
		Request  *BundleEntryRequest  `json:"request"`
		Response *BundleEntryResponse `json:"response"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = BundleEntry{FullURL: aux.FullURL, Search: aux.Search, Request: aux.Request, Response: aux.Response}
	if len(aux.Resource) > 0 && !bytes.Equal(bytes.TrimSpace(aux.Resource), []byte("null")) {
		r, err := ParseResource(aux.Resource)
		if err != nil {
			return err
		}
		e.Resource = r
	}
	return nil
}

// ParseResource reads one resource from JSON into the type of this package
// its resourceType names (as a pointer, e.g. *Observation), or into a
// *RawResource for other types. Elements this package does not model are
// dropped (except in a RawResource).
func ParseResource(data []byte) (Resource, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("fhir: resource: %w", err)
	}
	var r Resource
	switch head.ResourceType {
	case "":
		return nil, fmt.Errorf("fhir: resource: no resourceType")
	case "Observation":
		r = new(Observation)
	case "Patient":
		r = new(Patient)
	case "Device":
		r = new(Device)
	case "DiagnosticReport":
		r = new(DiagnosticReport)
	case "OperationOutcome":
		r = new(OperationOutcome)
	case "CodeSystem":
		r = new(CodeSystem)
	case "Bundle":
		r = new(Bundle)
	default:
		return &RawResource{Type: head.ResourceType, JSON: append(json.RawMessage(nil), data...)}, nil
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, err
	}
	return r, nil
}
