package taccuino

import (
	"net/http"
	"strings"

	"fsecgm/taccuino/fhirapi"
	"fsecgm/taccuino/reports"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// Rate limits of authentication-sensitive routes (login, sensor
// credentials), per client IP. The routes that name a patient by fiscal
// code or ask about care relationships are under Deps.Lookups instead.
const (
	sensitivePerMinute = 20
	sensitiveBurst     = 10
)

// routes registers the middleware and every route of the service. It is the
// one place that says what the service serves.
func (s *Server) routes() error {
	e := s.e
	d := &s.deps
	e.Use(
		web.RequestID(),
		web.RequestLogger(d.Logger),
		web.Recover(),
		web.SecurityHeaders(web.SecurityOptions{HSTS: s.secure()}),
		s.limits(),
	)
	rate, burst := d.SensitiveRate, d.SensitiveBurst
	if rate <= 0 {
		rate = sensitivePerMinute
	}
	if burst <= 0 {
		burst = sensitiveBurst
	}
	sensitive := web.RateLimit(rate, burst)

	// Operations.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/:file", s.static)
	e.GET("/favicon.ico", s.favicon)

	// JSON API, versioned; bearer tokens from the Authorization header only.
	api := e.Group("/api/v1", web.Authenticate(web.AuthOptions{Verifier: d.Verifier, Sessions: d.Sessions}))
	api.GET("/openapi.json", s.openAPI)
	api.GET("/me", s.apiMe, web.RequireAuth())
	api.GET("/patients", s.apiFindPatient) // under d.Lookups
	api.POST("/patients", s.apiCreatePatient)
	api.POST("/care-relationships", s.apiPutCareRelationship)

	// The population view: aggregates for analysts and centres' heads.
	api.GET("/population/dashboard", s.apiPopulationDashboard, web.RequireAuth())
	api.GET("/population/tables", s.apiPopulationTable, web.RequireAuth())
	api.GET("/population/trend", s.apiPopulationTrend, web.RequireAuth())
	api.GET("/population/funnel", s.apiPopulationFunnel, web.RequireAuth())

	pt := api.Group("/patients/:" + web.PatientParam)
	pt.GET("/glucose/latest", s.apiLatest)
	pt.GET("/glucometrics", s.apiGlucometrics)
	pt.GET("/readings", s.apiReadings)
	pt.GET("/daily-profiles", s.apiDailyProfiles)
	pt.POST("/imports", s.apiImport)
	pt.GET("/export", s.export)
	pt.GET("/vitals", s.apiVitals)
	pt.GET("/vitals/sources", s.apiVitalSources)
	pt.PUT("/vitals/sources", s.apiPutVitalSources)
	pt.POST("/vitals/imports", s.apiVitalsImport)
	pt.GET("/consent/third-party", s.apiGetConsent)
	pt.PUT("/consent/third-party", s.apiPutConsent)
	pt.GET("/consent/privacy-notice", s.apiGetPrivacyNotice)
	pt.GET("/delegations", s.apiListDelegations)
	pt.POST("/delegations", s.apiGrantDelegation)
	pt.DELETE("/delegations/:delegation", s.apiRevokeDelegation)
	pt.GET("/access-log", s.apiAccessLog)
	pt.GET("/care-relationships", s.apiListCareRelationships)
	pt.GET("/connections", s.apiListConnections)
	pt.POST("/connections", s.apiConnect, sensitive)
	pt.DELETE("/connections/:connection", s.apiDisconnect)
	pt.PUT("/connections/:connection/credentials", s.apiUpdateCredentials, sensitive)
	pt.POST("/connections/:connection/sync", s.apiSyncNow)
	pt.GET("/uploaders", s.apiListUploaders)
	pt.POST("/uploaders", s.apiCreateUploader, sensitive)
	pt.DELETE("/uploaders/:uploader", s.apiRevokeUploader)
	pt.GET("/notifications", s.apiGetNotifications)
	pt.PUT("/notifications", s.apiPutNotifications, sensitive) // sends an e-mail to any address: rate limited

	// The Nightscout-compatible upload door (nsdoor.go): the uploader's
	// secret in the api-secret header, no token; rate limited per client
	// as the login is, with a budget of its own.
	s.registerDoor(e.Group("/nightscout/:uploader", web.RateLimit(rate, burst)))

	// FHIR API (R4, HL7 CGM IG): its own body limits, timeouts and
	// OperationOutcome errors; bearer tokens only.
	if d.Records != nil {
		fhirG := e.Group("/fhir", web.Authenticate(web.AuthOptions{Verifier: d.Verifier, Sessions: d.Sessions}))
		if err := fhirapi.Register(fhirG, d.Deps, d.Records, fhirapi.Options{Version: d.Version}); err != nil {
			return err
		}
	}

	// HTML pages: session cookie or bearer token, CSRF on every form.
	s.csrf = web.CSRFOptions{Origin: d.Origin(), Secure: s.secure(), SessionCookie: web.SessionCookie}
	html := e.Group("", web.MarkHTML(),
		web.Authenticate(web.AuthOptions{Verifier: d.Verifier, Cookie: web.SessionCookie, Sessions: d.Sessions}),
		web.CSRF(s.csrf))
	html.GET("/", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, "/taccuino") })
	html.GET("/login", s.pageLogin)
	if d.Dev {
		html.POST("/login", s.postLogin, sensitive)
	}
	html.POST("/logout", s.postLogout)
	html.GET("/privacy", s.pagePrivacy)
	html.GET("/popolazione", s.pagePopulation)
	html.GET("/taccuino", s.pageHome)
	html.POST("/taccuino/activate", s.postActivate)
	html.POST("/taccuino/find", s.postFind) // under d.Lookups
	html.GET("/taccuino/p/:"+web.PatientParam, s.pagePatient)
	html.POST("/taccuino/p/:"+web.PatientParam+"/consent", s.postConsent)
	html.POST("/taccuino/p/:"+web.PatientParam+"/delegations", s.postGrantDelegation)
	html.POST("/taccuino/p/:"+web.PatientParam+"/delegations/:delegation/revoke", s.postRevokeDelegation)
	html.POST("/taccuino/p/:"+web.PatientParam+"/imports", s.postImport)
	html.GET("/taccuino/p/:"+web.PatientParam+"/export", s.export)
	html.GET("/taccuino/p/:"+web.PatientParam+"/vitals", s.pageVitals)
	html.GET("/taccuino/p/:"+web.PatientParam+"/vitals/day", s.pageVitalsDay)
	html.POST("/taccuino/p/:"+web.PatientParam+"/vitals/imports", s.postVitalsImport)
	html.POST("/taccuino/p/:"+web.PatientParam+"/vitals/sources", s.postVitalsSources)
	html.POST("/taccuino/p/:"+web.PatientParam+"/connections", s.postConnect, sensitive)
	html.POST("/taccuino/p/:"+web.PatientParam+"/connections/:connection/disconnect", s.postDisconnect)
	html.POST("/taccuino/p/:"+web.PatientParam+"/connections/:connection/credentials", s.postCredentials, sensitive)
	html.POST("/taccuino/p/:"+web.PatientParam+"/connections/:connection/sync", s.postSyncNow)
	// The apps that upload through the Nightscout-compatible door
	// (uploaders_page.go): creating one answers its secret, rate limited
	// as the API's creation is.
	html.GET("/taccuino/p/:"+web.PatientParam+"/uploaders", s.pageUploaders)
	html.POST("/taccuino/p/:"+web.PatientParam+"/uploaders", s.postCreateUploader, sensitive)
	html.POST("/taccuino/p/:"+web.PatientParam+"/uploaders/:uploader/revoke", s.postRevokeUploader)
	html.POST("/taccuino/p/:"+web.PatientParam+"/notifications", s.postNotifications, sensitive)
	// The confirmation link of a notification address: no login, the
	// link's token is the proof.
	html.GET("/notifications/confirm", s.pageConfirmNotifications)
	if d.Dev && d.DevMail != nil {
		html.GET("/dev/mail", s.pageDevMail)
	}

	// AGP reports and the clinic view (HTML under html, JSON under api).
	if d.Reports.Summaries != nil {
		if err := reports.Register(html, api, d.Deps, d.Reports); err != nil {
			return err
		}
	}
	return nil
}

