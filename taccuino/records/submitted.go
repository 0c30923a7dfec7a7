package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5"
)

// Identifier systems fsecgm gives to submitted resources that carry none
// of their own, under the issuer base URL.
const (
	identifierSubmitted        = "/identifier/submitted"
	identifierSubmittedReading = "/identifier/submitted-reading"
)

// Identifier is a business identifier (system and value).
type Identifier struct {
	System, Value string
}

// String returns "system|value".
func (i Identifier) String() string { return i.System + "|" + i.Value }

// Found is where a kept identifier leads.
type Found struct {
	// Type and ID are the resource's location on the FHIR API.
	Type, ID string
	// PatientID is the patient it is about.
	PatientID int64
	// Version and LastUpdated are the resource's current version (1 and
	// the time it was first received for a reading or a Device).
	Version     int
	LastUpdated time.Time
}

// Lookup returns, for each identifier kept in the record of patient (as a
// stored resource's identifier, or as the identifier a reading or a Device
// was submitted with), where it leads; the others are absent from the map.
// It is what a conditional create (ifNoneExist) asks. Identifiers are the
// patient's own: another patient's record is never looked at, so that a
// submission learns nothing about it. db is the submission's transaction.
func (s *Store) Lookup(ctx context.Context, db DB, patient int64, ids []Identifier) (map[Identifier]Found, error) {
	out := make(map[Identifier]Found, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	sys, val := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		sys[i], val[i] = id.System, id.Value
	}
	const q = `WITH want AS (SELECT * FROM unnest($1::text[], $2::text[]) AS w (s, v))
		SELECT f.identifier_system, f.identifier_value, f.resource_type, f.id, f.patient_id, f.version, f.last_updated
		FROM fhir_resources f JOIN want ON f.patient_id = $3 AND f.identifier_system = want.s AND f.identifier_value = want.v
		UNION ALL
		SELECT c.identifier_system, c.identifier_value, c.resource_type, c.resource_id, c.patient_id, 1, c.created_at
		FROM fhir_client_identifiers c JOIN want ON c.patient_id = $3 AND c.identifier_system = want.s AND c.identifier_value = want.v`
	rows, err := db.Query(ctx, q, sys, val, patient)
	if err != nil {
		return nil, fmt.Errorf("records: lookup identifiers: %w", translate(err))
	}
	var id Identifier
	var f Found
	_, err = pgx.ForEachRow(rows, []any{&id.System, &id.Value, &f.Type, &f.ID, &f.PatientID, &f.Version, &f.LastUpdated}, func() error {
		f.LastUpdated = f.LastUpdated.UTC()
		if _, dup := out[id]; !dup { // a stored resource comes first
			out[id] = f
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("records: lookup identifiers: %w", translate(err))
	}
	return out, nil
}

// ReadingID returns the resource id of the sensor reading of patient
// submitted with identifier id: derived from both, so that the Location of
// a created reading can be read back and two patients' readings with the
// same identifier are two resources. (Readings kept before identifiers
// were per patient keep the id derived from the identifier alone: Lookup
// gives it.)
func ReadingID(patient int64, id Identifier) string {
	return "r" + digestOf([]byte("reading\x00" + strconv.FormatInt(patient, 10) + "\x00" + id.String()))[:31]
}

// SubmittedReadingIdentifier returns the identifier fsecgm keeps a
// submitted sensor reading by when it came without one: derived from the
// patient, instant, kind and code, so that re-submitting the same reading
// finds it.
func (s *Store) SubmittedReadingIdentifier(patient int64, r cgm.Reading, code string) Identifier {
	k := strconv.FormatInt(patient, 10) + "|" + r.Time.UTC().Format(time.RFC3339Nano) + "|" + r.Kind.String() + "|" + code
	return Identifier{System: s.base + identifierSubmittedReading, Value: digestOf([]byte(k))}
}

// ClientIdentifier is the identifier a sensor reading or a Device was
// submitted with, kept so that ifNoneExist finds it and a read finds the
// reading.
type ClientIdentifier struct {
	Identifier
	// Type is "Observation" (a sensor reading) or "Device".
	Type string
	// ResourceID is the id on the FHIR API: ReadingID of the identifier
	// for a reading, the Device's id for a Device.
	ResourceID string
	// At, Kind and Code are a reading's key in the readings store and its
	// LOINC code.
	At   time.Time
	Kind cgm.Kind
	Code string
}

// KeepIdentifiers records the identifiers of submitted sensor readings and
// Devices of patient, in db (the submission's transaction, in which the
// readings are ingested). It returns which of them were new; those
// already kept in the patient's record are left as they are.
func (s *Store) KeepIdentifiers(ctx context.Context, db DB, patient int64, submitter string, ids []ClientIdentifier) (map[Identifier]bool, error) {
	created := make(map[Identifier]bool, len(ids))
	if len(ids) == 0 {
		return created, nil
	}
	if submitter == "" {
		return nil, fmt.Errorf("records: keep identifiers: %w: no submitter", ErrInvalid)
	}
	n := len(ids)
	sys, val, typ, rid := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at, kind, code := make([]*time.Time, n), make([]*int16, n), make([]*string, n)
	for i, c := range ids {
		sys[i], val[i], typ[i], rid[i] = c.System, c.Value, c.Type, c.ResourceID
		if c.Type == "Observation" {
			t, k, cd := c.At.UTC(), int16(c.Kind), c.Code
			at[i], kind[i], code[i] = &t, &k, &cd
		}
	}
	const q = `INSERT INTO fhir_client_identifiers (identifier_system, identifier_value, resource_type, resource_id,
			patient_id, reading_at, reading_kind, reading_code, submitter, created_at)
		SELECT s, v, t, r, $8, a, k, c, $9, $10
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::smallint[], $7::text[])
			AS x (s, v, t, r, a, k, c)
		ON CONFLICT DO NOTHING
		RETURNING identifier_system, identifier_value`
	rows, err := db.Query(ctx, q, sys, val, typ, rid, at, kind, code, patient, submitter, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("records: keep identifiers: %w", translate(err))
	}
	var id Identifier
	_, err = pgx.ForEachRow(rows, []any{&id.System, &id.Value}, func() error {
		created[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("records: keep identifiers: %w", translate(err))
	}
	return created, nil
}

// PutDevice stores fsecgm's Device resource of a patient's sensor (the
// IG's cgm-device, as fhir.DeviceResource writes it) by its serial, as a
// summary would, and returns its id and whether it is new: a submitted
// Device becomes readable.
func (s *Store) PutDevice(ctx context.Context, db DB, patient int64, patientPublicID string, d fhir.DeviceInfo) (id string, created bool, err error) {
	dev, err := fhir.DeviceResource(s.base, d, patientPublicID)
	if err != nil {
		return "", false, fmt.Errorf("records: put device: %w: %w", ErrInvalid, err)
	}
	r, digest, err := s.ours(&dev, patient, nil)
	if err != nil {
		return "", false, fmt.Errorf("records: put device: %w", err)
	}
	u, err := upsert(ctx, db, r, digest, s.now())
	if err != nil {
		return "", false, err
	}
	return u.id, u.created, nil
}

// Submitted is one resource received through the FHIR API (a summary
// made by a device platform, its PDF report, a laboratory HbA1c), to be
// kept as received by [Store.StoreSubmitted].
type Submitted struct {
	// PatientID is the patient it is about (resolved by the caller).
	PatientID int64
	// Submitter is who sent it: a service's client id, or "patient".
	Submitter string
	// Type is Observation or DiagnosticReport.
	Type string
	// Body is the resource's JSON as received.
	Body json.RawMessage
	// Identifier is what it is kept by: the one its ifNoneExist names, or
	// its first identifier; zero to derive one from the body (so that the
	// same body sent again is found again).
	Identifier Identifier
	// IfNoneExist: when the identifier is already kept, leave it and
	// return it (FHIR conditional create). Without it, a known identifier
	// gets the new body as a new version.
	IfNoneExist bool
	// Zone is the zone in which dates and times without offset are read
	// (the patient's); UTC when nil.
	Zone *time.Location
}

// Stored says what StoreSubmitted did.
type Stored struct {
	// ID, Version and LastUpdated locate the stored resource.
	ID          string
	Version     int
	LastUpdated time.Time
	// Created: the identifier was new. Existed: IfNoneExist found it, and
	// nothing was written.
	Created, Existed bool
}

// LOINC codes of laboratory results fsecgm keeps for the AGP report.
const (
	// CodeHbA1c is LOINC 4548-4, Hemoglobin A1c/Hemoglobin.total in
	// Blood, in %.
	CodeHbA1c = "4548-4"
)

// StoreSubmitted keeps a submitted resource as received (origin
// submitted, with its submitter: never mixed with fsecgm's own), by
// identifier, in db (the submission's transaction). The code and the
// effective time are read from the body for the searches; an HbA1c
// Observation (LOINC 4548-4) must pass [ParseHbA1c]. Errors: ErrInvalid
// (a *FieldError says where) for a body that cannot be kept, ErrConflict
// for an identifier kept for another patient or resource.
func (s *Store) StoreSubmitted(ctx context.Context, db DB, sub Submitted) (Stored, error) {
	if sub.PatientID <= 0 || sub.Submitter == "" || len(sub.Submitter) > 256 {
		return Stored{}, fmt.Errorf("records: store submitted: %w: patient and submitter are required", ErrInvalid)
	}
	if sub.Type != "Observation" && sub.Type != "DiagnosticReport" {
		return Stored{}, fmt.Errorf("records: store submitted: %w: type %q", ErrInvalid, sub.Type)
	}
	var head struct {
		ResourceType      string                `json:"resourceType"`
		Code              *fhir.CodeableConcept `json:"code"`
		EffectiveDateTime string                `json:"effectiveDateTime"`
		EffectiveInstant  string                `json:"effectiveInstant"`
		EffectivePeriod   *fhir.Period          `json:"effectivePeriod"`
	}
	if err := json.Unmarshal(sub.Body, &head); err != nil {
		return Stored{}, fmt.Errorf("records: store submitted: %w", &FieldError{Path: "", Reason: "not a JSON resource", err: ErrInvalid})
	}
	if head.ResourceType != sub.Type {
		return Stored{}, fmt.Errorf("records: store submitted: %w", &FieldError{Path: "resourceType", Reason: "want " + sub.Type, err: ErrInvalid})
	}
	zone := sub.Zone
	if zone == nil {
		zone = time.UTC
	}
	r := Resource{Type: sub.Type, PatientID: sub.PatientID, Origin: OriginSubmitted, Submitter: sub.Submitter, Body: sub.Body}
	if head.Code != nil {
		r.Codes = codesOf(*head.Code)
	}
	var err error
	switch {
	case head.EffectivePeriod != nil:
		r.Start, r.End, err = periodRange(head.EffectivePeriod.Start, head.EffectivePeriod.End, zone)
		if err != nil {
			return Stored{}, fmt.Errorf("records: store submitted: %w", &FieldError{Path: "effectivePeriod", Reason: err.Error(), err: ErrInvalid})
		}
	case head.EffectiveDateTime != "" || head.EffectiveInstant != "":
		path, v := "effectiveDateTime", head.EffectiveDateTime
		if v == "" {
			path, v = "effectiveInstant", head.EffectiveInstant
		}
		if r.Start, r.End, err = ParseDateTime(v, zone); err != nil {
			return Stored{}, fmt.Errorf("records: store submitted: %w", &FieldError{Path: path, Reason: err.Error(), err: ErrInvalid})
		}
	}
	if sub.Type == "Observation" && hasCode(r.Codes, fhir.LOINC, CodeHbA1c) {
		if _, err := ParseHbA1c(sub.Body, zone); err != nil {
			return Stored{}, fmt.Errorf("records: store submitted: %w", err)
		}
	}
	id := sub.Identifier
	if id.System == "" || id.Value == "" {
		id = Identifier{System: s.base + identifierSubmitted, Value: digestOf(sub.Body)}
	}
	r.IdentifierSystem, r.IdentifierValue = id.System, id.Value
	r.ID = "s" + digestOf([]byte("submitted\x00" + strconv.FormatInt(sub.PatientID, 10) + "\x00" + sub.Type + "\x00" + id.String()))[:31]
	if sub.IfNoneExist {
		found, err := s.Lookup(ctx, db, sub.PatientID, []Identifier{id})
		if err != nil {
			return Stored{}, err
		}
		if f, ok := found[id]; ok {
			if f.Type != sub.Type {
				return Stored{}, fmt.Errorf("records: store submitted: %w: the identifier is kept for another resource", ErrConflict)
			}
			return Stored{ID: f.ID, Version: f.Version, LastUpdated: f.LastUpdated, Existed: true}, nil
		}
	}
	u, err := upsert(ctx, db, r, digestOf(sub.Body), s.now())
	if err != nil {
		return Stored{}, err
	}
	return Stored{ID: u.id, Version: u.version, LastUpdated: u.lastUpdated, Created: u.created}, nil
}

// hasCode reports whether codes holds system|code.
func hasCode(codes []string, system, code string) bool {
	for _, c := range codes {
		if c == system+"|"+code {
			return true
		}
	}
	return false
}

// FieldError is a submitted resource refused because of one element.
type FieldError struct {
	// Path is the element, as a FHIRPath below the resource
	// ("valueQuantity.code"); "" for the resource itself.
	Path string
	// Reason says what is wrong and what was expected; it never repeats a
	// clinical value.
	Reason string
	err    error
}

// Error returns "path: reason".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return e.err }

// LabResult is a laboratory HbA1c result.
type LabResult struct {
	// ID is the Observation's id on the FHIR API.
	ID string
	// At is the effective time (the sample's collection); for a
	// date-only result, the start of that day in the patient's zone.
	At time.Time
	// Percent is the HbA1c in % (NGSP/DCCT), as sent; Value is the same
	// number exactly as written (a FHIR decimal keeps its digits).
	Percent float64
	Value   string
	// Status is the Observation's status (final, amended, corrected).
	Status string
	// Submitter is who sent it.
	Submitter string
	// Received is when it was stored.
	Received time.Time
}

// Plausible bounds of an HbA1c in %: beyond them a value is a unit
// mistake (mmol/mol sent as %), not a result. Reported assay ranges go
// from about 3 % to 20 % (NGSP).
const (
	minHbA1c = 2.0
	maxHbA1c = 25.0
)

// ParseHbA1c reads a laboratory HbA1c Observation (LOINC 4548-4): status
// final, amended or corrected; effectiveDateTime (a date or a dateTime;
// dates are read in zone); valueQuantity in UCUM "%" (system
// http://unitsofmeasure.org, code "%"), a plain value between 2 and 25.
// IFCC results in mmol/mol have another LOINC code (59261-8) and are not
// accepted here. The error is a *FieldError naming the element.
func ParseHbA1c(body []byte, zone *time.Location) (LabResult, error) {
	var o struct {
		Status            string         `json:"status"`
		EffectiveDateTime string         `json:"effectiveDateTime"`
		ValueQuantity     *fhir.Quantity `json:"valueQuantity"`
	}
	bad := func(path, reason string) (LabResult, error) {
		return LabResult{}, &FieldError{Path: path, Reason: reason, err: ErrInvalid}
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return bad("", "not a valid Observation for an HbA1c result")
	}
	var lr LabResult
	switch o.Status {
	case "final", "amended", "corrected":
		lr.Status = o.Status
	default:
		return bad("status", "an HbA1c result must be final, amended or corrected")
	}
	if o.EffectiveDateTime == "" {
		return bad("effectiveDateTime", "an HbA1c result needs effectiveDateTime (when the sample was taken)")
	}
	if zone == nil {
		zone = time.UTC
	}
	at, _, err := ParseDateTime(o.EffectiveDateTime, zone)
	if err != nil {
		return bad("effectiveDateTime", err.Error())
	}
	lr.At = at
	q := o.ValueQuantity
	switch {
	case q == nil:
		return bad("valueQuantity", "an HbA1c result needs valueQuantity in %")
	case q.System != fhir.UCUM || q.Code != "%":
		return bad("valueQuantity.code", "LOINC 4548-4 is in UCUM % (system http://unitsofmeasure.org, code %); IFCC mmol/mol is LOINC 59261-8")
	case q.Comparator != "":
		return bad("valueQuantity.comparator", "an HbA1c result with a comparator is not accepted")
	case q.Value == "":
		return bad("valueQuantity.value", "valueQuantity has no value")
	}
	v, err := q.Value.Float64()
	if err != nil {
		return bad("valueQuantity.value", "not a FHIR decimal")
	}
	if v < minHbA1c || v > maxHbA1c {
		return bad("valueQuantity.value", fmt.Sprintf("outside %g-%g %%: not a plausible HbA1c in %%", minHbA1c, maxHbA1c))
	}
	lr.Percent, lr.Value = v, string(q.Value)
	return lr, nil
}

// LabHbA1c returns the patient's laboratory HbA1c results (LOINC 4548-4,
// submitted through the FHIR API) with an effective time in [from, to),
// oldest first, for the AGP report to show beside the GMI. Results whose
// body no longer parses are skipped with a warning in the log (never the
// value).
func (s *Store) LabHbA1c(ctx context.Context, patientID int64, from, to time.Time) ([]LabResult, error) {
	rows, _ := s.pool.Query(ctx, `SELECT r.id, r.body::text, r.submitter, r.last_updated, p.time_zone
		FROM fhir_resources r JOIN patients p ON p.id = r.patient_id
		WHERE r.patient_id = $1 AND r.resource_type = 'Observation' AND $2 = ANY(r.codes)
			AND r.effective_start >= $3 AND r.effective_start < $4
		ORDER BY r.effective_start, r.id`, patientID, fhir.LOINC+"|"+CodeHbA1c, from.UTC(), to.UTC())
	type row struct {
		id, body, submitter, tz string
		received                time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.body, &x.submitter, &x.received, &x.tz)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("records: HbA1c of patient %d: %w", patientID, translate(err))
	}
	out := make([]LabResult, 0, len(got))
	for _, x := range got {
		zone, err := cgm.Zone(x.tz)
		if err != nil {
			zone = time.UTC
		}
		lr, err := ParseHbA1c([]byte(x.body), zone)
		if err != nil {
			var fe *FieldError
			path := ""
			if errors.As(err, &fe) {
				path = fe.Path
			}
			s.logger.Warn("records: stored HbA1c result no longer parses", "patient_id", patientID, "id", x.id, "element", path)
			continue
		}
		lr.ID, lr.Submitter, lr.Received = x.id, x.submitter, x.received.UTC()
		out = append(out, lr)
	}
	return out, nil
}
