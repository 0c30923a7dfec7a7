package fhir

import "fmt"

// LocalCodeSystem is the canonical URL of fsecgm's own code system for the
// figures the HL7 CGM IG has no profile and LOINC (as used by the IG) has no
// code for: time in tight range, hypo- and hyperglycaemic episodes, scans,
// the Glycemia Risk Index, and the kind of a sensor reading; and, since
// version 1.2.0, the daily figures of the patient's own devices that no
// LOINC code of the Vital Signs and Physical Activity IGs means exactly
// (distance, active energy, minimum heart rate, awake, unstaged and in-bed
// minutes). It is a fixed canonical, the same for
// every deployment, so that a code means one thing wherever it is read; the
// resource itself is [LocalCodes], served at /fhir/CodeSystem/cgm-metrics.
const LocalCodeSystem = "https://fsecgm.example.org/fhir/CodeSystem/cgm-metrics"

// LocalCodeSystemID is the id of [LocalCodes], its path under /fhir/CodeSystem/.
const LocalCodeSystemID = "cgm-metrics"

// LocalCodeSystemVersion is the version of [LocalCodes]; it changes whenever
// a definition changes.
const LocalCodeSystemVersion = "1.2.0"

// The codes of [LocalCodeSystem].
const (
	LocalTimeInTightRange        = "time-in-tight-range"
	LocalHypoLevel1Episodes      = "hypo-level1-episodes"
	LocalHypoLevel2Episodes      = "hypo-level2-episodes"
	LocalHypoLevel1ExclEpisodes  = "hypo-level1-exclusive-episodes"
	LocalHypoExtendedEpisodes    = "hypo-extended-episodes"
	LocalHyperLevel1Episodes     = "hyper-level1-episodes"
	LocalHyperLevel2Episodes     = "hyper-level2-episodes"
	LocalHyperLevel1ExclEpisodes = "hyper-level1-exclusive-episodes"
	LocalHyperExtendedEpisodes   = "hyper-extended-episodes"
	LocalEpisodesPerDay          = "episodes-per-day"
	LocalMeanEpisodeDuration     = "mean-episode-duration"
	LocalMeanEpisodeGlucose      = "mean-episode-glucose"
	LocalScanCount               = "scan-count"
	LocalGRI                     = "glycemia-risk-index"
	LocalGRIHypoComponent        = "gri-hypoglycemia-component"
	LocalGRIHyperComponent       = "gri-hyperglycemia-component"
	LocalGRIZone                 = "gri-zone"
	LocalReadingHistoric         = "reading-historic"
	LocalReadingScan             = "reading-scan"
	LocalReadingCurrent          = "reading-current"
)

// Pieces of the episode definitions below.
const (
	localEpisodeRule               = " An episode starts with %s consecutive minutes %s and ends just before the first run of at least 15 consecutive minutes %s, or where the data stop (a gap longer than 45 minutes ends the trace); shorter excursions stay inside the episode. Durations are counted on the interpolated grid of iglu 4.3.0 (CGMS2DayByDay). Value: the number of episodes in the reporting period (unit {episodes}); components give the episodes per day of data, their mean duration in minutes and their mean glucose."
	localEventSource               = " (Battelino et al., Lancet Diabetes Endocrinol 2023;11:42; Danne et al., Diabetes Care 2017;40:1631; as implemented by iglu 4.3.0 episode_calculation)."
	localLevel2IncludedInLevel1    = " Level 2 episodes are also counted here (as iglu does: the consensus is ambiguous)."
	localLevel1ExclusiveDefinition = " counted only when none of its points is %s (iglu's lv1_excl)."
)

