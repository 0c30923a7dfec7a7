package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Origin says who made a stored resource.
type Origin string

// The origins of stored resources.
const (
	// OriginFsecgm: computed by fsecgm (summaries, reports, sensors).
	OriginFsecgm Origin = "fsecgm"
	// OriginSubmitted: received from a device platform, a laboratory or
	// the patient, kept as received.
	OriginSubmitted Origin = "submitted"
)

// Resource is a stored FHIR resource.
type Resource struct {
	// Type is the resource type: Observation, DiagnosticReport or Device.
	Type string
	// ID is the resource id on fsecgm's FHIR API.
	ID string
	// PatientID is the internal key of the patient it is about.
	PatientID int64
	// IdentifierSystem and IdentifierValue are the identifier it is kept
	// by: unique in the patient's record (another patient's record may
	// hold the same identifier, for another resource).
	IdentifierSystem, IdentifierValue string
	// Codes are "system|code" of every coding of the resource's code.
	Codes []string
	// Start and End bound the effective time, [Start, End); zero when the
	// resource has none (Device).
	Start, End time.Time
	// Origin says who made it; Submitter is the submitter of a submitted
	// one (a service's client id, or "patient").
	Origin    Origin
	Submitter string
	// Body is the resource's JSON as written or received. Its id and meta
	// are not those of the API: see WithMeta.
	Body json.RawMessage
	// Version counts the stored versions (1 for the first).
	Version int
	// LastUpdated is when the current version was stored.
	LastUpdated time.Time
}

// DB is what both a pgx pool and a transaction offer: the reads of the
// FHIR API run in the transaction of consent.Store.Access.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// translate turns a pgx error into the package's errors, keeping
// PostgreSQL's message (which names constraints, never values).
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "23505":
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.Message)
	case pgErr.Code == "23503":
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.Message)
	case pgErr.Code == "23502", pgErr.Code == "23514", pgErr.Code[:2] == "22":
		return fmt.Errorf("%w: %s", ErrInvalid, pgErr.Message)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
}

// digestOf returns the SHA-256 of b in hex.
func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// upserted is what an upsert did.
type upserted struct {
	// id is the stored resource's id: the one given for a new resource,
	// the one kept for a known identifier (which may predate the id's
	// present derivation).
	id          string
	version     int
	lastUpdated time.Time
	created     bool
	changed     bool
}

// upsertSQL stores a resource by identifier within its patient's record:
// a new identifier is inserted (version 1); a known one with another
// digest replaces the body (version + 1, the stored id); the same digest
// changes nothing and returns no row, as does an identifier the patient's
// record keeps for another type or origin. Another patient's record is
// never looked at.
const upsertSQL = `INSERT INTO fhir_resources AS f (resource_type, id, patient_id, identifier_system, identifier_value,
		codes, effective_start, effective_end, origin, submitter, body, digest, version, last_updated)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13)
	ON CONFLICT (patient_id, identifier_system, identifier_value) DO UPDATE
	SET codes = EXCLUDED.codes, effective_start = EXCLUDED.effective_start, effective_end = EXCLUDED.effective_end,
		submitter = EXCLUDED.submitter, body = EXCLUDED.body, digest = EXCLUDED.digest,
		version = f.version + 1, last_updated = EXCLUDED.last_updated
	WHERE f.digest <> EXCLUDED.digest AND f.resource_type = EXCLUDED.resource_type AND f.origin = EXCLUDED.origin
	RETURNING id, version, last_updated, version = 1`

// upsert stores r by identifier (see upsertSQL). An identifier the
// patient's record keeps for another type or origin is ErrConflict.
func upsert(ctx context.Context, db DB, r Resource, digest string, now time.Time) (upserted, error) {
	us, err := upsertAll(ctx, db, []Resource{r}, []string{digest}, now)
	if err != nil {
		return upserted{}, err
	}
	if us[0].err != nil {
		return upserted{}, us[0].err
	}
	return us[0].upserted, nil
}

// upsertResult is the outcome of one resource of upsertAll.
type upsertResult struct {
	upserted
	err error // ErrConflict for an identifier kept for something else
}

