// Package web is the small HTTP kit shared by the packages that serve
// fsecgm over HTTP with echo v5: the taccuino (package taccuino), the FHIR
// API (taccuino/fhirapi) and the AGP reports (taccuino/reports). It holds
// what every handler needs and nothing specific to one of them:
//
//   - [Deps], what the HTTP packages receive from the composition root;
//   - middleware: [RequestID], [RequestLogger], [SecurityHeaders],
//     [BodyLimit], [Timeout], [RateLimit], [Authenticate], [CSRF];
//   - request helpers: [Principal], [Actor], [RequestIDOf], [Logger],
//     [Lang], [DecodeJSON];
//   - the patient gate: [Deps.Patient] resolves the {id} path parameter and
//     [Deps.Access] runs a read or write through consent.Store.Access;
//   - errors: [Error] and [ErrorHandler], which write every failure as
//     {"error": {"code", "message", "field"}} with the right status.
//
// # Logging
//
// Nothing in this package logs a value that may hold personal data: the
// request log has the method, the route pattern (never the raw path or the
// query, which may hold a codice fiscale), the status, the duration, the
// sizes, the request id and the caller's role and subject hash
// (auth.Principal.LogValue). Request bodies, tokens, cookies, fiscal codes
// and glucose values are never logged. Use [Logger] in handlers: its lines
// carry the request id.
//
// # Unknown and forbidden patients
//
// A patient is addressed by its opaque public id. A caller who may not see
// a patient gets the same answer whether the id exists or not, so that ids
// cannot be probed: 401 for a caller without a valid token (the attempt is
// logged in the patient's access log when the patient exists), 403
// "forbidden" for an authenticated caller the rules refuse and for any id
// that does not exist or is malformed. 404 is kept for things inside a
// record the caller may see (a delegation id, no reading yet). The reason
// of a refusal is recorded in the patient's access log, never in the
// response.
//
// # CSRF
//
// The HTML pages authenticate with a session cookie, so their unsafe
// requests (POST, PUT, PATCH, DELETE) are checked by [CSRF]: a signed
// double-submit token bound to the session (a random value and its HMAC
// keyed by the session cookie, kept in the __Host- cookie [CSRFCookie],
// SameSite=Strict, repeated in the form field [CSRFField] or the header
// X-CSRF-Token), rotated when the session changes (sign-in, sign-out), and,
// when the browser sends one, an Origin header equal to the service's own
// origin. The JSON API takes bearer tokens from the Authorization header
// only, which a browser never adds by itself, so it needs no CSRF check.
//
// # Sessions
//
// [Authenticate] refuses a token whose session was ended on the server
// (sign-out; package taccuino/sessions), as a cookie and as a bearer token,
// with auth.ErrRevoked.
package web
