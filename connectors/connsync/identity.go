package connsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"
	"fsecgm/connectors/librelinkup"

	"github.com/jackc/pgx/v5"
)

// Whose data is it: a LibreLinkUp connection is bound to a patient only
// when the person it follows is the patient (identity.Match: names against
// the FSE identity and the fiscal code's name codes). The check is made
// when the patient connects their own account, when a follower connection
// is bound, and at every sync on the names the graph reply carries, so that
// an account that starts to follow someone else stops at once.

// StateIdentityMismatch: the person the connection follows is not the
// patient (see identity.Match). The connection is no longer synced and
// nothing more is stored through it; the patient disconnects it, and the
// operator can remove what it stored before ([Syncer.Purge]).
const StateIdentityMismatch State = "identity_mismatch"

// patientIdentity loads the FSE identity of a patient and their zone.
func patientIdentity(ctx context.Context, db DB, patientID int64) (identity.Patient, *time.Location, error) {
	var (
		p      identity.Patient
		zone   string
		birth  *time.Time
		given  *string
		family *string
	)
	err := db.QueryRow(ctx, `SELECT fiscal_code, time_zone, birth_date, given_name, family_name FROM patients WHERE id = $1`,
		patientID).Scan(&p.FiscalCode, &zone, &birth, &given, &family)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil, fmt.Errorf("connsync: patient %d: %w", patientID, ErrNotFound)
	}
	if err != nil {
		return p, nil, fmt.Errorf("connsync: patient identity: %w", err)
	}
	if birth != nil {
		p.BirthDate = *birth
	}
	if given != nil {
		p.GivenName = *given
	}
	if family != nil {
		p.FamilyName = *family
	}
	loc, err := cgm.Zone(zone)
	if err != nil {
		loc = time.UTC
	}
	return p, loc, nil
}

// followed is the person a LibreLinkUp connection follows.
func followed(c librelinkup.Connection) identity.Named {
	return identity.Named{GivenName: c.FirstName, FamilyName: c.LastName}
}

// matches reports whether the connection follows the patient who.
func matches(who identity.Patient, loc *time.Location, c librelinkup.Connection) bool {
	return identity.Match(who, followed(c), time.Now().In(loc)).Match
}

// identityMismatch is the refusal of a connection whose account follows
// only people other than the patient: it names them, so that the patient
// understands which account they gave.
func identityMismatch(people []librelinkup.Connection) *UserError {
	var names []string
	for _, c := range people {
		if n := followed(c).String(); n != "" {
			names = append(names, n)
		}
	}
	who := "una persona senza nome"
	whoEN := "a person without a name"
	if len(names) > 0 {
		who = "«" + strings.Join(names, "», «") + "»"
		whoEN = "“" + strings.Join(names, "”, “") + "”"
	}
	return &UserError{Kind: ErrRefused, Code: "identity_mismatch", Args: []string{strings.Join(names, ", ")}, Text: Text{
		IT: "Questo account LibreLinkUp segue " + who + ", non la persona titolare di questo fascicolo sanitario: " +
			"il collegamento non è stato fatto e nessun dato è stato salvato. Usare l'account LibreLinkUp che segue il " +
			"proprio sensore; se il nome nell'app LibreLink è scritto in modo diverso da quello del fascicolo, correggerlo " +
			"(Menu › Profilo) e riprovare.",
		EN: "This LibreLinkUp account follows " + whoEN + ", not the person this health record belongs to: the " +
			"connection was not made and no data was stored. Use the LibreLinkUp account that follows your own " +
			"sensor; if the name in the LibreLink app is written differently from the health record's, correct it " +
			"(Menu › Profile) and try again."}}
}

// adviceIdentityMismatch is shown on a connection that a sync stopped
// because the account now follows someone else.
func adviceIdentityMismatch(c librelinkup.Connection) Text {
	n := followed(c).String()
	return Text{
		IT: "LibreLinkUp indica che questo collegamento segue «" + n + "», non la persona titolare del fascicolo: " +
			"la sincronizzazione è stata fermata e nulla è stato salvato. Scollegare questo sensore e collegare " +
			"l'account che segue il proprio sensore.",
		EN: "LibreLinkUp shows that this connection follows “" + n + "”, not the person the health record belongs " +
			"to: syncing was stopped and nothing was stored. Disconnect this sensor and connect the account that " +
			"follows your own sensor.",
	}
}

// Mismatch is a connection that a sync found following someone other than
// its patient: the readings it stored before (its window, from its oldest
// to its newest reading received) may be another person's.
type Mismatch struct {
	Connection Connection
	// DetectedAt is when a sync first found the mismatch.
	DetectedAt time.Time
	// Oldest and Newest bound the readings the connection stored; zero
	// when it stored none.
	Oldest, Newest time.Time
	// PurgedAt is when the operator removed them (zero while not), Purged
	// how many readings were deleted.
	PurgedAt time.Time
	Purged   int64
}

