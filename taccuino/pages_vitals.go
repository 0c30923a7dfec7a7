package taccuino

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// The page "Dati dispositivo mobile" (the region's design of the FSE):
// three blocks — Attività fisica (passi, calorie, distanza), Sonno (durata,
// qualità: sonno leggero e profondo in %), Salute del cuore (frequenza
// cardiaca, pressione) — over a period chosen as on the glucose page, the
// days one by one with a link to each day's view, the sources in the order
// that decides overlaps, and the upload of an export. The day view draws
// the glucose with the steps, the sleep and the pulse on one time axis.
// Clinicians with consent see the same pages, through the same gate.

// vitalsView is the page.
type vitalsView struct {
	ID, Name    string
	Caps        caps
	Msg         string
	MsgError    bool
	From, To    string
	PeriodLabel string
	Quick       []quickPeriod
	Activity    []figure
	Sleep       []figure
	Heart       []figure
	// SleepShares are the shares of light and deep sleep (and REM),
	// drawn as a bar.
	SleepShares []share
	Pressures   []pressureRow
	Days        []vitalsDayRow
	Sources     []sourceRow
	Empty       bool
}

type quickPeriod struct {
	Label, From, To string
	Current         bool
}

// figure is one figure of a block: a label, the value as a person reads
// it, and a note.
type figure struct {
	Label, Value, Note string
}

// share is one segment of the sleep bar.
type share struct {
	Class, Label, Percent string
	X, W                  string
}

type pressureRow struct {
	Time, Value string
}

type vitalsDayRow struct {
	Date, Link, Steps, Sleep, HR, BP string
}

type sourceRow struct {
	ID                  int64
	Name, Class, Device string
	Position            int
	First               bool
	Ranked              bool
	FirstSeen, LastSeen string
}

// pageVitals serves GET /taccuino/p/{id}/vitals.
func (s *Server) pageVitals(c *echo.Context) error {
	return s.renderVitals(c, "", false, http.StatusOK)
}

// renderVitals renders the page with a message (an import's outcome).
func (s *Server) renderVitals(c *echo.Context, msg string, msgError bool, status int) error {
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
	per, err := parsePeriod(c.QueryParam("from"), c.QueryParam("to"), now, loc, MaxPeriodDays)
	if err != nil {
		return err
	}
	cp, err := s.capsOf(ctx, c, p)
	if err != nil {
		return err
	}
	var days []vitals.Day
	var srcs cgmstore.VitalSources
	err = s.deps.Access(c, p, consent.ActReadData, "device measures "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if days, err = vitalsDays(ctx, tx, p, per); err != nil {
			return err
		}
		srcs, err = s.deps.Store.InTx(tx).VitalSources(ctx, p.ID)
		return err
	})
	if err != nil {
		return err
	}
	v := vitalsViewOf(p, days, srcs, per, now, loc, l)
	v.Caps, v.Msg, v.MsgError = cp, msg, msgError
	if m := c.QueryParam("msg"); m == "order-saved" && v.Msg == "" {
		v.Msg = l.T("vit_order_saved")
	}
	return s.render(c, status, "vitals", s.newView(c, "vit_page", v))
}

