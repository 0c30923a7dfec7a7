package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SecondaryUseState is a patient's opposition to the secondary use of
// their glucose data: the population view of the region and the
// de-identified exports for approved studies (package population). GDPR
// art. 21 gives the data subject the right to object to processing for
// tasks in the public interest and, art. 21(6), for statistical and
// research purposes; the FSE's purposes of government and research (D.M. 7
// settembre 2023) are such processing. By default nothing is opposed: the
// population view uses pseudonymised figures only (GDPR art. 89(1)).
type SecondaryUseState struct {
	// Opposed reports whether the opposition stands now (false when none
	// was ever recorded).
	Opposed bool
	// History lists every change, oldest first.
	History []SecondaryUseChange
}

// SecondaryUseChange is one recorded opposition or its withdrawal.
type SecondaryUseChange struct {
	// Opposed is the state after the change.
	Opposed bool
	// At is when it changed; By who changed it (fiscal code), acting as
	// As (self, parent or tutor).
	At time.Time
	By string
	As Basis
}

// SecondaryUse returns the patient's opposition to secondary use and its
// history (ActReadConsent: the same people who read the consent).
func (s *Store) SecondaryUse(ctx context.Context, a Actor, patientID int64) (SecondaryUseState, error) {
	var st SecondaryUseState
	_, err := s.access(ctx, a, patientID, ActReadConsent, "opposition to secondary use",
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			var err error
			st, err = secondaryUseState(ctx, tx, patientID)
			return err
		})
	return st, err
}

func secondaryUseState(ctx context.Context, tx pgx.Tx, id int64) (SecondaryUseState, error) {
	var st SecondaryUseState
	err := tx.QueryRow(ctx, `SELECT opposed FROM secondary_use_oppositions WHERE patient_id = $1`, id).Scan(&st.Opposed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("consent: opposition to secondary use: %w", translate(err))
	}
	rows, _ := tx.Query(ctx, `SELECT opposed, changed_at, changed_by, changed_as FROM secondary_use_changes
		WHERE patient_id = $1 ORDER BY changed_at, id`, id)
	st.History, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecondaryUseChange, error) {
		var c SecondaryUseChange
		err := r.Scan(&c.Opposed, &c.At, &c.By, &c.As)
		c.At = c.At.UTC()
		return c, err
	})
	if err != nil {
		return st, fmt.Errorf("consent: opposition to secondary use history: %w", translate(err))
	}
	return st, nil
}

// SetSecondaryUseOpposition records (opposed true) or withdraws the
// patient's opposition to the secondary use of their data
// (ActWriteConsent: the patient, or a parent or tutor; not a minor patient
// themself, not a delegate) and returns the new state. When the state
// changes, onChange (when not nil) runs in the same transaction with the
// new state: the population view forgets an opposed patient there
// (population.Forget), so that the opposition and its effect commit
// together. Setting the state it already has records nothing new.
func (s *Store) SetSecondaryUseOpposition(ctx context.Context, a Actor, patientID int64, opposed bool,
	onChange func(ctx context.Context, tx pgx.Tx, opposed bool) error) (SecondaryUseState, error) {
	detail := "withdraw opposition to secondary use"
	if opposed {
		detail = "oppose secondary use"
	}
	var st SecondaryUseState
	_, err := s.access(ctx, a, patientID, ActWriteConsent, detail,
		func(ctx context.Context, tx pgx.Tx, d Decision, _ Facts) error {
			if err := lockPatient(ctx, tx, patientID); err != nil {
				return fmt.Errorf("consent: set opposition to secondary use: %w", err)
			}
			var cur bool
			err := tx.QueryRow(ctx, `SELECT opposed FROM secondary_use_oppositions WHERE patient_id = $1 FOR UPDATE`,
				patientID).Scan(&cur)
			switch {
			case err == nil && cur == opposed, errors.Is(err, pgx.ErrNoRows) && !opposed:
				// unchanged
			case err == nil || errors.Is(err, pgx.ErrNoRows):
				now := s.clock()
				const up = `INSERT INTO secondary_use_oppositions (patient_id, opposed, changed_at) VALUES ($1, $2, $3)
					ON CONFLICT (patient_id) DO UPDATE SET opposed = EXCLUDED.opposed, changed_at = EXCLUDED.changed_at`
				if _, err := tx.Exec(ctx, up, patientID, opposed, now); err != nil {
					return fmt.Errorf("consent: set opposition to secondary use: %w", translate(err))
				}
				const hist = `INSERT INTO secondary_use_changes (patient_id, opposed, changed_at, changed_by, changed_as)
					VALUES ($1, $2, $3, $4, $5)`
				if _, err := tx.Exec(ctx, hist, patientID, opposed, now, a.FiscalCode, string(d.Basis)); err != nil {
					return fmt.Errorf("consent: set opposition to secondary use: %w", translate(err))
				}
				if onChange != nil {
					if err := onChange(ctx, tx, opposed); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("consent: set opposition to secondary use: %w", translate(err))
			}
			st, err = secondaryUseState(ctx, tx, patientID)
			return err
		})
	return st, err
}

// OpposedSQL returns a query of one column, id (patients.id), selecting
// the patients whose opposition to secondary use stands now, for the
// population view to leave them out (the table is this package's).
func OpposedSQL() string {
	return `SELECT o.patient_id AS id FROM secondary_use_oppositions o WHERE o.opposed`
}
