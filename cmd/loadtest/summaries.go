package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/summaries"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fhirBase is the FHIR base the service uses in development mode without
// FSECGM_BASE_URL (cmd/fsecgm devBaseURL + "/fhir"): the resources are
// written with the identifiers it would write.
const fhirBase = "http://localhost:8080/fhir"

// seedSummaries builds the summaries the clinic view lists
// (summaries.Updater, as the service's updater job does), and what the
// FHIR API serves: each patient's CGM summary
// of the last 14 days (agp.Compute) published into the FHIR resource store
// (records.Store.PublishSummary: the IG's summary panel and members, the
// local figures and the sensor's Device), without the PDF report, as the
// summaries updater would publish it.
func seedSummaries(ctx context.Context, pool *pgxpool.Pool, store *cgmstore.Store, d *data, workers int, log io.Writer) error {
	// The clinic view's summaries, by the updater itself (no publisher:
	// the FHIR resources are published below without the PDF), as after
	// the ingestion of each patient's readings.
	tu := time.Now()
	// The ingestion marks them already (cgmstore.Ingest); this keeps
	// the marks of patients it would not have marked.
	if _, err := store.MarkAllDirty(ctx); err != nil {
		return fmt.Errorf("dirty marks: %w", err)
	}
	logf(log, "building the summaries of %d patients (summaries.Updater.UpdateDirty, %d at a time)", len(d.ids), workers)
	updater := summaries.NewUpdater(pool, store, summaries.Options{Batch: 100})
	var (
		built atomic.Int64
		uwg   sync.WaitGroup
		uerrs = make([]error, workers)
	)
	for w := range workers {
		uwg.Go(func() {
			for ctx.Err() == nil {
				res, err := updater.UpdateDirty(ctx, 500)
				if err != nil {
					uerrs[w] = err
					return
				}
				if res.Patients == 0 {
					return
				}
				if n := built.Add(int64(res.Patients)); n%2000 < int64(res.Patients) {
					logf(log, "  %d summaries (%.0f/s)", n, float64(n)/time.Since(tu).Seconds())
				}
			}
		})
	}
	uwg.Wait()
	if err := errors.Join(uerrs...); err != nil {
		return err
	}
	// What the service's updater would otherwise publish (with the PDF)
	// counts as published: the FHIR resources come next.
	var sums int
	if err := pool.QueryRow(ctx, `WITH u AS (UPDATE patient_summaries SET published_key = figures_key RETURNING 1)
		SELECT count(*) FROM u`).Scan(&sums); err != nil {
		return err
	}
	d.notes = append(d.notes, fmt.Sprintf("summaries: %d built by summaries.Updater in %s", sums, time.Since(tu).Round(time.Second)))

	rec, err := records.New(pool, records.Options{Base: fhirBase})
	if err != nil {
		return err
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return err
	}
	now := time.Now().In(rome)
	last := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, rome).AddDate(0, 0, -1)
	period := agp.LocalDays(last.AddDate(0, 0, -13), last, rome)
	logf(log, "publishing the FHIR summaries of %d patients (%s to %s)", len(d.ids), period.Start.Format(time.DateOnly), last.Format(time.DateOnly))
	var (
		next      atomic.Int64
		published atomic.Int64
		wg        sync.WaitGroup
		errs      = make([]error, workers)
	)
	t0 := time.Now()
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(d.ids) || ctx.Err() != nil {
					return
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					r := store.InTx(tx)
					rs, err := r.Readings(ctx, d.ids[i], period.Start, period.End, cgm.Historic)
					if err != nil {
						return err
					}
					rep, err := agp.Compute(rs, agp.Options{Patient: d.publicIDs[i], Location: rome, Zone: "Europe/Rome", Period: &period, AGP: true})
					if err != nil {
						return err
					}
					return rec.PublishSummary(ctx, tx, records.Publication{
						PatientID: d.ids[i],
						Patient:   fhir.PatientInfo{ID: d.publicIDs[i], FiscalCode: fiscalCode(i)},
						Devices:   []fhir.DeviceInfo{{Serial: fmt.Sprintf("LT%08d", i), Model: "FreeStyle Libre 2", Manufacturer: "Abbott"}},
						Report:    rep,
					})
				})
				if err != nil {
					errs[w] = fmt.Errorf("patient %d: %w", i, err)
					return
				}
				if n := published.Add(1); n%2000 == 0 {
					logf(log, "  %d summaries (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM fhir_resources`).Scan(&n); err != nil {
		return err
	}
	d.notes = append(d.notes, fmt.Sprintf("FHIR resources: %d summaries published (%d resources) in %s, without PDF",
		published.Load(), n, time.Since(t0).Round(time.Second)))
	return ctx.Err()
}
