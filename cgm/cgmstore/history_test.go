package cgmstore

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
	"fsecgm/migrations"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// native skips the test unless readings are natively partitioned (on
// TimescaleDB there is no compact form: CompactHistory does nothing, which
// it checks first).
func native(t *testing.T, s *Store, pool *pgxpool.Pool) {
	t.Helper()
	st, err := migrations.Storage(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if st != migrations.StorageNative {
		res, err := s.CompactHistory(context.Background(), time.Now())
		if err != nil || res != (CompactResult{Storage: st}) {
			t.Errorf("CompactHistory on %s = %+v, %v; want nothing done", st, res, err)
		}
		t.Skipf("readings are stored as %q: TimescaleDB's compression policy compresses them", st)
	}
}

// view is what the reads of the store return for a patient: the test
// compares it across forms.
type view struct {
	Windows  map[string]cgm.Series
	Latest   map[string]cgm.Reading
	Coverage Coverage
	Devices  []Device
}

var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return l
}()

// readView reads a patient's readings through every read path: local days
// of Europe/Rome from first to last, a few windows that start and end
// inside UTC days, an empty and a reversed window, kind filters, the
// latest reading of each kind set, coverage and devices.
func readView(t *testing.T, s *Store, pid int64, first, last time.Time) view {
	t.Helper()
	ctx := context.Background()
	v := view{Windows: map[string]cgm.Series{}, Latest: map[string]cgm.Reading{}}
	read := func(name string, from, to time.Time, kinds ...cgm.Kind) {
		rs, err := s.Readings(ctx, pid, from, to, kinds...)
		if err != nil {
			t.Fatalf("Readings %s: %v", name, err)
		}
		v.Windows[name] = rs
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		p := agp.LocalDays(d, d, rome)
		read("day "+d.Format(time.DateOnly), p.Start, p.End)
	}
	all := agp.LocalDays(first, last, rome)
	read("all", all.Start, all.End)
	read("all historic", all.Start, all.End, cgm.Historic)
	read("all scans and strips", all.Start, all.End, cgm.Scan, cgm.Strip)
	mid := all.Start.Add(all.End.Sub(all.Start) / 3).Add(13*time.Minute + 7*time.Second + 500*time.Microsecond)
	read("odd bounds", mid, mid.Add(50*time.Hour+time.Microsecond))
	read("one instant", mid.Truncate(15*time.Minute), mid.Truncate(15*time.Minute).Add(time.Microsecond))
	read("empty", mid, mid)
	read("reversed", mid.Add(time.Hour), mid)
	for name, kinds := range map[string][]cgm.Kind{"any": nil, "historic": {cgm.Historic}, "scan, current": {cgm.Scan, cgm.Current}, "strip": {cgm.Strip}} {
		r, err := s.Latest(ctx, pid, kinds...)
		if err != nil && !errorsIsNotFound(err) {
			t.Fatalf("Latest %s: %v", name, err)
		}
		v.Latest[name] = r
	}
	var err error
	if v.Coverage, err = s.Coverage(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if v.Devices, err = s.Devices(ctx, pid); err != nil {
		t.Fatal(err)
	}
	return v
}

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// sensorDays returns 15-minute historic readings of two sensors (changed
// at 2026-10-24 09:00 UTC) from first to last (UTC midnights), with scans,
// an mmol/L strip and a current reading: every kind and encoding case.
func sensorDays(first, last time.Time) ([]cgm.Reading, []Device) {
	sim := glucosim.New(11, glucosim.Libre2, rome)
	change := time.Date(2026, 10, 24, 9, 0, 0, 0, time.UTC)
	var rs []cgm.Reading
	for _, p := range sim.Historic(first, last.AddDate(0, 0, 1)) {
		dev := "SENSOR-1"
		if !p.Time.Before(change) {
			dev = "SENSOR-2"
		}
		rs = append(rs, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags, Device: dev})
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		rs = append(rs,
			cgm.Reading{Time: d.Add(7*time.Hour + 3*time.Minute + 17*time.Second), Value: 154, Unit: cgm.MgDL, Kind: cgm.Scan, Trend: cgm.TrendRising},
			cgm.Reading{Time: d.Add(22*time.Hour + 59*time.Minute), Value: 40, Unit: cgm.MgDL, Kind: cgm.Scan, Flags: cgm.FlagLow, Trend: cgm.TrendFallingFast})
	}
	rs = append(rs,
		cgm.Reading{Time: first.Add(36 * time.Hour), Value: 27.8, Unit: cgm.MmolL, Kind: cgm.Strip, Flags: cgm.FlagHigh},
		cgm.Reading{Time: last.Add(20 * time.Hour), Value: 123, Unit: cgm.MgDL, Kind: cgm.Current, Trend: cgm.TrendStable})
	devs := []Device{{Serial: "SENSOR-1", Model: "FreeStyle Libre 2"}, {Serial: "SENSOR-2", Model: "FreeStyle Libre 2", ActivatedAt: change.Add(-time.Hour)}}
	return rs, devs
}

