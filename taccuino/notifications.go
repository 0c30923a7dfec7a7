package taccuino

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/notify"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// NotificationsRequest is the body of PUT .../notifications.
type NotificationsRequest struct {
	// Email is the address to notify (not needed with mode "off").
	Email string `json:"email"`
	// Mode is "each", "daily" or "off".
	Mode string `json:"mode"`
	// Lang is the language of the messages, "it" or "en"; by default the
	// request's language.
	Lang string `json:"lang,omitempty"`
}

// NotificationsJSON is the state of a patient's access notifications.
// Addresses are masked (m***@e***.org).
type NotificationsJSON struct {
	// State is none, pending (a new address waits for its link to be
	// opened), confirmed or bounced (refused by the mail server: nothing
	// is sent until an address is confirmed again).
	State notify.State `json:"state"`
	// Email, Mode and Lang are the pending change's when pending, else
	// those in force.
	Email string      `json:"email,omitempty"`
	Mode  notify.Mode `json:"mode"`
	Lang  locale.Lang `json:"lang"`
	// ConfirmationExpiresAt is when the pending link stops working.
	ConfirmationExpiresAt *time.Time `json:"confirmation_expires_at,omitempty"`
	// InForce is the confirmed address still in force while a change is
	// pending.
	InForce *NotificationsInForceJSON `json:"in_force,omitempty"`
	// ConfirmedAt, BouncedAt: when the address in force was confirmed,
	// refused.
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	BouncedAt   *time.Time `json:"bounced_at,omitempty"`
}

// NotificationsInForceJSON is the confirmed address in force.
type NotificationsInForceJSON struct {
	Email string      `json:"email"`
	Mode  notify.Mode `json:"mode"`
}

func notificationsJSON(st notify.Settings) NotificationsJSON {
	j := NotificationsJSON{State: st.State, Mode: st.Mode, Lang: st.Lang, ConfirmedAt: timePtr(st.ConfirmedAt),
		BouncedAt: timePtr(st.BouncedAt)}
	if st.Email != "" {
		j.Email = notify.MaskEmail(st.Email)
	}
	if p := st.Pending; p != nil {
		if st.Email != "" {
			j.InForce = &NotificationsInForceJSON{Email: j.Email, Mode: st.Mode}
		}
		j.Email, j.Mode, j.Lang, j.ConfirmationExpiresAt = notify.MaskEmail(p.Email), p.Mode, p.Lang, timePtr(p.ExpiresAt)
	}
	return j
}

// errNoMail answers the notification routes of a service without SMTP.
func errNoMail(l locale.Lang) error {
	return web.NewError(http.StatusServiceUnavailable, web.CodeUnavailable, l.T("ntf_unavailable"))
}

// apiGetNotifications serves the state of the patient's notifications.
func (s *Server) apiGetNotifications(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadNotifications)
	if err != nil {
		return err
	}
	if s.deps.Notify == nil {
		return errNoMail(web.Lang(c))
	}
	st, err := s.deps.Notify.Store.Settings(c.Request().Context(), web.Actor(c), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, notificationsJSON(st))
}

// apiPutNotifications sets the address and mode: 202 when a confirmation
// e-mail went to a new address, 200 when the change took effect at once
// (off, or a mode change on the confirmed address).
func (s *Server) apiPutNotifications(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteNotifications)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	if s.deps.Notify == nil {
		return errNoMail(l)
	}
	var req NotificationsRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	ch, err := s.requestNotifications(c, p.ID, req, l, "/")
	if err != nil {
		return err
	}
	status := http.StatusOK
	if ch.Settings.State == notify.StatePending {
		status = http.StatusAccepted
	}
	return c.JSON(status, notificationsJSON(ch.Settings))
}

// requestNotifications makes the change and maps its errors; prefix is
// "/" for JSON pointers, "" for form fields.
func (s *Server) requestNotifications(c *echo.Context, patientID int64, req NotificationsRequest, l locale.Lang, prefix string) (notify.Change, error) {
	lang := l
	switch req.Lang {
	case "":
	case "it", "en":
		lang = locale.Lang(req.Lang)
	default:
		return notify.Change{}, web.Invalid(prefix+"lang", "lang must be it or en")
	}
	ch, err := s.deps.Notify.Request(c.Request().Context(), web.Actor(c), patientID,
		notify.Request{Email: req.Email, Mode: notify.Mode(req.Mode), Lang: lang})
	var sf *notify.SendFailure
	switch {
	case err == nil:
		return ch, nil
	case errors.As(err, &sf) && sf.Refused:
		return ch, web.Invalid(prefix+"email", l.T("ntf_refused")).Wrap(err)
	case errors.As(err, &sf):
		if prefix == "" { // the page: a form error the person can go back from
			return ch, web.Invalid("email", l.T("ntf_send_failed")).Wrap(err)
		}
		return ch, web.NewError(http.StatusServiceUnavailable, web.CodeUnavailable, l.T("ntf_send_failed")).Wrap(err)
	case errors.Is(err, notify.ErrInvalid):
		field := "email"
		if strings.Contains(err.Error(), ": mode ") {
			field = "mode"
		}
		return ch, web.Invalid(prefix+field, strings.TrimPrefix(err.Error(), "notify: invalid: ")).Wrap(err)
	}
	return ch, err
}

