package agpdoc

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/locale"
)

// Targets selects the consensus targets a report shows.
type Targets string

// The target sets by population of Battelino et al., Diabetes Care
// 2019;42:1593–1603.
const (
	// TargetsStandard: type 1 and type 2 diabetes, adults: TIR > 70 %,
	// TBR < 4 % (< 1 % below 54 mg/dL), TAR < 25 % (< 5 % above 250 mg/dL).
	TargetsStandard Targets = "standard"
	// TargetsOlder: older or high-risk people: TIR > 50 %, TBR < 1 %,
	// TAR < 50 % (< 10 % above 250 mg/dL), no separate level 2 TBR target.
	TargetsOlder Targets = "older"
)

// ParseTargets reads a target set name: "standard" (or "") or "older".
func ParseTargets(s string) (Targets, error) {
	switch s {
	case "", string(TargetsStandard):
		return TargetsStandard, nil
	case string(TargetsOlder):
		return TargetsOlder, nil
	}
	return "", fmt.Errorf("agpdoc: targets %q: want standard or older", s)
}

// goals are the percentage targets of one target set; a negative value
// means no target.
type goals struct {
	tir, below, veryLow, above, veryHigh float64
}

func (t Targets) goals() goals {
	if t == TargetsOlder {
		return goals{tir: 50, below: 1, veryLow: -1, above: 50, veryHigh: 10}
	}
	return goals{tir: 70, below: 4, veryLow: 1, above: 25, veryHigh: 5}
}

// Consensus targets of the statistics (ADA Standards of Care Table 6.2,
// "Standardized CGM metrics for clinical care", adapted from Battelino et
// al. 2019). Only the consensus's targets are shown as targets (Battelino et
// al., Diabetes Care 2019;42:1593, Table 2 and "CGM metrics"): the times in
// ranges, CV ≤ 36 % and ≥ 70 % of the data. Mean glucose and GMI have no
// consensus target (the commercial AGP's "< 154 mg/dL" and "< 7 %" are the
// report's own, and a GMI goal is individual): the page shows them without
// one.
const (
	// GoalCV: glucose variability, CV ≤ 36 % (ADA Table 6.2; Battelino 2019).
	GoalCV = 36.0
	// GoalActive: ≥ 70 % of the expected readings (ADA Table 6.2, "recommend
	// 70% of data from 14 days"; Battelino 2019).
	GoalActive = 70.0
	// DiscordancePoints is the difference between laboratory HbA1c and
	// GMI, in percentage points, from which the two are flagged as
	// discordant.
	DiscordancePoints = 0.5
)

// sufficientActive is the share of possible readings, in percent, below
// which a period's figures are not compared (Battelino et al. 2019).
const sufficientActive = 70.0

// Discordant reports whether a laboratory HbA1c and the GMI of the same
// period differ by DiscordancePoints (0.5 percentage points) or more. GMI
// estimates HbA1c from mean CGM glucose (Bergenstal et al., Diabetes Care
// 2018;41:2275–2280, which found the two differing by ≥ 0.5 points in
// about half of the people studied); a difference that large points
// clinicians to sensor accuracy or to conditions that change glycated
// haemoglobin (anaemia, haemoglobinopathies, kidney disease). Users ask
// for it: nightscout/cgm-remote-monitor issue #8370.
func Discordant(hba1cPercent, gmiPercent float64) bool {
	return math.Abs(hba1cPercent-gmiPercent) >= DiscordancePoints
}

// LabResult is a laboratory HbA1c result (LOINC 4548-4).
type LabResult struct {
	// At is when the sample was taken (Observation.effective).
	At time.Time
	// Percent is the result in NGSP/DCCT percent.
	Percent float64
}