// TestCompactHistory moves the days before a cutoff of a patient whose
// readings span the DST change of 25 October 2026 in Europe/Rome, and
// reads them back through every read path with the same results; a second
// run does nothing; a patient being ingested is skipped; a run finding
// another in progress returns.
func TestCompactHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	native(t, s, pool)
	pid := newPatient(t, s, 1)
	empty := newPatient(t, s, 2)
	first, last := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	rs, devs := sensorDays(first, last)
	if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLibreLinkUp, Readings: rs, Devices: devs}); err != nil {
		t.Fatal(err)
	}
	want := readView(t, s, pid, first.AddDate(0, 0, -1), last.AddDate(0, 0, 1))
	total := count(t, pool, "SELECT count(*) FROM readings")

	// The cutoff is inside 27 October: the days up to the 26th (UTC) move.
	cutoff := time.Date(2026, 10, 27, 13, 0, 0, 0, time.UTC)
	res, err := s.CompactHistory(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	moved := count(t, pool, "SELECT count(*) FROM readings WHERE measured_at < '2026-10-27'")
	if moved != 0 {
		t.Errorf("%d plain readings left before the cutoff's day", moved)
	}
	kept := count(t, pool, "SELECT count(*) FROM readings")
	if kept == 0 || kept == total {
		t.Errorf("%d of %d readings left plain: the cutoff's day and later should be", kept, total)
	}
	// Days 20 to 26: historic and scans each day, the strip on the 21st.
	wantRes := CompactResult{Storage: migrations.StorageNative, Patients: 1, Days: 7*2 + 1, Readings: int64(total - kept)}
	if res != wantRes {
		t.Errorf("CompactHistory = %+v, want %+v", res, wantRes)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings_compact WHERE day >= '2026-10-27'"); n != 0 {
		t.Errorf("%d compact rows of the cutoff's day or later", n)
	}
	checkForms(t, pool)
	if diff := cmp.Diff(want, readView(t, s, pid, first.AddDate(0, 0, -1), last.AddDate(0, 0, 1))); diff != "" {
		t.Errorf("reads after compacting (-plain +compacted):\n%s", diff)
	}
	// The 25-hour day reads back whole: 100 quarter hours.
	if got := want.Windows["day 2026-10-25"]; len(got) < 100 {
		t.Errorf("the local day of 25 October has %d readings, want at least 100", len(got))
	}

	// Again: nothing to do.
	if res, err := s.CompactHistory(ctx, cutoff); err != nil || res != (CompactResult{Storage: migrations.StorageNative}) {
		t.Errorf("second run = %+v, %v; want nothing done", res, err)
	}

	// A patient whose batch is being ingested (its lock held) is skipped.
	later := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockPatientSQL, int32(pid)); err != nil {
			return err
		}
		res, err := s.CompactHistory(ctx, later)
		if err != nil {
			return err
		}
		if res.Skipped != 1 || res.Days != 0 {
			t.Errorf("CompactHistory while the patient's batch is written = %+v, want the patient skipped", res)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A run that finds another in progress returns at once.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(1179861831, 2)"); err != nil {
			return err
		}
		res, err := s.CompactHistory(ctx, later)
		if err != nil || res != (CompactResult{Storage: migrations.StorageNative}) {
			t.Errorf("CompactHistory while another runs = %+v, %v; want nothing done", res, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Everything: the latest readings are now compact too.
	if res, err := s.CompactHistory(ctx, later); err != nil || res.Patients != 1 || res.Readings != int64(kept) {
		t.Errorf("compacting the rest = %+v, %v; want the %d plain readings moved", res, err, kept)
	}
	if n := count(t, pool, "SELECT count(*) FROM readings"); n != 0 {
		t.Errorf("%d readings left plain", n)
	}
	checkForms(t, pool)
	if diff := cmp.Diff(want, readView(t, s, pid, first.AddDate(0, 0, -1), last.AddDate(0, 0, 1))); diff != "" {
		t.Errorf("reads after compacting everything (-plain +compacted):\n%s", diff)
	}
	if v := readView(t, s, empty, first, first); v.Coverage.Count != 0 || len(v.Windows["all"]) != 0 {
		t.Errorf("a patient without readings reads %+v", v)
	}
}

// TestWritesIntoCompactDays gives two patients the same batches, late
// uploads, revisions, duplicates and removals; one patient's readings are
// compacted before every write, so that each write lands in compact days.
// Every result and every read must be the same for both.
func TestWritesIntoCompactDays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	st, err := migrations.Storage(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	isNative := st == migrations.StorageNative // on TimescaleDB both stay plain
	plain, compacted := newPatient(t, s, 1), newPatient(t, s, 2)
	first, last := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)
	rs, devs := sensorDays(first, last)
	// A gap of two days in the first upload, filled later.
	gapFrom, gapTo := time.Date(2026, 10, 23, 5, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 5, 0, 0, 0, time.UTC)
	var initial, gap []cgm.Reading
	for _, r := range rs {
		if r.Kind == cgm.Historic && !r.Time.Before(gapFrom) && r.Time.Before(gapTo) {
			gap = append(gap, r)
		} else {
			initial = append(initial, r)
		}
	}
	revised := slices.Clone(rs[100:140])
	for i := range revised {
		revised[i].Value += float64(i%3) - 1 // a third unchanged
		revised[i].Device = ""
	}
	mmol := slices.Clone(rs[300:305])
	for i := range mmol {
		mmol[i].Value, mmol[i].Unit = math.Round(mmol[i].Value/18.016*100)/100, cgm.MmolL
	}
	spanning := append(slices.Clone(rs[len(rs)/2:len(rs)/2+50]), historic(last.AddDate(0, 0, 2), 15*time.Minute, 30, "SENSOR-2")...)
	type step struct {
		name  string
		src   Source
		batch []cgm.Reading
		devs  []Device
	}
	steps := []step{
		{"first upload", SourceLibreView, initial, devs},
		{"the same upload again", SourceLibreView, initial, nil},
		{"the gap filled late, from LibreLinkUp", SourceLibreLinkUp, gap, nil},
		{"revised values, from FHIR", SourceFHIR, revised, nil},
		{"values now in mmol/L", SourceFHIR, mmol, nil},
		{"a batch across compact and new days", SourceLibreLinkUp, spanning, nil},
		{"the revisions again", SourceFHIR, revised, nil},
	}
	// compactOne compacts every reading of the compacted patient, and
	// only theirs.
	compactOne := func() {
		t.Helper()
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if _, _, err := s.compactPatient(ctx, conn.Conn(), int32(compacted), utcDay(time.Now().Add(72*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if n := count(t, pool, "SELECT count(*) FROM readings WHERE patient_id = $1", compacted); n != 0 && isNative {
			t.Fatalf("%d readings of the compacted patient left plain", n)
		}
		checkForms(t, pool)
	}
	compare := func(what string) {
		t.Helper()
		a := readView(t, s, plain, first.AddDate(0, 0, -1), last.AddDate(0, 0, 3))
		b := readView(t, s, compacted, first.AddDate(0, 0, -1), last.AddDate(0, 0, 3))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: reads differ (-plain +compacted):\n%s", what, diff)
		}
		ra, err := s.Revisions(ctx, plain, first, last.AddDate(0, 0, 3))
		if err != nil {
			t.Fatal(err)
		}
		rb, err := s.Revisions(ctx, compacted, first, last.AddDate(0, 0, 3))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ra, rb, cmpopts.IgnoreFields(Revision{}, "RevisedAt")); diff != "" {
			t.Errorf("%s: revisions differ (-plain +compacted):\n%s", what, diff)
		}
	}
	for _, st := range steps {
		var results [2]Result
		compactOne()
		for i, pid := range []int64{plain, compacted} {
			res, err := s.Ingest(ctx, Batch{Patient: pid, Source: st.src, Readings: st.batch, Devices: st.devs})
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			res.Rejections = nil
			results[i] = res
		}
		if diff := cmp.Diff(results[0], results[1]); diff != "" {
			t.Errorf("%s: results differ (-plain +compacted):\n%s", st.name, diff)
		}
		// The write went into compact days: it expanded some.
		if n := count(t, pool, "SELECT count(*) FROM readings WHERE patient_id = $1", compacted); isNative && n == 0 {
			t.Errorf("%s: no compact day was written to", st.name)
		}
		checkForms(t, pool)
		compare(st.name)
	}

	// A write in a transaction that rolls back leaves the compact days as
	// they were.
	compactOne()
	before := snapshot(t, pool)
	compactRows := count(t, pool, "SELECT count(*) FROM readings_compact")
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := s.IngestTx(ctx, tx, Batch{Patient: compacted, Source: SourceFHIR, Readings: revised}); err != nil {
			return err
		}
		return errRollBack
	})
	if err != errRollBack {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, pool)); diff != "" || count(t, pool, "SELECT count(*) FROM readings_compact") != compactRows {
		t.Errorf("a rolled-back write into compact days changed the database (-before +after):\n%s", diff)
	}

	// Removing what LibreLinkUp delivered, over compact days.
	for _, pid := range []int64{plain, compacted} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := s.RemoveSourceReadings(ctx, tx, pid, SourceLibreLinkUp, gapFrom.Add(-24*time.Hour), last.AddDate(0, 0, 1))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checkForms(t, pool)
	compare("removing LibreLinkUp's readings")
}

