package cgmstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// counts is the part of a Result the count tests compare.
type counts struct{ Inserted, Duplicate, Revised, Rejected int }

func countsOf(r Result) counts { return counts{r.Inserted, r.Duplicate, r.Revised, r.Rejected} }

func TestIngestCounts(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testIngestCounts(t, form)
		})
	}
}

func testIngestCounts(t *testing.T, form string) {
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 1)
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)

	base := historic(day, 15*time.Minute, 96, "SENSOR-A")
	scans := []cgm.Reading{
		{Time: day.Add(10*time.Hour + 3*time.Minute), Value: 154, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendRising},
		// a scan at the same instant as a historic reading: another key
		{Time: day.Add(12 * time.Hour), Value: 99.5, Unit: cgm.MgDL, Kind: cgm.Scan},
		{Time: day.Add(23 * time.Hour), Value: 40, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagLow},
	}
	invalid := []cgm.Reading{
		{Time: day.Add(time.Hour), Value: 900, Unit: cgm.MgDL, Kind: cgm.Historic},    // above HI
		{Time: day.Add(2 * time.Hour), Value: 100, Unit: cgm.MgDL, Kind: cgm.Kind(9)}, // unknown kind
	}
	fresh := slices.Concat(base[:50], invalid[:1], scans, base[50:], invalid[1:])

	// The first ingestion inserts every valid reading and rejects the
	// two invalid ones, naming their positions and fields.
	res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Inserted: 99, Rejected: 2}, countsOf(res)); diff != "" {
		t.Errorf("fresh batch counts (-want +got):\n%s", diff)
	}
	var rejected []int
	var fields []string
	for _, r := range res.Rejections {
		var fe *cgm.FieldError
		if !errors.As(r.Err, &fe) {
			t.Errorf("rejection %d: error %v is not a *cgm.FieldError", r.Index, r.Err)
			continue
		}
		rejected, fields = append(rejected, r.Index), append(fields, fe.Field)
	}
	if diff := cmp.Diff([]int{50, 100}, rejected); diff != "" {
		t.Errorf("rejected indices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"value", "kind"}, fields); diff != "" {
		t.Errorf("rejected fields (-want +got):\n%s", diff)
	}
	if want := day.Add(23*time.Hour + 45*time.Minute); !res.Newest.Equal(want) {
		t.Errorf("Newest = %v, want %v", res.Newest, want)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings WHERE patient_id = $1", pid); n != 99 {
		t.Errorf("stored %d readings, want 99", n)
	}
	settle(t, s, pool, form)

	// The same batch again changes nothing.
	before := snapshot(t, pool)
	res, err = s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Duplicate: 99, Rejected: 2}, countsOf(res)); diff != "" {
		t.Errorf("repeated batch counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, pool)); diff != "" {
		t.Errorf("repeating a batch changed the database (-before +after):\n%s", diff)
	}

	// The same readings from another source, without devices and with a
	// trend where there was none, are still duplicates, and keep their
	// original source.
	other := slices.Clone(base)
	for i := range other {
		other[i].Device, other[i].Trend = "", cgm.TrendStable
	}
	res, err = s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: other})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Duplicate: 96}, countsOf(res)); diff != "" {
		t.Errorf("same values from another source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, pool)); diff != "" {
		t.Errorf("duplicates from another source changed the database (-before +after):\n%s", diff)
	}
	settle(t, s, pool, form)

	// Five changed values (one now in mmol/L, one now HI), ten new
	// readings of the next day, and the rest unchanged.
	next := historic(day.Add(24*time.Hour), 15*time.Minute, 10, "SENSOR-A")
	changed := slices.Clone(base)
	changed[3].Value += 1
	changed[17].Value = 250.5
	changed[40].Value, changed[40].Unit = 6.2, cgm.MmolL
	changed[41].Value, changed[41].Flags = 500, cgm.FlagHigh
	changed[95].Value = 41.3
	res, err = s.Ingest(ctx, Batch{Patient: pid, Source: SourceFHIR, Readings: slices.Concat(changed, next)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Inserted: 10, Duplicate: 91, Revised: 5}, countsOf(res)); diff != "" {
		t.Errorf("revising batch counts (-want +got):\n%s", diff)
	}
	settle(t, s, pool, form)
	revs, err := s.Revisions(ctx, pid, day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range revs {
		got = append(got, r.Time.Format("15:04")+" "+r.Old.Unit.String()+" "+ftoa(r.Old.Value)+" → "+r.New.Unit.String()+" "+ftoa(r.New.Value)+
			" "+r.OldSource.String()+" → "+r.NewSource.String())
		if r.RevisedAt.IsZero() {
			t.Errorf("revision at %v has no time", r.Time)
		}
	}
	want := []string{
		"00:45 mg/dL " + ftoa(base[3].Value) + " → mg/dL " + ftoa(base[3].Value+1) + " libreview → fhir",
		"04:15 mg/dL " + ftoa(base[17].Value) + " → mg/dL 250.5 libreview → fhir",
		"10:00 mg/dL " + ftoa(base[40].Value) + " → mmol/L 6.2 libreview → fhir",
		"10:15 mg/dL " + ftoa(base[41].Value) + " → mg/dL 500 libreview → fhir",
		"23:45 mg/dL " + ftoa(base[95].Value) + " → mg/dL 41.3 libreview → fhir",
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
	stored, err := s.Readings(ctx, pid, day, day.Add(24*time.Hour), cgm.Historic)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 96 || stored[40].Unit != cgm.MmolL || stored[40].Value != 6.2 || stored[41].Flags != cgm.FlagHigh {
		t.Errorf("after revision: %d readings, [40] = %+v, [41] = %+v", len(stored), stored[40], stored[41])
	}

	// Repeating the revising batch is all duplicates.
	settle(t, s, pool, form)
	before = snapshot(t, pool)
	res, err = s.Ingest(ctx, Batch{Patient: pid, Source: SourceFHIR, Readings: slices.Concat(changed, next)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Duplicate: 106}, countsOf(res)); diff != "" {
		t.Errorf("repeated revising batch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, pool)); diff != "" {
		t.Errorf("repeating the revising batch changed the database (-before +after):\n%s", diff)
	}
	settle(t, s, pool, form)

	cov, err := s.Coverage(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	wantCov := Coverage{First: day, Last: day.Add(24*time.Hour + 9*15*time.Minute), Count: 109, Kinds: []KindCoverage{
		{Kind: cgm.Historic, First: day, Last: day.Add(24*time.Hour + 9*15*time.Minute), Count: 106},
		{Kind: cgm.Scan, First: scans[0].Time, Last: scans[2].Time, Count: 3},
	}}
	if diff := cmp.Diff(wantCov, cov); diff != "" {
		t.Errorf("Coverage (-want +got):\n%s", diff)
	}
}

// ftoa formats a float the shortest way that reads back exactly.
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// TestIngestInBatchDuplicates: of readings with the same instant and kind
// in one batch, the last one wins, and the others count as duplicates.
func TestIngestInBatchDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	pid := newPatient(t, s, 2)
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	rs := []cgm.Reading{
		{Time: at.Add(15 * time.Minute), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: at, Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: at, Value: 101, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: at.Add(500 * time.Nanosecond), Value: 102, Unit: cgm.MgDL, Kind: cgm.Historic}, // same microsecond
		{Time: at, Value: 150, Unit: cgm.MgDL, Kind: cgm.Scan},
	}
	res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLongCSV, Readings: rs})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Inserted: 3, Duplicate: 2}, countsOf(res)); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	got, err := s.Readings(ctx, pid, at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := cgm.Series{
		{Time: at, Value: 102, Unit: cgm.MgDL, Kind: cgm.Historic},
		{Time: at, Value: 150, Unit: cgm.MgDL, Kind: cgm.Scan},
		{Time: at.Add(15 * time.Minute), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Readings (-want +got):\n%s", diff)
	}
}

// TestIngestFailureLeavesNothing makes batches fail after part of them is
// written (a trigger or a constraint in the real database) and checks
// that nothing of them remains.
func TestIngestFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day := time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		name  string
		setup string        // SQL that makes the batch fail
		prior []cgm.Reading // stored first (succeeds)
		batch func() []cgm.Reading
	}{
		{
			name: "fails after the copy (fast path)",
			setup: `CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE TRIGGER fail AFTER INSERT ON readings FOR EACH STATEMENT EXECUTE FUNCTION fail()`,
			batch: func() []cgm.Reading { return historic(day, 15*time.Minute, 96, "SENSOR-F") },
		},
		{
			name: "fails at commit",
			setup: `CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE CONSTRAINT TRIGGER fail AFTER INSERT ON reading_coverage DEFERRABLE INITIALLY DEFERRED
					FOR EACH ROW EXECUTE FUNCTION fail()`,
			batch: func() []cgm.Reading { return historic(day, 15*time.Minute, 96, "SENSOR-F") },
		},
		{
			name:  "fails half-way through the copy",
			setup: `ALTER TABLE readings ADD CONSTRAINT no_1234 CHECK (value <> 1234)`,
			batch: func() []cgm.Reading {
				rs := historic(day, 15*time.Minute, 96, "SENSOR-F")
				rs[60].Value = 123.4
				return rs
			},
		},
		{
			name: "fails while revising (merge path)",
			setup: `CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE TRIGGER fail BEFORE INSERT ON reading_revisions FOR EACH ROW EXECUTE FUNCTION fail()`,
			prior: historic(day, 15*time.Minute, 48, "SENSOR-E"),
			batch: func() []cgm.Reading {
				rs := historic(day, 15*time.Minute, 96, "SENSOR-F")
				rs[10].Value += 5 // a revision, next to 48 new readings
				return rs
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newStore(t)
			pid := newPatient(t, s, 3)
			if tc.prior != nil {
				if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: tc.prior}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := pool.Exec(ctx, tc.setup); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, pool)
			res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: tc.batch(),
				Devices: []Device{{Serial: "SENSOR-F", Model: "FreeStyle Libre 2", ActivatedAt: day.Add(-time.Hour)}}})
			if err == nil {
				t.Fatalf("Ingest succeeded (%+v), want the injected failure", res)
			}
			if diff := cmp.Diff(before, snapshot(t, pool)); diff != "" {
				t.Errorf("the failed batch left changes (-before +after):\n%s", diff)
			}
			if n := count(t, pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"); n != 0 {
				t.Errorf("%d sessions left idle in transaction", n)
			}
		})
	}
}

