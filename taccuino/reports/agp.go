package reports

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/agpdoc"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/ui"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// reportRequest is a parsed report request.
type reportRequest struct {
	patient   cgmstore.Patient
	loc       *time.Location
	from, to  time.Time // local midnights of the first and last day
	cur, prev agp.Period
	targets   agpdoc.Targets
	pdf       bool
}

// patientOf resolves the patient of the request, accepting "<id>.pdf": it
// strips the suffix (so that web.Deps.Patient sees the bare id) and
// reports whether the PDF was asked for.
func (h *handlers) patientOf(c *echo.Context) (cgmstore.Patient, bool, error) {
	id := c.Param(web.PatientParam)
	pdf := false
	if bare, ok := strings.CutSuffix(id, ".pdf"); ok {
		pdf = true
		c.SetPathValues(echo.PathValues{{Name: web.PatientParam, Value: bare}})
	}
	p, err := h.d.Patient(c, consent.ActReadData)
	return p, pdf, err
}

// parseReport reads the period and targets of a report request: from and
// to are local dates (both inclusive) in the patient's zone, by default the
// last 14 complete days.
func (h *handlers) parseReport(c *echo.Context, p cgmstore.Patient, pdf bool) (reportRequest, error) {
	loc, err := p.Location()
	if err != nil {
		return reportRequest{}, err
	}
	r := reportRequest{patient: p, loc: loc, pdf: pdf}
	if r.targets, err = agpdoc.ParseTargets(c.QueryParam("targets")); err != nil {
		return r, web.BadRequest("targets", "targets must be standard or older").Say("err_targets")
	}
	from, to := c.QueryParam("from"), c.QueryParam("to")
	switch {
	case from == "" && to == "":
		today := time.Date(h.now().In(loc).Year(), h.now().In(loc).Month(), h.now().In(loc).Day(), 0, 0, 0, 0, loc)
		r.from, r.to = today.AddDate(0, 0, -summaries.PeriodDays), today.AddDate(0, 0, -1)
	case from == "" || to == "":
		field := "from"
		if to == "" {
			field = "to"
		}
		return r, web.BadRequest(field, "from and to go together: local dates YYYY-MM-DD, both included").Say("err_period_pair")
	default:
		if r.from, err = time.ParseInLocation(time.DateOnly, from, loc); err != nil {
			return r, web.BadRequest("from", "from must be a date YYYY-MM-DD").Say("err_date")
		}
		if r.to, err = time.ParseInLocation(time.DateOnly, to, loc); err != nil {
			return r, web.BadRequest("to", "to must be a date YYYY-MM-DD").Say("err_date")
		}
	}
	if r.to.Before(r.from) {
		return r, web.Invalid("to", "the period ends before it starts").Say("err_period_order")
	}
	days := int(agp.LocalDays(r.from, r.to, loc).End.Sub(r.from).Hours()/24 + 0.5)
	if days > h.o.MaxDays {
		return r, web.Invalid("to", fmt.Sprintf("the period is longer than %d days", h.o.MaxDays)).Say("err_period_long", h.o.MaxDays)
	}
	r.cur = agp.LocalDays(r.from, r.to, loc)
	r.prev = agp.LocalDays(r.from.AddDate(0, 0, -days), r.from.AddDate(0, 0, -1), loc)
	return r, nil
}

// report is what a report request reads and computes.
type report struct {
	req      reportRequest
	cur      agp.Report
	prev     agp.Report
	readings cgm.Series
	labs     []agpdoc.LabResult
	clinical *agpdoc.Clinical
	// twin is the absolute address of the HTML page, for the PDF.
	twin string
	// devices summarises the patient's own devices over the period (nil
	// when they sent nothing).
	devices *vitals.Period
}

