package cgmstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
)

// batcher is what both a pool and a transaction offer to the reads.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// TxReader runs the store's reads in a caller's transaction, so that a read
// commits with other work: the HTTP layer reads inside
// consent.Store.Access, in the transaction that writes the access-log
// entry, so that the read and its log entry commit together. Its methods
// are those of Store, with the same results and errors; they only read.
type TxReader struct {
	tx pgx.Tx
}

// InTx returns the reads of the store bound to tx. tx must stay open while
// they are used; it is neither committed nor rolled back by them.
func (s *Store) InTx(tx pgx.Tx) TxReader { return TxReader{tx: tx} }

// Readings is Store.Readings in the transaction.
func (r TxReader) Readings(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) (cgm.Series, error) {
	rs, _, err := readings(ctx, r.tx, patientID, from, to, kinds, false, nil)
	return rs, err
}

// SourcedReadings is Store.SourcedReadings in the transaction.
func (r TxReader) SourcedReadings(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) ([]SourcedReading, error) {
	return sourcedReadings(ctx, r.tx, patientID, from, to, kinds)
}

// Series is Store.Series in the transaction.
func (r TxReader) Series(ctx context.Context, patientID int64, from, to time.Time, kinds ...cgm.Kind) (cgm.Series, SeriesUse, error) {
	return series(ctx, r.tx, patientID, from, to, kinds)
}

// EachReading streams the readings of a patient taken in [from, to) of the
// given kinds (all kinds when none is given) to fn, oldest first, each with
// its device, as Readings returns them, but one at a time as they arrive
// from the database: a read of any length needs memory for one reading
// (an export of years of readings). It stops at fn's first error and
// returns it as it is. The transaction's connection is busy until it
// returns.
func (r TxReader) EachReading(ctx context.Context, patientID int64, from, to time.Time, fn func(cgm.Reading) error, kinds ...cgm.Kind) error {
	return eachReadingOf(ctx, r.tx, patientID, from, to, kinds, fn)
}

// Latest is Store.Latest in the transaction.
func (r TxReader) Latest(ctx context.Context, patientID int64, kinds ...cgm.Kind) (cgm.Reading, error) {
	return latest(ctx, r.tx, patientID, kinds)
}

// Coverage is Store.Coverage in the transaction.
func (r TxReader) Coverage(ctx context.Context, patientID int64) (Coverage, error) {
	return coverage(ctx, r.tx, patientID)
}

// PatientByID is Store.PatientByID in the transaction.
func (r TxReader) PatientByID(ctx context.Context, id int64) (Patient, error) {
	if id <= 0 || id > math.MaxInt32 {
		return Patient{}, fmt.Errorf("cgmstore: patient %d: %w", id, ErrNotFound)
	}
	p, err := scanPatient(r.tx.QueryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id))
	if err != nil {
		return Patient{}, fmt.Errorf("cgmstore: patient %d: %w", id, translate(err))
	}
	return p, nil
}

// Devices is Store.Devices in the transaction.
func (r TxReader) Devices(ctx context.Context, patientID int64) ([]Device, error) {
	return devices(ctx, r.tx, patientID)
}