// Patient identifies the patient on the page. All fields are optional.
type Patient struct {
	// Name is the full name.
	Name string
	// BirthDate is the date of birth (zero when unknown).
	BirthDate time.Time
	// FiscalCode is the codice fiscale: printed on the page, which is a
	// clinical document; never put in URLs or logs.
	FiscalCode string
	// Label names the patient when nothing else does (the subject of an
	// input file).
	Label string
}

// Input is what a report is made of.
type Input struct {
	// Report is the engine's report of the period, computed with
	// agp.Options AGP and Daily over a given period (agp.LocalDays).
	Report agp.Report
	// Previous is the engine's report of the period of equal length just
	// before, or nil.
	Previous *agp.Report
	// Readings are the readings of the period (the daily profiles draw
	// the historic ones).
	Readings cgm.Series
	// Location is the patient's time zone (the report's TimeZone when nil).
	Location *time.Location
	// Patient identifies the patient.
	Patient Patient
	// HbA1c are the laboratory HbA1c results taken in the period.
	HbA1c []LabResult
	// Targets selects the target set (TargetsStandard when empty).
	Targets Targets
	// Lang is the language (Italian when empty).
	Lang locale.Lang
	// Generated is when the report was made (shown; nothing when zero).
	Generated time.Time
	// Clinical is what the clinician recorded: diabetes type, therapy
	// and a note (nil: nothing recorded).
	Clinical *Clinical
	// HTMLURL is the absolute address of the report's HTML page, the
	// accessible twin the PDF links to ("" for none).
	HTMLURL string
	// Devices summarises the measurements of the patient's own devices
	// over the period's days (vitals.Summarize of the daily summaries);
	// nil, or a period without steps and sleep, adds no line.
	Devices *vitals.Period
}

// Clinical is what the clinician records about the patient for the
// report: the diabetes type and the therapy, as codes (DiabetesTypes,
// Therapies; "" when not given), and a free note.
type Clinical struct {
	DiabetesType string
	Therapy      string
	Note         string
}

// DiabetesTypes are the codes of Clinical.DiabetesType.
var DiabetesTypes = []string{"type1", "type2", "gestational", "other"}

// Therapies are the codes of Clinical.Therapy: multiple daily injections,
// insulin pump (CSII), automated insulin delivery, basal insulin only,
// non-insulin agents, diet and exercise.
var Therapies = []string{"mdi", "csii", "aid", "basal", "noninsulin", "lifestyle"}

// MaxNote bounds the clinician's note, in characters.
const MaxNote = 500

// Page is a report as a person reads it: every figure already rounded and
// written by package locale. Build makes it; HTML and PDF draw it.
type Page struct {
	Lang     locale.Lang
	Title    string
	Subtitle string
	Patient  []Field
	// Clinical are the clinician's lines: diabetes type, therapy, note.
	Clinical []Field
	// Sources says which sources the glucose came from (agp.Report.Sources)
	// and how many readings of a second sensor were left out.
	Sources string
	// Devices is the line about the patient's own devices: mean daily
	// steps and mean sleep in the period ("" when neither is present).
	Devices     string
	PeriodLabel string
	Period      string
	Generated   string
	TargetsName string
	Targets     Targets
	// Warning is set when the data are insufficient.
	WarningTitle string
	Warning      string
	NoData       bool

	Stats   []Figure
	TIR     []Band
	TIRNote string

	// GRI is the Glycemia Risk Index (nil without readings); gri.go.
	GRI *GRIView

	Events     []EventRow
	EventsNote string

	HbA1c     []LabRow
	HbA1cNote string

	Compare     []CompareRow
	ComparePrev string // the previous period's dates
	CompareNote string // set when there is no previous period with data

	Days      []DayView
	DailyNote string

	Footer string
	// Twin is the text pointing to the accessible HTML page, TwinURL its
	// address (PDF only).
	Twin, TwinURL string

	generatedAt time.Time

	// Chart inputs.
	agp   []agp.Slot
	bands [5]float64 // very low, low, target, high, very high (%)
	// bandLabels are the percentages written beside the bar, very low first.
	bandLabels [5]string
	labels     map[string]string
}

