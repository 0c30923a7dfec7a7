// Package librelinkuptest is a faithful fake of the LibreLinkUp follower API
// (as the open-source clients and their recorded responses show it:
// timoschlueter/nightscout-librelink-up, robberwick/pylibrelinkup,
// pachi81/GlucoDataHandler, gui-dos/DiaBLE, FokkeZB/libreview-unofficial)
// for tests, demos
// (`fsecgm fake-librelinkup`) and benchmarks. It speaks the real wire format:
// the same JSON members in the same order as the recorded payloads, the
// status-in-the-body convention, HS256 tokens with the documented claims and
// a 180-day life, a fresh `ticket` in every authenticated reply, US-format
// FactoryTimestamp (UTC) and Timestamp (the patient's zone) fields.
//
// # Regions
//
// DNS cannot send api-eu.libreview.io to a test server, so the fake serves
// every region on one listener and tells them apart by a path prefix:
// "/eu/llu/auth/login" is region eu, "/global/llu/auth/login" (or a path
// without prefix) is the global host. The client builds these URLs from its
// BaseURL template, "http://127.0.0.1:PORT/{region}" ([Server.URL],
// [TemplateURL]). The real host names in the Host header are understood too
// (api-eu.libreview.io, api.libreview.ru, api-cn.myfreestyle.cn). A login
// at a region other than the account's answers the redirect body naming the
// account's region (or {"status":911} with Options.StrangerHost911); a data
// call at another region than the token's answers {"status":911}.
//
// # Accounts and patients
//
// A [Patient] is a glucosim simulator plus what LibreLinkUp shows about the
// person (names, unit, target range, alarm thresholds). An [Account] follows
// patients: a patient's own account follows themselves, a follower account
// (a caregiver, or the region's account) follows many. [Server.Populate]
// builds a demo population.
//
// graphData holds the simulator's historic points (5 minutes for Libre 3,
// 15 for Libre 2) over the 12 hours ending 17 minutes before now, oldest
// first; glucoseMeasurement is the simulator's current value (1-minute
// cadence) with its arrow. The logbook holds 14 days of scans (type 1) and
// alarms with readings (type 3). Values in `Value` follow the patient's
// unit; ValueInMgPerDl is always mg/dL.
//
// # Behaviour and faults
//
//   - Login: unknown e-mail or wrong password answers status 2; 3 failures
//     within 60 s lock the account for 300 s, during which every login gets
//     the status 429 "locked" body (HTTP 200). Pending steps (tou, pp,
//     verifyEmail) answer status 4 with a 1-hour token, one step at a time;
//     POST /auth/continue/{tou|pp} completes a document step.
//   - Data calls check, in order: product and version headers (400
//     RequiredHeaderMissing), the token (401 "invalid or expired jwt"; also
//     while a step is pending, and after [Server.ExpireTokens]), the version
//     (403 with status 920 and minimumVersion), the Account-Id header (400
//     when missing, Options.WrongAccountIDStatus when wrong), the region.
//     A patient the account does not follow answers status 4
//     couldNotLoadPatient.
//   - [Faults] switch, per account, slow answers, Cloudflare HTML pages
//     (403/429), HTTP 429 with or without Retry-After, 5xx, status 911,
//     truncated, cut-off or malformed JSON, bad credentials, a higher minimum
//     version, 401 on every call, an empty connection list, "sensor": null
//     and a graph without activeSensors.
//   - [Server.Stats] counts logins, failed logins, steps, lockouts,
//     continues and data calls per e-mail, for tests that assert "at most
//     one failed login".
//
// The clock is injectable (Options.Now, [Clock]); expiry, lockouts and the
// simulated glucose all follow it. Replies are built by appending to pooled
// buffers; the parts of a connection that never change are encoded once, and
// a token is signed at most once per second per account, so that a graph
// request costs tens of microseconds.
package librelinkuptest
