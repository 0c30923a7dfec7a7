package agp

import (
	"encoding/json"
	"time"
)

// Version identifies the engine and its definition set in every figure it
// produces (the FHIR Observations carry it in their method text).
const Version = "fsecgm-agp 1.0 (definitions: Battelino 2019 and 2023 consensus, Bergenstal 2018 GMI, iglu 4.3.0)"

// Report holds every glucometric of one patient over one reporting period.
// Its JSON form is the object printed by "fsecgm metrics" and served by the
// API; numbers are never rounded here (rounding is the job of a display).
// A figure that cannot be computed (no readings, one reading for SD) is null.
type Report struct {
	// Patient is the label the caller gave (a subject id or an opaque id).
	Patient string `json:"patient"`
	// Sources names where the readings came from, as the caller gave them
	// (Options.Sources: in fsecgm the sources of the patient's primary
	// series, e.g. ["librelinkup"]); absent when the caller did not say.
	Sources []string `json:"sources,omitempty"`
	// OtherSeries counts the readings of another series (a second sensor
	// worn at the same time) left out of these figures
	// (Options.OtherSeriesReadings).
	OtherSeries int `json:"other_series_readings,omitempty"`
	// TimeZone is the zone calendar days and times of day are read in: an
	// IANA name such as "Europe/Rome" or a fixed offset such as "-05:00".
	TimeZone string `json:"time_zone"`
	// Unit is the unit the readings were reported and classified in.
	Unit string `json:"unit"`
	// Period is the reporting period.
	Period PeriodInfo `json:"period"`
	// Readings is the number of historic readings in the period.
	Readings int `json:"readings"`
	// IntervalMinutes is the grid step dt0 derived from the readings
	// (0 when there are fewer than two readings).
	IntervalMinutes float64 `json:"interval_minutes"`

	MeanGlucose *Glucose `json:"mean_glucose"`
	// SDMgDL is the sample standard deviation (n−1) in mg/dL.
	SDMgDL *float64 `json:"sd_mg_dl"`
	// CVPercent is 100 · SD / mean.
	CVPercent *float64 `json:"cv_percent"`
	GMI       *GMI     `json:"gmi"`

	TimeInRanges *Ranges `json:"time_in_ranges"`
	Events       Events  `json:"events"`

	// Scans is the number of scan readings in the period.
	Scans int `json:"scans"`
	// DaysWorn is the number of local calendar days in the period with at
	// least one historic reading.
	DaysWorn int `json:"days_worn"`
	// DaysWithData is the number of local calendar days in the period
	// whose captured readings reach SufficientActivePercent (70 %) of the
	// day's expected readings: the days an AGP report counts as days with
	// data (a day with a few readings is not one).
	DaysWithData int `json:"days_with_data"`
	// ActivePercent is the % of expected readings captured (% time CGM active).
	ActivePercent float64 `json:"active_percent"`
	// Sufficient: a period of at least 14 days with at least 70 % captured.
	Sufficient bool `json:"sufficient"`

	// AGP is the ambulatory glucose profile, one slot per 5 minutes (or
	// per grid step, when the step is longer) of the local day; only when
	// asked for.
	AGP []Slot `json:"agp,omitempty"`
	// Daily holds one profile per local calendar day; only when asked for.
	Daily []Day `json:"daily_profiles,omitempty"`

	// GRI is the Glycemia Risk Index of the period with its components and
	// zone (null without readings).
	GRI *GRI `json:"gri"`
	// Extended holds every metric of iglu 4.3.0's all_metrics(); only when
	// asked for.
	Extended *Extended `json:"extended,omitempty"`

	// Engine names the engine version and definition set.
	Engine string `json:"engine"`
}

// PeriodInfo describes the reporting period.
type PeriodInfo struct {
	// Start and End bound the period: [Start, End) when given, or the first
	// and last historic reading when automatic.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Days is the length in days: for an automatic period the span from
	// first to last reading rounded to one decimal (iglu's ndays); for a
	// given period the number of local calendar days it covers.
	Days float64 `json:"days"`
	// Automatic is true when the period was derived from the readings.
	Automatic bool `json:"automatic"`
}

