package cgmstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Device is a sensor or reader of a patient.
type Device struct {
	// Serial is the device's serial number (1 to 64 characters).
	Serial string
	// Model names the device, such as "FreeStyle Libre 2"; may be empty.
	Model string
	// ActivatedAt is when the sensor was started; zero when unknown.
	ActivatedAt time.Time
	// Source is the source that first reported the device (set by the
	// store; ignored in a Batch).
	Source Source
	// FirstSeen and LastSeen bound the readings received from the device
	// (set by the store; ignored in a Batch); zero when none.
	FirstSeen time.Time
	LastSeen  time.Time
}

// start returns the beginning of the device's wear window.
func (d Device) start() time.Time {
	if !d.ActivatedAt.IsZero() {
		return d.ActivatedAt
	}
	return d.FirstSeen
}

// Devices returns the devices of a patient, oldest first (by activation, or
// by first reading when the activation time is unknown).
func (s *Store) Devices(ctx context.Context, patientID int64) ([]Device, error) {
	return devices(ctx, s.pool, patientID)
}

func devices(ctx context.Context, q batcher, patientID int64) ([]Device, error) {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)`, patientID)
	batch.Queue(devicesQuery, patientID)
	br := q.SendBatch(ctx, batch)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, fmt.Errorf("cgmstore: devices of patient %d: %w", patientID, translate(err))
	}
	if !exists {
		return nil, fmt.Errorf("cgmstore: devices of patient %d: %w", patientID, ErrNotFound)
	}
	ds, err := collectDevices(br)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: devices of patient %d: %w", patientID, translate(err))
	}
	return ds, nil
}

const devicesQuery = `
	SELECT serial, model, source, activated_at, first_seen, last_seen
	FROM devices WHERE patient_id = $1
	ORDER BY coalesce(activated_at, first_seen) NULLS LAST, serial`

// collectDevices reads the result of devicesQuery.
func collectDevices(br pgx.BatchResults) ([]Device, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	var (
		d                   Device
		src                 int16
		act, first, lastSen *time.Time
		out                 []Device
	)
	_, err = pgx.ForEachRow(rows, []any{&d.Serial, &d.Model, &src, &act, &first, &lastSen}, func() error {
		e := Device{Serial: d.Serial, Model: d.Model, Source: Source(src)}
		if act != nil {
			e.ActivatedAt = act.UTC()
		}
		if first != nil {
			e.FirstSeen = first.UTC()
		}
		if lastSen != nil {
			e.LastSeen = lastSen.UTC()
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// attributor assigns readings to devices by wear window.
type attributor struct {
	ds []Device // with a known start, sorted by start
}

func newAttributor(ds []Device) attributor {
	var a attributor
	for _, d := range ds {
		if !d.start().IsZero() {
			a.ds = append(a.ds, d)
		}
	}
	slices.SortStableFunc(a.ds, func(x, y Device) int { return x.start().Compare(y.start()) })
	return a
}

// maxLookBack bounds how many earlier-started devices are tried for an
// instant that the last-started one does not cover.
const maxLookBack = 64

// device returns the serial of the device worn at t: of the devices whose
// window [start, LastSeen] covers t (a device with no
// reading seen yet covers everything after its start), the one started last; "" when none.
func (a attributor) device(t time.Time) string {
	// Look back from the last device started at or before t; windows
	// overlap only at sensor changes, so the answer is among the last few.
	i, _ := slices.BinarySearchFunc(a.ds, t, func(d Device, t time.Time) int {
		if d.start().After(t) {
			return 1
		}
		return -1
	})
	for j := i - 1; j >= 0 && j >= i-maxLookBack; j-- {
		if d := a.ds[j]; d.LastSeen.IsZero() || !t.After(d.LastSeen) {
			return d.Serial
		}
	}
	return ""
}
