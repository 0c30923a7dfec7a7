package summaries

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store reads the summaries for the clinic list.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a store on pool (a migrated database).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Query selects a page of the clinic list.
type Query struct {
	// PatientsSQL selects the patients the caller may see: a SELECT of one
	// column of patient ids (consent.Store.VisibleSQL), with its arguments
	// PatientsArgs numbered from $1. The list holds those of them that
	// have a summary row: every patient gets one at the updater's round
	// after its creation (Updater.MarkStale), with or without readings.
	PatientsSQL  string
	PatientsArgs []any
	// Patients, when PatientsSQL is empty, lists the patients instead.
	Patients []int64
	// Category keeps one category (0: all).
	Category Category
	// GRIZone keeps the patients whose current period's Glycemia Risk
	// Index is in one zone, 1–5 for A–E (0: all).
	GRIZone int
	// ByGRI sorts by the current period's GRI, highest first (patients
	// without one last), instead of the attention order.
	ByGRI bool
	// Search keeps the patients whose family name, given name, "given
	// family", "family given" or fiscal code starts with it (case
	// insensitive); "" keeps all.
	Search string
	// Limit and Offset page the list (Limit 0 means 50). Offset reads
	// and skips every row before the page: use After and Before instead.
	Limit, Offset int
	// After, when not empty, starts the page after the row of this cursor
	// (List.Next of the page before); Before ends it before the row of
	// this cursor (List.Prev of the page after). Cursors are opaque; a
	// page found through one costs what the first page costs, however
	// deep (keyset pagination). Offset is ignored with either.
	After, Before string
	// Counts asks for the number of patients per category (List.Counts
	// and List.Total), which costs a pass over every patient the caller
	// sees; without it List reads only as far as the page's last row.
	Counts bool
	// Now is the instant that decides which periods have ended
	// (time.Now when zero).
	Now time.Time
}

// Entry is one patient of a list page, with its sort keys.
type Entry struct {
	PatientID int64
	Category  Category
	Severity  float64
	Flags     Flags
}

// List is a page of the clinic list.
type List struct {
	// Entries are the page's patients, by category, then severity
	// (highest first), then most recent reading, then id; with ByGRI, by
	// GRI (highest first), then id.
	Entries []Entry
	// More is true when patients follow the page, and Earlier when
	// patients precede it.
	More, Earlier bool
	// Next and Prev are the cursors of the pages after and before this one
	// (Query.After and Query.Before); empty when there is none.
	Next, Prev string
	// Counts is the number of patients per category matching Search, and
	// Total the number matching Category and Search (with Query.Counts
	// only; -1 without).
	Counts map[Category]int
	Total  int
	// Stale lists the patients the caller sees whose summary's period has
	// ended (to be refreshed).
	Stale []int64
}