// Field is a labelled line of the header.
type Field struct{ Label, Value string }

// Figure is one line of the statistics: Value (data-fig Key) and an
// optional second value (Key2), the goal and whether it is met.
type Figure struct {
	Key, Label, Value, Unit string
	Key2, Value2, Unit2     string
	Goal                    string
	// Met is 1 when the goal is met, -1 when not, 0 without a goal.
	Met int
}

// Band is one of the five consensus ranges (or a combined line).
type Band struct {
	Key, Label, Range string
	Value, Time       string // % and time per day
	Goal              string
	Met               int
	Color             string // fill of the bar segment (#rrggbb); empty for combined lines
	Combined          bool
}

// EventRow is one kind of episode.
type EventRow struct {
	Key, Label             string
	Total, PerDay, Minutes string
}

// LabRow is one laboratory HbA1c beside the GMI.
type LabRow struct {
	Date, Value, GMI, Diff string
	Discordant             bool
	Note                   string
}

// CompareRow is one figure of both periods.
type CompareRow struct {
	Key, Label, Current, Previous, Change string
}

// DayView is one daily profile.
type DayView struct {
	Date     string // YYYY-MM-DD
	Label    string // "lun 30/03"
	Hours    float64
	HoursTag string // "23 h" on DST days, else ""
	Readings int
	// Desc says the day in words, for those who do not see the chart.
	Desc  string
	trace [][]point // (hours since local midnight, mg/dL), split at gaps
	ticks []float64 // hours since local midnight of the local 06:00, 12:00, 18:00
}

// point is a chart point in data units.
type point struct{ x, y float64 }

// Band colours (our own palette).
const (
	colorVeryHigh = "#d9731f"
	colorHigh     = "#f0b429"
	colorTarget   = "#3c9d4e"
	colorLow      = "#e0514a"
	colorVeryLow  = "#8c1d1d"
)

// maxGap is the longest interval between two historic readings that a
// daily profile joins with a line (the engine's interpolation limit).
const maxGap = 45 * time.Minute

// offsetRE is a fixed UTC offset as the engine writes it ("-05:00").
var offsetRE = regexp.MustCompile(`^([+-])([0-9]{2}):([0-9]{2})$`)

// zone returns the zone of the input.
func (in Input) zone() (*time.Location, error) {
	if in.Location != nil {
		return in.Location, nil
	}
	tz := in.Report.TimeZone
	if m := offsetRE.FindStringSubmatch(tz); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		off := h*3600 + mi*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(tz, off), nil
	}
	loc, err := cgm.Zone(tz)
	if err != nil || tz == "" {
		return nil, fmt.Errorf("agpdoc: time zone %q of the report: want an IANA name or an offset", tz)
	}
	return loc, nil
}

