package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/vitals"
)

// The measurements of the patient's own devices (package cgm/vitals) in
// FHIR: daily summaries written as Observations, and Observations read from
// submissions. Codes:
//
//   - HL7 FHIR R4 Vital Signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html,
//     in the R4 core package): heart rate 8867-4 (profile heartrate, /min),
//     the blood pressure panel 85354-9 with systolic 8480-6 and diastolic
//     8462-4 components (profile bp, mm[Hg]); both with category
//     vital-signs.
//   - HL7 Physical Activity IG 1.0.0 (hl7.fhir.us.physical-activity,
//     ValueSet pa-observation-code-time "codes for physical activity
//     measures that aggregate or summarize activity over a time period"):
//     41950-7 Number of steps in 24 hour Measured (its example
//     ExampleDailySteps: value in /d, effective the date), 40443-4 Heart
//     rate --resting, 8873-2 Heart rate 24 hour maximum; and, in its
//     activity value set, 55424-6 Calories burned in unspecified time
//     Pedometer; 55423-8 Number of steps in unspecified time Pedometer is
//     read from submissions. Category activity.
//   - LOINC sleep durations: 93832-4 Sleep duration, 93830-8 Light sleep
//     duration, 93831-6 Deep sleep duration, 93829-0 REM sleep duration.
//
// Figures without a code that means exactly them — the day's distance, the
// day's active energy (41979-6 "Calories burned in 24 hour" does not say
// active, and the IG's examples use it for totals), the day's minimum
// heart rate, the awake, unstaged and in-bed minutes — use fsecgm's local
// codes ([LocalCodeSystem]).
const (
	CodeHeartRate         = "8867-4"
	CodeBloodPressure     = "85354-9"
	CodeSystolic          = "8480-6"
	CodeDiastolic         = "8462-4"
	CodeRestingHeartRate  = "40443-4"
	CodeHeartRateMax24h   = "8873-2"
	CodeStepsPerDay       = "41950-7"
	CodeSteps             = "55423-8"
	CodeCaloriesBurned    = "55424-6"
	CodeSleepDuration     = "93832-4"
	CodeLightSleepMinutes = "93830-8"
	CodeDeepSleepMinutes  = "93831-6"
	CodeREMSleepMinutes   = "93829-0"
)

// The R4 core Vital Signs profiles fsecgm claims.
const (
	ProfileHeartRate     = "http://hl7.org/fhir/StructureDefinition/heartrate"
	ProfileBloodPressure = "http://hl7.org/fhir/StructureDefinition/bp"
)

// The local codes of the measurements (in [LocalCodeSystem]).
const (
	LocalDistanceDay       = "walking-running-distance-day"
	LocalActiveEnergyDay   = "active-energy-burned-day"
	LocalHeartRateMinDay   = "heart-rate-minimum-day"
	LocalSleepAwake        = "sleep-awake-duration"
	LocalSleepUnspecified  = "sleep-unstaged-duration"
	LocalSleepInBed        = "sleep-in-bed-duration"
	localVitalsMethodLabel = "fsecgm vitals"
)

// vitalsDisplay returns the LOINC display of a measurement code.
func vitalsDisplay(code string) string {
	switch code {
	case CodeHeartRate:
		return "Heart rate"
	case CodeBloodPressure:
		return "Blood pressure panel with all children optional"
	case CodeSystolic:
		return "Systolic blood pressure"
	case CodeDiastolic:
		return "Diastolic blood pressure"
	case CodeRestingHeartRate:
		return "Heart rate --resting"
	case CodeHeartRateMax24h:
		return "Heart rate 24 hour maximum"
	case CodeStepsPerDay:
		return "Number of steps in 24 hour Measured"
	case CodeSteps:
		return "Number of steps in unspecified time Pedometer"
	case CodeCaloriesBurned:
		return "Calories burned in unspecified time Pedometer"
	case CodeSleepDuration:
		return "Sleep duration"
	case CodeLightSleepMinutes:
		return "Light sleep duration"
	case CodeDeepSleepMinutes:
		return "Deep sleep duration"
	case CodeREMSleepMinutes:
		return "REM sleep duration"
	}
	return ""
}

// vitalSigns and activity are the categories of the measurements'
// Observations (R4 observation-category).
func vitalSigns() []CodeableConcept {
	return []CodeableConcept{{Coding: []Coding{{System: ObservationCategory, Code: "vital-signs", Display: "Vital Signs"}}}}
}

func activity() []CodeableConcept {
	return []CodeableConcept{{Coding: []Coding{{System: ObservationCategory, Code: "activity", Display: "Activity"}}}}
}

