// Package librelinkup is a client of the LibreLinkUp follower API (the v4
// "/llu" API of Abbott's LibreLinkUp app) as the open-source clients
// implement it (timoschlueter/nightscout-librelink-up,
// robberwick/pylibrelinkup, pachi81/GlucoDataHandler, gui-dos/DiaBLE;
// Abbott publishes no documentation), and the translation of its payloads into cgm readings.
//
// # Calls
//
// [Client.Login] signs in with the credentials of a patient's own account or
// of a follower account (a regional account the patients share their data
// with) and returns a [Session]: a 180-day token, its expiry, the Account-Id
// (SHA-256 hex of the user id) and the region. The data calls
// [Client.Connections], [Client.Graph] and [Client.Logbook] take an
// [Account], which pairs a session with the credentials that renew it: they
// log in when the session is missing or expires within Config.RenewBefore,
// and log in again once after a 401, at most one login per call. The session
// is plain data, serializable to JSON, so that a scheduled sync can store it
// (encrypted) and share it between replicas.
//
// Every request sends the headers product ("llu.android"), version
// ("4.17.0"), Account-Id and Authorization (the HTTP dump of
// gist.github.com/khskekec/6c13ba01b10d3018d816706a32ae8ab2;
// timoschlueter/nightscout-librelink-up issue #167 for Account-Id).
// A 403 with status 920 makes the client retry once with the minimumVersion
// of the answer, keep that version for later calls, and report a [Warning]
// to the operator.
//
// # Hosts
//
// Logins start at the global host api.libreview.io and follow its region
// redirect once to api-<region>.libreview.io (api.libreview.ru and
// api-cn.myfreestyle.cn for ru and cn; timoschlueter/nightscout-librelink-up,
// src/constants/llu-api-endpoints.ts).
// Config.BaseURL (FSECGM_LIBRELINKUP_URL) overrides the table: its
// "{region}" placeholder becomes the region code, or "global" for the global
// host, so "http://127.0.0.1:8091/{region}" reaches every region of the fake
// in package librelinkuptest.
//
// # Readings
//
// Values come from ValueInMgPerDl, so readings are in mg/dL whatever the
// patient's unit; times come from FactoryTimestamp, read as UTC with layout
// "1/2/2006 3:04:05 PM" (Timestamp is the phone's wall clock and is never
// used as the instant; timoschlueter/nightscout-librelink-up commit c5175a4,
// "Fixed timezone error"). Graph points are
// kind cgm.Historic without trend; the connection's glucoseMeasurement is
// kind cgm.Current with its arrow (1 ↓ … 5 ↑); the logbook's scans are
// cgm.Scan (see [Logbook]). Device is the serial (`sn`) of the sensor active
// at the reading, found by the activation time `a`. isLow/isHigh readings are
// stored at 40/500 mg/dL with cgm.FlagLow/FlagHigh.
//
// Payloads are read defensively: a body is limited to Config.MaxBodyBytes
// (5 MB), every reading passes cgm.Normalize and Reading.Validate, and an
// item that cannot be used (an unparseable timestamp, a missing or
// implausible value, a field of the wrong JSON type) is skipped and reported
// in [Problems] with the JSON pointer where it was, while the rest of the
// reply is kept.
//
// # Failures
//
// Every failed call returns an [*Error] whose [ErrorKind] classifies it, and
// whose Action and Backoff tell the sync what to do: stop logging in after
// bad credentials (each further attempt counts towards the account lockout),
// wait for the patient after a tou/pp/verifyEmail step (the client never
// accepts on the patient's behalf), back off after a lockout, a rate limit
// or a Cloudflare page (honouring Retry-After), and retry at the next sync
// after server errors, timeouts and malformed replies, of which nothing is
// returned. Each kind has a "what to do" text in Italian and English
// ([ErrorKind.Advice]).
package librelinkup
