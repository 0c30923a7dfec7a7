package summaries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/records"

	"github.com/jackc/pgx/v5"
)

// PublishPending publishes up to limit summaries whose figures are not yet
// in the record and whose retry time has come (after a failed attempt),
// each in its own transaction. It returns how many it published.
func (u *Updater) PublishPending(ctx context.Context, limit int) (int, error) {
	if u.o.Publisher == nil {
		return 0, nil
	}
	rows, _ := u.pool.Query(ctx, `
		SELECT patient_id FROM patient_summaries
		WHERE published_key IS DISTINCT FROM figures_key AND (publish_after IS NULL OR publish_after <= now())
		ORDER BY patient_id LIMIT $1`, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("summaries: pending publications: %w", err)
	}
	n := 0
	for _, id := range ids {
		ok, err := u.publish(ctx, id)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// publish publishes the current summary of patient id in one transaction:
// it locks the summary row (skipping it when another replica holds it),
// computes the period with the engine (figures, events, AGP), renders the
// AGP report PDF and calls Publisher.PublishSummary, then records the
// figures as published. A failed publication is rolled back, logged and
// retried after Options.PublishRetry; only errors of the database around it
// are returned.
func (u *Updater) publish(ctx context.Context, id int64) (bool, error) {
	published := false
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var (
			tz         string
			start, end time.Time
			key        string
		)
		err := tx.QueryRow(ctx, `
			SELECT time_zone, period_start, period_end, figures_key FROM patient_summaries
			WHERE patient_id = $1 AND published_key IS DISTINCT FROM figures_key
				AND (publish_after IS NULL OR publish_after <= now())
			FOR UPDATE SKIP LOCKED`, id).Scan(&tz, &start, &end, &key)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // published meanwhile, or held by another replica
		}
		if err != nil {
			return err
		}
		if err := u.publishTx(ctx, tx, id, tz, start, end); err != nil {
			return &publishError{err: err}
		}
		if _, err := tx.Exec(ctx, `UPDATE patient_summaries SET published_key = $2, publish_after = NULL WHERE patient_id = $1`,
			id, key); err != nil {
			return err
		}
		published = true
		return nil
	})
	var pe *publishError
	if errors.As(err, &pe) {
		u.log.Warn("summaries: publication failed; will retry", slog.Int64("patient_id", id),
			slog.Duration("retry_in", u.o.PublishRetry), slog.String("err", pe.err.Error()))
		if _, err := u.pool.Exec(ctx, `UPDATE patient_summaries SET publish_after = now() + $2 WHERE patient_id = $1`,
			id, u.o.PublishRetry); err != nil {
			return false, fmt.Errorf("summaries: patient %d: delay publication: %w", id, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("summaries: patient %d: publish: %w", id, err)
	}
	return published, nil
}

// publishError marks a failure of the publication itself (engine, PDF,
// record), as opposed to the database around it.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }

// publishTx builds and publishes the summary of the period [start, end]
// (local dates) in tx.
func (u *Updater) publishTx(ctx context.Context, tx pgx.Tx, id int64, tz string, start, end time.Time) error {
	loc, err := cgm.Zone(tz)
	if err != nil {
		return fmt.Errorf("time zone %q: %w", tz, err)
	}
	pt, err := u.store.PatientByID(ctx, id)
	if err != nil {
		return err
	}
	first, last := local(start, loc), local(end, loc)
	cur := agp.LocalDays(first, last, loc)
	prev := agp.LocalDays(first.AddDate(0, 0, -PeriodDays), first.AddDate(0, 0, -1), loc)
	reader := u.store.InTx(tx)
	// Each period's primary series, with the sources the figures name
	// (fhir.MethodText).
	rs, use, err := reader.Series(ctx, id, cur.Start, cur.End, cgm.Historic, cgm.Scan)
	if err != nil {
		return err
	}
	prs, prevUse, err := reader.Series(ctx, id, prev.Start, prev.End, cgm.Historic, cgm.Scan)
	if err != nil {
		return err
	}
	rep, err := agp.Compute(rs, agp.Options{Patient: pt.PublicID, Location: loc, Zone: tz, Period: &cur, AGP: true, Daily: true,
		Sources: use.Sources.Names(), OtherSeriesReadings: use.Other})
	if err != nil {
		return err
	}
	prevRep, err := agp.Compute(prs, agp.Options{Patient: pt.PublicID, Location: loc, Zone: tz, Period: &prev,
		Sources: prevUse.Sources.Names(), OtherSeriesReadings: prevUse.Other})
	if err != nil {
		return err
	}
	in := rs
	ds, err := reader.Devices(ctx, id)
	if err != nil {
		return err
	}
	var labs []agpdoc.LabResult
	if u.o.HbA1c != nil {
		if labs, err = u.o.HbA1c(ctx, id, cur.Start, cur.End); err != nil {
			return fmt.Errorf("laboratory HbA1c: %w", err)
		}
	}
	// The line of the patient's own devices (issue 18): their daily
	// summaries as stored when the glucose is published.
	var devices *vitals.Period
	vds, err := VitalDays(ctx, tx, id, first, last)
	if err != nil {
		return err
	}
	if len(vds) > 0 {
		p := vitals.Summarize(vds)
		devices = &p
	}
	now := u.o.Now()
	pdf, err := agpdoc.RenderPDF(agpdoc.Input{Report: rep, Previous: &prevRep, Readings: in, Location: loc,
		Patient: PatientOf(pt), HbA1c: labs, Targets: agpdoc.TargetsStandard, Lang: locale.IT, Generated: now, Devices: devices})
	if err != nil {
		return err
	}
	return u.o.Publisher.PublishSummary(ctx, tx, records.Publication{
		PatientID: id,
		Patient:   fhirPatient(pt),
		Devices:   DevicesIn(in, ds),
		Report:    rep,
		PDF:       pdf,
		Issued:    now,
	})
}

// PatientOf returns what the report page shows of a patient.
func PatientOf(p cgmstore.Patient) agpdoc.Patient {
	return agpdoc.Patient{Name: strings.TrimSpace(p.GivenName + " " + p.FamilyName), BirthDate: p.BirthDate, FiscalCode: p.FiscalCode}
}

func fhirPatient(p cgmstore.Patient) fhir.PatientInfo {
	out := fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: p.FamilyName}
	if p.GivenName != "" {
		out.Given = []string{p.GivenName}
	}
	return out
}