// VitalsInput is what [VitalsObservations] and [VitalsBundle] map.
type VitalsInput struct {
	// Base is the issuer base URL (identifier systems, fullUrls).
	Base string
	// Patient is the patient (ID the public id).
	Patient PatientInfo
	// Days are the daily summaries (vitals.Daily's output).
	Days []vitals.Day
	// Type is the Bundle type (VitalsBundle only).
	Type string
	// Timestamp is Bundle.timestamp (required for a transaction).
	Timestamp time.Time
	// Issued, when not zero, is Observation.issued.
	Issued time.Time
	// IGOnly leaves out the local codes (the distance, active energy and
	// minimum heart rate Observations, and the local sleep components).
	IGOnly bool
}

// quantityOf returns a Quantity of v with UCUM code and unit text.
func quantityOf(v float64, code, text string) (*Quantity, error) {
	d, err := NewDecimal(v)
	if err != nil {
		return nil, err
	}
	return &Quantity{Value: d, Unit: text, System: UCUM, Code: code}, nil
}

// coded returns the coding of a LOINC or local code.
func coded(code string) CodeableConcept {
	if vitalsDisplay(code) != "" {
		return CodeableConcept{Coding: []Coding{{System: LOINC, Code: code, Display: vitalsDisplay(code)}}}
	}
	return local(code)
}

// VitalsObservations maps daily summaries to Observations, for each day in
// order: steps (41950-7, /d), distance (local, m), active energy (local,
// kcal), sleep (93832-4, min, with the light, deep and REM components and
// the local awake, unstaged and in-bed ones), heart rate (the day's mean as
// 8867-4 on the heartrate profile, its maximum as 8873-2, its minimum
// local), resting heart rate (40443-4), and
// each blood pressure (85354-9 on the bp profile, at its instant). A day's
// figures have effectiveDateTime its local date, a date's precision being
// the whole day (FHIR R4 dateTime; as the Physical Activity IG's daily steps
// example writes it; sleep: the day the sleep ended); identifiers are hashes of the patient, the code and the date (the
// instant for a blood pressure), so that a day published again replaces
// its Observations. Numbers are never rounded.
func VitalsObservations(in VitalsInput) ([]*Observation, error) {
	base, err := normalizeBase(in.Base)
	if err != nil {
		return nil, err
	}
	if err := checkPatient(in.Patient); err != nil {
		return nil, err
	}
	issued := instant(in.Issued)
	var out []*Observation
	obs := func(code, when string, cat []CodeableConcept, profile string) *Observation {
		cd := coded(code)
		k := key("observation", in.Patient.ID, cd.Coding[0].System+"|"+code, when)
		o := &Observation{ID: idOf(k), Identifier: []Identifier{{System: base + identifierObservation, Value: k}},
			Status: "final", Category: cat, Code: cd, Subject: patientRef(in.Patient.ID), EffectiveDateTime: when, Issued: issued}
		if profile != "" {
			o.Meta = &Meta{Profile: []string{profile}}
		}
		return o
	}
	for _, d := range in.Days {
		if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
			return nil, fmt.Errorf("fhir: vitals: day %q: want YYYY-MM-DD", d.Date)
		}
		var errs []error
		add := func(o *Observation, method string, q *Quantity, err error) {
			if err != nil {
				errs = append(errs, fmt.Errorf("fhir: vitals %s %s: %w", d.Date, o.Code.Coding[0].Code, err))
				return
			}
			o.ValueQuantity = q
			o.Method = &CodeableConcept{Text: localVitalsMethodLabel + ": " + method}
			out = append(out, o)
		}
		merged := "total of the local day, the sources merged by the patient's ranking (no moment counted twice)"
		if d.Steps != nil {
			q, err := quantityOf(*d.Steps, "/d", "steps/day")
			add(obs(CodeStepsPerDay, d.Date, activity(), ""), merged, q, err)
		}
		if d.DistanceM != nil && !in.IGOnly {
			q, err := quantityOf(*d.DistanceM, "m", "m")
			add(obs(LocalDistanceDay, d.Date, activity(), ""), merged, q, err)
		}
		if d.ActiveKcal != nil && !in.IGOnly {
			q, err := quantityOf(*d.ActiveKcal, "kcal", "kcal")
			add(obs(LocalActiveEnergyDay, d.Date, activity(), ""), merged, q, err)
		}
		if d.SleepMinutes != nil && d.SleepStages != nil {
			o := obs(CodeSleepDuration, d.Date, activity(), "")
			q, err := quantityOf(*d.SleepMinutes, "min", "min")
			st := d.SleepStages
			comps := []struct {
				code string
				v    float64
			}{{CodeLightSleepMinutes, st.Light}, {CodeDeepSleepMinutes, st.Deep}, {CodeREMSleepMinutes, st.REM},
				{LocalSleepAwake, st.Awake}, {LocalSleepUnspecified, st.Unspecified}, {LocalSleepInBed, st.InBed}}
			for _, c := range comps {
				if in.IGOnly && vitalsDisplay(c.code) == "" {
					continue
				}
				cq, cerr := quantityOf(c.v, "min", "min")
				err = errors.Join(err, cerr)
				o.Component = append(o.Component, ObservationComponent{Code: coded(c.code), ValueQuantity: cq})
			}
			add(o, "minutes asleep of the sleep sessions that ended on this local day (the sources merged by the patient's ranking)", q, err)
		}
		if hr := d.HeartRate; hr != nil {
			if hr.Mean != nil {
				q, err := quantityOf(*hr.Mean, "/min", "beats/minute")
				add(obs(CodeHeartRate, d.Date, vitalSigns(), ProfileHeartRate),
					"mean of the "+strconv.Itoa(d.HeartRateSamples)+" heart-rate samples of the local day", q, err)
			}
			if hr.Max != nil {
				q, err := quantityOf(*hr.Max, "/min", "beats/minute")
				add(obs(CodeHeartRateMax24h, d.Date, vitalSigns(), ""), "highest heart-rate sample of the local day", q, err)
			}
			if hr.Min != nil && !in.IGOnly {
				q, err := quantityOf(*hr.Min, "/min", "beats/minute")
				add(obs(LocalHeartRateMinDay, d.Date, vitalSigns(), ""), "lowest heart-rate sample of the local day", q, err)
			}
			if hr.Resting != nil {
				q, err := quantityOf(*hr.Resting, "/min", "beats/minute")
				add(obs(CodeRestingHeartRate, d.Date, vitalSigns(), ""), "the resting heart rate the device estimated for the day", q, err)
			}
		}
		for _, p := range d.BloodPressure {
			at, err := time.Parse(time.RFC3339, p.Time)
			if err != nil {
				return nil, fmt.Errorf("fhir: vitals %s: blood pressure time %q: %w", d.Date, p.Time, err)
			}
			o := obs(CodeBloodPressure, at.UTC().Format(time.RFC3339Nano), vitalSigns(), ProfileBloodPressure)
			o.EffectiveDateTime = p.Time
			o.Method = &CodeableConcept{Text: localVitalsMethodLabel + ": one measurement as the device recorded it"}
			sys, err1 := quantityOf(p.Systolic, "mm[Hg]", "mmHg")
			dia, err2 := quantityOf(p.Diastolic, "mm[Hg]", "mmHg")
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, err)
				continue
			}
			o.Component = []ObservationComponent{{Code: coded(CodeSystolic), ValueQuantity: sys}, {Code: coded(CodeDiastolic), ValueQuantity: dia}}
			out = append(out, o)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VitalsBundle returns the Patient and [VitalsObservations] as a Bundle of