// vitalsViewOf builds the page's blocks from the days of the period.
func vitalsViewOf(p cgmstore.Patient, days []vitals.Day, srcs cgmstore.VitalSources, per period, now time.Time, loc *time.Location, l locale.Lang) vitalsView {
	v := vitalsView{ID: p.PublicID, Name: joinNonEmpty(" ", p.GivenName, p.FamilyName),
		From: per.From.Format(time.DateOnly), To: per.To.Format(time.DateOnly),
		PeriodLabel: per.From.Format("02/01/2006") + " – " + per.To.Format("02/01/2006")}
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	for _, n := range []int{7, 14, 30, 90} {
		q := quickPeriod{Label: fmt.Sprintf(l.T("vit_last_days"), n), From: today.AddDate(0, 0, -(n - 1)).Format(time.DateOnly), To: today.Format(time.DateOnly)}
		q.Current = q.From == v.From && q.To == v.To
		v.Quick = append(v.Quick, q)
	}
	ps := vitals.Summarize(days)
	has := ps.StepsDays+ps.DistanceDays+ps.KcalDays+ps.SleepDays+ps.HeartRateDays+ps.RestingDays+ps.Pressures > 0
	v.Empty = !has && len(srcs) == 0
	withDays := func(n int) string { return fmt.Sprintf(l.T("vit_days_with"), n) }
	if ps.StepsDays > 0 {
		v.Activity = append(v.Activity, figure{l.T("vit_steps"), l.Number(ps.MeanSteps, 0), l.T("vit_per_day") + ", " + withDays(ps.StepsDays)})
	}
	if ps.KcalDays > 0 {
		v.Activity = append(v.Activity, figure{l.T("vit_calories"), l.Number(ps.MeanActiveKcal, 0) + " kcal", l.T("vit_per_day") + ", " + withDays(ps.KcalDays)})
	}
	if ps.DistanceDays > 0 {
		v.Activity = append(v.Activity, figure{l.T("vit_distance"), l.Number(ps.MeanDistanceM/1000, 1) + " km", l.T("vit_per_day") + ", " + withDays(ps.DistanceDays)})
	}
	if ps.SleepDays > 0 {
		v.Sleep = append(v.Sleep, figure{l.T("vit_sleep_duration"), l.Duration(ps.MeanSleepMinutes), l.T("vit_per_night") + ", " + fmt.Sprintf(l.T("vit_nights_with"), ps.SleepDays)})
		asleep := ps.Stages.Asleep()
		if asleep > 0 {
			x := 0.0
			for _, st := range []struct {
				class, key string
				min        float64
			}{{"sl-light", "vit_light", ps.Stages.Light}, {"sl-deep", "vit_deep", ps.Stages.Deep}, {"sl-rem", "vit_rem", ps.Stages.REM},
				{"sl-asleep", "vit_unstaged", ps.Stages.Unspecified}} {
				if st.min <= 0 {
					continue
				}
				pct := 100 * st.min / asleep
				v.SleepShares = append(v.SleepShares, share{Class: st.class, Label: l.T(st.key), Percent: l.Percent(pct, 0),
					X: strconv.FormatFloat(x, 'f', 3, 64), W: strconv.FormatFloat(pct, 'f', 3, 64)})
				x += pct
			}
		}
	}
	if ps.HeartRateDays > 0 {
		v.Heart = append(v.Heart, figure{l.T("vit_hr"), l.Number(ps.HeartRateMean, 0) + " " + l.T("vit_bpm"),
			l.T("vit_hr_mean") + "; " + l.T("vit_hr_range") + " " + l.Number(ps.HeartRateMin, 0) + "–" + l.Number(ps.HeartRateMax, 0)})
	}
	if ps.RestingDays > 0 {
		v.Heart = append(v.Heart, figure{l.T("vit_hr") + " " + l.T("vit_hr_rest"), l.Number(ps.MeanResting, 0) + " " + l.T("vit_bpm"), withDays(ps.RestingDays)})
	}
	if ps.Pressures > 0 && ps.Last != nil {
		v.Heart = append(v.Heart, figure{l.T("vit_bp"), l.Number(ps.Last.Systolic, 0) + "/" + l.Number(ps.Last.Diastolic, 0) + " mmHg",
			l.T("vit_bp_last") + " " + localTime(ps.Last.Time, loc) + "; " + strconv.Itoa(ps.Pressures) + " " + l.T("vit_bp_count")})
	}
	for i := len(days) - 1; i >= 0; i-- {
		d := days[i]
		row := vitalsDayRow{Date: d.Date, Link: "/taccuino/p/" + p.PublicID + "/vitals/day?date=" + d.Date, Steps: "—", Sleep: "—", HR: "—", BP: "—"}
		if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
			row.Date = t.Format("02/01/2006")
		}
		if d.Steps != nil {
			row.Steps = l.Number(*d.Steps, 0)
		}
		if d.SleepMinutes != nil {
			row.Sleep = l.Duration(*d.SleepMinutes)
		}
		if hr := d.HeartRate; hr != nil && hr.Mean != nil {
			row.HR = l.Number(*hr.Mean, 0) + " (" + l.Number(*hr.Min, 0) + "–" + l.Number(*hr.Max, 0) + ")"
		}
		if n := len(d.BloodPressure); n > 0 {
			b := d.BloodPressure[n-1]
			row.BP = l.Number(b.Systolic, 0) + "/" + l.Number(b.Diastolic, 0)
		}
		v.Days = append(v.Days, row)
	}
	for _, d := range days {
		for _, b := range d.BloodPressure {
			v.Pressures = append(v.Pressures, pressureRow{Time: localTime(b.Time, loc), Value: l.Number(b.Systolic, 0) + "/" + l.Number(b.Diastolic, 0) + " mmHg"})
		}
	}
	for i, src := range srcs.Ordered() {
		v.Sources = append(v.Sources, sourceRow{ID: src.ID, Name: src.Name, Class: l.T("vit_class_" + src.Class.String()), Device: src.Device,
			Position: i + 1, First: i == 0, Ranked: src.Rank > 0,
			FirstSeen: src.FirstSeen.In(loc).Format("02/01/2006"), LastSeen: src.LastSeen.In(loc).Format("02/01/2006")})
	}
	return v
}

