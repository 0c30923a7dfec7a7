package cgmstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"fsecgm/cgm"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestInstantsRoundTrip(t *testing.T) {
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	us := []int64{day.UnixMicro(), day.UnixMicro() + 25e6, day.Add(23*time.Hour + 59*time.Minute).UnixMicro()}
	got, err := decodeInstants(day, encodeInstants(day, us))
	if err != nil || !slices.Equal(got, us) {
		t.Fatalf("round trip = %v, %v; want %v", got, err, us)
	}
	for _, bad := range [][]byte{nil, {2, 1}, {1, 0x80}, {2, 1, 0}, {1, 1, 9}} {
		if _, err := decodeInstants(day, bad); err == nil {
			t.Errorf("decodeInstants(% x) accepted", bad)
		}
	}
	if _, err := decodeInstants(day, encodeInstants(day, []int64{day.Add(24 * time.Hour).UnixMicro()})); err == nil {
		t.Error("an instant of the next day was accepted")
	}
}

// TestTwins: readings of one sensor from two sources are one reading with
// both provenances; a second sensor worn together is a second series that
// the statistics leave out where the primary one has readings; removing a
// source keeps what another delivered too. In both storage forms.
func TestTwins(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testTwins(t, form)
		})
	}
}

func testTwins(t *testing.T, form string) {
	ctx := context.Background()
	s, pool := newStore(t)
	pid := newPatient(t, s, 1)
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	end := day.Add(24 * time.Hour)
	ingest := func(src Source, rs []cgm.Reading) Result {
		t.Helper()
		res, err := s.Ingest(ctx, Batch{Patient: pid, Source: src, Readings: rs})
		if err != nil {
			t.Fatalf("Ingest %s: %v", src, err)
		}
		settle(t, s, pool, form)
		return res
	}
	sourced := func() map[time.Time][]string {
		t.Helper()
		rs, err := s.SourcedReadings(ctx, pid, day, end)
		if err != nil {
			t.Fatal(err)
		}
		out := map[time.Time][]string{}
		for _, r := range rs {
			out[r.Time] = r.Sources.Names()
		}
		return out
	}
	times := func(rs cgm.Series) []time.Time {
		var out []time.Time
		for _, r := range rs {
			out = append(out, r.Time)
		}
		return out
	}

	llu := historic(day, 15*time.Minute, 16, "")
	if res := ingest(SourceLibreLinkUp, llu); res.Inserted != 16 {
		t.Fatalf("LibreLinkUp: %+v", res)
	}
	// xDrip+ reads the same sensor: stamped 25 s later, 1 mg/dL apart.
	xdrip := make([]cgm.Reading, len(llu))
	for i, r := range llu {
		r.Time, r.Value = r.Time.Add(25*time.Second), r.Value+1
		xdrip[i] = r
	}
	if diff := cmp.Diff(counts{Duplicate: 16}, countsOf(ingest(SourceNightscout, xdrip))); diff != "" {
		t.Errorf("twins' counts (-want +got):\n%s", diff)
	}
	// A LibreView export of the first hour: the same readings.
	if res := ingest(SourceLibreView, llu[:4]); res.Merged != 4 || res.Inserted != 0 {
		t.Errorf("LibreView copies: %+v, want 4 merged", res)
	}
	got := sourced()
	if len(got) != 16 {
		t.Fatalf("%d readings after the twins, want 16: %v", len(got), got)
	}
	for i, r := range llu {
		want := []string{"librelinkup", "nightscout"}
		if i < 4 {
			want = []string{"librelinkup", "libreview", "nightscout"}
		}
		if diff := cmp.Diff(want, got[r.Time]); diff != "" {
			t.Errorf("sources of the reading at %s (-want +got):\n%s", r.Time.Format(time.TimeOnly), diff)
		}
	}
	rs, use, err := s.Series(ctx, pid, day, end)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(times(llu), times(rs)); diff != "" {
		t.Errorf("one series: statistics' readings (-want +got):\n%s", diff)
	}
	if use.Primary != 0 || use.Other != 0 || !slices.Equal(use.Sources.Names(), []string{"librelinkup", "libreview", "nightscout"}) {
		t.Errorf("one series: %+v", use)
	}

	// A Dexcom sensor worn too: readings in between, other values, and
	// two hours more.
	dex := historic(day.Add(7*time.Minute+30*time.Second), 15*time.Minute, 24, "")
	for i := range dex {
		dex[i].Value += 40
	}
	if res := ingest(SourceDexcom, dex); res.Inserted != 24 || res.Merged != 0 {
		t.Errorf("second sensor: %+v, want 24 inserted", res)
	}
	rs, use, err = s.Series(ctx, pid, day, end)
	if err != nil {
		t.Fatal(err)
	}
	// The primary is the source already there; Dexcom's readings count
	// where LibreLinkUp's are over 15 minutes away (the last 8).
	want := append(times(llu), times(dex[16:])...)
	if diff := cmp.Diff(want, times(rs)); diff != "" {
		t.Errorf("two series: statistics' readings (-want +got):\n%s", diff)
	}
	if use.Primary != SourceLibreLinkUp || !use.Auto || use.Other != 16 ||
		!slices.Equal(use.Sources.Names(), []string{"librelinkup", "libreview", "dexcom", "nightscout"}) {
		t.Errorf("two series: %+v", use)
	}
	if plain, err := s.Readings(ctx, pid, day, end); err != nil || !slices.Equal(times(plain), want) {
		t.Errorf("Readings = %v, %v; want the primary series", times(plain), err)
	}
	if all := sourced(); len(all) != 40 {
		t.Errorf("SourcedReadings: %d, want both series' 40", len(all))
	}

	// The patient chooses Dexcom, then none.
	choose := func(src Source) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return s.SetPrimarySource(ctx, tx, pid, src) }); err != nil {
			t.Fatal(err)
		}
	}
	choose(SourceDexcom)
	if rs, err := s.Readings(ctx, pid, day, end); err != nil || !slices.Equal(times(rs), times(dex)) {
		t.Errorf("Dexcom primary: %v, %v; want Dexcom's 24", times(rs), err)
	}
	choose(0)
	if rs, err := s.Readings(ctx, pid, day, end); err != nil || len(rs) != 40 {
		t.Errorf("no primary: %d readings, %v; want 40", len(rs), err)
	}
	choose(SourceLibreLinkUp)

	// LibreLinkUp removed: its readings that others delivered stay,
	// theirs (the lowest code first: LibreView, then Nightscout).
	var removed Removed
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		removed, err = s.RemoveSourceReadings(ctx, tx, pid, SourceLibreLinkUp, day, end)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	settle(t, s, pool, form)
	if removed != (Removed{HandedOver: 16}) {
		t.Errorf("removed %+v, want 16 handed over", removed)
	}
	got = sourced()
	for i, r := range llu {
		want := []string{"nightscout"}
		if i < 4 {
			want = []string{"libreview", "nightscout"}
		}
		if diff := cmp.Diff(want, got[r.Time]); diff != "" {
			t.Errorf("after removal, sources of the reading at %s (-want +got):\n%s", r.Time.Format(time.TimeOnly), diff)
		}
	}
	if n := count(t, pool, "SELECT count(*) FROM reading_provenance WHERE source IN ($1, $2)", int16(SourceLibreLinkUp), int16(SourceLibreView)); n != 0 {
		t.Errorf("%d provenance rows of LibreLinkUp or LibreView left", n)
	}

	// Readings of one source are never twins: a second reading 30 s
	// after one of its own is a reading of its own.
	if res := ingest(SourceDexcom, []cgm.Reading{{Time: dex[0].Time.Add(30 * time.Second), Value: dex[0].Value, Unit: cgm.MgDL, Kind: cgm.Historic}}); res.Inserted != 1 {
		t.Errorf("a source's own reading 30 s after another: %+v, want inserted", res)
	}
}