// localConcepts lists the concepts of [LocalCodeSystem], in order.
func localConcepts() []CodeSystemConcept {
	return []CodeSystemConcept{
		{Code: LocalTimeInTightRange, Display: "Time in tight range (70-140 mg/dL)",
			Definition: "Percentage of the historic CGM readings of the reporting period with 70 <= glucose <= 140 mg/dL (3.9-7.8 mmol/L for readings reported in mmol/L), each reading counted once; the secondary target range of Danne et al., Diabetes Care 2017;40:1631 (Table 1) and Battelino et al., Lancet Diabetes Endocrinol 2023;11:42. Unit: %."},
		{Code: LocalHypoLevel1Episodes, Display: "Level 1 hypoglycaemia episodes (< 70 mg/dL)",
			Definition: "Episodes of glucose below 70 mg/dL (3.9 mmol/L)" + localEventSource +
				sprintf(localEpisodeRule, "at least 15", "below 70 mg/dL", "at or above 70 mg/dL") + localLevel2IncludedInLevel1},
		{Code: LocalHypoLevel2Episodes, Display: "Level 2 hypoglycaemia episodes (< 54 mg/dL)",
			Definition: "Episodes of glucose below 54 mg/dL (3.0 mmol/L)" + localEventSource +
				sprintf(localEpisodeRule, "at least 15", "below 54 mg/dL", "at or above 54 mg/dL")},
		{Code: LocalHypoLevel1ExclEpisodes, Display: "Level 1 hypoglycaemia episodes without level 2",
			Definition: "Level 1 hypoglycaemia episodes (code hypo-level1-episodes)" +
				sprintf(localLevel1ExclusiveDefinition, "part of a level 2 episode (below 54 mg/dL)") +
				" Value: the number of episodes in the reporting period (unit {episodes}); components as for hypo-level1-episodes."},
		{Code: LocalHypoExtendedEpisodes, Display: "Extended hypoglycaemia episodes (< 70 mg/dL for more than 120 min)",
			Definition: "Episodes of glucose below 70 mg/dL (3.9 mmol/L) lasting more than 120 consecutive minutes" + localEventSource +
				sprintf(localEpisodeRule, "more than 120", "below 70 mg/dL", "at or above 70 mg/dL")},
		{Code: LocalHyperLevel1Episodes, Display: "Level 1 hyperglycaemia episodes (> 180 mg/dL)",
			Definition: "Episodes of glucose above 180 mg/dL (10.0 mmol/L)" + localEventSource +
				sprintf(localEpisodeRule, "at least 15", "above 180 mg/dL", "at or below 180 mg/dL") + localLevel2IncludedInLevel1},
		{Code: LocalHyperLevel2Episodes, Display: "Level 2 hyperglycaemia episodes (> 250 mg/dL)",
			Definition: "Episodes of glucose above 250 mg/dL (13.9 mmol/L)" + localEventSource +
				sprintf(localEpisodeRule, "at least 15", "above 250 mg/dL", "at or below 250 mg/dL")},
		{Code: LocalHyperLevel1ExclEpisodes, Display: "Level 1 hyperglycaemia episodes without level 2",
			Definition: "Level 1 hyperglycaemia episodes (code hyper-level1-episodes)" +
				sprintf(localLevel1ExclusiveDefinition, "part of a level 2 episode (above 250 mg/dL)") +
				" Value: the number of episodes in the reporting period (unit {episodes}); components as for hyper-level1-episodes."},
		{Code: LocalHyperExtendedEpisodes, Display: "Extended hyperglycaemia episodes (> 250 mg/dL for at least 120 min)",
			Definition: "Episodes of glucose above 250 mg/dL (13.9 mmol/L) lasting at least 120 consecutive minutes (fsecgm's reading of Battelino et al., Lancet Diabetes Endocrinol 2023;11:42; iglu 4.3.0 has no such episode)." +
				sprintf(localEpisodeRule, "at least 120", "above 250 mg/dL", "at or below 250 mg/dL")},
		{Code: LocalEpisodesPerDay, Display: "Episodes per day of data",
			Definition: "Component of an episodes Observation: the number of episodes divided by the days of data of the reporting period (the time covered by the interpolated grid, gaps excluded), as iglu 4.3.0 avg_ep_per_day. Unit: {episodes}/d."},
		{Code: LocalMeanEpisodeDuration, Display: "Mean episode duration",
			Definition: "Component of an episodes Observation: the mean duration of the episodes in minutes (grid points times the grid step), as iglu 4.3.0 avg_ep_duration. Left out when there is no episode. Unit: min."},
		{Code: LocalMeanEpisodeGlucose, Display: "Mean glucose during episodes",
			Definition: "Component of an episodes Observation: the mean over the episodes of each episode's mean interpolated glucose, in mg/dL, as iglu 4.3.0 avg_ep_gl. Left out when there is no episode. Unit: mg/dL."},
		{Code: LocalScanCount, Display: "Number of sensor scans",
			Definition: "The number of scan readings (a FreeStyle Libre reading asked for by scanning the sensor; LibreView record type 1) in the reporting period. Scans do not enter any other figure: the glucometrics use the historic readings only. Unit: {scans}."},
		{Code: LocalGRI, Display: "Glycemia Risk Index (GRI)",
			Definition: "The Glycemia Risk Index of the reporting period (Klonoff et al., J Diabetes Sci Technol 2023;17:1226): 3.0 x the hypoglycaemia component + 1.6 x the hyperglycaemia component (= 3.0 x %VLow + 2.4 x %Low + 1.6 x %VHigh + 0.8 x %High), capped at 100, the percentages being those of the historic readings in the consensus bands (VLow < 54, Low 54-69, High 181-250, VHigh > 250 mg/dL; the mmol/L cut-offs for readings reported in mmol/L), as iglu 4.3.0 gri() computes it. LOINC has no code for it. Value: the index, 0-100 (unit {score}); components: the two components (%) and the zone (gri-zone)."},
		{Code: LocalGRIHypoComponent, Display: "GRI hypoglycaemia component",
			Definition: "Component of a glycemia-risk-index Observation: %VLow + 0.8 x %Low (Klonoff et al. 2023), the horizontal axis of the GRI grid. Not capped. Unit: %."},
		{Code: LocalGRIHyperComponent, Display: "GRI hyperglycaemia component",
			Definition: "Component of a glycemia-risk-index Observation: %VHigh + 0.5 x %High (Klonoff et al. 2023), the vertical axis of the GRI grid. Not capped. Unit: %."},
		{Code: LocalGRIZone, Display: "GRI zone",
			Definition: "Component of a glycemia-risk-index Observation: the GRI zone (Klonoff et al. 2023, Figure 5), its value one of the codes gri-zone-a (GRI 0-20), gri-zone-b (over 20 to 40), gri-zone-c (over 40 to 60), gri-zone-d (over 60 to 80), gri-zone-e (over 80); a GRI equal to a limit belongs to the lower zone."},
		{Code: "gri-zone-a", Display: "GRI zone A (0-20)", Definition: "Value of a gri-zone component: GRI from 0 to 20, the lowest risk quintile of Klonoff et al. 2023."},
		{Code: "gri-zone-b", Display: "GRI zone B (over 20 to 40)", Definition: "Value of a gri-zone component: GRI over 20 and up to 40, the second risk quintile of Klonoff et al. 2023."},
		{Code: "gri-zone-c", Display: "GRI zone C (over 40 to 60)", Definition: "Value of a gri-zone component: GRI over 40 and up to 60, the middle risk quintile of Klonoff et al. 2023."},
		{Code: "gri-zone-d", Display: "GRI zone D (over 60 to 80)", Definition: "Value of a gri-zone component: GRI over 60 and up to 80, the fourth risk quintile of Klonoff et al. 2023."},
		{Code: "gri-zone-e", Display: "GRI zone E (over 80)", Definition: "Value of a gri-zone component: GRI over 80, the highest risk quintile of Klonoff et al. 2023."},
		{Code: LocalDistanceDay, Display: "Walking and running distance in the local day",
			Definition: "The distance walked and run in the patient's local calendar day (23 or 25 hours on the days the clocks change), in metres, from the patient's own devices (HKQuantityTypeIdentifierDistanceWalkingRunning and the like); where two sources overlap in time only the one the patient ranks first counts (as the Apple Health app merges sources; Apple Support HT204351), a sample spanning midnight split in proportion to time. Effective: the local date. Unit: m."},
		{Code: LocalActiveEnergyDay, Display: "Active energy burned in the local day",
			Definition: "The active energy (energy burned above the basal rate; HKQuantityTypeIdentifierActiveEnergyBurned) of the patient's local calendar day, in kilocalories, sources merged as for walking-running-distance-day. LOINC 41979-6 (Calories burned in 24 hour) does not say active and is not used for it. Effective: the local date. Unit: kcal."},
		{Code: LocalHeartRateMinDay, Display: "Lowest heart rate of the local day",
			Definition: "The lowest heart-rate sample of the patient's local calendar day from their own devices, in each minute only the samples of the source the patient ranks first. Effective: the local date. Unit: /min."},
		{Code: LocalSleepAwake, Display: "Awake time within sleep",
			Definition: "Component of a Sleep duration (LOINC 93832-4) Observation: the minutes awake inside the sleep sessions that ended on the local day (HKCategoryValueSleepAnalysisAwake, Fitbit wake). Unit: min."},
		{Code: LocalSleepUnspecified, Display: "Sleep without a stage",
			Definition: "Component of a Sleep duration (LOINC 93832-4) Observation: the minutes asleep for which the device gave no stage (HKCategoryValueSleepAnalysisAsleepUnspecified, Fitbit classic asleep). Unit: min."},
		{Code: LocalSleepInBed, Display: "Time in bed",
			Definition: "Component of a Sleep duration (LOINC 93832-4) Observation: the minutes in bed (HKCategoryValueSleepAnalysisInBed, a Fitbit log's start to end) of the in-bed sessions that ended on the local day; they overlap the stages. Unit: min."},
		{Code: LocalReadingHistoric, Display: "Historic sensor reading",
			Definition: "Used in Observation.method of a CGM sensor reading: an automatic reading the sensor stores at its fixed interval (LibreView record type 0). Only these readings enter the glucometrics."},
		{Code: LocalReadingScan, Display: "Scan sensor reading",
			Definition: "Used in Observation.method of a CGM sensor reading: a reading the user asked for by scanning the sensor (LibreView record type 1). Counted, not used in the glucometrics."},
		{Code: LocalReadingCurrent, Display: "Current sensor reading",
			Definition: "Used in Observation.method of a CGM sensor reading: the real-time value a streaming sensor reports about once a minute (LibreLinkUp glucoseMeasurement). Shown to the patient, not used in the glucometrics."},
	}
}

