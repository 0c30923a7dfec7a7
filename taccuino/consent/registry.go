package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"

	"github.com/jackc/pgx/v5"
)

const guardianshipColumns = `kind, guardian_fiscal_code, patient_fiscal_code, valid_from, valid_to, source`

func scanGuardianship(r pgx.CollectableRow) (Guardianship, error) {
	var g Guardianship
	var from, to *time.Time
	err := r.Scan(&g.Kind, &g.GuardianFiscalCode, &g.PatientFiscalCode, &from, &to, &g.Source)
	g.ValidFrom, g.ValidTo = timeOf(from), timeOf(to)
	return g, err
}

const careColumns = `patient_fiscal_code, kind, party, valid_from, valid_to, source`

func scanCare(r pgx.CollectableRow) (CareRelationship, error) {
	var c CareRelationship
	var from, to *time.Time
	var party string
	err := r.Scan(&c.PatientFiscalCode, &c.Kind, &party, &from, &to, &c.Source)
	c.ValidFrom, c.ValidTo = timeOf(from), timeOf(to)
	if c.Kind == CareDiabetology {
		c.OrganizationID = party
	} else {
		c.PractitionerFiscalCode = party
	}
	return c, err
}

// checkCF normalizes and validates a fiscal code, naming it in the error.
func checkCF(what, cf string) (string, error) {
	cf = codicefiscale.Normalize(cf)
	if err := codicefiscale.Validate(cf); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	return cf, nil
}

// checkText validates a short identifier (organization id, source): at most
// n printable characters, empty only when allowed.
func checkText(what, s string, n int, empty bool) error {
	if s == "" && !empty {
		return fmt.Errorf("%w: %s: required", ErrInvalid, what)
	}
	if len([]rune(s)) > n {
		return fmt.Errorf("%w: %s: longer than %d characters", ErrInvalid, what, n)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s: must hold printable characters only", ErrInvalid, what)
		}
	}
	return nil
}

func checkPeriod(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return fmt.Errorf("%w: valid_to must be after valid_from", ErrInvalid)
	}
	return nil
}

// careKeyOf validates r and returns it normalized with its party column.
func careKeyOf(r CareRelationship) (CareRelationship, string, error) {
	var err error
	if r.PatientFiscalCode, err = checkCF("patient fiscal code", r.PatientFiscalCode); err != nil {
		return r, "", err
	}
	switch r.Kind {
	case CareMMG, CarePLS:
		if r.OrganizationID != "" {
			return r, "", fmt.Errorf("%w: organization id: only for a diabetology relationship", ErrInvalid)
		}
		if r.PractitionerFiscalCode, err = checkCF("practitioner fiscal code", r.PractitionerFiscalCode); err != nil {
			return r, "", err
		}
		return r, r.PractitionerFiscalCode, nil
	case CareDiabetology:
		if r.PractitionerFiscalCode != "" {
			return r, "", fmt.Errorf("%w: practitioner fiscal code: not for a diabetology relationship", ErrInvalid)
		}
		if err := checkText("organization id", r.OrganizationID, 64, false); err != nil {
			return r, "", err
		}
		return r, r.OrganizationID, nil
	}
	return r, "", fmt.Errorf("%w: care relationship kind %q: want mmg, pls or diabetology", ErrInvalid, clip(string(r.Kind), 32))
}

// registry runs fn, a write of registry data about the patient with fiscal
// code patientCF, for actor a: decide (ActWriteCareRelationships), run fn,
// and log in the patient's access log (when fsecgm has a record of the
// patient) the denial, the failure, or the change fn reports.
func (s *Store) registry(ctx context.Context, a Actor, patientCF string, detail string,
	fn func(ctx context.Context, tx pgx.Tx, patientID int64, now time.Time) (changed bool, err error)) error {
	const act = ActWriteCareRelationships
	now := s.clock()
	patientCF = codicefiscale.Normalize(patientCF)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("consent: %s: begin: %w", act, translate(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var pid int64
	err = tx.QueryRow(ctx, `SELECT id FROM patients WHERE fiscal_code = $1`, patientCF).Scan(&pid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("consent: %s: %w", act, translate(err))
	}
	d := Decide(Facts{PatientFiscalCode: patientCF}, a, act, now)
	e := entry{patientID: pid, at: now, actor: a, basis: d.Basis, action: act, detail: detail, reason: d.Reason}
	if !d.Allowed {
		if pid != 0 {
			e.outcome = OutcomeDenied
			e.repeatKey = s.repeatKey(e)
			if err := writeEntry(ctx, tx, e); err != nil {
				return err
			}
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("consent: %s: commit denial: %w", act, translate(err))
			}
		}
		return &DeniedError{Action: act, Reason: d.Reason}
	}
	changed, err := fn(ctx, tx, pid, now)
	if err == nil && changed && pid != 0 {
		e.outcome = OutcomeAllowed
		err = writeEntry(ctx, tx, e)
	}
	if err == nil {
		if err = tx.Commit(ctx); err != nil {
			err = fmt.Errorf("consent: %s: commit: %w", act, translate(err))
		}
	}
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if pid != 0 {
			s.recordError(ctx, e, err)
		}
		return err
	}
	return nil
}

