package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// searchZone is the zone in which search dates without an offset are
// read: the service's (fsecgm's patients live in Tuscany).
var searchZone = mustZone(fhir.DefaultTimeZone)

func mustZone(name string) *time.Location {
	loc, err := cgm.Zone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// searchParams are the parameters of a search request, checked.
type searchParams struct {
	values   url.Values // the applied parameters, for the self link
	count    int
	offset   int
	descSort bool
	sortSet  bool
}

// resultParams are accepted by every search besides its own parameters.
var resultParams = []string{"_count", "_sort", "_offset", "_format"}

// checkParams refuses parameters a search does not know (400), unless the
// request prefers lenient handling, in which case they are dropped; it
// also refuses modifiers and empty values.
func checkParams(c *echo.Context, known ...string) (url.Values, error) {
	lenient := false
	for _, p := range c.Request().Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "handling=lenient") {
				lenient = true
			}
		}
	}
	q := c.QueryParams()
	out := url.Values{}
	for name, vs := range q {
		base, _, modified := strings.Cut(name, ":")
		ok := slices.Contains(known, base) || slices.Contains(resultParams, base)
		switch {
		case !ok && lenient:
			continue
		case !ok:
			return nil, badParam(name, "unknown search parameter here (see /fhir/metadata), or send Prefer: handling=lenient")
		case modified:
			return nil, badParam(name, "modifiers are not supported")
		}
		for _, v := range vs {
			if v == "" {
				return nil, badParam(name, "empty value")
			}
		}
		out[name] = vs
	}
	return out, nil
}

// resultOf reads _count, _offset and _sort.
func resultOf(q url.Values) (searchParams, error) {
	sp := searchParams{values: url.Values{}, count: DefaultCount}
	one := func(name string) (string, bool, error) {
		vs := q[name]
		if len(vs) == 0 {
			return "", false, nil
		}
		if len(vs) > 1 {
			return "", false, badParam(name, "give it once")
		}
		return vs[0], true, nil
	}
	if v, ok, err := one("_count"); err != nil {
		return sp, err
	} else if ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return sp, badParam("_count", "want a whole number from 0")
		}
		sp.count = min(n, MaxCount)
	}
	if v, ok, err := one("_offset"); err != nil {
		return sp, err
	} else if ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return sp, badParam("_offset", "want a whole number from 0")
		}
		sp.offset = n
	}
	if v, ok, err := one("_sort"); err != nil {
		return sp, err
	} else if ok {
		switch v {
		case "date":
		case "-date":
			sp.descSort = true
		default:
			return sp, badParam("_sort", "only date and -date are supported")
		}
		sp.sortSet = true
	}
	return sp, nil
}

// splitList splits a comma-separated list of search values at the commas
// not escaped with a backslash (FHIR search, "Escaping search
// parameters"); other escapes are left for token.
func splitList(v string) []string {
	var out []string
	var cur strings.Builder
	esc := false
	for _, r := range v {
		switch {
		case esc:
			if r != ',' {
				cur.WriteByte('\\')
			}
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, cur.String())
}

// token reads "system|code", "|code" or "code".
func token(v string) (system, code string, hasSystem bool) {
	var cur strings.Builder
	esc := false
	for i, r := range v {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '|':
			return cur.String(), unescape(v[i+1:]), true
		default:
			cur.WriteRune(r)
		}
	}
	return "", cur.String(), false
}