// Build makes the page of in.
func Build(in Input) (*Page, error) {
	r := in.Report
	if r.Period.Start.IsZero() || r.Period.End.IsZero() {
		return nil, errors.New("agpdoc: the report has no period: compute it over a given period (agp.LocalDays)")
	}
	// The engine leaves the AGP profile out when the readings give no
	// sampling interval (a single reading): that is too little data, not
	// a caller's mistake, and the page says so like an empty period.
	if r.Readings > 0 && (r.Daily == nil || r.AGP == nil && r.IntervalMinutes > 0) {
		return nil, errors.New("agpdoc: the report lacks the AGP profile or the daily profiles (agp.Options AGP and Daily)")
	}
	loc, err := in.zone()
	if err != nil {
		return nil, err
	}
	l := in.Lang
	if l != locale.EN && l != locale.Pseudo {
		l = locale.IT
	}
	tg := in.Targets
	if tg != TargetsOlder {
		tg = TargetsStandard
	}
	p := &Page{Lang: l, Title: t(l, "title"), Subtitle: t(l, "subtitle"), Targets: tg, agp: r.AGP, generatedAt: in.Generated}
	p.PeriodLabel = t(l, "period")
	p.Period = periodText(l, r.Period, loc)
	if !in.Generated.IsZero() {
		p.Generated = t(l, "generated") + " " + dateText(l, in.Generated.In(loc)) + " " + in.Generated.In(loc).Format("15:04")
	}
	p.TargetsName = t(l, "targets") + ": " + t(l, "targets_std")
	if tg == TargetsOlder {
		p.TargetsName = t(l, "targets") + ": " + t(l, "targets_older")
	}
	p.Patient = patientFields(l, in.Patient)
	p.Clinical = clinicalFields(l, in.Clinical)
	p.Devices = devicesLine(l, in.Devices)
	p.Sources = l.SourcesLine(r.Sources, r.OtherSeries)
	p.NoData = r.Readings == 0
	if !r.Sufficient {
		p.WarningTitle = t(l, "insufficient")
		p.Warning = fmt.Sprintf(t(l, "insufficient_d"), l.Number(r.Period.Days, 0), l.Percent(r.ActivePercent, 1))
	}
	p.Stats = stats(l, r, tg)
	p.GRI = griView(l, r, in.Previous)
	p.Stats = withGRI(p.Stats, griFigure(l, p.GRI))
	p.TIR, p.bands = ranges(l, r, tg)
	if r.TimeInRanges != nil {
		for i, v := range p.bands {
			p.bandLabels[i] = l.Percent(v, 1)
		}
	}
	p.TIRNote = t(l, "tir_note")
	p.Events = events(l, r)
	p.EventsNote = t(l, "events_note")
	p.HbA1c, p.HbA1cNote = labRows(l, r, in.HbA1c, loc)
	p.Compare, p.ComparePrev, p.CompareNote = compare(l, r, in.Previous, loc)
	p.Days = days(l, r, in.Readings, loc)
	p.DailyNote = t(l, "daily_note")
	engine, _, _ := strings.Cut(r.Engine, " (")
	p.Footer = l.F("agp_footer", engine)
	if in.HTMLURL != "" {
		p.Twin, p.TwinURL = t(l, "twin"), in.HTMLURL
	}
	p.labels = map[string]string{}
	for _, k := range []string{"median", "p25_75", "p5_95", "target_range", "no_data", "no_day_data", "hours"} {
		p.labels[k] = t(l, k)
	}
	return p, nil
}

// devicesLine is the report's line about the patient's own devices: the
// mean daily steps over the days that have steps and the mean sleep over
// the nights that have sleep, each with its count of days; "" when the
// period has neither.
func devicesLine(l locale.Lang, d *vitals.Period) string {
	switch {
	case d == nil:
		return ""
	case d.StepsDays > 0 && d.SleepDays > 0:
		return l.F("vit_agp_line", l.Number(d.MeanSteps, 0), d.StepsDays, l.Duration(d.MeanSleepMinutes), d.SleepDays)
	case d.StepsDays > 0:
		return l.F("vit_agp_steps", l.Number(d.MeanSteps, 0), d.StepsDays)
	case d.SleepDays > 0:
		return l.F("vit_agp_sleep", l.Duration(d.MeanSleepMinutes), d.SleepDays)
	}
	return ""
}

// dateText writes a local date: 02/01/2006 in Italian, 2 Jan 2006 in English.
func dateText(l locale.Lang, d time.Time) string {
	if l == locale.EN {
		return d.Format("2 Jan 2006")
	}
	return d.Format("02/01/2006")
}

// lastDay returns the local date of the last day of a period.
func lastDay(pi agp.PeriodInfo, loc *time.Location) time.Time {
	end := pi.End.In(loc)
	if !pi.Automatic {
		end = end.Add(-time.Nanosecond)
	}
	return end
}