// UpsertCareRelationship creates or updates (by natural key) a care
// relationship from the registry (ActWriteCareRelationships: the registry
// service) and returns it as stored. Idempotent: storing what is already
// stored changes nothing and logs nothing. A change is logged in the
// patient's access log when fsecgm has a record of the patient.
func (s *Store) UpsertCareRelationship(ctx context.Context, a Actor, r CareRelationship) (CareRelationship, error) {
	var out CareRelationship
	err := s.registry(ctx, a, r.PatientFiscalCode, "record "+string(r.Kind)+" care relationship",
		func(ctx context.Context, tx pgx.Tx, _ int64, now time.Time) (bool, error) {
			r, party, err := careKeyOf(r)
			if err != nil {
				return false, err
			}
			if err := checkText("source", r.Source, 64, true); err != nil {
				return false, err
			}
			if err := checkPeriod(r.ValidFrom, r.ValidTo); err != nil {
				return false, err
			}
			const up = `INSERT INTO care_relationships AS c (patient_fiscal_code, kind, party, valid_from, valid_to, source, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (patient_fiscal_code, kind, party) DO UPDATE
				SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, source = EXCLUDED.source,
					updated_at = EXCLUDED.updated_at
				WHERE (c.valid_from, c.valid_to, c.source) IS DISTINCT FROM (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.source)
				RETURNING ` + careColumns
			rows, _ := tx.Query(ctx, up, r.PatientFiscalCode, string(r.Kind), party, nullTime(r.ValidFrom),
				nullTime(r.ValidTo), r.Source, now)
			out, err = pgx.CollectExactlyOneRow(rows, scanCare)
			if errors.Is(err, pgx.ErrNoRows) {
				out, err = selectCare(ctx, tx, r.PatientFiscalCode, r.Kind, party)
				return false, err
			}
			if err != nil {
				return false, fmt.Errorf("consent: upsert care relationship: %w", translate(err))
			}
			return true, nil
		})
	return out, err
}

func selectCare(ctx context.Context, tx pgx.Tx, patientCF string, kind CareKind, party string) (CareRelationship, error) {
	rows, _ := tx.Query(ctx, `SELECT `+careColumns+` FROM care_relationships
		WHERE patient_fiscal_code = $1 AND kind = $2 AND party = $3`, patientCF, string(kind), party)
	c, err := pgx.CollectExactlyOneRow(rows, scanCare)
	if err != nil {
		return c, fmt.Errorf("consent: care relationship: %w", translate(err))
	}
	return c, nil
}

