package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5"
)

// Publication is a patient's new CGM summary, as handed to
// [Store.PublishSummary] by the code that stores summaries.
type Publication struct {
	// PatientID is the patient's internal key (cgmstore.Patient.ID).
	PatientID int64
	// Patient is the patient as the FHIR mapping needs it: ID the public
	// id (cgmstore.Patient.PublicID), FiscalCode the codice fiscale (the
	// receivers match the patient on it), names optional.
	Patient fhir.PatientInfo
	// Devices are the sensors worn in the period (each becomes a
	// cgm-device Device).
	Devices []fhir.DeviceInfo
	// Report holds the figures of the period (agp.Compute's output). A
	// report without the figures the IG requires (fhir.ErrNoSummary)
	// publishes nothing and is not an error.
	Report agp.Report
	// PDF is the AGP report of the period, or nil. With it, the IG's
	// cgm-summary-pdf DiagnosticReport (presentedForm application/pdf,
	// result the summary panel) is stored and delivered too.
	PDF []byte
	// Issued is when the figures were made available
	// (Observation.issued, DiagnosticReport.issued, Bundle.timestamp);
	// the store's clock when zero.
	Issued time.Time
}

// PublishSummary stores a patient's new summary as FHIR resources and
// queues its delivery, in tx, the caller's transaction that stores the
// summary: nothing is published unless tx commits.
//
//  1. The resources of the summary (fhir.SummaryBundle: the summary panel
//     and its members, the local figures, the Devices and, with p.PDF,
//     the DiagnosticReport) are upserted into the resource store by
//     identifier: a new one is inserted; a changed one replaces the stored
//     body with the same id and a new version; an unchanged one is left
//     alone.
//  2. When anything was inserted or changed, one outbox row is written per
//     active subscription that serves the patient now — all patients, the
//     patients of a care relationship kind (and party) in force, or an
//     explicit list — and only while the patient's third-party consent is
//     granted. Each row holds the transaction Bundle for that subscription
//     (every entry a conditional create on its identifier), which the
//     [Deliverer] sends.
//
// A report without enough data for the IG's summary (fhir.ErrNoSummary)
// publishes nothing and returns nil. Invalid input (bad patient id, PDF
// without a %PDF- header) is ErrInvalid; database errors are returned
// wrapped, and the caller's transaction should then be rolled back.
func (s *Store) PublishSummary(ctx context.Context, tx pgx.Tx, p Publication) error {
	if p.PatientID <= 0 {
		return fmt.Errorf("records: publish summary: %w: patient %d", ErrInvalid, p.PatientID)
	}
	issued := p.Issued
	if issued.IsZero() {
		issued = s.now()
	}
	issued = issued.UTC().Truncate(time.Microsecond)
	in := fhir.SummaryInput{Report: p.Report, Patient: p.Patient, Devices: p.Devices, Base: s.base,
		Type: fhir.BundleTransaction, Timestamp: issued, Issued: issued, PDF: p.PDF}
	full, err := fhir.SummaryBundle(in)
	if errors.Is(err, fhir.ErrNoSummary) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("records: publish summary of patient %d: %w: %w", p.PatientID, ErrInvalid, err)
	}
	loc, err := zoneOf(p.Report.TimeZone)
	if err != nil {
		return fmt.Errorf("records: publish summary of patient %d: %w: %w", p.PatientID, ErrInvalid, err)
	}
	var rs []Resource
	var digests []string
	var period fhir.Period
	for _, e := range full.Entry {
		r, digest, err := s.ours(e.Resource, p.PatientID, loc)
		if err != nil {
			return fmt.Errorf("records: publish summary of patient %d: %w", p.PatientID, err)
		}
		if r.Type == "" {
			continue // the Patient: served from the patients table
		}
		if o, ok := e.Resource.(*fhir.Observation); ok && o.EffectivePeriod != nil && period.Start == "" {
			period = *o.EffectivePeriod
		}
		rs, digests = append(rs, r), append(digests, digest)
	}
	bundle := func(igOnly bool) (fhir.Bundle, error) {
		if !igOnly {
			return full, nil
		}
		in.IGOnly = true
		return fhir.SummaryBundle(in)
	}
	if err := s.publish(ctx, tx, p.PatientID, rs, digests, issued, "CGM summary "+period.Start+".."+period.End, bundle); err != nil {
		return fmt.Errorf("records: publish summary of patient %d: %w", p.PatientID, err)
	}
	return nil
}

// publish upserts the resources rs (with their digests) in tx and, when
// any is new or changed, queues one outbox row per active subscription
// serving the patient while their consent is granted, holding the Bundle
// bundle gives for it (igOnly: the subscription takes only the IGs'
// profiles). detail names what is delivered (no values).
func (s *Store) publish(ctx context.Context, tx pgx.Tx, patientID int64, rs []Resource, digests []string, issued time.Time,
	detail string, bundle func(igOnly bool) (fhir.Bundle, error)) error {
	us, err := upsertAll(ctx, tx, rs, digests, issued)
	if err != nil {
		return err
	}
	changed := false
	for i, u := range us {
		if u.err != nil && rs[i].Type != "Device" {
			return u.err
		}
		// A Device whose serial identifier the patient's record keeps for
		// a resource of another kind (a submitter's choice) stays as it is.
		changed = changed || u.created || u.changed
	}
	if !changed {
		return nil
	}
	granted, err := consentGranted(ctx, tx, patientID)
	if err != nil || !granted {
		return err
	}
	subs, igOnly, err := serving(ctx, tx, patientID, s.now())
	if err != nil || len(subs) == 0 {
		return err
	}
	bundles := map[bool][]byte{}
	idents := map[bool][]string{}
	entries := map[bool]int{}
	for i, sub := range subs {
		ig := igOnly[i]
		if bundles[ig] == nil {
			b, err := bundle(ig)
			if err != nil {
				return err
			}
			if bundles[ig], err = json.Marshal(b); err != nil {
				return err
			}
			idents[ig], entries[ig] = bundleIdentifiers(b), len(b.Entry)
		}
		const ins = `INSERT INTO outbox (subscription_id, patient_id, bundle, identifiers, entries, detail)
			VALUES ($1, $2, $3, $4, $5, $6)`
		if _, err := tx.Exec(ctx, ins, sub, patientID, string(bundles[ig]), idents[ig], entries[ig], detail); err != nil {
			return fmt.Errorf("outbox: %w", translate(err))
		}
	}
	return nil
}