// DevicesIn returns the sensors that took the readings rs, described by the
// store's devices ds (FreeStyle models are Abbott's), by serial.
func DevicesIn(rs cgm.Series, ds []cgmstore.Device) []fhir.DeviceInfo {
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Device != "" {
			seen[r.Device] = true
		}
	}
	var out []fhir.DeviceInfo
	for _, d := range ds {
		if !seen[d.Serial] {
			continue
		}
		di := fhir.DeviceInfo{Serial: d.Serial, Model: d.Model}
		if strings.HasPrefix(d.Model, "FreeStyle") {
			di.Manufacturer = "Abbott"
		}
		out = append(out, di)
	}
	slices.SortFunc(out, func(a, b fhir.DeviceInfo) int { return strings.Compare(a.Serial, b.Serial) })
	return out
}

// RecordsHbA1c adapts records.Store.LabHbA1c (laboratory HbA1c results,
// LOINC 4548-4, received through the FHIR API) to what the AGP report
// shows beside the GMI.
func RecordsHbA1c(r *records.Store) LabHbA1c {
	return func(ctx context.Context, patientID int64, from, to time.Time) ([]agpdoc.LabResult, error) {
		labs, err := r.LabHbA1c(ctx, patientID, from, to)
		if err != nil {
			return nil, err
		}
		out := make([]agpdoc.LabResult, len(labs))
		for i, l := range labs {
			out[i] = agpdoc.LabResult{At: l.At, Percent: l.Percent}
		}
		return out, nil
	}
}
