package taccuino

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// caps says which sections of a patient's page the caller may use.
type caps struct {
	Basis consent.Basis
	// Manage: consent and delegations (the patient, a parent, a tutor).
	Manage bool
	// Write: imports and connections (also delegates).
	Write bool
	// Log: the access log (also delegates).
	Log bool
	// Minor: the patient themself, under 18: they see their consent and
	// delegations but their parent or tutor changes them.
	Minor bool
}

// capsOf finds on what basis the caller acts for p (consent.Represented,
// the rules of the gate), to show only the sections they may use; the gate
// still decides every access.
func (s *Server) capsOf(ctx context.Context, c *echo.Context, p cgmstore.Patient) (caps, error) {
	pr := web.Principal(c)
	if pr == nil || pr.Role != auth.RoleCitizen {
		return caps{}, nil
	}
	reps, err := s.deps.Consent.Represented(ctx, web.Actor(c))
	if err != nil {
		return caps{}, err
	}
	for _, r := range reps {
		if r.PatientFiscalCode != p.FiscalCode {
			continue
		}
		switch r.Basis {
		case consent.BasisSelf:
			loc, _ := p.Location()
			adult, ok := consent.ComingOfAge(p.FiscalCode, p.BirthDate, loc, s.deps.Clock())
			return caps{Basis: r.Basis, Manage: true, Write: true, Log: true, Minor: !ok || s.deps.Clock().Before(adult)}, nil
		case consent.BasisParent, consent.BasisTutor:
			return caps{Basis: r.Basis, Manage: true, Write: true, Log: true}, nil
		case consent.BasisDelegate:
			return caps{Basis: r.Basis, Write: true, Log: true}, nil
		}
	}
	return caps{}, nil
}

// patientView is the patient's page.
type patientView struct {
	ID, Name, Basis string
	// Self: the caller is the patient.
	Self        bool
	Caps        caps
	Msg         string
	From, To    string // period, YYYY-MM-DD
	PeriodLabel string
	Latest      *latestView
	Metrics     *metricsView
	TIR         []tirBin
	// Charts are the chart drawn for wide screens and for phones.
	Charts      []chartView
	Legend      []legendItem
	Daily       []dayView
	Status      statusView
	Consent     *consentView
	Delegations []delegationView
	MinExpiry   string
	MaxExpiry   string
	AccessLog   []logView
	// LogNext is the cursor of the access log's next (older) page, and
	// LogOlder is true on a page after the first.
	LogNext  string
	LogOlder bool
	// Notifications is the access notifications block (patient, parent,
	// tutor), nil when not shown.
	Notifications *notificationsView
	Privacy       string
	// Sync reports whether sensor connections are available;
	// FollowerMode whether the region's follower account is configured
	// (fsecgm follower-account), without which that mode is not offered.
	Sync         bool
	FollowerMode bool
	Connections  []connectionView
	// Report links the patient's AGP report (page and PDF).
	Report *reportLinks
	// Form is the form shown again with what is wrong; Import the result
	// of an upload.
	Form   *form
	Import *importView
}

// reportLinks are the links to the patient's AGP report.
type reportLinks struct {
	Heading, HTML, PDF string
}

// importView is the result of an upload, shown at the upload form.
type importView struct {
	Done   bool
	Result ImportJSON
	Lines  []lineView
	// More is how many rejected lines are not listed.
	More int
	// Conflicts are the reading times the file gave with different values.
	Conflicts []conflictView
}

// lineView is a rejected line of an upload, said in the person's language.
type lineView struct {
	Line, Field, Value, Reason string
}

type latestView struct {
	Value, Unit, Arrow, TrendLabel, Time, Age, Band, BandClass string
}

type metricsView struct {
	Mean, CV, GMI, Readings, Active, Days string
	CVStable                              bool
	// GRI and GRIZone: the Glycemia Risk Index (Klonoff 2023) and its
	// zone A–E; empty without readings.
	GRI, GRIZone string
	// Sources says which sources the figures' readings came from.
	Sources string
}