// unescape removes FHIR search escapes.
func unescape(s string) string {
	r := strings.NewReplacer(`\\`, `\`, `\|`, `|`, `\,`, `,`, `\$`, `$`)
	return r.Replace(s)
}

// patientRef reads the patient parameter: "<id>", "Patient/<id>" or
// "<base>/Patient/<id>"; ok is false when it names no patient of this
// server.
func (a *api) patientRef(v string) (string, bool) {
	v = strings.TrimPrefix(v, a.base+"/")
	v = strings.TrimPrefix(v, "Patient/")
	return v, publicIDRE.MatchString(v)
}

// search serves GET /<typ>?patient=...: Observation and DiagnosticReport.
func (a *api) search(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		ctx := c.Request().Context()
		q, err := checkParams(c, "patient", "code", "date", "origin")
		if err != nil {
			return err
		}
		sp, err := resultOf(q)
		if err != nil {
			return err
		}
		rq := records.Query{Type: typ, Descending: sp.descSort, Count: sp.count, Offset: sp.offset}
		pv := q["patient"]
		if len(pv) != 1 || strings.Contains(pv[0], ",") {
			return badParam("patient", "give exactly one patient (Patient/<id>): a search reads one patient's record")
		}
		sp.values.Set("patient", pv[0])
		if vs := q["code"]; len(vs) > 0 {
			if len(vs) > 1 {
				return badParam("code", "give it once; separate alternatives with a comma")
			}
			for _, t := range splitList(vs[0]) {
				sys, code, hasSys := token(t)
				if code == "" {
					return badParam("code", "want system|code, |code or code")
				}
				rq.Codes = append(rq.Codes, records.Code{System: sys, Code: code, AnySystem: !hasSys})
			}
			sp.values.Set("code", vs[0])
		}
		for _, v := range q["date"] {
			prefix := records.DateEq
			if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
				prefix, v = v[:2], v[2:]
			}
			switch prefix {
			case records.DateEq, records.DateGt, records.DateLt, records.DateGe, records.DateLe:
			default:
				return badParam("date", "prefix "+prefix+" is not supported (eq, gt, lt, ge, le)")
			}
			start, end, err := records.ParseDateTime(v, searchZone)
			if err != nil {
				return badParam("date", err.Error())
			}
			rq.Dates = append(rq.Dates, records.DateFilter{Prefix: prefix, Start: start, End: end})
			sp.values.Add("date", prefix+v)
		}
		if vs := q["origin"]; len(vs) > 0 {
			if len(vs) > 1 {
				return badParam("origin", "give it once; separate alternatives with a comma")
			}
			for _, t := range splitList(vs[0]) {
				switch o := records.Origin(t); o {
				case records.OriginFsecgm, records.OriginSubmitted:
					rq.Origins = append(rq.Origins, o)
				default:
					return badParam("origin", "want fsecgm, submitted or both separated by a comma")
				}
			}
			sp.values.Set("origin", vs[0])
		}
		if sp.sortSet {
			sp.values.Set("_sort", q.Get("_sort"))
		}

		id, ok := a.patientRef(pv[0])
		var p cgmstore.Patient
		found := false
		if ok {
			p, err = a.d.Store.PatientByPublicID(ctx, id)
			switch {
			case err == nil:
				found = true
			case !errors.Is(err, cgmstore.ErrNotFound):
				return err
			}
		}
		// An unknown patient and one the caller may not read get the same
		// answer, after the same statements (see read).
		if !found && ok {
			why := "FHIR " + typ + " search"
			if web.Principal(c) == nil {
				why = c.Request().Method + " " + c.Path() + ": " + web.AuthFailure(web.AuthError(c))
			}
			if err := a.d.Probe(c, consent.ActReadData, why); err != nil {
				return err
			}
		}
		var pp *cgmstore.Patient
		if found {
			pp = &p
		}
		if err := a.requirePrincipal(c, pp, consent.ActReadData); err != nil {
			return err
		}
		if !found {
			return web.Forbidden()
		}
		rq.PatientID = p.ID
		var total int
		var page []records.Resource
		err = a.d.Access(c, p, consent.ActReadData, "FHIR "+typ+" search", func(ctx context.Context, tx pgx.Tx) error {
			var err error
			total, page, err = a.rec.Search(ctx, tx, rq)
			return err
		})
		if err != nil {
			return err
		}
		entries := make([]searchEntry, 0, len(page))
		for _, r := range page {
			body, err := withMeta(r.Body, r.ID, r.Version, r.LastUpdated)
			if err != nil {
				return err
			}
			entries = append(entries, searchEntry{FullURL: a.base + "/" + r.Type + "/" + r.ID, Resource: body, Search: &entrySearch{Mode: "match"}})
		}
		return writeBundle(c, a.searchset(typ, sp, total, entries))
	}
}

// searchPatients serves GET /Patient?identifier=SYSTEM|VALUE. A patient
// who is unknown and one the caller may not see give the same empty
// result (the refusal is in the patient's access log), so that fiscal
// codes cannot be probed. It is under the lookup limits the taccuino's
// GET /api/v1/patients?identifier= shares (web.Lookups): 429 with an
// OperationOutcome (throttled) and Retry-After beyond the caller's or the
// named patient's.
func (a *api) searchPatients(c *echo.Context) error {
	ctx := c.Request().Context()
	if err := a.d.Lookups.Client(c); err != nil {
		return err
	}
	q, err := checkParams(c, "identifier")
	if err != nil {
		return err
	}
	sp, err := resultOf(q)
	if err != nil {
		return err
	}
	iv := q["identifier"]
	if len(iv) != 1 || strings.Contains(iv[0], ",") {
		return badParam("identifier", "give exactly one identifier (system|value)")
	}
	sp.values.Set("identifier", iv[0])
	sys, val, hasSys := token(iv[0])
	var p cgmstore.Patient
	switch {
	case (sys == fhir.FiscalCodeSystem || !hasSys && len(val) == 16) && val != "":
		p, err = a.d.Store.PatientByFiscalCode(ctx, val)
		if errors.Is(err, cgmstore.ErrInvalid) {
			err = cgmstore.ErrNotFound
		}
	case (sys == a.base+"/identifier/patient" || !hasSys) && publicIDRE.MatchString(val):
		p, err = a.d.Store.PatientByPublicID(ctx, val)
	case hasSys && sys != fhir.FiscalCodeSystem && sys != a.base+"/identifier/patient":
		return badParam("identifier", "the system must be "+fhir.FiscalCodeSystem+" or "+a.base+"/identifier/patient")
	default:
		err = cgmstore.ErrNotFound
	}
	found := err == nil
	if err != nil && !errors.Is(err, cgmstore.ErrNotFound) {
		return err
	}
	key := "cf:" + strings.ToUpper(val)
	if found {
		key = "cf:" + p.FiscalCode
	} else if publicIDRE.MatchString(val) {
		key = "id:" + val
	}
	if err := a.d.Lookups.Patient(key); err != nil {
		return err
	}
	var pp *cgmstore.Patient
	if found {
		pp = &p
	}
	if err := a.requirePrincipal(c, pp, consent.ActReadData); err != nil {
		return err
	}
	var entries []searchEntry
	total := 0
	if found {
		err := a.d.Access(c, p, consent.ActReadData, "FHIR Patient search", nil)
		var denied *consent.DeniedError
		switch {
		case errors.As(err, &denied):
		case err != nil:
			return err
		default:
			total = 1
			pt, err := fhir.PatientResource(a.base, patientInfo(p))
			if err != nil {
				return err
			}
			body, err := json.Marshal(pt)
			if err != nil {
				return err
			}
			if sp.count > 0 && sp.offset == 0 {
				entries = append(entries, searchEntry{FullURL: a.base + "/Patient/" + p.PublicID, Resource: body, Search: &entrySearch{Mode: "match"}})
			}
		}
	}
	return writeBundle(c, a.searchset("Patient", sp, total, entries))
}

// The searchset Bundle (the fhir package's Bundle has no links).
type searchsetBundle struct {
	ResourceType string        `json:"resourceType"`
	Meta         *bundleMeta   `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Total        int           `json:"total"`
	Link         []bundleLink  `json:"link,omitempty"`
	Entry        []searchEntry `json:"entry,omitempty"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// searchEntry is an entry of a searchset. Resource must be valid JSON
// (a stored body, which PostgreSQL's json type validated, as withMeta
// returns it, or json.Marshal's output): encode writes it as it is.
type searchEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   *entrySearch    `json:"search,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

// encode returns the Bundle's JSON: the Bundle without its entries through
// json.Marshal, then the entries, each resource written as it is.
// json.Marshal would check and compact every byte of every resource again
// (a quarter of a search's CPU time); their bytes are valid and compact
// already (see searchEntry and withMeta). The output is what json.Marshal
// gives (TestBundleEncoding).
func (b searchsetBundle) encode() ([]byte, error) {
	entries := b.Entry
	b.Entry = nil
	head, err := json.Marshal(b)
	if err != nil || len(entries) == 0 {
		return head, err
	}
	size := len(head) + 16
	for _, e := range entries {
		size += len(e.FullURL) + len(e.Resource) + 64
	}
	out := make([]byte, 0, size)
	out = append(append(out, head[:len(head)-1]...), `,"entry":[`...)
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		u, err := json.Marshal(e.FullURL)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, `{"fullUrl":`...), u...), `,"resource":`...)
		out = append(out, e.Resource...)
		if e.Search != nil {
			m, err := json.Marshal(e.Search)
			if err != nil {
				return nil, err
			}
			out = append(append(out, `,"search":`...), m...)
		}
		out = append(out, '}')
	}
	return append(out, "]}"...), nil
}

