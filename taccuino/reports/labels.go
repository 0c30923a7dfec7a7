package reports

import (
	"strings"

	"fsecgm/taccuino/locale"
)

// clinicLabels returns every text of the clinic page's rows in l, by the
// key the code uses (the catalogue's "clinic_" keys without the prefix, and
// its "gri_" keys as they are).
func clinicLabels(l locale.Lang) map[string]string {
	out := map[string]string{}
	for _, k := range locale.Keys() {
		if name, ok := strings.CutPrefix(k, "clinic_"); ok {
			out[name] = l.T(k)
		} else if strings.HasPrefix(k, "gri_") {
			out[k] = l.T(k)
		}
	}
	return out
}
