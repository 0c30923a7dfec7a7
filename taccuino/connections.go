package taccuino

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// ConnectionJSON is a LibreLinkUp connection as the patient sees it (no
// credentials, tokens or sensor serial).
type ConnectionJSON struct {
	ID              string         `json:"id"`
	Mode            connsync.Mode  `json:"mode"`
	Account         string         `json:"account,omitempty"`
	State           connsync.State `json:"state"`
	CreatedAt       time.Time      `json:"created_at"`
	DisconnectedAt  *time.Time     `json:"disconnected_at"`
	LastSyncAt      *time.Time     `json:"last_sync_at"`
	LastSuccessAt   *time.Time     `json:"last_success_at"`
	NewestReadingAt *time.Time     `json:"newest_reading_at"`
	NextSyncAt      *time.Time     `json:"next_sync_at"`
	// Problem is what went wrong at the last sync, with what to do, in
	// Italian and English; null when the last sync worked.
	Problem  *ProblemJSON `json:"problem"`
	Syncs    int64        `json:"syncs"`
	Failures int64        `json:"failures"`
	Readings int64        `json:"readings"`
}

// ProblemJSON is a connection's current problem.
type ProblemJSON struct {
	Kind     string     `json:"kind"`
	AdviceIT string     `json:"advice_it"`
	AdviceEN string     `json:"advice_en"`
	At       time.Time  `json:"at"`
	RetryAt  *time.Time `json:"retry_at"`
}

func connectionJSON(c connsync.Connection) ConnectionJSON {
	out := ConnectionJSON{ID: c.ID, Mode: c.Mode, Account: c.Account, State: c.State, CreatedAt: c.CreatedAt,
		DisconnectedAt: timePtr(c.DisconnectedAt), LastSyncAt: timePtr(c.LastSyncAt), LastSuccessAt: timePtr(c.LastSuccessAt),
		NewestReadingAt: timePtr(c.NewestReadingAt), Syncs: c.Syncs, Failures: c.Failures, Readings: c.Readings}
	if c.State != connsync.StateDisconnected && c.State != connsync.StateBadCredentials {
		out.NextSyncAt = timePtr(c.NextSyncAt)
	}
	if p := c.Problem; p != nil {
		out.Problem = &ProblemJSON{Kind: p.Kind, AdviceIT: p.Advice.IT, AdviceEN: p.Advice.EN, At: p.At, RetryAt: timePtr(p.RetryAt)}
	}
	return out
}

// ConnectionsJSON is the answer of GET /patients/{id}/connections.
type ConnectionsJSON struct {
	Connections []ConnectionJSON `json:"connections"`
}

// ConnectRequest is the body of POST /patients/{id}/connections: the
// accepted privacy notice and the connection mode of the connectors
// (connsync): the patient's own LibreLinkUp login, or the sensor serial
// that binds the region's follower connection the patient shared from
// the LibreLink app.
type ConnectRequest struct {
	// PrivacyNoticeVersion must be the version the taccuino shows
	// (PrivacyNoticeVersion); its acceptance is recorded with the time.
	PrivacyNoticeVersion string `json:"privacy_notice_version"`
	// Mode is "patient" or "follower".
	Mode connsync.Mode `json:"mode"`
	// Email and Password: mode patient. Never logged nor returned.
	Email    string `json:"email,omitempty"`
	Password string `json:"password,omitempty"`
	// Serial: mode follower (required), or mode patient when the account
	// follows several people.
	Serial string `json:"serial,omitempty"`
}

// LogValue keeps the credentials out of logs.
func (r ConnectRequest) LogValue() slog.Value { return slog.StringValue("redacted") }

// errNoSync answers the connection routes of a service started without
// the sync.
func errNoSync() *web.Error {
	return web.NewError(http.StatusServiceUnavailable, web.CodeUnavailable,
		"sensor connections are not available on this service").Say("err_unavailable")
}

