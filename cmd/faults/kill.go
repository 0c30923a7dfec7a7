package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/connectors/longcsv"
	"fsecgm/taccuino/auth"
)

// importDays is the length of the large CSV: a year of 1-minute readings
// (525,600 rows, about 14 MB, under the 16 MB upload limit).
const importDays = 365

// scenarioKill is scenario a.
func scenarioKill(ctx context.Context, h *harness, r *report) error {
	if err := killDuringImport(ctx, h, r); err != nil {
		return err
	}
	return killDuringSync(ctx, h, r)
}

// bigCSV returns a long CSV of one subject: importDays of 1-minute
// readings ending yesterday.
func bigCSV() []byte {
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	start := end.AddDate(0, 0, -importDays)
	var b bytes.Buffer
	b.Grow(importDays * 1440 * 28)
	b.WriteString("id,time,gl\n")
	i := 0
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		v := 140 + 60*math.Sin(2*math.Pi*float64(i%1440)/1440) + float64((i*7919)%41) - 20
		fmt.Fprintf(&b, "p,%s,%d\n", t.Format(time.RFC3339), int(v))
		i++
	}
	return b.Bytes()
}

// killDuringImport kills the service while it writes a large CSV upload,
// restarts it, and checks that nothing of the upload was stored, that the
// upload sent again stores exactly the file's readings, and that a third
// upload changes nothing.
func killDuringImport(ctx context.Context, h *harness, r *report) error {
	csv := bigCSV()
	parsed, err := longcsv.Parse(bytes.NewReader(csv), "faults.csv")
	if err != nil || len(parsed.Subjects) != 1 || len(parsed.Rejected) > 0 {
		return fmt.Errorf("the generated CSV does not parse: %v", err)
	}
	want := map[int64]float64{}
	for _, rd := range parsed.Subjects[0].Readings {
		want[rd.Time.UnixMicro()] = rd.Value
	}
	cf := codicefiscale.Complete("IMPRTX80A01H501")
	p, _, err := h.store.EnsurePatient(ctx, cf, "Europe/Rome")
	if err != nil {
		return err
	}
	token, err := h.iss.Issue(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: cf}, time.Hour)
	if err != nil {
		return err
	}
	path := "/api/v1/patients/" + p.PublicID + "/imports?format=long"
	// No sync during the import: its COPY would look like the import's.
	if err := h.exec(ctx, `UPDATE sync_connections SET next_sync_at = now() + interval '1 hour'`); err != nil {
		return err
	}

	type answer struct {
		code int
		body []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		code, body, err := h.post(ctx, path, token, "text/csv", csv)
		done <- answer{code, body, err}
	}()
	// Kill -9 as soon as the service copies readings.
	caught := false
	deadline := time.Now().Add(2 * time.Minute)
	for !caught && time.Now().Before(deadline) {
		n, err := h.count(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE 'copy%'`)
		if err != nil {
			return err
		}
		if n > 0 {
			caught = true
			break
		}
		select {
		case a := <-done:
			return fmt.Errorf("the import finished (%d) before it could be killed: %.200s", a.code, a.body)
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !caught {
		return fmt.Errorf("the import never started copying")
	}
	h.svc.Kill()
	a := <-done
	r.check(a.err != nil, "a: kill -9 in the middle of the import of %d readings (%.1f MB CSV): the upload got no answer", len(want), float64(len(csv))/1e6)
	n, err := h.count(ctx, `SELECT count(*) FROM readings WHERE patient_id = $1`, p.ID)
	if err != nil {
		return err
	}
	cov, err := h.count(ctx, `SELECT count(*) FROM reading_coverage WHERE patient_id = $1`, p.ID)
	if err != nil {
		return err
	}
	r.check(n == 0 && cov == 0, "a: after the kill nothing of the import is stored (%d readings, %d coverage rows)", n, cov)

	if err := h.start(ctx); err != nil {
		return err
	}
	code, body, err := h.post(ctx, path, token, "text/csv", csv)
	if err != nil {
		return err
	}
	var res struct{ Readings, Inserted, Duplicate, Revised int }
	if code != 200 && code != 201 {
		r.check(false, "a: the upload after the restart: %d %.300s", code, body)
		return nil
	}
	if err := decode(body, &res); err != nil {
		return err
	}
	r.check(res.Inserted == len(want) && res.Duplicate == 0, "a: after the restart the upload inserts every reading (%d inserted, %d duplicate, want %d)",
		res.Inserted, res.Duplicate, len(want))
	same := func() (string, error) {
		stored, err := h.store.Readings(ctx, p.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
		if err != nil {
			return "", err
		}
		missing, extra, wrong := 0, 0, 0
		seen := map[int64]bool{}
		for _, rd := range stored {
			k := rd.Time.UnixMicro()
			v, ok := want[k]
			switch {
			case !ok || seen[k] || rd.Kind != cgm.Historic:
				extra++
			case v != rd.Value:
				wrong++
			}
			seen[k] = true
		}
		for k := range want {
			if !seen[k] {
				missing++
			}
		}
		if missing+extra+wrong > 0 {
			return fmt.Sprintf("%d stored, %d missing, %d extra or duplicated, %d with another value", len(stored), missing, extra, wrong), nil
		}
		return "", nil
	}
	diff, err := same()
	if err != nil {
		return err
	}
	r.check(diff == "", "a: the stored readings are exactly the file's %d (no loss, no duplicates)%s", len(want), suffix(diff))
	code, body, err = h.post(ctx, path, token, "text/csv", csv)
	if err != nil {
		return err
	}
	if err := decode(body, &res); code > 201 || err != nil {
		r.check(false, "a: the third upload: %d %.200s", code, body)
		return nil
	}
	diff, err = same()
	if err != nil {
		return err
	}
	r.check(res.Inserted == 0 && res.Duplicate == len(want) && diff == "",
		"a: uploading the file again changes nothing (%d inserted, %d duplicate)%s", res.Inserted, res.Duplicate, suffix(diff))
	return nil
}

// killDuringSync kills the service while syncs are in flight, restarts it,
// and checks that the leases of the dead replica expire and are taken
// over, every connection recovers, and the stored readings are exactly
// what the fake served.
func killDuringSync(ctx context.Context, h *harness, r *report) error {
	slow := librelinkuptest.Faults{Delay: 2 * time.Second, On: librelinkuptest.EndpointGraph}
	for _, p := range h.patients {
		if err := h.fake.SetFaults(p.account.Email, slow); err != nil {
			return err
		}
	}
	if err := h.due(ctx); err != nil {
		return err
	}
	var held int
	deadline := time.Now().Add(30 * time.Second)
	for held < 4 && time.Now().Before(deadline) {
		var err error
		if held, err = h.count(ctx, `SELECT count(*) FROM sync_connections WHERE lease_expires_at > now()`); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // their graph requests are in flight
	h.svc.Kill()
	killed := time.Now()
	held, err := h.count(ctx, `SELECT count(*) FROM sync_connections WHERE lease_expires_at > now()`)
	if err != nil {
		return err
	}
	r.check(held > 0, "a: kill -9 with %d syncs in flight (their leases held by the dead replica)", held)
	for _, p := range h.patients {
		if err := h.fake.SetFaults(p.account.Email, librelinkuptest.Faults{}); err != nil {
			return err
		}
	}
	if err := h.start(ctx); err != nil {
		return err
	}
	err = h.waitSynced(ctx, killed, 90*time.Second)
	r.check(err == nil, "a: after the restart every connection syncs again (the dead replica's leases expired and were taken over in %s)%s",
		time.Since(killed).Round(time.Second), suffixErr(err))
	bad, err := h.count(ctx, `SELECT count(*) FROM sync_connections WHERE state <> 'active'`)
	if err != nil {
		return err
	}
	r.check(bad == 0, "a: every connection is active after the restart (%d are not)", bad)
	diff, total, err := h.checkReadings(ctx)
	if err != nil {
		return err
	}
	r.check(diff == "", "a: the %d stored readings of %d patients are exactly what the fake served (no loss, no duplicates)%s",
		total, len(h.patients), suffix(diff))
	return nil
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func suffixErr(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