// TestSameSensorApp: an app uploading every 5 minutes, one reading at a
// time as xDrip+ does, the Libre sensor whose 15-minute history
// LibreLinkUp gives is one series with it: the statistics read its
// readings between LibreLinkUp's too, and leave nothing out. A second
// sensor worn at the same time whose clock is within TwinWindow of the
// first's, but whose values differ, stays a second series. In both
// storage forms.
func TestSameSensorApp(t *testing.T) {
	t.Parallel()
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			testSameSensorApp(t, form)
		})
	}
}

func testSameSensorApp(t *testing.T, form string) {
	s, pool := newStore(t)
	for n, appFirst := range []bool{true, false} {
		testSameSensorOrder(t, s, pool, newPatient(t, s, n+1), form, appFirst)
	}
}

// testSameSensorOrder is TestSameSensorApp for one patient, the app's
// readings of each hour before LibreLinkUp's history of the hour or after
// it (LibreLinkUp's then make the primary source of the first reading of
// the app between them).
func testSameSensorOrder(t *testing.T, s *Store, pool *pgxpool.Pool, pid int64, form string, appFirst bool) {
	ctx := context.Background()
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	end := day.Add(24 * time.Hour)
	glucose := func(at time.Time) float64 { return 100 + float64(at.Sub(day)/time.Minute)/4 } // one curve
	ingest := func(src Source, rs []cgm.Reading) {
		t.Helper()
		if _, err := s.Ingest(ctx, Batch{Patient: pid, Source: src, Readings: rs}); err != nil {
			t.Fatalf("Ingest %s: %v", src, err)
		}
	}
	var llu, app []cgm.Reading
	for i := range 16 {
		at := day.Add(time.Duration(i) * 15 * time.Minute)
		llu = append(llu, cgm.Reading{Time: at, Value: glucose(at), Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	for i := range 48 {
		at := day.Add(time.Duration(i)*5*time.Minute + 25*time.Second)
		app = append(app, cgm.Reading{Time: at, Value: glucose(at.Truncate(time.Minute)), Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	// The app's readings arrive one by one, LibreLinkUp's history of
	// each hour before or after them.
	for h := range 4 {
		if !appFirst {
			ingest(SourceLibreLinkUp, llu[h*4:h*4+4])
		}
		for _, r := range app[h*12 : h*12+12] {
			ingest(SourceNightscout, []cgm.Reading{r})
		}
		if appFirst {
			ingest(SourceLibreLinkUp, llu[h*4:h*4+4])
		}
	}
	settle(t, s, pool, form)
	rs, use, err := s.Series(ctx, pid, day, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 48 || use.Other != 0 || !slices.Equal(use.Sources.Names(), []string{"librelinkup", "nightscout"}) {
		t.Errorf("app first %v: the same sensor read two ways: %d readings, %+v; want 48, none left out, both sources", appFirst, len(rs), use)
	}

	// A second sensor (Dexcom) whose clock is 20 s off LibreLinkUp's, 30
	// mg/dL higher: never a twin, a second series.
	var dex []cgm.Reading
	for _, r := range llu {
		dex = append(dex, cgm.Reading{Time: r.Time.Add(20 * time.Second), Value: r.Value + 30, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	ingest(SourceDexcom, dex)
	settle(t, s, pool, form)
	if rs, use, err = s.Series(ctx, pid, day, end); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 48 || use.Other != 16 || use.Sources.Has(SourceDexcom) {
		t.Errorf("app first %v: with a second sensor: %d readings, %+v; want the 48, Dexcom's 16 left out", appFirst, len(rs), use)
	}
}