// in.Type (a transaction creates each conditionally on its identifier).
func VitalsBundle(in VitalsInput) (Bundle, error) {
	obs, err := VitalsObservations(in)
	if err != nil {
		return Bundle{}, err
	}
	pt, err := PatientResource(in.Base, in.Patient)
	if err != nil {
		return Bundle{}, err
	}
	res := []Resource{&pt}
	for _, o := range obs {
		res = append(res, o)
	}
	b, err := NewBundle(in.Type, in.Base, in.Timestamp, res...)
	if err != nil {
		return Bundle{}, err
	}
	first, last := "", ""
	if len(in.Days) > 0 {
		first, last = in.Days[0].Date, in.Days[len(in.Days)-1].Date
	}
	scope := "all"
	if in.IGOnly {
		scope = "ig-only"
	}
	b.ID = idOf(key("bundle", "vitals", in.Type, scope, in.Patient.ID, first, last))
	return b, nil
}

// VitalEntry is a measurement read from a submitted Observation, before
// its dates are placed in the patient's zone (a date without a time means
// the patient's local day).
type VitalEntry struct {
	// Kind is what it measures.
	Kind vitals.Kind
	// Start and End are the instants given (End = Start for an instant);
	// zero when the Observation gives a date (Date) instead.
	Start, End time.Time
	// Date is the local date (YYYY-MM-DD) of a figure given for a day.
	Date string
	// Value and Value2 are as in vitals.Measurement.
	Value, Value2 float64
	// Source names the device (the Device entry's name or model, the
	// reference's display), "" when the Observation does not say.
	Source string
	// DeviceEntry is the index of the Device entry the Observation's
	// device references, or -1.
	DeviceEntry int
}

