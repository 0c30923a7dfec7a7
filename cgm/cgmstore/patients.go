package cgmstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"

	"github.com/jackc/pgx/v5"
)

// DefaultTimeZone is the time zone of a patient when none is given.
const DefaultTimeZone = "Europe/Rome"

// Patient is a person whose readings the store keeps.
type Patient struct {
	// ID is the internal key. It never leaves the service: use PublicID
	// in URLs and APIs.
	ID int64
	// PublicID is the opaque identifier of the patient (32 hex digits).
	PublicID string
	// FiscalCode is the codice fiscale, upper case. Never log it.
	FiscalCode string
	// TimeZone is the IANA zone in which the patient's days are read.
	TimeZone string
	// BirthDate is the date of birth at 00:00 UTC; zero when unknown.
	BirthDate time.Time
	// GivenName and FamilyName are empty when unknown.
	GivenName  string
	FamilyName string
	// CreatedAt is when the patient was first stored.
	CreatedAt time.Time
}

// Location returns the patient's time zone.
func (p Patient) Location() (*time.Location, error) {
	loc, err := cgm.Zone(p.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("cgmstore: patient time zone: %w", err)
	}
	return loc, nil
}

const patientColumns = `id, public_id, fiscal_code, time_zone, birth_date,
	coalesce(given_name, ''), coalesce(family_name, ''), created_at`

func scanPatient(row pgx.Row) (Patient, error) {
	var p Patient
	var birth *time.Time
	err := row.Scan(&p.ID, &p.PublicID, &p.FiscalCode, &p.TimeZone, &birth, &p.GivenName, &p.FamilyName, &p.CreatedAt)
	if birth != nil {
		p.BirthDate = *birth
	}
	return p, err
}

// checkFiscalCode normalises and validates a codice fiscale.
func checkFiscalCode(cf string) (string, error) {
	cf = codicefiscale.Normalize(cf)
	if err := codicefiscale.Validate(cf); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return cf, nil
}

// checkTimeZone validates an IANA zone name; "" means DefaultTimeZone.
func checkTimeZone(tz string) (string, error) {
	if tz == "" {
		return DefaultTimeZone, nil
	}
	if tz == "Local" {
		return "", fmt.Errorf("%w: time zone %q: want an IANA zone name such as Europe/Rome", ErrInvalid, tz)
	}
	if _, err := cgm.Zone(tz); err != nil {
		return "", fmt.Errorf("%w: time zone %q: %w", ErrInvalid, tz, err)
	}
	return tz, nil
}

// EnsurePatient returns the patient with the given codice fiscale, creating
// it with time zone tz ("" for DefaultTimeZone) if there is none; created
// says which. An existing patient is returned unchanged (its time zone is
// not updated: use UpdatePatient). The code is validated, check character
// included; an invalid one, or an unknown zone, is ErrInvalid.
func (s *Store) EnsurePatient(ctx context.Context, fiscalCode, tz string) (p Patient, created bool, err error) {
	cf, err := checkFiscalCode(fiscalCode)
	if err != nil {
		return Patient{}, false, err
	}
	if tz, err = checkTimeZone(tz); err != nil {
		return Patient{}, false, err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Patient{}, false, fmt.Errorf("cgmstore: public id: %w", err)
	}
	const ins = `INSERT INTO patients (public_id, fiscal_code, time_zone) VALUES ($1, $2, $3)
		ON CONFLICT (fiscal_code) DO NOTHING RETURNING ` + patientColumns
	p, err = scanPatient(s.pool.QueryRow(ctx, ins, hex.EncodeToString(id[:]), cf, tz))
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Patient{}, false, fmt.Errorf("cgmstore: ensure patient: %w", translate(err))
	}
	// It exists (perhaps created by a concurrent call a moment ago: this
	// new statement sees it).
	p, err = s.PatientByFiscalCode(ctx, cf)
	return p, false, err
}

// PatientByID returns the patient with internal key id.
func (s *Store) PatientByID(ctx context.Context, id int64) (Patient, error) {
	if id <= 0 || id > math.MaxInt32 {
		return Patient{}, fmt.Errorf("cgmstore: patient %d: %w", id, ErrNotFound)
	}
	p, err := scanPatient(s.pool.QueryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id))
	if err != nil {
		return Patient{}, fmt.Errorf("cgmstore: patient %d: %w", id, translate(err))
	}
	return p, nil
}

// PatientByFiscalCode returns the patient with the given codice fiscale.
func (s *Store) PatientByFiscalCode(ctx context.Context, fiscalCode string) (Patient, error) {
	cf, err := checkFiscalCode(fiscalCode)
	if err != nil {
		return Patient{}, err
	}
	p, err := scanPatient(s.pool.QueryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE fiscal_code = $1`, cf))
	if err != nil {
		return Patient{}, fmt.Errorf("cgmstore: patient by fiscal code: %w", translate(err))
	}
	return p, nil
}

// PatientByPublicID returns the patient with the given public identifier.
func (s *Store) PatientByPublicID(ctx context.Context, publicID string) (Patient, error) {
	p, err := scanPatient(s.pool.QueryRow(ctx, `SELECT `+patientColumns+` FROM patients WHERE public_id = $1`, publicID))
	if err != nil {
		return Patient{}, fmt.Errorf("cgmstore: patient %q: %w", publicID, translate(err))
	}
	return p, nil
}

// UpdatePatient stores the time zone, birth date and names of p (found by
// p.ID) and returns the patient as stored. The fiscal code and identifiers
// never change.
func (s *Store) UpdatePatient(ctx context.Context, p Patient) (Patient, error) {
	tz, err := checkTimeZone(p.TimeZone)
	if err != nil {
		return Patient{}, err
	}
	var birth *time.Time
	if !p.BirthDate.IsZero() {
		d := time.Date(p.BirthDate.Year(), p.BirthDate.Month(), p.BirthDate.Day(), 0, 0, 0, 0, time.UTC)
		birth = &d
	}
	const q = `UPDATE patients SET time_zone = $2, birth_date = $3,
		given_name = nullif($4, ''), family_name = nullif($5, '')
		WHERE id = $1 RETURNING ` + patientColumns
	out, err := scanPatient(s.pool.QueryRow(ctx, q, p.ID, tz, birth, p.GivenName, p.FamilyName))
	if err != nil {
		return Patient{}, fmt.Errorf("cgmstore: update patient %d: %w", p.ID, translate(err))
	}
	return out, nil
}
