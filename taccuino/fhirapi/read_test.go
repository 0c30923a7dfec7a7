package fhirapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"

	"github.com/google/go-cmp/cmp"
)

// entries returns the ids (Type/id) of a searchset's entries and its
// links by relation.
func entries(t testing.TB, r response) (total int, ids []string, links map[string]string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["resourceType"] != "Bundle" || m["type"] != "searchset" {
		t.Fatalf("not a searchset: %s", r.body)
	}
	links = map[string]string{}
	for _, l := range asList(m["link"]) {
		lm := l.(map[string]any)
		links[lm["relation"].(string)] = lm["url"].(string)
	}
	for _, e := range asList(m["entry"]) {
		res := e.(map[string]any)["resource"].(map[string]any)
		ids = append(ids, res["resourceType"].(string)+"/"+res["id"].(string))
		if full := e.(map[string]any)["fullUrl"].(string); !strings.HasSuffix(full, "/"+ids[len(ids)-1]) {
			t.Errorf("fullUrl %s does not end with %s", full, ids[len(ids)-1])
		}
	}
	return int(m["total"].(float64)), ids, links
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestSearchObservations: patient, code, date with every prefix, paging
// and sorting, against five daily summaries.
func TestSearchObservations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(1, true)
	e.publish(p, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 5, examplePDF)
	tok := e.citizen(p.FiscalCode)
	obs := "/fhir/Observation?patient=Patient/" + p.PublicID
	gmi := obs + "&code=" + url.QueryEscape(fhir.LOINC+"|"+fhir.CodeGMI)

	total, ids, links := entries(t, e.get(obs, tok))
	if total != 5*19 || len(ids) != DefaultCount || links["next"] == "" || links["self"] == "" || links["previous"] != "" {
		t.Errorf("all Observations: total %d, page %d, links %v", total, len(ids), links)
	}
	for _, tc := range []struct {
		query string
		days  []int // the days (1-5 May) whose GMI matches, in order
	}{
		{"", []int{1, 2, 3, 4, 5}},
		{"&_sort=-date", []int{5, 4, 3, 2, 1}},
		{"&date=2024-05-03", []int{3}},
		{"&date=eq2024-05-03", []int{3}},
		{"&date=ge2024-05-03", []int{3, 4, 5}},
		{"&date=gt2024-05-03", []int{4, 5}},
		{"&date=le2024-05-03", []int{1, 2, 3}},
		{"&date=lt2024-05-03", []int{1, 2}},
		{"&date=ge2024-05-02&date=le2024-05-04", []int{2, 3, 4}},
		{"&date=2024-05", []int{1, 2, 3, 4, 5}},
		{"&date=2024-05-03T12:00:00%2B02:00", nil}, // an instant contains no day
		{"&date=gt2024-05-03T12:00:00Z", []int{3, 4, 5}},
		{"&date=2024-06", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, ids, _ := entries(t, e.get(gmi+tc.query, tok))
			var days []int
			for _, id := range ids {
				r := e.get("/fhir/"+id, tok).json(t)
				start := r["effectivePeriod"].(map[string]any)["start"].(string)
				var d int
				fmt.Sscanf(start, "2024-05-%d", &d)
				days = append(days, d)
			}
			if diff := cmp.Diff(tc.days, days); diff != "" {
				t.Errorf("days (-want +got):\n%s", diff)
			}
		})
	}
	// Codes: alternatives, without system, unknown.
	for _, tc := range []struct {
		code string
		n    int
	}{
		{fhir.LOINC + "|" + fhir.CodeGMI + "," + fhir.LOINC + "|" + fhir.CodeCV, 10},
		{fhir.CodeGMI, 5},
		{"|" + fhir.CodeGMI, 0},
		{fhir.LocalCodeSystem + "|" + fhir.LocalTimeInTightRange, 5},
		{"http://snomed.info/sct|" + fhir.CodeGMI, 0},
	} {
		if total, _, _ := entries(t, e.get(obs+"&code="+url.QueryEscape(tc.code), tok)); total != tc.n {
			t.Errorf("code=%s: total %d, want %d", tc.code, total, tc.n)
		}
	}
	// Paging: follow next to the end and back; stable order, no repeats.
	var seen []string
	next := gmi + "&_count=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		_, ids, links := entries(t, e.get(next, tok))
		seen = append(seen, ids...)
		if pages == 1 && links["previous"] == "" {
			t.Error("page 2 has no previous link")
		}
		next = links["next"]
	}
	_, all, _ := entries(t, e.get(gmi, tok))
	if diff := cmp.Diff(all, seen); diff != "" {
		t.Errorf("paged ids differ from one page (-one +paged):\n%s", diff)
	}
	// _count=0 is the total only; a large _count is lowered to 100.
	if total, ids, _ := entries(t, e.get(obs+"&_count=0", tok)); total != 95 || len(ids) != 0 {
		t.Errorf("_count=0: total %d, %d entries", total, len(ids))
	}
	if _, ids, links := entries(t, e.get(obs+"&_count=1000", tok)); len(ids) != 95 || !strings.Contains(links["self"], "_count=100") {
		t.Errorf("_count=1000: %d entries, self %s", len(ids), links["self"])
	}
	// Submitted resources are apart: none yet.
	if total, _, _ := entries(t, e.get(obs+"&origin=submitted", tok)); total != 0 {
		t.Errorf("origin=submitted: %d", total)
	}
	if total, _, _ := entries(t, e.get(obs+"&origin=fsecgm,submitted", tok)); total != 95 {
		t.Errorf("origin=fsecgm,submitted: %d", total)
	}
}

