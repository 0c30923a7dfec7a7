package agpdoc

import (
	"strings"
	"testing"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/locale"
)

// TestDevicesLine: the report adds one line about the patient's own
// devices, mean daily steps and mean sleep in the period, each over the
// days that have it, only when present (issue 18, point 4).
func TestDevicesLine(t *testing.T) {
	sleep := locale.IT.Duration(431)
	for _, tc := range []struct {
		name string
		in   *vitals.Period
		want string // "" for no line
	}{
		{"none", nil, ""},
		{"no steps nor sleep", &vitals.Period{Days: 14, HeartRateDays: 14, HeartRateMean: 72}, ""},
		{"both", &vitals.Period{Days: 14, StepsDays: 13, MeanSteps: 8432.4, SleepDays: 12, MeanSleepMinutes: 431},
			"Dispositivi dell'assistito: 8432 passi al giorno in media (13 giorni), sonno medio " + sleep + " (12 notti)."},
		{"steps only", &vitals.Period{Days: 14, StepsDays: 3, MeanSteps: 10500.6},
			"Dispositivi dell'assistito: 10501 passi al giorno in media (3 giorni)."},
		{"sleep only", &vitals.Period{Days: 14, SleepDays: 12, MeanSleepMinutes: 431},
			"Dispositivi dell'assistito: sonno medio " + sleep + " (12 notti)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixtureInput(t, locale.IT, TargetsStandard)
			in.Devices = tc.in
			page, err := RenderHTML(in, HTMLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, has := pageFigures(t, page)["devices"]
			switch {
			case tc.want == "" && has:
				t.Errorf("a line without steps or sleep: %q", got)
			case tc.want != "" && got != tc.want:
				t.Errorf("line %q, want %q", got, tc.want)
			}
			if tc.want != "" && strings.Count(string(page), `data-fig="devices"`) != 1 {
				t.Error("not one line")
			}
		})
	}
	// In English too.
	in := fixtureInput(t, locale.EN, TargetsStandard)
	in.Devices = &vitals.Period{Days: 14, StepsDays: 13, MeanSteps: 8432.4, SleepDays: 12, MeanSleepMinutes: 431}
	page, err := RenderHTML(in, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageFigures(t, page)["devices"]; !strings.HasPrefix(got, "The patient's devices: 8432 steps a day on average (13 days), mean sleep ") {
		t.Errorf("English line %q", got)
	}
}
