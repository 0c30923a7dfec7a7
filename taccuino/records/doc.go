// Package records is fsecgm's FHIR resource store and the delivery of CGM
// summaries to the clinical records (the diabetology record, the regional
// EHR, the general practitioners' records) through a transactional outbox
// in PostgreSQL. It uses pgx and package fhir; it has no HTTP server (the
// FHIR API is package fhirapi) and no clock of its own beyond the one in
// [Options].
//
// # For the summaries: PublishSummary
//
// The code that stores a patient's new CGM summary calls
// [Store.PublishSummary] inside the transaction that stores the summary:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		// ... store the summary rows ...
//		return rec.PublishSummary(ctx, tx, records.Publication{
//			PatientID: p.ID,
//			Patient:   fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode},
//			Devices:   devices, // []fhir.DeviceInfo of the period's sensors
//			Report:    report,  // agp.Report of the period
//			PDF:       pdf,     // the AGP report PDF, or nil
//			Issued:    now,
//		})
//	})
//
// In the same transaction it upserts the summary's FHIR resources (the
// IG's summary panel and members, the local figures, the sensors' Devices
// and, with a PDF, the cgm-summary-pdf DiagnosticReport) into the resource
// store by identifier, and, when any of them is new or changed, writes one
// outbox row per active subscription that serves the patient, holding the
// transaction Bundle to deliver. Either all of it commits with the summary
// or none of it does.
//
// # Resource store
//
// Table fhir_resources holds every resource fsecgm serves through its FHIR
// API, one row per resource, unique by identifier (system, value):
// fsecgm's own summaries (origin "fsecgm") and what device platforms
// submitted (origin "submitted", with the submitter's client id), kept
// apart and never mixed in a search unless asked for. A changed figure
// replaces the stored body and increments the version; the id never
// changes. [Store.Locate], [Store.Get] and [Store.Search] serve the FHIR
// API; [Store.Lookup], [Store.KeepIdentifiers], [Store.PutDevice] and
// [Store.StoreSubmitted] its submissions.
//
// Laboratory HbA1c results (LOINC 4548-4) received through the FHIR API are
// stored by [Store.StoreSubmitted] like other submitted resources and read
// back for the AGP report by [Store.LabHbA1c].
//
// # Delivery
//
// Table subscriptions configures the receiving records (see
// [Subscription]); their secrets are never stored: a subscription names
// the environment variable or the file that holds its bearer token or
// client secret. [Deliverer] is the worker that empties the outbox: any
// number of replicas claim due rows with FOR UPDATE SKIP LOCKED and a lease
// kept in the database (its clock), POST the transaction Bundle to the
// subscription's base URL, check every entry of the transaction-response,
// and retry failures with exponential backoff and jitter up to a cap. A
// message that failed [DeliveryOptions.MaxAttempts] times is poisoned: it
// stays in the outbox for the operator ([Store.Poisoned], a warning in the
// log) and is never retried by itself ([Store.Retry] puts it back).
//
// Before every attempt the delivery goes through consent.Store.Access as a
// service acting for the subscription (ActReadData): with the patient's
// third-party consent revoked the rules refuse, the refusal is written in
// the patient's access log, and the message is cancelled without being
// sent; when allowed, the access-log entry commits with the delivery, so
// the patient sees every record their data went to. The consent row stays
// locked (FOR SHARE) while the Bundle is sent, so that a revocation waits
// for deliveries in progress, as it waits for reads in progress.
//
// Nothing here logs a codice fiscale, a token or a glucose value: log
// lines name outbox ids, subscription names and internal patient ids.
package records