// EndCareRelationship ends the care relationship with r's natural key
// (patient, kind, practitioner or organization; r's other fields are
// ignored) at instant at (ActWriteCareRelationships) and returns it.
// Ending an ended one keeps the earlier end; an unknown one is ErrNotFound;
// an end not after its start is ErrInvalid.
func (s *Store) EndCareRelationship(ctx context.Context, a Actor, r CareRelationship, at time.Time) (CareRelationship, error) {
	var out CareRelationship
	err := s.registry(ctx, a, r.PatientFiscalCode, "end "+string(r.Kind)+" care relationship",
		func(ctx context.Context, tx pgx.Tx, _ int64, now time.Time) (bool, error) {
			r, party, err := careKeyOf(r)
			if err != nil {
				return false, err
			}
			if at.IsZero() {
				return false, fmt.Errorf("%w: end of care relationship: required", ErrInvalid)
			}
			cur, err := selectCare(ctx, tx, r.PatientFiscalCode, r.Kind, party)
			if err != nil {
				return false, err
			}
			at := at.UTC().Truncate(time.Microsecond)
			if !cur.ValidTo.IsZero() && !cur.ValidTo.After(at) {
				out = cur
				return false, nil
			}
			if err := checkPeriod(cur.ValidFrom, at); err != nil {
				return false, err
			}
			rows, _ := tx.Query(ctx, `UPDATE care_relationships SET valid_to = $4, updated_at = $5
				WHERE patient_fiscal_code = $1 AND kind = $2 AND party = $3 RETURNING `+careColumns,
				r.PatientFiscalCode, string(r.Kind), party, at, now)
			if out, err = pgx.CollectExactlyOneRow(rows, scanCare); err != nil {
				return false, fmt.Errorf("consent: end care relationship: %w", translate(err))
			}
			return true, nil
		})
	return out, err
}

// checkGuardianship validates g's natural key and returns it normalized.
func checkGuardianship(g Guardianship) (Guardianship, error) {
	if g.Kind != GuardianParent && g.Kind != GuardianTutor {
		return g, fmt.Errorf("%w: guardianship kind %q: want parent or tutor", ErrInvalid, clip(string(g.Kind), 32))
	}
	var err error
	if g.GuardianFiscalCode, err = checkCF("guardian fiscal code", g.GuardianFiscalCode); err != nil {
		return g, err
	}
	if g.PatientFiscalCode, err = checkCF("patient fiscal code", g.PatientFiscalCode); err != nil {
		return g, err
	}
	if g.GuardianFiscalCode == g.PatientFiscalCode {
		return g, fmt.Errorf("%w: guardian fiscal code: a person is not their own guardian", ErrInvalid)
	}
	return g, nil
}

// endGuardianDelegations revokes, at the end of a guardianship, the
// delegations its guardian granted for the patient on its basis: they
// acted on an authority that ends.
func endGuardianDelegations(ctx context.Context, tx pgx.Tx, patientID int64, g Guardianship) (bool, error) {
	if patientID == 0 || g.ValidTo.IsZero() {
		return false, nil
	}
	const up = `UPDATE delegations SET revoked_at = $4, revoked_by = 'registry'
		WHERE patient_id = $1 AND granted_by = $2 AND granted_as = $3 AND revoked_at IS NULL AND expires_at > $4`
	tag, err := tx.Exec(ctx, up, patientID, g.GuardianFiscalCode, string(g.Kind), g.ValidTo)
	if err != nil {
		return false, fmt.Errorf("consent: revoke the guardian's delegations: %w", translate(err))
	}
	return tag.RowsAffected() > 0, nil
}

// UpsertGuardianship creates or updates (by natural key: kind, guardian,
// patient) a parent or tutor registration from the registry
// (ActWriteCareRelationships: the registry service) and returns it as
// stored. Idempotent. When the stored guardianship has an end, the
// delegations its guardian granted for the patient on its basis are
// revoked at that end.
func (s *Store) UpsertGuardianship(ctx context.Context, a Actor, g Guardianship) (Guardianship, error) {
	var out Guardianship
	err := s.registry(ctx, a, g.PatientFiscalCode, "record "+string(g.Kind),
		func(ctx context.Context, tx pgx.Tx, pid int64, now time.Time) (bool, error) {
			g, err := checkGuardianship(g)
			if err != nil {
				return false, err
			}
			if err := checkText("source", g.Source, 64, true); err != nil {
				return false, err
			}
			if err := checkPeriod(g.ValidFrom, g.ValidTo); err != nil {
				return false, err
			}
			const up = `INSERT INTO guardianships AS g (kind, guardian_fiscal_code, patient_fiscal_code, valid_from, valid_to, source, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (guardian_fiscal_code, patient_fiscal_code, kind) DO UPDATE
				SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, source = EXCLUDED.source,
					updated_at = EXCLUDED.updated_at
				WHERE (g.valid_from, g.valid_to, g.source) IS DISTINCT FROM (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.source)
				RETURNING ` + guardianshipColumns
			rows, _ := tx.Query(ctx, up, string(g.Kind), g.GuardianFiscalCode, g.PatientFiscalCode,
				nullTime(g.ValidFrom), nullTime(g.ValidTo), g.Source, now)
			changed := true
			out, err = pgx.CollectExactlyOneRow(rows, scanGuardianship)
			if errors.Is(err, pgx.ErrNoRows) {
				changed = false
				out, err = selectGuardianship(ctx, tx, g)
			}
			if err != nil {
				return false, fmt.Errorf("consent: upsert guardianship: %w", translate(err))
			}
			revoked, err := endGuardianDelegations(ctx, tx, pid, out)
			return changed || revoked, err
		})
	return out, err
}

