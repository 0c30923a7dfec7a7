package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Residence is where a person lives, as the regional registry says: the
// comune, by its ISTAT code (six digits: the province's three and the
// comune's number in it). It places the patient in a zona-distretto and an
// ASL for the population view (package population); it is registry data,
// written by the registry service like the care relationships.
type Residence struct {
	// PatientFiscalCode is the person's codice fiscale; the person need
	// not have connected a sensor yet.
	PatientFiscalCode string
	// Municipality is the ISTAT code of the comune of residence.
	Municipality string
	// ValidFrom is when the residence began; zero when not known.
	ValidFrom time.Time
	// Source names the registry the record came from.
	Source string
}

const residenceColumns = `patient_fiscal_code, municipality, valid_from, source`

func scanResidence(r pgx.CollectableRow) (Residence, error) {
	var x Residence
	var from *time.Time
	err := r.Scan(&x.PatientFiscalCode, &x.Municipality, &from, &x.Source)
	x.ValidFrom = timeOf(from)
	return x, err
}

// checkMunicipality validates an ISTAT comune code: six digits.
func checkMunicipality(code string) error {
	if len(code) != 6 {
		return fmt.Errorf("%w: municipality: want the six-digit ISTAT code of the comune", ErrInvalid)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return fmt.Errorf("%w: municipality: want the six-digit ISTAT code of the comune", ErrInvalid)
		}
	}
	return nil
}

// UpsertResidence records the residence of a person from the registry
// (ActWriteCareRelationships: the registry service), replacing the one
// recorded before, and returns it as stored. Idempotent: storing what is
// already stored changes nothing and logs nothing; a change is logged in
// the patient's access log when fsecgm has a record of the patient. A
// comune the population view's table does not know is stored all the same
// (the registry is right; the table may be incomplete).
func (s *Store) UpsertResidence(ctx context.Context, a Actor, r Residence) (Residence, error) {
	var out Residence
	err := s.registry(ctx, a, r.PatientFiscalCode, "record residence",
		func(ctx context.Context, tx pgx.Tx, _ int64, now time.Time) (bool, error) {
			var err error
			if r.PatientFiscalCode, err = checkCF("patient fiscal code", r.PatientFiscalCode); err != nil {
				return false, err
			}
			if err := checkMunicipality(r.Municipality); err != nil {
				return false, err
			}
			if err := checkText("source", r.Source, 64, true); err != nil {
				return false, err
			}
			const up = `INSERT INTO residences AS r (patient_fiscal_code, municipality, valid_from, source, updated_at)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (patient_fiscal_code) DO UPDATE
				SET municipality = EXCLUDED.municipality, valid_from = EXCLUDED.valid_from, source = EXCLUDED.source,
					updated_at = EXCLUDED.updated_at
				WHERE (r.municipality, r.valid_from, r.source) IS DISTINCT FROM (EXCLUDED.municipality, EXCLUDED.valid_from, EXCLUDED.source)
				RETURNING ` + residenceColumns
			rows, _ := tx.Query(ctx, up, r.PatientFiscalCode, r.Municipality, nullTime(r.ValidFrom), r.Source, now)
			out, err = pgx.CollectExactlyOneRow(rows, scanResidence)
			if errors.Is(err, pgx.ErrNoRows) {
				rows, _ := tx.Query(ctx, `SELECT `+residenceColumns+` FROM residences WHERE patient_fiscal_code = $1`, r.PatientFiscalCode)
				out, err = pgx.CollectExactlyOneRow(rows, scanResidence)
				if err != nil {
					return false, fmt.Errorf("consent: residence: %w", translate(err))
				}
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("consent: upsert residence: %w", translate(err))
			}
			return true, nil
		})
	return out, err
}

// Registered is what the registry says about a patient: who takes care of
// them, who represents them, and where they live.
type Registered struct {
	CareRelationships []CareRelationship
	Guardianships     []Guardianship
	// Residence is nil when the registry has not said.
	Residence *Residence
}

// Registry returns the patient's care relationships and guardianships, in
// force or not, and residence (ActReadCareRelationships), in one access.
func (s *Store) Registry(ctx context.Context, a Actor, patientID int64) (Registered, error) {
	var out Registered
	_, err := s.access(ctx, a, patientID, ActReadCareRelationships, "care relationships and residence",
		func(ctx context.Context, tx pgx.Tx, _ Decision, f Facts) error {
			var err error
			if out.CareRelationships, out.Guardianships, err = careAndGuardians(ctx, tx, f.PatientFiscalCode); err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, `SELECT `+residenceColumns+` FROM residences WHERE patient_fiscal_code = $1`, f.PatientFiscalCode)
			r, err := pgx.CollectExactlyOneRow(rows, scanResidence)
			switch {
			case err == nil:
				out.Residence = &r
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("consent: residence: %w", translate(err))
			}
			return nil
		})
	return out, err
}