// Mismatches lists, for the operator, the connections that a sync found
// following someone other than their patient, newest first.
func (s *Syncer) Mismatches(ctx context.Context, db DB) ([]Mismatch, error) {
	rows, err := db.Query(ctx, `SELECT `+connectionColumns+`, c.identity_mismatch_at, c.oldest_reading_at,
			c.newest_reading_at, c.purged_at, c.purged_readings`+connectionFrom+`
		WHERE c.identity_mismatch_at IS NOT NULL ORDER BY c.identity_mismatch_at DESC, c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("connsync: mismatches: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanMismatch)
	if err != nil {
		return nil, fmt.Errorf("connsync: mismatches: %w", err)
	}
	return out, nil
}

func scanMismatch(row pgx.CollectableRow) (Mismatch, error) {
	var (
		m                      Mismatch
		detected               time.Time
		oldest, newest, purged *time.Time
		conn                   Connection
		err                    error
	)
	conn, err = scanConnection(extraColumns{row, []any{&detected, &oldest, &newest, &purged, &m.Purged}})
	if err != nil {
		return m, err
	}
	m.Connection, m.DetectedAt = conn, detected.UTC()
	m.Oldest, m.Newest, m.PurgedAt = utc(oldest), utc(newest), utc(purged)
	return m, nil
}

// extraColumns lets scanConnection read a row that has more columns after
// the connection's: they are scanned into extra.
type extraColumns struct {
	pgx.CollectableRow
	extra []any
}

func (r extraColumns) Scan(dest ...any) error {
	return r.CollectableRow.Scan(append(dest, r.extra...)...)
}

// PurgeResult is what [Syncer.Purge] did.
type PurgeResult struct {
	// Mismatch is the connection, after the purge.
	Mismatch Mismatch
	// Removed counts the readings deleted and restored now (zero when the
	// connection had been purged before).
	Removed cgmstore.Removed
	// AlreadyPurged is true when an earlier purge had done it.
	AlreadyPurged bool
}

// Purge removes, in tx, the readings that a mismatched connection (see
// [Mismatches]) stored: the patient's LibreLinkUp readings in the
// connection's window are deleted, and readings it had revised get their
// earlier value back (cgmstore.RemoveSourceReadings); the connection is
// disconnected (its secrets erased) and marked purged, and the patient's
// summaries are marked for recomputation. Purging twice removes nothing
// the second time. When another LibreLinkUp connection of the same
// patient stored readings over an overlapping window, the readings of the
// two cannot be told apart: Purge refuses (ErrConflict, naming them)
// unless force is set, and then removes both's readings in the window.
// The caller records the operator's act in the patient's access log in
// the same transaction.
func (s *Syncer) Purge(ctx context.Context, tx pgx.Tx, connectionID string, force bool) (PurgeResult, error) {
	var (
		id, patientID          int64
		source                 string
		detected               *time.Time
		oldest, newest, purged *time.Time
	)
	err := tx.QueryRow(ctx, `SELECT id, patient_id, source, identity_mismatch_at, oldest_reading_at, newest_reading_at, purged_at
		FROM sync_connections WHERE public_id = $1 FOR UPDATE`, connectionID).Scan(&id, &patientID, &source, &detected, &oldest, &newest, &purged)
	if errors.Is(err, pgx.ErrNoRows) {
		return PurgeResult{}, fmt.Errorf("connsync: purge: connection %s: %w", connectionID, ErrNotFound)
	}
	if err != nil {
		return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
	}
	if detected == nil {
		return PurgeResult{}, fmt.Errorf("connsync: purge: connection %s: %w: no sync found it following someone else", connectionID, ErrConflict)
	}
	var res PurgeResult
	if purged != nil {
		res.AlreadyPurged = true
	} else {
		if oldest != nil && newest != nil {
			var others []string
			rows, _ := tx.Query(ctx, `SELECT public_id FROM sync_connections WHERE patient_id = $1 AND id <> $2
				AND source = $5 AND oldest_reading_at <= $4 AND newest_reading_at >= $3 ORDER BY id`, patientID, id, *oldest, *newest, source)
			if others, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
			}
			if len(others) > 0 && !force {
				return PurgeResult{}, fmt.Errorf("connsync: purge: %w: connection(s) %s of the same patient stored LibreLinkUp readings between %s and %s too, and theirs cannot be told apart: disconnect them, purge with force, then connect the right account again",
					ErrConflict, strings.Join(others, ", "), oldest.UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339))
			}
		}
		if _, err := s.disconnect(ctx, tx, patientID, connectionID, false); err != nil {
			return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
		}
		if oldest != nil && newest != nil {
			if res.Removed, err = s.store.RemoveSourceReadings(ctx, tx, patientID, s.storeSource(source), *oldest, *newest); err != nil {
				return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE sync_connections SET purged_at = now(), purged_readings = $2 WHERE id = $1`,
			id, res.Removed.Deleted); err != nil {
			return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
		}
		s.log.InfoContext(ctx, "connsync: readings of a mismatched connection removed", "connection", connectionID,
			"deleted", res.Removed.Deleted, "restored", res.Removed.Restored)
	}
	rows, _ := tx.Query(ctx, `SELECT `+connectionColumns+`, c.identity_mismatch_at, c.oldest_reading_at,
			c.newest_reading_at, c.purged_at, c.purged_readings`+connectionFrom+` WHERE c.id = $1`, id)
	if res.Mismatch, err = pgx.CollectExactlyOneRow(rows, scanMismatch); err != nil {
		return PurgeResult{}, fmt.Errorf("connsync: purge: %w", err)
	}
	return res, nil
}
