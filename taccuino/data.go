package taccuino

import (
	"fmt"
	"net/http"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/web"
)

// The glucose bands the FSE's taccuino shows on its charts, in mg/dL: a
// reading is ipoglicemia below 70, normale from 70 to below 140 and
// iperglicemia above 180 (source: the fsecgm "Taccuino" issue, which
// states the FSE's bands). The pages also draw and name the band between,
// 140 to 180 ("sopra il normale"), so that every value has a band on the
// chart and on the latest value's badge; the API's Bands keep the FSE's
// three. The time in ranges bar uses the five consensus ranges of package
// agp instead.
const (
	BandHypoBelowMgDL   = 70.0
	BandNormalBelowMgDL = 140.0
	BandHyperAboveMgDL  = 180.0
)

// Band is one glucose band of the chart.
type Band struct {
	// Name is ipoglicemia, normale or iperglicemia.
	Name string `json:"name"`
	// From and To bound the band in mg/dL: [From, To) for ipoglicemia and
	// normale, (From, ∞) for iperglicemia; null is unbounded.
	From *float64 `json:"from_mg_dl"`
	To   *float64 `json:"to_mg_dl"`
}

// Bands returns the FSE chart bands.
func Bands() []Band {
	f := func(v float64) *float64 { return &v }
	return []Band{
		{Name: "ipoglicemia", To: f(BandHypoBelowMgDL)},
		{Name: "normale", From: f(BandHypoBelowMgDL), To: f(BandNormalBelowMgDL)},
		{Name: "iperglicemia", From: f(BandHyperAboveMgDL)},
	}
}

// bandOf returns the FSE band of a value in mg/dL, "" between normale and
// iperglicemia.
func bandOf(mgdl float64) string {
	switch {
	case mgdl < BandHypoBelowMgDL:
		return "ipoglicemia"
	case mgdl < BandNormalBelowMgDL:
		return "normale"
	case mgdl > BandHyperAboveMgDL:
		return "iperglicemia"
	}
	return ""
}

// ReadingJSON is a reading in the API: the value as the device reported it,
// unrounded, in its unit, and the same in mg/dL.
type ReadingJSON struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	Unit  string    `json:"unit"`
	MgDL  float64   `json:"mg_dl"`
	Kind  cgm.Kind  `json:"kind"`
	// Flags holds "low" or "high" for LO/HI readings stored at the limit.
	Flags []string `json:"flags,omitempty"`
	// Trend is the arrow given with a current or scan reading.
	Trend  *TrendJSON `json:"trend,omitempty"`
	Device string     `json:"device,omitempty"`
}

// TrendJSON is a trend arrow: the LibreLinkUp code (1 falling fast … 5
// rising fast), its arrow and its name.
type TrendJSON struct {
	Code  int    `json:"code"`
	Arrow string `json:"arrow"`
	Name  string `json:"name"`
}

func readingJSON(r cgm.Reading) ReadingJSON {
	out := ReadingJSON{Time: r.Time.UTC(), Value: r.Value, Unit: r.Unit.String(), MgDL: r.MgDL(), Kind: r.Kind, Device: r.Device}
	if r.Flags&cgm.FlagLow != 0 {
		out.Flags = append(out.Flags, "low")
	}
	if r.Flags&cgm.FlagHigh != 0 {
		out.Flags = append(out.Flags, "high")
	}
	if r.Trend >= cgm.TrendFallingFast && r.Trend <= cgm.TrendRisingFast {
		out.Trend = &TrendJSON{Code: int(r.Trend), Arrow: r.Trend.Arrow(), Name: trendName(r.Trend)}
	}
	return out
}

// Period limits.
const (
	// DefaultPeriodDays is the default reporting period: the 14 local days
	// ending today (the consensus minimum for glucometrics).
	DefaultPeriodDays = 14
	// MaxPeriodDays bounds glucometrics and daily profiles.
	MaxPeriodDays = 366
	// MaxReadingsDays bounds the readings of one request.
	MaxReadingsDays = 93
)

// period is a range of local calendar days of a patient.
type period struct {
	From, To time.Time // local dates (00:00 in loc), both inclusive
	agp.Period
}

// String returns "YYYY-MM-DD..YYYY-MM-DD" (for access-log details).
func (p period) String() string {
	return p.From.Format(time.DateOnly) + ".." + p.To.Format(time.DateOnly)
}

// days returns the number of calendar days of p.
func (p period) days() int {
	n := 0
	for d := p.From; !d.After(p.To); d = d.AddDate(0, 0, 1) {
		n++
	}
	return n
}

// parsePeriod reads the local dates from and to (YYYY-MM-DD, both
// inclusive) in loc; both empty means the DefaultPeriodDays ending on
// today's local date; one alone is anchored on the other. Errors are 422
// naming the parameter.
func parsePeriod(from, to string, now time.Time, loc *time.Location, maxDays int) (period, error) {
	today := now.In(loc)
	var p period
	parse := func(name, s string) (time.Time, error) {
		t, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return time.Time{}, web.Invalid(name, fmt.Sprintf("%s must be a date YYYY-MM-DD", name)).Say("err_date")
		}
		return t, nil
	}
	var err error
	switch {
	case from == "" && to == "":
		p.To = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
		p.From = p.To.AddDate(0, 0, -(DefaultPeriodDays - 1))
	case from == "":
		if p.To, err = parse("to", to); err != nil {
			return p, err
		}
		p.From = p.To.AddDate(0, 0, -(DefaultPeriodDays - 1))
	case to == "":
		if p.From, err = parse("from", from); err != nil {
			return p, err
		}
		p.To = p.From.AddDate(0, 0, DefaultPeriodDays-1)
	default:
		if p.From, err = parse("from", from); err != nil {
			return p, err
		}
		if p.To, err = parse("to", to); err != nil {
			return p, err
		}
	}
	if p.To.Before(p.From) {
		return p, web.Invalid("to", "to must not be before from").Say("err_period_order")
	}
	if p.From.Year() < 2000 || p.To.Year() > today.Year()+1 {
		return p, web.Invalid("from", "the period must lie between the year 2000 and next year").Say("err_period_years")
	}
	if p.days() > maxDays {
		return p, web.Invalid("to", fmt.Sprintf("the period may span at most %d days", maxDays)).Say("err_period_long", maxDays)
	}
	p.Period = agp.LocalDays(p.From, p.To, loc)
	return p, nil
}

// statusOK is the status of successful reads.
const statusOK = http.StatusOK
