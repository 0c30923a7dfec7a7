package librelinkup

import (
	"fmt"
	"strings"
)

// RegionPlaceholder is replaced by the region code in Config.BaseURL.
const RegionPlaceholder = "{region}"

// GlobalRegion is what RegionPlaceholder becomes for the global host (the
// region "" of a Session). The fake LibreLinkUp serves it at "/global".
const GlobalRegion = "global"

// KnownRegions returns the region codes seen in login redirects and in the
// regionalMap of /llu/config/country (timoschlueter/nightscout-librelink-up,
// src/constants/llu-api-endpoints.ts; FokkeZB/libreview-unofficial). Other
// codes of the same shape are accepted too: new regions appear (la in 2024).
func KnownRegions() []string {
	return []string{"ae", "ap", "au", "ca", "cn", "de", "eu", "eu2", "fr", "jp", "la", "ru", "us"}
}

// ValidRegion reports whether code has the shape of a region code: two
// lower-case letters followed by at most three letters or digits ("eu2").
// It guards the host name built from a redirect.
func ValidRegion(code string) bool {
	if len(code) < 2 || len(code) > 5 {
		return false
	}
	for i := range len(code) {
		c := code[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i >= 2:
		default:
			return false
		}
	}
	return true
}

// RegionHost returns the API host of a region: api.libreview.io for "",
// api.libreview.ru for ru, api-cn.myfreestyle.cn for cn, and
// api-<region>.libreview.io otherwise (timoschlueter/nightscout-librelink-up,
// commits b77fd4e for ru and 1b13082 for cn; the api-ru/api-cn.libreview.io
// hosts of MrCodeEU/nightscout-librelink-up-go are found in no other source).
func RegionHost(region string) string {
	switch region {
	case "":
		return "api.libreview.io"
	case "ru":
		return "api.libreview.ru"
	case "cn":
		return "api-cn.myfreestyle.cn"
	}
	return "api-" + region + ".libreview.io"
}

// regionURL returns the base URL of region's API, without a trailing slash:
// the BaseURL override with its {region} placeholder replaced (or as is, when
// it has none), else https:// plus RegionHost.
func regionURL(baseURL, region string) (string, error) {
	if region != "" && !ValidRegion(region) {
		return "", fmt.Errorf("invalid region code %q", region)
	}
	if baseURL == "" {
		return "https://" + RegionHost(region), nil
	}
	seg := region
	if seg == "" {
		seg = GlobalRegion
	}
	return strings.TrimRight(strings.ReplaceAll(baseURL, RegionPlaceholder, seg), "/"), nil
}
