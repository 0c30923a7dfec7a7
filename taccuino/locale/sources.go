package locale

import "strings"

// sourceLabels name the sources of glucose readings (cgmstore.Source's
// names) and the line that says which of them a page's or a report's
// figures were computed from.
var sourceLabels = map[string]map[Lang]string{
	"src_librelinkup": {IT: "LibreLinkUp", EN: "LibreLinkUp"},
	"src_libreview":   {IT: "file LibreView", EN: "LibreView file"},
	"src_longcsv":     {IT: "file CSV", EN: "CSV file"},
	"src_fhir":        {IT: "FHIR", EN: "FHIR"},
	"src_simulator":   {IT: "simulatore", EN: "simulator"},
	"src_dexcom":      {IT: "Dexcom", EN: "Dexcom"},
	"src_medtronic":   {IT: "Medtronic CareLink", EN: "Medtronic CareLink"},
	"src_nightscout":  {IT: "Nightscout", EN: "Nightscout"},
	"src_line":        {IT: "Glicemie da: %s.", EN: "Glucose from: %s."},
	"src_line_other":  {IT: "Glicemie da: %s. Escluse %s letture di un secondo sensore indossato nello stesso periodo.", EN: "Glucose from: %s. Left out: %s readings of a second sensor worn at the same time."},
}

func init() {
	for k, v := range sourceLabels {
		pageLabels[k] = v
	}
}

// SourcesLine says which sources a figure's readings came from (names as
// cgmstore.Source.String gives them, e.g. "librelinkup") and how many
// readings of another series were left out; "" without sources.
func (l Lang) SourcesLine(names []string, otherSeries int) string {
	if len(names) == 0 {
		return ""
	}
	shown := make([]string, len(names))
	for i, n := range names {
		shown[i] = n
		if _, ok := sourceLabels["src_"+n]; ok {
			shown[i] = l.T("src_" + n)
		}
	}
	list := strings.Join(shown, ", ")
	if otherSeries > 0 {
		return l.F("src_line_other", list, l.Number(float64(otherSeries), 0))
	}
	return l.F("src_line", list)
}