// TestReads: Observation, Device, DiagnosticReport with its PDF, Patient
// read and search, CodeSystem.
func TestReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(2, true)
	e.publish(p, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 1, examplePDF)
	tok := e.citizen(p.FiscalCode)

	_, reps, _ := entries(t, e.get("/fhir/DiagnosticReport?patient="+p.PublicID, tok))
	if len(reps) != 1 {
		t.Fatalf("DiagnosticReports: %v", reps)
	}
	r := e.get("/fhir/"+reps[0], tok)
	rep := r.json(t)
	if r.header.Get("ETag") != `W/"1"` || rep["meta"].(map[string]any)["versionId"] != "1" {
		t.Errorf("ETag %q, meta %v", r.header.Get("ETag"), rep["meta"])
	}
	form := rep["presentedForm"].([]any)[0].(map[string]any)
	pdf, err := base64.StdEncoding.DecodeString(form["data"].(string))
	if err != nil || string(pdf) != string(examplePDF) || form["contentType"] != "application/pdf" {
		t.Errorf("presentedForm: %v (%v)", form["contentType"], err)
	}
	// The report references the summary panel, which references its
	// members and the sensor: all readable.
	panelRef := rep["result"].([]any)[0].(map[string]any)["reference"].(string)
	panel := e.get("/fhir/"+panelRef, tok)
	if panel.status != 200 {
		t.Fatalf("%s: %d", panelRef, panel.status)
	}
	pm := panel.json(t)
	for _, m := range pm["hasMember"].([]any) {
		ref := m.(map[string]any)["reference"].(string)
		if r := e.get("/fhir/"+ref, tok); r.status != 200 {
			t.Errorf("member %s: %d", ref, r.status)
		}
	}
	dev := pm["device"].(map[string]any)["reference"].(string)
	if r := e.get("/fhir/"+dev, tok); r.status != 200 || r.json(t)["serialNumber"] != fmt.Sprintf("SN%06d", p.ID) {
		t.Errorf("%s: %d %s", dev, r.status, r.body)
	}
	// Patient read and search by fiscal code and public id.
	pt := e.get("/fhir/Patient/"+p.PublicID, tok)
	if pt.status != 200 || !strings.Contains(string(pt.body), p.FiscalCode) {
		t.Errorf("Patient read: %d %s", pt.status, pt.body)
	}
	for _, q := range []string{fhir.FiscalCodeSystem + "|" + p.FiscalCode, e.base + "/identifier/patient|" + p.PublicID, p.FiscalCode} {
		if total, ids, _ := entries(t, e.get("/fhir/Patient?identifier="+url.QueryEscape(q), tok)); total != 1 || len(ids) != 1 || ids[0] != "Patient/"+p.PublicID {
			t.Errorf("Patient?identifier=%s: %d %v", q, total, ids)
		}
	}
	if total, _, _ := entries(t, e.get("/fhir/Patient?identifier="+url.QueryEscape(fhir.FiscalCodeSystem+"|"+testCF(999)), tok)); total != 0 {
		t.Errorf("unknown fiscal code: total %d", total)
	}
	// CodeSystem, public.
	if r := e.get("/fhir/CodeSystem/"+fhir.LocalCodeSystemID, ""); r.status != 200 || r.json(t)["url"] != fhir.LocalCodeSystem {
		t.Errorf("CodeSystem: %d", r.status)
	}
}