func selectGuardianship(ctx context.Context, tx pgx.Tx, g Guardianship) (Guardianship, error) {
	rows, _ := tx.Query(ctx, `SELECT `+guardianshipColumns+` FROM guardianships
		WHERE guardian_fiscal_code = $1 AND patient_fiscal_code = $2 AND kind = $3`,
		g.GuardianFiscalCode, g.PatientFiscalCode, string(g.Kind))
	return pgx.CollectExactlyOneRow(rows, scanGuardianship)
}

// EndGuardianship ends the guardianship with g's natural key (g's other
// fields are ignored) at instant at (ActWriteCareRelationships) and returns
// it; the delegations its guardian granted for the patient on its basis are
// revoked at that instant. Ending an ended one keeps the earlier end; an
// unknown one is ErrNotFound; an end not after its start is ErrInvalid.
func (s *Store) EndGuardianship(ctx context.Context, a Actor, g Guardianship, at time.Time) (Guardianship, error) {
	var out Guardianship
	err := s.registry(ctx, a, g.PatientFiscalCode, "end "+string(g.Kind),
		func(ctx context.Context, tx pgx.Tx, pid int64, now time.Time) (bool, error) {
			g, err := checkGuardianship(g)
			if err != nil {
				return false, err
			}
			if at.IsZero() {
				return false, fmt.Errorf("%w: end of guardianship: required", ErrInvalid)
			}
			cur, err := selectGuardianship(ctx, tx, g)
			if err != nil {
				return false, fmt.Errorf("consent: end guardianship: %w", translate(err))
			}
			at := at.UTC().Truncate(time.Microsecond)
			if !cur.ValidTo.IsZero() && !cur.ValidTo.After(at) {
				out = cur
				return false, nil
			}
			if err := checkPeriod(cur.ValidFrom, at); err != nil {
				return false, err
			}
			rows, _ := tx.Query(ctx, `UPDATE guardianships SET valid_to = $4, updated_at = $5
				WHERE guardian_fiscal_code = $1 AND patient_fiscal_code = $2 AND kind = $3
				RETURNING `+guardianshipColumns, g.GuardianFiscalCode, g.PatientFiscalCode, string(g.Kind), at, now)
			if out, err = pgx.CollectExactlyOneRow(rows, scanGuardianship); err != nil {
				return false, fmt.Errorf("consent: end guardianship: %w", translate(err))
			}
			_, err = endGuardianDelegations(ctx, tx, pid, out)
			return true, err
		})
	return out, err
}

// CareRelationships lists the care relationships and guardianships of the
// patient, in force or not (ActReadCareRelationships), ordered by kind and
// then by practitioner, organization or guardian.
func (s *Store) CareRelationships(ctx context.Context, a Actor, patientID int64) ([]CareRelationship, []Guardianship, error) {
	var cs []CareRelationship
	var gs []Guardianship
	_, err := s.access(ctx, a, patientID, ActReadCareRelationships, "care relationships",
		func(ctx context.Context, tx pgx.Tx, _ Decision, f Facts) error {
			var err error
			cs, gs, err = careAndGuardians(ctx, tx, f.PatientFiscalCode)
			return err
		})
	return cs, gs, err
}

