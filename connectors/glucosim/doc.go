// Package glucosim simulates the glucose of people wearing FreeStyle Libre
// sensors, for the fake LibreLinkUp server, demos and benchmarks.
//
// A [Patient] is a pure function of its seed and of time: asking for the
// same instant twice, or for two overlapping windows, gives identical points,
// and nothing drifts between calls. That is what makes idempotence tests of
// the sync possible, and it lets the fake serve thousands of patients without
// storing any reading.
//
// The signal is the sum of
//
//   - a patient baseline and a circadian rhythm with a dawn phenomenon
//     (a morning rise between about 04:00 and 08:00 local time);
//   - meals (breakfast, lunch, dinner and sometimes a snack at jittered local
//     times) each followed by a post-prandial peak about an hour later;
//   - exercise on some afternoons, lowering glucose for an hour or two;
//   - occasional night-time hypoglycaemia between about 01:00 and 05:00;
//   - a slow sensor error (interpolated noise), a per-sensor calibration bias
//     and a small minute-to-minute noise.
//
// Values are whole mg/dL. Below 40 or above 500 they are reported at the limit
// with a LO or HI flag, as the sensors do (cgm.Clamp).
//
// Sensors last 14 days. After each sensor start there is a 60-minute warm-up
// without data; between one sensor's end and the next start there may be a
// further gap of up to two hours (the patient applies the new sensor a little
// later). Some days also have a signal-loss gap of 15 minutes to 2 hours, in
// which neither historic nor current values exist.
//
// A Libre 2 patient has a historic point every 15 minutes, a Libre 3 patient
// every 5 minutes (the Record Type 0 spacing of LibreView exports, and the
// graphData of the Libre 3 fixtures of timoschlueter/nightscout-librelink-up
// tests/data); both report a
// current value every minute. Historic points lie on the sensor's own grid,
// counted from the end of its warm-up, so their seconds follow the activation
// time as in the real payloads.
//
// Serial numbers follow the LibreLinkUp `sn` style (gui-dos/DiaBLE
// DiaBLE/LibreLink.swift; JohanDegraeve/xdripswift
// LibreLinkUpFollowManager.swift): 10 characters, "MH…" for Libre 2 (printed serial "3MH…") and
// "0D…"/"0E…" ending in "0" for Libre 3 (printed without the final "0").
//
// None of the numbers here is clinical truth: the simulator only has to look
// plausible (a time in range between about 40 and 90 %, some lows, some highs)
// and be cheap, since the fake computes 12 hours of points per graph request.
package glucosim
