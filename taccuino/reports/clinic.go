package reports

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/ui"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

//go:embed templates/clinic.html templates/gri_filter.html static/clinic.css
var assets embed.FS

// pageSet holds the parsed clinic page and its stylesheet.
type pageSet struct {
	clinic    *template.Template
	clinicCSS []byte
}

func newPageSet() (*pageSet, error) {
	t, err := ui.Parse(template.New("clinic.html"))
	if err != nil {
		return nil, err
	}
	if t, err = t.ParseFS(assets, "templates/clinic.html", "templates/gri_filter.html"); err != nil {
		return nil, fmt.Errorf("reports: template: %w", err)
	}
	css, err := assets.ReadFile("static/clinic.css")
	if err != nil {
		return nil, fmt.Errorf("reports: stylesheet: %w", err)
	}
	return &pageSet{clinic: t, clinicCSS: append(append(css, '\n'), ui.CSS()...)}, nil
}

// Limits of the clinic list.
const (
	defaultLimit = 50
	maxLimit     = 500
	maxSearch    = 64
)

// listDetail is the access-log detail of a clinic list read (shown to the
// patient).
const listDetail = "clinic list: summary of the last 14 days"

// clinicQuery is a parsed clinic list request.
type clinicQuery struct {
	category    summaries.Category
	search      string
	page, limit int
	counts      bool
	griZone     int  // 1–5 for GRI zones A–E; 0: all
	byGRI       bool // sort by GRI instead of the attention order
	// after and before are the opaque cursors of summaries.List (the
	// page's "next" and "previous" links); page then only numbers the
	// page for the reader.
	after, before string
}

// maxCursor bounds the length of a cursor parameter.
const maxCursor = 512

// cursorParams reads the after and before cursors (at most one).
func cursorParams(q *clinicQuery, after, before string) error {
	if after != "" && before != "" {
		return web.BadRequest("before", "give after or before, not both").Say("err_invalid")
	}
	if len(after) > maxCursor || len(before) > maxCursor {
		return web.BadRequest("after", "not a cursor of this list").Say("err_invalid")
	}
	q.after, q.before = after, before
	return nil
}

// parseGRIZone reads a GRI zone filter: "A"–"E" (either case), or "" or
// "all" for every zone.
func parseGRIZone(s string) (int, error) {
	switch s {
	case "", "all":
		return 0, nil
	}
	if len(s) == 1 {
		if i := strings.IndexByte("ABCDE", s[0]&^0x20); i >= 0 {
			return i + 1, nil
		}
	}
	return 0, web.BadRequest("gri_zone", "gri_zone must be one of A, B, C, D, E (or all)").Say("err_choice")
}

// parseSort reads the order: "attention" (or "") or "gri".
func parseSort(s string) (bool, error) {
	switch s {
	case "", "attention":
		return false, nil
	case "gri":
		return true, nil
	}
	return false, web.BadRequest("sort", "sort must be attention or gri").Say("err_choice")
}

// griParams reads the GRI zone filter and the order.
func griParams(q *clinicQuery, zone, sort string) error {
	var err error
	if q.griZone, err = parseGRIZone(zone); err != nil {
		return err
	}
	q.byGRI, err = parseSort(sort)
	return err
}

func parseCategory(s string) (summaries.Category, error) {
	if s == "" || s == "all" {
		return 0, nil
	}
	c, err := summaries.ParseCategory(s)
	if err != nil {
		return 0, web.BadRequest("category", "unknown category; want one of very_low, low, tir_drop, low_use, tir_low, very_high, high, meeting_targets, no_data").
			Say("err_choice")
	}
	return c, nil
}

func parsePage(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, web.BadRequest("page", "page must be a whole number from 1").Say("err_invalid")
	}
	return n, nil
}

func checkSearch(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxSearch {
		return "", web.Invalid("q", fmt.Sprintf("the search text is longer than %d characters", maxSearch)).Say("err_search_long", maxSearch)
	}
	return s, nil
}