// likePrefix escapes s for a LIKE prefix pattern.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// List returns a page of the clinic list: the patients of q with their
// summary's category, sorted by need of attention, in one round trip (two
// when some summary's period has ended). The page walks the index
// patient_summaries_order and checks each summary against the patients'
// set until it has the page's rows (plus one, for More), so its cost
// follows the page, not the number of patients nor the page's depth when
// it starts from a cursor (Query.After, Query.Before); the index and the
// checks are answered from indexes alone (migrations 00041 and 00042). The ended periods
// are found through patient_summaries_stale. It reads the sort keys only;
// the figures of the page's patients are read by Rows, in the transaction
// that logs their access.
func (s *Store) List(ctx context.Context, q Query) (List, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	visible, args := q.PatientsSQL, append([]any(nil), q.PatientsArgs...)
	if visible == "" {
		ids := make([]int32, len(q.Patients))
		for i, id := range q.Patients {
			ids[i] = int32(id)
		}
		visible, args = `SELECT id FROM patients WHERE id = ANY($1::int4[])`, []any{ids}
	}
	n := len(args)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	seen := `EXISTS (SELECT 1 FROM (` + visible + `) vis WHERE vis.id = s.patient_id)`
	join, where := "", "true"
	if q.Search != "" {
		join = ` JOIN patients p ON p.id = s.patient_id`
		cf, name := arg(likePrefix(strings.ToUpper(q.Search))), arg(likePrefix(strings.ToLower(q.Search)))
		where = `(p.fiscal_code LIKE ` + cf + ` OR lower(p.family_name) LIKE ` + name + ` OR lower(p.given_name) LIKE ` + name +
			` OR lower(p.given_name || ' ' || p.family_name) LIKE ` + name + ` OR lower(p.family_name || ' ' || p.given_name) LIKE ` + name + `)`
	}
	if q.GRIZone != 0 {
		where += " AND s.gri_zone = " + arg(int16(q.GRIZone))
	}
	searchArgs := args
	pageArgs := append([]any(nil), args...)
	pageWhere := where
	if q.Category != 0 {
		pageArgs = append(pageArgs, int16(q.Category))
		pageWhere += fmt.Sprintf(" AND s.category = $%d", len(pageArgs))
	}
	var (
		cur      cursor
		backward bool
		err      error
	)
	switch {
	case q.After != "":
		cur, err = parseCursor(q.After, q.ByGRI)
	case q.Before != "":
		cur, err = parseCursor(q.Before, q.ByGRI)
		backward = true
	}
	if err != nil {
		return List{}, err
	}
	keys := attentionKeys // index patient_summaries_order (or _gri_zone_order)
	if q.ByGRI {
		keys = griKeys // index patient_summaries_gri
	}
	// The attention order's index has no GRI (migration 00042 runs before
	// the GRI's columns exist on a new database): the GRI is read only for
	// its own order.
	griCol := "NULL::float8"
	if q.ByGRI {
		griCol = "s.gri"
	}
	order, limit := strings.Join(keys, ", "), fmt.Sprintf(" LIMIT %d", q.Limit+1)
	if backward {
		order = strings.Join(keys, " DESC, ") + " DESC"
	}
	if cur.ID != 0 {
		pageArg := func(v any) string {
			pageArgs = append(pageArgs, v)
			return fmt.Sprintf("$%d", len(pageArgs))
		}
		op := " > "
		if backward {
			op = " < "
		}
		pageWhere += " AND (" + strings.Join(keys, ", ") + ")" + op + cur.row(pageArg)
	} else if q.Offset > 0 {
		limit += fmt.Sprintf(" OFFSET %d", q.Offset)
	}
	page := `SELECT s.patient_id, s.category, s.severity, s.flags, s.last_reading_at, ` + griCol + ` FROM patient_summaries s` + join + `
		WHERE ` + seen + ` AND ` + pageWhere + `
		ORDER BY ` + order + limit
	// The ended periods the caller sees: most reads find none at all, so
	// the batch only reads the earliest end of all (the first entry of
	// patient_summaries_stale, a statement without parameters planned
	// once per connection), and the caller's ended periods are read after
	// it when that end has passed (planning the composed statement costs
	// more than running it).
	staleArgs := append(append([]any(nil), args[:n]...), now)
	stale := `SELECT s.patient_id FROM patient_summaries s WHERE s.stale_after <= $` + fmt.Sprint(n+1) + ` AND ` + seen

	b := &pgx.Batch{}
	b.Queue(page, pageArgs...)
	b.Queue(`SELECT min(stale_after) FROM patient_summaries`)
	if q.Counts {
		b.Queue(`SELECT s.category, count(*) FROM patient_summaries s JOIN (`+visible+`) vis ON vis.id = s.patient_id`+join+`
			WHERE `+where+` GROUP BY 1`, searchArgs...)
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	out := List{Total: -1}
	var (
		id    int64
		cat   int16
		sev   float64
		flags int32
		cnt   int
		last  *time.Time
		gri   *float64
		lasts []*time.Time
		gris  []*float64
	)
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&id, &cat, &sev, &flags, &last, &gri}, func() error {
		out.Entries = append(out.Entries, Entry{PatientID: id, Category: Category(cat), Severity: sev, Flags: Flags(flags)})
		lasts, gris = append(lasts, last), append(gris, gri)
		return nil
	}); err != nil {
		return List{}, fmt.Errorf("summaries: list: %w", err)
	}
	beyond := len(out.Entries) > q.Limit
	if beyond {
		out.Entries, lasts, gris = out.Entries[:q.Limit], lasts[:q.Limit], gris[:q.Limit]
	}
	if backward {
		slices.Reverse(out.Entries)
		slices.Reverse(lasts)
		slices.Reverse(gris)
		out.Earlier, out.More = beyond, true
	} else {
		out.More, out.Earlier = beyond, cur.ID != 0 || q.Offset > 0
	}
	if n := len(out.Entries); n > 0 {
		if out.More {
			out.Next = cursorOf(q.ByGRI, out.Entries[n-1], lasts[n-1], gris[n-1]).String()
		}
		if out.Earlier {
			out.Prev = cursorOf(q.ByGRI, out.Entries[0], lasts[0], gris[0]).String()
		}
	}
	var firstEnd *time.Time
	if err := br.QueryRow().Scan(&firstEnd); err != nil {
		return List{}, fmt.Errorf("summaries: list: ended periods: %w", err)
	}
	if q.Counts {
		out.Counts, out.Total = map[Category]int{}, 0
		rows, _ = br.Query()
		if _, err := pgx.ForEachRow(rows, []any{&cat, &cnt}, func() error {
			out.Counts[Category(cat)] = cnt
			if q.Category == 0 || Category(cat) == q.Category {
				out.Total += cnt
			}
			return nil
		}); err != nil {
			return List{}, fmt.Errorf("summaries: list counts: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return List{}, fmt.Errorf("summaries: list: %w", err)
	}
	if firstEnd != nil && !firstEnd.After(now) {
		rows, _ := s.pool.Query(ctx, stale, staleArgs...)
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { out.Stale = append(out.Stale, id); return nil }); err != nil {
			return List{}, fmt.Errorf("summaries: list: ended periods: %w", err)
		}
	}
	return out, nil
}