// localDisplay returns the display of a local code.
func localDisplay(code string) string {
	for _, c := range localConcepts() {
		if c.Code == code {
			return c.Display
		}
	}
	return ""
}

// LocalCodes returns fsecgm's CodeSystem ([LocalCodeSystem]) for publication
// at /fhir/CodeSystem/{[LocalCodeSystemID]}: every local code with its
// display and its definition, which cites the consensus it follows.
func LocalCodes() CodeSystem {
	concepts := localConcepts()
	n := len(concepts)
	yes, no := true, false
	return CodeSystem{
		ID:           LocalCodeSystemID,
		URL:          LocalCodeSystem,
		Version:      LocalCodeSystemVersion,
		Name:         "FsecgmCGMMetrics",
		Title:        "fsecgm CGM metrics without an HL7 CGM IG profile, and daily device measures without a LOINC code",
		Status:       "active",
		Experimental: &no,
		Date:         "2026-01-01",
		Publisher:    "fsecgm",
		Description: "Codes for the continuous glucose monitoring figures fsecgm computes that the HL7 FHIR CGM IG 1.0.0 " +
			"has no profile for: time in tight range, hypo- and hyperglycaemic episodes, scan counts, the Glycemia Risk " +
			"Index with its components and zones, and the kind of a sensor reading; and the daily figures of the patient's own devices " +
			"that no LOINC code of the HL7 Vital Signs profiles or Physical Activity IG means exactly. Each definition cites its source; glucose thresholds are the consensus ones " +
			"(Battelino et al., Diabetes Care 2019;42:1593). These codes are never used where a LOINC code of the IG applies.",
		CaseSensitive: &yes,
		Content:       "complete",
		Count:         &n,
		Concept:       concepts,
	}
}

// sprintf is fmt.Sprintf, kept short for the definitions above.
func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
