package cgmstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"fsecgm/cgm"
	"fsecgm/internal/pgbin"

	"github.com/jackc/pgx/v5"
)

// eachReadingOf streams the readings of a patient in [from, to) of the
// given kinds to fn, oldest first (see TxReader.EachReading). It reads
// readingsSQL as Readings does, but hands each reading on as it comes: the
// plain rows arrive ordered by instant and kind, and a compact row (a UTC
// day's readings of one kind) arrives at its day's 00:00, before the
// day's plain rows; its readings wait in a buffer, merged in order with the
// plain rows that follow (a reading stored in both forms is given once,
// from its plain row, as Readings does). The buffer holds at most a day's
// compact readings: a read of any length needs memory for a day.
func eachReadingOf(ctx context.Context, q batcher, patientID int64, from, to time.Time, kinds []cgm.Kind, fn func(cgm.Reading) error) error {
	ks, err := kindList(kinds)
	if err != nil {
		return err
	}
	fromUS, toUS := from.UnixMicro(), to.UnixMicro()
	lastDay := from
	if toUS > fromUS {
		lastDay = time.UnixMicro(toUS - 1)
	}
	batch := &pgx.Batch{}
	batch.Queue(patientExistsSQL, patientID)
	batch.Queue(devicesQuery, patientID)
	batch.Queue(readingsSQL, patientID, ks, from, to, dateOf(from), dateOf(lastDay))
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, ErrNotFound)
	}
	ds, err := collectDevices(br)
	if err != nil {
		return fmt.Errorf("cgmstore: readings of patient %d: devices: %w", patientID, translate(err))
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	var fnErr error
	err = streamReadings(rows, newAttributor(ds), fromUS, toUS, func(r cgm.Reading) error {
		fnErr = fn(r)
		return fnErr
	})
	if err != nil {
		if fnErr != nil {
			return fnErr // the caller's own error, as it is
		}
		return fmt.Errorf("cgmstore: readings of patient %d: %w", patientID, translate(err))
	}
	return nil
}

// streamReadings calls fn with each reading of the rows of readingsSQL in
// order (see eachReadingOf), stopping at fn's first error.
func streamReadings(rows pgx.Rows, att attributor, fromUS, toUS int64, fn func(cgm.Reading) error) error {
	defer rows.Close()
	var (
		pending     []storedReading // compact readings not given yet, in order
		t           time.Time
		value, meta int16
		data        []byte
		plainUS     int64    = math.MinInt64 // the last plain reading given
		plainKind   cgm.Kind                 // and its kind
	)
	// give hands on the pending compact readings before (us, kind), and
	// drops the one with that key (its plain row wins).
	give := func(us int64, kind cgm.Kind, all bool) error {
		i := 0
		for ; i < len(pending); i++ {
			p := pending[i]
			pk := cgm.Kind(p.meta & metaKindMask)
			if !all && (p.us > us || p.us == us && pk >= kind) {
				if p.us == us && pk == kind {
					i++ // stored in both forms: the plain row is given
				}
				break
			}
			if p.us == plainUS && pk == plainKind {
				continue // stored in both forms, given from its plain row
			}
			r := decode(time.UnixMicro(p.us), p.value, p.meta)
			r.Device = att.device(r.Time)
			if err := fn(r); err != nil {
				return err
			}
		}
		pending = pending[:copy(pending, pending[i:])]
		return nil
	}
	fast := false
	var row pgbin.Row
	for n, first := 1, true; rows.Next(); n, first = n+1, false {
		if first {
			fast = pgbin.Is(rows.FieldDescriptions(), readingColumns...)
		}
		if fast {
			row.Reset(rows.RawValues())
			t, value, meta = row.Time(0), row.Int2(1), row.Int2(2)
			data = row.Bytes(3)
			if err := row.Err(); err != nil {
				return fmt.Errorf("reading row %d: %w", n, err)
			}
		} else if err := rows.Scan(&t, &value, &meta, &data); err != nil {
			return err
		}
		if data != nil { // a compact row: (day, kind, -1, data)
			// Every plain row before its day has been given; give the
			// compact readings of earlier days too.
			if err := give(t.UnixMicro(), 0, false); err != nil {
				return err
			}
			k := len(pending)
			var err error
			if pending, err = decodeCompact(pending, t.UTC(), value, data); err != nil {
				return err
			}
			kept := pending[:k]
			for _, r := range pending[k:] {
				if r.us >= fromUS && r.us < toUS {
					kept = append(kept, r)
				}
			}
			pending = kept
			if !slices.IsSortedFunc(pending, compactOrder) {
				slices.SortFunc(pending, compactOrder)
			}
			continue
		}
		r := decode(t, value, meta)
		if err := give(r.Time.UnixMicro(), r.Kind, false); err != nil {
			return err
		}
		r.Device = att.device(r.Time)
		plainUS, plainKind = r.Time.UnixMicro(), r.Kind
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return give(0, 0, true)
}