// ours returns the row of one of fsecgm's resources and its digest (the
// SHA-256 of its JSON without the issued instant, so that publishing the
// same figures again changes nothing). The Patient gives a zero Resource.
func (s *Store) ours(res fhir.Resource, patient int64, loc *time.Location) (Resource, string, error) {
	r := Resource{PatientID: patient, Origin: OriginFsecgm}
	var ident []fhir.Identifier
	var code *fhir.CodeableConcept
	var per *fhir.Period
	var issued string
	switch v := res.(type) {
	case *fhir.Patient:
		return Resource{}, "", nil
	case *fhir.Observation:
		r.Type, r.ID, ident, code, per, issued = "Observation", v.ID, v.Identifier, &v.Code, v.EffectivePeriod, v.Issued
		if per == nil && v.EffectiveDateTime != "" {
			// A dateTime's precision is its period: a date is the whole
			// local day (FHIR R4 dateTime).
			per = &fhir.Period{Start: v.EffectiveDateTime, End: v.EffectiveDateTime}
		}
	case *fhir.DiagnosticReport:
		r.Type, r.ID, ident, code, per, issued = "DiagnosticReport", v.ID, v.Identifier, &v.Code, v.EffectivePeriod, v.Issued
	case *fhir.Device:
		r.Type, r.ID, ident = "Device", v.ID, v.Identifier
	default:
		return Resource{}, "", fmt.Errorf("unexpected %T in a summary", res)
	}
	if len(ident) == 0 {
		return Resource{}, "", fmt.Errorf("%s/%s has no identifier", r.Type, r.ID)
	}
	r.IdentifierSystem, r.IdentifierValue = ident[0].System, ident[0].Value
	if code != nil {
		r.Codes = codesOf(*code)
	}
	if per != nil {
		var err error
		if r.Start, r.End, err = periodRange(per.Start, per.End, loc); err != nil {
			return Resource{}, "", fmt.Errorf("%s/%s: effectivePeriod: %w", r.Type, r.ID, err)
		}
	}
	body, err := json.Marshal(res)
	if err != nil {
		return Resource{}, "", err
	}
	r.Body = body
	return r, digestOf(withoutIssued(body, issued)), nil
}

// withoutIssued returns body without its "issued" member, whose value is
// the instant text issued: what the digest of a resource leaves out, so
// that the same figures published again are the same resource.
func withoutIssued(body []byte, issued string) []byte {
	if issued == "" {
		return body
	}
	member, _ := json.Marshal(issued)
	m := append([]byte(`"issued":`), member...)
	if i := bytes.Index(body, append(m, ',')); i >= 0 {
		return append(append([]byte(nil), body[:i]...), body[i+len(m)+1:]...)
	}
	if i := bytes.Index(body, append([]byte{','}, m...)); i >= 0 {
		return append(append([]byte(nil), body[:i]...), body[i+len(m)+1:]...)
	}
	return body
}

// codesOf returns "system|code" of every coding.
func codesOf(c fhir.CodeableConcept) []string {
	out := make([]string, 0, len(c.Coding))
	for _, cd := range c.Coding {
		if cd.Code != "" {
			out = append(out, cd.System+"|"+cd.Code)
		}
	}
	return out
}

// bundleIdentifiers returns "system|value" of the identifier each entry of
// a transaction Bundle is created on, for the operator's view of the
// outbox; for the Patient, fsecgm's public id rather than the codice
// fiscale the entry is created on (the operator needs no fiscal code).
func bundleIdentifiers(b fhir.Bundle) []string {
	out := make([]string, 0, len(b.Entry))
	for _, e := range b.Entry {
		if pt, ok := e.Resource.(*fhir.Patient); ok && len(pt.Identifier) > 0 {
			id := pt.Identifier[len(pt.Identifier)-1] // the public id comes last
			out = append(out, id.System+"|"+id.Value)
			continue
		}
		if e.Request != nil && e.Request.IfNoneExist != "" {
			out = append(out, strings.TrimPrefix(e.Request.IfNoneExist, "identifier="))
		}
	}
	return out
}

// zoneOf loads a report's zone: an IANA name, a fixed offset "+hh:mm", or
// "" for fhir.DefaultTimeZone.
func zoneOf(tz string) (*time.Location, error) {
	if tz == "" {
		tz = fhir.DefaultTimeZone
	}
	if len(tz) == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':' {
		h, err1 := strconv.Atoi(tz[1:3])
		m, err2 := strconv.Atoi(tz[4:6])
		if err1 != nil || err2 != nil || h > 14 || m > 59 {
			return nil, fmt.Errorf("time zone %q: not an offset +hh:mm", tz)
		}
		off := h*3600 + m*60
		if tz[0] == '-' {
			off = -off
		}
		return time.FixedZone(tz, off), nil
	}
	loc, err := cgm.Zone(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return loc, nil
}