// clinicList is a page of the clinic list with its rows.
type clinicList struct {
	list summaries.List
	rows []summaries.Row
	q    clinicQuery
}

// list builds a page of the clinic list for the request's practitioner:
// the patients they may see (consent.Store.VisibleSQL, composed with the
// summaries in one statement by summaries.Store.List), sorted by need of
// attention; ended periods are refreshed first; the page is found, and its
// rows read, by the statement that re-checks the rules for them and logs
// one access-log entry per patient shown (consent.Store.ListedFromSQL
// composed by summaries.Store.ListedPage).
//
// asJSON leaves the figures as stored (Row.CurrentJSON, Row.PreviousJSON),
// for an answer in JSON.
func (h *handlers) list(c *echo.Context, q clinicQuery, asJSON bool) (clinicList, error) {
	ctx := c.Request().Context()
	p := web.Principal(c)
	if p == nil {
		return clinicList{}, web.Unauthenticated(web.AuthError(c))
	}
	a := web.Actor(c)
	visible, args, ok := h.d.Consent.VisibleSQL(a)
	if !ok {
		return clinicList{}, web.Forbidden().Say("err_403_clinic")
	}
	now := h.now()
	sq := summaries.Query{PatientsSQL: visible, PatientsArgs: args, Category: q.category, Search: q.search,
		Limit: q.limit, Offset: (q.page - 1) * q.limit, Counts: q.counts, Now: now, GRIZone: q.griZone, ByGRI: q.byGRI,
		After: q.after, Before: q.before}
	// One statement finds the page, re-checks the rules for its
	// patients, logs an entry for each patient shown and reads their rows.
	listed := func(rel string, first int) (string, []any, error) {
		return h.d.Consent.ListedFromSQL(a, rel, first, listDetail)
	}
	fresh := h.o.Refresher != nil
	l, rows, read, err := h.o.Summaries.ListedPage(ctx, sq, listed, fresh, !asJSON)
	if err == nil && !read {
		// Some periods the clinician sees have ended: they are brought up
		// to date before the page is drawn up (its order depends on
		// them), or shown as ended when that fails.
		if len(l.Stale) > 0 {
			if _, err := h.o.Refresher.Refresh(ctx, l.Stale); err != nil {
				web.Logger(c).Warn("reports: refreshing ended periods failed", "err", err.Error())
			}
		}
		l, rows, _, err = h.o.Summaries.ListedPage(ctx, sq, listed, false, !asJSON)
	}
	if errors.Is(err, summaries.ErrCursor) {
		field := "after"
		if q.before != "" {
			field = "before"
		}
		return clinicList{}, web.BadRequest(field, "not a cursor of this list (in this order)").Say("err_invalid")
	}
	if err != nil {
		return clinicList{}, err
	}
	return clinicList{list: l, q: q, rows: rows}, nil
}

// ClinicJSON is a page of the clinic list.
type ClinicJSON struct {
	Page  int `json:"page"`
	Limit int `json:"limit"`
	// More is true when patients follow this page.
	More bool `json:"more"`
	// Next and Prev are opaque cursors of the pages after and before this
	// one, for ?after= and ?before= ("after" and "before" in a search):
	// a page found through a cursor costs what the first page costs.
	Next string `json:"next,omitempty"`
	Prev string `json:"prev,omitempty"`
	// Total is the number of patients matching the category and search,
	// and Counts the number per category (search applied); only with
	// ?counts=1 (or "counts": true), which costs a pass over every patient.
	Total  *int           `json:"total,omitempty"`
	Counts map[string]int `json:"counts,omitempty"`
	// Patients are the page's patients, most in need of attention first.
	Patients []ClinicPatientJSON `json:"patients"`
}

