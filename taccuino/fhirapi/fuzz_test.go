package fhirapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"fsecgm/taccuino/records"

	"github.com/labstack/echo/v5"
)

// FuzzSearchParams feeds hostile query strings to the parameter checks of
// the Observation and DiagnosticReport searches (checkParams, resultOf,
// the code tokens and the date prefixes and values), the part of a search
// that runs before the database: no input panics, every refusal is a 400
// OperationOutcome naming a parameter, and what is accepted is within the
// limits (page size, date ranges that are not empty).
func FuzzSearchParams(f *testing.F) {
	for _, q := range []string{
		"patient=Patient/0123456789abcdef0123456789abcdef",
		"patient=0123456789abcdef0123456789abcdef&code=http://loinc.org|97507-8,|4548-4&date=ge2024-05-01&date=lt2024-06&_count=500&_sort=-date",
		"patient=x&code=a\\,b\\|c|d&origin=fsecgm,submitted&_offset=3",
		"patient=x&date=eq2024-05-01T10:15:00.5Z&date=xx2024&_count=-1",
		"patient=x&unknown=1", "patient=x&code:text=1", "patient=", "patient=x&patient=y", "%zz=1",
		"patient=x&date=2024-02-30", "patient=x&date=gt2024-05-01T10:15%2B02:00", "patient=x&_sort=name&_format=json",
	} {
		f.Add(q, false)
	}
	f.Add("patient=x&whatever=1", true)
	f.Fuzz(func(t *testing.T, rawQuery string, lenient bool) {
		req := httptest.NewRequest(http.MethodGet, "/fhir/Observation", nil)
		req.URL.RawQuery = rawQuery
		if lenient {
			req.Header.Set("Prefer", "handling=lenient")
		}
		c := echo.New().NewContext(req, httptest.NewRecorder())
		refused := func(err error) {
			t.Helper()
			var oe *outcomeError
			if !errors.As(err, &oe) || oe.status != http.StatusBadRequest || len(oe.oo.Issue) != 1 {
				t.Fatalf("refusal is not a 400 OperationOutcome with one issue: %#v", err)
			}
			// The issue names the parameter, unless its name is empty
			// ("?=x"), which has nothing to name.
			if len(oe.oo.Issue[0].Expression) != 1 && !emptyName(rawQuery) {
				t.Fatalf("refusal does not name the parameter: %#v", err)
			}
		}
		q, err := checkParams(c, "patient", "code", "date", "origin")
		if err != nil {
			refused(err)
			return
		}
		for name := range q {
			base, _, _ := strings.Cut(name, ":")
			switch base {
			case "patient", "code", "date", "origin", "_count", "_sort", "_offset", "_format":
			default:
				t.Fatalf("checkParams let %q through", name)
			}
		}
		sp, err := resultOf(q)
		if err != nil {
			refused(err)
			return
		}
		if sp.count < 0 || sp.count > MaxCount || sp.offset < 0 {
			t.Fatalf("page %d at %d", sp.count, sp.offset)
		}
		for _, v := range q["code"] {
			parts := splitList(v)
			if !strings.Contains(v, `\`) && utf8.ValidString(v) && strings.Join(parts, ",") != v {
				t.Fatalf("splitList(%q) = %q", v, parts)
			}
			for _, p := range parts {
				sys, code, hasSys := token(p)
				if !hasSys && sys != "" {
					t.Fatalf("token(%q) gave a system without a bar", p)
				}
				_ = code
			}
		}
		for _, v := range q["date"] {
			prefix := records.DateEq
			if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
				prefix, v = v[:2], v[2:]
			}
			switch prefix {
			case records.DateEq, records.DateGt, records.DateLt, records.DateGe, records.DateLe:
			default:
				continue
			}
			start, end, err := records.ParseDateTime(v, searchZone)
			if err == nil && !end.After(start) {
				t.Fatalf("date %q: empty range [%s, %s)", v, start, end)
			}
		}
	})
}

// emptyName reports whether a query string has a parameter without name.
func emptyName(rawQuery string) bool {
	q, _ := url.ParseQuery(rawQuery)
	_, ok := q[""]
	return ok
}