type dayView struct{ Date, Readings, Mean, Target string }

type statusView struct {
	Label, Todo, Last, Count string
	OK                       bool
}

type consentView struct {
	Granted bool
	Since   string
}

type delegationView struct {
	ID                       int64
	FiscalCode, Until, State string
	Active                   bool
}

type logView struct {
	At, Who, Role, Basis, Action, Detail, Outcome, Reason string
	// Repeated says how many times a refusal happened within the hour,
	// and when last ("" for a single occurrence).
	Repeated string
	Denied   bool
}

// pageData is what the data read of the page gathers in one access.
type pageData struct {
	latest       *cgm.Reading
	conns        []ConnectionJSON
	followerMode bool
	rs           cgm.Series
	rep          agp.Report
	cov          cgmstore.Coverage
}

// maxListedLines bounds the rejected lines of an upload the page lists.
const maxListedLines = 100

// pagePatient renders a patient's taccuino: latest glucose, metrics, time
// in ranges, chart, daily profiles, connection status and, for those who
// may, consent, delegations and the access log. A period that is not
// valid is shown again in its form, with what is wrong, over the default
// period's data.
func (s *Server) pagePatient(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	loc, err := p.Location()
	if err != nil {
		return err
	}
	from, to := c.QueryParam("from"), c.QueryParam("to")
	per, err := parsePeriod(from, to, s.deps.Clock(), loc, MaxReadingsDays)
	var f *form
	if err != nil {
		var ok bool
		if f, ok = formError(web.Lang(c), "period", err, map[string]string{"from": from, "to": to}, "from", "to"); !ok {
			return err
		}
		if per, err = parsePeriod("", "", s.deps.Clock(), loc, MaxReadingsDays); err != nil {
			return err
		}
	}
	return s.showPatient(c, p, per, f, nil)
}

// showPatientAgain shows the page of p for the default period, in answer
// to a form: f is the form shown again (nil when none), imp the result of
// an upload (nil when none).
func (s *Server) showPatientAgain(c *echo.Context, p cgmstore.Patient, f *form, imp *importView) error {
	loc, err := p.Location()
	if err != nil {
		return err
	}
	per, err := parsePeriod("", "", s.deps.Clock(), loc, MaxReadingsDays)
	if err != nil {
		return err
	}
	return s.showPatient(c, p, per, f, imp)
}

