package reports

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/web"
)

// postClinical posts form to the clinical record of id as token, with a
// CSRF token in the cookie and the form (no session cookie: the bearer
// token authenticates); it returns the status and the page.
func (e *env) postClinical(t *testing.T, id, token string, form url.Values) (int, string) {
	t.Helper()
	csrf := web.NewCSRFToken("")
	form.Set(web.CSRFField, csrf)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/reports/agp/"+id+"/clinical?lang=it", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", web.CSRFCookie+"="+csrf)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestClinicalInfo checks the clinician's record of the AGP report
// (diabetes type, therapy, note): the patient's diabetologist writes it and
// it shows on the report page, in its JSON and in the PDF; what is wrong
// is said next to the field with what was sent kept; the patient and a
// clinician without a care relationship are refused, and every write and
// refusal is in the patient's access log.
func TestClinicalInfo(t *testing.T) {
	e := newEnv(t)
	doc := e.doctor(t)
	anna := e.byName("Bianchi")
	form := url.Values{"diabetes_type": {"type1"}, "therapy": {"aid"}, "note": {"Ipoglicemie notturne: ridotta la basale."}}
	status, page := e.postClinical(t, anna.PublicID, doc, form)
	if status != http.StatusOK || !strings.Contains(page, `id="clinical-saved"`) {
		t.Fatalf("the diabetologist's record: %d", status)
	}
	for _, want := range []string{"diabete di tipo 1", "sistema automatizzato di infusione (AID)", "Ipoglicemie notturne: ridotta la basale."} {
		if !strings.Contains(page, want) {
			t.Errorf("the report does not show %q", want)
		}
	}
	var rj ReportJSON
	e.getJSON(t, "/api/v1/reports/agp/"+anna.PublicID, doc, &rj)
	if rj.Clinical == nil || rj.Clinical.DiabetesType != "type1" || rj.Clinical.Therapy != "aid" {
		t.Errorf("the JSON report's clinical record: %+v", rj.Clinical)
	}
	if pdftotext, err := exec.LookPath("pdftotext"); err == nil {
		_, pdf := e.do(t, http.MethodGet, "/api/v1/reports/agp/"+anna.PublicID+".pdf", doc, nil)
		path := filepath.Join(t.TempDir(), "r.pdf")
		if err := os.WriteFile(path, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, path, "-").Output()
		if err != nil || !strings.Contains(string(out), "diabete di tipo 1") || !strings.Contains(string(out), "ridotta la basale") {
			t.Errorf("the PDF does not show the clinical record (%v)", err)
		}
	} else {
		t.Log("pdftotext not installed: the PDF's text is not checked")
	}
	// What is wrong, next to the field, with what was sent kept.
	status, page = e.postClinical(t, anna.PublicID, doc, url.Values{"diabetes_type": {"type9"}, "therapy": {"aid"},
		"note": {strings.Repeat("a", 501)}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, `id="diabetes-type-error"`) ||
		!strings.Contains(page, "Scegli una delle voci") || !strings.Contains(page, "al massimo 500 caratteri") ||
		!strings.Contains(page, `<option value="aid" selected>`) {
		t.Errorf("invalid record: %d", status)
	}
	// The stored record is unchanged.
	e.getJSON(t, "/api/v1/reports/agp/"+anna.PublicID, doc, &rj)
	if rj.Clinical == nil || rj.Clinical.Note != "Ipoglicemie notturne: ridotta la basale." {
		t.Errorf("an invalid form changed the record: %+v", rj.Clinical)
	}
	// The patient reads the record but may not write it; nor may a
	// clinician of another centre.
	self := e.idp.Token(t, auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: e.people[0].cf})
	stranger := e.idp.Token(t, auth.PrincipalSpec{Role: auth.RolePractitioner, FiscalCode: cfStranger,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: "ORG-OTHER"})
	for _, c := range []struct{ name, tok string }{{"the patient", self}, {"another centre", stranger}} {
		if status, _ := e.postClinical(t, anna.PublicID, c.tok, url.Values{"note": {"x"}}); status != http.StatusForbidden {
			t.Errorf("%s writes the record: %d", c.name, status)
		}
	}
	_, own := e.do(t, http.MethodGet, "/reports/agp/"+anna.PublicID+"?lang=it", self, nil)
	if !strings.Contains(string(own), "diabete di tipo 1") || strings.Contains(string(own), `id="clinical-form"`) {
		t.Error("the patient's report: the record is not shown, or the form is offered")
	}
	rows, err := e.pool.Query(context.Background(), `SELECT outcome || ' ' || reason FROM access_log
		WHERE patient_id = $1 AND action = 'clinical-info.write' ORDER BY id`, anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		log = append(log, s)
	}
	want := []string{"allowed allowed", "error invalid-request", "denied not-permitted", "denied no-care-relationship"}
	if strings.Join(log, ",") != strings.Join(want, ",") {
		t.Errorf("the access log of the record: %v, want %v", log, want)
	}
}