// TestAuthorization: the same rules and access log as the taccuino API.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(3, true)
	noConsent := e.patient(4, false)
	e.publish(p, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 1, nil)
	e.publish(noConsent, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 1, nil)
	reg := consent.Actor{Role: auth.RoleService, ClientID: "anagrafe", Scopes: []string{consent.ScopeRegistry}}
	if _, err := e.consent.UpsertCareRelationship(t.Context(), reg, consent.CareRelationship{PatientFiscalCode: p.FiscalCode,
		Kind: consent.CareMMG, PractitionerFiscalCode: testCF(700)}); err != nil {
		t.Fatal(err)
	}
	_, ids, _ := entries(t, e.get("/fhir/Observation?patient="+p.PublicID+"&_count=1", e.citizen(p.FiscalCode)))
	obs := "/fhir/" + ids[0]
	_, ids, _ = entries(t, e.get("/fhir/Observation?patient="+noConsent.PublicID+"&_count=1", e.citizen(noConsent.FiscalCode)))
	obsNoConsent := "/fhir/" + ids[0]
	search := "/fhir/Observation?patient=" + p.PublicID

	reader := e.service("fse-toscana", "system/Observation.rs")
	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"no token", obs, "", 401},
		{"forged token", obs, "x.y.z", 401},
		{"the patient", obs, e.citizen(p.FiscalCode), 200},
		// A resource the caller may not read answers as an unknown id:
		// 404 (TestOtherPatientsIDs).
		{"another citizen", obs, e.citizen(testCF(900)), 404},
		{"service with scope", obs, reader, 200},
		{"service with SMART v1 scope", search, e.service("ehr", "system/*.read"), 200},
		{"service without scope", obs, e.service("other", "system/Patient.rs"), 404},
		{"service, consent not granted", obsNoConsent, reader, 404},
		{"the patient without consent", obsNoConsent, e.citizen(noConsent.FiscalCode), 200},
		{"MMG with care relationship", search, e.practitioner(testCF(700), auth.PractitionerMMG, ""), 200},
		{"MMG without", search, e.practitioner(testCF(701), auth.PractitionerMMG, ""), 403},
		{"search, no token", search, "", 401},
		{"search, unknown patient", "/fhir/Observation?patient=" + strings.Repeat("ab", 16), reader, 403},
		{"patient read, service", "/fhir/Patient/" + p.PublicID, reader, 200},
		{"patient read, other citizen", "/fhir/Patient/" + p.PublicID, e.citizen(testCF(900)), 403},
		{"patient read, no token", "/fhir/Patient/" + p.PublicID, "", 401},
		{"metadata, no token", "/fhir/metadata", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(tc.path, tc.token)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.status >= 400 {
				outcome(t, r, tc.status)
			}
			if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// The access log: allowed reads of third parties, every denial; the
	// patient's own reads are not logged.
	for _, tc := range []struct {
		where string
		want  int
	}{
		{"actor_id = 'fse-toscana' AND outcome = 'allowed' AND action = 'data.read' AND detail = 'FHIR Observation read'", 1},
		{"actor_id = 'fse-toscana' AND outcome = 'allowed' AND detail = 'FHIR Patient read'", 1},
		{"actor_role = '' AND outcome = 'denied' AND reason = 'unauthenticated'", 4},
		{"actor_id = 'other' AND outcome = 'denied' AND reason = 'missing-scope'", 1},
		{"actor_role = 'practitioner' AND outcome = 'allowed' AND detail = 'FHIR Observation search'", 1},
		{"actor_role = 'practitioner' AND outcome = 'denied' AND reason = 'no-care-relationship'", 1},
		{"actor_role = 'citizen' AND outcome = 'denied' AND reason = 'no-relationship'", 2},
		{"basis = 'self'", 0},
	} {
		// Repeated refusals count on one entry (occurrences).
		if n := e.count(`SELECT coalesce(sum(occurrences), 0) FROM access_log WHERE patient_id = $1 AND `+tc.where, p.ID); n != tc.want {
			t.Errorf("access log of the patient, %s: %d, want %d", tc.where, n, tc.want)
		}
	}
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND actor_id = 'fse-toscana'
		AND outcome = 'denied' AND reason = 'no-third-party-consent'`, noConsent.ID); n != 1 {
		t.Errorf("denial for missing consent logged %d times, want 1", n)
	}
	// A Patient search the rules refuse finds nothing (as an unknown
	// fiscal code), and the refusal is logged.
	q := "/fhir/Patient?identifier=" + url.QueryEscape(fhir.FiscalCodeSystem+"|"+noConsent.FiscalCode)
	if total, _, _ := entries(t, e.get(q, reader)); total != 0 {
		t.Errorf("refused Patient search found %d", total)
	}
	if n := e.count(`SELECT count(*) FROM access_log WHERE patient_id = $1 AND detail = 'FHIR Patient search' AND outcome = 'denied'`, noConsent.ID); n != 1 {
		t.Errorf("refused Patient search logged %d times", n)
	}
}

// TestErrors: every error is an OperationOutcome with the right status,
// naming the parameter when there is one.
func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.patient(5, true)
	tok := e.citizen(p.FiscalCode)
	obs := "/fhir/Observation?patient=" + p.PublicID
	for _, tc := range []struct {
		name, method, path string
		header             []string
		body               []byte
		status             int
		code, expression   string
	}{
		{"unknown parameter", "GET", obs + "&subject=x", nil, nil, 400, "invalid", "subject"},
		{"modifier", "GET", obs + "&code:text=gmi", nil, nil, 400, "invalid", "code:text"},
		{"patient missing", "GET", "/fhir/Observation?code=x", nil, nil, 400, "invalid", "patient"},
		{"bad date", "GET", obs + "&date=2024-13-01", nil, nil, 400, "invalid", "date"},
		{"bad date prefix", "GET", obs + "&date=sa2024-05-01", nil, nil, 400, "invalid", "date"},
		{"bad _count", "GET", obs + "&_count=-1", nil, nil, 400, "invalid", "_count"},
		{"bad _sort", "GET", obs + "&_sort=code", nil, nil, 400, "invalid", "_sort"},
		{"bad origin", "GET", obs + "&origin=mine", nil, nil, 400, "invalid", "origin"},
		{"patient search without identifier", "GET", "/fhir/Patient", nil, nil, 400, "invalid", "identifier"},
		{"patient search, other system", "GET", "/fhir/Patient?identifier=urn:x|1", nil, nil, 400, "invalid", "identifier"},
		{"unknown id", "GET", "/fhir/Observation/nope", nil, nil, 404, "not-found", ""},
		{"malformed id", "GET", "/fhir/Device/" + strings.Repeat("x", 70), nil, nil, 404, "not-found", ""},
		{"unknown code system", "GET", "/fhir/CodeSystem/other", nil, nil, 404, "not-found", ""},
		{"unknown type", "GET", "/fhir/Encounter/1", nil, nil, 404, "not-found", ""},
		{"unknown type search", "GET", "/fhir/Encounter?patient=x", nil, nil, 404, "not-found", ""},
		{"delete", "DELETE", "/fhir/Observation/x", nil, nil, 405, "not-supported", ""},
		{"update", "PUT", "/fhir/Observation/x", nil, []byte(`{}`), 405, "not-supported", ""},
		{"device search", "GET", "/fhir/Device?patient=x", nil, nil, 405, "not-supported", ""},
		{"submit with GET", "GET", "/fhir/$submit-cgm-bundle", nil, nil, 405, "not-supported", ""},
		{"xml", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+xml"}, nil, 406, "not-supported", ""},
		{"_format xml", "GET", "/fhir/metadata?_format=xml", nil, nil, 406, "not-supported", "_format"},
		{"not JSON content", "POST", "/fhir/$submit-cgm-bundle", []string{"Content-Type", "text/plain"}, []byte("x"), 415, "not-supported", ""},
		{"not JSON", "POST", "/fhir/$submit-cgm-bundle", nil, []byte("{"), 400, "structure", "Bundle"},
		{"not a transaction", "POST", "/fhir/$submit-cgm-bundle", nil, []byte(`{"resourceType":"Bundle","type":"batch"}`), 400, "value", "Bundle.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tok, tc.body, tc.header...)
			code, expr := outcome(t, r, tc.status)
			if code != tc.code || expr != tc.expression {
				t.Errorf("issue code %q expression %q, want %q %q", code, expr, tc.code, tc.expression)
			}
			if _, ok := r.header["Allow"]; tc.status == 405 && !ok {
				t.Error("405 without Allow")
			}
		})
	}
	// Lenient handling ignores unknown parameters, and the self link
	// leaves them out.
	r := e.do("GET", obs+"&subject=x", tok, nil, "Prefer", "handling=lenient")
	if _, _, links := entries(t, r); strings.Contains(links["self"], "subject") {
		t.Errorf("self link with an ignored parameter: %s", links["self"])
	}
}

// TestLookupRateLimit: Patient searches (lookups by fiscal code) are
// limited per client, and the refusal is an OperationOutcome.
func TestLookupRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{LookupPerMinute: 1, LookupBurst: 2})
	tok := e.service("ehr", "system/Observation.rs")
	q := "/fhir/Patient?identifier=" + url.QueryEscape(fhir.FiscalCodeSystem+"|"+testCF(1))
	for i := range 2 {
		if r := e.get(q, tok); r.status != 200 {
			t.Fatalf("lookup %d: %d", i, r.status)
		}
	}
	r := e.get(q, tok)
	if code, _ := outcome(t, r, 429); code != "throttled" || r.header.Get("Retry-After") == "" {
		t.Errorf("issue %q, Retry-After %q", code, r.header.Get("Retry-After"))
	}
}
