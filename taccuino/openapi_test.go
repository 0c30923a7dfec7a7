package taccuino

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"fsecgm/agp"
)

// documented reports whether a route belongs in the OpenAPI document: the
// JSON API and the health endpoints.
func documented(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") || path == "/healthz" || path == "/readyz"
}

var echoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes walks echo's registered routes and the
// document's paths and fails on any route without an operation, or
// operation without a route; it also checks that every path parameter is
// declared and every operation has responses.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.get("/api/v1/openapi.json", "")
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", res.status, res.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			inDoc[strings.ToUpper(method)+" "+path] = true
			var op struct {
				Parameters []struct {
					Ref  string `json:"$ref"`
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Errorf("%s %s: %v", method, path, err)
				continue
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(path, -1) {
				declared := slices.ContainsFunc(op.Parameters, func(p struct {
					Ref  string `json:"$ref"`
					Name string `json:"name"`
					In   string `json:"in"`
				}) bool {
					return p.Name == m[1] && p.In == "path" || m[1] == "id" && p.Ref == "#/components/parameters/PatientID"
				})
				if !declared {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
		}
	}
	routes := map[string]bool{}
	for _, r := range e.srv.Routes() {
		if !documented(r.Path) || strings.HasPrefix(r.Method, "echo_") || strings.HasSuffix(r.Path, "*") {
			continue
		}
		routes[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for k := range routes {
		if !inDoc[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range inDoc {
		if !routes[k] {
			t.Errorf("the OpenAPI document has %s, which is not a route", k)
		}
	}
	if len(routes) < 10 {
		t.Errorf("only %d routes compared", len(routes))
	}
}

// TestOpenAPIExtendedKeys: the Extended schema lists exactly the keys the
// engine writes, in the same order.
func TestOpenAPIExtendedKeys(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for m := agp.Metric(0); m < agp.NumMetrics; m++ {
		want = append(want, m.Key())
	}
	if got := doc.Components.Schemas["Extended"].Required; !slices.Equal(got, want) {
		t.Errorf("OpenAPI Extended keys %v, want %v", got, want)
	}
}