// showPatient renders the page of p for per.
func (s *Server) showPatient(c *echo.Context, p cgmstore.Patient, per period, f *form, imp *importView) error {
	ctx := c.Request().Context()
	l := web.Lang(c)
	loc, err := p.Location()
	if err != nil {
		return err
	}
	now := s.deps.Clock()
	cp, err := s.capsOf(ctx, c, p)
	if err != nil {
		return err
	}
	var pd pageData
	err = s.deps.Access(c, p, consent.ActReadData, "taccuino "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		r := s.deps.Store.InTx(tx)
		var err error
		if pd.latest, err = s.latest(ctx, tx, p); err != nil {
			return err
		}
		// The patient's primary series, with its sources (named under
		// the figures).
		var use cgmstore.SeriesUse
		if pd.rs, use, err = r.Series(ctx, p.ID, per.Start, per.End); err != nil {
			return err
		}
		ap := per.Period
		if pd.rep, err = agp.Compute(pd.rs, agp.Options{Patient: p.PublicID, Location: loc, Zone: p.TimeZone,
			Period: &ap, Daily: true, Sources: use.Sources.Names(), OtherSeriesReadings: use.Other}); err != nil {
			return err
		}
		if pd.cov, err = r.Coverage(ctx, p.ID); err != nil {
			return err
		}
		if s.deps.Sync != nil {
			if pd.conns, err = s.connectionsOf(ctx, tx, p); err != nil {
				return err
			}
			pd.followerMode, err = s.deps.Sync.FollowerModeAvailable(ctx, tx)
		}
		return err
	})
	if err != nil {
		return err
	}
	pv := patientView{ID: p.PublicID, Name: strings.TrimSpace(p.GivenName + " " + p.FamilyName), Caps: cp,
		Self: cp.Basis == consent.BasisSelf, From: per.From.Format(time.DateOnly), To: per.To.Format(time.DateOnly),
		PeriodLabel: l.F("tac_period_label", per.From.Format("02/01/2006"), per.To.Format("02/01/2006")),
		Privacy:     PrivacyNoticeVersion, Form: f, Import: imp}
	if cp.Basis != "" && !pv.Self {
		pv.Basis = l.T("tac_basis_" + string(cp.Basis))
	}
	if m := c.QueryParam("msg"); m != "" && isMessage(m) && c.Request().Method == http.MethodGet {
		pv.Msg = l.T("tac_msg_" + m)
	}
	if s.deps.Reports.Summaries != nil {
		pv.Report = &reportLinks{Heading: l.T("tac_report"), HTML: "/reports/agp/" + p.PublicID, PDF: "/reports/agp/" + p.PublicID + ".pdf"}
		if pv.Self {
			pv.Report.Heading = l.T("tac_report_mine")
		}
	}
	pv.Latest = latestViewOf(pd.latest, now, loc, l)
	pv.Metrics = metricsViewOf(pd.rep, l)
	pv.TIR = buildTIR(pd.rep.TimeInRanges, l)
	pv.Charts = []chartView{buildChart(pd.rs, per, loc, l, chartWide, "wide"), buildChart(pd.rs, per, loc, l, chartNarrow, "narrow")}
	pv.Legend = chartLegend(l)
	for _, d := range pd.rep.Daily {
		dv := dayView{Date: d.Date, Readings: strconv.Itoa(d.Readings), Mean: "—", Target: "—"}
		if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
			dv.Date = t.Format("02/01/2006")
		}
		if d.MeanMgDL != nil {
			dv.Mean = l.Number(*d.MeanMgDL, 0)
		}
		if d.TimeInRanges != nil {
			dv.Target = l.Percent(d.TimeInRanges.Target, 0)
		}
		pv.Daily = append(pv.Daily, dv)
	}
	pv.Status = statusOf(pd.cov, pd.conns, now, loc, l)
	pv.Sync = s.deps.Sync != nil
	pv.FollowerMode = pd.followerMode
	for _, cj := range pd.conns {
		pv.Connections = append(pv.Connections, connectionViewOf(cj, loc, l))
	}

	a := web.Actor(c)
	if cp.Manage {
		st, err := s.deps.Consent.ThirdPartyConsent(ctx, a, p.ID)
		if err != nil {
			return err
		}
		cv := &consentView{Granted: st.Granted}
		if n := len(st.History); n > 0 {
			cv.Since = st.History[n-1].At.In(loc).Format("02/01/2006 15:04")
		}
		pv.Consent = cv
		ds, err := s.deps.Consent.Delegations(ctx, a, p.ID)
		if err != nil {
			return err
		}
		for _, d := range ds {
			dj := delegationJSON(d, now)
			dv := delegationView{ID: d.ID, FiscalCode: d.DelegateFiscalCode, Until: locale.Until(l, d.ExpiresAt, loc), Active: dj.Active}
			switch {
			case dj.Active:
				dv.State = l.T("tac_deleg_active")
			case !d.RevokedAt.IsZero():
				dv.State = l.T("tac_deleg_revoked")
			default:
				dv.State = l.T("tac_deleg_expired")
			}
			pv.Delegations = append(pv.Delegations, dv)
		}
		pv.MinExpiry = now.In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
		pv.MaxExpiry = now.In(loc).AddDate(s.deps.Consent.MaxDelegationYears(), 0, 0).Format(time.DateOnly)
		if pv.Notifications, err = s.notificationsBlock(ctx, c, p.ID, loc); err != nil {
			return err
		}
	}
	if cp.Log {
		// The log's pages by keyset (consent.Store.AccessLog): the link
		// to the next page carries the cursor of this page's last entry.
		before := c.QueryParam("log_before")
		page, err := s.deps.Consent.AccessLog(ctx, a, p.ID, 50, before)
		if err != nil {
			e := web.AsError(err)
			if e.Status == http.StatusUnprocessableEntity {
				e.Field = "log_before"
			}
			return e
		}
		pv.LogNext, pv.LogOlder = page.Next, before != ""
		for _, e := range page.Entries {
			pv.AccessLog = append(pv.AccessLog, logViewOf(e, loc, l))
		}
	}
	title := l.T("tac_taccuino")
	if pv.Name != "" {
		title += " · " + pv.Name
	}
	status := http.StatusOK
	if f != nil && f.Status != 0 {
		status = f.Status
	}
	return s.render(c, status, "patient", s.newViewText(c, title, pv, "/taccuino/p/"+p.PublicID))
}

