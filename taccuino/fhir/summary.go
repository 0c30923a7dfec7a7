package fhir

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// ErrNoSummary is wrapped by [SummaryBundle] when the report lacks a figure
// the IG's summary panel requires (no readings, or a single one).
var ErrNoSummary = errors.New("fhir: not enough data for a CGM summary")

// DateRange is a reporting period as local calendar dates (YYYY-MM-DD), both
// inclusive: the IG's effectivePeriod start and end (a date-only FHIR Period
// end includes the whole day: a 14-day report from 2024-05-01 ends
// 2024-05-14).
type DateRange struct {
	Start, End string
}

// IsZero reports whether r is the zero DateRange.
func (r DateRange) IsZero() bool { return r == DateRange{} }

// check validates the dates and their order.
func (r DateRange) check() error {
	s, err := time.Parse(time.DateOnly, r.Start)
	if err != nil {
		return fmt.Errorf("fhir: period start %q: want YYYY-MM-DD", r.Start)
	}
	e, err := time.Parse(time.DateOnly, r.End)
	if err != nil {
		return fmt.Errorf("fhir: period end %q: want YYYY-MM-DD", r.End)
	}
	if e.Before(s) {
		return fmt.Errorf("fhir: period ends (%s) before it starts (%s)", r.End, r.Start)
	}
	return nil
}

// DefaultTimeZone is the zone used when a report names none: fsecgm's
// patients live in Tuscany.
const DefaultTimeZone = "Europe/Rome"

// offsetRE is a fixed UTC offset as the engine writes it ("-05:00").
var offsetRE = regexp.MustCompile(`^([+-])([0-9]{2}):([0-9]{2})$`)

// location returns the zone a report names: an IANA name or a fixed offset.
func location(tz string) (*time.Location, error) {
	if tz == "" {
		tz = DefaultTimeZone
	}
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
	if err != nil {
		return nil, fmt.Errorf("fhir: time zone %q: %w", tz, err)
	}
	return loc, nil
}

// PeriodOf returns the reporting period of a report as local dates in the
// report's time zone (an IANA name such as Europe/Rome, or a fixed offset;
// Europe/Rome when empty). The policy: dates are the patient's local
// calendar dates, never UTC ones, so that a reading at 00:30 in Rome on
// 1 May (22:30 UTC on 30 April) falls on 1 May.
//
//   - For a given period [Start, End) the dates are those of Start and of
//     the last instant before End: a period ending at local midnight ends on
//     the day before (the FHIR end is inclusive).
//   - For an automatic period they are the dates of the first and the last
//     historic reading.
func PeriodOf(r agp.Report) (DateRange, error) {
	loc, err := location(r.TimeZone)
	if err != nil {
		return DateRange{}, err
	}
	p := r.Period
	if p.Start.IsZero() || p.End.IsZero() {
		return DateRange{}, fmt.Errorf("%w: the report has no period (no readings)", ErrNoSummary)
	}
	end := p.End
	if !p.Automatic {
		end = end.Add(-time.Nanosecond)
	}
	d := DateRange{Start: p.Start.In(loc).Format(time.DateOnly), End: end.In(loc).Format(time.DateOnly)}
	if err := d.check(); err != nil {
		return DateRange{}, err
	}
	return d, nil
}

// Bundle types fsecgm writes.
const (
	// BundleCollection: a summary as a document-less set of resources (the
	// offline command's output).
	BundleCollection = "collection"
	// BundleSearchset: the answer to a search; summary resources are
	// matches, Patient and Device are includes.
	BundleSearchset = "searchset"
	// BundleTransaction: delivery to a record server; every entry is a
	// conditional create (POST with ifNoneExist on its identifier), so that
	// re-sending creates nothing twice.
	BundleTransaction = "transaction"
	// BundleTransactionResponse: the answer to $submit-cgm-bundle.
	BundleTransactionResponse = "transaction-response"
)

