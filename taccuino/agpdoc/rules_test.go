package agpdoc

import (
	"strings"
	"testing"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/taccuino/locale"
)

func TestDiscordant(t *testing.T) {
	for _, tc := range []struct {
		hba1c, gmi float64
		want       bool
	}{
		{7.0, 6.5, true}, {6.5, 7.0, true}, {7.0, 6.51, false}, {7.9, 7.3, true}, {7.2, 7.2, false}, {6.0, 7.2, true},
	} {
		if got := Discordant(tc.hba1c, tc.gmi); got != tc.want {
			t.Errorf("Discordant(%v, %v) = %v, want %v", tc.hba1c, tc.gmi, got, tc.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	for in, want := range map[string]Targets{"": TargetsStandard, "standard": TargetsStandard, "older": TargetsOlder} {
		if got, err := ParseTargets(in); err != nil || got != want {
			t.Errorf("ParseTargets(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseTargets("pregnancy"); err == nil {
		t.Error("ParseTargets(pregnancy) succeeded")
	}
}

// TestNoFlagOnInsufficientData: the comparison with the previous period
// and the HbA1c discordance are clinical flags, shown only when the data
// suffice (issue 14; Battelino et al. 2019: at least 70 % of the readings).
func TestNoFlagOnInsufficientData(t *testing.T) {
	t.Parallel()
	full := fixtureInput(t, locale.IT, TargetsStandard)
	p, err := Build(full)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Compare) == 0 || len(p.HbA1c) != 1 || p.HbA1c[0].Note == "" {
		t.Fatalf("with sufficient data: compare %d rows, labs %+v; want both", len(p.Compare), p.HbA1c)
	}

	// The previous period with only 40 % of its readings: no change.
	sparse := fixtureInput(t, locale.IT, TargetsStandard)
	prev := *sparse.Previous
	prev.ActivePercent = 40
	sparse.Previous = &prev
	if p, err = Build(sparse); err != nil {
		t.Fatal(err)
	}
	if len(p.Compare) != 0 || !strings.Contains(p.CompareNote, "Dati insufficienti") || !strings.Contains(p.CompareNote, "40 %") {
		t.Errorf("previous period at 40 %%: compare %+v, note %q; want no rows and the insufficiency said", p.Compare, p.CompareNote)
	}
	// The current period below 70 %: no change and no discordance flag,
	// however far the HbA1c is from the GMI.
	thin := fixtureInput(t, locale.IT, TargetsStandard)
	thin.Report.ActivePercent, thin.Report.Sufficient = 50, false
	thin.HbA1c[0].Percent = thin.Report.GMI.Percent + 2
	if p, err = Build(thin); err != nil {
		t.Fatal(err)
	}
	if len(p.Compare) != 0 || len(p.HbA1c) != 1 || p.HbA1c[0].Discordant || p.HbA1c[0].Note != "dati insufficienti" {
		t.Errorf("current period at 50 %%: compare %+v, labs %+v; want no change and no discordance", p.Compare, p.HbA1c)
	}
}

// TestOneReading: a period holding a single reading (no sampling interval,
// so no AGP profile) renders as too little data instead of failing (a
// record with a few readings now and one two days earlier answered 500).
func TestOneReading(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation(fixtureZone)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 3, 20, 0, 0, 0, 0, loc)
	cur := agp.LocalDays(first, first.AddDate(0, 0, 13), loc)
	rs := cgm.NewSeries([]cgm.Reading{{Time: first.Add(10 * time.Hour), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic}})
	r, err := agp.Compute(rs, agp.Options{Patient: "one", Location: loc, Period: &cur, AGP: true, Daily: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Readings != 1 || r.AGP != nil {
		t.Fatalf("the engine's report of one reading: %d readings, AGP %v", r.Readings, r.AGP != nil)
	}
	in := Input{Report: r, Readings: rs, Location: loc, Lang: locale.IT, Targets: TargetsStandard, Generated: first.AddDate(0, 0, 15)}
	if _, err := RenderHTML(in, HTMLOptions{}); err != nil {
		t.Errorf("RenderHTML of one reading: %v", err)
	}
	if _, err := RenderPDF(in); err != nil {
		t.Errorf("RenderPDF of one reading: %v", err)
	}
}
