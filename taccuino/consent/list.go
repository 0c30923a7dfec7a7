package consent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
)

// AccessListed is the gate of a page of a patient list shown to a
// practitioner or a service (the clinic list of package reports): in one
// transaction it keeps, of ids, the patients a may read now, by the rule
// of VisibleSQL (for a practitioner a care relationship in force naming a,
// for a service the scope ScopeReadData; for both the third-party consent
// granted, its row locked FOR SHARE as Access locks it), writes one
// "allowed" ActReadData entry per kept patient in the access log, all in
// one statement, runs fn with the kept ids (in the order of ids) in the
// same transaction, and commits: the page's reads and their entries commit
// together, one entry per patient shown.
//
// Patients of ids that the rules no longer allow (consent revoked since
// the list was drawn up) are left out of allowed and of the log: they are
// not shown. An actor who may list no patient (VisibleSQL's ok false) gets
// a *DeniedError. When fn fails, nothing is committed, "error" entries are
// written for the kept patients in a transaction of their own, and fn's
// error is returned. detail is shown to the patients: never glucose values.
func (s *Store) AccessListed(ctx context.Context, a Actor, ids []int64, detail string,
	fn func(ctx context.Context, tx pgx.Tx, allowed []int64) error) error {
	with, args, e, err := s.listed(a, ids, detail)
	if err != nil || len(ids) == 0 {
		return err
	}
	var kept []int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `WITH `+with+` SELECT patient_id FROM listed`, args...)
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("consent: listed access: %w", translate(err))
		}
		allowed := make(map[int64]bool, len(got))
		for _, id := range got {
			allowed[id] = true
		}
		for _, id := range ids {
			if allowed[id] {
				kept = append(kept, id)
			}
		}
		if len(kept) == 0 || fn == nil {
			return nil
		}
		if err := fn(ctx, tx, kept); err != nil {
			return &fnError{err: err}
		}
		return nil
	})
	var fe *fnError
	if errors.As(err, &fe) {
		s.recordListError(ctx, kept, e, fe.err)
		return fe.err
	}
	if err != nil {
		if len(kept) > 0 {
			s.recordListError(ctx, kept, e, err)
		}
		return fmt.Errorf("consent: listed access: %w", translate(err))
	}
	return nil
}

// ListedSQL is AccessListed for a caller that reads the page's data in
// the same statement (one round trip instead of four: the clinic list's
// API): it returns two WITH queries for that statement, "allowed" (the
// patients of ids that a may read now, their consent rows locked FOR
// SHARE) and "listed" (the INSERT of their "allowed" ActReadData entries,
// RETURNING patient_id), and their arguments: $1 is ids as int4[], the
// others follow up to $len(args). The caller's SELECT must show only the
// patients of listed, and the statement must commit as a whole (outside
// an explicit transaction, or in one that commits it): the entries commit
// with the read. An actor who may list no patient gets a *DeniedError.
func (s *Store) ListedSQL(a Actor, ids []int64, detail string) (with string, args []any, err error) {
	with, args, _, err = s.listed(a, ids, detail)
	return with, args, err
}

// ListedFromSQL is ListedSQL for a statement that computes the page's ids
// itself (summaries.Store.ListedPage: the page, the entries and the rows
// in one statement): the WITH queries read the ids from the caller's WITH
// query rel, defined before them, whose column id (int4) holds each
// patient once, and their parameters are numbered from $first.
func (s *Store) ListedFromSQL(a Actor, rel string, first int, detail string) (with string, args []any, err error) {
	with, args, _, err = s.listedFrom(a, rel, first, detail)
	return with, args, err
}

// listed builds ListedSQL's WITH queries and the entry they write.
func (s *Store) listed(a Actor, ids []int64, detail string) (string, []any, entry, error) {
	// Each patient once (the statement looks up each id it is given).
	pids := make([]int32, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			pids = append(pids, int32(id))
		}
	}
	with, args, e, err := s.listedFrom(a, "listed_ids", 2, detail)
	if err != nil {
		return "", nil, entry{}, err
	}
	return `listed_ids AS (SELECT unnest($1::int4[]) AS id), ` + with, append([]any{pids}, args...), e, nil
}