// SummaryInput is what [SummaryBundle] maps.
type SummaryInput struct {
	// Report holds the figures (agp.Compute's output).
	Report agp.Report
	// Patient is the patient the report is about.
	Patient PatientInfo
	// Devices are the sensors worn in the period; each becomes a Device
	// entry. With exactly one, every Observation also references it
	// (Observation.device is 0..1, so with several sensors none is named).
	Devices []DeviceInfo
	// Base is the issuer base URL, e.g. "https://fsecgm.example/fhir": the
	// root of fullUrls and identifier systems.
	Base string
	// Period is the reporting period as local dates. Leave it zero to use
	// [PeriodOf] the report (the normal case); when set it must describe
	// the period the report was computed over.
	Period DateRange
	// Type is the bundle type: BundleCollection, BundleSearchset or
	// BundleTransaction.
	Type string
	// Timestamp is Bundle.timestamp; required for a transaction (the IG's
	// cgm-data-submission-bundle has timestamp 1..1), optional otherwise.
	Timestamp time.Time
	// Issued, when not zero, is written as Observation.issued and
	// DiagnosticReport.issued (when the figures were made available).
	Issued time.Time
	// PDF, when not nil, is the AGP report of the period; it is added as
	// the IG's cgm-summary-pdf DiagnosticReport (see [SummaryReport]).
	PDF []byte
	// IGOnly leaves out the local figures (time in tight range, episodes,
	// scans), for a receiver that accepts only the IG's profiles.
	IGOnly bool
}

// MethodText returns the Observation.method text of every figure of a
// report: the engine and definition set that computed it and whether the
// data are sufficient by the consensus (≥ 14 days, ≥ 70 % of expected
// readings; Battelino et al. 2019), with the period length in days and the
// % time CGM active, unrounded, so that a reader can judge the figure; and
// the sources of the readings (agp.Report.Sources) with the readings of a
// second sensor left out, when the report names them.
func MethodText(r agp.Report) string {
	engine := r.Engine
	if engine == "" {
		engine = agp.Version
	}
	suff := "no"
	if r.Sufficient {
		suff = "yes"
	}
	text := fmt.Sprintf("%s; sufficient data: %s (%s days, %s%% active)", engine, suff,
		strconv.FormatFloat(r.Period.Days, 'f', -1, 64), strconv.FormatFloat(r.ActivePercent, 'f', -1, 64))
	if len(r.Sources) > 0 {
		text += "; readings from: " + strings.Join(r.Sources, ", ")
	}
	if r.OtherSeries > 0 {
		text += fmt.Sprintf("; %d readings of a second sensor left out", r.OtherSeries)
	}
	return text
}

// summaryContext carries what every Observation of one summary shares.
type summaryContext struct {
	base    string
	patient string
	period  DateRange
	method  string
	issued  string
	device  *Reference
	igOnly  bool
}

// laboratory is the category of every Observation fsecgm writes. The IG
// mandates none (HL7 FHIR CGM IG 1.0.0, home page); its examples and its suggested SMART
// scope (patient/Observation.cu?category=laboratory) use this one.
func laboratory() []CodeableConcept {
	return []CodeableConcept{{Coding: []Coding{{System: ObservationCategory, Code: "laboratory", Display: "Laboratory"}}}}
}

// loinc returns the LOINC coding of code with its display.
func loinc(code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: LOINC, Code: code, Display: loincDisplay(code)}}}
}

// local returns the coding of a local code with its display.
func local(code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: LocalCodeSystem, Code: code, Display: localDisplay(code)}}}
}

// observation returns the shared skeleton of a summary Observation with the
// given code: deterministic id and identifier from (patient, code system
// and code, period start, period end), status final, category laboratory,
// subject, effectivePeriod, method and, when given, profile and device.
func (c *summaryContext) observation(code CodeableConcept, profile string) *Observation {
	cd := code.Coding[0]
	k := key("observation", c.patient, cd.System+"|"+cd.Code, c.period.Start, c.period.End)
	o := &Observation{
		ID:              idOf(k),
		Identifier:      []Identifier{{System: c.base + identifierObservation, Value: k}},
		Status:          "final",
		Category:        laboratory(),
		Code:            code,
		Subject:         patientRef(c.patient),
		EffectivePeriod: &Period{Start: c.period.Start, End: c.period.End},
		Issued:          c.issued,
		Method:          &CodeableConcept{Text: c.method},
		Device:          c.device,
	}
	if profile != "" {
		o.Meta = &Meta{Profile: []string{profile}}
	}
	return o
}

// ref returns the relative reference to an Observation.
func ref(o *Observation) Reference { return Reference{Reference: "Observation/" + o.ID} }

// figure is a summary figure on its way to an Observation.
type figure struct {
	name string
	v    float64
	pct  bool // a percentage: at least two decimals
}

