// Package notify tells a patient, at the e-mail address they chose, of
// every access to their record by someone else: for fsecgm's glucose data,
// what the FSE does for the whole record (its consent page: "L'indirizzo a
// cui sarà inviata segnalazione degli accessi al tuo FSE è: …").
//
// # The address
//
// [Store.Request] sets the address and mode (each, daily, off) through the
// gate of package consent (consent.ActWriteNotifications: the patient, a
// parent of a minor, a tutor; deny by default), logged in the access log
// even when the patient makes it. A new address takes effect only when
// the link sent to it is opened ([Store.Confirm], logged with
// consent.BasisLink): the link's token is 256 random bits, single use,
// valid 24 hours, and only its SHA-256 is stored. Because the token exists
// nowhere else, the confirmation e-mail is sent at once by the caller
// ([Service.Request]), not through the outbox; a failed send withdraws the
// change and the caller is told. A mode change on the confirmed address,
// and "off", take effect at once.
//
// # What is sent
//
// A trigger on access_log (migration 00060) queues, in the transaction
// that writes the entry, every third-party entry (not the patient's own,
// not the confirmation link) of a patient whose address is confirmed, not
// bounced, and whose mode is not off. [Composer] turns the queue into
// messages in the patient's language and zone: in mode each, the accesses
// of one person in one minute become one message, composed once that
// minute has ended (plus a few seconds for transactions still
// committing); in mode daily, one digest per local day (23 or 25 hours on
// the days the clocks change), composed at a configurable hour of the
// following day. A message says who (name, and role or basis: never a
// fiscal code), when (local time), what kind of access (a sentence per
// action, from package locale), the outcome, and links to the access log;
// never a glucose value, a fiscal code, a diagnosis or a token.
//
// # Delivery
//
// [Sender] workers, on any number of replicas, claim due messages (FOR
// UPDATE SKIP LOCKED, a lease on the database clock, the row locked while
// it is sent, as package records delivers FHIR Bundles) and send them by
// SMTP ([SMTPConfig]: STARTTLS, AUTH PLAIN). Failures are retried with
// exponential backoff and jitter; a message that failed MaxAttempts times
// is dead, for the operator ([Store.Messages], [Store.Resend], 'fsecgm
// notifications'). A permanent refusal of the recipient (SMTP 5xx to RCPT
// or DATA) marks the address bounced: nothing more is sent to it until an
// address is confirmed again.
//
// SMTP has no idempotency: a crash (or a lost connection) after the server
// accepted the end of DATA and before the outcome commits leaves the
// message pending, and it is sent again. A hand-off row committed just
// before the end of DATA bounds that: a message with one hand-off left
// behind is sent once more, one with two goes to the operator instead, so
// a message reaches the server at most twice, and both copies carry the
// same Message-ID, by which mail clients and servers recognise a
// duplicate.
package notify
