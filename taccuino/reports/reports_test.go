package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestReportAccess(t *testing.T) {
	e := newEnv(t)
	doc := e.doctor(t)
	anna := e.byName("Bianchi")
	path := "/reports/agp/" + anna.PublicID

	resp, body := e.do(t, http.MethodGet, path, doc, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("report page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range []string{"Anna Bianchi", "22/03/2026 – 04/04/2026 (14 giorni)", `data-fig="gmi_percent"`,
		`href="/reports/agp/` + anna.PublicID + `.pdf?`, "Discordanza"} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("report page lacks %q", s)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	resp, body = e.do(t, http.MethodGet, path+".pdf?lang=en", doc, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("report PDF: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	want := []string{"allowed AGP report 2026-03-22..2026-04-04", "allowed AGP report (PDF) 2026-03-22..2026-04-04"}
	if diff := cmp.Diff(want, e.accessLog(t, anna.ID)); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}

	// The JSON figures are the engine's over the store's readings.
	var rj ReportJSON
	e.getJSON(t, "/api/v1"+path+"?from=2026-03-22&to=2026-04-04", doc, &rj)
	cur := agp.LocalDays(time.Date(2026, 3, 22, 0, 0, 0, 0, e.loc), time.Date(2026, 4, 4, 0, 0, 0, 0, e.loc), e.loc)
	rs, err := e.store.Readings(context.Background(), anna.ID, cur.Start, cur.End, cgm.Historic, cgm.Scan)
	if err != nil {
		t.Fatal(err)
	}
	r, err := agp.Compute(rs, agp.Options{Location: e.loc, Period: &cur})
	if err != nil {
		t.Fatal(err)
	}
	if rj.Report.Readings != r.Readings || *rj.Report.CVPercent != *r.CVPercent || rj.Report.GMI.Percent != r.GMI.Percent {
		t.Errorf("JSON report differs from the engine: %d/%d readings", rj.Report.Readings, r.Readings)
	}
	if len(rj.HbA1c) != 1 || rj.HbA1c[0].Percent != 6.9 || !rj.HbA1c[0].Discordant || *rj.HbA1c[0].Difference != 6.9-r.GMI.Percent {
		t.Errorf("HbA1c = %+v (GMI %v)", rj.HbA1c, r.GMI.Percent)
	}
	if rj.Previous.Period.Start.Format(time.DateOnly) != "2026-03-08" {
		t.Errorf("previous period starts %v", rj.Previous.Period.Start)
	}

	self := e.idp.Token(t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: e.people[0].cf})
	stranger := e.idp.Token(t, auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: cfStranger,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: "ORG-OTHER"})
	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"no token", path, "", http.StatusUnauthorized},
		{"unknown id", "/reports/agp/0123456789abcdef0123456789abcdef", doc, http.StatusForbidden},
		{"malformed id", "/reports/agp/x.pdf", doc, http.StatusForbidden},
		{"another centre", path, stranger, http.StatusForbidden},
		{"no consent", "/reports/agp/" + e.byName("Orsi").PublicID, doc, http.StatusForbidden},
		{"the patient", path, self, http.StatusOK},
		{"from without to", path + "?from=2026-03-01", doc, http.StatusBadRequest},
		{"bad date", path + "?from=2026-03-01&to=yesterday", doc, http.StatusBadRequest},
		{"reversed", path + "?from=2026-03-10&to=2026-03-01", doc, http.StatusUnprocessableEntity},
		{"too long", path + "?from=2024-01-01&to=2026-03-01", doc, http.StatusUnprocessableEntity},
		{"bad targets", path + "?targets=pregnancy", doc, http.StatusBadRequest},
		{"older targets", path + "?targets=older&lang=en", doc, http.StatusOK},
	} {
		if resp, body := e.do(t, http.MethodGet, tc.path, tc.token, nil); resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
	}
	// The refusals of a known patient are in their log; the patient's own
	// reads are not.
	log := e.accessLog(t, anna.ID)
	if denied := slices.IndexFunc(log, func(s string) bool { return strings.HasPrefix(s, "denied") }); denied < 0 {
		t.Errorf("no denial in the access log: %v", log)
	}
}

