package summaries

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/records"

	"github.com/jackc/pgx/v5"
)

// The daily summaries of the patients' own devices (table vital_days,
// migration 00090): one row per patient and local day with measurements,
// the day's vitals.Day. Every transaction that changes a patient's
// measurements (cgmstore.IngestMeasurements) or their ranking of sources
// (cgmstore.SetVitalRanking) marks the patient in vital_days_dirty with
// the earliest instant changed; UpdateVitals claims the marks
// (cgmstore.ClaimVitalDirty, FOR UPDATE SKIP LOCKED: any number of
// replicas), recomputes the days from the day
// before that instant on (a night that ends after midnight belongs to the
// day it ends, so a new measurement can move a night from the day before),
// stores the days that changed and publishes them to the record
// (Options.VitalsPublisher) in the same transaction.

// VitalsPublisher stores a patient's changed daily device summaries in the
// record inside the caller's transaction: records.Store.PublishVitals.
type VitalsPublisher interface {
	PublishVitals(ctx context.Context, tx pgx.Tx, p records.VitalsPublication) error
}

// VitalsResult counts what UpdateVitals did.
type VitalsResult struct {
	// Patients is the number of marks consumed; Days the day rows
	// written or changed; Published the patients whose changed days were
	// handed to the publisher.
	Patients, Days, Published int
}

// UpdateVitals consumes up to limit marks of vital_days_dirty, one
// patient per transaction, and returns what it did.
func (u *Updater) UpdateVitals(ctx context.Context, limit int) (VitalsResult, error) {
	var res VitalsResult
	for res.Patients < limit {
		done, days, published, err := u.vitalsOne(ctx)
		if err != nil {
			return res, err
		}
		if !done {
			break
		}
		res.Patients++
		res.Days += days
		if published {
			res.Published++
		}
	}
	return res, nil
}

// vitalsOne claims one mark and recomputes its patient's days.
func (u *Updater) vitalsOne(ctx context.Context) (done bool, days int, published bool, err error) {
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		marks, err := u.store.ClaimVitalDirty(ctx, tx, 1)
		if err != nil {
			return err
		}
		if len(marks) == 0 {
			return nil
		}
		mark := marks[0]
		id, since := mark.Patient, mark.Since
		done = true
		p, err := u.store.PatientByID(ctx, id)
		if err != nil {
			return fmt.Errorf("patient %d: %w", id, err)
		}
		loc, err := zoneOf(p.TimeZone)
		if err != nil {
			return fmt.Errorf("patient %d: %w", id, err)
		}
		reader := u.store.InTx(tx)
		srcs, err := reader.VitalSources(ctx, id)
		if err != nil {
			return fmt.Errorf("patient %d: %w", id, err)
		}
		now := u.o.Now()
		from := localMidnight(since, loc).AddDate(0, 0, -1)
		if today := localMidnight(now, loc); from.After(today) {
			from = today
		}
		ms, err := reader.Measurements(ctx, id, from.AddDate(0, 0, -1), now.Add(48*time.Hour))
		if err != nil {
			return fmt.Errorf("patient %d: %w", id, err)
		}
		fresh := vitals.Daily(ms, vitals.Options{Location: loc, Ranking: srcs.Ranking()})
		first := civil(from).Format(time.DateOnly)
		// The stored days from `from` on, to tell what changed.
		rows, _ := tx.Query(ctx, `SELECT day, summary::text, heart_rate_samples FROM vital_days WHERE patient_id = $1 AND day >= $2`, id, civil(from))
		type stored struct {
			summary string
			n       int
		}
		old := map[string]stored{}
		var day time.Time
		var summary string
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&day, &summary, &n}, func() error {
			old[day.Format(time.DateOnly)] = stored{summary, n}
			return nil
		}); err != nil {
			return fmt.Errorf("patient %d: day rows: %w", id, err)
		}
		var changed []vitals.Day
		var keep []string
		b := &pgx.Batch{}
		for _, d := range fresh {
			if d.Date < first {
				continue
			}
			keep = append(keep, d.Date)
			js, err := json.Marshal(d)
			if err != nil {
				return err
			}
			// jsonb normalises the text: compare through it.
			var norm string
			if err := tx.QueryRow(ctx, `SELECT $1::jsonb::text`, string(js)).Scan(&norm); err != nil {
				return err
			}
			if o, ok := old[d.Date]; ok && o.summary == norm && o.n == d.HeartRateSamples {
				continue
			}
			changed = append(changed, d)
			b.Queue(`INSERT INTO vital_days (patient_id, day, summary, heart_rate_samples, updated_at) VALUES ($1, $2, $3, $4, now())
				ON CONFLICT (patient_id, day) DO UPDATE SET summary = excluded.summary,
					heart_rate_samples = excluded.heart_rate_samples, updated_at = now()`, id, d.Date, string(js), d.HeartRateSamples)
		}
		b.Queue(`DELETE FROM vital_days WHERE patient_id = $1 AND day >= $2 AND NOT (day::text = ANY($3::text[]))`, id, civil(from), keep)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("patient %d: write day rows: %w", id, err)
		}
		if err := u.store.ConsumeVitalDirty(ctx, tx, marks); err != nil {
			return err
		}
		days = len(changed)
		if u.o.VitalsPublisher == nil || len(changed) == 0 {
			return nil
		}
		// A publication that fails (a record rule, a mapping error) must
		// not hold back the days: it rolls back to a savepoint and is
		// logged; the next change publishes again.
		perr := pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
			return u.o.VitalsPublisher.PublishVitals(ctx, tx, records.VitalsPublication{PatientID: id, Patient: fhirPatient(p),
				Days: changed, TimeZone: p.TimeZone, Issued: now})
		})
		if perr != nil {
			if ctx.Err() != nil {
				return perr
			}
			u.log.Warn("summaries: device measures not published", slog.Int64("patient_id", id), slog.String("err", perr.Error()))
			return nil
		}
		published = true
		return nil
	})
	if err != nil {
		return false, 0, false, fmt.Errorf("summaries: vitals: %w", err)
	}
	return done, days, published, nil
}

// VitalDays returns a patient's daily device summaries of the local days
// from to to (inclusive, their dates), only the days with data, oldest
// first, read through q (a transaction that logs the access, or a pool).
func VitalDays(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, patientID int64, from, to time.Time) ([]vitals.Day, error) {
	rows, err := q.Query(ctx, `SELECT summary::text, heart_rate_samples FROM vital_days
		WHERE patient_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day`, patientID, civil(from), civil(to))
	if err != nil {
		return nil, fmt.Errorf("summaries: vital days of patient %d: %w", patientID, err)
	}
	var out []vitals.Day
	var summary string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&summary, &n}, func() error {
		var d vitals.Day
		if err := json.Unmarshal([]byte(summary), &d); err != nil {
			return err
		}
		d.HeartRateSamples = n
		if d.BloodPressure == nil {
			d.BloodPressure = []vitals.Pressure{}
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("summaries: vital days of patient %d: %w", patientID, err)
	}
	return out, nil
}
