// Package consent holds the authorization rules of fsecgm in one place,
// deny by default, with their PostgreSQL store and the access log the
// patient sees.
//
// # Rules
//
// Decide is the whole policy: a pure function of the facts the store knows
// about a patient and an actor (Facts), the actor (Actor, built from the
// verified token with ActorFrom), the Action and the instant. See Decide
// for the rules and their sources, and Action for the capability table.
// In short: the patient does everything; a parent (until the patient's 18th
// birthday in the patient's zone) and a tutor (while registered) do what
// the patient does; a delegate reads data, manages connections and reads
// the access log, but never changes consent or delegates further; a
// clinician with a care relationship, and a service with ScopeReadData,
// read data only while the patient's consent to consultation by third
// parties stands. That consent is not granted until the patient grants it
// (privacy by default), and once revoked it refuses every clinician and
// service, with no emergency override.
//
// # Store
//
// Every handler that touches a patient's record goes through
// Store.Access, which in one transaction gathers the facts, decides,
// writes the access-log entry and runs the handler's reads or writes, so
// that data is never served without its log entry and a log entry never
// claims an access that was rolled back. Denials are logged too, including
// those of callers that could not be authenticated (Store.LogDenied). The
// patient's own accesses are not logged, except changes of the
// notification address (ActWriteNotifications), which are logged whoever
// makes them; the confirmation of an address by its e-mailed link is
// logged with BasisLink (Store.LogLinkAction).
//
// Every access-log row of a patient whose access notifications are on is
// also queued for package notify, by a trigger on access_log (migration
// 00060), in the transaction that writes it.
//
// The patient-facing operations (consent, privacy notice, delegations,
// access log), the registry-facing ones (care relationships,
// guardianships) and the lists for the clinic (VisiblePatients) and the
// taccuino (Represented) all apply the same rules. Guardianships and care
// relationships name the patient by fiscal code, so that the registry can
// load them before the patient connects a sensor.
//
// Errors: ErrDenied (a *DeniedError with the reason), ErrNotFound and
// ErrInvalid, possibly wrapped; never pgx types. Nothing here logs a fiscal
// code, a token or a glucose value: Actor formats without its fiscal code.
package consent