// localTime writes an RFC 3339 instant as local day and time.
func localTime(s string, loc *time.Location) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(loc).Format("02/01/2006 15:04")
}

// vitalsDayView is the day view.
type vitalsDayView struct {
	ID, Name         string
	Title            string
	Date, Prev, Next string
	Back             string
	Charts           []dayChartView
	Legend           []vitalsLegend
	Figures          []figure
	HasData          bool
}

// pageVitalsDay serves GET /taccuino/p/{id}/vitals/day?date=YYYY-MM-DD:
// the glucose, the steps per hour, the sleep and the pulse of one local
// day on one time axis (default today).
func (s *Server) pageVitalsDay(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	loc, err := p.Location()
	if err != nil {
		return err
	}
	date := c.QueryParam("date")
	if date == "" {
		date = s.deps.Clock().In(loc).Format(time.DateOnly)
	}
	per, err := parsePeriod(date, date, s.deps.Clock(), loc, 1)
	if err != nil {
		return err
	}
	var rs cgm.Series
	var ms []vitals.Measurement
	var srcs cgmstore.VitalSources
	var days []vitals.Day
	err = s.deps.Access(c, p, consent.ActReadData, "device measures and glucose "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		r := s.deps.Store.InTx(tx)
		var err error
		if rs, err = r.Readings(ctx, p.ID, per.Start, per.End, cgm.Historic); err != nil {
			return err
		}
		if ms, err = r.Measurements(ctx, p.ID, per.Start, per.End); err != nil {
			return err
		}
		if srcs, err = r.VitalSources(ctx, p.ID); err != nil {
			return err
		}
		days, err = vitalsDays(ctx, tx, p, per)
		return err
	})
	if err != nil {
		return err
	}
	rank := srcs.Ranking()
	v := vitalsDayView{ID: p.PublicID, Name: joinNonEmpty(" ", p.GivenName, p.FamilyName), Date: per.From.Format(time.DateOnly),
		Title: fmt.Sprintf(l.T("vit_day_title"), per.From.Format("02/01/2006")),
		Prev:  per.From.AddDate(0, 0, -1).Format(time.DateOnly), Next: per.From.AddDate(0, 0, 1).Format(time.DateOnly),
		Back:   "/taccuino/p/" + p.PublicID + "/vitals",
		Legend: dayLegend(l)}
	for _, g := range []struct {
		geo dayGeometry
		id  string
	}{{dayWide, "wide"}, {dayNarrow, "narrow"}} {
		cv := buildDayChart(rs, ms, per.Start, per.End, loc, rank, l, g.geo, g.id)
		v.Charts = append(v.Charts, cv)
		v.HasData = cv.HasData
	}
	if len(days) == 1 {
		d := days[0]
		if d.Steps != nil {
			v.Figures = append(v.Figures, figure{Label: l.T("vit_steps"), Value: l.Number(*d.Steps, 0)})
		}
		if d.SleepMinutes != nil {
			v.Figures = append(v.Figures, figure{Label: l.T("vit_sleep"), Value: l.Duration(*d.SleepMinutes)})
		}
		if hr := d.HeartRate; hr != nil && hr.Mean != nil {
			v.Figures = append(v.Figures, figure{Label: l.T("vit_hr"), Value: l.Number(*hr.Mean, 0) + " " + l.T("vit_bpm"),
				Note: l.T("vit_hr_range") + " " + l.Number(*hr.Min, 0) + "–" + l.Number(*hr.Max, 0)})
		}
		for _, b := range d.BloodPressure {
			v.Figures = append(v.Figures, figure{Label: l.T("vit_bp"), Value: l.Number(b.Systolic, 0) + "/" + l.Number(b.Diastolic, 0) + " mmHg", Note: localTime(b.Time, loc)})
		}
	}
	return s.render(c, http.StatusOK, "vitalsday", s.newView(c, "vit_page", v))
}