func TestClinicList(t *testing.T) {
	e := newEnv(t)
	doc := e.doctor(t)
	var cj ClinicJSON
	e.getJSON(t, "/api/v1/clinic?counts=1", doc, &cj)
	if cj.Total == nil || *cj.Total != 8 || len(cj.Patients) != 8 || cj.More {
		t.Fatalf("total %v, %d patients, more %v; want 8 (Hugo Orsi did not consent)", cj.Total, len(cj.Patients), cj.More)
	}
	var plain ClinicJSON
	e.getJSON(t, "/api/v1/clinic", doc, &plain)
	if plain.Total != nil || plain.Counts != nil || len(plain.Patients) != 8 {
		t.Errorf("without counts: total %v, counts %v, %d patients", plain.Total, plain.Counts, len(plain.Patients))
	}
	sum := 0
	for _, n := range cj.Counts {
		sum += n
	}
	if sum != 8 {
		t.Errorf("counts %v sum to %d", cj.Counts, sum)
	}
	got := map[string]string{}
	order := map[string]summaries.Category{}
	prev := summaries.Category(0)
	for _, p := range cj.Patients {
		got[p.Name] = p.Category
		c, err := summaries.ParseCategory(p.Category)
		if err != nil {
			t.Fatal(err)
		}
		if c < prev {
			t.Errorf("%s (%s) listed after a later category", p.Name, p.Category)
		}
		prev = c
		order[p.Name] = c
		if p.Current != nil && p.Current.Readings > 0 {
			// The category is the one of the figures shown.
			pc := summaries.Figures{}
			if p.Previous != nil {
				pc = p.Previous.Figures
			}
			if want, _, _ := summaries.Categorize(p.Current.Figures, pc); want != c {
				t.Errorf("%s: category %v, figures say %v", p.Name, c, want)
			}
		}
		if p.Report != "/reports/agp/"+p.ID {
			t.Errorf("%s: report link %q", p.Name, p.Report)
		}
	}
	for name, want := range map[string]string{"Anna Bianchi": "very_low", "Irene Pini": "tir_drop", "Dario Esposito": "low_use",
		"Fabio Galli": "no_data", "Giulia Neri": "no_data"} {
		if got[name] != want {
			t.Errorf("%s: category %q, want %q", name, got[name], want)
		}
	}
	if last := cj.Patients[len(cj.Patients)-1]; last.Name != "Giulia Neri" || last.LastReading != nil || last.Current == nil || last.Current.Readings != 0 {
		t.Errorf("last row = %+v, want Giulia Neri without readings", last)
	}
	if f := cj.Patients[slices.IndexFunc(cj.Patients, func(p ClinicPatientJSON) bool { return p.Name == "Fabio Galli" })]; f.NoDataDays == nil || *f.NoDataDays != 20 {
		t.Errorf("Fabio Galli: no data for %v days, want 20", *f.NoDataDays)
	}
	// One access-log entry per patient shown, per list shown (two so far).
	for i, p := range e.patients {
		log := e.accessLog(t, p.ID)
		want := []string{"allowed " + listDetail, "allowed " + listDetail}
		if e.people[i].noConsent {
			want = nil
		}
		if diff := cmp.Diff(want, log, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: access log (-want +got):\n%s", e.people[i].family, diff)
		}
	}

	// Filters and pages.
	var nd ClinicJSON
	e.getJSON(t, "/api/v1/clinic?category=no_data&counts=1", doc, &nd)
	if *nd.Total != 2 || len(nd.Patients) != 2 || nd.Counts["very_low"] != cj.Counts["very_low"] {
		t.Errorf("no_data: %d/%d", *nd.Total, len(nd.Patients))
	}
	for page, want := range map[int][]ClinicPatientJSON{1: cj.Patients[:3], 2: cj.Patients[3:6], 3: cj.Patients[6:]} {
		var pj ClinicJSON
		e.getJSON(t, "/api/v1/clinic?limit=3&page="+strconv.Itoa(page), doc, &pj)
		if len(pj.Patients) != len(want) || pj.More != (page < 3) {
			t.Errorf("page %d of 3: %d patients, more %v", page, len(pj.Patients), pj.More)
			continue
		}
		for i := range want {
			if pj.Patients[i].ID != want[i].ID {
				t.Errorf("page %d row %d is %s, want %s", page, i, pj.Patients[i].Name, want[i].Name)
			}
		}
	}

	// The same pages by the opaque cursors, forwards (next) and back
	// (prev): every patient once, in the list's order.
	var walked []string
	path := "/api/v1/clinic?limit=2"
	var pj ClinicJSON
	for pages := 0; ; pages++ {
		pj = ClinicJSON{}
		e.getJSON(t, path, doc, &pj)
		for _, p := range pj.Patients {
			walked = append(walked, p.ID)
		}
		if (pj.Prev != "") != (pages > 0) || (pj.Next != "") != pj.More {
			t.Errorf("page %d by cursor: prev %q, next %q, more %v", pages+1, pj.Prev, pj.Next, pj.More)
		}
		if pj.Next == "" || pages > 20 {
			break
		}
		path = "/api/v1/clinic?limit=2&after=" + pj.Next
	}
	var wantIDs []string
	for _, p := range cj.Patients {
		wantIDs = append(wantIDs, p.ID)
	}
	if !slices.Equal(walked, wantIDs) {
		t.Errorf("pages by cursor: %v, want %v", walked, wantIDs)
	}
	back := []string{}
	for pj.Prev != "" && len(back) < 20 {
		prev := pj.Prev
		pj = ClinicJSON{}
		e.getJSON(t, "/api/v1/clinic?limit=2&before="+prev, doc, &pj)
		for i := len(pj.Patients) - 1; i >= 0; i-- {
			back = append(back, pj.Patients[i].ID)
		}
	}
	slices.Reverse(back)
	if n := len(wantIDs) - len(back); n < 1 || n > 2 || !slices.Equal(back, wantIDs[:len(back)]) {
		t.Errorf("pages back by cursor: %v, want the list but its last page: %v", back, wantIDs)
	}

	// Search by name and by fiscal code prefix, in a body: never in the
	// URL, and never in the service's log.
	for _, q := range []string{"bian", "anna b", e.people[0].cf[:9], strings.ToLower(e.people[0].cf)} {
		resp, body := e.do(t, http.MethodPost, "/api/v1/clinic/search", doc, strings.NewReader(`{"q":"`+q+`"}`),
			"Content-Type", "application/json")
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"name":"Anna Bianchi"`)) || bytes.Contains(body, []byte("Bruno")) {
			t.Errorf("search %q: %d %s", q, resp.StatusCode, body)
		}
	}
	if logs := e.logText(); strings.Contains(logs, e.people[0].cf[:9]) || strings.Contains(strings.ToUpper(logs), e.people[0].cf[:9]) {
		t.Error("the service log holds a searched fiscal code")
	}
	resp, _ := e.do(t, http.MethodPost, "/api/v1/clinic/search", doc, strings.NewReader(`{"q":"`+strings.Repeat("x", 65)+`"}`),
		"Content-Type", "application/json")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("long search: %d", resp.StatusCode)
	}

	// The HTML page: names linked to their reports; the search form posts
	// with the CSRF token.
	resp, body := e.do(t, http.MethodGet, "/clinic", doc, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`href="/reports/agp/`+cj.Patients[0].ID+`"`)) {
		t.Errorf("clinic page: %d", resp.StatusCode)
	}
	resp, _ = e.do(t, http.MethodPost, "/clinic", doc, strings.NewReader(url.Values{"q": {"bian"}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("search without CSRF token: %d, want 403", resp.StatusCode)
	}
	csrf := web.NewCSRFToken("") // no session cookie: the bearer token authenticates
	resp, body = e.do(t, http.MethodPost, "/clinic", doc, strings.NewReader(url.Values{"q": {"bian"}, web.CSRFField: {csrf}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", web.CSRFCookie+"="+csrf)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Anna Bianchi")) || bytes.Contains(body, []byte("Bruno Conti")) {
		t.Errorf("search page: %d", resp.StatusCode)
	}

	citizen := e.idp.Token(t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: e.people[0].cf})
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/api/v1/clinic", "", http.StatusUnauthorized},
		{"/api/v1/clinic", citizen, http.StatusForbidden},
		{"/api/v1/clinic?category=bogus", doc, http.StatusBadRequest},
		{"/api/v1/clinic?page=0", doc, http.StatusBadRequest},
		{"/api/v1/clinic?limit=501", doc, http.StatusBadRequest},
		{"/api/v1/clinic?counts=yes", doc, http.StatusBadRequest},
		{"/api/v1/clinic?after=bogus", doc, http.StatusBadRequest},
		{"/api/v1/clinic?after=x&before=y", doc, http.StatusBadRequest},
	} {
		if resp, body := e.do(t, http.MethodGet, tc.path, tc.token, nil); resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d: %s", tc.path, resp.StatusCode, tc.status, body)
		}
	}
}

// TestClinicRefreshesEndedPeriods: read the morning after, the list shows
// the new period at once (re-derived from the day rows), and each patient
// shown is logged once (the page read before the refresh read and logged
// nothing).
func TestClinicRefreshesEndedPeriods(t *testing.T) {
	e := newEnv(t)
	doc := e.doctor(t)
	e.clock.Set(time.Date(2026, 4, 6, 7, 0, 0, 0, e.loc))
	var cj ClinicJSON
	e.getJSON(t, "/api/v1/clinic", doc, &cj)
	if len(cj.Patients) == 0 {
		t.Fatal("no patient listed")
	}
	for _, p := range cj.Patients {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM access_log a JOIN patients p ON p.id = a.patient_id
			WHERE p.public_id = $1 AND a.detail = $2`, p.ID, listDetail).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s: %d access-log entries of the list, want 1", p.Name, n)
		}
		if p.Current == nil {
			continue
		}
		if p.PeriodStart != "2026-03-23" || p.PeriodEnd != "2026-04-05" || p.Stale {
			t.Errorf("%s: period %s – %s (stale %v), want 2026-03-23 – 2026-04-05", p.Name, p.PeriodStart, p.PeriodEnd, p.Stale)
		}
	}
}