// Row is a patient's summary as the clinic list shows it.
type Row struct {
	PatientID  int64
	PublicID   string
	FiscalCode string
	GivenName  string
	FamilyName string
	BirthDate  time.Time
	TimeZone   string
	// HasSummary is false for a patient without readings ever summarised:
	// the fields below are then zero.
	HasSummary bool
	// PeriodStart and PeriodEnd are the first and last local dates of the
	// current period (YYYY-MM-DD).
	PeriodStart, PeriodEnd string
	// Stale is true when the period has ended (the row is being updated).
	Stale    bool
	Current  Figures
	Previous Figures
	// CurrentJSON and PreviousJSON are Current and Previous as stored (the
	// JSON document Figures marshals to), set instead of them by
	// ListedRows without decode; nil without a summary.
	CurrentJSON, PreviousJSON json.RawMessage
	// TIRDelta is the change of time in range from the previous period,
	// in points; nil without both.
	TIRDelta    *float64
	LastReading time.Time
	Category    Category
	Severity    float64
	Flags       Flags
	UpdatedAt   time.Time
}

// querier is what a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Rows reads the summaries of the patients ids with q (the transaction that
// logs their access), in the order of ids; a patient without a summary has
// HasSummary false and CategoryNoData. now decides which periods have
// ended (Row.Stale).
func Rows(ctx context.Context, q querier, ids []int64, now time.Time) ([]Row, error) {
	return rows(ctx, q, "", []any{int32s(ids)}, now, true)
}

// ListedRows reads, in one statement, the rows of the patients that the
// WITH queries of consent.Store.ListedSQL (with, args) keep and log, in
// the order of the ids given to ListedSQL: the page's read and its
// access-log entries commit together. decode is false for a caller that
// writes the figures out as JSON: they stay as stored, in Row.CurrentJSON
// and Row.PreviousJSON, instead of being decoded into Row.Current and
// Row.Previous (decoding and encoding them again was a third of the
// clinic list API's CPU).
func (s *Store) ListedRows(ctx context.Context, with string, args []any, now time.Time, decode bool) ([]Row, error) {
	return rows(ctx, s.pool, with, args, now, decode)
}

