package consent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"fsecgm/cgm/codicefiscale"

	"github.com/jackc/pgx/v5"
)

// ThirdPartyConsent returns the patient's third-party consent and its
// history (ActReadConsent).
func (s *Store) ThirdPartyConsent(ctx context.Context, a Actor, patientID int64) (ConsentState, error) {
	var st ConsentState
	_, err := s.access(ctx, a, patientID, ActReadConsent, "third-party consent",
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			var err error
			st, err = consentState(ctx, tx, patientID)
			return err
		})
	return st, err
}

func consentState(ctx context.Context, tx pgx.Tx, id int64) (ConsentState, error) {
	var st ConsentState
	err := tx.QueryRow(ctx, `SELECT granted FROM third_party_consents WHERE patient_id = $1`, id).Scan(&st.Granted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("consent: third-party consent: %w", translate(err))
	}
	rows, _ := tx.Query(ctx, `SELECT granted, changed_at, changed_by, changed_as FROM third_party_consent_changes
		WHERE patient_id = $1 ORDER BY changed_at, id`, id)
	st.History, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConsentChange, error) {
		var c ConsentChange
		err := r.Scan(&c.Granted, &c.At, &c.By, &c.As)
		c.At = c.At.UTC()
		return c, err
	})
	if err != nil {
		return st, fmt.Errorf("consent: third-party consent history: %w", translate(err))
	}
	return st, nil
}

// SetThirdPartyConsent grants (granted true) or revokes the patient's
// consent to consultation by third parties (ActWriteConsent) and returns
// the new state. Setting the state it already has records nothing new.
// Revocation takes effect for every access decided after it commits, and
// waits for accesses by third parties in progress.
func (s *Store) SetThirdPartyConsent(ctx context.Context, a Actor, patientID int64, granted bool) (ConsentState, error) {
	detail := "revoke third-party consent"
	if granted {
		detail = "grant third-party consent"
	}
	var st ConsentState
	_, err := s.access(ctx, a, patientID, ActWriteConsent, detail,
		func(ctx context.Context, tx pgx.Tx, d Decision, _ Facts) error {
			if err := lockPatient(ctx, tx, patientID); err != nil {
				return fmt.Errorf("consent: set third-party consent: %w", err)
			}
			var cur bool
			// FOR UPDATE waits for third-party reads holding FOR SHARE.
			err := tx.QueryRow(ctx, `SELECT granted FROM third_party_consents WHERE patient_id = $1 FOR UPDATE`,
				patientID).Scan(&cur)
			switch {
			case err == nil && cur == granted:
				// unchanged
			case err == nil || errors.Is(err, pgx.ErrNoRows):
				now := s.clock()
				const up = `INSERT INTO third_party_consents (patient_id, granted, changed_at) VALUES ($1, $2, $3)
					ON CONFLICT (patient_id) DO UPDATE SET granted = EXCLUDED.granted, changed_at = EXCLUDED.changed_at`
				if _, err := tx.Exec(ctx, up, patientID, granted, now); err != nil {
					return fmt.Errorf("consent: set third-party consent: %w", translate(err))
				}
				const hist = `INSERT INTO third_party_consent_changes (patient_id, granted, changed_at, changed_by, changed_as)
					VALUES ($1, $2, $3, $4, $5)`
				if _, err := tx.Exec(ctx, hist, patientID, granted, now, a.FiscalCode, string(d.Basis)); err != nil {
					return fmt.Errorf("consent: set third-party consent: %w", translate(err))
				}
			default:
				return fmt.Errorf("consent: set third-party consent: %w", translate(err))
			}
			st, err = consentState(ctx, tx, patientID)
			return err
		})
	return st, err
}

// maxVersion is the longest privacy notice version accepted.
const maxVersion = 64