// Glucose is a glucose concentration in both units.
type Glucose struct {
	MgDL  float64 `json:"mg_dl"`
	MmolL float64 `json:"mmol_l"`
}

// GMI is the glucose management indicator in both notations.
type GMI struct {
	Percent float64 `json:"percent"`
	MmolMol float64 `json:"mmol_mol"`
}

// Ranges holds the percentage of readings in each consensus band; the first
// five sum to 100. Tight (70–140 mg/dL) overlaps Target.
type Ranges struct {
	VeryLow  float64 `json:"very_low"`
	Low      float64 `json:"low"`
	Target   float64 `json:"target"`
	High     float64 `json:"high"`
	VeryHigh float64 `json:"very_high"`
	Tight    float64 `json:"tight"`
}

// Events holds the hypo- and hyperglycaemic episodes of each kind.
type Events struct {
	HypoLevel1           Episodes `json:"hypo_level1"`
	HypoLevel2           Episodes `json:"hypo_level2"`
	HypoLevel1Exclusive  Episodes `json:"hypo_level1_exclusive"`
	HypoExtended         Episodes `json:"hypo_extended"`
	HyperLevel1          Episodes `json:"hyper_level1"`
	HyperLevel2          Episodes `json:"hyper_level2"`
	HyperLevel1Exclusive Episodes `json:"hyper_level1_exclusive"`
	HyperExtended        Episodes `json:"hyper_extended"`
}

// Episodes summarises the episodes of one kind.
type Episodes struct {
	// Total is the number of episodes in the period.
	Total int `json:"total"`
	// PerDay is Total divided by the days of data (non-missing grid time).
	PerDay float64 `json:"per_day"`
	// MeanMinutes is the mean duration in minutes (0 without episodes).
	MeanMinutes float64 `json:"mean_minutes"`
	// MeanMgDL is the mean glucose of the episodes' grid points (null without episodes).
	MeanMgDL *float64 `json:"mean_mg_dl"`
	// List holds each episode, for displays.
	List []Episode `json:"-"`
}

// Episode is one hypo- or hyperglycaemic episode on the interpolated grid.
type Episode struct {
	Start    time.Time // first grid point of the episode
	End      time.Time // last grid point of the episode
	Minutes  float64   // grid points · dt0
	MeanMgDL float64   // mean of the episode's grid values
}

// Slot is one time-of-day slot of the AGP profile. The percentiles are null
// when no grid value falls in the slot.
type Slot struct {
	// Minute is the slot's minute of the local day: the end of the slot,
	// as iglu labels its grid columns (5, 10, …, 1440).
	Minute int      `json:"minute"`
	P5     *float64 `json:"p5"`
	P25    *float64 `json:"p25"`
	P50    *float64 `json:"p50"`
	P75    *float64 `json:"p75"`
	P95    *float64 `json:"p95"`
	// Days is the number of grid values in the slot (one per day, two for
	// the repeated hour of a 25-hour day).
	Days int `json:"days"`
}

// Day is the profile of one local calendar day.
type Day struct {
	// Date is the local date, YYYY-MM-DD.
	Date string `json:"date"`
	// Hours is the length of the local day: 24, or 23 and 25 on DST days.
	Hours float64 `json:"hours"`
	// Readings is the number of historic readings of the day.
	Readings int `json:"readings"`
	// MeanMgDL is the mean of the day's historic readings, in mg/dL.
	MeanMgDL *float64 `json:"mean_mg_dl"`
	// TimeInRanges is computed on the day's historic readings.
	TimeInRanges *Ranges `json:"time_in_ranges"`
}

// MarshalJSON writes the period with RFC 3339 instants in the report's zone,
// and null instants when there is no reading to bound an automatic period.
func (p PeriodInfo) MarshalJSON() ([]byte, error) {
	type period struct {
		Start     *time.Time `json:"start"`
		End       *time.Time `json:"end"`
		Days      float64    `json:"days"`
		Automatic bool       `json:"automatic"`
	}
	out := period{Days: p.Days, Automatic: p.Automatic}
	if !p.Start.IsZero() {
		out.Start = &p.Start
	}
	if !p.End.IsZero() {
		out.End = &p.End
	}
	return json.Marshal(out)
}