var errRollBack = fmt.Errorf("roll back")

// TestEngineOnBothForms computes the glucometrics of the engine (agp) on
// readings read back from each form: iglu's five example subjects
// (5-minute Dexcom readings, UTC−05:00) over their whole period and over
// 14-day windows, and simulated Libre 2 (15-minute) and 1-minute sensors
// over local days around the DST change of 25 October 2026 in
// Europe/Rome. The reports must be identical.
func TestEngineOnBothForms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	type subject struct {
		id   int64
		name string
		loc  *time.Location
		from time.Time // first local day
		to   time.Time // last local day
	}
	var subjects []subject

	f, err := os.Open("../../testdata/iglu_example_5_subject.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	est := time.FixedZone("-05:00", -5*3600)
	bySubject := map[string][]cgm.Reading{}
	var names []string
	for _, row := range rows[1:] {
		at, err := time.Parse(time.RFC3339, row[1])
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := bySubject[row[0]]; !ok {
			names = append(names, row[0])
		}
		bySubject[row[0]] = append(bySubject[row[0]], cgm.Reading{Time: at.UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	for i, name := range names {
		rs := bySubject[name]
		pid := newPatient(t, s, 10+i)
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceLongCSV, Readings: rs}); err != nil {
			t.Fatal(err)
		}
		ser := cgm.NewSeries(rs)
		subjects = append(subjects, subject{pid, name, est, ser[0].Time.In(est), ser[len(ser)-1].Time.In(est)})
	}

	dstFrom, dstTo := time.Date(2026, 10, 18, 0, 0, 0, 0, rome), time.Date(2026, 10, 31, 0, 0, 0, 0, rome)
	sim2 := glucosim.New(21, glucosim.Libre2, rome)
	var libre2 []cgm.Reading
	for _, p := range sim2.Historic(dstFrom, dstTo.AddDate(0, 0, 1)) {
		libre2 = append(libre2, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags})
	}
	sim3 := glucosim.New(22, glucosim.Libre3, rome)
	var oneMinute []cgm.Reading
	for at := time.Date(2026, 10, 23, 0, 0, 0, 0, rome); at.Before(time.Date(2026, 10, 28, 0, 0, 0, 0, rome)); at = at.Add(time.Minute) {
		if p, ok := sim3.Current(at); ok && (len(oneMinute) == 0 || !oneMinute[len(oneMinute)-1].Time.Equal(p.Time)) {
			oneMinute = append(oneMinute, cgm.Reading{Time: p.Time, Value: float64(p.MgDL), Unit: cgm.MgDL, Kind: cgm.Historic, Flags: p.Flags})
		}
	}
	for i, set := range []struct {
		name     string
		rs       []cgm.Reading
		from, to time.Time
	}{
		{"glucosim Libre 2", libre2, dstFrom, dstTo},
		{"glucosim 1-minute", oneMinute, time.Date(2026, 10, 23, 0, 0, 0, 0, rome), time.Date(2026, 10, 27, 0, 0, 0, 0, rome)},
	} {
		pid := newPatient(t, s, 20+i)
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: SourceSimulator, Readings: set.rs}); err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, subject{pid, set.name, rome, set.from, set.to})
	}

	// The periods of each subject: all of it, 14-day windows (as the
	// clinic view reads them), and single days around DST.
	reports := func() map[string]agp.Report {
		out := map[string]agp.Report{}
		for _, sub := range subjects {
			periods := map[string]agp.Period{"all": agp.LocalDays(sub.from, sub.to, sub.loc)}
			for d := sub.from; !d.AddDate(0, 0, 13).After(sub.to); d = d.AddDate(0, 0, 7) {
				periods["14 days from "+d.Format(time.DateOnly)] = agp.LocalDays(d, d.AddDate(0, 0, 13), sub.loc)
			}
			for d := sub.from; !d.After(sub.to); d = d.AddDate(0, 0, 1) {
				if sub.loc == rome {
					periods["day "+d.Format(time.DateOnly)] = agp.LocalDays(d, d, rome)
				}
			}
			for name, p := range periods {
				rs, err := s.Readings(ctx, sub.id, p.Start, p.End)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) == 0 {
					continue
				}
				r, err := agp.Compute(rs, agp.Options{Patient: sub.name, Location: sub.loc, Period: &p, AGP: true, Daily: true})
				if err != nil {
					t.Fatalf("%s, %s: %v", sub.name, name, err)
				}
				out[sub.name+", "+name] = r
			}
		}
		return out
	}
	want := reports()
	if r := want["glucosim Libre 2, day 2026-10-25"]; len(r.Daily) != 1 || r.Daily[0].Hours != 25 || r.DaysWorn != 1 {
		t.Errorf("the report of 25 October: %d daily profiles, %v hours, %d days worn; want one of 25 hours", len(r.Daily),
			func() float64 {
				if len(r.Daily) > 0 {
					return r.Daily[0].Hours
				}
				return 0
			}(), r.DaysWorn)
	}
	settle(t, s, pool, "compact")
	got := reports()
	if len(got) < 25 {
		t.Errorf("%d reports compared, want at least 25", len(got))
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("reports from compact readings differ (-plain +compact):\n%s", diff)
	}
}