// careAndGuardians reads the care relationships and guardianships of the
// patient with fiscal code cf, ordered by kind and then by practitioner,
// organization or guardian.
func careAndGuardians(ctx context.Context, tx pgx.Tx, cf string) ([]CareRelationship, []Guardianship, error) {
	rows, _ := tx.Query(ctx, `SELECT `+careColumns+` FROM care_relationships WHERE patient_fiscal_code = $1
		ORDER BY kind, party`, cf)
	cs, err := pgx.CollectRows(rows, scanCare)
	if err != nil {
		return nil, nil, fmt.Errorf("consent: care relationships: %w", translate(err))
	}
	rows, _ = tx.Query(ctx, `SELECT `+guardianshipColumns+` FROM guardianships WHERE patient_fiscal_code = $1
		ORDER BY kind, guardian_fiscal_code`, cf)
	gs, err := pgx.CollectRows(rows, scanGuardianship)
	if err != nil {
		return nil, nil, fmt.Errorf("consent: guardianships: %w", translate(err))
	}
	return cs, gs, nil
}

// VisiblePatients returns the internal ids of the patients practitioner a
// may read now, in increasing order: a care relationship in force that
// names a (as Decide matches it) and the third-party consent granted. Nil
// for anyone but a practitioner of role mmg, pls or diabetologist (with an
// organization). One query over the care_relationships_party index.
func (s *Store) VisiblePatients(ctx context.Context, a Actor) ([]int64, error) {
	q, args, ok := s.VisibleSQL(a)
	if !ok || a.Role != auth.RolePractitioner {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, q+` ORDER BY 1`, args...)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("consent: visible patients: %w", translate(err))
	}
	return ids, nil
}

// VisibleSQL returns the query selecting the patients actor a may read
// now, for a caller that composes it into a statement of its own (the
// clinic list joins it with the summaries in one statement, instead of
// sending thousands of ids back and forth): a SELECT of one column, id
// (patients.id), with its arguments numbered $1 to $len(args), now being
// the store's clock. For a practitioner it is the query of
// VisiblePatients; for a service with ScopeReadData (a regional service
// reading every consenting patient, as Decide allows it) the patients whose
// third-party consent is granted. ok is false for anyone else. Whatever the
// composed statement shows must still go through Access or AccessListed.
func (s *Store) VisibleSQL(a Actor) (query string, args []any, ok bool) {
	if a.Role == auth.RoleService {
		if !a.HasScope(ScopeReadData) {
			return "", nil, false
		}
		return `SELECT t.patient_id AS id FROM third_party_consents t WHERE t.granted`, nil, true
	}
	kind, party, ok := careKey(a)
	if !ok {
		return "", nil, false
	}
	const q = `SELECT p.id FROM care_relationships c
		JOIN patients p ON p.fiscal_code = c.patient_fiscal_code
		JOIN third_party_consents t ON t.patient_id = p.id
		WHERE c.kind = $1 AND c.party = $2 AND t.granted
			AND (c.valid_from IS NULL OR c.valid_from <= $3) AND (c.valid_to IS NULL OR c.valid_to > $3)`
	return q, []any{string(kind), party, s.clock()}, true
}