// TestClinicEscapes: names are text, never markup, on the clinic page.
func TestClinicEscapes(t *testing.T) {
	e := newEnv(t)
	p := e.byName("Conti")
	p.GivenName = `<script>alert("x")</script>`
	if _, err := e.store.UpdatePatient(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do(t, http.MethodGet, "/clinic", e.doctor(t), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("clinic page: %d", resp.StatusCode)
	}
	if bytes.Contains(body, []byte("<script>")) || !bytes.Contains(body, []byte("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Conti")) {
		t.Error("the name is not escaped")
	}
}

// TestClinicGRI: the clinic list sorted by the current period's GRI and
// filtered by its zone, through the API, the search and the page.
func TestClinicGRI(t *testing.T) {
	e := newEnv(t)
	doc := e.doctor(t)
	var all ClinicJSON
	e.getJSON(t, "/api/v1/clinic", doc, &all)
	zones := map[string]int{}
	for _, p := range all.Patients {
		if p.Current != nil && p.Current.GRI != nil {
			g := p.Current.GRI
			if want := agp.GRIFromRanges(*p.Current.TimeInRanges); g.Value != want.Value || g.Zone != want.Zone {
				t.Errorf("%s: GRI %+v, the band percentages give %+v", p.Name, *g, want)
			}
			zones[g.Zone]++
		}
	}
	if len(zones) < 2 {
		t.Fatalf("the fixture's patients are in GRI zones %v: want at least two zones to test the filter", zones)
	}
	var byGRI ClinicJSON
	e.getJSON(t, "/api/v1/clinic?sort=gri", doc, &byGRI)
	if len(byGRI.Patients) != len(all.Patients) {
		t.Fatalf("by GRI: %d patients, want %d", len(byGRI.Patients), len(all.Patients))
	}
	last, none := math.Inf(1), false
	for _, p := range byGRI.Patients {
		if p.Current == nil || p.Current.GRI == nil {
			none = true
			continue
		}
		if none || p.Current.GRI.Value > last {
			t.Errorf("by GRI: %s (GRI %v) after %v or after a patient without GRI", p.Name, p.Current.GRI.Value, last)
		}
		last = p.Current.GRI.Value
	}
	for zone, n := range zones {
		var z ClinicJSON
		e.getJSON(t, "/api/v1/clinic?counts=1&gri_zone="+strings.ToLower(zone), doc, &z)
		if len(z.Patients) != n || z.Total == nil || *z.Total != n {
			t.Errorf("zone %s: %d patients (total %v), want %d", zone, len(z.Patients), z.Total, n)
		}
		for _, p := range z.Patients {
			if p.Current.GRI.Zone != zone {
				t.Errorf("zone %s lists %s in zone %s", zone, p.Name, p.Current.GRI.Zone)
			}
		}
		resp, body := e.do(t, http.MethodPost, "/api/v1/clinic/search", doc, strings.NewReader(`{"gri_zone":"`+zone+`","sort":"gri"}`),
			"Content-Type", "application/json")
		var s ClinicJSON
		json.Unmarshal(body, &s)
		if resp.StatusCode != http.StatusOK || len(s.Patients) != n {
			t.Errorf("search in zone %s: %d, %d patients, want %d", zone, resp.StatusCode, len(s.Patients), n)
		}
	}
	for _, q := range []string{"gri_zone=F", "gri_zone=AB", "sort=name"} {
		if resp, body := e.do(t, http.MethodGet, "/api/v1/clinic?"+q, doc, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /api/v1/clinic?%s: %d, want 400: %s", q, resp.StatusCode, body)
		}
	}
	// The page: the filter kept in the links, the GRI column.
	var zone string
	for z := range zones {
		zone = z
	}
	resp, body := e.do(t, http.MethodGet, "/clinic?gri_zone="+zone+"&sort=gri", doc, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`<option value="`+zone+`" selected>`)) ||
		!bytes.Contains(body, []byte(`<option value="gri" selected>`)) || !bytes.Contains(body, []byte(`data-fig="gri"`)) ||
		!bytes.Contains(body, []byte(`&amp;gri_zone=`+zone+`&amp;sort=gri`)) {
		t.Errorf("clinic page with the GRI filter: %d\n%s", resp.StatusCode, body)
	}
}

// griKeys are the GRI texts of the clinic page, from package locale.
var griKeys = []string{"gri_short", "gri_zone_title", "gri_all_zones", "gri_sort", "gri_sort_attention", "gri_sort_gri", "gri_apply", "gri_explain"}

// TestClinicGRITexts: every GRI text of the clinic page is in the catalogue,
// in Italian and in English.
func TestClinicGRITexts(t *testing.T) {
	for _, l := range []locale.Lang{locale.IT, locale.EN} {
		for _, k := range griKeys {
			if s := l.T(k); s == k || s == "" {
				t.Errorf("%s: %q has no text", l, k)
			}
		}
	}
	if locale.IT.T("gri_apply") == locale.EN.T("gri_apply") {
		t.Error("gri_apply: the same text in both languages")
	}
}
