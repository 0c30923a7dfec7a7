package taccuino

import (
	"context"
	"errors"
	"fmt"

	"net/http"
	"strconv"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// homeView is the landing page.
type homeView struct {
	Role        auth.Role
	Represented []repView
	Patients    []repView
	// Activate offers to open the taccuino of a represented person with no
	// record yet.
}

type repView struct {
	ID, Name, FiscalCode, Basis, Until string
}

// pageHome lists the patients the caller may open.
func (s *Server) pageHome(c *echo.Context) error {
	if web.Principal(c) == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	l := web.Lang(c)
	me, err := s.me(c.Request().Context(), c)
	if err != nil {
		return err
	}
	hv := homeView{Role: me.Role}
	for _, r := range me.Represented {
		rv := repView{ID: r.ID, Name: r.Name, FiscalCode: r.FiscalCode, Basis: l.T("tac_basis_" + string(r.Basis))}
		if r.Until != nil {
			rv.Until = r.Until.In(romeOr(nil)).Format("02/01/2006")
		}
		hv.Represented = append(hv.Represented, rv)
	}
	for _, p := range me.Patients {
		pt, err := s.deps.Store.PatientByPublicID(c.Request().Context(), p.ID)
		if err != nil {
			return err
		}
		hv.Patients = append(hv.Patients, repView{ID: p.ID, Name: strings.TrimSpace(pt.GivenName + " " + pt.FamilyName)})
	}
	return s.render(c, http.StatusOK, "home", s.newView(c, "tac_home", hv))
}

// romeOr returns loc, or the default patient zone.
func romeOr(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	l, err := cgm.Zone(cgmstore.DefaultTimeZone)
	if err != nil {
		return time.UTC
	}
	return l
}

// postFind opens a patient's page from a fiscal code typed in a form (a
// POST, so that the code stays out of URLs and browser history).
func (s *Server) postFind(c *echo.Context) error {
	if err := s.deps.Lookups.Client(c); err != nil {
		return err
	}
	if web.Principal(c) == nil {
		return web.Unauthenticated(web.AuthError(c))
	}
	cf, ok := parseIdentifier(c.FormValue("fiscal_code"))
	if !ok {
		return web.Invalid("fiscal_code", web.Lang(c).T("tac_bad_cf"))
	}
	p, err := s.findPatient(c, cf)
	if err != nil {
		return err
	}
	return seeOther(c, patientURL(p.PublicID, "", ""))
}

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
	Caps            caps
	Msg             string
	From, To        string // period, YYYY-MM-DD
	PeriodLabel     string
	Latest          *latestView
	Metrics         *metricsView
	TIR             []tirBin
	Chart           chartView
	Daily           []dayView
	Status          statusView
	Consent         *consentView
	Delegations     []delegationView
	MinExpiry       string
	MaxExpiry       string
	AccessLog       []logView
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
}

type latestView struct {
	Value, Unit, Arrow, TrendLabel, Time, Age, Band, BandClass string
}

type metricsView struct {
	Mean, CV, GMI, Readings, Active, Sufficient, Days string
	CVStable                                          bool
	// GRI and GRIZone: the Glycemia Risk Index (Klonoff 2023) and its
	// zone A–E; empty without readings.
	GRI, GRIZone string
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

// pagePatient renders a patient's taccuino: latest glucose, metrics, time
// in ranges, chart, daily profiles, connection status and, for those who
// may, consent, delegations and the access log.
func (s *Server) pagePatient(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	l := web.Lang(c)
	loc, err := p.Location()
	if err != nil {
		return err
	}
	now := s.deps.Clock()
	per, err := parsePeriod(c.QueryParam("from"), c.QueryParam("to"), now, loc, MaxReadingsDays)
	if err != nil {
		return err
	}
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
		if pd.rs, err = r.Readings(ctx, p.ID, per.Start, per.End); err != nil {
			return err
		}
		ap := per.Period
		if pd.rep, err = agp.Compute(pd.rs, agp.Options{Patient: p.PublicID, Location: loc, Zone: p.TimeZone,
			Period: &ap, Daily: true}); err != nil {
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
		From: per.From.Format(time.DateOnly), To: per.To.Format(time.DateOnly),
		PeriodLabel: per.From.Format("02/01/2006") + " – " + per.To.Format("02/01/2006"),
		Privacy:     PrivacyNoticeVersion}
	if cp.Basis != "" {
		pv.Basis = l.T("tac_basis_" + string(cp.Basis))
	}
	if m := c.QueryParam("msg"); m != "" && isMessage(m) {
		pv.Msg = l.T("tac_msg_" + m)
	}
	pv.Latest = latestViewOf(pd.latest, now, loc, l)
	pv.Metrics = metricsViewOf(pd.rep, l)
	pv.TIR = buildTIR(pd.rep.TimeInRanges, l)
	pv.Chart = buildChart(pd.rs, per, loc, l)
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
	pv.Status = statusOf(pd.cov, now, loc, l)
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
			dv := delegationView{ID: d.ID, FiscalCode: d.DelegateFiscalCode, Until: d.ExpiresAt.In(loc).Format("02/01/2006 15:04"),
				Active: dj.Active}
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
		page, err := s.deps.Consent.AccessLog(ctx, a, p.ID, 50, "")
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			pv.AccessLog = append(pv.AccessLog, logViewOf(e, loc, l))
		}
	}
	title := "tac_taccuino"
	return s.render(c, http.StatusOK, "patient", s.newView(c, title, pv))
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
		lv.Age = fmt.Sprintf(l.T("tac_age_min"), int(age.Minutes()))
	case age < 48*time.Hour:
		lv.Age = fmt.Sprintf(l.T("tac_age_hours"), int(age.Hours()))
	default:
		lv.Age = fmt.Sprintf(l.T("tac_age_days"), int(age.Hours()/24))
	}
	switch bandOf(r.MgDL()) {
	case "ipoglicemia":
		lv.Band, lv.BandClass = l.T("hypo"), "band-hypo"
	case "normale":
		lv.Band, lv.BandClass = l.T("normal"), "band-normal"
	case "iperglicemia":
		lv.Band, lv.BandClass = l.T("hyper"), "band-hyper"
	default:
		lv.Band, lv.BandClass = l.T("tac_band_above_normal"), "band-between"
	}
	return lv
}

