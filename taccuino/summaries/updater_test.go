package summaries

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

// checkRowsJSON checks that rows without decode (as ListedPage reads for
// the clinic list's API) reads the rows Rows reads, with the figures left as
// stored documents that decode to Rows' figures exactly.
func checkRowsJSON(t *testing.T, e *env, decoded []Row) {
	t.Helper()
	raw, err := rows(context.Background(), e.pool, "", []any{int32s(e.ids)}, e.clock.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(decoded) {
		t.Fatalf("without decode: %d rows, Rows: %d", len(raw), len(decoded))
	}
	for i, r := range raw {
		if r.HasSummary != decoded[i].HasSummary || (r.HasSummary && (r.CurrentJSON == nil || r.PreviousJSON == nil)) {
			t.Fatalf("patient %d: without decode: summary %v (documents %d, %d bytes), Rows %v",
				r.PatientID, r.HasSummary, len(r.CurrentJSON), len(r.PreviousJSON), decoded[i].HasSummary)
		}
		var cur, prev Figures
		if r.HasSummary {
			if err := json.Unmarshal(r.CurrentJSON, &cur); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(r.PreviousJSON, &prev); err != nil {
				t.Fatal(err)
			}
		}
		r.Current, r.Previous, r.CurrentJSON, r.PreviousJSON = cur, prev, nil, nil
		if !reflect.DeepEqual(r, decoded[i]) {
			t.Errorf("patient %d: documents decoded\n%+v\nRows\n%+v", r.PatientID, r, decoded[i])
		}
	}
}

// checkSummaries compares every stored summary of e's patients with
// agp.Compute over the readings of the same periods.
func checkSummaries(t *testing.T, e *env, u *Updater) {
	t.Helper()
	ctx := context.Background()
	rows, err := Rows(ctx, e.pool, e.ids, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(e.ids) {
		t.Fatalf("%d rows for %d patients", len(rows), len(e.ids))
	}
	checkRowsJSON(t, e, rows)
	for _, r := range rows {
		if !r.HasSummary {
			t.Errorf("patient %d: no summary", r.PatientID)
			continue
		}
		cur, prev := periods(e.clock.Now(), e.loc)
		if want := cur.Start.In(e.loc).Format(time.DateOnly); r.PeriodStart != want {
			t.Errorf("patient %d: period starts %s, want %s", r.PatientID, r.PeriodStart, want)
		}
		rs, err := e.store.Readings(ctx, r.PatientID, prev.Start, cur.End, cgm.Historic, cgm.Scan)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			p    agp.Period
			f    Figures
		}{{"current", cur, r.Current}, {"previous", prev, r.Previous}} {
			rep, err := agp.Compute(rs, agp.Options{Location: e.loc, Period: &c.p})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Readings == 0 {
				t.Fatalf("patient %d: %s period has no readings: the fixture is wrong", r.PatientID, c.name)
			}
			for _, d := range compareFigures(c.f, rep) {
				t.Errorf("patient %d, %s period: %s", r.PatientID, c.name, d)
			}
			if c.name == "current" {
				// The clinic list's GRI columns hold the current period's.
				var gri float64
				var zone int16
				if err := e.pool.QueryRow(ctx, `SELECT gri, gri_zone FROM patient_summaries WHERE patient_id = $1`, r.PatientID).Scan(&gri, &zone); err != nil {
					t.Fatal(err)
				}
				if !close(gri, rep.GRI.Value) || agp.GRIZones[zone-1] != rep.GRI.Zone {
					t.Errorf("patient %d: stored GRI %v zone %d, engine %+v", r.PatientID, gri, zone, rep.GRI)
				}
			}
		}
		cat, sev, flags := Categorize(r.Current, r.Previous)
		if cat != r.Category || sev != r.Severity || flags != r.Flags {
			t.Errorf("patient %d: stored category %v/%v/%v, Categorize %v/%v/%v", r.PatientID, r.Category, r.Severity, r.Flags, cat, sev, flags)
		}
	}
}

func TestUpdaterMatchesEngine(t *testing.T) {
	e := newEnv(t, 4)
	pub := &fakePublisher{}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: pub, Batch: 3})
	res, err := u.UpdateDirty(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 4 || res.Changed != 4 || res.Published != 4 || res.Fallbacks != 0 {
		t.Errorf("result = %+v, want 4 patients, 4 changed, 4 published, no fallback", res)
	}
	if n := e.count(t, `SELECT count(*) FROM patient_metrics_dirty`); n != 0 {
		t.Errorf("%d dirty marks left", n)
	}
	// 40 days of data up to now, 41 local days, KeepDays 90: all kept.
	if n := e.count(t, `SELECT count(*) FROM patient_days`); n != 4*41 {
		t.Errorf("%d day rows, want %d", n, 4*41)
	}
	checkSummaries(t, e, u)
	calls := pub.calls()
	if len(calls) != 4 {
		t.Fatalf("%d publications, want 4", len(calls))
	}
	for _, c := range calls {
		rows, err := Rows(context.Background(), e.pool, []int64{c.PatientID}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range compareFigures(rows[0].Current, c.Report) {
			t.Errorf("patient %d: published report differs from the summary: %s", c.PatientID, d)
		}
		if c.Report.AGP == nil || c.Report.Daily == nil || c.Patient.FiscalCode == "" || len(c.Devices) == 0 {
			t.Errorf("patient %d: publication lacks AGP, daily profiles, fiscal code or devices", c.PatientID)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM test_publications`); n != 4 {
		t.Errorf("%d publications committed, want 4", n)
	}
	// Nothing left to do.
	res, err = u.UpdateDirty(context.Background(), 100)
	if err != nil || res.Patients != 0 {
		t.Errorf("second round = %+v, %v; want nothing", res, err)
	}
}

// TestUpdaterRecomputesOnlyAffectedDays: a sync of the last hour touches
// today's row only and leaves the published period alone; a late upload of
// older readings recomputes from its day on and republishes.
func TestUpdaterRecomputesOnlyAffectedDays(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 1)
	pub := &fakePublisher{}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: pub})
	if _, err := u.UpdateDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE patient_days SET updated_at = 'epoch'`); err != nil {
		t.Fatal(err)
	}
	id := e.ids[0]
	// One sync: the last 30 minutes (the fixture stops at now).
	e.clock.Set(e.clock.Now().Add(30 * time.Minute))
	sync := simSeries(100, glucosim.Libre2, e.loc, e.clock.Now().Add(-30*time.Minute), e.clock.Now(), nil)
	if len(sync) == 0 {
		t.Fatal("no readings in the sync")
	}
	e.ingest(t, id, sync)
	res, err := u.UpdateDirty(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 1 || res.Days != 1 || res.Changed != 0 || res.Published != 0 {
		t.Errorf("sync: result %+v, want 1 patient, 1 day row, nothing changed or published", res)
	}
	today := civil(localMidnight(e.clock.Now(), e.loc))
	if n := e.count(t, `SELECT count(*) FROM patient_days WHERE updated_at <> 'epoch' AND day <> $1`, today); n != 0 {
		t.Errorf("%d rows of other days rewritten", n)
	}
	rows, _ := Rows(ctx, e.pool, e.ids, e.clock.Now())
	lastHistoric, _ := sync.Latest(cgm.Historic)
	if !rows[0].LastReading.Equal(lastHistoric.Time) {
		t.Errorf("last reading %v, want %v", rows[0].LastReading, lastHistoric.Time)
	}

	// A late upload: a day of scans 3 days ago (historic readings of that
	// day exist already; scans change the figures' scan count).
	if _, err := e.pool.Exec(ctx, `UPDATE patient_days SET updated_at = 'epoch'`); err != nil {
		t.Fatal(err)
	}
	late := time.Date(2026, 4, 2, 12, 3, 0, 0, e.loc)
	e.ingest(t, id, cgm.Series{{Time: late, Value: 123, Unit: cgm.MgDL, Kind: cgm.Scan}})
	res, err = u.UpdateDirty(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Days != 4 || res.Changed != 1 || res.Published != 1 {
		t.Errorf("late upload: result %+v, want 4 day rows (2–5 April), 1 changed, 1 published", res)
	}
	if n := e.count(t, `SELECT count(*) FROM patient_days WHERE updated_at <> 'epoch' AND day < '2026-04-02'`); n != 0 {
		t.Errorf("%d rows before the late day rewritten", n)
	}
	checkSummaries(t, e, u)
}

// TestUpdaterRollover: the next day, MarkStale marks every patient, and the
// update moves the period by one day and publishes it.
func TestUpdaterRollover(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 3)
	pub := &fakePublisher{}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: pub})
	if _, err := u.UpdateDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if n, err := u.MarkStale(ctx); err != nil || n != 0 {
		t.Fatalf("MarkStale before midnight = %d, %v; want 0", n, err)
	}
	e.clock.Set(time.Date(2026, 4, 6, 0, 0, 1, 0, e.loc))
	if n, err := u.MarkStale(ctx); err != nil || n != 3 {
		t.Fatalf("MarkStale after midnight = %d, %v; want 3", n, err)
	}
	res, err := u.UpdateDirty(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 3 || res.Changed != 3 || res.Published != 3 {
		t.Errorf("rollover: %+v, want 3 patients changed and published", res)
	}
	checkSummaries(t, e, u)
	if got := len(pub.calls()); got != 6 {
		t.Errorf("%d publications, want 6", got)
	}
}

// TestRefreshOnRead: a list read after midnight re-derives the ended
// periods from the day rows at once, and the updater publishes them.
func TestRefreshOnRead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	pub := &fakePublisher{}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: pub})
	if _, err := u.UpdateDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Date(2026, 4, 6, 8, 0, 0, 0, e.loc))
	n, err := u.Refresh(ctx, e.ids)
	if err != nil || n != 2 {
		t.Fatalf("Refresh = %d, %v; want 2", n, err)
	}
	checkSummaries(t, e, u)
	if n, err := u.Refresh(ctx, e.ids); err != nil || n != 0 {
		t.Errorf("second Refresh = %d, %v; want 0", n, err)
	}
	if got, err := u.PublishPending(ctx, 10); err != nil || got != 2 {
		t.Errorf("PublishPending = %d, %v; want 2", got, err)
	}
}

