package web

import (
	"net/http"

	"fsecgm/taccuino/locale"

	"github.com/labstack/echo/v5"
)

// LangCookie remembers the language chosen with ?lang=.
const LangCookie = "fsecgm_lang"

// Lang returns the display language of the request: ?lang=it|en (which is
// then remembered in LangCookie), else the cookie, else Accept-Language,
// else Italian.
func Lang(c *echo.Context) locale.Lang {
	if q := c.QueryParam("lang"); q == "it" || q == "en" {
		c.SetCookie(&http.Cookie{Name: LangCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			SameSite: http.SameSiteLaxMode, HttpOnly: true})
		return locale.Lang(q)
	}
	if ck, err := c.Cookie(LangCookie); err == nil && (ck.Value == "it" || ck.Value == "en") {
		return locale.Lang(ck.Value)
	}
	return locale.Parse(c.Request().Header.Get("Accept-Language"))
}
