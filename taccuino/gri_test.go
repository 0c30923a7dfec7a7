package taccuino

import (
	"html"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"
)

// TestPatientPageGRI: the patient's page shows the period's Glycemia Risk
// Index with its zone and the one-line explanation under "Variabilità", in
// Italian and in English, equal to the glucometrics the API answers.
func TestPatientPageGRI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := testCF(31)
	p := e.newPatient(cf, "Giulia", "Rischio", time.Time{})
	e.ingest(p, time.Now(), 96, []float64{50, 65, 100, 150, 200, 260})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Giulia Rischio"})
	rep := decode[agp.Report](t, e.get("/api/v1/patients/"+p.PublicID+"/glucometrics", tok))
	if rep.GRI == nil || rep.GRI.Value == 0 {
		t.Fatalf("glucometrics: GRI %+v, want a positive one", rep.GRI)
	}
	for _, l := range []locale.Lang{locale.IT, locale.EN} {
		res := e.request("GET", "/taccuino/p/"+p.PublicID+"?lang="+string(l), "", "", nil,
			map[string]string{"Cookie": web.SessionCookie + "=" + tok})
		page := html.UnescapeString(string(res.body))
		want := `id="gri">` + l.Number(rep.GRI.Value, 0) + ` <span class="muted">(` + l.T("gri_zone") + " " + rep.GRI.Zone + ")"
		i := strings.Index(page, `id="metrics"`)
		if res.status != 200 || i < 0 || !strings.Contains(page[i:], want) || !strings.Contains(page[i:], l.T("gri")) ||
			!strings.Contains(page[i:], l.T("gri_explain")) {
			t.Errorf("%s: page %d without %q and the explanation in the variability card:\n%s", l, res.status, want, truncate(res.body))
		}
	}
}
