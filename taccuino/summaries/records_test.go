package summaries

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"fsecgm/taccuino/records"
)

// TestPublishToRecords publishes through the real records store: the
// summary's DiagnosticReport (the IG's cgm-summary-pdf) holds the PDF as
// presentedForm and references the summary panel, committed with the
// summary.
func TestPublishToRecords(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 1)
	rec, err := records.New(e.pool, records.Options{Base: "https://fsecgm.example.org/fhir", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: rec, HbA1c: RecordsHbA1c(rec)})
	res, err := u.UpdateDirty(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 1 {
		t.Fatalf("result %+v, want 1 published", res)
	}
	var body []byte
	if err := e.pool.QueryRow(ctx, `SELECT body::text FROM fhir_resources WHERE patient_id = $1 AND resource_type = 'DiagnosticReport'`,
		e.ids[0]).Scan(&body); err != nil {
		t.Fatal(err)
	}
	var dr struct {
		Meta struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
		EffectivePeriod struct{ Start, End string } `json:"effectivePeriod"`
		PresentedForm   []struct {
			ContentType string `json:"contentType"`
			Data        []byte `json:"data"`
		} `json:"presentedForm"`
		Result []struct{ Reference string } `json:"result"`
	}
	if err := json.Unmarshal(body, &dr); err != nil {
		t.Fatal(err)
	}
	if len(dr.PresentedForm) != 1 || dr.PresentedForm[0].ContentType != "application/pdf" || !bytes.HasPrefix(dr.PresentedForm[0].Data, []byte("%PDF-")) {
		t.Errorf("presentedForm is not the PDF")
	}
	if dr.EffectivePeriod.Start != "2026-03-22" || dr.EffectivePeriod.End != "2026-04-04" || len(dr.Result) != 1 {
		t.Errorf("DiagnosticReport period %v, result %v", dr.EffectivePeriod, dr.Result)
	}
	if n := e.count(t, `SELECT count(*) FROM fhir_resources WHERE patient_id = $1 AND resource_type = 'Observation'`, e.ids[0]); n < 6 {
		t.Errorf("%d Observations stored with the summary, want the IG's panel and members", n)
	}
}