// ClinicPatientJSON is a patient of the clinic list, with the unrounded
// figures of the current and previous periods.
type ClinicPatientJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	FiscalCode string   `json:"fiscal_code"`
	Category   string   `json:"category"`
	Severity   float64  `json:"severity"`
	Flags      []string `json:"flags"`
	// PeriodStart and PeriodEnd are the local dates of the current period.
	PeriodStart string       `json:"period_start,omitempty"`
	PeriodEnd   string       `json:"period_end,omitempty"`
	Stale       bool         `json:"stale"`
	Current     *FiguresJSON `json:"current"`
	Previous    *FiguresJSON `json:"previous"`
	// TIRDelta is the change of time in range from the previous period.
	TIRDelta *float64 `json:"tir_delta"`
	// LastReading is the last historic reading; NoDataDays the local
	// calendar days from its day to today (null without readings).
	LastReading *time.Time `json:"last_reading"`
	NoDataDays  *int       `json:"no_data_days"`
	// Report is the URL of the AGP report page.
	Report string `json:"report"`
}

// FiguresJSON is a period's figures in the clinic list's answer: the
// fields of summaries.Figures, written as the summary store holds them
// (the stored JSON document passes through, neither decoded nor encoded
// again; numbers unrounded as computed).
type FiguresJSON struct {
	summaries.Figures
	stored json.RawMessage
}

// MarshalJSON writes the stored document, or the figures when there is
// none.
func (f FiguresJSON) MarshalJSON() ([]byte, error) {
	if f.stored != nil {
		return f.stored, nil
	}
	return json.Marshal(f.Figures)
}

// writeClinic writes a page of the clinic list. The figures' stored
// documents are written as they are: encoding/json would scan and compact
// every byte of them again (a tenth of the page's CPU), and PostgreSQL
// gave them as valid JSON (type json: the text summaries.Updater wrote
// with encoding/json). The output is what json.Marshal gives
// (TestClinicJSONEncoding). The page is written into a buffer kept for the
// next page (a page of 50 is about 60 kB).
func writeClinic(c *echo.Context, page ClinicJSON) error {
	buf := clinicBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 1<<20 {
			clinicBuffers.Put(buf)
		}
	}()
	b, err := encodeClinic((*buf)[:0], page)
	if err != nil {
		return err
	}
	*buf = b
	return c.JSONBlob(http.StatusOK, b)
}

// clinicBuffers are the buffers writeClinic writes pages into.
var clinicBuffers = sync.Pool{New: func() any { return new([]byte) }}

// encodeClinic appends the JSON of a page of the clinic list to dst.
func encodeClinic(dst []byte, page ClinicJSON) ([]byte, error) {
	patients := page.Patients
	page.Patients = nil
	head, err := json.Marshal(page)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(head, []byte(`"patients":null}`)) {
		return nil, errors.New("reports: clinic page: patients are not the last member")
	}
	out := append(dst, head[:len(head)-len(`null}`)]...)
	out = append(out, '[')
	for i, p := range patients {
		cur, prev := p.Current, p.Previous
		p.Current, p.Previous = nil, nil
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		// The two nulls are the only ones under these keys, in this order
		// (the fields' order): a name that contains the text is escaped
		// ("\"current\":null").
		for _, f := range []struct {
			key string
			v   *FiguresJSON
		}{{`"current":null`, cur}, {`"previous":null`, prev}} {
			if f.v == nil {
				continue
			}
			doc := f.v.stored
			if doc == nil {
				if doc, err = json.Marshal(f.v.Figures); err != nil {
					return nil, err
				}
			}
			at := bytes.Index(b, []byte(f.key))
			if at < 0 {
				return nil, fmt.Errorf("reports: clinic page: no %s", f.key)
			}
			at += len(f.key) - len("null")
			out = append(append(out, b[:at]...), doc...)
			b = b[at+len("null"):]
		}
		out = append(out, b...)
	}
	return append(out, "]}"...), nil
}