// load reads the readings of both periods and the laboratory HbA1c in the
// transaction that logs the access, and computes the reports.
func (h *handlers) load(c *echo.Context, r reportRequest) (report, error) {
	out := report{req: r}
	what := "AGP report"
	if r.pdf {
		what += " (PDF)"
	}
	detail := fmt.Sprintf("%s %s..%s", what, r.from.Format(time.DateOnly), r.to.Format(time.DateOnly))
	// Each period's readings are the patient's primary series, with the
	// sources they came from (named on the report).
	var (
		rs, prs         cgm.Series
		curUse, prevUse cgmstore.SeriesUse
	)
	err := h.d.Access(c, r.patient, consent.ActReadData, detail, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		st := h.d.Store.InTx(tx)
		if rs, curUse, err = st.Series(ctx, r.patient.ID, r.cur.Start, r.cur.End, cgm.Historic, cgm.Scan); err != nil {
			return err
		}
		if prs, prevUse, err = st.Series(ctx, r.patient.ID, r.prev.Start, r.prev.End, cgm.Historic, cgm.Scan); err != nil {
			return err
		}
		if h.o.HbA1c != nil {
			if out.labs, err = h.o.HbA1c(ctx, r.patient.ID, r.cur.Start, r.cur.End); err != nil {
				return fmt.Errorf("reports: laboratory HbA1c: %w", err)
			}
		}
		// The daily summaries of the patient's own devices, for the
		// report's line about steps and sleep (issue 18).
		days, err := summaries.VitalDays(ctx, tx, r.patient.ID, r.from, r.to)
		if err != nil {
			return err
		}
		if len(days) > 0 {
			p := vitals.Summarize(days)
			out.devices = &p
		}
		out.clinical, err = readClinical(ctx, tx, r.patient.ID)
		return err
	})
	if err != nil {
		return out, err
	}
	zone := r.patient.TimeZone
	if out.cur, err = agp.Compute(rs, agp.Options{Patient: r.patient.PublicID, Location: r.loc, Zone: zone, Period: &r.cur, AGP: true, Daily: true,
		Sources: curUse.Sources.Names(), OtherSeriesReadings: curUse.Other}); err != nil {
		return out, err
	}
	if out.prev, err = agp.Compute(prs, agp.Options{Patient: r.patient.PublicID, Location: r.loc, Zone: zone, Period: &r.prev,
		Sources: prevUse.Sources.Names(), OtherSeriesReadings: prevUse.Other}); err != nil {
		return out, err
	}
	out.readings = rs
	return out, nil
}

func (rp report) input(l locale.Lang, now time.Time) agpdoc.Input {
	return agpdoc.Input{Report: rp.cur, Previous: &rp.prev, Readings: rp.readings, Location: rp.req.loc,
		Patient: summaries.PatientOf(rp.req.patient), HbA1c: rp.labs, Targets: rp.req.targets, Lang: l, Generated: now,
		Clinical: rp.clinical, HTMLURL: rp.twin, Devices: rp.devices}
}

// pageReport serves the report page, or its PDF for "<id>.pdf".
func (h *handlers) pageReport(c *echo.Context) error {
	p, pdf, err := h.patientOf(c)
	if err != nil {
		return err
	}
	if pdf {
		req, err := h.parseReport(c, p, pdf)
		if err != nil {
			return err
		}
		rp, err := h.load(c, req)
		if err != nil {
			return err
		}
		rp.twin = h.absolute(c, reportLink(p.PublicID, req, web.Lang(c), req.targets))
		return h.sendPDF(c, rp, web.Lang(c))
	}
	return h.showReport(c, p, nil)
}

// reportLink is the address of the report page of patient id for req in
// language lang with targets tg.
func reportLink(id string, req reportRequest, lang locale.Lang, tg agpdoc.Targets) string {
	v := url.Values{}
	v.Set("from", req.from.Format(time.DateOnly))
	v.Set("to", req.to.Format(time.DateOnly))
	v.Set("lang", string(lang))
	v.Set("targets", string(tg))
	return "/reports/agp/" + id + "?" + v.Encode()
}

// absolute returns path on the service's public address (Deps.BaseURL,
// else the request's).
func (h *handlers) absolute(c *echo.Context, path string) string {
	if h.d.BaseURL != "" {
		return strings.TrimSuffix(h.d.BaseURL, "/") + path
	}
	return c.Scheme() + "://" + c.Request().Host + path
}

