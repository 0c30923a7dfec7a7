package fhirapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"
)

// fixture is a patient with what every interaction needs: summaries with
// their report, a submitted reading, a laboratory result.
type fixture struct {
	e         *env
	pid       string
	token     string
	ids       map[string]string // resource type → an id
	readingID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := newEnv(t)
	p := e.patient(20, true)
	e.publish(p, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 2, examplePDF)
	f := &fixture{e: e, pid: p.PublicID, token: e.citizen(p.FiscalCode), ids: map[string]string{"Patient": p.PublicID, "CodeSystem": fhir.LocalCodeSystemID}}
	_, locs := results(t, e.do("POST", "/fhir/$submit-cgm-bundle", f.token, readingsBundle(t, p, readings(time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC), 3))))
	f.readingID = strings.TrimSuffix(strings.TrimPrefix(locs[2], "Observation/"), "/_history/1")
	for _, typ := range []string{"Observation", "DiagnosticReport"} {
		_, ids, _ := entries(t, e.get("/fhir/"+typ+"?_count=1&patient="+p.PublicID, f.token))
		f.ids[typ] = strings.TrimPrefix(ids[0], typ+"/")
	}
	_, ids, _ := entries(t, e.get("/fhir/Observation?_count=1&patient="+p.PublicID+"&code="+url.QueryEscape(fhir.LOINC+"|"+fhir.CodeSummary), f.token))
	panel := e.get("/fhir/"+ids[0], f.token).json(t)
	f.ids["Device"] = strings.TrimPrefix(panel["device"].(map[string]any)["reference"].(string), "Device/")
	return f
}

// searchValues are a value of each search parameter that matches the
// fixture's data (patient is filled in).
var searchValues = map[string]string{
	"identifier": fhir.FiscalCodeSystem + "|" + testCF(20),
	"code":       fhir.LOINC + "|" + fhir.CodeSummary,
	"date":       "ge2024-05-01",
	"origin":     "fsecgm",
}

