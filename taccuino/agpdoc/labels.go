package agpdoc

import (
	"time"

	"fsecgm/taccuino/locale"
)

// t returns the text of the report's key in l: the catalogue's "agp_" key
// (package locale holds every text of the report).
func t(l locale.Lang, key string) string { return l.T("agp_" + key) }

// weekday returns the short name of a weekday in l ("lun", "Mon").
func weekday(l locale.Lang, d time.Weekday) string { return l.T("agp_wd_" + d.String()[:3]) }