// postVitalsImport serves the upload form of the page.
func (s *Server) postVitalsImport(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	up, err := readVitalsUpload(c)
	if up.path != "" {
		defer os.Remove(up.path)
	}
	if err != nil {
		return err
	}
	var out VitalsImportJSON
	err = s.deps.Access(c, p, consent.ActWriteData, fmt.Sprintf("import device export (%d bytes)", up.size), func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.importVitals(ctx, tx, p, up, l)
		return err
	})
	var we *web.Error
	switch {
	case errors.As(err, &we) && we.Status == http.StatusUnprocessableEntity:
		msg := l.T("vit_not_imported") + " " + we.Message
		if ls, ok := we.Details.([]LineErrorJSON); ok {
			for i, le := range ls {
				if i == 10 {
					msg += fmt.Sprintf(" … (%d)", len(ls))
					break
				}
				msg += " · " + le.Reason
			}
		}
		return s.renderVitals(c, msg, true, http.StatusUnprocessableEntity)
	case err != nil:
		return err
	}
	return s.renderVitals(c, fmt.Sprintf(l.T("vit_imported"), l.T("vit_format_"+out.Format), out.Inserted, out.Duplicate, out.Revised), false, http.StatusOK)
}

// postVitalsSources puts a source first (form field "first", a source id)
// or restores the default order ("reset").
func (s *Server) postVitalsSources(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	reset := c.FormValue("reset") != ""
	var first int64
	if !reset {
		id, err := strconv.ParseInt(c.FormValue("first"), 10, 64)
		if err != nil || id <= 0 || id > math.MaxInt32 {
			return web.Invalid("first", "first must be a source id")
		}
		first = id
	}
	err = s.deps.Access(c, p, consent.ActWriteData, "device sources order", func(ctx context.Context, tx pgx.Tx) error {
		// The chosen source first, the others in the order they had.
		var order []int64
		if !reset {
			srcs, err := s.deps.Store.InTx(tx).VitalSources(ctx, p.ID)
			if err != nil {
				return err
			}
			order = []int64{first}
			for _, v := range srcs.Ordered() {
				if v.ID != first {
					order = append(order, v.ID)
				}
			}
		}
		if err := s.deps.Store.SetVitalRanking(ctx, tx, p.ID, order); err != nil {
			if errors.Is(err, cgmstore.ErrInvalid) {
				return web.Invalid("first", "not a source of this patient").Wrap(fmt.Errorf("%w: %w", consent.ErrInvalid, err))
			}
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return seeOther(c, "/taccuino/p/"+p.PublicID+"/vitals?msg=order-saved#sources")
}
