// Package connsync keeps patients' FreeStyle Libre sensors connected
// through LibreLinkUp, ingesting through the store's path
// (cgmstore.IngestTx). It holds only the sync: files are imported by
// connectors/fileimport, and the readings' partitions, dirty marks and
// removal are cgmstore's.
//
// # Connections
//
// A connection ([Connection]) ties a patient to a LibreLinkUp account in
// one of two modes: the patient's own login ([ModePatient], [Syncer.Connect])
// or the region's follower account with which the patient shares their data
// from the LibreLink app ([ModeFollower], [Syncer.Bind], which binds only on
// evidence: the sensor serial the patient reads in their app, and a name
// matching the FSE identity). Each connection shows its [State], its last
// successful sync, its newest reading and its current [Problem] with what to
// do about it, in Italian and English.
//
// Credentials and sessions (tokens are secrets too) are sealed with
// AES-256-GCM ([Keyring]) under a key from the environment or a key file,
// with the key id stored beside each ciphertext so that keys can rotate
// ([Syncer.Rekey]); the associated data binds each ciphertext to its row,
// so rows cannot be swapped. They are never logged and never returned.
//
// # Sync
//
// [Syncer.Run] (gocron v2) runs [Syncer.SyncDue] every few seconds on each
// replica. Work is claimed in PostgreSQL: a connection is due when its
// next_sync_at has passed, and a replica takes it with UPDATE … FOR UPDATE
// SKIP LOCKED, setting a lease (owner, token, expiry on the database clock).
// A sync commits only while its lease token is still the connection's, so a
// replica that dies or stalls loses its work to another one after
// Config.LeaseTTL, and no sync commits twice. Each connection keeps a stable
// phase within the interval (a random fraction drawn when it is created),
// which places its slots on the grid (k + phase) × Interval: after a sync it
// is due at the first slot at least half an interval later (S + Interval
// after a sync of the slot S that started less than half an interval
// late), so every connection is synced once per interval, the load is spread
// over it, and a sync out of turn (the first one, or one asked for) is not
// followed by another a moment later.
//
// Logins to one LibreLinkUp account are serialised across replicas by a
// transaction-level advisory lock keyed by the account; inside it the
// stored session is read again, so a login another replica just made is
// reused instead of repeated. After bad credentials (status 2) the account
// is marked with the version of its credentials and no login is made until
// they change: at most one failed login per credentials. A pending step
// (status 4: tou, pp, verifyEmail) puts the connection in action_needed and
// is never accepted automatically. Lockouts, rate limits (HTTP 429, honouring
// Retry-After) and protection pages block the whole account until their
// wait has passed. A 920 answer is retried once by the client with the
// version it asks for and raises an operator warning. A 401 leads to one new
// login. Server errors, timeouts, HTML pages and malformed JSON are recorded
// on the connection; nothing is ingested from a failed sync.
//
// A sync ingests the graph (about 12 hours of historic points and the
// current value) and, once a day or on the first sync, the logbook (scans),
// in one transaction that also updates the connection and records the run
// in llu_sync_runs (fetched, inserted, duplicate, revised, skipped,
// outcome); the ingestion marks the patient's summaries for recomputation
// in that transaction (cgmstore's dirty marks).
package connsync
