package cgmstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// expandRangeSQL deletes and returns the compact rows of a patient's UTC
// days $2 to $3, lowering the coverage's plain_from to them: the caller
// writes them back into readings (expand).
const expandRangeSQL = `
	WITH expanded AS (
		DELETE FROM readings_compact WHERE patient_id = $1 AND day >= $2::date AND day <= $3::date
		RETURNING kind, day, first_at, data
	),
	lowered AS (
		UPDATE reading_coverage c SET plain_from = least(coalesce(c.plain_from, c.first_at), e.first_at)
		FROM (SELECT kind, min(first_at) AS first_at FROM expanded GROUP BY kind) e
		WHERE c.patient_id = $1 AND c.kind = e.kind
	)
	SELECT kind, day, data FROM expanded`

// Removed is what RemoveSourceReadings did.
type Removed struct {
	// Deleted counts the readings deleted: those src delivered first.
	Deleted int64
	// Restored counts the readings that src had revised and that get back
	// the value another source had delivered before (reading_revisions).
	Restored int64
	// HandedOver counts the readings src delivered first that another
	// source delivered again (provenance.go): they stay, as that source's.
	HandedOver int64
}

// RemoveSourceReadings takes out of a patient's record, in tx, what source
// src stored with instants in [from, to]: a reading src delivered is
// deleted, a reading src revised gets back the value it had before src's
// first revision (the revision history keeps both). It brings the
// patient's coverage up to date and marks the patient's summaries for
// recomputation from from, under the patient's ingestion lock. It serves a
// patient disconnecting a sensor without keeping its readings, and the
// operator removing the readings that reached a record from someone else's
// sensor.
func (s *Store) RemoveSourceReadings(ctx context.Context, tx pgx.Tx, patientID int64, src Source, from, to time.Time) (Removed, error) {
	if !src.Valid() {
		return Removed{}, fmt.Errorf("cgmstore: remove readings: %w: source %d", ErrInvalid, src)
	}
	const (
		// The earliest revision by src of each reading whose value came
		// from another source: the value to restore, when the reading
		// still holds a value of src.
		restore = `
			UPDATE readings r SET value = v.old_value, meta = v.old_meta
			FROM (
				SELECT DISTINCT ON (kind, measured_at) kind, measured_at, old_value, old_meta
				FROM reading_revisions
				WHERE patient_id = $1 AND source = $2 AND measured_at BETWEEN $3 AND $4 AND (old_meta & 56) <> $5
				ORDER BY kind, measured_at, id
			) v
			WHERE r.patient_id = $1 AND (r.meta & 7) = v.kind AND r.measured_at = v.measured_at
				AND r.measured_at BETWEEN $3 AND $4 AND (r.meta & 56) = $5`
		del = `DELETE FROM readings WHERE patient_id = $1 AND (meta & 56) = $2 AND measured_at BETWEEN $3 AND $4`
		// The coverage from both forms (the compact rows carry their
		// first, last and count); plain_from, a lower bound, stays.
		recount = `
			WITH agg AS (
				SELECT kind::smallint AS kind, min(first_at) AS first_at, max(last_at) AS last_at, sum(n)::bigint AS n
				FROM (
					SELECT meta & 7 AS kind, min(measured_at) AS first_at, max(measured_at) AS last_at, count(*) AS n
					FROM readings WHERE patient_id = $1 GROUP BY 1
					UNION ALL
					SELECT kind, min(first_at), max(last_at), sum(n)
					FROM readings_compact WHERE patient_id = $1 GROUP BY 1
				) u
				GROUP BY 1
			),
			gone AS (DELETE FROM reading_coverage c WHERE c.patient_id = $1 AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.kind = c.kind))
			INSERT INTO reading_coverage AS c (patient_id, kind, first_at, last_at, readings, plain_from)
			SELECT $1, kind, first_at, last_at, n, first_at FROM agg
			ON CONFLICT (patient_id, kind) DO UPDATE SET first_at = excluded.first_at, last_at = excluded.last_at,
				readings = excluded.readings`
	)
	var out Removed
	srcBits := sourceCode(src) << metaSourceShift
	if _, err := tx.Exec(ctx, lockPatientSQL, int32(patientID)); err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: %w", translate(err))
	}
	// The compact days of the window go back into readings first.
	rows, _ := tx.Query(ctx, expandRangeSQL, int32(patientID), dateOf(from), dateOf(to))
	expanded, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (compactRow, error) {
		var c compactRow
		var day pgtype.Date
		err := row.Scan(&c.kind, &day, &c.data)
		c.day = day.Time
		return c, err
	})
	if err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: %w", translate(err))
	}
	if len(expanded) > 0 {
		if err := expand(ctx, tx, int32(patientID), expanded); err != nil {
			return out, fmt.Errorf("cgmstore: remove readings: %w", translate(err))
		}
	}
	handed, err := forgetSource(ctx, tx, int32(patientID), src, from, to)
	if err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: %w", translate(err))
	}
	out.HandedOver = handed
	tag, err := tx.Exec(ctx, restore, int32(patientID), int16(src), from, to, srcBits)
	if err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: restore: %w", translate(err))
	}
	out.Restored = tag.RowsAffected()
	if tag, err = tx.Exec(ctx, del, int32(patientID), srcBits, from, to); err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: %w", translate(err))
	}
	out.Deleted = tag.RowsAffected()
	if out.Deleted+out.Restored+out.HandedOver == 0 {
		return out, nil
	}
	if _, err := tx.Exec(ctx, recount, int32(patientID)); err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: coverage: %w", translate(err))
	}
	if _, err := tx.Exec(ctx, upsertDirtySQL, []int32{int32(patientID)}, []time.Time{from.UTC()}); err != nil {
		return out, fmt.Errorf("cgmstore: remove readings: dirty mark: %w", translate(err))
	}
	return out, nil
}
