package population

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"fsecgm/migrations/dbtest"
)

// TestLoadComuni: the sample list replaces the comuni and zones of the
// table (the others removed, a residence in a removed comune kept) and
// asks for a rebuild of the view; a second load changes nothing; a
// malformed list is rejected with its line and column and writes nothing.
func TestLoadComuni(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO residences (patient_fiscal_code, municipality, updated_at)
		VALUES ('RSSMRA80A01H501U', '100001', now()); UPDATE population_state SET dirty = false`); err != nil {
		t.Fatal(err)
	}
	before := count(t, pool, `SELECT count(*) FROM municipalities`)
	f, err := os.Open("testdata/comuni_sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := LoadComuni(ctx, pool, f)
	if err != nil {
		t.Fatal(err)
	}
	want := ComuniResult{Comuni: 10, Added: 0, Changed: 0, Removed: before - 10, Zones: 9, ZonesAdded: 0, ZonesChanged: 0, ZonesRemoved: 28 - 9}
	if res != want {
		t.Errorf("load: %+v, want %+v", res, want)
	}
	if got := count(t, pool, `SELECT count(*) FROM municipalities m JOIN health_districts d ON d.code = m.district`); got != 10 {
		t.Errorf("%d comuni in their zones, want 10", got)
	}
	if got := count(t, pool, `SELECT count(*) FROM residences WHERE municipality = '100001'`); got != 1 {
		t.Error("the residence in a comune no longer listed was removed")
	}
	if got := count(t, pool, `SELECT count(*) FROM population_state WHERE dirty`); got != 1 {
		t.Error("the view is not marked for a rebuild")
	}
	geo, err := loadGeography(ctx, pool)
	if err != nil || len(geo.Districts) != 9 || geo.DistrictASL["piana-di-lucca"] != "NO" {
		t.Errorf("geography after the load: %+v, %v", geo, err)
	}
	// A corrected zone name and a comune moved.
	fixed := "istat,comune,zona,zona_nome,asl\n100005,Prato,pratese,Zona Pratese,TC\n100003,Montemurlo,firenze,Firenze,TC\n"
	res, err = LoadComuni(ctx, pool, strings.NewReader(fixed))
	want = ComuniResult{Comuni: 2, Changed: 1, Removed: 8, Zones: 2, ZonesChanged: 1, ZonesRemoved: 7}
	if err != nil || res != want {
		t.Errorf("second load: %+v, %v; want %+v", res, err, want)
	}

	snapshot := func() string {
		var s string
		if err := pool.QueryRow(ctx, `SELECT (SELECT string_agg(istat || name || district, ',' ORDER BY istat) FROM municipalities) ||
			(SELECT string_agg(code || name || authority, ',' ORDER BY code) FROM health_districts)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	was := snapshot()
	head := "istat,comune,zona,zona_nome,asl\n"
	for _, tt := range []struct {
		name, in string
		line     int
		column   string
	}{
		{"no header", "", 1, ""},
		{"missing column", "istat,comune,zona,asl\n100005,Prato,pratese,TC\n", 1, "zona_nome"},
		{"no comune", head, 2, ""},
		{"short code", head + "10005,Prato,pratese,Pratese,TC\n", 2, "istat"},
		{"repeated code", head + "100005,Prato,pratese,Pratese,TC\n100005,Prato,pratese,Pratese,TC\n", 3, "istat"},
		{"bad zone code", head + "100005,Prato,Pratese,Pratese,TC\n", 2, "zona"},
		{"empty name", head + "100005,,pratese,Pratese,TC\n", 2, "comune"},
		{"zone of two ASLs", head + "100005,Prato,pratese,Pratese,TC\n100003,Montemurlo,pratese,Pratese,NO\n", 3, "zona"},
		{"unknown ASL", head + "100005,Prato,pratese,Pratese,TC\n100003,Montemurlo,x,X,ZZ\n", 3, "asl"},
		{"unclosed quote", head + "100005,\"Prato,pratese,Pratese,TC\n", 2, ""},
	} {
		_, err := LoadComuni(ctx, pool, strings.NewReader(tt.in))
		var ce *ComuniError
		if !errors.As(err, &ce) || ce.Line != tt.line || ce.Column != tt.column {
			t.Errorf("%s: %v, want line %d column %q", tt.name, err, tt.line, tt.column)
		}
	}
	if snapshot() != was {
		t.Error("a rejected list changed the table")
	}
}