// AcceptPrivacyNotice records that a accepted version of the privacy notice
// for the patient, now (ActWriteData: it is part of connecting a sensor).
// The version must be 1 to 64 printable characters.
func (s *Store) AcceptPrivacyNotice(ctx context.Context, a Actor, patientID int64, version string) (PrivacyNoticeAcceptance, error) {
	var acc PrivacyNoticeAcceptance
	_, err := s.access(ctx, a, patientID, ActWriteData, "accept privacy notice "+clip(version, maxVersion),
		func(ctx context.Context, tx pgx.Tx, d Decision, _ Facts) error {
			if err := checkVersion(version); err != nil {
				return err
			}
			acc = PrivacyNoticeAcceptance{Version: version, AcceptedAt: s.clock(), AcceptedBy: a.FiscalCode, As: d.Basis}
			const ins = `INSERT INTO privacy_notice_acceptances (patient_id, version, accepted_at, accepted_by, accepted_as)
				VALUES ($1, $2, $3, $4, $5)`
			if _, err := tx.Exec(ctx, ins, patientID, version, acc.AcceptedAt, a.FiscalCode, string(d.Basis)); err != nil {
				return fmt.Errorf("consent: accept privacy notice: %w", translate(err))
			}
			return nil
		})
	return acc, err
}

func checkVersion(v string) error {
	if v == "" || len([]rune(v)) > maxVersion {
		return fmt.Errorf("%w: privacy notice version: must be 1 to %d characters", ErrInvalid, maxVersion)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: privacy notice version: must hold printable characters only", ErrInvalid)
		}
	}
	return nil
}

// LatestPrivacyNotice returns the patient's most recent privacy notice
// acceptance (ActReadConsent), or ErrNotFound when there is none (the read
// is still logged as allowed).
func (s *Store) LatestPrivacyNotice(ctx context.Context, a Actor, patientID int64) (PrivacyNoticeAcceptance, error) {
	var acc PrivacyNoticeAcceptance
	found := false
	_, err := s.access(ctx, a, patientID, ActReadConsent, "privacy notice",
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			const q = `SELECT version, accepted_at, accepted_by, accepted_as FROM privacy_notice_acceptances
				WHERE patient_id = $1 ORDER BY accepted_at DESC, id DESC LIMIT 1`
			err := tx.QueryRow(ctx, q, patientID).Scan(&acc.Version, &acc.AcceptedAt, &acc.AcceptedBy, &acc.As)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("consent: privacy notice: %w", translate(err))
			}
			acc.AcceptedAt = acc.AcceptedAt.UTC()
			found = true
			return nil
		})
	if err != nil {
		return PrivacyNoticeAcceptance{}, err
	}
	if !found {
		return acc, fmt.Errorf("consent: privacy notice of patient %d: none accepted: %w", patientID, ErrNotFound)
	}
	return acc, nil
}

const delegationColumns = `id, patient_id, delegate_fiscal_code, granted_by, granted_as, created_at, expires_at,
	revoked_at, coalesce(revoked_by, '')`

func scanDelegation(r pgx.CollectableRow) (Delegation, error) {
	var d Delegation
	var revoked *time.Time
	err := r.Scan(&d.ID, &d.PatientID, &d.DelegateFiscalCode, &d.GrantedBy, &d.GrantedAs, &d.CreatedAt,
		&d.ExpiresAt, &revoked, &d.RevokedBy)
	d.CreatedAt, d.ExpiresAt, d.RevokedAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), timeOf(revoked)
	return d, err
}