// showReport renders the report page of p: the period of the request (a
// period that is not valid is shown again in its form, with what is
// wrong, over the default period), the service's header, the way back,
// and for clinicians the form of the clinical record (cs: the form after a
// post, nil for none).
func (h *handlers) showReport(c *echo.Context, p cgmstore.Patient, cs *clinicalState) error {
	l := web.Lang(c)
	status := http.StatusOK
	errs := map[string]string{}
	typedFrom, typedTo := c.QueryParam("from"), c.QueryParam("to")
	req, err := h.parseReport(c, p, false)
	if err != nil {
		var we *web.Error
		if !errors.As(err, &we) || we.Status >= 500 {
			return err
		}
		field := we.Field
		if field == "targets" {
			field = "from"
		}
		errs[field], status = we.Text(l), we.Status
		c.Request().URL.RawQuery = url.Values{"lang": {string(l)}}.Encode()
		if req, err = h.parseReport(c, p, false); err != nil {
			return err
		}
	}
	rp, err := h.load(c, req)
	if err != nil {
		return err
	}
	base := "/reports/agp/" + p.PublicID
	nav := &agpdoc.Nav{
		PDF:          reportLink(p.PublicID+".pdf", req, l, req.targets),
		TargetsStd:   reportLink(p.PublicID, req, l, agpdoc.TargetsStandard),
		TargetsOlder: reportLink(p.PublicID, req, l, agpdoc.TargetsOlder),
		Action:       base,
		From:         req.from.Format(time.DateOnly),
		To:           req.to.Format(time.DateOnly),
		Errors:       errs,
		Back:         "/taccuino/p/" + p.PublicID,
		BackText:     l.T("agp_back_taccuino"),
	}
	if len(errs) > 0 && (typedFrom != "" || typedTo != "") {
		// What was typed stays in the form.
		nav.From, nav.To = typedFrom, typedTo
	}
	if canEditClinical(c) {
		nav.Back, nav.BackText = "/clinic", l.T("err_back_clinic")
		cf := &agpdoc.ClinicalForm{Action: base + "/clinical?" + url.Values{"from": {nav.From}, "to": {nav.To},
			"lang": {string(l)}, "targets": {string(req.targets)}}.Encode(), CSRF: web.CSRFToken(c)}
		if rp.clinical != nil {
			cf.DiabetesType, cf.Therapy, cf.Note = rp.clinical.DiabetesType, rp.clinical.Therapy, rp.clinical.Note
		}
		if cs != nil {
			cf.DiabetesType, cf.Therapy, cf.Note, cf.Saved = cs.values.DiabetesType, cs.values.Therapy, cs.values.Note, cs.saved
			cf.Errors = map[string]string{}
			for k, e := range cs.errs {
				cf.Errors[k] = e.Text(l)
			}
			if len(cs.errs) > 0 {
				status = http.StatusUnprocessableEntity
			}
		}
		nav.Clinical = cf
	}
	if nav.Head, err = ui.Head(); err != nil {
		return err
	}
	q := c.Request().URL.Query()
	if c.Request().Method != http.MethodGet {
		q = url.Values{"from": {nav.From}, "to": {nav.To}, "targets": {string(req.targets)}}
	}
	if nav.Header, err = ui.Header(ui.ChromeOf(c, ui.Options{Clinic: true, Path: base, Query: q})); err != nil {
		return err
	}
	b, err := agpdoc.RenderHTML(rp.input(l, h.now()), agpdoc.HTMLOptions{StylesheetURL: "/reports/static/report.css", Nav: nav})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Language", string(l))
	return c.HTMLBlob(status, b)
}

func (h *handlers) sendPDF(c *echo.Context, rp report, l locale.Lang) error {
	b, err := agpdoc.RenderPDF(rp.input(l, h.now()))
	if err != nil {
		return err
	}
	name := fmt.Sprintf("agp-%s-%s.pdf", rp.req.from.Format(time.DateOnly), rp.req.to.Format(time.DateOnly))
	c.Response().Header().Set("Content-Disposition", `inline; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "application/pdf", b)
}

// ReportJSON is the JSON form of a report: the engine's figures of both
// periods, unrounded, and the laboratory HbA1c beside the GMI.
type ReportJSON struct {
	// Patient is the public id.
	Patient string `json:"patient"`
	// From and To are the local dates of the period, both included.
	From string `json:"from"`
	To   string `json:"to"`
	// Targets is the target set of the page (standard or older).
	Targets string `json:"targets"`
	// Report is the period's report, with the AGP and daily profiles.
	Report agp.Report `json:"report"`
	// Previous is the report of the period of equal length just before.
	Previous agp.Report `json:"previous"`
	// HbA1c lists the laboratory HbA1c results of the period.
	HbA1c []HbA1cJSON `json:"hba1c"`
	// Clinical is the clinician's record (diabetes type and therapy as
	// codes, the note), when one was written.
	Clinical *agpdoc.Clinical `json:"clinical,omitempty"`
}

// HbA1cJSON is a laboratory HbA1c beside the GMI of the period.
type HbA1cJSON struct {
	At      time.Time `json:"at"`
	Percent float64   `json:"percent"`
	// Difference is HbA1c − GMI, in percentage points (null without GMI).
	Difference *float64 `json:"difference"`
	// Discordant is true when |HbA1c − GMI| ≥ 0.5 points.
	Discordant bool `json:"discordant"`
}

// apiReport serves the report's figures as JSON, or the PDF for "<id>.pdf".
func (h *handlers) apiReport(c *echo.Context) error {
	p, pdf, err := h.patientOf(c)
	if err != nil {
		return err
	}
	req, err := h.parseReport(c, p, pdf)
	if err != nil {
		return err
	}
	rp, err := h.load(c, req)
	if err != nil {
		return err
	}
	if pdf {
		return h.sendPDF(c, rp, web.Lang(c))
	}
	out := ReportJSON{Patient: p.PublicID, From: req.from.Format(time.DateOnly), To: req.to.Format(time.DateOnly),
		Targets: string(req.targets), Report: rp.cur, Previous: rp.prev, HbA1c: []HbA1cJSON{}, Clinical: rp.clinical}
	for _, lab := range rp.labs {
		j := HbA1cJSON{At: lab.At, Percent: lab.Percent}
		if g := rp.cur.GMI; g != nil {
			d := lab.Percent - g.Percent
			j.Difference, j.Discordant = &d, agpdoc.Discordant(lab.Percent, g.Percent)
		}
		out.HbA1c = append(out.HbA1c, j)
	}
	return c.JSON(http.StatusOK, out)
}
