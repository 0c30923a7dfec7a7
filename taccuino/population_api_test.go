package taccuino

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/population"
	"fsecgm/taccuino/summaries"
)

// TestPopulationAPI: the population view's tables, trends and funnel
// answer the regional analyst, an ASL's analyst within the ASL and the
// region, a centre's head within the centre and the region, as JSON and
// CSV; everyone else is refused (401 without a token, 403 otherwise), and
// every query is in the population view's log.
func TestPopulationAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	analyst := func(scope string) string {
		return e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: testCF(120), PopulationScope: scope, Name: "Analista"})
	}
	region, aslNO := analyst(auth.PopulationRegion), analyst(auth.PopulationASLPrefix+"NO")
	head := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: testCF(121), PractitionerRole: auth.PractitionerDiabetologist,
		Organization: "CENTRO-1", OrganizationRole: auth.OrganizationHead, Name: "Dott. Capo"})
	doctor := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: testCF(122), PractitionerRole: auth.PractitionerDiabetologist,
		Organization: "CENTRO-1", Name: "Dott. Test"})
	citizen := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: testCF(123), Name: "Test"})

	// No release yet.
	if res := e.request("GET", "/api/v1/population/tables", region, "", nil, nil); res.status != http.StatusNotFound {
		t.Errorf("before any refresh: %d %s", res.status, truncate(res.body))
	}
	seedPopulation(t, e)
	for _, c := range []struct {
		token, path string
		want        int
	}{
		{region, "/api/v1/population/tables?dim=asl", 200},
		{region, "/api/v1/population/tables?scope=asl:TC&dim=district&period=90d", 200},
		{region, "/api/v1/population/trend", 200},
		{region, "/api/v1/population/funnel?target=tir", 200},
		{aslNO, "/api/v1/population/tables?scope=asl:NO&dim=age", 200},
		{aslNO, "/api/v1/population/tables?dim=sex", 200},
		{aslNO, "/api/v1/population/tables?scope=asl:TC", 403},
		{aslNO, "/api/v1/population/funnel", 403},
		{head, "/api/v1/population/tables?dim=type", 200},
		{head, "/api/v1/population/tables?scope=centre:CENTRO-2", 403},
		{head, "/api/v1/population/tables?scope=asl:TC", 403},
		{doctor, "/api/v1/population/tables", 403},
		{citizen, "/api/v1/population/tables", 403},
		{citizen, "/api/v1/population/trend", 403},
		{"", "/api/v1/population/tables", 401},
		{region, "/api/v1/population/tables?dim=nose", 400},
		{region, "/api/v1/population/tables?period=7d", 400},
		{region, "/api/v1/population/dashboard", 200},
		{region, "/api/v1/population/dashboard?scope=centre:CENTRO-1&period=90d", 200},
		{aslNO, "/api/v1/population/dashboard", 200},
		{aslNO, "/api/v1/population/dashboard?scope=asl:TC", 403},
		{head, "/api/v1/population/dashboard?scope=centre:CENTRO-2", 403},
		{citizen, "/api/v1/population/dashboard", 403},
		{region, "/api/v1/population/dashboard?period=month", 400},
	} {
		res := e.request("GET", c.path, c.token, "", nil, nil)
		if res.status != c.want {
			t.Errorf("GET %s: %d, want %d: %s", c.path, res.status, c.want, truncate(res.body))
			continue
		}
		if c.want == 200 && strings.Contains(c.path, "/tables") {
			var rel population.Release
			if err := json.Unmarshal(res.body, &rel); err != nil || len(rel.Table.Rows) == 0 || rel.K != population.DefaultK {
				t.Errorf("GET %s: %v %s", c.path, err, truncate(res.body))
			}
		}
	}
	// The dashboard: every table of the scope, its trend, and the funnel
	// for whoever may compare the centres (named for the regional analyst
	// only), each view one line of the log.
	dashboard := func(tok, path string) population.Dashboard {
		t.Helper()
		var d population.Dashboard
		res := e.request("GET", path, tok, "", nil, nil)
		if err := json.Unmarshal(res.body, &d); res.status != 200 || err != nil {
			t.Fatalf("GET %s: %d %v %s", path, res.status, err, truncate(res.body))
		}
		return d
	}
	d := dashboard(region, "/api/v1/population/dashboard")
	tables, _ := population.NewReader(e.pool, nil).Table(ctx, population.Viewer{Role: "analyst", PopulationScope: "region"},
		population.Query{Scope: population.ScopeRegion, Dim: population.DimASL, Kind: population.Days14})
	asl, _ := d.Table(population.DimASL)
	if len(d.Tables) != len(population.Dims()) || d.K != population.DefaultK || len(d.Trend) != 2 || d.Funnel == nil ||
		!reflect.DeepEqual(asl.Rows, tables.Table.Rows) {
		t.Errorf("regional dashboard: %d tables, k %d, %d trend points, funnel %v; by ASL %+v, the table's %+v",
			len(d.Tables), d.K, len(d.Trend), d.Funnel, asl.Rows, tables.Table.Rows)
	}
	named := 0
	for _, p := range d.Funnel.Points {
		if p.Centre != "" {
			named++
		}
	}
	if named != len(d.Funnel.Points) || len(d.Funnel.Points)+d.Funnel.Suppressed != 2 {
		t.Errorf("regional analyst's funnel: %d of %d centres named, %d suppressed; want 2 centres", named, len(d.Funnel.Points), d.Funnel.Suppressed)
	}
	if d := dashboard(aslNO, "/api/v1/population/dashboard"); d.Funnel != nil || len(d.Tables) == 0 {
		t.Errorf("ASL analyst's dashboard: funnel %v, %d tables", d.Funnel, len(d.Tables))
	}
	d = dashboard(head, "/api/v1/population/dashboard?scope=centre:CENTRO-1")
	if d.Funnel == nil {
		t.Fatal("head's dashboard: no funnel")
	}
	for _, p := range d.Funnel.Points {
		if p.Centre != "" && p.Centre != "CENTRO-1" {
			t.Errorf("head's funnel names centre %q", p.Centre)
		}
	}
	res := e.request("GET", "/api/v1/population/tables?dim=asl&format=csv", region, "", nil, nil)
	recs, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
	if res.status != 200 || err != nil || len(recs) != 5 || recs[0][6] != "key" || recs[1][6] != "NO" {
		t.Errorf("CSV: %d %v %q", res.status, err, truncate(res.body))
	}
	audit, err := population.NewReader(e.pool, nil).Audit(ctx, e.srv.deps.Clock().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Every query that reached the reader (not the 400s and the 401).
	if len(audit) != 26 {
		t.Errorf("%d queries logged, want 26", len(audit))
	}
	views := 0
	for _, a := range audit {
		if strings.HasPrefix(a.What, "dashboard ") {
			views++
		}
	}
	if views != 9 {
		t.Errorf("%d dashboard views logged, want 9 (one line each)", views)
	}
}