// decimal converts a figure, refusing NaN and infinities.
func (f figure) decimal() (Decimal, error) {
	var d Decimal
	var err error
	if f.pct {
		d, err = NewPercent(f.v)
	} else {
		d, err = NewDecimal(f.v)
	}
	if err != nil {
		return "", fmt.Errorf("fhir: %s: %w", f.name, err)
	}
	return d, nil
}

// summaryObservations maps the report to the IG's summary panel and its
// members, then the local figures. The panel comes first.
//
// The IG's cgm-summary requires hasMember 6..*: times in ranges, GMI, CV,
// days of wear and sensor active % exactly once each, and at least one
// mean glucose (profile cgm-summary); times in ranges, GMI, CV, days of wear and sensor
// active % require a valueQuantity (1..1), so no dataAbsentReason can stand
// in for them. A report without mean glucose (no readings) or without CV
// (one reading) therefore has no summary: the function fails with
// ErrNoSummary rather than write a fake value. Mean glucose is written in
// both units (the IG allows one of each); the engine computes the molar
// value from the mass one (or the reverse), never a round trip.
func summaryObservations(c *summaryContext, r agp.Report) ([]*Observation, error) {
	var missing []string
	if r.MeanGlucose == nil {
		missing = append(missing, "mean glucose")
	}
	if r.TimeInRanges == nil {
		missing = append(missing, "times in ranges")
	}
	if r.GMI == nil {
		missing = append(missing, "GMI")
	}
	if r.CVPercent == nil {
		missing = append(missing, "CV")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the report has no %v (%d readings)", ErrNoSummary, missing, r.Readings)
	}
	if r.DaysWorn < 0 || r.Scans < 0 {
		return nil, fmt.Errorf("fhir: report: negative days worn or scans")
	}

	valued := func(code CodeableConcept, profile string, f figure, u unit) (*Observation, error) {
		d, err := f.decimal()
		if err != nil {
			return nil, err
		}
		o := c.observation(code, profile)
		o.ValueQuantity = u.quantity(d)
		return o, nil
	}
	var members []*Observation
	add := func(o *Observation, err error) error {
		if err != nil {
			return err
		}
		members = append(members, o)
		return nil
	}
	tir := r.TimeInRanges
	if err := errors.Join(
		add(valued(loinc(CodeMeanGlucoseMass), ProfileMeanGlucoseMass, figure{"mean glucose mg/dL", r.MeanGlucose.MgDL, false}, unitMgDL)),
		add(valued(loinc(CodeMeanGlucoseMolar), ProfileMeanGlucoseMolar, figure{"mean glucose mmol/L", r.MeanGlucose.MmolL, false}, unitMmolL)),
		add(timesInRanges(c, tir)),
		add(valued(loinc(CodeGMI), ProfileGMI, figure{"GMI", r.GMI.Percent, true}, unitPercent)),
		add(valued(loinc(CodeCV), ProfileCV, figure{"CV", *r.CVPercent, true}, unitPercent)),
		add(valued(loinc(CodeDaysOfWear), ProfileDaysOfWear, figure{"days worn", float64(r.DaysWorn), false}, unitDays)),
		add(valued(loinc(CodeSensorActive), ProfileSensorActive, figure{"active %", r.ActivePercent, true}, unitPercent)),
	); err != nil {
		return nil, err
	}
	panel := c.observation(loinc(CodeSummary), ProfileSummary)
	for _, m := range members {
		panel.HasMember = append(panel.HasMember, ref(m))
	}
	out := append([]*Observation{panel}, members...)
	if c.igOnly {
		return out, nil
	}

	// Local figures: no IG profile, fsecgm's code system (never a LOINC code
	// that means something else).
	tight, err := valued(local(LocalTimeInTightRange), "", figure{"time in tight range", tir.Tight, true}, unitPercent)
	if err != nil {
		return nil, err
	}
	out = append(out, tight)
	ev := r.Events
	for _, e := range []struct {
		code string
		ep   agp.Episodes
	}{
		{LocalHypoLevel1Episodes, ev.HypoLevel1},
		{LocalHypoLevel2Episodes, ev.HypoLevel2},
		{LocalHypoLevel1ExclEpisodes, ev.HypoLevel1Exclusive},
		{LocalHypoExtendedEpisodes, ev.HypoExtended},
		{LocalHyperLevel1Episodes, ev.HyperLevel1},
		{LocalHyperLevel2Episodes, ev.HyperLevel2},
		{LocalHyperLevel1ExclEpisodes, ev.HyperLevel1Exclusive},
		{LocalHyperExtendedEpisodes, ev.HyperExtended},
	} {
		o, err := episodes(c, e.code, e.ep)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	scans := c.observation(local(LocalScanCount), "")
	scans.ValueQuantity = unitScans.quantity(DecimalInt(r.Scans))
	out = append(out, scans)
	if r.GRI != nil {
		gri, err := griObservation(c, *r.GRI)
		if err != nil {
			return nil, err
		}
		out = append(out, gri)
	}
	return out, nil
}

// griObservation returns the Glycemia Risk Index Observation: the index as
// value, its two components (the axes of the GRI grid) and its zone as
// components. LOINC has no code for the GRI: it is a local code.
func griObservation(c *summaryContext, g agp.GRI) (*Observation, error) {
	v, err := figure{"GRI", g.Value, false}.decimal()
	if err != nil {
		return nil, err
	}
	hypo, err := figure{"GRI hypoglycaemia component", g.Hypo, true}.decimal()
	if err != nil {
		return nil, err
	}
	hyper, err := figure{"GRI hyperglycaemia component", g.Hyper, true}.decimal()
	if err != nil {
		return nil, err
	}
	zone := "gri-zone-" + strings.ToLower(g.Zone)
	if localDisplay(zone) == "" {
		return nil, fmt.Errorf("fhir: GRI zone %q", g.Zone)
	}
	o := c.observation(local(LocalGRI), "")
	o.ValueQuantity = unitScore.quantity(v)
	zc := local(zone)
	o.Component = []ObservationComponent{
		{Code: local(LocalGRIHypoComponent), ValueQuantity: unitPercent.quantity(hypo)},
		{Code: local(LocalGRIHyperComponent), ValueQuantity: unitPercent.quantity(hyper)},
		{Code: local(LocalGRIZone), ValueCodeableConcept: &zc},
	}
	return o, nil
}

// timesInRanges returns the times-in-ranges panel: five components, each a
// percentage with at least two decimals, unrounded.
func timesInRanges(c *summaryContext, t *agp.Ranges) (*Observation, error) {
	o := c.observation(loinc(CodeTimesInRanges), ProfileTimesInRanges)
	for _, b := range []struct {
		code string
		f    figure
	}{
		{CodeTimeVeryLow, figure{"time very low", t.VeryLow, true}},
		{CodeTimeLow, figure{"time low", t.Low, true}},
		{CodeTimeInTarget, figure{"time in target", t.Target, true}},
		{CodeTimeHigh, figure{"time high", t.High, true}},
		{CodeTimeVeryHigh, figure{"time very high", t.VeryHigh, true}},
	} {
		d, err := b.f.decimal()
		if err != nil {
			return nil, err
		}
		o.Component = append(o.Component, ObservationComponent{Code: loinc(b.code), ValueQuantity: unitPercent.quantity(d)})
	}
	return o, nil
}

// episodes returns the Observation of one kind of episode: the count as
// value, the rate per day of data, the mean duration and the mean glucose
// as components (the last two only when there are episodes: without one
// they have no value, and the component is left out rather than faked).
func episodes(c *summaryContext, code string, ep agp.Episodes) (*Observation, error) {
	if ep.Total < 0 {
		return nil, fmt.Errorf("fhir: %s: negative count", code)
	}
	o := c.observation(local(code), "")
	o.ValueQuantity = unitEpisodes.quantity(DecimalInt(ep.Total))
	perDay, err := figure{code + " per day", ep.PerDay, false}.decimal()
	if err != nil {
		return nil, err
	}
	o.Component = append(o.Component, ObservationComponent{Code: local(LocalEpisodesPerDay), ValueQuantity: unitEpisodesPerDay.quantity(perDay)})
	if ep.Total > 0 {
		dur, err := figure{code + " mean duration", ep.MeanMinutes, false}.decimal()
		if err != nil {
			return nil, err
		}
		o.Component = append(o.Component, ObservationComponent{Code: local(LocalMeanEpisodeDuration), ValueQuantity: unitMinutes.quantity(dur)})
		if ep.MeanMgDL != nil {
			gl, err := figure{code + " mean glucose", *ep.MeanMgDL, false}.decimal()
			if err != nil {
				return nil, err
			}
			o.Component = append(o.Component, ObservationComponent{Code: local(LocalMeanEpisodeGlucose), ValueQuantity: unitMgDL.quantity(gl)})
		}
	}
	return o, nil
}

// instant formats t as a FHIR instant ("" for the zero time).
func instant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// newSummaryContext validates the shared inputs of a summary.
func newSummaryContext(in SummaryInput) (*summaryContext, error) {
	base, err := normalizeBase(in.Base)
	if err != nil {
		return nil, err
	}
	if err := checkPatient(in.Patient); err != nil {
		return nil, err
	}
	period := in.Period
	if period.IsZero() {
		if period, err = PeriodOf(in.Report); err != nil {
			return nil, err
		}
	} else if err := period.check(); err != nil {
		return nil, err
	}
	c := &summaryContext{base: base, patient: in.Patient.ID, period: period, method: MethodText(in.Report),
		issued: instant(in.Issued), igOnly: in.IGOnly}
	if len(in.Devices) == 1 {
		c.device = &Reference{Reference: "Device/" + deviceID(in.Patient.ID, in.Devices[0].Serial)}
	}
	return c, nil
}

// SummaryObservations returns the Observations of a summary without the
// Bundle around them: the IG's summary panel (LOINC 107931-8) first, then
// its members (mean glucose in mg/dL and mmol/L, times in ranges, GMI, CV,
// days of wear, sensor active %), then the local figures (time in tight
// range, the eight kinds of episode, scans, the Glycemia Risk Index; none
// with in.IGOnly). See
// [SummaryBundle].
func SummaryObservations(in SummaryInput) ([]*Observation, error) {
	c, err := newSummaryContext(in)
	if err != nil {
		return nil, err
	}
	return summaryObservations(c, in.Report)
}

// SummaryBundle maps a report to FHIR R4 following the HL7 CGM IG 1.0.0: a
// Bundle of in.Type with the Patient, one Device per sensor, the summary
// panel Observation (cgm-summary, LOINC 107931-8) with hasMember references
// to its members (mean glucose 97507-8 and 105273-7, times in ranges
// 106793-3 with its five components, GMI 97506-0, CV 104638-2, days of wear
// 104636-6, sensor active % 104637-4), the local figures without an IG
// profile ([LocalCodeSystem]: time in tight range, hypo- and
// hyperglycaemic episodes, scans, the Glycemia Risk Index) and, with in.PDF,
// the cgm-summary-pdf
// DiagnosticReport.
//
// Every Observation has meta.profile of its IG profile (local ones none),
// effectivePeriod start and end as local dates (end inclusive, see
// [PeriodOf]), subject the Patient, UCUM quantities exactly as the IG's
// profiles write them, method text from [MethodText], and an identifier
// (system base/identifier/observation) whose value is a hash of the patient
// id, the code and the period, so that re-sending finds the resources sent
// before; resource ids are derived from the same hash. Numbers are never
// rounded: percentages carry at least two decimals ([NewPercent]).
//
// It fails with ErrNoSummary when the report lacks a figure the IG
// requires (see [SummaryObservations]).
func SummaryBundle(in SummaryInput) (Bundle, error) {
	c, err := newSummaryContext(in)
	if err != nil {
		return Bundle{}, err
	}
	obs, err := summaryObservations(c, in.Report)
	if err != nil {
		return Bundle{}, err
	}
	pt, err := PatientResource(in.Base, in.Patient)
	if err != nil {
		return Bundle{}, err
	}
	res := []Resource{&pt}
	for _, d := range in.Devices {
		dev, err := DeviceResource(in.Base, d, in.Patient.ID)
		if err != nil {
			return Bundle{}, err
		}
		res = append(res, &dev)
	}
	for _, o := range obs {
		res = append(res, o)
	}
	if in.PDF != nil {
		rep, err := summaryReport(c, in.PDF, obs[0])
		if err != nil {
			return Bundle{}, err
		}
		res = append(res, rep)
	}
	b, err := NewBundle(in.Type, in.Base, in.Timestamp, res...)
	if err != nil {
		return Bundle{}, err
	}
	scope := "all"
	if in.IGOnly {
		scope = "ig-only"
	}
	b.ID = idOf(key("bundle", in.Type, scope, c.patient, c.period.Start, c.period.End))
	return b, nil
}

// unitOf returns the UCUM unit of a glucose unit.
func unitOf(u cgm.Unit) unit {
	if u == cgm.MmolL {
		return unitMmolL
	}
	return unitMgDL
}