func periodText(l locale.Lang, pi agp.PeriodInfo, loc *time.Location) string {
	return fmt.Sprintf("%s – %s (%s %s)", dateText(l, pi.Start.In(loc)), dateText(l, lastDay(pi, loc)),
		l.Number(pi.Days, 0), t(l, "days_unit"))
}

// clinicalFields writes the clinician's record: the type and therapy by
// their codes, the note as written.
func clinicalFields(l locale.Lang, c *Clinical) []Field {
	if c == nil {
		return nil
	}
	var out []Field
	if c.DiabetesType != "" {
		out = append(out, Field{t(l, "diabetes_type"), t(l, "dt_"+c.DiabetesType)})
	}
	if c.Therapy != "" {
		out = append(out, Field{t(l, "therapy"), t(l, "th_"+c.Therapy)})
	}
	if note := strings.TrimSpace(c.Note); note != "" {
		out = append(out, Field{t(l, "note"), note})
	}
	return out
}

func patientFields(l locale.Lang, pt Patient) []Field {
	var out []Field
	name := pt.Name
	if name == "" {
		name = pt.Label
	}
	if name != "" {
		out = append(out, Field{t(l, "patient"), name})
	}
	if !pt.BirthDate.IsZero() {
		out = append(out, Field{t(l, "birth"), dateText(l, pt.BirthDate.UTC())})
	}
	if pt.FiscalCode != "" {
		out = append(out, Field{t(l, "fiscal_code"), pt.FiscalCode})
	}
	return out
}

// met returns 1 when ok, -1 otherwise.
func met(ok bool) int {
	if ok {
		return 1
	}
	return -1
}

const dash = "—"

func stats(l locale.Lang, r agp.Report, tg Targets) []Figure {
	out := []Figure{
		{Key: "period_days", Label: t(l, "period_days"), Value: l.Number(r.Period.Days, 0)},
		{Key: "days_with_data", Label: t(l, "days_with_data"), Value: strconv.Itoa(r.DaysWithData)},
		{Key: "active_percent", Label: t(l, "active"), Value: l.Percent(r.ActivePercent, 1),
			Goal: "≥ " + l.Percent(GoalActive, 0), Met: met(r.ActivePercent >= GoalActive)},
	}
	// Mean glucose and GMI: no consensus target (see GoalCV).
	mean := Figure{Key: "mean_mgdl", Label: t(l, "mean"), Value: dash, Unit: "mg/dL", Key2: "mean_mmol", Value2: dash, Unit2: "mmol/L"}
	gmi := Figure{Key: "gmi_percent", Label: t(l, "gmi"), Value: dash, Key2: "gmi_mmolmol", Value2: dash, Unit2: "mmol/mol"}
	if g := r.MeanGlucose; g != nil {
		mean.Value, mean.Value2 = l.Number(g.MgDL, 0), l.Number(g.MmolL, 1)
	}
	if g := r.GMI; g != nil {
		gmi.Value, gmi.Value2 = l.Percent(g.Percent, 1), l.Number(g.MmolMol, 0)
	}
	cv := Figure{Key: "cv_percent", Label: t(l, "cv"), Value: dash, Goal: "≤ " + l.Percent(GoalCV, 0)}
	if r.CVPercent != nil {
		cv.Value = l.Percent(*r.CVPercent, 1)
		cv.Met = met(*r.CVPercent <= GoalCV)
	}
	sd := Figure{Key: "sd_mgdl", Label: t(l, "sd"), Value: dash, Unit: "mg/dL"}
	if r.SDMgDL != nil {
		sd.Value = l.Number(*r.SDMgDL, 0)
	}
	out = append(out, mean, gmi, cv, sd,
		Figure{Key: "readings", Label: t(l, "readings"), Value: strconv.Itoa(r.Readings)},
		Figure{Key: "scans", Label: t(l, "scans"), Value: strconv.Itoa(r.Scans)})
	return out
}

