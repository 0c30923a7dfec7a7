package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// The clinician's record of a patient for the AGP report: diabetes type,
// therapy and a free note (table clinical_info, migration 00070), shown at
// the top of the report, PDF included.
//
// Who may write it: the patient's clinicians (consent.ActWriteClinicalInfo:
// a care relationship in force and the patient's consent, as for reading),
// and no one else; the write is checked and recorded through
// consent.Store.Access in the transaction that writes the row, with the
// detail "clinical information update", so the patient sees it in their
// access log.

// clinicalDetail is the access-log detail of a write of the record.
const clinicalDetail = "clinical information update"

// readClinical reads the record of patient id in tx (nil when none).
func readClinical(ctx context.Context, tx pgx.Tx, id int64) (*agpdoc.Clinical, error) {
	var c agpdoc.Clinical
	err := tx.QueryRow(ctx, `SELECT diabetes_type, therapy, note FROM clinical_info WHERE patient_id = $1`, id).
		Scan(&c.DiabetesType, &c.Therapy, &c.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports: clinical information: %w", err)
	}
	if c == (agpdoc.Clinical{}) {
		return nil, nil
	}
	return &c, nil
}

// writeClinical stores the record of patient id in tx.
func writeClinical(ctx context.Context, tx pgx.Tx, id int64, c agpdoc.Clinical, by string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO clinical_info (patient_id, diabetes_type, therapy, note, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (patient_id) DO UPDATE SET diabetes_type = EXCLUDED.diabetes_type, therapy = EXCLUDED.therapy,
			note = EXCLUDED.note, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
		id, c.DiabetesType, c.Therapy, c.Note, at, by)
	if err != nil {
		return fmt.Errorf("reports: write clinical information: %w", err)
	}
	return nil
}

// clinicalOf reads the form of the clinical record, checking each field;
// errs holds what is wrong, by field, as catalogue keys and values.
func clinicalOf(c *echo.Context) (agpdoc.Clinical, map[string]*web.Error) {
	cl := agpdoc.Clinical{DiabetesType: strings.TrimSpace(c.FormValue("diabetes_type")),
		Therapy: strings.TrimSpace(c.FormValue("therapy")), Note: strings.TrimSpace(c.FormValue("note"))}
	errs := map[string]*web.Error{}
	if cl.DiabetesType != "" && !slices.Contains(agpdoc.DiabetesTypes, cl.DiabetesType) {
		errs["diabetes_type"] = web.Invalid("diabetes_type", "unknown diabetes type").Say("err_choice")
	}
	if cl.Therapy != "" && !slices.Contains(agpdoc.Therapies, cl.Therapy) {
		errs["therapy"] = web.Invalid("therapy", "unknown therapy").Say("err_choice")
	}
	if utf8.RuneCountInString(cl.Note) > agpdoc.MaxNote {
		errs["note"] = web.Invalid("note", fmt.Sprintf("the note is longer than %d characters", agpdoc.MaxNote)).Say("err_note_long", agpdoc.MaxNote)
	}
	return cl, errs
}

// canEditClinical reports whether the caller is a clinician, the only
// ones offered the form (the rules still decide on each write).
func canEditClinical(c *echo.Context) bool {
	p := web.Principal(c)
	return p != nil && p.Role == auth.RolePractitioner
}

// postClinical stores the clinician's record from the report page's form
// and shows the report again, with the record saved or with what is wrong
// next to each field.
func (h *handlers) postClinical(c *echo.Context) error {
	p, err := h.d.Patient(c, consent.ActWriteClinicalInfo)
	if err != nil {
		return err
	}
	cl, errs := clinicalOf(c)
	if len(errs) > 0 {
		// The rules decide (and log) before anyone learns what is wrong;
		// the refused input is logged as an invalid request.
		err := h.d.Access(c, p, consent.ActWriteClinicalInfo, clinicalDetail, func(context.Context, pgx.Tx) error {
			return fmt.Errorf("%w: clinical information", consent.ErrInvalid)
		})
		if !errors.Is(err, consent.ErrInvalid) {
			return err
		}
		return h.showReport(c, p, &clinicalState{values: cl, errs: errs})
	}
	pr := web.Principal(c)
	by := string(pr.Role) + ":" + pr.SubjectRef()
	err = h.d.Access(c, p, consent.ActWriteClinicalInfo, clinicalDetail, func(ctx context.Context, tx pgx.Tx) error {
		return writeClinical(ctx, tx, p.ID, cl, by, h.now())
	})
	if err != nil {
		return err
	}
	return h.showReport(c, p, &clinicalState{values: cl, saved: true})
}

// clinicalState is the clinician's form after a post: what was sent, and
// what is wrong or that it was saved.
type clinicalState struct {
	values agpdoc.Clinical
	errs   map[string]*web.Error
	saved  bool
}