// Represented lists the patients citizen a may act for now: themself
// (Basis self, whether or not fsecgm has a record of them yet), the minors
// of whom they are a registered parent, those in their tutorship, and those
// who delegated them, each once with the widest basis (parent or tutor over
// delegate). Self comes first, then by patient fiscal code. Nil for anyone
// but a citizen. The same rules as Decide apply.
func (s *Store) Represented(ctx context.Context, a Actor) ([]Representation, error) {
	if a.Role != auth.RoleCitizen || a.FiscalCode == "" {
		return nil, nil
	}
	now := s.clock()
	self := Representation{PatientFiscalCode: a.FiscalCode, Basis: BasisSelf}
	err := s.pool.QueryRow(ctx, `SELECT id FROM patients WHERE fiscal_code = $1`, a.FiscalCode).Scan(&self.PatientID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("consent: represented: %w", translate(err))
	}
	others := map[string]Representation{}
	add := func(r Representation) {
		if old, ok := others[r.PatientFiscalCode]; ok && old.Basis != BasisDelegate {
			return
		}
		others[r.PatientFiscalCode] = r
	}

	type guardRow struct {
		g     Guardianship
		id    int64
		tz    string
		birth *time.Time
	}
	rows, _ := s.pool.Query(ctx, `SELECT g.kind, g.guardian_fiscal_code, g.patient_fiscal_code, g.valid_from, g.valid_to,
			g.source, coalesce(p.id, 0), coalesce(p.time_zone, ''), p.birth_date
		FROM guardianships g LEFT JOIN patients p ON p.fiscal_code = g.patient_fiscal_code
		WHERE g.guardian_fiscal_code = $1 AND (g.valid_to IS NULL OR g.valid_to > $2)`, a.FiscalCode, now)
	guards, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (guardRow, error) {
		var x guardRow
		var from, to *time.Time
		err := r.Scan(&x.g.Kind, &x.g.GuardianFiscalCode, &x.g.PatientFiscalCode, &from, &to, &x.g.Source,
			&x.id, &x.tz, &x.birth)
		x.g.ValidFrom, x.g.ValidTo = timeOf(from), timeOf(to)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("consent: represented: guardianships: %w", translate(err))
	}
	for _, x := range guards {
		f := Facts{PatientFiscalCode: x.g.PatientFiscalCode, PatientBirthDate: timeOf(x.birth), Guardianships: []Guardianship{x.g}}
		if f.PatientLocation, err = locationOf(x.tz); err != nil {
			return nil, fmt.Errorf("consent: represented: %w", err)
		}
		b, reason := guardianshipInForce(x.g, f, now)
		if reason != ReasonAllowed {
			continue
		}
		until := x.g.ValidTo
		if b == BasisParent {
			if adult, ok := majority(f, now); ok && (until.IsZero() || adult.Before(until)) {
				until = adult.UTC()
			}
		}
		add(Representation{PatientFiscalCode: x.g.PatientFiscalCode, PatientID: x.id, Basis: b, Until: until})
	}

	type delRow struct {
		d     Delegation
		cf    string
		tz    string
		birth *time.Time
	}
	rows, _ = s.pool.Query(ctx, `SELECT d.id, d.patient_id, d.delegate_fiscal_code, d.granted_by, d.granted_as,
			d.created_at, d.expires_at, d.revoked_at, coalesce(d.revoked_by, ''), p.fiscal_code, p.time_zone, p.birth_date
		FROM delegations d JOIN patients p ON p.id = d.patient_id
		WHERE d.delegate_fiscal_code = $1 AND d.revoked_at IS NULL AND d.expires_at > $2`, a.FiscalCode, now)
	dels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delRow, error) {
		var x delRow
		var revoked *time.Time
		err := r.Scan(&x.d.ID, &x.d.PatientID, &x.d.DelegateFiscalCode, &x.d.GrantedBy, &x.d.GrantedAs,
			&x.d.CreatedAt, &x.d.ExpiresAt, &revoked, &x.d.RevokedBy, &x.cf, &x.tz, &x.birth)
		x.d.CreatedAt, x.d.ExpiresAt, x.d.RevokedAt = x.d.CreatedAt.UTC(), x.d.ExpiresAt.UTC(), timeOf(revoked)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("consent: represented: delegations: %w", translate(err))
	}
	for _, x := range dels {
		if x.cf == a.FiscalCode {
			continue
		}
		f := Facts{PatientFiscalCode: x.cf, PatientBirthDate: timeOf(x.birth), Delegations: []Delegation{x.d}}
		if f.PatientLocation, err = locationOf(x.tz); err != nil {
			return nil, fmt.Errorf("consent: represented: %w", err)
		}
		if d := Decide(f, a, ActReadData, now); !d.Allowed || d.Basis != BasisDelegate {
			continue
		}
		add(Representation{PatientFiscalCode: x.cf, PatientID: x.d.PatientID, Basis: BasisDelegate, Until: x.d.ExpiresAt})
	}

	out := []Representation{self}
	rest := make([]Representation, 0, len(others))
	for _, r := range others {
		if r.PatientFiscalCode != a.FiscalCode {
			rest = append(rest, r)
		}
	}
	slices.SortFunc(rest, func(x, y Representation) int { return cmp.Compare(x.PatientFiscalCode, y.PatientFiscalCode) })
	return append(out, rest...), nil
}

// defaultZone is the zone of a patient fsecgm has no record of (the
// default of patients.time_zone, cgmstore.DefaultTimeZone).
const defaultZone = "Europe/Rome"

// locationOf loads a stored time zone; "" (no patient record) is
// defaultZone.
func locationOf(tz string) (*time.Location, error) {
	if tz == "" {
		tz = defaultZone
	}
	loc, err := cgm.Zone(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone: %w", err)
	}
	return loc, nil
}