// rangeLabels are the consensus bands in each unit (Battelino et al. 2019;
// ADA Standards of Care Table 6.2).
var rangeLabels = map[string][5]string{
	"mg/dL":     {"< 54 mg/dL", "54–69 mg/dL", "70–180 mg/dL", "181–250 mg/dL", "> 250 mg/dL"},
	"mmol/L it": {"< 3,0 mmol/L", "3,0–3,8 mmol/L", "3,9–10,0 mmol/L", "10,1–13,9 mmol/L", "> 13,9 mmol/L"},
	"mmol/L en": {"< 3.0 mmol/L", "3.0–3.8 mmol/L", "3.9–10.0 mmol/L", "10.1–13.9 mmol/L", "> 13.9 mmol/L"},
}

// ranges returns the time-in-ranges lines, very high first (as the bar
// reads from top to bottom), with the combined below and above lines that
// carry the TBR and TAR targets, and the band percentages for the bar.
func ranges(l locale.Lang, r agp.Report, tg Targets) ([]Band, [5]float64) {
	g := tg.goals()
	key := "mg/dL"
	if r.Unit == cgm.MmolL.String() {
		key = "mmol/L " + string(l)
	}
	rl := rangeLabels[key]
	perDay := func(pct float64) string { return l.Duration(pct / 100 * 1440) }
	lt := func(v float64) string { return "< " + l.Percent(v, 0) }
	gt := func(v float64) string { return "> " + l.Percent(v, 0) }
	tir := r.TimeInRanges
	if tir == nil {
		out := []Band{
			{Key: "very_high", Label: t(l, "very_high"), Range: rl[4], Value: dash, Time: dash, Color: colorVeryHigh},
			{Key: "high", Label: t(l, "high"), Range: rl[3], Value: dash, Time: dash, Color: colorHigh},
			{Key: "target", Label: t(l, "target"), Range: rl[2], Value: dash, Time: dash, Color: colorTarget},
			{Key: "low", Label: t(l, "low"), Range: rl[1], Value: dash, Time: dash, Color: colorLow},
			{Key: "very_low", Label: t(l, "very_low"), Range: rl[0], Value: dash, Time: dash, Color: colorVeryLow},
		}
		return out, [5]float64{}
	}
	below, above := tir.VeryLow+tir.Low, tir.High+tir.VeryHigh
	vh := Band{Key: "very_high", Label: t(l, "very_high"), Range: rl[4], Value: l.Percent(tir.VeryHigh, 1),
		Time: perDay(tir.VeryHigh), Goal: lt(g.veryHigh), Met: met(tir.VeryHigh < g.veryHigh), Color: colorVeryHigh}
	hi := Band{Key: "high", Label: t(l, "high"), Range: rl[3], Value: l.Percent(tir.High, 1), Time: perDay(tir.High), Color: colorHigh}
	ab := Band{Key: "above", Label: t(l, "above"), Range: "", Value: l.Percent(above, 1), Time: perDay(above),
		Goal: lt(g.above), Met: met(above < g.above), Combined: true}
	tr := Band{Key: "target", Label: t(l, "target"), Range: rl[2], Value: l.Percent(tir.Target, 1), Time: perDay(tir.Target),
		Goal: gt(g.tir), Met: met(tir.Target > g.tir), Color: colorTarget}
	lo := Band{Key: "low", Label: t(l, "low"), Range: rl[1], Value: l.Percent(tir.Low, 1), Time: perDay(tir.Low), Color: colorLow}
	be := Band{Key: "below", Label: t(l, "below"), Range: "", Value: l.Percent(below, 1), Time: perDay(below),
		Goal: lt(g.below), Met: met(below < g.below), Combined: true}
	vl := Band{Key: "very_low", Label: t(l, "very_low"), Range: rl[0], Value: l.Percent(tir.VeryLow, 1), Time: perDay(tir.VeryLow), Color: colorVeryLow}
	if g.veryLow >= 0 {
		vl.Goal, vl.Met = lt(g.veryLow), met(tir.VeryLow < g.veryLow)
	}
	tight := Band{Key: "tight", Label: t(l, "tight"), Range: tightLabel(key), Value: l.Percent(tir.Tight, 1), Time: perDay(tir.Tight), Combined: true}
	return []Band{vh, hi, ab, tr, tight, lo, be, vl}, [5]float64{tir.VeryLow, tir.Low, tir.Target, tir.High, tir.VeryHigh}
}