// upsertAll stores rs (with their digests) in one round trip, and looks
// up in a second one those that returned no row, to tell unchanged ones
// from conflicts.
func upsertAll(ctx context.Context, db DB, rs []Resource, digests []string, now time.Time) ([]upsertResult, error) {
	out := make([]upsertResult, len(rs))
	now = now.UTC().Truncate(time.Microsecond)
	b := &pgx.Batch{}
	for i, r := range rs {
		codes := r.Codes
		if codes == nil {
			codes = []string{}
		}
		b.Queue(upsertSQL, r.Type, r.ID, r.PatientID, r.IdentifierSystem, r.IdentifierValue, codes,
			nullTime(r.Start), nullTime(r.End), string(r.Origin), r.Submitter, string(r.Body), digests[i], now).
			QueryRow(func(row pgx.Row) error {
				err := row.Scan(&out[i].id, &out[i].version, &out[i].lastUpdated, &out[i].created)
				if errors.Is(err, pgx.ErrNoRows) {
					out[i].version = 0 // looked up below
					return nil
				}
				out[i].changed = err == nil && !out[i].created
				return err
			})
	}
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("records: store resources: %w", translate(err))
	}
	b = &pgx.Batch{}
	for i, r := range rs {
		if out[i].version != 0 {
			continue
		}
		b.Queue(`SELECT resource_type, id, origin, version, last_updated FROM fhir_resources
			WHERE patient_id = $1 AND identifier_system = $2 AND identifier_value = $3`,
			r.PatientID, r.IdentifierSystem, r.IdentifierValue).
			QueryRow(func(row pgx.Row) error {
				var typ, origin string
				if err := row.Scan(&typ, &out[i].id, &origin, &out[i].version, &out[i].lastUpdated); err != nil {
					return err
				}
				if typ != r.Type || origin != string(r.Origin) {
					out[i].err = fmt.Errorf("records: store %s/%s: %w: the identifier is kept for another resource of the patient", r.Type, r.ID, ErrConflict)
				}
				return nil
			})
	}
	if b.Len() > 0 {
		if err := db.SendBatch(ctx, b).Close(); err != nil {
			return nil, fmt.Errorf("records: store resources: %w", translate(err))
		}
	}
	return out, nil
}

const resourceColumns = `resource_type, id, patient_id, identifier_system, identifier_value, codes,
	effective_start, effective_end, origin, submitter, body::text, version, last_updated`

func scanResource(row pgx.CollectableRow) (Resource, error) {
	var r Resource
	var start, end *time.Time
	var origin, body string
	err := row.Scan(&r.Type, &r.ID, &r.PatientID, &r.IdentifierSystem, &r.IdentifierValue, &r.Codes,
		&start, &end, &origin, &r.Submitter, &body, &r.Version, &r.LastUpdated)
	if start != nil {
		r.Start = start.UTC()
	}
	if end != nil {
		r.End = end.UTC()
	}
	r.Origin, r.Body, r.LastUpdated = Origin(origin), json.RawMessage(body), r.LastUpdated.UTC()
	return r, err
}

// Location says where a resource of the FHIR API is kept.
type Location struct {
	// PatientID is the internal key of the patient it is about.
	PatientID int64
	// Reading is set for a submitted sensor reading, which is kept in the
	// readings store (cgmstore) and found there by its key.
	Reading *ReadingRef
}

// ReadingRef is a submitted sensor reading's key in the readings store
// and the identifier it was submitted with.
type ReadingRef struct {
	// At and Kind are the reading's key (with the patient).
	At   time.Time
	Kind cgm.Kind
	// Code is its LOINC code (99504-3 mg/dL or 105272-9 mmol/L).
	Code string
	// IdentifierSystem and IdentifierValue are the submitter's identifier.
	IdentifierSystem, IdentifierValue string
	// Submitter is who submitted it.
	Submitter string
	// Created is when it was first submitted.
	Created time.Time
}

// Locate returns where the resource typ/id is kept, or ErrNotFound. The
// FHIR API calls it before the access check, to know whose record the
// resource belongs to; the resource itself is read with Get (or, for a
// reading, from the readings store) in the access's transaction. It is
// one statement whatever the id is (a stored resource, a submitted
// reading, nothing), so that its cost tells nothing.
func (s *Store) Locate(ctx context.Context, typ, id string) (Location, error) {
	var loc Location
	var ref ReadingRef
	var at, created *time.Time
	var kind *int16
	var code, sys, val, submitter *string
	err := s.pool.QueryRow(ctx, `SELECT patient_id, NULL::timestamptz, NULL::smallint, NULL, NULL, NULL, NULL, NULL::timestamptz
		FROM fhir_resources WHERE resource_type = $1 AND id = $2
		UNION ALL
		(SELECT patient_id, reading_at, reading_kind, reading_code, identifier_system, identifier_value, submitter, created_at
		FROM fhir_client_identifiers WHERE $1 = 'Observation' AND resource_type = 'Observation' AND resource_id = $2
		ORDER BY created_at LIMIT 1)
		LIMIT 1`, typ, id).
		Scan(&loc.PatientID, &at, &kind, &code, &sys, &val, &submitter, &created)
	if err != nil {
		return loc, fmt.Errorf("records: locate %s/%s: %w", typ, id, translate(err))
	}
	if at == nil {
		return loc, nil
	}
	ref.At, ref.Kind, ref.Created = at.UTC(), cgm.Kind(*kind), created.UTC()
	ref.Code, ref.IdentifierSystem, ref.IdentifierValue, ref.Submitter = *code, *sys, *val, *submitter
	loc.Reading = &ref
	return loc, nil
}