// isMessage reports whether m is one of the messages a redirect may ask
// the page to show.
func isMessage(m string) bool {
	switch m {
	case "consent-granted", "consent-revoked", "delegation-granted", "delegation-revoked", "connected", "disconnected",
		"credentials-updated", "sync-requested", "notifications-sent", "notifications-saved":
		return true
	}
	return false
}

// latestBand returns the catalogue key and class of the band of a value
// in mg/dL: the FSE's three and, between normale and iperglicemia, 140 to
// 180 (so that every value's badge names its band).
func latestBand(mgdl float64) (key, class string) {
	switch {
	case mgdl < BandHypoBelowMgDL:
		return "tac_band_hypo", "band-hypo"
	case mgdl < BandNormalBelowMgDL:
		return "tac_band_normal", "band-normal"
	case mgdl <= BandHyperAboveMgDL:
		return "tac_band_above", "band-above"
	}
	return "tac_band_hyper", "band-hyper"
}

func latestViewOf(r *cgm.Reading, now time.Time, loc *time.Location, l locale.Lang) *latestView {
	if r == nil {
		return nil
	}
	lv := &latestView{Unit: r.Unit.String(), Arrow: r.Trend.Arrow(), Time: r.Time.In(loc).Format("02/01/2006 15:04")}
	digits := 0
	if r.Unit == cgm.MmolL {
		digits = 1
	}
	lv.Value = l.Number(r.Value, digits)
	switch {
	case r.Flags&cgm.FlagLow != 0:
		lv.Value = "LO"
	case r.Flags&cgm.FlagHigh != 0:
		lv.Value = "HI"
	}
	if r.Trend >= cgm.TrendFallingFast && r.Trend <= cgm.TrendRisingFast {
		lv.TrendLabel = l.T("tac_trend_" + trendName(r.Trend))
	}
	age := now.Sub(r.Time)
	switch {
	case age < time.Minute:
		lv.Age = l.T("tac_age_now")
	case age < time.Hour:
		lv.Age = l.F("tac_age_min", int(age.Minutes()))
	case age < 48*time.Hour:
		lv.Age = l.F("tac_age_hours", int(age.Hours()))
	default:
		lv.Age = l.F("tac_age_days", int(age.Hours()/24))
	}
	key, class := latestBand(r.MgDL())
	lv.Band, lv.BandClass = l.T(key), class
	return lv
}

func metricsViewOf(rep agp.Report, l locale.Lang) *metricsView {
	if rep.MeanGlucose == nil {
		return nil
	}
	mv := &metricsView{Mean: l.Number(rep.MeanGlucose.MgDL, 0), Readings: strconv.Itoa(rep.Readings),
		Active: l.Percent(rep.ActivePercent, 0), Days: strconv.Itoa(rep.DaysWorn), CV: "—", GMI: "—",
		Sources: l.SourcesLine(rep.Sources, rep.OtherSeries)}
	if rep.CVPercent != nil {
		mv.CV = l.Percent(*rep.CVPercent, 1)
		// Stable glucose: CV ≤ 36 % (Battelino 2019, international consensus).
		mv.CVStable = *rep.CVPercent <= 36
	}
	if rep.GMI != nil {
		mv.GMI = l.Percent(rep.GMI.Percent, 1)
	}
	if g := rep.GRI; g != nil {
		mv.GRI, mv.GRIZone = l.Number(g.Value, 0), g.Zone
	}
	return mv
}

