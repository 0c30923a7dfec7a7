// Package fhirapi serves fsecgm's FHIR R4 API under /fhir (JSON only,
// application/fhir+json; application/json is accepted too): the HL7 CGM
// IG's data receiver ($submit-cgm-bundle) and the reads and searches a
// clinical record or a SMART client needs to fetch CGM summaries.
//
// What it serves is exactly what GET /fhir/metadata says (a test checks
// every claim both ways):
//
//   - Patient: read (by public id) and search by identifier (the codice
//     fiscale, system http://hl7.it/sid/codiceFiscale, or fsecgm's public
//     id, system <base>/identifier/patient).
//   - Observation: read; search by patient (required), code
//     (system|code, |code or code; comma for OR), date (the effective
//     time; prefixes eq, gt, lt, ge, le with the FHIR R4 semantics of
//     ranges; repeat for AND), origin, _count (at most 100) and _sort
//     (date or -date); create of a laboratory HbA1c (LOINC 4548-4, in %),
//     conditional with If-None-Exist: identifier=SYSTEM|VALUE.
//   - DiagnosticReport (the AGP report PDF, the IG's cgm-summary-pdf):
//     read; search like Observation.
//   - Device (the IG's cgm-device): read.
//   - CodeSystem: read of fsecgm's local code system, cgm-metrics.
//   - Operation $submit-cgm-bundle (system level): the IG's CGM data
//     submission Bundle.
//
// Searches return fsecgm's own resources; origin=submitted (or
// origin=fsecgm,submitted) returns what device platforms and laboratories
// submitted, kept apart. Searchset Bundles carry total and self, next and
// previous links; pages are stable (ordered by effective start, then id).
// Unknown search parameters are refused (400, naming the parameter),
// unless the request says Prefer: handling=lenient, in which case they are
// ignored and left out of the self link.
//
// # Authorization
//
// Every access to a patient's data goes through consent.Store.Access, as
// in the taccuino API, so that it is decided by the same rules and written
// in the patient's access log in the same transaction: reads and searches
// are consent.ActReadData (a service needs the SMART scope
// system/Observation.rs and the patient's third-party consent); a
// submission is consent.ActWriteData for the patient and their
// representatives. A service submits with the scope ScopeSubmit
// (system/Observation.cu) and, because consent has no write action for
// services (a submission's answer also tells which resources exist), is
// checked and logged as ActReadData: it needs system/Observation.rs and the
// patient's third-party consent too. A service without ScopeSubmit is
// checked as ActWriteData, which the rules refuse and log.
//
// Answers: 401 without a valid token (the attempt is logged in the
// patient's access log when the patient is known); 403 for a refusal and
// for a patient id that is unknown (ids cannot be probed); 404 for an
// unknown resource id or type and, alike, for a resource of a patient the
// caller may not read (the same body, after the same statements: see
// read); 429 beyond the lookup limits of Patient searches (web.Lookups); 400 for a bad parameter or body, naming it
// in OperationOutcome.issue.expression; 406 when JSON is not acceptable;
// 413 for a body over the limit; 415 for a body that is not JSON; 422 for
// a well-formed request that cannot be processed. Every error is an
// OperationOutcome.
//
// # Submissions
//
// POST /fhir/$submit-cgm-bundle takes the IG's transaction Bundle about
// one patient: a Patient entry with the codice fiscale, or subjects
// "Patient/<public id>", "Patient?identifier=<system>|<value>" or a
// reference with that identifier. Sensor readings go through the readings
// store's ingestion (cgmstore, source fhir; re-sending changes nothing);
// Devices are stored by serial number; summaries made by a device
// platform, their PDF reports and laboratory HbA1c results are stored as
// received (origin submitted), apart from fsecgm's own. Client
// identifiers are kept: an entry whose request.ifNoneExist
// (identifier=SYSTEM|VALUE, the only condition supported) names a known
// identifier is answered 200 with the existing resource's location and
// not stored again; a known identifier without ifNoneExist updates a
// stored summary (200) and re-ingests a reading (idempotent). A reading
// without identifier is kept by one fsecgm derives from the patient,
// instant, kind and code. The answer is a transaction-response Bundle
// with one entry per entry sent, in order: 201 created, 200 found or
// updated, 409 an identifier the patient's record keeps for another kind
// of resource, 422 refused with an OperationOutcome pointing at the
// element. Identifiers and sensor serials are the patient's: the same one
// in another patient's record is another resource, and is never looked at
// (nothing is learnt of it, nothing of it is blocked). An Observation
// names one patient: a subject whose reference and identifier name
// different patients (resource.subject.identifier), or a device that is
// not the subject's — a Device entry of another patient, or a Device of
// this server that is not the subject's (resource.device) — is refused
// with 422, whether the other patient or device exists or not. A Bundle that cannot be read,
// or none of whose entries can be stored, is answered by an
// OperationOutcome alone.
package fhirapi
