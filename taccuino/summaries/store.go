package summaries

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fsecgm/internal/pgbin"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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
// checks are answered from indexes alone (migrations 00041 and 00042). The
// ended periods the caller sees (List.Stale) are found through
// patient_summaries_stale. It reads the sort keys only; the figures of the
// page's patients are read by Rows, in the transaction that logs their
// access, or with them by ListedPage.
func (s *Store) List(ctx context.Context, q Query) (List, error) {
	p, err := plan(q)
	if err != nil {
		return List{}, err
	}
	// The ended periods the caller sees: most reads find none at all, so
	// the batch only reads the earliest end of all (the first entry of
	// patient_summaries_stale, a statement without parameters planned
	// once per connection), and the caller's ended periods are read after
	// it when that end has passed (planning the composed statement costs
	// more than running it).
	b := &pgx.Batch{}
	b.Queue(p.page, p.pageArgs...)
	b.Queue(`SELECT min(stale_after) FROM patient_summaries`)
	p.queueCounts(b)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var (
		pr    pageRows
		id    int64
		cat   int16
		sev   float64
		flags int32
		last  *time.Time
		gri   *float64
	)
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&id, &cat, &sev, &flags, &last, &gri}, func() error {
		pr.add(id, cat, sev, flags, last, gri)
		return nil
	}); err != nil {
		return List{}, fmt.Errorf("summaries: list: %w", err)
	}
	out := p.finish(pr)
	var firstEnd *time.Time
	if err := br.QueryRow().Scan(&firstEnd); err != nil {
		return List{}, fmt.Errorf("summaries: list: ended periods: %w", err)
	}
	if err := p.readCounts(br, &out); err != nil {
		return List{}, err
	}
	if err := br.Close(); err != nil {
		return List{}, fmt.Errorf("summaries: list: %w", err)
	}
	if firstEnd != nil && !firstEnd.After(p.now) {
		if out.Stale, err = s.stale(ctx, p); err != nil {
			return List{}, err
		}
	}
	return out, nil
}

// stale returns the patients of p's caller whose period has ended.
func (s *Store) stale(ctx context.Context, p listPlan) ([]int64, error) {
	args := append(p.pageArgs[:p.visibleArgs:p.visibleArgs], p.now)
	rows, _ := s.pool.Query(ctx, `SELECT s.patient_id FROM patient_summaries s WHERE `+p.ended(len(args)), args...)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("summaries: ended periods: %w", err)
	}
	return ids, nil
}

// Listed gives the WITH queries that keep and log the patients whose rows
// a page reads (consent.Store.ListedFromSQL): they read the ids from the
// caller's WITH query rel (column id), their parameters are numbered from
// $first, and their query "listed" (patient_id) holds the patients kept.
type Listed func(rel string, first int) (with string, args []any, err error)

