package agpdoc

import (
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/taccuino/locale"
)

// fixtureZone is the zone of the fixtures: the period contains the start of
// summer time (Sunday 29 March 2026, a 23-hour day).
const fixtureZone = "Europe/Rome"

// fixtureSeries returns the deterministic readings of the fixture patient
// (glucosim seed 7, FreeStyle Libre 2) from..to: historic points every 15
// minutes and three scans a day (08:00, 13:00, 20:00 local).
func fixtureSeries(t testing.TB, loc *time.Location, from, to time.Time) cgm.Series {
	t.Helper()
	sim := glucosim.New(7, glucosim.Libre2, loc)
	var rs []cgm.Reading
	for _, p := range sim.Historic(from, to) {
		rs = append(rs, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags})
	}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		for _, h := range []int{8, 13, 20} {
			at := time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, loc)
			if p, ok := sim.Current(at); ok {
				rs = append(rs, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Scan, Flags: p.Flags})
			}
		}
	}
	return cgm.NewSeries(rs)
}

// fixtureInput returns the report input of the fixture: 14 days from 20
// March 2026 (with the 23-hour 29 March), the previous 14 days, and one
// laboratory HbA1c.
func fixtureInput(t testing.TB, l locale.Lang, tg Targets) Input {
	t.Helper()
	loc, err := time.LoadLocation(fixtureZone)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 3, 20, 0, 0, 0, 0, loc)
	cur := agp.LocalDays(first, first.AddDate(0, 0, 13), loc)
	prev := agp.LocalDays(first.AddDate(0, 0, -14), first.AddDate(0, 0, -1), loc)
	all := fixtureSeries(t, loc, prev.Start, cur.End)
	r, err := agp.Compute(all, agp.Options{Patient: "fixture", Location: loc, Period: &cur, AGP: true, Daily: true})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := agp.Compute(all, agp.Options{Patient: "fixture", Location: loc, Period: &prev})
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Report: r, Previous: &pr, Readings: all.Between(cur.Start, cur.End), Location: loc,
		Patient: Patient{Name: "Maria Rossi", BirthDate: time.Date(1950, 4, 2, 0, 0, 0, 0, time.UTC), FiscalCode: "RSSMRA50D42D612X"},
		HbA1c:   []LabResult{{At: time.Date(2026, 3, 25, 9, 30, 0, 0, loc), Percent: 7.9}},
		Targets: tg, Lang: l, Generated: time.Date(2026, 4, 3, 9, 0, 0, 0, loc),
	}
}
