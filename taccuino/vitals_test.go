package taccuino

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/summaries"
)

// zipped returns data as an Apple Health export.zip.
func zipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("apple_health_export/export.xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestVitalsAPI: an Apple Health export.zip uploaded through the API is
// stored (again: nothing changes), its days served by GET vitals once the
// updater ran, the ranking of sources changes what counts; a glucose file
// sent there, and an export sent as glucose, are told what they are.
func TestVitalsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cf := testCF(40)
	p := e.newPatient(cf, "Vito", "Passi", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	xml, err := os.ReadFile("../connectors/applehealth/testdata/export_watch_phone.xml")
	if err != nil {
		t.Fatal(err)
	}
	ct, body := multipartCSV(t, "export.zip", zipped(t, xml), nil)
	path := "/api/v1/patients/" + p.PublicID
	res := e.request(http.MethodPost, path+"/vitals/imports", tok, ct, body, nil)
	if res.status != http.StatusOK {
		t.Fatalf("import: %d %s", res.status, truncate(res.body))
	}
	if got := decode[VitalsImportJSON](t, res); got.Format != "applehealth" || got.Inserted != 20 || got.Ignored != 2 {
		t.Errorf("import %+v", got)
	}
	res = e.request(http.MethodPost, path+"/vitals/imports", tok, "application/xml", xml, nil)
	if got := decode[VitalsImportJSON](t, res); res.status != 200 || got.Duplicate != 20 || got.Inserted != 0 {
		t.Errorf("again: %d %+v", res.status, got)
	}
	u := summaries.NewUpdater(e.pool, e.store, summaries.Options{})
	if r, err := u.UpdateVitals(ctx, 10); err != nil || r.Patients != 1 {
		t.Fatalf("updater %+v %v", r, err)
	}
	res = e.get(path+"/vitals?from=2026-03-28&to=2026-03-30", tok)
	if res.status != 200 {
		t.Fatalf("vitals: %d %s", res.status, truncate(res.body))
	}
	days := decode[[]vitals.Day](t, res)
	if len(days) != 3 || *days[1].Steps != 4300 || *days[1].SleepMinutes != 300 || days[2].Steps != nil {
		t.Fatalf("days %s", res.body)
	}

	// The phone first: its 2,000 steps whole, the watch's 3,000 only where
	// the phone did not count (08:00-08:30), plus the watch's 300 after
	// midnight.
	res = e.get(path+"/vitals/sources", tok)
	srcs := decode[[]VitalSourceJSON](t, res)
	if len(srcs) != 6 || srcs[0].Class != "watch" || srcs[1].Class != "phone" {
		t.Fatalf("sources %s", res.body)
	}
	res = e.sendJSON(http.MethodPut, path+"/vitals/sources", tok, `{"order":[`+strconv.FormatInt(srcs[1].ID, 10)+`]}`)
	if got := decode[[]VitalSourceJSON](t, res); res.status != 200 || got[0].Name != "iPhone di Mario" || got[0].Rank != 1 {
		t.Fatalf("put sources: %d %s", res.status, res.body)
	}
	if _, err := u.UpdateVitals(ctx, 10); err != nil {
		t.Fatal(err)
	}
	days = decode[[]vitals.Day](t, e.get(path+"/vitals?from=2026-03-29&to=2026-03-29", tok))
	if *days[0].Steps != 300+2000+1500 {
		t.Errorf("with the phone first: %v steps, want 3800", *days[0].Steps)
	}
	if res := e.sendJSON(http.MethodPut, path+"/vitals/sources", tok, `{"order":[999999]}`); res.status != 422 {
		t.Errorf("another's source: %d %s", res.status, res.body)
	}

	// Each kind of file where the other is expected.
	csv := []byte("id,time,gl\n1,2026-03-29 10:00:00,120\n")
	res = e.request(http.MethodPost, path+"/vitals/imports", tok, "application/octet-stream", csv, nil)
	if res.status != 422 || !strings.Contains(string(res.body), `"reason":"glucose_file"`) || !strings.Contains(string(res.body), `"detected":"long"`) {
		t.Errorf("glucose as vitals: %d %s", res.status, res.body)
	}
	ct, body = multipartCSV(t, "export.xml", xml, nil)
	res = e.request(http.MethodPost, path+"/imports", tok, ct, body, nil)
	if res.status != 422 || !strings.Contains(string(res.body), `"reason":"devices_file"`) || !strings.Contains(string(res.body), `"detected":"applehealth"`) {
		t.Errorf("vitals as glucose: %d %s", res.status, res.body)
	}
	// A malformed export: 422 naming the line, nothing stored.
	bad := bytes.Replace(xml, []byte(`value="2000"`), []byte(`value="duemila"`), 1)
	res = e.request(http.MethodPost, path+"/vitals/imports", tok, "application/xml", bad, nil)
	var eb struct{ Error struct{ Message string } }
	json.Unmarshal(res.body, &eb)
	if res.status != 422 || !strings.Contains(eb.Error.Message, ":31:") || !strings.Contains(eb.Error.Message, `value "duemila": want a number`) {
		t.Errorf("malformed: %d %s", res.status, res.body)
	}
}
