package taccuino

import (
	"context"
	"errors"
	"math"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// LatestJSON is the answer of GET /patients/{id}/glucose/latest.
type LatestJSON struct {
	Patient string `json:"patient"`
	// Reading is the most recent reading of any kind; null when the patient
	// has none.
	Reading *ReadingJSON `json:"reading"`
	// AgeSeconds is how old the reading is, at the time of the answer.
	AgeSeconds *float64 `json:"age_seconds"`
	// Band is the FSE band of the reading: ipoglicemia, normale,
	// iperglicemia, or "" in between (see Bands).
	Band string `json:"band"`
	// At is the time of the answer.
	At time.Time `json:"at"`
}

// latest reads the latest reading of p in tx; nil when there is none.
func (s *Server) latest(ctx context.Context, tx pgx.Tx, p cgmstore.Patient) (*cgm.Reading, error) {
	r, err := s.deps.Store.InTx(tx).Latest(ctx, p.ID)
	if errors.Is(err, cgmstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func latestJSON(p cgmstore.Patient, r *cgm.Reading, now time.Time) LatestJSON {
	out := LatestJSON{Patient: p.PublicID, At: now.UTC()}
	if r != nil {
		rj := readingJSON(*r)
		age := math.Max(0, now.Sub(r.Time).Seconds())
		out.Reading, out.AgeSeconds, out.Band = &rj, &age, bandOf(r.MgDL())
	}
	return out
}

// apiLatest serves the latest reading with its trend arrow and age.
func (s *Server) apiLatest(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	var r *cgm.Reading
	err = s.deps.Access(c, p, consent.ActReadData, "latest glucose", func(ctx context.Context, tx pgx.Tx) error {
		r, err = s.latest(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, latestJSON(p, r, s.deps.Clock()))
}

// report computes the glucometrics of p over per from the readings read in
// tx, exactly as "fsecgm metrics" does for a file, with the parts what asks
// for (Daily, Extended). The period's dates are in the patient's zone
// (patientPeriod). The report names the sources of the readings it read
// (the patient's primary series: cgmstore.Store.Series) and counts those
// of another series it left out.
func (s *Server) report(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, per period, what agp.Options) (agp.Report, error) {
	rs, use, err := s.deps.Store.InTx(tx).Series(ctx, p.ID, per.Start, per.End)
	if err != nil {
		return agp.Report{}, err
	}
	ap := per.Period
	what.Patient, what.Location, what.Zone, what.Period = p.PublicID, per.From.Location(), p.TimeZone, &ap
	what.Sources, what.OtherSeriesReadings = use.Sources.Names(), use.Other
	return agp.Compute(rs, what)
}

// patientPeriod reads the from/to parameters in the patient's zone.
func (s *Server) patientPeriod(c *echo.Context, p cgmstore.Patient, maxDays int) (period, error) {
	loc, err := p.Location()
	if err != nil {
		return period{}, err
	}
	return parsePeriod(c.QueryParam("from"), c.QueryParam("to"), s.deps.Clock(), loc, maxDays)
}

// periodReport resolves the request's patient and period (default the 14
// days ending today) and computes the report of that period in the
// transaction of the access, which the access log names label and the
// period.
func (s *Server) periodReport(c *echo.Context, label string, what agp.Options) (cgmstore.Patient, agp.Report, error) {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return p, agp.Report{}, err
	}
	per, err := s.patientPeriod(c, p, MaxPeriodDays)
	if err != nil {
		return p, agp.Report{}, err
	}
	var rep agp.Report
	err = s.deps.Access(c, p, consent.ActReadData, label+" "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		rep, err = s.report(ctx, tx, p, per, what)
		return err
	})
	return p, rep, err
}

// apiGlucometrics serves the glucometrics of a period: the object "fsecgm
// metrics" prints (agp.Report), for the local dates from..to (default the
// 14 days ending today); with extended=true also the extended metrics, as
// "fsecgm metrics --extended".
func (s *Server) apiGlucometrics(c *echo.Context) error {
	var extended bool
	switch c.QueryParam("extended") {
	case "", "false", "0":
	case "true", "1":
		extended = true
	default:
		return web.Invalid("extended", "extended must be true or false")
	}
	_, rep, err := s.periodReport(c, "glucometrics", agp.Options{Extended: extended})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, rep)
}

// DailyProfilesJSON is the answer of GET /patients/{id}/daily-profiles.
type DailyProfilesJSON struct {
	Patient  string         `json:"patient"`
	TimeZone string         `json:"time_zone"`
	Unit     string         `json:"unit"`
	Period   agp.PeriodInfo `json:"period"`
	Days     []agp.Day      `json:"daily_profiles"`
	Engine   string         `json:"engine"`
}

// apiDailyProfiles serves one profile per local day of the period.
func (s *Server) apiDailyProfiles(c *echo.Context) error {
	p, rep, err := s.periodReport(c, "daily profiles", agp.Options{Daily: true})
	if err != nil {
		return err
	}
	days := rep.Daily
	if days == nil {
		days = []agp.Day{}
	}
	return c.JSON(statusOK, DailyProfilesJSON{Patient: p.PublicID, TimeZone: rep.TimeZone, Unit: rep.Unit,
		Period: rep.Period, Days: days, Engine: rep.Engine})
}

// ReadingsJSON is the answer of GET /patients/{id}/readings.
type ReadingsJSON struct {
	Patient  string        `json:"patient"`
	TimeZone string        `json:"time_zone"`
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Bands    []Band        `json:"bands"`
	Readings []ReadingJSON `json:"readings"`
}

// apiReadings serves the readings of the local dates from..to (default the
// 14 days ending today), all kinds or those of ?kind= (repeatable), with
// the FSE chart bands.
func (s *Server) apiReadings(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	per, err := s.patientPeriod(c, p, MaxReadingsDays)
	if err != nil {
		return err
	}
	var kinds []cgm.Kind
	for _, k := range c.QueryParams()["kind"] {
		kind, err := cgm.ParseKind(k)
		if err != nil {
			return web.Invalid("kind", "kind must be historic, scan, current or strip")
		}
		kinds = append(kinds, kind)
	}
	var rs cgm.Series
	err = s.deps.Access(c, p, consent.ActReadData, "readings "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		rs, err = s.deps.Store.InTx(tx).Readings(ctx, p.ID, per.Start, per.End, kinds...)
		return err
	})
	if err != nil {
		return err
	}
	out := ReadingsJSON{Patient: p.PublicID, TimeZone: p.TimeZone, From: per.Start, To: per.End, Bands: Bands(),
		Readings: make([]ReadingJSON, len(rs))}
	for i, r := range rs {
		out.Readings[i] = readingJSON(r)
	}
	return c.JSON(statusOK, out)
}