// writeBundle writes a searchset Bundle with status 200.
func writeBundle(c *echo.Context, b searchsetBundle) error {
	out, err := b.encode()
	if err != nil {
		return fmt.Errorf("fhirapi: encode: %w", err)
	}
	return writeJSON(c, http.StatusOK, out)
}

// searchset returns the Bundle of a search of typ: total, entries, and
// links self, next and previous built from the applied parameters.
func (a *api) searchset(typ string, sp searchParams, total int, entries []searchEntry) searchsetBundle {
	link := func(rel string, offset int) bundleLink {
		v := url.Values{}
		for k, vs := range sp.values {
			v[k] = vs
		}
		v.Set("_count", strconv.Itoa(sp.count))
		if offset > 0 {
			v.Set("_offset", strconv.Itoa(offset))
		}
		return bundleLink{Relation: rel, URL: a.base + "/" + typ + "?" + v.Encode()}
	}
	b := searchsetBundle{ResourceType: "Bundle", Type: fhir.BundleSearchset, Total: total, Entry: entries,
		Meta: &bundleMeta{LastUpdated: a.d.Clock().UTC().Format(time.RFC3339Nano)}}
	b.Link = append(b.Link, link("self", sp.offset))
	if sp.count > 0 && sp.offset+sp.count < total {
		b.Link = append(b.Link, link("next", sp.offset+sp.count))
	}
	if sp.offset > 0 && sp.count > 0 {
		b.Link = append(b.Link, link("previous", max(0, sp.offset-sp.count)))
	}
	return b
}
