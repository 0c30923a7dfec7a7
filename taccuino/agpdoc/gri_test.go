package agpdoc

import (
	"testing"

	"fsecgm/taccuino/locale"
)

// TestGRIPreviousNeedsSufficientData: the GRI grid shows the previous
// period's point, a comparison, only when both periods have at least 70 %
// of their readings, like the other changes (issue 14).
func TestGRIPreviousNeedsSufficientData(t *testing.T) {
	t.Parallel()
	full := fixtureInput(t, locale.IT, TargetsStandard)
	p, err := Build(full)
	if err != nil {
		t.Fatal(err)
	}
	if p.GRI == nil || p.GRI.PrevValue == "" || p.GRI.prev == nil {
		t.Fatalf("with sufficient data: GRI view %+v, want the previous period's point", p.GRI)
	}
	for _, which := range []string{"previous", "current"} {
		in := fixtureInput(t, locale.IT, TargetsStandard)
		if which == "previous" {
			prev := *in.Previous
			prev.ActivePercent = 40
			in.Previous = &prev
		} else {
			in.Report.ActivePercent = 40
		}
		if p, err = Build(in); err != nil {
			t.Fatal(err)
		}
		if p.GRI == nil || p.GRI.Value == "" || p.GRI.PrevValue != "" || p.GRI.prev != nil {
			t.Errorf("%s period at 40 %%: GRI view %+v, want this period's GRI only", which, p.GRI)
		}
	}
}