// seedPopulation gives e thirty patients enrolled four months ago, shared
// by two centres, and builds the population view's releases.
func seedPopulation(t *testing.T, e *testEnv) {
	t.Helper()
	ctx := context.Background()
	for i := range 30 {
		if _, _, err := e.store.EnsurePatient(ctx, testCF(200+i), "Europe/Rome"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(ctx, `UPDATE patients SET created_at = now() - interval '120 days'`); err != nil {
		t.Fatal(err)
	}
	var cared int
	if err := e.pool.QueryRow(ctx, `WITH c AS (INSERT INTO care_relationships (patient_fiscal_code, kind, party, updated_at)
		SELECT fiscal_code, 'diabetology', CASE WHEN id % 2 = 0 THEN 'CENTRO-1' ELSE 'CENTRO-2' END, now() FROM patients
		ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM c`).Scan(&cared); err != nil || cared < 2 {
		t.Fatalf("care relationships: %d, %v", cared, err)
	}
	if _, err := population.NewRefresher(e.pool, e.store, population.Options{Months: 2}).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPopulationMeasures reads the population view as FHIR: the
// indicators as Measures, and the latest published figures as summary
// MeasureReports whose counts are the dashboard's, a suppressed count
// absent and masked; the same roles as the dashboard.
func TestPopulationMeasures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedPopulation(t, e)
	// Three of them wore a sensor the whole 14 days: counts under k, to
	// be suppressed.
	ctx := context.Background()
	loc, _ := time.LoadLocation("Europe/Rome")
	now := time.Now().In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	for i := range 3 {
		p, _, err := e.store.EnsurePatient(ctx, testCF(200+i), "Europe/Rome")
		if err != nil {
			t.Fatal(err)
		}
		e.ingest(p, midnight, 14*96, []float64{110, 150, 190, 95})
	}
	if _, err := summaries.NewUpdater(e.pool, e.store, summaries.Options{}).UpdateDirty(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := population.NewRefresher(e.pool, e.store, population.Options{Months: 2}).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	region := e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: testCF(130), PopulationScope: auth.PopulationRegion, Name: "Analista"})
	aslNO := e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: testCF(131), PopulationScope: auth.PopulationASLPrefix + "NO", Name: "Analista"})
	citizen := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: testCF(132), Name: "Test"})
	type bundle struct {
		Total int `json:"total"`
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	get := func(tok, path string, want int) bundle {
		t.Helper()
		res := e.request("GET", path, tok, "", nil, nil)
		if res.status != want {
			t.Fatalf("GET %s: %d, want %d: %s", path, res.status, want, truncate(res.body))
		}
		var b bundle
		if want == 200 {
			if err := json.Unmarshal(res.body, &b); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return b
	}
	indicators := len(population.Targets) + len(population.GRIZones)
	if b := get(region, "/fhir/Measure", 200); b.Total != indicators {
		t.Errorf("%d Measures, want one per target and GRI zone (%d)", b.Total, indicators)
	}
	var m fhir.Measure
	if res := e.request("GET", "/fhir/Measure/cgm-tir", region, "", nil, nil); res.status != 200 || json.Unmarshal(res.body, &m) != nil ||
		m.Group[0].Population[2].Criteria.Expression == "" || len(m.Group[0].Stratifier) != len(population.Dims())-1 {
		t.Errorf("Measure/cgm-tir: %d %s", res.status, truncate(res.body))
	}
	get(region, "/fhir/Measure/cgm-nose", 404)
	get(region, "/fhir/MeasureReport?period=month", 400)
	get(citizen, "/fhir/MeasureReport", 403)
	get(aslNO, "/fhir/MeasureReport?scope=asl:TC", 403)
	if b := get(region, "/fhir/MeasureReport?measure=cgm-tir", 200); b.Total != 1 {
		t.Errorf("measure=cgm-tir: %d reports", b.Total)
	}

	d, err := population.NewReader(e.pool, nil).Dashboard(ctx,
		population.Viewer{Role: "analyst", PopulationScope: "region"}, population.ScopeRegion, population.Days14)
	if err != nil {
		t.Fatal(err)
	}
	b := get(region, "/fhir/MeasureReport?scope=region&period=14d", 200)
	if b.Total != indicators {
		t.Fatalf("%d MeasureReports, want %d", b.Total, indicators)
	}
	// same says whether a report's count is the dashboard's: equal, or
	// both suppressed (absent and masked).
	same := func(got fhir.ReportPopulation, want *int) bool {
		if want == nil {
			return got.Count == nil && got.CountMeta != nil && got.CountMeta.Extension[0].ValueCode == "masked"
		}
		return got.Count != nil && *got.Count == *want
	}
	masked := 0
	for i, en := range b.Entry {
		var r fhir.MeasureReport
		if err := json.Unmarshal(en.Resource, &r); err != nil {
			t.Fatal(err)
		}
		code := r.Measure[strings.LastIndex(r.Measure, "/Measure/cgm-")+len("/Measure/cgm-"):]
		numerator := func(row population.Row) *int { return row.Targets[code].Patients }
		if zone, ok := strings.CutPrefix(code, "gri-"); ok {
			numerator = func(row population.Row) *int { return row.GRIZones[strings.ToUpper(zone)].Patients }
		}
		if r.Period.Start != d.First || r.Period.End != d.Last {
			t.Errorf("report %d: measure %s, period %+v", i, r.Measure, r.Period)
		}
		for _, tb := range d.Tables {
			var strata [][]fhir.ReportPopulation
			if tb.Dim == population.DimTotal {
				strata = [][]fhir.ReportPopulation{r.Group[0].Population}
			} else {
				for _, s := range r.Group[0].Stratifier {
					if s.Code[0].Text == string(tb.Dim) {
						for _, st := range s.Stratum {
							strata = append(strata, st.Population)
						}
					}
				}
			}
			if len(strata) != len(tb.Rows) {
				t.Errorf("%s by %s: %d strata, %d rows", code, tb.Dim, len(strata), len(tb.Rows))
				continue
			}
			for j, row := range tb.Rows {
				pop := strata[j]
				if !same(pop[0], row.Enrolled) || !same(pop[1], row.Sufficient) || !same(pop[2], numerator(row)) {
					t.Errorf("%s by %s, %q: report %+v, dashboard %v %v %v", code, tb.Dim, row.Key, pop,
						row.Enrolled, row.Sufficient, numerator(row))
				}
				if numerator(row) == nil {
					masked++
				}
			}
		}
	}
	if masked == 0 {
		t.Error("no suppressed count among thirty patients: the masking went unchecked")
	}
}

// TestPopulationPage: the dashboard answers the regional analyst in
// Italian with its charts drawn on the server, the centre's head with the
// centre's figures, and refuses a citizen and a clinician.
func TestPopulationPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	region := e.token(auth.PrincipalSpec{Role: auth.RoleAnalyst, FiscalCode: testCF(120), PopulationScope: auth.PopulationRegion, Name: "Analista"})
	head := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: testCF(121), PractitionerRole: auth.PractitionerDiabetologist,
		Organization: "CENTRO-1", OrganizationRole: auth.OrganizationHead, Name: "Dott. Capo"})
	doctor := e.token(auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: testCF(122), PractitionerRole: auth.PractitionerDiabetologist,
		Organization: "CENTRO-1", Name: "Dott. Test"})
	res := e.request("GET", "/popolazione", region, "", nil, map[string]string{"Accept-Language": "it"})
	if res.status != 200 || !strings.Contains(string(res.body), "Non ci sono ancora dati pubblicati") {
		t.Errorf("before a refresh: %d %s", res.status, truncate(res.body))
	}
	if _, err := population.NewRefresher(e.pool, e.store, population.Options{Months: 1}).Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = e.request("GET", "/popolazione?dim=age", region, "", nil, map[string]string{"Accept-Language": "it"})
	body := string(res.body)
	for _, want := range []string{"Esiti della popolazione", "Pazienti collegati", "Per fascia d&#39;età", "<svg", "Confronto tra i centri", "format=csv"} {
		if res.status != 200 || !strings.Contains(body, want) {
			t.Errorf("analyst's dashboard: %d, no %q: %s", res.status, want, truncate(res.body))
		}
	}
	if res := e.request("GET", "/popolazione", head, "", nil, map[string]string{"Accept-Language": "it"}); res.status != 200 ||
		!strings.Contains(string(res.body), "Centro CENTRO-1") {
		t.Errorf("head's dashboard: %d %s", res.status, truncate(res.body))
	}
	for _, tok := range []string{doctor, e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: testCF(123), Name: "Test"})} {
		if res := e.request("GET", "/popolazione", tok, "", nil, nil); res.status != 403 {
			t.Errorf("a clinician or a citizen: %d", res.status)
		}
	}
}