// connectionsOf lists the connections of p in tx.
func (s *Server) connectionsOf(ctx context.Context, tx pgx.Tx, p cgmstore.Patient) ([]ConnectionJSON, error) {
	cs, err := s.deps.Sync.Connections(ctx, tx, p.ID)
	if err != nil {
		return nil, err
	}
	out := make([]ConnectionJSON, len(cs))
	for i, c := range cs {
		out[i] = connectionJSON(c)
	}
	return out, nil
}

// apiListConnections lists the patient's sensor connections with their
// status and what to do about a problem.
func (s *Server) apiListConnections(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	if s.deps.Sync == nil {
		return errNoSync()
	}
	var out []ConnectionJSON
	err = s.deps.Access(c, p, consent.ActReadData, "sensor connections", func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.connectionsOf(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, ConnectionsJSON{Connections: out})
}

// connect records the privacy notice acceptance and connects the sensor,
// for the API and the page.
func (s *Server) connect(c *echo.Context, p cgmstore.Patient, req ConnectRequest) (ConnectionJSON, error) {
	l := web.Lang(c)
	if s.deps.Sync == nil {
		return ConnectionJSON{}, errNoSync()
	}
	if err := checkConnect(req, l); err != nil {
		// Answer a refusal before the invalid request: the gate decides
		// (and logs) first, and only a caller it allows learns what is
		// wrong.
		return ConnectionJSON{}, s.deps.Access(c, p, consent.ActWriteData, "connect sensor", func(context.Context, pgx.Tx) error {
			return err
		})
	}
	ctx := c.Request().Context()
	// The acceptance is the patient's act when submitting: it is recorded
	// even if LibreLinkUp then refuses the credentials.
	if _, err := s.deps.Consent.AcceptPrivacyNotice(ctx, web.Actor(c), p.ID, req.PrivacyNoticeVersion); err != nil {
		return ConnectionJSON{}, err
	}
	var conn connsync.Connection
	err := s.deps.Access(c, p, consent.ActWriteData, "connect sensor ("+string(req.Mode)+")", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if req.Mode == connsync.ModeFollower {
			conn, err = s.deps.Sync.Bind(ctx, tx, p.ID, connsync.BindRequest{Serial: req.Serial, Actor: web.Actor(c).String()})
		} else {
			conn, err = s.deps.Sync.Connect(ctx, tx, p.ID, connsync.ConnectRequest{Email: req.Email, Password: req.Password, Serial: req.Serial})
		}
		return syncError(err, l)
	})
	if err != nil {
		return ConnectionJSON{}, err
	}
	return connectionJSON(conn), nil
}

// checkConnect validates a connection request; the error wraps
// consent.ErrInvalid.
func checkConnect(req ConnectRequest, l locale.Lang) error {
	invalid := func(field, key string) error {
		return web.Invalid(field, l.T(key)).Say(key).Wrap(consent.ErrInvalid)
	}
	if req.PrivacyNoticeVersion != PrivacyNoticeVersion {
		e := web.Invalid("/privacy_notice_version", l.T("tac_privacy_required")+" ("+PrivacyNoticeVersion+")").
			Say("tac_privacy_required")
		return e.Wrap(consent.ErrInvalid)
	}
	switch req.Mode {
	case connsync.ModePatient:
		if req.Email == "" {
			return invalid("/email", "tac_email_required")
		}
		if req.Password == "" {
			return invalid("/password", "tac_password_required")
		}
	case connsync.ModeFollower:
		if req.Serial == "" {
			return invalid("/serial", "tac_serial_required")
		}
	default:
		return web.Invalid("/mode", "mode must be patient or follower").Say("err_choice").Wrap(consent.ErrInvalid)
	}
	return nil
}

// userErrorFields says which member of a connection request (a JSON
// pointer, and the field of the page's forms) each connsync.UserError code
// is about ("" for the request as a whole).
var userErrorFields = map[string]string{
	"bad_credentials": "/password", "email_invalid": "/email", "password_invalid": "/password", "serial_needed": "/serial",
	"serial_mismatch": "/serial", "serial_invalid": "/serial", "name_mismatch": "/serial", "already_connected": "/email",
	"identity_mismatch": "/email",
}