// TestIngestDST stores a day of 15-minute readings on each DST change of
// Europe/Rome in 2026 and reads the local days back: 23 and 25 hours of
// readings, every instant exactly as given.
func TestIngestDST(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testIngestDST(t, form)
		})
	}
}

func testIngestDST(t *testing.T, form string) {
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 4)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		day   time.Time // local midnight
		hours int
	}{
		{time.Date(2026, 3, 29, 0, 0, 0, 0, rome), 23},  // 02:00 CET → 03:00 CEST
		{time.Date(2026, 10, 25, 0, 0, 0, 0, rome), 25}, // 03:00 CEST → 02:00 CET
	} {
		end := time.Date(tc.day.Year(), tc.day.Month(), tc.day.Day()+1, 0, 0, 0, 0, rome)
		if got := end.Sub(tc.day); got != time.Duration(tc.hours)*time.Hour {
			t.Fatalf("%s lasts %v, want %d h", tc.day.Format("2006-01-02"), got, tc.hours)
		}
		// Readings given in local time, as a LibreView export would be
		// after parsing with the zone, every 15 minutes of real time.
		var rs []cgm.Reading
		for at := tc.day; at.Before(end); at = at.Add(15 * time.Minute) {
			rs = append(rs, cgm.Reading{Time: at, Value: 100 + float64(len(rs)%50), Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreView, Readings: rs})
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != tc.hours*4 {
			t.Errorf("%s: inserted %d, want %d", tc.day.Format("2006-01-02"), res.Inserted, tc.hours*4)
		}
		settle(t, s, pool, form)
		got, err := s.Readings(ctx, pid, tc.day, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rs) {
			t.Fatalf("%s: read %d readings, want %d", tc.day.Format("2006-01-02"), len(got), len(rs))
		}
		for i := range rs {
			if !got[i].Time.Equal(rs[i].Time) || got[i].Time.Location() != time.UTC || got[i].Value != rs[i].Value {
				t.Errorf("%s reading %d: got %v %v, want %v %v", tc.day.Format("2006-01-02"), i, got[i].Time, got[i].Value, rs[i].Time, rs[i].Value)
			}
		}
		// The repeated hour of October holds two readings per wall time.
		if tc.hours == 25 {
			twice := 0
			for _, r := range got {
				if h := r.Time.In(rome).Hour(); h == 2 {
					twice++
				}
			}
			if twice != 8 {
				t.Errorf("readings at 02:xx local time on %s: %d, want 8", tc.day.Format("2006-01-02"), twice)
			}
		}
	}
}