func tightLabel(unitKey string) string {
	switch unitKey {
	case "mmol/L it":
		return "3,9–7,8 mmol/L"
	case "mmol/L en":
		return "3.9–7.8 mmol/L"
	}
	return "70–140 mg/dL"
}

func events(l locale.Lang, r agp.Report) []EventRow {
	row := func(key string, e agp.Episodes) EventRow {
		out := EventRow{Key: key, Label: t(l, key), Total: strconv.Itoa(e.Total), PerDay: l.Number(e.PerDay, 1), Minutes: dash}
		if e.Total > 0 {
			out.Minutes = l.Duration(e.MeanMinutes)
		}
		return out
	}
	ev := r.Events
	return []EventRow{
		row("hypo2", ev.HypoLevel2),
		row("hypo1", ev.HypoLevel1),
		row("hypo_ext", ev.HypoExtended),
		row("hyper1", ev.HyperLevel1),
		row("hyper2", ev.HyperLevel2),
	}
}

func labRows(l locale.Lang, r agp.Report, labs []LabResult, loc *time.Location) ([]LabRow, string) {
	if len(labs) == 0 {
		return nil, t(l, "no_hba1c")
	}
	var out []LabRow
	for _, lab := range labs {
		row := LabRow{Date: dateText(l, lab.At.In(loc)), Value: l.Percent(lab.Percent, 1), GMI: dash, Diff: dash}
		if r.GMI != nil {
			row.GMI = l.Percent(r.GMI.Percent, 1)
			row.Diff = l.Signed(lab.Percent-r.GMI.Percent, 1)
			// The discordance is a clinical flag: raised only when the
			// GMI rests on enough data (14 days, 70 % active).
			if r.Sufficient {
				row.Discordant = Discordant(lab.Percent, r.GMI.Percent)
				row.Note = t(l, "concordant")
				if row.Discordant {
					row.Note = t(l, "discordant")
				}
			} else {
				row.Note = t(l, "insufficient_short")
			}
		}
		out = append(out, row)
	}
	return out, ""
}

