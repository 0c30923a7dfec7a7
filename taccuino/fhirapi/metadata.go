package fhirapi

import (
	"net/http"

	"fsecgm/taccuino/fhir"

	"github.com/labstack/echo/v5"
)

// The canonical URLs of the IG's definitions this server implements.
const (
	// DataReceiverCanonical is the IG's CapabilityStatement for CGM data
	// receivers, which /metadata instantiates (the IG requires it).
	DataReceiverCanonical = fhir.IGCanonical + "/CapabilityStatement/cgm-data-receiver"
	// SubmitOperationCanonical is the IG's $submit-cgm-bundle.
	SubmitOperationCanonical = fhir.IGCanonical + "/OperationDefinition/submit-cgm-bundle"
)

// capabilityDate is the date of the CapabilityStatement: when what it
// says last changed.
const capabilityDate = "2026-05-01"

// The CapabilityStatement, with only the elements used.
type capabilityStatement struct {
	ResourceType   string           `json:"resourceType"`
	ID             string           `json:"id,omitempty"`
	URL            string           `json:"url,omitempty"`
	Version        string           `json:"version,omitempty"`
	Name           string           `json:"name,omitempty"`
	Title          string           `json:"title,omitempty"`
	Status         string           `json:"status"`
	Date           string           `json:"date"`
	Publisher      string           `json:"publisher,omitempty"`
	Description    string           `json:"description,omitempty"`
	Kind           string           `json:"kind"`
	Instantiates   []string         `json:"instantiates,omitempty"`
	Software       *capSoftware     `json:"software,omitempty"`
	Implementation *capImplementing `json:"implementation,omitempty"`
	FHIRVersion    string           `json:"fhirVersion"`
	Format         []string         `json:"format"`
	Rest           []capRest        `json:"rest"`
}

type capSoftware struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

type capImplementing struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

type capRest struct {
	Mode          string         `json:"mode"`
	Documentation string         `json:"documentation,omitempty"`
	Security      *capSecurity   `json:"security,omitempty"`
	Resource      []capResource  `json:"resource,omitempty"`
	Operation     []capOperation `json:"operation,omitempty"`
}

type capSecurity struct {
	Service     []fhir.CodeableConcept `json:"service,omitempty"`
	Description string                 `json:"description,omitempty"`
}

type capResource struct {
	Type              string           `json:"type"`
	SupportedProfile  []string         `json:"supportedProfile,omitempty"`
	Documentation     string           `json:"documentation,omitempty"`
	Interaction       []capInteraction `json:"interaction"`
	Versioning        string           `json:"versioning,omitempty"`
	ReadHistory       *bool            `json:"readHistory,omitempty"`
	UpdateCreate      *bool            `json:"updateCreate,omitempty"`
	ConditionalCreate *bool            `json:"conditionalCreate,omitempty"`
	ConditionalRead   string           `json:"conditionalRead,omitempty"`
	ConditionalUpdate *bool            `json:"conditionalUpdate,omitempty"`
	ConditionalDelete string           `json:"conditionalDelete,omitempty"`
	SearchParam       []capSearchParam `json:"searchParam,omitempty"`
}

type capInteraction struct {
	Code          string `json:"code"`
	Documentation string `json:"documentation,omitempty"`
}

type capSearchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type capOperation struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// The R4 definitions of the standard search parameters used.
const (
	spPatientIdentifier = "http://hl7.org/fhir/SearchParameter/Patient-identifier"
	spClinicalPatient   = "http://hl7.org/fhir/SearchParameter/clinical-patient"
	spClinicalCode      = "http://hl7.org/fhir/SearchParameter/clinical-code"
	spClinicalDate      = "http://hl7.org/fhir/SearchParameter/clinical-date"
)

// searchDoc documents the result parameters and paging every search has.
const searchDoc = " Result parameters: _count (default 20, at most 100; 0 returns the total only) and _sort (date, the default, or -date: by effective start, then id). " +
	"Pages follow the Bundle's next and previous links. Unknown parameters are refused with 400 unless the request sends Prefer: handling=lenient."