// TestIngestConcurrentSamePatient ingests overlapping batches of one
// patient from several goroutines: every reading is stored once, and the
// counts add up.
func TestIngestConcurrentSamePatient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 5)
	day := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	all := historic(day, 15*time.Minute, 4*96, "SENSOR-C")
	var wg sync.WaitGroup
	results := make([]Result, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// batch i covers days i and i+1 (overlapping its neighbours)
			lo, hi := i*96, min((i+2)*96, len(all))
			results[i], errs[i] = s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: all[lo:hi]})
		}()
	}
	wg.Wait()
	inserted, duplicate := 0, 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("batch %d: %v", i, errs[i])
		}
		inserted += results[i].Inserted
		duplicate += results[i].Duplicate
	}
	if inserted != len(all) || duplicate != 3*96 {
		t.Errorf("inserted %d, duplicate %d; want %d and %d", inserted, duplicate, len(all), 3*96)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings WHERE patient_id = $1", pid); n != len(all) {
		t.Errorf("stored %d readings, want %d", n, len(all))
	}
	cov, err := s.Coverage(ctx, pid)
	if err != nil || cov.Count != int64(len(all)) {
		t.Errorf("Coverage = %+v, %v; want %d readings", cov, err, len(all))
	}
}

// TestIngestTx writes within a caller's transaction: rolled back with it,
// committed with it, and a failing batch leaves the transaction usable.
func TestIngestTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 6)
	day := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	rs := historic(day, 15*time.Minute, 96, "")

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.IngestTx(ctx, tx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: rs}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings"); n != 0 {
		t.Errorf("after rollback: %d readings, want 0", n)
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := s.IngestTx(ctx, tx, Batch{Patient: 999999, Source: SourceLibreLinkUp, Readings: rs}); !errors.Is(err, ErrNotFound) {
			t.Errorf("IngestTx for a missing patient: %v, want ErrNotFound", err)
		}
		res, err := s.IngestTx(ctx, tx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: rs})
		if err != nil {
			return err
		}
		if res.Inserted != 96 {
			t.Errorf("inserted %d, want 96", res.Inserted)
		}
		// A second batch in the same transaction sees the first.
		res, err = s.IngestTx(ctx, tx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: rs[:10]})
		if err != nil {
			return err
		}
		if res.Duplicate != 10 {
			t.Errorf("second batch in the transaction: %+v, want 10 duplicates", countsOf(res))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings"); n != 96 {
		t.Errorf("after commit: %d readings, want 96", n)
	}
}

func TestIngestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	pid := newPatient(t, s, 7)
	rs := historic(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Hour, 3, "")
	for _, tc := range []struct {
		name string
		b    Batch
		want error
	}{
		{"unknown patient", Batch{Patient: pid + 1000, Source: SourceFHIR, Readings: rs}, ErrNotFound},
		{"patient id out of range", Batch{Patient: 1 << 40, Source: SourceFHIR, Readings: rs}, ErrNotFound},
		{"no source", Batch{Patient: pid, Readings: rs}, ErrInvalid},
		{"bad device", Batch{Patient: pid, Source: SourceFHIR, Readings: rs, Devices: []Device{{Serial: ""}}}, ErrInvalid},
	} {
		if _, err := s.Ingest(ctx, tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: Ingest error = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A batch of nothing but rejected readings still reports them.
	res, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceFHIR, Readings: []cgm.Reading{{Value: 100}}})
	if err != nil || res.Rejected != 1 || res.Inserted != 0 {
		t.Errorf("all-invalid batch: %+v, %v", countsOf(res), err)
	}
}