// staleAfter is how long without readings makes the connection status a
// warning (LibreLinkUp uploads at least every few minutes while the phone
// is near the sensor).
const staleAfter = 24 * time.Hour

// statusOf says how the data arrive: nothing yet, nothing lately, or up to
// date; and what to do, which depends on whether a sensor connection is
// active (without one, data come only from the files the person uploads).
func statusOf(cov cgmstore.Coverage, conns []ConnectionJSON, now time.Time, loc *time.Location, l locale.Lang) statusView {
	active, problem := false, false
	for _, c := range conns {
		if c.State == connsync.StateDisconnected {
			continue
		}
		active = true
		if c.State != connsync.StateActive {
			problem = true
		}
	}
	if cov.Count == 0 {
		sv := statusView{Label: l.T("tac_status_none"), Todo: l.T("tac_todo_none")}
		if active {
			sv.Todo = l.T("tac_todo_waiting")
		}
		return sv
	}
	sv := statusView{Last: cov.Last.In(loc).Format("02/01/2006 15:04"), Count: strconv.FormatInt(cov.Count, 10)}
	switch {
	case now.Sub(cov.Last) > staleAfter:
		sv.Label, sv.Todo = l.T("tac_status_stale"), l.T("tac_todo_stale")
	default:
		sv.Label, sv.OK = l.T("tac_status_ok"), true
		sv.Todo = l.T("tac_todo_ok")
	}
	switch {
	case problem:
		sv.Todo = l.T("tac_todo_problem")
	case !active:
		sv.Todo = l.T("tac_todo_no_connection")
	}
	return sv
}

func logViewOf(e consent.AccessEntry, loc *time.Location, l locale.Lang) logView {
	who := e.ActorName
	if who == "" {
		who = e.ActorID
	} else if e.ActorID != "" && e.ActorID != e.ActorName {
		who += " (" + e.ActorID + ")"
	}
	if who == "" {
		who = l.T("tac_anonymous")
	}
	role := l.T("tac_role_" + string(e.ActorRole))
	if e.ActorRole == "" {
		role = l.T("tac_role_none")
	}
	if e.PractitionerRole != "" {
		role = l.T("tac_prole_" + string(e.PractitionerRole))
	}
	lv := logView{At: e.At.In(loc).Format("02/01/2006 15:04:05"), Who: who,
		Role: joinNonEmpty(" · ", role, e.OnBehalfOf), Action: l.T("tac_act_" + string(e.Action)),
		Detail: locale.Detail(l, e.Detail, loc), Outcome: l.T("tac_out_" + string(e.Outcome)), Denied: e.Outcome != consent.OutcomeAllowed}
	if e.Basis != "" {
		lv.Basis = l.T("tac_basis_" + string(e.Basis))
	}
	if e.Outcome != consent.OutcomeAllowed {
		lv.Reason = l.T("tac_reason_" + string(e.Reason))
	}
	if e.Count > 1 {
		lv.Repeated = l.F("tac_repeated", e.Count, e.LastAt.In(loc).Format("15:04:05"))
	}
	return lv
}

// postConsent grants or revokes the third-party consent from the page.
func (s *Server) postConsent(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteConsent)
	if err != nil {
		return err
	}
	var granted bool
	switch c.FormValue("granted") {
	case "true":
		granted = true
	case "false":
	default:
		return web.Invalid("granted", "granted must be true or false").Say("err_invalid")
	}
	if _, err := s.deps.Consent.SetThirdPartyConsent(c.Request().Context(), web.Actor(c), p.ID, granted); err != nil {
		return err
	}
	msg := "consent-revoked"
	if granted {
		msg = "consent-granted"
	}
	return seeOther(c, patientURL(p.PublicID, msg, "consent"))
}