// isUpload reports whether route accepts CSV files: such routes get
// MaxUploadBytes and UploadTimeout instead of MaxBodyBytes and
// RequestTimeout.
func isUpload(route string) bool {
	switch route {
	case "/api/v1/patients/:id/imports", "/taccuino/p/:id/imports",
		"/nightscout/:uploader/api/v1/entries", "/nightscout/:uploader/api/v1/entries.json":
		return true
	}
	return false
}

// isExport reports whether route streams a patient's data out: such routes
// get ExportTimeout instead of RequestTimeout.
func isExport(route string) bool {
	return route == "/api/v1/patients/:id/export" || route == "/taccuino/p/:id/export"
}

// limits is middleware that applies the body size limit and the timeout of
// the matched route (see isUpload and isExport). It runs after routing,
// before any group middleware reads a body (CSRF reads forms).
func (s *Server) limits() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		small := web.BodyLimit(MaxBodyBytes)(web.Timeout(RequestTimeout)(next))
		big := web.BodyLimit(MaxUploadBytes)(web.Timeout(UploadTimeout)(next))
		long := web.BodyLimit(MaxBodyBytes)(web.Timeout(ExportTimeout)(next))
		huge := web.BodyLimit(MaxVitalsUploadBytes)(web.Timeout(VitalsUploadTimeout)(next))
		return func(c *echo.Context) error {
			switch {
			case strings.HasPrefix(c.Path(), "/fhir"):
				return next(c) // the FHIR API applies its own body limits and timeouts
			case isVitalsUpload(c.Path()):
				return huge(c)
			case isUpload(c.Path()):
				return big(c)
			case isExport(c.Path()):
				return long(c)
			}
			return small(c)
		}
	}
}
