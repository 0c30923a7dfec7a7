// Package agp computes the glucometrics of the Ambulatory Glucose Profile
// report from a patient's CGM readings: mean glucose, SD, CV, GMI, time in
// the five consensus ranges and in tight range, hypo- and hyperglycaemic
// episodes, scans, days worn, % time CGM active, data sufficiency, the AGP
// percentile profile and daily profiles.
//
// The engine is a pure function ([Compute]): no I/O, no clock, no logger.
// The caller passes the readings (a [cgm.Series], already sorted and
// deduplicated), the patient's time zone and, optionally, the reporting
// period.
//
// # Definitions
//
// Every figure follows the definitions of
// the International Consensus on Time in Range (Battelino et al., Diabetes
// Care 2019;42:1593), the GMI (Bergenstal et al., Diabetes Care
// 2018;41:2275), the CGM metrics for clinical trials (Battelino et al.,
// Lancet Diabetes Endocrinol 2023;11:42), and, where the papers leave a detail
// open, the choices of the open reference implementation iglu 4.3.0 (Broll et
// al., PLoS One 2021;16:e0248560), so that each figure can be checked against
// a published implementation:
//
//   - Only historic readings enter the statistics; scans are counted.
//   - Statistics use the raw readings, each counted once, with no
//     interpolation or time weighting. SD is the sample SD (n−1), computed
//     with gonum's stat.MeanStdDev; CV % = SD / mean · 100.
//   - GMI % = 3.31 + 0.02392 · mean mg/dL; GMI mmol/mol = 12.71 + 4.70587 ·
//     mean mmol/L (Jaeb Center's published equations; no rounding inside).
//   - Ranges: very low < 54; low 54 ≤ g < 70; target 70 ≤ g ≤ 180; high
//     180 < g ≤ 250; very high > 250 mg/dL; tight 70 ≤ g ≤ 140. Readings
//     reported in mmol/L are classified in mmol/L against the consensus
//     mmol/L cut-offs (< 3.0, < 3.9, ≤ 10.0, ≤ 13.9; tight 3.9–7.8), never
//     after a conversion.
//   - Quantiles are R's and numpy's default, type 7 (Hyndman and Fan 1996):
//     h = (n−1)p, linear between order statistics, computed as R computes it.
//     gonum's stat.Quantile offers only the empirical (type 1) and LinInterp
//     (type 4) estimators, so the engine implements type 7 itself.
//   - Episodes and the AGP use iglu's interpolated grid (CGMS2DayByDay): step
//     dt0 = round-half-even of the median interval, grid points at local
//     midnight of the first day plus k·dt0 (k ≥ 1), linear interpolation,
//     no value strictly inside a gap longer than 45 minutes.
//   - Episodes follow iglu's episode_calculation: a start needs ceil(15/dt0)
//     flagged points in a row, an end the same number of unflagged points;
//     level 2 episodes are also level 1 episodes; extended hypoglycaemia
//     needs more than 120 minutes below 70 mg/dL.
//   - % time CGM active: iglu's active_percent for an automatic period; for
//     a given period, the historic readings (at most one per interval slot)
//     over the readings the period can hold.
//
// # Extended metrics and the Glycemia Risk Index
//
// With [Options].Extended (or [ComputeExtended]) the report also carries
// every figure of iglu 4.3.0's all_metrics() with its default parameters:
// 59 metrics ([Metric], in all_metrics' column order, keyed by
// [Metric.Key], the column name in snake case). Each function cites the
// paper that introduced its metric (Kovatchev 1997 and 2006 for LBGI, HBGI
// and ADRR, Service 1970 for MAGE, McDonnell 2005 for CONGA, Molnar 1972
// for MODD, Hill 2007 for GRADE, Rodbard 2009 for the SD components, Peyser
// 2018 for GVP, Klonoff 2023 for GRI, …) and iglu's documentation where the
// paper leaves a detail open; each states its complexity. MAGE and the SD
// components are linear in the readings (MAGE is checked against iglu's
// quadratic loops). A figure iglu gives as NA is NaN here and null in JSON.
//
// The day-based measures (MODD, the CV measures, SDw, SDhhmm, SDdm, SDb,
// SDbdm) use iglu's interpolated grid laid on the patient's local days,
// like the rest of the engine; iglu anchors that grid on UTC, so on the
// repeated autumn hour it drops twelve five-minute readings and measures a
// day against itself (TestExtendedDSTRepeatedHour).
//
// The Glycemia Risk Index (Klonoff et al., J Diabetes Sci Technol
// 2023;17:1226) is in every report ([Report].GRI): 3.0 × the hypoglycaemia
// component (% < 54 + 0.8 × % 54–70) + 1.6 × the hyperglycaemia component
// (% > 250 + 0.5 × % 180–250), capped at 100, with its zone A–E
// ([GRIZone]).
//
// # Time zones
//
// Calendar days, days worn, daily profiles and AGP time-of-day slots use the
// local wall clock of the patient's zone: a day of 23 or 25 hours has 23 or
// 25 hours of data, the repeated hour contributes both of its readings to
// its slots, and nothing adds a fixed 24 hours to move from one day to the
// next. Instants stay in UTC.
package agp
