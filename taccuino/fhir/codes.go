package fhir

// Code systems and fixed URIs (FHIR R4 and the HL7 FHIR CGM IG 1.0.0, STU1,
// http://hl7.org/fhir/uv/cgm/STU1).
const (
	// LOINC is the code system of every CGM IG code.
	LOINC = "http://loinc.org"
	// UCUM is the system of every quantity's unit code.
	UCUM = "http://unitsofmeasure.org"
	// ObservationCategory is the R4 observation-category code system.
	ObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	// DiagnosticServiceSection is HL7 v2 table 0074, used by the IG's
	// DiagnosticReport example ("LAB").
	DiagnosticServiceSection = "http://terminology.hl7.org/CodeSystem/v2-0074"
	// ObservationInterpretation is the R4 (v3) interpretation code system.
	ObservationInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	// IdentifierType is HL7 v2 table 0203 (identifier type).
	IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	// FiscalCodeSystem is the identifier system of the Italian codice
	// fiscale (HL7 Italia FHIR base, hl7.fhir.it.base, Patient-it-base,
	// identifier slice codiceFiscale).
	FiscalCodeSystem = "http://hl7.it/sid/codiceFiscale"
)

// IGCanonical is the canonical base of the HL7 FHIR CGM IG (STU1, 1.0.0).
const IGCanonical = "http://hl7.org/fhir/uv/cgm"

// The CGM IG profiles fsecgm emits resources for.
const (
	ProfileSummary            = IGCanonical + "/StructureDefinition/cgm-summary"
	ProfileMeanGlucoseMass    = IGCanonical + "/StructureDefinition/cgm-summary-mean-glucose-mass-per-volume"
	ProfileMeanGlucoseMolar   = IGCanonical + "/StructureDefinition/cgm-summary-mean-glucose-moles-per-volume"
	ProfileTimesInRanges      = IGCanonical + "/StructureDefinition/cgm-summary-times-in-ranges"
	ProfileGMI                = IGCanonical + "/StructureDefinition/cgm-summary-gmi"
	ProfileCV                 = IGCanonical + "/StructureDefinition/cgm-summary-coefficient-of-variation"
	ProfileDaysOfWear         = IGCanonical + "/StructureDefinition/cgm-summary-days-of-wear"
	ProfileSensorActive       = IGCanonical + "/StructureDefinition/cgm-summary-sensor-active-percentage"
	ProfileSensorReadingMass  = IGCanonical + "/StructureDefinition/cgm-sensor-reading-mass-per-volume"
	ProfileSensorReadingMolar = IGCanonical + "/StructureDefinition/cgm-sensor-reading-moles-per-volume"
	ProfileSummaryPDF         = IGCanonical + "/StructureDefinition/cgm-summary-pdf"
	ProfileDevice             = IGCanonical + "/StructureDefinition/cgm-device"
	ProfileSubmissionBundle   = IGCanonical + "/StructureDefinition/cgm-data-submission-bundle"
)

// The LOINC codes of the CGM IG STU1, with the displays the IG publisher
// renders from the terminology server (the narratives of the STU1 examples,
// e.g. https://hl7.org/fhir/uv/cgm/Observation-cgmSummaryTimesInRangesExample.html;
// not the names in the comments of the IG's input/fsh/profiles.fsh, which
// call 104642-4 level 1 while it is the very low code).
const (
	CodeSummary           = "107931-8" // CGM summary panel (Observation and DiagnosticReport)
	CodeTimesInRanges     = "106793-3"
	CodeTimeVeryLow       = "104642-4"
	CodeTimeLow           = "104641-6"
	CodeTimeInTarget      = "97510-2"
	CodeTimeHigh          = "104640-8"
	CodeTimeVeryHigh      = "104639-0"
	CodeMeanGlucoseMass   = "97507-8"
	CodeMeanGlucoseMolar  = "105273-7"
	CodeGMI               = "97506-0"
	CodeCV                = "104638-2"
	CodeDaysOfWear        = "104636-6"
	CodeSensorActive      = "104637-4"
	CodeSensorReadingMass = "99504-3"
	CodeSensorReadingMol  = "105272-9"
)

// loincDisplay returns the LOINC display of a code above ("" for others).
func loincDisplay(code string) string {
	switch code {
	case CodeSummary:
		return "Continuous glucose monitoring summary panel - Reporting Period"
	case CodeTimesInRanges:
		return "Continuous glucose monitoring time in ranges panel"
	case CodeTimeVeryLow:
		return "Time below range, very low in Reporting Period Interstitial fluid by calculation"
	case CodeTimeLow:
		return "Time below range, low in Reporting Period Interstitial fluid by calculation"
	case CodeTimeInTarget:
		return "Glucose measurements in range out of Total glucose measurements during reporting period"
	case CodeTimeHigh:
		return "Time above range, high in Reporting Period Interstitial fluid by calculation"
	case CodeTimeVeryHigh:
		return "Time above range, very high in Reporting Period Interstitial fluid by calculation"
	case CodeMeanGlucoseMass:
		return "Average glucose [Mass/volume] in Interstitial fluid during Reporting Period"
	case CodeMeanGlucoseMolar:
		return "Glucose [Moles/volume] in Reporting Period mean Interstitial fluid by calculation"
	case CodeGMI:
		return "Glucose management indicator"
	case CodeCV:
		return "Glucose standard deviation/Glucose mean in Reporting Period Interstitial fluid by calculation"
	case CodeDaysOfWear:
		return "Days continuous glucose monitor device worn [#] Reporting Period Estimated"
	case CodeSensorActive:
		return "Percentage of time continuous glucose monitor device worn Reporting Period Calculated"
	case CodeSensorReadingMass:
		return "Glucose [Mass/volume] in Interstitial fluid"
	case CodeSensorReadingMol:
		return "Glucose [Moles/volume] in Interstitial fluid"
	}
	return ""
}

// isSummaryCode reports whether code is the LOINC code of one of the IG's
// summary Observations (the panel or a member): a device platform's
// summaries are recognised by it.
func isSummaryCode(code string) bool {
	switch code {
	case CodeSummary, CodeTimesInRanges, CodeMeanGlucoseMass, CodeMeanGlucoseMolar,
		CodeGMI, CodeCV, CodeDaysOfWear, CodeSensorActive:
		return true
	}
	return false
}

// unit is a UCUM unit code of a quantity fsecgm writes.
type unit string

// The units of the IG's figures and of the local ones.
const (
	unitMgDL           unit = "mg/dL"
	unitMmolL          unit = "mmol/L"
	unitPercent        unit = "%"
	unitDays           unit = "d"
	unitEpisodes       unit = "{episodes}"
	unitEpisodesPerDay unit = "{episodes}/d"
	unitMinutes        unit = "min"
	unitScans          unit = "{scans}"
	unitScore          unit = "{score}"
)

// text returns the human unit text written beside the code: for the IG's
// units exactly the text its profiles fix in their pattern ("mg/dl",
// "mmol/l", "days", "%", as the IG's published examples carry), since a
// validator compares it too.
func (u unit) text() string {
	switch u {
	case unitMgDL:
		return "mg/dl"
	case unitMmolL:
		return "mmol/l"
	case unitDays:
		return "days"
	case unitEpisodes:
		return "episodes"
	case unitEpisodesPerDay:
		return "episodes/day"
	case unitScans:
		return "scans"
	case unitScore:
		return "score"
	}
	return string(u)
}

// quantity returns the quantity v in u.
func (u unit) quantity(v Decimal) *Quantity {
	return &Quantity{Value: v, Unit: u.text(), System: UCUM, Code: string(u)}
}