// notificationsView is the settings block of the patient's page.
type notificationsView struct {
	// State is the sentence saying where notifications go.
	State string
	// OK: notifications are sent.
	OK bool
	// Email and Mode prefill the form.
	Email, Mode string
	Modes       []modeOption
}

type modeOption struct {
	Value, Label string
}

func notificationsViewOf(st notify.Settings, loc *time.Location, l locale.Lang) *notificationsView {
	v := &notificationsView{Email: st.Email, Mode: string(st.Mode)}
	if v.Mode == "" || v.Mode == string(notify.ModeOff) {
		v.Mode = string(notify.ModeEach)
	}
	mode := func(m notify.Mode) string { return l.T("ntf_mode_" + string(m)) }
	switch {
	case st.Pending != nil:
		v.State = fmt.Sprintf(l.T("ntf_state_pending"), notify.MaskEmail(st.Pending.Email), mode(st.Pending.Mode),
			st.Pending.ExpiresAt.In(loc).Format("02/01/2006 15:04"))
		v.Email, v.Mode = st.Pending.Email, string(st.Pending.Mode)
	case st.State == notify.StateBounced:
		v.State = fmt.Sprintf(l.T("ntf_state_bounced"), notify.MaskEmail(st.Email))
	case st.State == notify.StateConfirmed && st.Mode == notify.ModeOff:
		v.State = fmt.Sprintf(l.T("ntf_state_off"), notify.MaskEmail(st.Email))
	case st.State == notify.StateConfirmed:
		v.State, v.OK = fmt.Sprintf(l.T("ntf_state_confirmed"), notify.MaskEmail(st.Email), mode(st.Mode)), true
	default:
		v.State = l.T("ntf_state_none")
	}
	for _, m := range []notify.Mode{notify.ModeEach, notify.ModeDaily, notify.ModeOff} {
		v.Modes = append(v.Modes, modeOption{Value: string(m), Label: mode(m)})
	}
	return v
}

// notificationsBlock reads the settings for the patient's page.
func (s *Server) notificationsBlock(ctx context.Context, c *echo.Context, patientID int64, loc *time.Location) (*notificationsView, error) {
	if s.deps.Notify == nil {
		return nil, nil
	}
	st, err := s.deps.Notify.Store.Settings(ctx, web.Actor(c), patientID)
	if err != nil {
		return nil, err
	}
	return notificationsViewOf(st, loc, web.Lang(c)), nil
}

// postNotifications sets the address from the page's form.
func (s *Server) postNotifications(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteNotifications)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	if s.deps.Notify == nil {
		return errNoMail(l)
	}
	ch, err := s.requestNotifications(c, p.ID, NotificationsRequest{Email: c.FormValue("email"), Mode: c.FormValue("mode")}, l, "")
	if err != nil {
		return err
	}
	msg := "notifications-saved"
	if ch.Settings.State == notify.StatePending {
		msg = "notifications-sent"
	}
	return seeOther(c, patientURL(p.PublicID, msg, "notifications"))
}

// confirmView is the confirmation page.
type confirmView struct {
	Message string
	OK      bool
	// Patient is the public id of the patient's page, when confirmed.
	Patient string
}

// pageConfirmNotifications opens a confirmation link (no login needed: the
// token is the proof).
func (s *Server) pageConfirmNotifications(c *echo.Context) error {
	l := web.Lang(c)
	if s.deps.Notify == nil {
		return errNoMail(l)
	}
	cf, err := s.deps.Notify.Store.Confirm(c.Request().Context(), c.QueryParam("token"), web.RequestIDOf(c))
	var v confirmView
	status := http.StatusOK
	switch {
	case err == nil:
		v = confirmView{OK: true, Patient: cf.PublicID, Message: fmt.Sprintf(l.T("ntf_confirm_done"),
			notify.MaskEmail(cf.Settings.Email), l.T("ntf_mode_"+string(cf.Settings.Mode)))}
	case errors.Is(err, notify.ErrExpired):
		v, status = confirmView{Message: l.T("ntf_confirm_expired")}, http.StatusGone
	case errors.Is(err, notify.ErrToken):
		v, status = confirmView{Message: l.T("ntf_confirm_invalid")}, http.StatusNotFound
	default:
		return err
	}
	return s.render(c, status, "confirm", s.newView(c, "ntf_confirm_title", v))
}

// devMailView is the development mailbox.
type devMailView struct {
	Messages []devMailMessage
}

type devMailMessage struct {
	From, To, Subject, Received, Body, MessageID string
}

// pageDevMail shows what the in-process SMTP receiver of 'fsecgm serve
// --dev' received (development mode only), newest first.
func (s *Server) pageDevMail(c *echo.Context) error {
	var v devMailView
	ms := s.deps.DevMail.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		v.Messages = append(v.Messages, devMailMessage{From: m.From, To: strings.Join(m.To, ", "), Subject: m.Subject,
			Received: m.Received.In(romeOr(nil)).Format("02/01/2006 15:04:05"), Body: m.Body, MessageID: m.MessageID})
	}
	return s.render(c, http.StatusOK, "devmail", s.newView(c, "ntf_devmail_title", v))
}
