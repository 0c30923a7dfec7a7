package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5"
)

// VitalsPublication is a patient's new or changed daily summaries of their
// own devices, as handed to [Store.PublishVitals].
type VitalsPublication struct {
	// PatientID is the patient's internal key.
	PatientID int64
	// Patient is the patient as the FHIR mapping needs it.
	Patient fhir.PatientInfo
	// Days are the days whose summaries changed (vitals.Daily's output).
	Days []vitals.Day
	// TimeZone is the patient's zone (the days' dates are local).
	TimeZone string
	// Issued is when the figures were made available (the store's clock
	// when zero).
	Issued time.Time
}

// PublishVitals stores the Observations of a patient's daily device
// summaries (fhir.VitalsObservations) in the resource store in tx, and,
// when any is new or changed, queues their delivery as PublishSummary
// does: one outbox row per active subscription serving the patient, only
// while the patient's third-party consent is granted, each a transaction
// Bundle of conditional creates (the Observations without local codes for
// a subscription that takes only the IGs' profiles). Days with nothing to
// publish publish nothing.
func (s *Store) PublishVitals(ctx context.Context, tx pgx.Tx, p VitalsPublication) error {
	if p.PatientID <= 0 {
		return fmt.Errorf("records: publish vitals: %w: patient %d", ErrInvalid, p.PatientID)
	}
	if len(p.Days) == 0 {
		return nil
	}
	issued := p.Issued
	if issued.IsZero() {
		issued = s.now()
	}
	issued = issued.UTC().Truncate(time.Microsecond)
	in := fhir.VitalsInput{Base: s.base, Patient: p.Patient, Days: p.Days, Type: fhir.BundleTransaction, Timestamp: issued, Issued: issued}
	full, err := fhir.VitalsBundle(in)
	if err != nil {
		return fmt.Errorf("records: publish vitals of patient %d: %w: %w", p.PatientID, ErrInvalid, err)
	}
	loc, err := zoneOf(p.TimeZone)
	if err != nil {
		return fmt.Errorf("records: publish vitals of patient %d: %w: %w", p.PatientID, ErrInvalid, err)
	}
	var rs []Resource
	var digests []string
	for _, e := range full.Entry {
		r, digest, err := s.ours(e.Resource, p.PatientID, loc)
		if err != nil {
			return fmt.Errorf("records: publish vitals of patient %d: %w", p.PatientID, err)
		}
		if r.Type != "" {
			rs, digests = append(rs, r), append(digests, digest)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	bundle := func(igOnly bool) (fhir.Bundle, error) {
		if !igOnly {
			return full, nil
		}
		in.IGOnly = true
		return fhir.VitalsBundle(in)
	}
	detail := "device measures " + p.Days[0].Date + ".." + p.Days[len(p.Days)-1].Date
	if err := s.publish(ctx, tx, p.PatientID, rs, digests, issued, detail, bundle); err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("records: publish vitals of patient %d: %w", p.PatientID, err)
	}
	return nil
}
