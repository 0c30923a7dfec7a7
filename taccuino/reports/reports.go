// Package reports serves the AGP report of a patient (HTML and PDF) and the
// clinic list of a practitioner's patients over HTTP, with echo v5 and the
// shared kit of package web. The pages are drawn by package agpdoc; the
// clinic list reads the summaries kept by package summaries.
//
// # Routes
//
// Register adds, on the HTML group (session cookie, CSRF):
//
//	GET  /reports/agp/:id          the AGP report page (?from=&to= local dates, ?lang=it|en, ?targets=standard|older)
//	GET  /reports/agp/:id.pdf      the same report as a one-page A4 PDF
//	POST /reports/agp/:id/clinical the clinician's record (diabetes type, therapy, note; form fields)
//	GET  /reports/static/:file     the pages' stylesheets
//	GET  /clinic                   the clinic list (?category=, ?page=, ?counts=1)
//	POST /clinic                   the clinic list searched (form fields q, category, page, counts)
//
// and on the JSON API group (bearer tokens):
//
//	GET  /reports/agp/:id          the figures of the report (agp.Report of both periods, HbA1c)
//	GET  /reports/agp/:id.pdf      the PDF
//	GET  /clinic                   the clinic list (?category=, ?page=, ?limit=, ?counts=1)
//	POST /clinic/search            the clinic list searched (JSON {"q", "category", "page", "limit", "counts"})
//
// The clinic list is for practitioners (their patients: care relationship
// and consent) and, on the JSON API, for a regional service with the scope
// consent.ScopeReadData (every consenting patient), as consent.Store.VisibleSQL
// says. It is sorted by need of attention (summaries.Categorize); the
// number of patients per category is computed only when asked (counts),
// as it needs a pass over every patient the caller sees.
//
// The report's default period is the last 14 complete local days in the
// patient's zone (yesterday included), and the previous period is the one
// of equal length just before.
//
// # Privacy
//
// A patient is addressed by its public id. Searching the clinic list by
// name or fiscal code is a POST (an HTML form or a JSON body), never a
// query string, so that no fiscal code appears in a URL, a browser history,
// a proxy log or the request log (which records the route pattern only).
//
// # Access log
//
// Every read of a patient's data goes through consent.Store: the report
// through Access (one entry, in the transaction that reads the readings),
// the clinic list through ListedFromSQL: one "allowed" entry per patient
// row shown on the page, written by the statement that finds the page and
// reads the rows. The sort keys of the patients not shown (category, severity)
// are read to order the list but are not disclosed, so they are not logged.
package reports

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/ui"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// Refresher re-derives the ended periods of some patients' summaries
// (*summaries.Updater).
type Refresher interface {
	Refresh(ctx context.Context, ids []int64) (int, error)
}

// Options configure the reports.
type Options struct {
	// Summaries reads the clinic list (required).
	Summaries *summaries.Store
	// Refresher, when set, brings ended periods up to date when the list
	// is read (just after midnight, before the updater's next round).
	Refresher Refresher
	// HbA1c, when set, reads laboratory HbA1c results shown beside the GMI
	// (records.Store.LabHbA1c, adapted).
	HbA1c summaries.LabHbA1c
	// MaxDays bounds a report's period (default 366 days).
	MaxDays int
}

// handlers holds what the handlers share.
type handlers struct {
	d     web.Deps
	o     Options
	pages *pageSet
}

// Register adds the routes of the reports to html (the pages' group:
// web.MarkHTML, web.Authenticate with the session cookie, web.CSRF) and api
// (the JSON API's group under /api/v1: web.Authenticate with bearer
// tokens). See the package documentation for the routes.
func Register(html, api *echo.Group, d web.Deps, o Options) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if o.Summaries == nil {
		return errors.New("reports: options: missing Summaries")
	}
	if o.MaxDays <= 0 {
		o.MaxDays = 366
	}
	ps, err := newPageSet()
	if err != nil {
		return err
	}
	h := &handlers{d: d, o: o, pages: ps}
	html.GET("/reports/agp/:"+web.PatientParam, h.pageReport)
	html.POST("/reports/agp/:"+web.PatientParam+"/clinical", h.postClinical)
	html.GET("/reports/static/:file", h.static)
	html.GET("/clinic", h.pageClinic)
	html.POST("/clinic", h.pageClinic)
	api.GET("/reports/agp/:"+web.PatientParam, h.apiReport)
	api.GET("/clinic", h.apiClinic)
	api.POST("/clinic/search", h.apiClinicSearch)
	return nil
}

// static serves the stylesheets.
func (h *handlers) static(c *echo.Context) error {
	var b []byte
	switch c.Param("file") {
	case "report.css":
		b = append(append(agpdoc.CSS(), '\n'), ui.CSS()...)
	case "clinic.css":
		b = h.pages.clinicCSS
	default:
		return web.NotFound("no such file")
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", b)
}

// now returns the deps' clock.
func (h *handlers) now() time.Time { return h.d.Clock() }

// Templates returns the clinic page's templates (the catalogue's test reads
// them).
func Templates() fs.FS { return assets }
