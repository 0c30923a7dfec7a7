// Package fhir maps fsecgm's glucometrics and readings to FHIR R4 JSON as
// the HL7 FHIR Continuous Glucose Monitoring IG 1.0.0 (STU1,
// http://hl7.org/fhir/uv/cgm) defines them, and reads the IG's CGM data
// submission Bundle. It is a pure mapping: no I/O, no clock, no database,
// no HTTP; the standard library, [fsecgm/cgm] and [fsecgm/agp] only.
//
// # What is written
//
// [SummaryBundle] turns an [agp.Report] into the IG's CGM summary panel
// Observation (LOINC 107931-8) with hasMember references to mean glucose
// (97507-8 mg/dL and 105273-7 mmol/L), times in ranges (106793-3, with the
// very low 104642-4, low 104641-6, target 97510-2, high 104640-8 and very
// high 104639-0 components), GMI (97506-0), CV (104638-2), days of wear
// (104636-6) and sensor active % (104637-4), each with meta.profile of its
// IG profile; plus the Patient (codice fiscale identifier,
// http://hl7.it/sid/codiceFiscale), the sensors as cgm-device Devices, and
// the figures the IG has no profile for (time in tight range, hypo- and
// hyperglycaemic episodes, scans) coded in fsecgm's own code system
// [LocalCodeSystem], published by [LocalCodes], never with a LOINC code that
// means something else. [SensorReadings] writes individual readings as
// 99504-3 / 105272-9 Observations; [SummaryReport] the AGP PDF as the IG's
// cgm-summary-pdf DiagnosticReport.
//
// Choices, each documented where it is made:
//
//   - Reporting period: effectivePeriod start and end are the patient's
//     local calendar dates (Europe/Rome unless the report names another
//     zone), end inclusive as a date-only FHIR Period end is (FHIR R4
//     datatypes, Period) ([PeriodOf]).
//   - Identity: every resource has a deterministic identifier (a hash of
//     patient, code and period, or of patient, sensor, kind, instant and
//     code for a reading) and an id derived from it; a transaction Bundle
//     creates each entry conditionally (ifNoneExist), so re-sending is
//     idempotent ([NewBundle]).
//   - Numbers are never rounded: decimals carry every digit of the engine's
//     float64, and percentages at least two decimals ([Decimal],
//     [NewPercent]).
//   - Provenance: every summary Observation's method.text names the engine
//     and definition set and the data sufficiency ([MethodText]); every
//     reading's method names its kind (historic, scan, current).
//   - LO/HI readings keep their limit value with the Quantity comparator
//     "<" or ">" and the interpretation "<" / ">" (off scale low/high)
//     ([SensorReadings]; the HL7 FHIR CGM IG 1.0.0 defines no code for
//     LO/HI).
//   - A report without the figures the IG requires has no summary
//     ([ErrNoSummary]): no value is ever made up.
//   - Category: observation-category laboratory (DiagnosticReport: v2-0074
//     LAB), as the IG's examples and suggested SMART scopes use; the IG
//     mandates none.
//
// # What is read
//
// [ParseSubmissionBundle] reads a $submit-cgm-bundle request: it refuses a
// malformed or oversized submission whole, and otherwise classifies every
// entry (sensor reading → [cgm.Reading], summary kept as received, Device,
// Patient, DiagnosticReport, ServiceRequest), with issues located by
// FHIRPath for [OperationOutcomeFor] and [ResponseBundle].
//
// # Validation
//
// The tests check everything this package writes with two validators that
// are not this package: the R4 structure rules of github.com/google/fhir/go
// (jsonformat with validation), and, when ../shared is present, the
// project's node validator (base R4 plus the IG's profiles). They also read
// the IG's own example instances (testdata/ig-examples, CC0) and compare
// them field by field with what this package writes for the same figures.
package fhir