// GrantDelegation delegates the adult with fiscal code delegateCF to act
// for the patient until expiresAt (ActWriteDelegations: the patient, a
// parent of a minor or a tutor). A delegation to the same person still in
// force is replaced (revoked as superseded). The code must be valid, not
// the patient's nor the grantor's, and of an adult (by the birth date stored
// for them as a patient, else the one encoded in the code: see Decide);
// expiresAt must be in the future and at most Options.MaxDelegationYears
// (5 by default) ahead. A delegation granted by a parent ends at
// the patient's 18th birthday at the latest: a later expiresAt is brought
// forward to it.
func (s *Store) GrantDelegation(ctx context.Context, a Actor, patientID int64, delegateCF string, expiresAt time.Time) (Delegation, error) {
	var del Delegation
	detail := "grant delegation until " + expiresAt.UTC().Format(time.RFC3339)
	_, err := s.access(ctx, a, patientID, ActWriteDelegations, detail,
		func(ctx context.Context, tx pgx.Tx, d Decision, f Facts) error {
			now := s.clock()
			cf := codicefiscale.Normalize(delegateCF)
			if err := codicefiscale.Validate(cf); err != nil {
				return fmt.Errorf("%w: delegate fiscal code: %w", ErrInvalid, err)
			}
			if cf == f.PatientFiscalCode {
				return fmt.Errorf("%w: delegate fiscal code: the patient cannot be their own delegate", ErrInvalid)
			}
			if cf == a.FiscalCode {
				return fmt.Errorf("%w: delegate fiscal code: a representative cannot delegate themself", ErrInvalid)
			}
			expires := expiresAt.UTC().Truncate(time.Microsecond)
			if !expires.After(now) {
				return fmt.Errorf("%w: delegation expiry: must be in the future", ErrInvalid)
			}
			if err := checkAdult(ctx, tx, cf, f.PatientLocation, now); err != nil {
				return err
			}
			if limit := now.AddDate(s.maxYears, 0, 1); !expires.Before(limit) {
				return fmt.Errorf("%w: delegation expiry: at most %d years ahead", ErrInvalid, s.maxYears)
			}
			if d.Basis == BasisParent {
				if adult, ok := majority(f, now); ok && expires.After(adult) {
					expires = adult.UTC()
				}
			}
			if err := lockPatient(ctx, tx, patientID); err != nil {
				return fmt.Errorf("consent: grant delegation: %w", err)
			}
			const supersede = `UPDATE delegations SET revoked_at = $3, revoked_by = 'superseded'
				WHERE patient_id = $1 AND delegate_fiscal_code = $2 AND revoked_at IS NULL AND expires_at > $3`
			if _, err := tx.Exec(ctx, supersede, patientID, cf, now); err != nil {
				return fmt.Errorf("consent: grant delegation: %w", translate(err))
			}
			const ins = `INSERT INTO delegations (patient_id, delegate_fiscal_code, granted_by, granted_as, created_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + delegationColumns
			rows, _ := tx.Query(ctx, ins, patientID, cf, a.FiscalCode, string(d.Basis), now, expires)
			var err error
			if del, err = pgx.CollectExactlyOneRow(rows, scanDelegation); err != nil {
				return fmt.Errorf("consent: grant delegation: %w", translate(err))
			}
			return nil
		})
	return del, err
}

// checkAdult returns an ErrInvalid error unless the person with fiscal code
// cf has turned 18 by now (in loc).
func checkAdult(ctx context.Context, tx pgx.Tx, cf string, loc *time.Location, now time.Time) error {
	if loc == nil {
		loc = time.UTC
	}
	var birth *time.Time
	err := tx.QueryRow(ctx, `SELECT birth_date FROM patients WHERE fiscal_code = $1`, cf).Scan(&birth)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("consent: delegate birth date: %w", translate(err))
	}
	b := timeOf(birth)
	if b.IsZero() {
		var ok bool
		if b, ok = codicefiscale.BirthDate(cf, now.In(loc)); !ok {
			return fmt.Errorf("%w: delegate fiscal code: no birth date can be read from it", ErrInvalid)
		}
	}
	if now.Before(comingOfAge(b, loc)) {
		return fmt.Errorf("%w: delegate: must be an adult (18 or older)", ErrInvalid)
	}
	return nil
}

// RevokeDelegation revokes the patient's delegation id now
// (ActWriteDelegations) and returns it. Revoking a revoked or expired
// delegation returns it unchanged; an unknown id is ErrNotFound.
func (s *Store) RevokeDelegation(ctx context.Context, a Actor, patientID, id int64) (Delegation, error) {
	var del Delegation
	_, err := s.access(ctx, a, patientID, ActWriteDelegations, "revoke delegation "+strconv.FormatInt(id, 10),
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			if err := lockPatient(ctx, tx, patientID); err != nil {
				return fmt.Errorf("consent: revoke delegation: %w", err)
			}
			const up = `UPDATE delegations SET revoked_at = $3, revoked_by = $4
				WHERE id = $1 AND patient_id = $2 AND revoked_at IS NULL AND expires_at > $3
				RETURNING ` + delegationColumns
			rows, _ := tx.Query(ctx, up, id, patientID, s.clock(), a.FiscalCode)
			var err error
			del, err = pgx.CollectExactlyOneRow(rows, scanDelegation)
			if errors.Is(err, pgx.ErrNoRows) {
				rows, _ = tx.Query(ctx, `SELECT `+delegationColumns+` FROM delegations WHERE id = $1 AND patient_id = $2`,
					id, patientID)
				del, err = pgx.CollectExactlyOneRow(rows, scanDelegation)
			}
			if err != nil {
				return fmt.Errorf("consent: revoke delegation %d: %w", id, translate(err))
			}
			return nil
		})
	return del, err
}

// Delegations lists the patient's delegations, in force or not, newest
// first (ActReadDelegations).
func (s *Store) Delegations(ctx context.Context, a Actor, patientID int64) ([]Delegation, error) {
	var out []Delegation
	_, err := s.access(ctx, a, patientID, ActReadDelegations, "delegations",
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			rows, _ := tx.Query(ctx, `SELECT `+delegationColumns+` FROM delegations WHERE patient_id = $1
				ORDER BY created_at DESC, id DESC`, patientID)
			var err error
			if out, err = pgx.CollectRows(rows, scanDelegation); err != nil {
				return fmt.Errorf("consent: delegations: %w", translate(err))
			}
			return nil
		})
	return out, err
}

// Page sizes of AccessLog.
const (
	defaultLogPage = 50
	maxLogPage     = 500
)

// AccessLog returns a page of at most limit (1..500; 0 means 50) entries of
// the patient's access log, newest first, older than cursor before (""
// for the first page; AccessLogPage.Next for the next). ActReadAccessLog.
// The read is itself logged (unless by the patient), and its entry is on
// the first page.
func (s *Store) AccessLog(ctx context.Context, a Actor, patientID int64, limit int, before string) (AccessLogPage, error) {
	var page AccessLogPage
	_, err := s.access(ctx, a, patientID, ActReadAccessLog, "access log",
		func(ctx context.Context, tx pgx.Tx, _ Decision, _ Facts) error {
			if limit == 0 {
				limit = defaultLogPage
			}
			if limit < 0 || limit > maxLogPage {
				return fmt.Errorf("%w: access log page size %d: want 1 to %d", ErrInvalid, limit, maxLogPage)
			}
			at, id, err := parseCursor(before)
			if err != nil {
				return err
			}
			// Two statements, so that each has a plan that walks the index
			// from the cursor (a generic plan of "$2 IS NULL OR ..." would
			// filter instead).
			const cols = `SELECT id, at, actor_role, actor_id, actor_name, practitioner_role, on_behalf_of, basis,
				action, detail, outcome, reason, request_id, occurrences, coalesce(last_at, at),
				coalesce(last_request_id, request_id) FROM access_log `
			var rows pgx.Rows
			if before == "" {
				rows, _ = tx.Query(ctx, cols+`WHERE patient_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
					patientID, limit+1)
			} else {
				rows, _ = tx.Query(ctx, cols+`WHERE patient_id = $1 AND (at, id) < ($2, $3)
					ORDER BY at DESC, id DESC LIMIT $4`, patientID, at, id, limit+1)
			}
			page.Entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccessEntry, error) {
				var e AccessEntry
				err := r.Scan(&e.ID, &e.At, &e.ActorRole, &e.ActorID, &e.ActorName, &e.PractitionerRole,
					&e.OnBehalfOf, &e.Basis, &e.Action, &e.Detail, &e.Outcome, &e.Reason, &e.RequestID,
					&e.Count, &e.LastAt, &e.LastRequestID)
				e.At, e.LastAt = e.At.UTC(), e.LastAt.UTC()
				return e, err
			})
			if err != nil {
				return fmt.Errorf("consent: access log: %w", translate(err))
			}
			if len(page.Entries) > limit {
				page.Entries = page.Entries[:limit]
				last := page.Entries[limit-1]
				page.Next = formatCursor(last.At, last.ID)
			}
			return nil
		})
	return page, err
}

// formatCursor encodes an access-log position as "<unix microseconds>.<id>".
func formatCursor(at time.Time, id int64) string {
	return strconv.FormatInt(at.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)
}

// parseCursor decodes formatCursor's output; "" is the start (zero time).
func parseCursor(c string) (time.Time, int64, error) {
	if c == "" {
		return time.Time{}, 0, nil
	}
	us, ids, ok := strings.Cut(c, ".")
	micro, err1 := strconv.ParseInt(us, 10, 64)
	id, err2 := strconv.ParseInt(ids, 10, 64)
	if !ok || err1 != nil || err2 != nil || id <= 0 {
		return time.Time{}, 0, fmt.Errorf("%w: access log cursor %q: not a cursor returned by AccessLog", ErrInvalid, clip(c, 64))
	}
	return time.UnixMicro(micro).UTC(), id, nil
}