// syncError maps the errors of connsync to answers: its *UserError says
// what happened and what to do, in the request's language.
func syncError(err error, l locale.Lang) error {
	if err == nil {
		return nil
	}
	var ue *connsync.UserError
	if errors.As(err, &ue) {
		e := &web.Error{Status: http.StatusUnprocessableEntity, Code: web.CodeInvalid, Message: ue.Text.In(string(l)),
			Details: map[string]string{"reason": ue.Code}, Field: userErrorFields[ue.Code]}
		if key := "llu_" + ue.Code; locale.Has(key) {
			args := make([]any, len(ue.Args))
			for i, a := range ue.Args {
				args[i] = a
			}
			e.Say(key, args...)
		} else {
			e.Say("llu_refused")
		}
		switch {
		case errors.Is(err, connsync.ErrConflict):
			e.Status, e.Code = http.StatusConflict, web.CodeConflict
		case errors.Is(err, connsync.ErrNotFound):
			e.Status, e.Code = http.StatusNotFound, web.CodeNotFound
		}
		// The access log records "invalid-request" for refusals of the
		// caller's input.
		return e.Wrap(errors.Join(consent.ErrInvalid, err))
	}
	switch {
	case errors.Is(err, connsync.ErrNotFound):
		return web.NotFound("no such connection").Say("err_not_found").Wrap(errors.Join(consent.ErrNotFound, err))
	case errors.Is(err, connsync.ErrConflict):
		return web.NewError(http.StatusConflict, web.CodeConflict, "the connection cannot change now").Say("err_conflict").Wrap(err)
	case errors.Is(err, connsync.ErrInvalid):
		return web.Invalid("", "the request was refused").Say("llu_refused").Wrap(errors.Join(consent.ErrInvalid, err))
	}
	return err
}

