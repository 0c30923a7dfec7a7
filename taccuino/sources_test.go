package taccuino

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
)

// TestFiguresNameTheirSources wears two sensors at once: LibreLinkUp's
// every 15 minutes at 120 mg/dL, and a second sensor uploaded through
// Nightscout 7 minutes later each time at 200 mg/dL (not twins: two
// series). LibreLinkUp, there first, becomes the primary source: the
// glucometrics API, the patient's page and the AGP report compute from its
// readings only, name it, and count the second sensor's readings they left
// out.
func TestFiguresNameTheirSources(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cf := cfFor("Sara", "Fonti", 43)
	p := e.newPatient(cf, "Sara", "Fonti", time.Time{})
	tok := e.token(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf})
	loc, err := p.Location()
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(loc)
	day := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -3)
	const n = 96 // one local day of 15-minute readings
	var llu, ns []cgm.Reading
	for i := range n {
		at := day.Add(time.Duration(i) * 15 * time.Minute)
		llu = append(llu, cgm.Reading{Time: at, Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic})
		ns = append(ns, cgm.Reading{Time: at.Add(7 * time.Minute), Value: 200, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	ctx := context.Background()
	for _, b := range []cgmstore.Batch{{Patient: p.ID, Source: cgmstore.SourceLibreLinkUp, Readings: llu},
		{Patient: p.ID, Source: cgmstore.SourceNightscout, Readings: ns}} {
		if _, err := e.store.Ingest(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	date := day.Format(time.DateOnly)
	res := e.get("/api/v1/patients/"+p.PublicID+"/glucometrics?from="+date+"&to="+date, tok)
	rep := decode[agp.Report](t, res)
	if res.status != http.StatusOK || rep.Readings != n || rep.MeanGlucose == nil || rep.MeanGlucose.MgDL != 120 {
		t.Fatalf("glucometrics: %d, %d readings, mean %+v, want %d at 120 mg/dL", res.status, rep.Readings, rep.MeanGlucose, n)
	}
	if len(rep.Sources) != 1 || rep.Sources[0] != "librelinkup" || rep.OtherSeries != n {
		t.Errorf("glucometrics name sources %v and leave out %d readings, want [librelinkup] and %d", rep.Sources, rep.OtherSeries, n)
	}

	want := "Glicemie da: LibreLinkUp. Escluse 96 letture di un secondo sensore indossato nello stesso periodo."
	for _, path := range []string{
		"/taccuino/p/" + p.PublicID + "?from=" + date + "&to=" + date + "&lang=it",
		"/reports/agp/" + p.PublicID + "?from=" + date + "&to=" + date + "&lang=it",
	} {
		res := e.get(path, tok)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.status, truncate(res.body))
		}
		if body := string(res.body); !strings.Contains(body, `id="sources"`) || !strings.Contains(body, want) {
			t.Errorf("GET %s does not say %q", path, want)
		}
	}
}