// Measurement returns the measurement in the patient's zone loc: a date
// becomes that local day (steps, sleep) or its start (resting heart rate).
// source is used when the entry names none.
func (v VitalEntry) Measurement(loc *time.Location, source string) vitals.Measurement {
	m := vitals.Measurement{Kind: v.Kind, Start: v.Start, End: v.End, Value: v.Value, Value2: v.Value2, Source: v.Source}
	if m.Source == "" {
		m.Source = source
	}
	if v.Date != "" {
		d, _ := time.ParseInLocation(time.DateOnly, v.Date, loc)
		m.Start, m.End = d, d
		if v.Kind.Cumulative() {
			m.End = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
	}
	return m.Normalize()
}

// vitalCode returns the first LOINC code of code that a submission may
// carry as a measurement, or "".
func vitalCode(code CodeableConcept) string {
	for _, c := range code.Coding {
		if c.System != LOINC {
			continue
		}
		switch c.Code {
		case CodeHeartRate, CodeBloodPressure, CodeRestingHeartRate, CodeStepsPerDay, CodeSteps, CodeCaloriesBurned,
			CodeSleepDuration, CodeLightSleepMinutes, CodeDeepSleepMinutes, CodeREMSleepMinutes:
			return c.Code
		}
	}
	return ""
}

// measurement checks a submitted measurement Observation and converts it
// (see ParseSubmissionBundle).
func (p *parser) measurement(d *decoder) {
	i := d.i
	e := &p.sub.Entries[i]
	errs := len(e.Issues)
	bad := func(code, path, format string, a ...any) {
		p.issue(i, SeverityError, code, "resource."+path, format, a...)
	}
	status, _ := str(d.res, "status")
	switch status {
	case "final", "amended", "corrected":
	default:
		bad(IssueValue, "status", "a measurement must be final, amended or corrected (got %q)", status)
	}
	d.subject(true)
	v := &VitalEntry{DeviceEntry: -1}
	switch e.Code {
	case CodeHeartRate:
		v.Kind = vitals.HeartRate
	case CodeRestingHeartRate:
		v.Kind = vitals.RestingHeartRate
	case CodeBloodPressure:
		v.Kind = vitals.BloodPressure
	case CodeStepsPerDay, CodeSteps:
		v.Kind = vitals.Steps
	case CodeCaloriesBurned:
		v.Kind = vitals.ActiveEnergy
	case CodeSleepDuration:
		v.Kind = vitals.SleepAsleep
	case CodeLightSleepMinutes:
		v.Kind = vitals.SleepLight
	case CodeDeepSleepMinutes:
		v.Kind = vitals.SleepDeep
	case CodeREMSleepMinutes:
		v.Kind = vitals.SleepREM
	}

	// When: a dateTime, a period, or (for a day's figure) a date.
	var at string
	var per Period
	hasAt, hasPer := d.get("effectiveDateTime", &at), d.get("effectivePeriod", &per)
	for k := range d.res {
		if strings.HasPrefix(k, "effective") && k != "effectiveDateTime" && k != "effectivePeriod" {
			bad(IssueValue, k, "a measurement has effectiveDateTime or effectivePeriod, not %s", k)
		}
	}
	parseInstant := func(path, s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !dateTimeRE.MatchString(s) {
			bad(IssueValue, path, "want a time to the second with an offset, e.g. 2024-05-02T10:15:00+02:00")
			return time.Time{}
		}
		return t.UTC()
	}
	isDate := func(s string) bool {
		_, err := time.Parse(time.DateOnly, s)
		return err == nil && len(s) == 10
	}
	dayFigure := e.Code == CodeStepsPerDay || e.Code == CodeRestingHeartRate
	interval := e.Code == CodeSteps || e.Code == CodeCaloriesBurned || v.Kind.Sleep()
	switch {
	case hasAt && hasPer:
		bad(IssueInvalid, "effectivePeriod", "give effectiveDateTime or effectivePeriod, not both")
	case hasAt && dayFigure && isDate(at):
		v.Date = at
	case hasAt && interval:
		bad(IssueValue, "effectiveDateTime", "LOINC %s is measured over an interval: give effectivePeriod with start and end", e.Code)
	case hasAt:
		v.Start = parseInstant("effectiveDateTime", at)
		v.End = v.Start
	case hasPer && per.Start != "" && per.End != "" && !(e.Code == CodeBloodPressure):
		if dayFigure && isDate(per.Start) && per.Start == per.End {
			v.Date = per.Start
			break
		}
		v.Start = parseInstant("effectivePeriod.start", per.Start)
		v.End = parseInstant("effectivePeriod.end", per.End)
		if v.Kind.Instant() {
			v.End = v.Start
		}
	case hasPer:
		bad(IssueRequired, "effectivePeriod", "effectivePeriod needs start and end (a blood pressure needs effectiveDateTime)")
	default:
		bad(IssueRequired, "effectiveDateTime", "the time of the measurement is required (effectiveDateTime or effectivePeriod)")
	}

	// The value(s).
	quantity := func(path string, q *Quantity, units ...string) (float64, bool) {
		if q == nil || q.Value == "" {
			bad(IssueRequired, path+".value", "a value is required")
			return 0, false
		}
		if q.System != UCUM || !containsStr(units, q.Code) {
			bad(IssueValue, path+".code", "want UCUM %s (got %q)", strings.Join(units, " or "), q.Code)
			return 0, false
		}
		if q.Comparator != "" {
			bad(IssueValue, path+".comparator", "a measurement is exact: no comparator")
			return 0, false
		}
		f, err := q.Value.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			bad(IssueValue, path+".value", "not a FHIR decimal")
			return 0, false
		}
		return f, true
	}
	if v.Kind == vitals.BloodPressure {
		var comps []ObservationComponent
		d.get("component", &comps)
		var haveSys, haveDia bool
		for j, c := range comps {
			path := fmt.Sprintf("component[%d].valueQuantity", j)
			for _, cd := range c.Code.Coding {
				if cd.System != LOINC {
					continue
				}
				switch cd.Code {
				case CodeSystolic:
					v.Value, haveSys = quantity(path, c.ValueQuantity, "mm[Hg]")
				case CodeDiastolic:
					v.Value2, haveDia = quantity(path, c.ValueQuantity, "mm[Hg]")
				}
			}
		}
		if (!haveSys || !haveDia) && len(e.Issues) == errs {
			bad(IssueRequired, "component", "a blood pressure needs the systolic (LOINC 8480-6) and diastolic (8462-4) components in mm[Hg]")
		}
	} else {
		var q *Quantity
		d.get("valueQuantity", &q)
		var units []string
		switch e.Code {
		case CodeHeartRate, CodeRestingHeartRate:
			units = []string{"/min", "{beats}/min"}
		case CodeStepsPerDay:
			units = []string{"/d", "{steps}/d", "{steps}"}
		case CodeSteps:
			units = []string{"{steps}", "1", "{count}"}
		case CodeCaloriesBurned:
			units = []string{"kcal"}
		default: // sleep
			units = []string{"min"}
		}
		v.Value, _ = quantity("valueQuantity", q, units...)
	}
	if len(e.Issues) > errs {
		return
	}
	if v.Kind.Sleep() {
		// A sleep Observation is read as one interval of its stage.
		if got, want := v.Value, v.End.Sub(v.Start).Minutes(); math.Abs(got-want) > 1 {
			bad(IssueValue, "valueQuantity.value", "a sleep Observation is read as one interval of its stage: its value (%g min) must be the length of effectivePeriod (%g min)", got, want)
			return
		}
	}
	// The device, when referenced.
	var dev Reference
	if d.get("device", &dev) {
		if j := p.resolve(i, dev.Reference); j >= 0 && p.entries[j].typ == "Device" {
			v.Source, v.DeviceEntry = deviceName(p.entries[j].res), j
		}
		if v.Source == "" {
			v.Source = dev.Display
		}
	}
	if len(v.Source) > vitals.MaxSourceLen {
		v.Source = v.Source[:vitals.MaxSourceLen]
	}
	// The values as a measurement would be stored (dates placed in UTC for
	// the check: the zone changes no bound).
	m := v.Measurement(time.UTC, "FHIR")
	if err := m.Validate(time.Time{}); err != nil {
		bad(IssueValue, "valueQuantity", "%s", fieldReason(err))
		return
	}
	e.Vital = v
}

// fieldReason returns what a validation error says, naming its field.
func fieldReason(err error) string {
	var fe *cgm.FieldError
	if errors.As(err, &fe) {
		return fe.Field + ": " + fe.Reason
	}
	return err.Error()
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// deviceName returns the name of a Device entry: its first deviceName, its
// model number, or "".
func deviceName(res map[string]json.RawMessage) string {
	var names []DeviceName
	if raw, ok := res["deviceName"]; ok {
		if err := json.Unmarshal(raw, &names); err == nil && len(names) > 0 && names[0].Name != "" {
			return names[0].Name
		}
	}
	s, _ := str(res, "modelNumber")
	return s
}