// zoneOf returns the time zone named tz (UTC when it does not load: the
// list still shows the patient).
func zoneOf(tz string) *time.Location {
	loc, err := cgm.Zone(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// noDataDays returns the number of local calendar days (in loc) from the
// day of the last reading to today: 0 when it was today.
func noDataDays(last, now time.Time, loc *time.Location) *int {
	if last.IsZero() {
		return nil
	}
	day := func(t time.Time) time.Time {
		y, m, d := t.In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	n := int(math.Round(day(now).Sub(day(last)).Hours() / 24))
	if n < 0 {
		n = 0
	}
	return &n
}

func displayName(r summaries.Row) string {
	if n := strings.TrimSpace(r.GivenName + " " + r.FamilyName); n != "" {
		return n
	}
	return r.FiscalCode
}

func (h *handlers) clinicJSON(cl clinicList) ClinicJSON {
	out := ClinicJSON{Page: cl.q.page, Limit: cl.q.limit, More: cl.list.More, Next: cl.list.Next, Prev: cl.list.Prev,
		Patients: []ClinicPatientJSON{}}
	if cl.list.Counts != nil {
		total := cl.list.Total
		out.Total, out.Counts = &total, map[string]int{}
		for _, c := range summaries.Categories() {
			out.Counts[c.String()] = cl.list.Counts[c]
		}
	}
	now := h.now()
	for _, r := range cl.rows {
		p := ClinicPatientJSON{ID: r.PublicID, Name: strings.TrimSpace(r.GivenName + " " + r.FamilyName), FiscalCode: r.FiscalCode,
			Category: r.Category.String(), Severity: r.Severity, Flags: []string{}, PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd,
			Stale: r.Stale, TIRDelta: r.TIRDelta, NoDataDays: noDataDays(r.LastReading, now, zoneOf(r.TimeZone)), Report: "/reports/agp/" + r.PublicID}
		for _, f := range r.Flags.Categories() {
			p.Flags = append(p.Flags, f.String())
		}
		if r.HasSummary {
			p.Current = &FiguresJSON{Figures: r.Current, stored: r.CurrentJSON}
			p.Previous = &FiguresJSON{Figures: r.Previous, stored: r.PreviousJSON}
		}
		if !r.LastReading.IsZero() {
			t := r.LastReading
			p.LastReading = &t
		}
		out.Patients = append(out.Patients, p)
	}
	return out
}

func (h *handlers) apiClinic(c *echo.Context) error {
	q, err := queryOf(c.QueryParam("category"), c.QueryParam("page"), c.QueryParam("limit"), "")
	if err != nil {
		return err
	}
	if q.counts, err = parseCounts(c.QueryParam("counts")); err != nil {
		return err
	}
	if err := griParams(&q, c.QueryParam("gri_zone"), c.QueryParam("sort")); err != nil {
		return err
	}
	if err := cursorParams(&q, c.QueryParam("after"), c.QueryParam("before")); err != nil {
		return err
	}
	cl, err := h.list(c, q, true)
	if err != nil {
		return err
	}
	return writeClinic(c, h.clinicJSON(cl))
}

// searchBody is the body of POST /clinic/search.
type searchBody struct {
	Q        string `json:"q"`
	Category string `json:"category"`
	Page     int    `json:"page"`
	Limit    int    `json:"limit"`
	Counts   bool   `json:"counts"`
	GRIZone  string `json:"gri_zone"`
	Sort     string `json:"sort"`
	After    string `json:"after"`
	Before   string `json:"before"`
}

// parseCounts reads the counts parameter: "1"/"true" or ""/"0"/"false".
func parseCounts(s string) (bool, error) {
	switch s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, web.BadRequest("counts", "counts must be 1 or 0").Say("err_invalid")
}

func (h *handlers) apiClinicSearch(c *echo.Context) error {
	var b searchBody
	if err := web.DecodeJSON(c, &b); err != nil {
		return err
	}
	page, limit := "", ""
	if b.Page != 0 {
		page = strconv.Itoa(b.Page)
	}
	if b.Limit != 0 {
		limit = strconv.Itoa(b.Limit)
	}
	q, err := queryOf(b.Category, page, limit, b.Q)
	if err != nil {
		return err
	}
	q.counts = b.Counts
	if err := griParams(&q, b.GRIZone, b.Sort); err != nil {
		return err
	}
	if err := cursorParams(&q, b.After, b.Before); err != nil {
		return err
	}
	cl, err := h.list(c, q, true)
	if err != nil {
		return err
	}
	return writeClinic(c, h.clinicJSON(cl))
}

// queryOf parses the list parameters.
func queryOf(category, page, limit, search string) (clinicQuery, error) {
	var q clinicQuery
	var err error
	if q.category, err = parseCategory(category); err != nil {
		return q, err
	}
	if q.page, err = parsePage(page); err != nil {
		return q, err
	}
	q.limit = defaultLimit
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > maxLimit {
			return q, web.BadRequest("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", maxLimit)).Say("err_invalid")
		}
		q.limit = n
	}
	if q.search, err = checkSearch(search); err != nil {
		return q, err
	}
	return q, nil
}

// Clinic page view.
type (
	catView struct {
		Code, Label string
		N           int
		Current     bool
	}
	flagView struct{ Short, Title string }
	rowView  struct {
		ID, Code, Name, Sub, Report, CategoryLabel string
		Flags                                      []flagView
		TIR, Below, VeryLow, Above, VeryHigh       string
		CV, GMI, Active, Delta, Last, Period       string
		GRI                                        string
	}
	clinicView struct {
		L           locale.Lang
		Chrome      ui.Chrome
		CSRF        string
		Search      string
		SearchError string
		Category    string
		Counts      bool
		All         int
		Cats        []catView
		Stale       bool
		Rows        template.HTML
		Prev        int
		Next        int
		// PrevCursor and NextCursor are the opaque cursors of the links.
		PrevCursor string
		NextCursor string
		PageText   string
		// GRIZone ("A"–"E" or "") and Sort ("gri" or "") select the GRI
		// filter and order; Keep carries them in the page's links.
		GRIZone string
		Sort    string
		Keep    template.URL
		Zones   []string
	}
)

// pageClinic serves the clinic list page: GET lists (?category=, ?page=),
// POST searches (form fields q, category, page; CSRF-checked) so that the
// search text never appears in a URL.
func (h *handlers) pageClinic(c *echo.Context) error {
	var q clinicQuery
	var err error
	counts := ""
	if c.Request().Method == http.MethodPost {
		q, err = queryOf(c.FormValue("category"), c.FormValue("page"), "", c.FormValue("q"))
		counts = c.FormValue("counts")
	} else {
		q, err = queryOf(c.QueryParam("category"), c.QueryParam("page"), "", "")
		counts = c.QueryParam("counts")
	}
	l := web.Lang(c)
	searchError, search := "", ""
	var we *web.Error
	if err != nil && c.Request().Method == http.MethodPost && errors.As(err, &we) && we.Field == "q" {
		// A search text that is too long is shown again, with the error
		// next to it, over the list without a search.
		searchError, search = we.Text(l), c.FormValue("q")
		q, err = queryOf(c.FormValue("category"), "", "", "")
	}
	if err != nil {
		return err
	}
	if q.counts, err = parseCounts(counts); err != nil {
		return err
	}
	zone, sort := c.QueryParam("gri_zone"), c.QueryParam("sort")
	if c.Request().Method == http.MethodPost {
		zone, sort = c.FormValue("gri_zone"), c.FormValue("sort")
	}
	if err := griParams(&q, zone, sort); err != nil {
		return err
	}
	after, before := c.QueryParam("after"), c.QueryParam("before")
	if c.Request().Method == http.MethodPost {
		after, before = c.FormValue("after"), c.FormValue("before")
	}
	if searchError == "" {
		if err := cursorParams(&q, after, before); err != nil {
			return err
		}
	}
	cl, err := h.list(c, q, false)
	if err != nil {
		return err
	}
	tl := clinicLabels(l)
	v := clinicView{L: l, CSRF: web.CSRFToken(c), Search: q.search, SearchError: searchError, Stale: len(cl.list.Stale) > 0,
		Counts: q.counts, Chrome: ui.ChromeOf(c, ui.Options{Clinic: true, Path: "/clinic", Query: c.Request().URL.Query()})}
	if searchError != "" {
		v.Search = search
	}
	if q.category != 0 {
		v.Category = q.category.String()
	}
	v.Zones = agp.GRIZones[:]
	if q.griZone != 0 {
		v.GRIZone = agp.GRIZones[q.griZone-1]
		v.Keep += template.URL("&gri_zone=" + v.GRIZone)
	}
	if q.byGRI {
		v.Sort = "gri"
		v.Keep += "&sort=gri"
	}
	for _, cat := range summaries.Categories() {
		n := cl.list.Counts[cat]
		v.All += n
		v.Cats = append(v.Cats, catView{Code: cat.String(), Label: tl["cat_"+cat.String()], N: n, Current: cat == q.category})
	}
	now := h.now()
	var rows strings.Builder
	for _, r := range cl.rows {
		rowViewOf(l, tl, r, now, zoneOf(r.TimeZone)).write(&rows, tl)
	}
	v.Rows = template.HTML(rows.String()) // every value escaped by rowView.write
	if q.before != "" && !cl.list.Earlier {
		q.page = 1 // back at the start, whatever the link said
	}
	if cl.list.Earlier {
		v.Prev, v.PrevCursor = max(1, q.page-1), cl.list.Prev
	}
	if cl.list.More {
		v.Next, v.NextCursor = q.page+1, cl.list.Next
	}
	v.PageText = l.F("clinic_page", q.page)
	if q.counts {
		pages := max(1, (cl.list.Total+q.limit-1)/q.limit)
		v.PageText = l.F("clinic_page_of", q.page, pages, cl.list.Total)
	}
	var b bytes.Buffer
	if err := h.pages.clinic.Execute(&b, v); err != nil {
		return fmt.Errorf("reports: clinic page: %w", err)
	}
	c.Response().Header().Set("Content-Language", string(l))
	status := http.StatusOK
	if searchError != "" {
		status = http.StatusUnprocessableEntity
	}
	return c.HTMLBlob(status, b.Bytes())
}

// rowViewOf writes a row of the clinic page in l (tl: the page's texts).
func rowViewOf(l locale.Lang, tl map[string]string, r summaries.Row, now time.Time, loc *time.Location) rowView {
	const dash = "—"
	v := rowView{ID: r.PublicID, Code: r.Category.String(), Name: displayName(r), Report: "/reports/agp/" + r.PublicID,
		CategoryLabel: tl["cat_"+r.Category.String()], TIR: dash, Below: dash, VeryLow: dash, Above: dash, VeryHigh: dash,
		CV: dash, GMI: dash, Active: dash, Delta: dash, Last: tl["never"], Period: dash, GRI: dash}
	if v.Name != r.FiscalCode {
		v.Sub = r.FiscalCode
	}
	for _, f := range r.Flags.Categories() {
		if f != r.Category {
			v.Flags = append(v.Flags, flagView{Short: flagShort(f), Title: tl["cat_"+f.String()]})
		}
	}
	pct := func(x float64) string { return l.Percent(x, 1) }
	if f := r.Current; r.HasSummary && f.Readings > 0 {
		t := f.TimeInRanges
		v.TIR, v.Below, v.VeryLow = pct(t.Target), pct(t.VeryLow+t.Low), pct(t.VeryLow)
		v.Above, v.VeryHigh = pct(t.High+t.VeryHigh), pct(t.VeryHigh)
		if f.CVPercent != nil {
			v.CV = pct(*f.CVPercent)
		}
		v.GMI = pct(f.GMI.Percent)
		v.Active = pct(f.ActivePercent)
		if g := f.GRI; g != nil {
			v.GRI = l.Number(g.Value, 0) + " " + g.Zone
		}
	}
	if r.TIRDelta != nil {
		v.Delta = l.Signed(*r.TIRDelta, 1)
	}
	if d := noDataDays(r.LastReading, now, loc); d != nil {
		v.Last = l.F("clinic_days_ago", *d)
		if *d == 0 {
			v.Last = tl["today"]
		}
	}
	if r.PeriodStart != "" {
		v.Period = localDate(l, r.PeriodStart) + " – " + localDate(l, r.PeriodEnd)
	}
	return v
}

// columns are the catalogue keys of the figure columns of the clinic
// table, in order, with their data-fig names.
var columns = [...]struct{ fig, key string }{{"target", "clinic_tir"}, {"below", "clinic_below"}, {"very_low", "clinic_very_low"},
	{"above", "clinic_above"}, {"very_high", "clinic_very_high"}, {"cv_percent", "clinic_cv"}, {"gmi_percent", "clinic_gmi"},
	{"active_percent", "clinic_active"}, {"gri", "gri_short"}, {"tir_delta", "clinic_delta"}}

// write writes the row as HTML, escaping every value (the rows of a page
// are written here rather than by html/template, which costs about 40 µs
// a row); tl are the page's texts, for the labels of the cells that a
// phone shows as a stacked card.
func (v rowView) write(b *strings.Builder, tl map[string]string) {
	e := html.EscapeString
	b.WriteString(`<tr data-patient="` + e(v.ID) + `" class="cat-` + e(v.Code) + `"><th scope="row" data-label="` + e(tl["patient"]) +
		`"><a href="` + e(v.Report) + `" data-report="` + e(v.ID) + `">` + e(v.Name) + `<span class="sr"> · ` + e(tl["open_report"]) + `</span></a>`)
	if v.Sub != "" {
		b.WriteString(`<br><small class="muted">` + e(v.Sub) + `</small>`)
	}
	b.WriteString(`</th><td data-label="` + e(tl["category"]) + `"><span class="badge">` + e(v.CategoryLabel) + `</span>`)
	for _, f := range v.Flags {
		b.WriteString(` <abbr class="flag" title="` + e(f.Title) + `">` + e(f.Short) + `</abbr>`)
	}
	b.WriteString(`</td>`)
	for i, val := range [...]string{v.TIR, v.Below, v.VeryLow, v.Above, v.VeryHigh, v.CV, v.GMI, v.Active, v.GRI, v.Delta} {
		c := columns[i]
		b.WriteString(`<td class="num" data-fig="` + c.fig + `" data-label="` + e(tl[strings.TrimPrefix(c.key, "clinic_")]) + `">` + e(val) + `</td>`)
	}
	b.WriteString(`<td data-fig="last" data-label="` + e(tl["last"]) + `">` + e(v.Last) + `</td><td data-label="` + e(tl["period"]) + `">` +
		e(v.Period) + "</td></tr>\n")
}

// localDate writes a date "YYYY-MM-DD" as a person of l reads it.
func localDate(l locale.Lang, s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	if l == locale.EN {
		return d.Format("2 Jan 2006")
	}
	return d.Format("02/01/2006")
}

func flagShort(c summaries.Category) string {
	switch c {
	case summaries.CategoryVeryLow:
		return "<54"
	case summaries.CategoryLow:
		return "<70"
	case summaries.CategoryTIRDrop:
		return "↓TIR"
	case summaries.CategoryLowUse:
		return "CGM<70%"
	case summaries.CategoryTIRLow:
		return "TIR<70%"
	case summaries.CategoryVeryHigh:
		return ">250"
	case summaries.CategoryHigh:
		return ">180"
	}
	return c.String()
}