// checkDelegate says, in the person's language, what is wrong with a
// delegate's fiscal code typed on the page (the rules check it again).
func checkDelegate(cf string, p cgmstore.Patient, actor consent.Actor) *web.Error {
	switch {
	case strings.TrimSpace(cf) == "":
		return web.Invalid("delegate_fiscal_code", "delegate_fiscal_code is required").Say("err_deleg_required")
	case codicefiscale.Validate(cf) != nil:
		return web.Invalid("delegate_fiscal_code", "not a valid fiscal code").Say("err_cf")
	case strings.EqualFold(cf, p.FiscalCode):
		return web.Invalid("delegate_fiscal_code", "the patient cannot be their own delegate").Say("err_deleg_self")
	case strings.EqualFold(cf, actor.FiscalCode):
		return web.Invalid("delegate_fiscal_code", "a representative cannot delegate themself").Say("err_deleg_rep")
	}
	return nil
}

// postGrantDelegation delegates an adult from the page; what is wrong is
// shown next to the field, with what was typed.
func (s *Server) postGrantDelegation(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteDelegations)
	if err != nil {
		return err
	}
	cf, until := strings.ToUpper(strings.TrimSpace(c.FormValue("delegate_fiscal_code"))), c.FormValue("expires_at")
	again := func(err error) error {
		f, ok := formError(web.Lang(c), "delegation", err, map[string]string{"delegate_fiscal_code": cf, "expires_at": until},
			"delegate_fiscal_code", "expires_at")
		if !ok {
			return err
		}
		return s.showPatientAgain(c, p, f, nil)
	}
	loc, err := p.Location()
	if err != nil {
		return err
	}
	if we := checkDelegate(cf, p, web.Actor(c)); we != nil {
		return again(we)
	}
	exp, err := time.ParseInLocation(time.DateOnly, until, loc)
	if err != nil {
		return again(web.Invalid("expires_at", "expires_at must be a date YYYY-MM-DD").Say("err_date"))
	}
	exp = exp.AddDate(0, 0, 1) // the end of the day chosen
	if !exp.After(s.deps.Clock()) {
		return again(web.Invalid("expires_at", "delegation expiry: must be in the future").Say("err_deleg_past"))
	}
	if _, err := s.deps.Consent.GrantDelegation(c.Request().Context(), web.Actor(c), p.ID, cf, exp); err != nil {
		return again(delegationPageError(err, s.deps.Consent.MaxDelegationYears()))
	}
	return seeOther(c, patientURL(p.PublicID, "delegation-granted", "delegations"))
}

// delegationPageError names the field and the text of a refusal of
// consent.Store.GrantDelegation (its ErrInvalid messages name the
// argument).
func delegationPageError(err error, maxYears int) error {
	e := delegationError(err)
	var we *web.Error
	if !errors.As(e, &we) || we.Status != http.StatusUnprocessableEntity {
		return e
	}
	switch msg := strings.ToLower(we.Message); {
	case strings.Contains(msg, "adult"):
		we.Say("err_deleg_minor")
	case strings.Contains(msg, "own delegate"):
		we.Say("err_deleg_self")
	case strings.Contains(msg, "delegate themself"):
		we.Say("err_deleg_rep")
	case strings.Contains(msg, "future"):
		we.Say("err_deleg_past")
	case strings.Contains(msg, "years ahead"):
		we.Say("err_deleg_far", maxYears)
	case strings.Contains(msg, "fiscal code"):
		we.Say("err_cf")
	default:
		we.Say("err_invalid")
	}
	we.Field = strings.TrimPrefix(we.Field, "/")
	return we
}

// postRevokeDelegation revokes a delegation from the page.
func (s *Server) postRevokeDelegation(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteDelegations)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("delegation"), 10, 64)
	if err != nil || id <= 0 {
		return web.NotFound("no such delegation")
	}
	if _, err := s.deps.Consent.RevokeDelegation(c.Request().Context(), web.Actor(c), p.ID, id); err != nil {
		return err
	}
	return seeOther(c, patientURL(p.PublicID, "delegation-revoked", "delegations"))
}

