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
// else Italian. The test language locale.Pseudo is accepted only after
// locale.EnablePseudo (tests).
func Lang(c *echo.Context) locale.Lang {
	known := func(s string) bool {
		return s == "it" || s == "en" || s == string(locale.Pseudo) && locale.PseudoEnabled()
	}
	if q := c.QueryParam("lang"); known(q) {
		c.SetCookie(&http.Cookie{Name: LangCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			SameSite: http.SameSiteLaxMode, HttpOnly: true})
		return locale.Lang(q)
	}
	if ck, err := c.Cookie(LangCookie); err == nil && known(ck.Value) {
		return locale.Lang(ck.Value)
	}
	return locale.Parse(c.Request().Header.Get("Accept-Language"))
}