// compare returns the rows comparing the period with the previous one. A
// change is shown only when both periods have at least 70 % of their
// possible readings (Battelino et al., Diabetes Care 2019;42:1593, "CGM
// metrics": the minimum for reliable figures); otherwise the note says the
// data are insufficient and no change is shown.
func compare(l locale.Lang, r agp.Report, prev *agp.Report, loc *time.Location) ([]CompareRow, string, string) {
	if prev == nil || prev.Readings == 0 || r.Readings == 0 {
		txt := ""
		if prev != nil && !prev.Period.Start.IsZero() {
			txt = periodText(l, prev.Period, loc)
		}
		return nil, txt, t(l, "no_previous")
	}
	if r.ActivePercent < sufficientActive || prev.ActivePercent < sufficientActive {
		return nil, periodText(l, prev.Period, loc), l.F("agp_compare_insufficient",
			l.Percent(r.ActivePercent, 0), l.Percent(prev.ActivePercent, 0))
	}
	var out []CompareRow
	add := func(key, label, cur, pre, change string) {
		out = append(out, CompareRow{Key: key, Label: label, Current: cur, Previous: pre, Change: change})
	}
	pct := func(key, label string, c, p float64) {
		add(key, label, l.Percent(c, 1), l.Percent(p, 1), l.Signed(c-p, 1))
	}
	if r.MeanGlucose != nil && prev.MeanGlucose != nil {
		add("mean_mgdl", t(l, "mean")+" (mg/dL)", l.Number(r.MeanGlucose.MgDL, 0), l.Number(prev.MeanGlucose.MgDL, 0),
			l.Signed(r.MeanGlucose.MgDL-prev.MeanGlucose.MgDL, 0))
	}
	if r.GMI != nil && prev.GMI != nil {
		pct("gmi_percent", "GMI", r.GMI.Percent, prev.GMI.Percent)
	}
	if r.CVPercent != nil && prev.CVPercent != nil {
		pct("cv_percent", "CV", *r.CVPercent, *prev.CVPercent)
	}
	if a, b := r.TimeInRanges, prev.TimeInRanges; a != nil && b != nil {
		pct("target", t(l, "target")+" (70–180)", a.Target, b.Target)
		pct("below", t(l, "below")+" (< 70)", a.VeryLow+a.Low, b.VeryLow+b.Low)
		pct("very_low", t(l, "very_low")+" (< 54)", a.VeryLow, b.VeryLow)
		pct("above", t(l, "above")+" (> 180)", a.High+a.VeryHigh, b.High+b.VeryHigh)
		pct("very_high", t(l, "very_high")+" (> 250)", a.VeryHigh, b.VeryHigh)
	}
	pct("active_percent", t(l, "active"), r.ActivePercent, prev.ActivePercent)
	add("hypo1_total", t(l, "hypo1"), strconv.Itoa(r.Events.HypoLevel1.Total), strconv.Itoa(prev.Events.HypoLevel1.Total),
		l.Signed(float64(r.Events.HypoLevel1.Total-prev.Events.HypoLevel1.Total), 0))
	return out, periodText(l, prev.Period, loc), ""
}

// days returns the daily profiles: one per local calendar day of the
// period, each with the historic readings of its own [00:00, next 00:00).
func days(l locale.Lang, r agp.Report, rs cgm.Series, loc *time.Location) []DayView {
	out := make([]DayView, 0, len(r.Daily))
	i := 0
	for _, d := range r.Daily {
		day, err := time.ParseInLocation(time.DateOnly, d.Date, loc)
		if err != nil {
			continue
		}
		next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		dv := DayView{Date: d.Date, Hours: d.Hours, Readings: d.Readings,
			Label: weekday(l, day.Weekday()) + " " + day.Format("02/01")}
		if l == locale.EN {
			dv.Label = weekday(l, day.Weekday()) + " " + day.Format("2 Jan")
		}
		for _, hh := range []int{6, 12, 18} {
			dv.ticks = append(dv.ticks, time.Date(day.Year(), day.Month(), day.Day(), hh, 0, 0, 0, loc).Sub(day).Hours())
		}
		if d.Hours != 24 {
			dv.HoursTag = l.Number(d.Hours, 0) + " " + t(l, "hours")
		}
		dv.Desc = l.F("agp_day_none", dv.Label)
		if d.MeanMgDL != nil && d.TimeInRanges != nil {
			dv.Desc = l.F("agp_day_desc", dv.Label, d.Readings, l.Number(*d.MeanMgDL, 0), l.Percent(d.TimeInRanges.Target, 0))
		}
		for i < len(rs) && rs[i].Time.Before(day) {
			i++
		}
		var seg []point
		var last time.Time
		for ; i < len(rs) && rs[i].Time.Before(next); i++ {
			rd := rs[i]
			if rd.Kind != cgm.Historic {
				continue
			}
			if len(seg) > 0 && rd.Time.Sub(last) > maxGap {
				dv.trace = append(dv.trace, seg)
				seg = nil
			}
			seg = append(seg, point{x: rd.Time.Sub(day).Hours(), y: cgm.ToMgDL(rd.Value, rd.Unit)})
			last = rd.Time
		}
		if len(seg) > 0 {
			dv.trace = append(dv.trace, seg)
		}
		out = append(out, dv)
	}
	return out
}
