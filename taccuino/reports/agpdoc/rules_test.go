package agpdoc

import "testing"

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