// ListedPage is List and Rows in one statement, the clinic list's page in
// one round trip: the page's patients, kept and logged by listed, and the
// rows of those kept (in the page's order), with their figures decoded or,
// without decode, as stored (Row.CurrentJSON, Row.PreviousJSON). With
// fresh, the rows are read only when no period the caller sees has ended:
// read is false when some had, List.Stale holds those patients (it may be
// empty, when they were refreshed meanwhile), and the page read and logged
// nothing: refresh them and ask again.
func (s *Store) ListedPage(ctx context.Context, q Query, listed Listed, fresh, decode bool) (l List, rows []Row, read bool, err error) {
	p, err := plan(q)
	if err != nil {
		return List{}, nil, false, err
	}
	args := p.pageArgs[:len(p.pageArgs):len(p.pageArgs)]
	args = append(args, p.now)
	now := len(args)
	ok := "true"
	if fresh {
		// Most pages find no period ended at all: the earliest end of all
		// (the first entry of patient_summaries_stale, whatever the plan)
		// answers, and the caller's ended periods are looked for only when
		// it has passed.
		ok = `CASE WHEN (SELECT min(stale_after) FROM patient_summaries) > $` + strconv.Itoa(now) + ` THEN true
			ELSE NOT EXISTS (SELECT FROM patient_summaries s WHERE ` + p.ended(now) + `) END`
	}
	with, largs, err := listed("listed_ids", len(args)+1)
	if err != nil {
		return List{}, nil, false, err
	}
	args = append(args, largs...)
	// The page is materialized once, in its order (ord); its first Limit
	// rows are kept and logged by listed when ok, and the rows of those
	// kept are read by primary key.
	sql := `WITH page AS MATERIALIZED (SELECT q.*, row_number() OVER () AS ord FROM (` + p.page + `) q),
		fresh AS MATERIALIZED (SELECT ` + ok + ` AS ok),
		listed_ids AS (SELECT page.patient_id AS id FROM page, fresh WHERE fresh.ok AND page.ord <= ` + strconv.Itoa(p.limit) + `),
		` + with + `
		SELECT ` + rowColumnsSQL(now) + `,
			page.patient_id, page.category, page.severity, page.flags, page.last_reading_at, page.gri, fresh.ok, l.patient_id IS NOT NULL
		FROM page CROSS JOIN fresh
		LEFT JOIN listed l ON l.patient_id = page.patient_id
		LEFT JOIN LATERAL (SELECT * FROM patients p WHERE p.id = l.patient_id LIMIT 1) p ON true
		LEFT JOIN LATERAL (SELECT * FROM patient_summaries s WHERE s.patient_id = l.patient_id LIMIT 1) s ON true
		LEFT JOIN LATERAL (SELECT * FROM patient_summary_figures f WHERE f.patient_id = l.patient_id LIMIT 1) f ON true
		ORDER BY page.ord`
	// The statement is planned once per connection and order (the
	// generic plan of a prepared statement): its custom plans, which
	// PostgreSQL keeps choosing for the cursor's values, cost more to make
	// (1.6 ms) than the page costs to read. The setting lasts for the
	// batch's implicit transaction only (set_config's is_local).
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	b.Queue(sql, args...)
	p.queueCounts(b)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return List{}, nil, false, fmt.Errorf("summaries: listed page: %w", err)
	}
	pr, out, stale, err := readPage(br, p.limit, decode)
	if err != nil {
		return List{}, nil, false, fmt.Errorf("summaries: listed page: %w", err)
	}
	l = p.finish(pr)
	if p.backward {
		slices.Reverse(out) // as finish reverses the entries
	}
	if err := p.readCounts(br, &l); err != nil {
		return List{}, nil, false, err
	}
	if err := br.Close(); err != nil {
		return List{}, nil, false, fmt.Errorf("summaries: listed page: %w", err)
	}
	if stale {
		if l.Stale, err = s.stale(ctx, p); err != nil {
			return List{}, nil, false, err
		}
	}
	return l, out, !stale, nil
}