// listedFrom builds ListedFromSQL's WITH queries and the entry they write.
func (s *Store) listedFrom(a Actor, rel string, first int, detail string) (string, []any, entry, error) {
	now := s.clock()
	var (
		basis Basis
		q     string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(first+len(args)-1)
	}
	switch kind, party, ok := careKey(a); {
	case ok:
		basis = Basis(kind)
		// Each id is looked up by key (the patient, its consent row, its
		// care relationship), so a page costs the same whatever the size
		// of the centre: joined as sets, the planner hashed every
		// relationship of the party and every consent row, per page.
		k, pa, at := arg(string(kind)), arg(party), arg(now)
		q = `SELECT u.id FROM ` + rel + ` u
			CROSS JOIN LATERAL (SELECT p.fiscal_code FROM patients p WHERE p.id = u.id LIMIT 1) p
			CROSS JOIN LATERAL (SELECT FROM third_party_consents t WHERE t.patient_id = u.id AND t.granted FOR SHARE) t
			WHERE EXISTS (SELECT FROM care_relationships c
				WHERE c.patient_fiscal_code = p.fiscal_code AND c.kind = ` + k + ` AND c.party = ` + pa + `
					AND (c.valid_from IS NULL OR c.valid_from <= ` + at + `) AND (c.valid_to IS NULL OR c.valid_to > ` + at + `))`
	case a.Role == auth.RoleService && a.HasScope(ScopeReadData):
		basis = BasisService
		q = `SELECT u.id FROM ` + rel + ` u
			CROSS JOIN LATERAL (SELECT FROM third_party_consents t WHERE t.patient_id = u.id AND t.granted FOR SHARE) t`
	default:
		return "", nil, entry{}, &DeniedError{Action: ActReadData, Reason: ReasonNotPermitted}
	}
	e := entry{at: now, actor: a, basis: basis, action: ActReadData, detail: detail, reason: ReasonAllowed, outcome: OutcomeAllowed}
	// One statement keeps the allowed patients (locking their consent
	// rows) and writes their entries.
	ins, insArgs := entriesSQL(e, first+len(args))
	with := `allowed AS (` + q + `),
		listed AS (INSERT INTO access_log (patient_id, at, actor_role, actor_id, actor_name, practitioner_role,
				on_behalf_of, basis, action, detail, outcome, reason, request_id)
			SELECT allowed.*, ` + ins + ` FROM allowed RETURNING patient_id)`
	return with, append(args, insArgs...), e, nil
}

// fnError carries the error of AccessListed's fn through BeginFunc.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// entriesSQL returns the access-log columns after patient_id of entry e as
// SQL parameters numbered from first, with their values (as writeEntry
// writes them).
func entriesSQL(e entry, first int) (string, []any) {
	vals := []any{e.at, string(e.actor.Role), clip(actorID(e.actor), 256), clip(e.actor.Name, 256),
		clip(string(e.actor.PractitionerRole), 32), clip(e.actor.Organization, 256), string(e.basis),
		clip(string(e.action), 64), clip(e.detail, 512), string(e.outcome), string(e.reason), clip(e.actor.RequestID, 128)}
	sql := ""
	for i := range vals {
		if i > 0 {
			sql += ", "
		}
		sql += fmt.Sprintf("$%d", first+i)
		if i == 0 {
			sql += "::timestamptz"
		}
	}
	return sql, vals
}

// writeEntries writes entry e for each of ids in one statement.
func writeEntries(ctx context.Context, q querier, ids []int64, e entry) error {
	pids := make([]int32, len(ids))
	for i, id := range ids {
		pids[i] = int32(id)
	}
	cols, vals := entriesSQL(e, 2)
	_, err := q.Exec(ctx, `INSERT INTO access_log (patient_id, at, actor_role, actor_id, actor_name, practitioner_role,
		on_behalf_of, basis, action, detail, outcome, reason, request_id)
		SELECT id, `+cols+` FROM unnest($1::int4[]) id`, append([]any{pids}, vals...)...)
	if err != nil {
		return fmt.Errorf("consent: access log: %w", translate(err))
	}
	return nil
}

// recordListError writes the "error" entries of a failed listed access in
// a transaction of its own, even when ctx is done.
func (s *Store) recordListError(ctx context.Context, ids []int64, e entry, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e.outcome, e.reason = OutcomeError, reasonOf(cause)
	if err := writeEntries(ctx, s.pool, ids, e); err != nil {
		s.logger.Error("consent: could not record a failed listed access in the access log",
			slog.Any("actor", e.actor), slog.Int("patients", len(ids)), slog.Any("err", err))
	}
}