// Get returns the stored resource typ/id, read with db (the access's
// transaction), or ErrNotFound.
func (s *Store) Get(ctx context.Context, db DB, typ, id string) (Resource, error) {
	rows, _ := db.Query(ctx, `SELECT `+resourceColumns+` FROM fhir_resources WHERE resource_type = $1 AND id = $2`, typ, id)
	r, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if err != nil {
		return Resource{}, fmt.Errorf("records: get %s/%s: %w", typ, id, translate(err))
	}
	return r, nil
}

// Code is a token of the code search parameter.
type Code struct {
	// System and Code match a coding with both ("system|code"; System ""
	// is a coding without system, "|code"); with AnySystem, Code matches
	// in any system ("code").
	System, Code string
	AnySystem    bool
}

// The prefixes of a date search (FHIR R4 search, "Prefixes").
const (
	DateEq = "eq"
	DateGt = "gt"
	DateLt = "lt"
	DateGe = "ge"
	DateLe = "le"
)

// DateFilter is one date search parameter: a prefix and the range of the
// search value, [Start, End) (a day, a month, an instant...).
type DateFilter struct {
	Prefix     string
	Start, End time.Time
}

// Query is a search of stored resources of one patient.
type Query struct {
	// Type is the resource type (required).
	Type string
	// PatientID is the patient (required).
	PatientID int64
	// Codes: a resource matches when one of its codes matches one of
	// them; empty matches all.
	Codes []Code
	// Dates: a resource matches when its effective range matches all of
	// them, with the FHIR R4 semantics of ranges: eq, the search range
	// contains the target; gt (lt), the target extends after (before)
	// the search range; ge (le), gt (lt) or eq. A resource without an
	// effective time never matches a date.
	Dates []DateFilter
	// Origins: the origins to search; empty means OriginFsecgm only.
	Origins []Origin
	// Descending sorts by effective start, latest first (FHIR
	// _sort=-date); the default is earliest first. Ties are broken by id,
	// so that pages are stable.
	Descending bool
	// Count is the page size (0: count only); Offset the matches to skip.
	Count, Offset int
}

// Search returns the total number of matches of q and the page of them
// q.Count and q.Offset select, read with db (the access's transaction).
func (s *Store) Search(ctx context.Context, db DB, q Query) (total int, page []Resource, err error) {
	if q.Type == "" || q.PatientID <= 0 || q.Count < 0 || q.Offset < 0 {
		return 0, nil, fmt.Errorf("records: search: %w: type, patient, count and offset are required", ErrInvalid)
	}
	args := []any{q.PatientID, q.Type}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	origins := q.Origins
	if len(origins) == 0 {
		origins = []Origin{OriginFsecgm}
	}
	names := make([]string, len(origins))
	for i, o := range origins {
		names[i] = string(o)
	}
	where := []string{"patient_id = $1", "resource_type = $2", "origin = ANY(" + arg(names) + ")"}
	if len(q.Codes) > 0 {
		var or []string
		for _, c := range q.Codes {
			if c.AnySystem {
				or = append(or, "EXISTS (SELECT 1 FROM unnest(codes) c WHERE substr(c, strpos(c, '|') + 1) = "+arg(c.Code)+")")
			} else {
				or = append(or, arg(c.System+"|"+c.Code)+" = ANY(codes)")
			}
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	for _, d := range q.Dates {
		var ps, pe string
		start := func() string {
			if ps == "" {
				ps = arg(d.Start.UTC())
			}
			return ps
		}
		end := func() string {
			if pe == "" {
				pe = arg(d.End.UTC())
			}
			return pe
		}
		var cond string
		switch d.Prefix {
		case DateEq, "":
			cond = "(effective_start >= " + start() + " AND effective_end <= " + end() + ")"
		case DateGt:
			cond = "effective_end > " + end()
		case DateLt:
			cond = "effective_start < " + start()
		case DateGe:
			cond = "(effective_end > " + end() + " OR (effective_start >= " + start() + " AND effective_end <= " + end() + "))"
		case DateLe:
			cond = "(effective_start < " + start() + " OR (effective_start >= " + start() + " AND effective_end <= " + end() + "))"
		default:
			return 0, nil, fmt.Errorf("records: search: %w: date prefix %q", ErrInvalid, d.Prefix)
		}
		where = append(where, cond)
	}
	w := strings.Join(where, " AND ")
	if err := db.QueryRow(ctx, `SELECT count(*) FROM fhir_resources WHERE `+w, args...).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("records: search %s: %w", q.Type, translate(err))
	}
	if q.Count == 0 || q.Offset >= total {
		return total, nil, nil
	}
	order := "effective_start NULLS LAST, id"
	if q.Descending {
		order = "effective_start DESC NULLS LAST, id DESC"
	}
	sql := `SELECT ` + resourceColumns + ` FROM fhir_resources WHERE ` + w + ` ORDER BY ` + order +
		` LIMIT ` + arg(q.Count) + ` OFFSET ` + arg(q.Offset)
	rows, _ := db.Query(ctx, sql, args...)
	page, err = pgx.CollectRows(rows, scanResource)
	if err != nil {
		return 0, nil, fmt.Errorf("records: search %s: %w", q.Type, translate(err))
	}
	return total, page, nil
}
