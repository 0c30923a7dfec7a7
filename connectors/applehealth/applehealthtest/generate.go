// Package applehealthtest writes Apple Health exports for tests and
// benchmarks: an export.xml in the structure of the real ones (the Health
// app's DTD header, HealthData, ExportDate, Me, Records with HKDevice
// descriptions and dates in the export-time offset, blood-pressure
// Correlations with their top-level copies), of any length, streamed so
// that a file of gigabytes needs no memory.
package applehealthtest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"time"
)

// Options shape a generated export.
type Options struct {
	// Start is the first day (its date in Location); Days how many.
	Start time.Time
	Days  int
	// Location is the wearer's zone (Europe/Rome when nil): the day's
	// routine follows its clock.
	Location *time.Location
	// Offset is the offset every date is written with, as the Health app
	// writes the offset in force at export time (+0100 when zero).
	Offset time.Duration
}

// Watch and Phone are the sources' names; WatchDevice and PhoneDevice their
// HKDevice descriptions (the pointer part varies in real files; fixed here).
const (
	Watch       = "Apple Watch di Mario"
	Phone       = "iPhone di Mario"
	Omron       = "OMRON connect"
	WatchDevice = "&lt;&lt;HKDevice: 0x283e1c2d0&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:10.1&gt;"
	PhoneDevice = "&lt;&lt;HKDevice: 0x283e1c4b0&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.1&gt;"
)

const header = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 11 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ELEMENT MetadataEntry EMPTY>
]>
<HealthData locale="it_IT">
 <ExportDate value="%s"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexMale" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>
`

// Counts are the records a generated export holds, by what they are.
type Counts struct {
	// Records counts every Record element (top level and in
	// correlations).
	Records int
	// Steps, Distance, Energy, HeartRate, Resting, Sleep count the top
	// level records of each; Pressures the blood-pressure correlations.
	Steps, Distance, Energy, HeartRate, Resting, Sleep, Pressures int
	// Other counts records of types the reader skips.
	Other int
}

// Measurements returns how many measurements a reader makes of them.
func (c Counts) Measurements() int {
	return c.Steps + c.Distance + c.Energy + c.HeartRate + c.Resting + c.Sleep + c.Pressures
}

// Write writes an export to w and returns what it holds. Each day the
// watch counts steps in 10-minute samples from 07:00 to 22:00, the phone
// in 17-minute samples from 08:00 to 20:00 over the same hours; both
// write distance (the phone in miles) and the watch active energy; the
// watch's heart rate every 5 minutes and a resting heart rate; a night of
// sleep stages from 23:00 (core, deep, REM, awake) with the phone's
// in-bed interval; a blood pressure every morning from a monitor, as a
// correlation and its two top-level copies; and a flights-climbed record
// the reader skips.
func Write(w io.Writer, o Options) (Counts, error) {
	loc := o.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Europe/Rome"); err != nil {
			return Counts{}, err
		}
	}
	off := o.Offset
	if off == 0 {
		off = time.Hour
	}
	zone := time.FixedZone("export", int(off/time.Second))
	bw := bufio.NewWriterSize(w, 256<<10)
	g := &gen{w: bw, zone: zone}
	start := time.Date(o.Start.Year(), o.Start.Month(), o.Start.Day(), 0, 0, 0, 0, loc)
	fmt.Fprintf(bw, header, g.date(start.AddDate(0, 0, o.Days)))
	for d := range o.Days {
		g.day(start.AddDate(0, 0, d), d)
	}
	bw.WriteString("</HealthData>\n")
	if err := bw.Flush(); err != nil {
		return Counts{}, err
	}
	return g.c, nil
}

type gen struct {
	w    *bufio.Writer
	zone *time.Location
	c    Counts
	buf  []byte
}

func (g *gen) date(t time.Time) string { return t.In(g.zone).Format("2006-01-02 15:04:05 -0700") }

// record writes one Record element.
func (g *gen) record(indent, typ, source, device, unit string, start, end time.Time, value string) {
	g.buf = g.buf[:0]
	g.buf = append(g.buf, indent...)
	g.buf = append(g.buf, `<Record type="`...)
	g.buf = append(g.buf, typ...)
	g.buf = append(g.buf, `" sourceName="`...)
	g.buf = append(g.buf, source...)
	g.buf = append(g.buf, `" sourceVersion="10.1"`...)
	if device != "" {
		g.buf = append(g.buf, ` device="`...)
		g.buf = append(g.buf, device...)
		g.buf = append(g.buf, '"')
	}
	if unit != "" {
		g.buf = append(g.buf, ` unit="`...)
		g.buf = append(g.buf, unit...)
		g.buf = append(g.buf, '"')
	}
	g.buf = append(g.buf, ` creationDate="`...)
	g.buf = append(g.buf, g.date(end.Add(3*time.Minute))...)
	g.buf = append(g.buf, `" startDate="`...)
	g.buf = append(g.buf, g.date(start)...)
	g.buf = append(g.buf, `" endDate="`...)
	g.buf = append(g.buf, g.date(end)...)
	g.buf = append(g.buf, `" value="`...)
	g.buf = append(g.buf, value...)
	g.buf = append(g.buf, "\"/>\n"...)
	g.w.Write(g.buf)
	g.c.Records++
}