func metricsViewOf(rep agp.Report, l locale.Lang) *metricsView {
	if rep.MeanGlucose == nil {
		return nil
	}
	mv := &metricsView{Mean: l.Number(rep.MeanGlucose.MgDL, 0), Readings: strconv.Itoa(rep.Readings),
		Active: l.Percent(rep.ActivePercent, 0), Days: strconv.Itoa(rep.DaysWorn), CV: "—", GMI: "—"}
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
	mv.Sufficient = l.T("no")
	if rep.Sufficient {
		mv.Sufficient = l.T("yes")
	}
	return mv
}

// staleAfter is how long without readings makes the connection status a
// warning (LibreLinkUp uploads at least every few minutes while the phone
// is near the sensor).
const staleAfter = 24 * time.Hour

func statusOf(cov cgmstore.Coverage, now time.Time, loc *time.Location, l locale.Lang) statusView {
	if cov.Count == 0 {
		return statusView{Label: l.T("tac_status_none"), Todo: l.T("tac_todo_none")}
	}
	sv := statusView{Last: cov.Last.In(loc).Format("02/01/2006 15:04"), Count: strconv.FormatInt(cov.Count, 10)}
	if now.Sub(cov.Last) > staleAfter {
		sv.Label, sv.Todo = l.T("tac_status_stale"), l.T("tac_todo_stale")
		return sv
	}
	sv.Label, sv.Todo, sv.OK = l.T("tac_status_ok"), l.T("tac_todo_ok"), true
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
		Detail: e.Detail, Outcome: l.T("tac_out_" + string(e.Outcome)), Denied: e.Outcome != consent.OutcomeAllowed}
	if e.Basis != "" {
		lv.Basis = l.T("tac_basis_" + string(e.Basis))
	}
	if e.Outcome != consent.OutcomeAllowed {
		lv.Reason = l.T("tac_reason_" + string(e.Reason))
	}
	if e.Count > 1 {
		lv.Repeated = fmt.Sprintf(l.T("tac_repeated"), e.Count, e.LastAt.In(loc).Format("15:04:05"))
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
		return web.Invalid("granted", "granted must be true or false")
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

// postGrantDelegation delegates an adult from the page.
func (s *Server) postGrantDelegation(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteDelegations)
	if err != nil {
		return err
	}
	loc, err := p.Location()
	if err != nil {
		return err
	}
	exp, err := parseExpiry(c.FormValue("expires_at"), loc)
	if err != nil {
		return err
	}
	if _, err := s.deps.Consent.GrantDelegation(c.Request().Context(), web.Actor(c), p.ID,
		c.FormValue("delegate_fiscal_code"), exp); err != nil {
		return delegationError(err)
	}
	return seeOther(c, patientURL(p.PublicID, "delegation-granted", "delegations"))
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

// importView is the result page of an upload.
type importView struct {
	ID        string
	Result    ImportJSON
	Failed    bool
	Error     string
	Lines     []LineErrorJSON
	Conflicts []conflictView
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
		return fmt.Sprintf("%s (%d)", s, v.Line)
	}
	out := make([]conflictView, 0, len(cs))
	for _, c := range cs {
		cv := conflictView{Time: c.Time.In(loc).Format("02/01/2006 15:04:05"), Kind: c.Kind.String(), Kept: val(c.Kept)}
		var ds []string
		for _, d := range c.Dropped {
			ds = append(ds, val(d))
		}
		cv.Dropped = strings.Join(ds, ", ")
		out = append(out, cv)
	}
	return out
}

// postImport imports a file uploaded from the page and shows what
// happened.
func (s *Server) postImport(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	up, err := readUpload(c)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	var out ImportJSON
	err = s.deps.Access(c, p, consent.ActWriteData, importDetail(up), func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.importFile(ctx, tx, p, up, l)
		return err
	})
	loc, _ := p.Location()
	iv := importView{ID: p.PublicID, Result: out, Conflicts: conflictViews(out.Conflicts, romeOr(loc), l)}
	var we *web.Error
	if err != nil {
		if !errors.As(err, &we) || we.Status != http.StatusUnprocessableEntity {
			return err
		}
		iv.Failed, iv.Error = true, we.Message
		if ls, ok := we.Details.([]LineErrorJSON); ok {
			iv.Lines = ls
		}
	} else {
		iv.Lines = out.Rejected
	}
	status := http.StatusOK
	if iv.Failed {
		status = http.StatusUnprocessableEntity
	}
	return s.render(c, status, "import", s.newView(c, "tac_import", iv))
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