// capability returns the CapabilityStatement of the API: what it really
// serves, and nothing else (TestCapabilityTellsTheTruth checks both ways).
func (a *api) capability() capabilityStatement {
	patientParams := []capSearchParam{
		{Name: "patient", Definition: spClinicalPatient, Type: "reference", Documentation: "Required: Patient/<id> (one patient per search)."},
		{Name: "code", Definition: spClinicalCode, Type: "token", Documentation: "system|code, |code or code; alternatives separated by commas."},
		{Name: "date", Definition: spClinicalDate, Type: "date", Documentation: "The effective time; prefixes eq (default), gt, lt, ge, le, with the R4 semantics of ranges; repeat for AND. Values without offset are read in Europe/Rome."},
		{Name: "origin", Type: "token", Documentation: "fsecgm's extension: fsecgm (the default: figures computed by fsecgm), submitted (received from device platforms and laboratories, kept as received), or fsecgm,submitted."},
	}
	observationProfiles := []string{
		fhir.ProfileSummary, fhir.ProfileMeanGlucoseMass, fhir.ProfileMeanGlucoseMolar, fhir.ProfileTimesInRanges,
		fhir.ProfileGMI, fhir.ProfileCV, fhir.ProfileDaysOfWear, fhir.ProfileSensorActive,
		fhir.ProfileSensorReadingMass, fhir.ProfileSensorReadingMolar,
	}
	return capabilityStatement{
		ResourceType: "CapabilityStatement",
		ID:           "fsecgm",
		URL:          a.base + "/metadata",
		Version:      a.opts.Version,
		Name:         "FsecgmFHIRAPI",
		Title:        "fsecgm FHIR API",
		Status:       "active",
		Date:         capabilityDate,
		Publisher:    "fsecgm",
		Description: "Continuous glucose monitoring data of the Tuscan regional health record: CGM summaries (HL7 CGM IG 1.0.0) " +
			"computed by fsecgm, their AGP reports, the sensors, and the IG's data submission operation.",
		Kind:           "instance",
		Instantiates:   []string{DataReceiverCanonical},
		Software:       &capSoftware{Name: "fsecgm", Version: a.opts.Version},
		Implementation: &capImplementing{Description: "fsecgm FHIR API", URL: a.base},
		FHIRVersion:    "4.0.1",
		Format:         []string{"application/fhir+json", "json"},
		Rest: []capRest{{
			Mode: "server",
			Documentation: "Every access to a patient's data is decided by the patient's consent and care relationships and written in the patient's access log. " +
				"Reads and searches cover one patient each.",
			Security: &capSecurity{
				Service: []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service",
					Code: "OAuth", Display: "OAuth"}}}},
				Description: "Bearer tokens of the regional identity provider (OpenID Connect). Services use SMART Backend Services scopes: " +
					"system/Observation.rs to read (with the patient's third-party consent), " + ScopeSubmit + " (and system/Observation.rs) to submit.",
			},
			Resource: []capResource{
				{
					Type:          "Patient",
					Documentation: "The patients of fsecgm; id is the patient's public id.",
					Interaction:   []capInteraction{{Code: "read"}, {Code: "search-type"}},
					SearchParam: []capSearchParam{{Name: "identifier", Definition: spPatientIdentifier, Type: "token",
						Documentation: "Required: " + fhir.FiscalCodeSystem + "|<codice fiscale> or " + a.base + "/identifier/patient|<public id>. " +
							"A patient the caller may not see is not found." + searchDoc}},
				},
				{
					Type:             "Observation",
					SupportedProfile: observationProfiles,
					Documentation: "CGM summaries and their figures (fsecgm's, and those submitted by device platforms), " +
						"laboratory HbA1c results (LOINC 4548-4) and, by read only, submitted sensor readings." + searchDoc,
					Interaction: []capInteraction{{Code: "read"}, {Code: "search-type"},
						{Code: "create", Documentation: "Laboratory HbA1c only (LOINC 4548-4, valueQuantity in %); CGM data goes through $submit-cgm-bundle."}},
					Versioning:        "versioned",
					ReadHistory:       ptr(false),
					UpdateCreate:      ptr(false),
					ConditionalCreate: ptr(true),
					ConditionalRead:   "not-supported",
					ConditionalUpdate: ptr(false),
					ConditionalDelete: "not-supported",
					SearchParam:       patientParams,
				},
				{
					Type:             "DiagnosticReport",
					SupportedProfile: []string{fhir.ProfileSummaryPDF},
					Documentation:    "The AGP report PDF of each CGM summary (presentedForm), referencing the summary Observation." + searchDoc,
					Interaction:      []capInteraction{{Code: "read"}, {Code: "search-type"}},
					Versioning:       "versioned",
					ReadHistory:      ptr(false),
					SearchParam:      patientParams,
				},
				{
					Type:             "Device",
					SupportedProfile: []string{fhir.ProfileDevice},
					Documentation:    "The CGM sensors of the summaries and submissions.",
					Interaction:      []capInteraction{{Code: "read"}},
				},
				{
					Type:          "CodeSystem",
					Documentation: "CodeSystem/" + fhir.LocalCodeSystemID + ": fsecgm's codes for the figures the IG has no profile for.",
					Interaction:   []capInteraction{{Code: "read"}},
				},
				{
					Type:          "Measure",
					Documentation: "The population view's indicators: the share of patients with sufficient CGM data meeting each consensus target, and in each zone of the Glycemia Risk Index (proportion scoring), stratified by ASL, district, centre, age band, sex and diabetes type.",
					Interaction:   []capInteraction{{Code: "read"}, {Code: "search-type"}},
				},
				{
					Type: "MeasureReport",
					Documentation: "The latest published figures of a population scope (scope=region, asl:CODE or centre:ID; period=14d or 90d; measure=id or URL): " +
						"one summary MeasureReport per indicator, counts as published (suppressed ones absent, data-absent-reason masked). Analysts and centres' heads only; every query is audited.",
					Interaction: []capInteraction{{Code: "search-type"}},
					SearchParam: []capSearchParam{{Name: "scope", Type: "token"}, {Name: "period", Type: "token"}, {Name: "measure", Type: "reference"}},
				},
			},
			Operation: []capOperation{{Name: "submit-cgm-bundle", Definition: SubmitOperationCanonical,
				Documentation: "POST /$submit-cgm-bundle with the IG's CGM data submission Bundle about one patient. " +
					"Conditional create: ifNoneExist identifier=SYSTEM|VALUE only (any other condition: the entry is refused with 400). " +
					"Client identifiers are kept: a known one with ifNoneExist answers 200 with its location; a summary resent without it is stored as a new version. " +
					"Sensor readings are deduplicated by patient, instant and kind; summaries are kept as received, apart from fsecgm's own."}},
		}},
	}
}

// metadata serves GET /metadata: public, as FHIR requires.
func (a *api) metadata(c *echo.Context) error {
	return writeResource(c, http.StatusOK, a.capability())
}
