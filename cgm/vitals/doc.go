// Package vitals is the vocabulary of the measurements a patient's own
// devices make beside the glucose sensor — steps, distance, active energy,
// sleep stages, heart rate, resting heart rate and blood pressure — and the
// pure functions that turn them into daily summaries on the patient's local
// days. Like package cgm it uses only the standard library and does no I/O:
// the parsers (connectors/applehealth, connectors/takeout, the FHIR
// submission), the store (cgm/cgmstore) and the taccuino all depend on it.
//
// # Measurements
//
// A [Measurement] has a [Kind], a start and an end instant (steps, distance,
// active energy and sleep are intervals; heart rate and blood pressure are
// instants, start = end), a value in the kind's UCUM unit ([Kind.Unit]: {steps},
// m, kcal, min, /min, mm[Hg]; a blood pressure carries the systolic in Value
// and the diastolic in Value2), and the source that recorded it: its name as
// the device or app gave it ("Apple Watch di Mario", "Connect") and its
// [Class] (watch, phone or other). Sleep is stored as stage intervals, as
// HealthKit writes them (HKCategoryValueSleepAnalysis: inBed, asleepUnspecified,
// awake, asleepCore, asleepDeep, asleepREM; Apple Developer Documentation,
// "HKCategoryValueSleepAnalysis"), each valued in minutes.
//
// # Overlapping sources
//
// A phone and a watch worn together both count steps over the same hours;
// two apps may both log the same night. Totals never add them up: as the
// Health app does (Apple Support HT204351, "Manage Health data from multiple
// sources": "Instead of adding similar data from different sources (like the
// steps from your iPhone and the steps from your fitness band), Health
// organizes and inputs data based on where it comes from"; "The data source
// that you place at the top will take priority"), each moment is
// counted once, from the highest-ranked source that has a sample covering it
// ([Ranking]; watch before phone before the rest by default, the patient can
// reorder). A sample that is only partly won keeps the share of its value
// that falls where it wins, spread evenly over its duration. So a day's
// total is the top-ranked source's own total plus what the other sources
// counted in the time it did not cover, and never more than the largest
// single-source total plus that non-overlapping remainder (see [Merge]).
// Heart-rate samples are instants: in each minute only the best-ranked
// source's samples count; blood pressures are all kept (equal ones at the
// same instant once).
//
// # Daily summaries
//
// [Daily] summarises measurements on local calendar days in a zone, so that
// the days when the clocks change have 23 and 25 hours (Europe/Rome, last
// Sunday of March and of October): steps, distance and active energy
// (interval values split over the days they span, in proportion to time),
// sleep attributed to the day the sleep session ends (a session is a run of
// sleep intervals with gaps under [SessionGap]) with total minutes asleep and
// minutes per stage, heart rate minimum, mean and maximum and the resting
// heart rate, and every blood-pressure measurement. Numbers are never
// rounded here, only by the display.
package vitals