// TestUpdaterReplicas: two updaters consuming the same marks at once
// process each exactly once.
func TestUpdaterReplicas(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 12)
	var wg sync.WaitGroup
	results := make([]Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Batch: 2})
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = u.UpdateDirty(ctx, 100)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := results[0].Patients + results[1].Patients; got != 12 {
		t.Errorf("marks consumed %d + %d, want 12 in all", results[0].Patients, results[1].Patients)
	}
	if n := e.count(t, `SELECT count(*) FROM patient_metrics_dirty`); n != 0 {
		t.Errorf("%d marks left", n)
	}
	checkSummaries(t, e, NewUpdater(e.pool, e.store, Options{Now: e.clock.Now}))
}

// TestPublicationFailureIsRetried: a failing record leaves the summary
// stored but unpublished, and it is published once the record works.
func TestPublicationFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 1)
	pub := &fakePublisher{fail: errors.New("record down")}
	u := NewUpdater(e.pool, e.store, Options{Now: e.clock.Now, Publisher: pub, PublishRetry: time.Millisecond})
	res, err := u.UpdateDirty(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 || res.Published != 0 {
		t.Errorf("result %+v, want 1 changed, 0 published", res)
	}
	if n := e.count(t, `SELECT count(*) FROM patient_summaries WHERE published_key IS NULL AND publish_after IS NOT NULL`); n != 1 {
		t.Errorf("%d summaries waiting for a retry, want 1", n)
	}
	pub.mu.Lock()
	pub.fail = nil
	pub.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if n, err := u.PublishPending(ctx, 10); err != nil || n != 1 {
		t.Errorf("PublishPending = %d, %v; want 1", n, err)
	}
	if n, err := u.PublishPending(ctx, 10); err != nil || n != 0 {
		t.Errorf("second PublishPending = %d, %v; want 0", n, err)
	}
}