// int32s returns ids as the int4[] the statements take.
func int32s(ids []int64) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// rows reads the rows of the patients of args[0] (int4[]), in its order;
// with, when not empty, are WITH queries whose "listed" (patient_id) keeps
// those of them to read.
func rows(ctx context.Context, q querier, with string, args []any, now time.Time, decode bool) ([]Row, error) {
	if ids, _ := args[0].([]int32); len(ids) == 0 {
		return nil, nil
	}
	head, keep := "", ""
	if with != "" {
		head, keep = "WITH "+with, "JOIN listed l ON l.patient_id = u.id"
	}
	// Each id finds its rows by primary key (LATERAL ... LIMIT 1 keeps
	// the planner from hashing whole tables for a page of 50: a page
	// costs the same at 1,000 patients as at 500,000).
	rows, _ := q.Query(ctx, head+`
		SELECT p.id, p.public_id, p.fiscal_code, coalesce(p.given_name, ''), coalesce(p.family_name, ''), p.birth_date, p.time_zone,
			s.patient_id IS NOT NULL, s.period_start, s.period_end, coalesce(s.stale_after <= $`+strconv.Itoa(len(args)+1)+`, false),
			f.figures, f.prev_figures, s.tir_delta, s.last_reading_at, coalesce(s.category, 9), coalesce(s.severity, 0),
			coalesce(s.flags, 0), s.updated_at
		FROM unnest($1::int4[]) WITH ORDINALITY u(id, ord)
		`+keep+`
		CROSS JOIN LATERAL (SELECT * FROM patients p WHERE p.id = u.id LIMIT 1) p
		LEFT JOIN LATERAL (SELECT * FROM patient_summaries s WHERE s.patient_id = u.id LIMIT 1) s ON true
		LEFT JOIN LATERAL (SELECT * FROM patient_summary_figures f WHERE f.patient_id = u.id LIMIT 1) f ON true
		ORDER BY u.ord`, append(args[:len(args):len(args)], now)...)
	var out []Row
	var (
		r              Row
		id             int32
		birth          *time.Time
		start, end     *time.Time
		cur, prev      []byte
		lastAt, update *time.Time
		cat            int16
		flags          int32
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &r.PublicID, &r.FiscalCode, &r.GivenName, &r.FamilyName, &birth, &r.TimeZone,
		&r.HasSummary, &start, &end, &r.Stale, &cur, &prev, &r.TIRDelta, &lastAt, &cat, &r.Severity, &flags, &update}, func() error {
		x := r
		x.PatientID = int64(id)
		x.Category, x.Flags = Category(cat), Flags(flags)
		x.BirthDate, x.LastReading, x.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
		x.PeriodStart, x.PeriodEnd = "", ""
		x.Current, x.Previous = Figures{}, Figures{}
		if birth != nil {
			x.BirthDate = *birth
		}
		if lastAt != nil {
			x.LastReading = lastAt.UTC()
		}
		if update != nil {
			x.UpdatedAt = update.UTC()
		}
		if start != nil {
			x.PeriodStart, x.PeriodEnd = start.Format(time.DateOnly), end.Format(time.DateOnly)
		}
		x.CurrentJSON, x.PreviousJSON = nil, nil
		if cur != nil && !decode {
			x.CurrentJSON, x.PreviousJSON = cur, prev
		} else if cur != nil {
			if err := json.Unmarshal(cur, &x.Current); err != nil {
				return fmt.Errorf("figures of patient %d: %w", id, err)
			}
			if err := json.Unmarshal(prev, &x.Previous); err != nil {
				return fmt.Errorf("previous figures of patient %d: %w", id, err)
			}
		}
		if x.TIRDelta != nil {
			d := *x.TIRDelta
			x.TIRDelta = &d
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("summaries: rows: %w", err)
	}
	return out, nil
}