func num(v float64) string { return fmt.Sprint(math.Round(v*1000) / 1000) }

// day writes day number n, starting at local midnight day.
func (g *gen) day(day time.Time, n int) {
	at := func(h, m int) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, day.Location())
	}
	wave := func(i int) float64 { return 0.5 + 0.5*math.Sin(float64(i+n*7)/5) }
	// Steps, distance and energy: the watch.
	for i, t := 0, at(7, 0); t.Before(at(22, 0)); i, t = i+1, t.Add(10*time.Minute) {
		s := math.Round(200 + 900*wave(i))
		g.record(" ", "HKQuantityTypeIdentifierStepCount", Watch, WatchDevice, "count", t, t.Add(10*time.Minute), num(s))
		g.record(" ", "HKQuantityTypeIdentifierDistanceWalkingRunning", Watch, WatchDevice, "km", t, t.Add(10*time.Minute), num(s*0.00072))
		g.record(" ", "HKQuantityTypeIdentifierActiveEnergyBurned", Watch, WatchDevice, "kcal", t, t.Add(10*time.Minute), num(s*0.04))
		g.c.Steps++
		g.c.Distance++
		g.c.Energy++
	}
	// The phone over the same hours.
	for i, t := 0, at(8, 0); t.Before(at(20, 0)); i, t = i+1, t.Add(17*time.Minute) {
		s := math.Round(300 + 1200*wave(i+3))
		g.record(" ", "HKQuantityTypeIdentifierStepCount", Phone, PhoneDevice, "count", t, t.Add(17*time.Minute), num(s))
		g.record(" ", "HKQuantityTypeIdentifierDistanceWalkingRunning", Phone, PhoneDevice, "mi", t, t.Add(17*time.Minute), num(s*0.00045))
		g.c.Steps++
		g.c.Distance++
	}
	// Heart rate every 5 minutes, resting once.
	for i, t := 0, at(0, 2); t.Before(at(23, 59)); i, t = i+1, t.Add(5*time.Minute) {
		g.record(" ", "HKQuantityTypeIdentifierHeartRate", Watch, WatchDevice, "count/min", t, t, num(58+30*wave(i)))
		g.c.HeartRate++
	}
	g.record(" ", "HKQuantityTypeIdentifierRestingHeartRate", Watch, WatchDevice, "count/min", at(0, 5), at(23, 55), num(55+float64(n%7)))
	g.c.Resting++
	g.record(" ", "HKQuantityTypeIdentifierFlightsClimbed", Phone, PhoneDevice, "count", at(12, 0), at(12, 3), "2")
	g.c.Other++
	// Sleep from 23:00: 90-minute cycles of core, deep, REM, and an awake.
	bed := at(22, 50)
	g.record(" ", "HKCategoryTypeIdentifierSleepAnalysis", Phone, PhoneDevice, "", bed, bed.Add(8*time.Hour+20*time.Minute), "HKCategoryValueSleepAnalysisInBed")
	g.c.Sleep++
	t := at(23, 0)
	for c := range 5 {
		for _, st := range []struct {
			v   string
			min int
		}{{"AsleepCore", 45}, {"AsleepDeep", 20 - 3*c}, {"AsleepREM", 15 + 4*c}, {"Awake", 3}} {
			end := t.Add(time.Duration(st.min) * time.Minute)
			g.record(" ", "HKCategoryTypeIdentifierSleepAnalysis", Watch, WatchDevice, "", t, end, "HKCategoryValueSleepAnalysis"+st.v)
			g.c.Sleep++
			t = end
		}
	}
	// A morning blood pressure: the correlation and its top-level copies.
	bp := at(7, 30)
	sys, dia := num(118+float64(n%15)), num(76+float64(n%9))
	g.record(" ", "HKQuantityTypeIdentifierBloodPressureSystolic", Omron, "", "mmHg", bp, bp, sys)
	g.record(" ", "HKQuantityTypeIdentifierBloodPressureDiastolic", Omron, "", "mmHg", bp, bp, dia)
	fmt.Fprintf(g.w, " <Correlation type=\"HKCorrelationTypeIdentifierBloodPressure\" sourceName=\"%s\" sourceVersion=\"8.1\" creationDate=\"%s\" startDate=\"%s\" endDate=\"%s\">\n  <MetadataEntry key=\"HKWasUserEntered\" value=\"0\"/>\n",
		Omron, g.date(bp.Add(time.Minute)), g.date(bp), g.date(bp))
	g.record("  ", "HKQuantityTypeIdentifierBloodPressureDiastolic", Omron, "", "mmHg", bp, bp, dia)
	g.record("  ", "HKQuantityTypeIdentifierBloodPressureSystolic", Omron, "", "mmHg", bp, bp, sys)
	g.w.WriteString(" </Correlation>\n")
	g.c.Pressures++
}
