package connsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm"
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
	return &UserError{Kind: ErrRefused, Code: "identity_mismatch", Text: librelinkup.Text{
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
func adviceIdentityMismatch(c librelinkup.Connection) librelinkup.Text {
	n := followed(c).String()
	return librelinkup.Text{
		IT: "LibreLinkUp indica che questo collegamento segue «" + n + "», non la persona titolare del fascicolo: " +
			"la sincronizzazione è stata fermata e nulla è stato salvato. Scollegare questo sensore e collegare " +
			"l'account che segue il proprio sensore.",
		EN: "LibreLinkUp shows that this connection follows “" + n + "”, not the person the health record belongs " +
			"to: syncing was stopped and nothing was stored. Disconnect this sensor and connect the account that " +
			"follows your own sensor.",
	}
}