// TestCapabilityTellsTheTruth: every interaction, search parameter and
// operation /metadata advertises works, and what it does not advertise
// does not: other types, interactions, parameters and operations are
// refused.
func TestCapabilityTellsTheTruth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.e
	r := e.get("/fhir/metadata", "")
	if r.status != 200 {
		t.Fatalf("metadata: %d", r.status)
	}
	var cs capabilityStatement
	if err := json.Unmarshal(r.body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.FHIRVersion != "4.0.1" || !slices.Contains(cs.Format, "json") || !slices.Contains(cs.Instantiates, DataReceiverCanonical) || cs.Kind != "instance" {
		t.Errorf("metadata header: %s %v %v %s", cs.FHIRVersion, cs.Format, cs.Instantiates, cs.Kind)
	}
	rest := cs.Rest[0]
	advertised := map[string]bool{} // "Type interaction", "Type ?param"
	for _, res := range rest.Resource {
		switch res.Type {
		case "Measure":
			// The indicators' definitions: no patient, any caller.
			if r := e.get("/fhir/Measure/cgm-tir", f.token); r.status != 200 || r.json(t)["resourceType"] != "Measure" {
				t.Errorf("Measure read: %d %s", r.status, r.body)
			}
			if total, _, _ := entries(t, e.get("/fhir/Measure", f.token)); total == 0 {
				t.Error("Measure search found nothing")
			}
			continue
		case "MeasureReport":
			// The population view's figures, for its analysts: exercised
			// with a built release in taccuino.TestPopulationMeasures; here
			// the fixture's clinician is refused.
			if r := e.get("/fhir/MeasureReport?scope=region&period=14d", f.token); r.status != 403 {
				t.Errorf("MeasureReport as a clinician: %d %s", r.status, r.body)
			}
			continue
		}
		for _, in := range res.Interaction {
			advertised[res.Type+" "+in.Code] = true
			switch in.Code {
			case "read":
				id := f.ids[res.Type]
				if id == "" {
					t.Fatalf("no fixture for reading %s", res.Type)
				}
				r := e.get("/fhir/"+res.Type+"/"+id, f.token)
				if r.status != 200 || r.json(t)["resourceType"] != res.Type {
					t.Errorf("%s read: %d %s", res.Type, r.status, r.body)
				}
			case "search-type":
				for _, sp := range res.SearchParam {
					advertised[res.Type+" ?"+sp.Name] = true
					q := url.Values{}
					if res.Type != "Patient" {
						q.Set("patient", "Patient/"+f.pid)
					}
					if sp.Name != "patient" {
						q.Set(sp.Name, searchValues[sp.Name])
					}
					total, _, _ := entries(t, e.get("/fhir/"+res.Type+"?"+q.Encode(), f.token))
					if total == 0 {
						t.Errorf("%s?%s found nothing", res.Type, q.Encode())
					}
				}
				// The result parameters the documentation names.
				for _, p := range []string{"_count=1", "_sort=-date"} {
					q := "patient=Patient/" + f.pid
					if res.Type == "Patient" {
						q = "identifier=" + url.QueryEscape(searchValues["identifier"])
					}
					if r := e.get("/fhir/"+res.Type+"?"+q+"&"+p, f.token); r.status != 200 {
						t.Errorf("%s?%s: %d", res.Type, p, r.status)
					}
				}
			case "create":
				body, _ := json.Marshal(hba1c("Patient/"+f.pid, "7.2", "%", "CAP-1"))
				if r := e.do("POST", "/fhir/"+res.Type, e.service("lab", ScopeSubmit, "system/Observation.rs"), body); r.status != 201 {
					t.Errorf("%s create: %d %s", res.Type, r.status, r.body)
				}
			default:
				t.Errorf("%s: interaction %s has no check here: add one", res.Type, in.Code)
			}
		}
	}
	if len(rest.Operation) != 1 || rest.Operation[0].Name != "submit-cgm-bundle" || rest.Operation[0].Definition != SubmitOperationCanonical {
		t.Errorf("operations %+v", rest.Operation)
	}
	// (The operation itself works: the fixture used it.)

	// What is not advertised is refused.
	types := []string{"Patient", "Observation", "DiagnosticReport", "Device", "CodeSystem", "Encounter", "ServiceRequest", "Bundle", "Practitioner"}
	id := func(typ string) string {
		if v := f.ids[typ]; v != "" {
			return v
		}
		return "x1"
	}
	body := []byte(`{"resourceType":"Basic"}`)
	for _, typ := range types {
		for _, x := range []struct {
			interaction, method, path string
		}{
			{"read", "GET", "/fhir/" + typ + "/" + id(typ)},
			{"vread", "GET", "/fhir/" + typ + "/" + id(typ) + "/_history/1"},
			{"update", "PUT", "/fhir/" + typ + "/" + id(typ)},
			{"patch", "PATCH", "/fhir/" + typ + "/" + id(typ)},
			{"delete", "DELETE", "/fhir/" + typ + "/" + id(typ)},
			{"history-instance", "GET", "/fhir/" + typ + "/" + id(typ) + "/_history"},
			{"history-type", "GET", "/fhir/" + typ + "/_history"},
			{"create", "POST", "/fhir/" + typ},
			{"search-type", "GET", "/fhir/" + typ},
		} {
			if advertised[typ+" "+x.interaction] {
				continue
			}
			var b []byte
			if x.method == "PUT" || x.method == "PATCH" || x.method == "POST" {
				b = body
			}
			r := e.do(x.method, x.path, f.token, b)
			if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s (%s not advertised): %d, want 404 or 405", x.method, x.path, x.interaction, r.status)
			}
		}
	}
	// System-level interactions and other operations: none.
	for _, x := range []struct{ method, path string }{
		{"GET", "/fhir"}, {"POST", "/fhir"}, {"GET", "/fhir/_history"}, {"GET", "/fhir/?_type=Observation"},
		{"POST", "/fhir/$validate"}, {"GET", "/fhir/Patient/" + f.pid + "/$everything"}, {"POST", "/fhir/Observation/$lastn"},
	} {
		if r := e.do(x.method, x.path, f.token, nil); r.status != 404 && r.status != 405 {
			t.Errorf("%s %s: %d, want 404 or 405", x.method, x.path, r.status)
		}
	}
	// Search parameters that R4 defines but this server does not
	// advertise are refused (strict handling).
	for _, typ := range []string{"Patient", "Observation", "DiagnosticReport"} {
		for _, p := range []string{"_id", "_lastUpdated", "subject", "category", "status", "value-quantity", "name", "birthdate", "_include", "_summary", "_elements"} {
			if advertised[typ+" ?"+p] {
				continue
			}
			q := "patient=Patient/" + f.pid
			if typ == "Patient" {
				q = "identifier=" + url.QueryEscape(searchValues["identifier"])
			}
			if r := e.get("/fhir/"+typ+"?"+q+"&"+p+"=x", f.token); r.status != 400 {
				t.Errorf("%s?%s (not advertised): %d, want 400", typ, p, r.status)
			}
		}
	}
}