// conflictView is a reading time a file gave with different values, for
// a person to read.
type conflictView struct {
	Time, Kind, Kept, Dropped string
}

// conflictViews writes the conflicts in the patient's zone and language.
func conflictViews(cs []ConflictJSON, loc *time.Location, l locale.Lang) []conflictView {
	val := func(v ValueJSON) string {
		digits := 0
		if v.Unit == cgm.MmolL.String() {
			digits = 1
		}
		s := l.Number(v.Value, digits) + " " + v.Unit
		if v.Flag != "" {
			s = v.Flag
		}
		return s + " (" + strconv.Itoa(v.Line) + ")"
	}
	out := make([]conflictView, 0, len(cs))
	for _, c := range cs {
		cv := conflictView{Time: c.Time.In(loc).Format("02/01/2006 15:04:05"), Kind: l.T("tac_kind_" + c.Kind.String()), Kept: val(c.Kept)}
		var ds []string
		for _, d := range c.Dropped {
			ds = append(ds, val(d))
		}
		cv.Dropped = strings.Join(ds, ", ")
		out = append(out, cv)
	}
	return out
}

// postImport imports a file uploaded from the page and shows the
// page again with what happened next to the upload form: what the file
// held, or why it was refused and which lines, in the person's language.
func (s *Server) postImport(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	skip := c.FormValue("skip_invalid") != ""
	values := map[string]string{}
	if skip {
		values["skip_invalid"] = "true"
	}
	up, err := readUpload(c)
	if err != nil {
		f, ok := formError(l, "import", err, values, "file")
		if !ok {
			return err
		}
		return s.showPatientAgain(c, p, f, nil)
	}
	var out ImportJSON
	err = s.deps.Access(c, p, consent.ActWriteData, importDetail(up), func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.importFile(ctx, tx, p, up, l)
		return err
	})
	imp := &importView{Result: out}
	var lines []LineErrorJSON
	var f *form
	if err != nil {
		var we *web.Error
		if !errors.As(err, &we) || we.Status != http.StatusUnprocessableEntity {
			return err
		}
		f, _ = formError(l, "import", err, values, "file")
		f.Errors["file"] += " " + l.T("csv_file_again")
		lines, _ = we.Details.([]LineErrorJSON)
	} else {
		imp.Done = true
		lines = out.Rejected
		loc, _ := p.Location()
		imp.Conflicts = conflictViews(out.Conflicts, romeOr(loc), l)
	}
	for i, le := range lines {
		if i == maxListedLines {
			imp.More = len(lines) - maxListedLines
			break
		}
		imp.Lines = append(imp.Lines, lineViewOf(l, le))
	}
	return s.showPatientAgain(c, p, f, imp)
}

// lineViewOf says a rejected line in l: the reason from its code, or a
// generic one when it has none.
func lineViewOf(l locale.Lang, le LineErrorJSON) lineView {
	lv := lineView{Line: strconv.Itoa(le.Line), Field: le.Field, Value: le.Value, Reason: l.T("csv_line_other")}
	if le.Line == 0 {
		lv.Line = "—"
	}
	if key := "csv_" + le.Code; le.Code != "" && locale.Has(key) {
		args := make([]any, len(le.Args))
		for i, a := range le.Args {
			args[i] = a
		}
		lv.Reason = l.F(key, args...)
	}
	return lv
}

// trendName names a trend arrow for labels.
func trendName(t cgm.Trend) string {
	switch t {
	case cgm.TrendFallingFast:
		return "falling_fast"
	case cgm.TrendFalling:
		return "falling"
	case cgm.TrendStable:
		return "stable"
	case cgm.TrendRising:
		return "rising"
	case cgm.TrendRisingFast:
		return "rising_fast"
	}
	return ""
}
