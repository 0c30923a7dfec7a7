package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm/cgmstore"
)

// storedMetrics computes the glucometrics of a stored patient ("fsecgm
// metrics --patient"), the parts what asks for (AGP, Daily, Extended): the
// readings of the period given by --from/--to
// (local days in the patient's zone, or --tz), or all of them. The report
// names the patient by public id, never by fiscal code.
func storedMetrics(ctx context.Context, e *env, cf, dbURL, dataDir, tz, from, to string, what agp.Options) (agp.Report, error) {
	pool, done, err := openDatabase(ctx, e, dbURL, dataDir)
	if err != nil {
		return agp.Report{}, err
	}
	defer done()
	store := cgmstore.New(pool, cgmstore.Options{})
	p, err := store.PatientByFiscalCode(ctx, cf)
	switch {
	case errors.Is(err, cgmstore.ErrInvalid):
		return agp.Report{}, usageError(fmt.Errorf("--patient: %w", err))
	case errors.Is(err, cgmstore.ErrNotFound):
		return agp.Report{}, usageError(errors.New("--patient: no stored patient has this fiscal code"))
	case err != nil:
		return agp.Report{}, err
	}
	zone := p.TimeZone
	if tz != "" {
		zone = tz
	}
	loc, label, err := parseZone(zone)
	if err != nil {
		return agp.Report{}, usageError(err)
	}
	period, err := periodFlags(from, to, loc)
	if err != nil {
		return agp.Report{}, usageError(err)
	}
	start, end := time.Unix(0, 0), time.Now().Add(48*time.Hour)
	if period != nil {
		start, end = period.Start, period.End
	}
	rs, err := store.Readings(ctx, p.ID, start, end)
	if err != nil {
		return agp.Report{}, err
	}
	what.Patient, what.Location, what.Zone, what.Period = p.PublicID, loc, label, period
	return agp.Compute(rs, what)
}