// readPage reads the rows of ListedPage's statement: the page's entries
// (the first limit of them shown, when kept) and the rows read; stale is
// true when the rows were not read for ended periods.
func readPage(br pgx.BatchResults, limit int, decode bool) (pr pageRows, out []Row, stale bool, err error) {
	rows, _ := br.Query()
	defer rows.Close()
	out = make([]Row, 0, limit)
	var (
		fast bool
		b    pgbin.Row
		n    = len(rowColumns)
		// The entry's columns after the row's.
		id    int64
		cat   int16
		sev   float64
		flags int32
		last  *time.Time
		gri   *float64
		ok    bool
		shown bool
	)
	tail := make([]any, n+len(pageColumns))
	copy(tail[n:], []any{&id, &cat, &sev, &flags, &last, &gri, &ok, &shown})
	for i, first := 1, true; rows.Next(); i, first = i+1, false {
		if first {
			fds := rows.FieldDescriptions()
			fast = len(fds) == n+len(pageColumns) && pgbin.Is(fds[:n], rowColumns...) && pgbin.Is(fds[n:], pageColumns...)
		}
		if fast {
			b.Reset(rows.RawValues())
			id, cat, sev, flags = int64(b.Int4(n)), b.Int2(n+1), b.Float8(n+2), b.Int4(n+3)
			last, gri = nil, nil
			if !b.Null(n + 4) {
				t := b.Time(n + 4)
				last = &t
			}
			if !b.Null(n + 5) {
				g := b.Float8(n + 5)
				gri = &g
			}
			ok, shown = b.Bool(n+6), b.Bool(n+7)
			if err := b.Err(); err != nil {
				return pageRows{}, nil, false, fmt.Errorf("row %d: %w", i, err)
			}
		} else if err := rows.Scan(tail...); err != nil {
			return pageRows{}, nil, false, fmt.Errorf("row %d: %w", i, err)
		}
		pr.add(id, cat, sev, flags, last, gri)
		stale = !ok
		if !shown {
			continue
		}
		x, err := readRow(rows, &b, fast, len(pageColumns), decode)
		if err != nil {
			return pageRows{}, nil, false, fmt.Errorf("row %d: %w", i, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return pageRows{}, nil, false, err
	}
	return pr, out, stale, nil
}

// listPlan is a page of the list as SQL, made by plan.
type listPlan struct {
	q   Query
	now time.Time
	// page selects the page's rows and one more (patient_id, category,
	// severity, flags, last_reading_at, gri), in the page's order
	// (reversed for a page before a cursor), with pageArgs; the first
	// visibleArgs of them are the caller's set's (Query.PatientsSQL).
	page        string
	pageArgs    []any
	visibleArgs int
	// seen is the condition "s.patient_id is in the caller's set".
	seen string
	// counts, with countsArgs, counts the patients per category (with
	// Query.Counts).
	counts     string
	countsArgs []any
	limit      int
	cur        cursor
	backward   bool
}

// plan builds the statements of a page of q.
func plan(q Query) (listPlan, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	p := listPlan{q: q, now: q.Now, limit: q.Limit}
	if p.now.IsZero() {
		p.now = time.Now()
	}
	visible, args := q.PatientsSQL, append([]any(nil), q.PatientsArgs...)
	if visible == "" {
		ids := make([]int32, len(q.Patients))
		for i, id := range q.Patients {
			ids[i] = int32(id)
		}
		visible, args = `SELECT id FROM patients WHERE id = ANY($1::int4[])`, []any{ids}
	}
	p.visibleArgs = len(args)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	p.seen = `EXISTS (SELECT 1 FROM (` + visible + `) vis WHERE vis.id = s.patient_id)`
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
	if q.Counts {
		p.counts = `SELECT s.category, count(*) FROM patient_summaries s JOIN (` + visible + `) vis ON vis.id = s.patient_id` + join + `
			WHERE ` + where + ` GROUP BY 1`
		p.countsArgs = args
	}
	pageArgs := append([]any(nil), args...)
	pageWhere := where
	if q.Category != 0 {
		pageArgs = append(pageArgs, int16(q.Category))
		pageWhere += fmt.Sprintf(" AND s.category = $%d", len(pageArgs))
	}
	var err error
	switch {
	case q.After != "":
		p.cur, err = parseCursor(q.After, q.ByGRI)
	case q.Before != "":
		p.cur, err = parseCursor(q.Before, q.ByGRI)
		p.backward = true
	}
	if err != nil {
		return listPlan{}, err
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
	if p.backward {
		order = strings.Join(keys, " DESC, ") + " DESC"
	}
	if p.cur.ID != 0 {
		pageArg := func(v any) string {
			pageArgs = append(pageArgs, v)
			return fmt.Sprintf("$%d", len(pageArgs))
		}
		op := " > "
		if p.backward {
			op = " < "
		}
		pageWhere += " AND (" + strings.Join(keys, ", ") + ")" + op + p.cur.row(pageArg)
	} else if q.Offset > 0 {
		limit += fmt.Sprintf(" OFFSET %d", q.Offset)
	}
	p.page = `SELECT s.patient_id, s.category, s.severity, s.flags, s.last_reading_at, ` + griCol + ` AS gri FROM patient_summaries s` + join + `
		WHERE ` + p.seen + ` AND ` + pageWhere + `
		ORDER BY ` + order + limit
	p.pageArgs = pageArgs
	return p, nil
}

// ended is the condition "s has ended and is in the caller's set", with
// the instant as parameter $now (after the caller's set's arguments).
func (p listPlan) ended(now int) string {
	return `s.stale_after <= $` + strconv.Itoa(now) + ` AND ` + p.seen
}

// queueCounts queues the counts' statement, with Query.Counts.
func (p listPlan) queueCounts(b *pgx.Batch) {
	if p.q.Counts {
		b.Queue(p.counts, p.countsArgs...)
	}
}

// readCounts reads the counts' result into out, with Query.Counts.
func (p listPlan) readCounts(br pgx.BatchResults, out *List) error {
	if !p.q.Counts {
		return nil
	}
	out.Counts, out.Total = map[Category]int{}, 0
	var (
		cat int16
		cnt int
	)
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&cat, &cnt}, func() error {
		out.Counts[Category(cat)] = cnt
		if p.q.Category == 0 || Category(cat) == p.q.Category {
			out.Total += cnt
		}
		return nil
	}); err != nil {
		return fmt.Errorf("summaries: list counts: %w", err)
	}
	return nil
}

// pageRows are the rows of a page's statement, in its order, with the
// keys of their cursors.
type pageRows struct {
	entries []Entry
	lasts   []*time.Time
	gris    []*float64
}

func (pr *pageRows) add(id int64, cat int16, sev float64, flags int32, last *time.Time, gri *float64) {
	pr.entries = append(pr.entries, Entry{PatientID: id, Category: Category(cat), Severity: sev, Flags: Flags(flags)})
	pr.lasts, pr.gris = append(pr.lasts, last), append(pr.gris, gri)
}

// finish makes the page of its statement's rows: at most Limit entries in
// the list's order, More and Earlier, and the cursors.
func (p listPlan) finish(pr pageRows) List {
	out := List{Total: -1, Entries: pr.entries}
	lasts, gris := pr.lasts, pr.gris
	beyond := len(out.Entries) > p.limit
	if beyond {
		out.Entries, lasts, gris = out.Entries[:p.limit], lasts[:p.limit], gris[:p.limit]
	}
	if p.backward {
		slices.Reverse(out.Entries)
		slices.Reverse(lasts)
		slices.Reverse(gris)
		out.Earlier, out.More = beyond, true
	} else {
		out.More, out.Earlier = beyond, p.cur.ID != 0 || p.q.Offset > 0
	}
	if n := len(out.Entries); n > 0 {
		if out.More {
			out.Next = cursorOf(p.q.ByGRI, out.Entries[n-1], lasts[n-1], gris[n-1]).String()
		}
		if out.Earlier {
			out.Prev = cursorOf(p.q.ByGRI, out.Entries[0], lasts[0], gris[0]).String()
		}
	}
	return out
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
	return readRows(ctx, q, with, args, now, decode, true)
}

// readRows is rows; raw false reads every row with Scan (the baseline of
// BenchmarkRows).
func readRows(ctx context.Context, q querier, with string, args []any, now time.Time, decode, raw bool) ([]Row, error) {
	ids, _ := args[0].([]int32)
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, rowsSQL(with, len(args)+1), append(args[:len(args):len(args)], now)...)
	if err != nil {
		return nil, fmt.Errorf("summaries: rows: %w", err)
	}
	defer rows.Close()
	out := make([]Row, 0, len(ids))
	var (
		fast bool
		b    pgbin.Row
	)
	for n, first := 1, true; rows.Next(); n, first = n+1, false {
		if first {
			fast = raw && pgbin.Is(rows.FieldDescriptions(), rowColumns...)
		}
		if fast {
			b.Reset(rows.RawValues())
		}
		x, err := readRow(rows, &b, fast, 0, decode)
		if err != nil {
			return nil, fmt.Errorf("summaries: rows: row %d: %w", n, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summaries: rows: %w", err)
	}
	return out, nil
}

// rowsSQL is rows' statement: with its WITH queries (with, when not
// empty) and the instant that decides the ended periods as parameter
// $now.
func rowsSQL(with string, now int) string {
	head, keep := "", ""
	if with != "" {
		head, keep = "WITH "+with, "JOIN listed l ON l.patient_id = u.id"
	}
	// Each id finds its rows by primary key (LATERAL ... LIMIT 1 keeps
	// the planner from hashing whole tables for a page of 50: a page
	// costs the same at 1,000 patients as at 500,000).
	return head + `
		SELECT ` + rowColumnsSQL(now) + `
		FROM unnest($1::int4[]) WITH ORDINALITY u(id, ord)
		` + keep + `
		CROSS JOIN LATERAL (SELECT * FROM patients p WHERE p.id = u.id LIMIT 1) p
		LEFT JOIN LATERAL (SELECT * FROM patient_summaries s WHERE s.patient_id = u.id LIMIT 1) s ON true
		LEFT JOIN LATERAL (SELECT * FROM patient_summary_figures f WHERE f.patient_id = u.id LIMIT 1) f ON true
		ORDER BY u.ord`
}

// rowColumnsSQL are the columns of a Row, of the patient p, its summary s
// and its figures f (rowColumns), with the instant that decides the ended
// periods as parameter $now.
func rowColumnsSQL(now int) string {
	return `p.id, p.public_id, p.fiscal_code, coalesce(p.given_name, ''), coalesce(p.family_name, ''), p.birth_date, p.time_zone,
			s.patient_id IS NOT NULL, s.period_start, s.period_end, coalesce(s.stale_after <= $` + strconv.Itoa(now) + `, false),
			f.figures, f.prev_figures, s.tir_delta, s.last_reading_at, coalesce(s.category, 9)::int2, coalesce(s.severity, 0)::float8,
			coalesce(s.flags, 0)::int4, s.updated_at`
}

// rowColumns are the types of the columns of rows' statement. The clinic
// list reads 19 columns of 50 rows a page: decoded by package pgbin, they
// cost a fraction of pgx's general Scan (BenchmarkRows); rows in text
// format (the simple protocol) go through Scan.
var rowColumns = []uint32{pgtype.Int4OID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.DateOID,
	pgtype.TextOID, pgtype.BoolOID, pgtype.DateOID, pgtype.DateOID, pgtype.BoolOID, pgtype.JSONOID, pgtype.JSONOID,
	pgtype.Float8OID, pgtype.TimestamptzOID, pgtype.Int2OID, pgtype.Float8OID, pgtype.Int4OID, pgtype.TimestamptzOID}

// pageColumns are the types of the columns ListedPage's statement adds
// after rowColumns: the page's entry (patient_id, category, severity,
// flags, last_reading_at, gri), whether no period has ended (or fresh was
// not asked) and whether the row was read.
var pageColumns = []uint32{pgtype.Int4OID, pgtype.Int2OID, pgtype.Float8OID, pgtype.Int4OID, pgtype.TimestamptzOID,
	pgtype.Float8OID, pgtype.BoolOID, pgtype.BoolOID}

// readRow reads the Row at the head of the current row: decoded from b
// (reset to the row) when fast, else by Scan, skipping the last skip
// columns; its figures decoded or kept (Row.figures).
func readRow(rows pgx.Rows, b *pgbin.Row, fast bool, skip int, decode bool) (Row, error) {
	var (
		x         Row
		cur, prev []byte
		err       error
	)
	if fast {
		x, cur, prev = decodeRow(b)
		err = b.Err()
	} else {
		x, cur, prev, err = scanRow(rows, skip)
	}
	if err == nil {
		err = x.figures(cur, prev, decode, fast)
	}
	return x, err
}

// decodeRow decodes a row of rows' statement in binary format; cur and
// prev are the stored figures, valid until the next row.
func decodeRow(b *pgbin.Row) (x Row, cur, prev []byte) {
	x = Row{PatientID: int64(b.Int4(0)), PublicID: b.Text(1), FiscalCode: b.Text(2), GivenName: b.Text(3),
		FamilyName: b.Text(4), TimeZone: b.Text(6), HasSummary: b.Bool(7), Stale: b.Bool(10),
		Category: Category(b.Int2(15)), Severity: b.Float8(16), Flags: Flags(b.Int4(17))}
	if !b.Null(5) {
		x.BirthDate = b.Date(5)
	}
	if !b.Null(8) && !b.Null(9) {
		x.PeriodStart, x.PeriodEnd = b.Date(8).Format(time.DateOnly), b.Date(9).Format(time.DateOnly)
	}
	if !b.Null(13) {
		d := b.Float8(13)
		x.TIRDelta = &d
	}
	if !b.Null(14) {
		x.LastReading = b.Time(14).UTC()
	}
	if !b.Null(18) {
		x.UpdatedAt = b.Time(18).UTC()
	}
	return x, b.Bytes(11), b.Bytes(12)
}

// scanRow reads a row of rows' statement with pgx's Scan, skipping the
// last skip columns (cur and prev are its own).
func scanRow(rows pgx.Rows, skip int) (x Row, cur, prev []byte, err error) {
	var (
		id                                int32
		birth, start, end, lastAt, update *time.Time
		cat                               int16
		flags                             int32
	)
	dst := []any{&id, &x.PublicID, &x.FiscalCode, &x.GivenName, &x.FamilyName, &birth, &x.TimeZone,
		&x.HasSummary, &start, &end, &x.Stale, &cur, &prev, &x.TIRDelta, &lastAt, &cat, &x.Severity, &flags, &update}
	if err := rows.Scan(append(dst, make([]any, skip)...)...); err != nil {
		return Row{}, nil, nil, err
	}
	x.PatientID, x.Category, x.Flags = int64(id), Category(cat), Flags(flags)
	if birth != nil {
		x.BirthDate = *birth
	}
	if start != nil && end != nil {
		x.PeriodStart, x.PeriodEnd = start.Format(time.DateOnly), end.Format(time.DateOnly)
	}
	if lastAt != nil {
		x.LastReading = lastAt.UTC()
	}
	if update != nil {
		x.UpdatedAt = update.UTC()
	}
	return x, cur, prev, nil
}

// figures sets the figures of r from their stored documents cur and prev
// (nil without a summary): decoded, or kept as they are (copied when
// borrowed, i.e. valid only until the next row).
func (r *Row) figures(cur, prev []byte, decode, borrowed bool) error {
	switch {
	case cur == nil:
	case decode:
		if err := json.Unmarshal(cur, &r.Current); err != nil {
			return fmt.Errorf("figures of patient %d: %w", r.PatientID, err)
		}
		if err := json.Unmarshal(prev, &r.Previous); err != nil {
			return fmt.Errorf("previous figures of patient %d: %w", r.PatientID, err)
		}
	case borrowed:
		both := make([]byte, 0, len(cur)+len(prev))
		both = append(append(both, cur...), prev...)
		r.CurrentJSON, r.PreviousJSON = both[:len(cur):len(cur)], both[len(cur):]
	default:
		r.CurrentJSON, r.PreviousJSON = cur, prev
	}
	return nil
}
