package taccuino

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/web"
)

// TestImportPage uploads from the page: a French LibreView export giving a
// time twice with different values (the page lists it: both lines and
// values, the last kept), and a Clarity export of someone else (refused,
// the page names the person in the file, in Italian).
func TestImportPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := cfFor("Lia", "Carica", 33)
	p := e.newPatient(cf, "Lia", "Carica", time.Date(1990, 2, 2, 0, 0, 0, 0, time.UTC))
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf, Name: "Lia Carica"})
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.http.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: tok, Path: "/"}})
	c := &http.Client{Jar: jar}
	r, err := c.Get(e.http.URL + "/taccuino/p/" + p.PublicID + "?lang=it")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	upload := func(name string, data []byte) (int, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.WriteField(web.CSRFField, string(m[1]))
		fw, _ := w.CreateFormFile("file", name)
		fw.Write(data)
		w.Close()
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/taccuino/p/"+p.PublicID+"/imports?lang=it", &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	row := func(ts, v string) string { return "FreeStyle LibreLink,SN1," + ts + ",0," + v + ",,,,,,,,,,,,,," }
	fr := strings.Join([]string{
		"Valeur de glycémie,Créé le,03-07-2024 10:31 AM UTC,Créé par,X",
		"Appareil,Numéro de série,Horodatage de l'appareil,Type d'enregistrement,Historique de la glycémie mg/dL,Numérisation de la glycémie mg/dL,a,b,c,d,e,f,g,Remarques,Glycémie par bandelette mg/dL,h,i,j,k",
		row("10-13-2023 10:31 PM", "341"), row("10-13-2023 10:31 PM", "443"), row("10-13-2023 10:46 PM", "441"),
	}, "\n") + "\n"
	status, body := upload("fr.csv", []byte(fr))
	if status != http.StatusOK || !strings.Contains(body, "Orari con valori diversi") || !strings.Contains(body, "443 mg/dL (4)") ||
		!strings.Contains(body, "341 mg/dL (3)") || !strings.Contains(body, "Esportazione CSV di LibreView") {
		t.Errorf("upload with a conflict: %d\n%s", status, truncate([]byte(body)))
	}
	clarity, err := os.ReadFile("../connectors/clarity/testdata/g7_mmol_gap.csv") // Marco Rossi
	if err != nil {
		t.Fatal(err)
	}
	status, body = upload("clarity.csv", clarity)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Il file contiene i dati di Marco Rossi") {
		t.Errorf("another person's export: %d\n%s", status, truncate([]byte(body)))
	}
}