// apiConnect connects a sensor (rate limited: it submits credentials).
func (s *Server) apiConnect(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	var req ConnectRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.connect(c, p, req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

// DisconnectJSON is the answer of DELETE /patients/{id}/connections/{connection}.
type DisconnectJSON struct {
	Connection      ConnectionJSON `json:"connection"`
	DeletedReadings int64          `json:"deleted_readings"`
}

// disconnect ends a connection; the readings it brought stay unless
// keepReadings is false.
func (s *Server) disconnect(c *echo.Context, p cgmstore.Patient, id string, keepReadings bool) (DisconnectJSON, error) {
	if s.deps.Sync == nil {
		return DisconnectJSON{}, errNoSync()
	}
	detail := "disconnect sensor, keep readings"
	if !keepReadings {
		detail = "disconnect sensor, delete its readings"
	}
	var res connsync.DisconnectResult
	err := s.deps.Access(c, p, consent.ActWriteData, detail, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		res, err = s.deps.Sync.Disconnect(ctx, tx, p.ID, id, !keepReadings)
		return syncError(err, web.Lang(c))
	})
	if err != nil {
		return DisconnectJSON{}, err
	}
	return DisconnectJSON{Connection: connectionJSON(res.Connection), DeletedReadings: res.DeletedReadings}, nil
}

// apiDisconnect ends a connection: syncing stops; ?keep_readings=false
// also deletes the readings it brought (default: they stay).
func (s *Server) apiDisconnect(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	keep := true
	switch c.QueryParam("keep_readings") {
	case "", "true", "1":
	case "false", "0":
		keep = false
	default:
		return web.Invalid("keep_readings", "keep_readings must be true or false")
	}
	out, err := s.disconnect(c, p, c.Param("connection"), keep)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}

// CredentialsRequest is the body of PUT
// /patients/{id}/connections/{connection}/credentials: the patient's
// LibreLinkUp login, changed (a new password, or the connection stopped at
// "bad credentials").
type CredentialsRequest struct {
	// Email and Password are never logged nor returned.
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LogValue keeps the credentials out of logs.
func (r CredentialsRequest) LogValue() slog.Value { return slog.StringValue("redacted") }

// updateCredentials replaces a connection's credentials after one login
// with them (connsync.Syncer.UpdateCredentials): refused credentials
// change nothing.
func (s *Server) updateCredentials(c *echo.Context, p cgmstore.Patient, id string, req CredentialsRequest) (ConnectionJSON, error) {
	l := web.Lang(c)
	return s.changeConnection(c, p, "update sensor credentials", func(ctx context.Context, tx pgx.Tx) (connsync.Connection, error) {
		// Checked inside the gate: only a caller it allows learns what is
		// wrong with the request.
		switch {
		case req.Email == "":
			return connsync.Connection{}, web.Invalid("/email", l.T("tac_email_required")).Say("tac_email_required").Wrap(consent.ErrInvalid)
		case req.Password == "":
			return connsync.Connection{}, web.Invalid("/password", l.T("tac_password_required")).Say("tac_password_required").Wrap(consent.ErrInvalid)
		}
		conn, err := s.deps.Sync.UpdateCredentials(ctx, tx, p.ID, id, connsync.ConnectRequest{Email: req.Email, Password: req.Password})
		return conn, syncError(err, l)
	})
}

// changeConnection runs change, a change of one of p's connections, as
// the caller's write access to p (logged as detail), and returns the
// connection as it is after.
func (s *Server) changeConnection(c *echo.Context, p cgmstore.Patient, detail string,
	change func(ctx context.Context, tx pgx.Tx) (connsync.Connection, error)) (ConnectionJSON, error) {
	if s.deps.Sync == nil {
		return ConnectionJSON{}, errNoSync()
	}
	var conn connsync.Connection
	err := s.deps.Access(c, p, consent.ActWriteData, detail, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		conn, err = change(ctx, tx)
		return err
	})
	if err != nil {
		return ConnectionJSON{}, err
	}
	return connectionJSON(conn), nil
}

// apiUpdateCredentials changes a connection's LibreLinkUp login (rate
// limited: it submits credentials).
func (s *Server) apiUpdateCredentials(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	var req CredentialsRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.updateCredentials(c, p, c.Param("connection"), req)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}

// syncNow makes a connection due at once (connsync.Syncer.SyncSoon): the
// patient completed the step the app asked for, or wants fresh data. A
// connection whose credentials were refused needs new ones instead, and
// stays as it is.
func (s *Server) syncNow(c *echo.Context, p cgmstore.Patient, id string) (ConnectionJSON, error) {
	return s.changeConnection(c, p, "sync sensor now", func(ctx context.Context, tx pgx.Tx) (connsync.Connection, error) {
		conn, err := s.deps.Sync.SyncSoon(ctx, tx, p.ID, id)
		return conn, syncError(err, web.Lang(c))
	})
}

// apiSyncNow asks for a sync of a connection at the next scheduler tick;
// 202 with the connection (next_sync_at says when).
func (s *Server) apiSyncNow(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	out, err := s.syncNow(c, p, c.Param("connection"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, out)
}

// connectionView is a connection on the patient's page.
type connectionView struct {
	ID, Mode, State, Since, LastSuccess, Newest, Advice string
	Active, Problem                                     bool
	// PatientMode: the patient's own login, which the page lets them
	// change; NeedsCredentials: it was refused, and a sync cannot help.
	PatientMode, NeedsCredentials bool
}

func connectionViewOf(c ConnectionJSON, loc *time.Location, l locale.Lang) connectionView {
	f := func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.In(loc).Format("02/01/2006 15:04")
	}
	v := connectionView{ID: c.ID, Mode: l.T("tac_mode_" + string(c.Mode)), State: l.T("tac_state_" + string(c.State)),
		Since: c.CreatedAt.In(loc).Format("02/01/2006 15:04"), LastSuccess: f(c.LastSuccessAt), Newest: f(c.NewestReadingAt),
		Active: c.State != connsync.StateDisconnected, PatientMode: c.Mode == connsync.ModePatient,
		NeedsCredentials: c.State == connsync.StateBadCredentials}
	if c.Problem != nil {
		v.Problem = true
		v.Advice = l.T(adviceKey(c.Mode, c.Problem.Kind))
	}
	return v
}

// adviceKey returns the catalogue key of what the person reads about a
// connection's problem of kind (connsync.Problem.Kind: a
// librelinkup.ErrorKind's name, a connsync.UserError code, "internal" or
// "backing off"): the connectors' advice is written for the operator as
// well; the page says what the person may do, in their language.
func adviceKey(mode connsync.Mode, kind string) string {
	follower := mode == connsync.ModeFollower
	switch kind {
	case librelinkup.KindBadCredentials.String():
		if follower {
			return "llu_adv_follower"
		}
		return "llu_adv_credentials"
	case librelinkup.KindStepRequired.String():
		if follower {
			return "llu_adv_follower"
		}
		return "llu_adv_step"
	case librelinkup.KindLocked.String():
		return "llu_adv_locked"
	case librelinkup.KindRateLimited.String(), librelinkup.KindHTMLPage.String(), librelinkup.KindMaintenance.String(), "backing off":
		return "llu_adv_wait"
	case librelinkup.KindVersionTooOld.String(), librelinkup.KindRequiredHeaderMissing.String(), librelinkup.KindWrongRegion.String():
		return "llu_adv_operator"
	case librelinkup.KindPatientNotFound.String():
		return "llu_adv_not_shared"
	case "identity_mismatch":
		return "llu_adv_identity"
	}
	if key := "llu_" + kind; locale.Has(key) && !strings.HasPrefix(kind, "adv_") {
		return key
	}
	return "llu_adv_retry"
}

// again shows the page of p with form name shown again, when err is about
// what the person typed; any other error is returned as it is.
func (s *Server) again(c *echo.Context, p cgmstore.Patient, name string, err error, values map[string]string, fields ...string) error {
	f, ok := formError(web.Lang(c), name, err, values, fields...)
	if !ok {
		return err
	}
	return s.showPatientAgain(c, p, f, nil)
}

// postConnect connects a sensor from the page's form; a refusal (wrong
// password, serial not found...) is shown next to the field, with what was
// typed but the password.
func (s *Server) postConnect(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	req := ConnectRequest{PrivacyNoticeVersion: c.FormValue("privacy_notice_version"), Mode: connsync.Mode(c.FormValue("mode")),
		Email: c.FormValue("email"), Password: c.FormValue("password"), Serial: c.FormValue("serial")}
	if _, err := s.connect(c, p, req); err != nil {
		name := "connect-patient"
		if req.Mode == connsync.ModeFollower {
			name = "connect-follower"
		}
		values := map[string]string{"email": req.Email, "serial": req.Serial}
		if req.PrivacyNoticeVersion != "" {
			values["privacy_notice_version"] = req.PrivacyNoticeVersion
		}
		return s.again(c, p, name, err, values, "email", "password", "serial", "privacy_notice_version")
	}
	return seeOther(c, patientURL(p.PublicID, "connected", "connection"))
}

// postDisconnect ends a connection from the page's form.
func (s *Server) postDisconnect(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	keep := c.FormValue("delete_readings") != "true"
	if _, err := s.disconnect(c, p, c.Param("connection"), keep); err != nil {
		return s.again(c, p, "conn-"+c.Param("connection"), err, nil)
	}
	return seeOther(c, patientURL(p.PublicID, "disconnected", "connection"))
}

// postCredentials changes a connection's LibreLinkUp login from the page;
// refused credentials are shown next to the field.
func (s *Server) postCredentials(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	req := CredentialsRequest{Email: c.FormValue("email"), Password: c.FormValue("password")}
	if _, err := s.updateCredentials(c, p, c.Param("connection"), req); err != nil {
		return s.again(c, p, "credentials-"+c.Param("connection"), err, map[string]string{"email": req.Email}, "email", "password")
	}
	return seeOther(c, patientURL(p.PublicID, "credentials-updated", "connection"))
}

// postSyncNow asks for a sync from the page.
func (s *Server) postSyncNow(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	if _, err := s.syncNow(c, p, c.Param("connection")); err != nil {
		return s.again(c, p, "conn-"+c.Param("connection"), err, nil)
	}
	return seeOther(c, patientURL(p.PublicID, "sync-requested", "connection"))
}
