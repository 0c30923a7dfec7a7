package taccuino

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/nightscout"
	"fsecgm/connectors/nightscout/nsupload"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// The Nightscout-compatible upload door (issue 17): a patient creates an
// uploader (POST /api/v1/patients/{id}/uploaders) and gives its URL,
// https://SECRET@host/nightscout/{uploader}, to an app that uploads to a
// Nightscout site (xDrip+, Juggluco, AndroidAPS). The app then speaks
// Nightscout's API v1 (cgm-remote-monitor, lib/server/swagger.yaml) under
// that base, with the header api-secret holding the SHA-1 of SECRET:
//
//   - POST /api/v1/entries: an array of entries (or one): the sgv and mbg
//     entries are stored under the patient (cgmstore.SourceNightscout);
//   - GET /api/v1/entries.json (and /entries, /entries/sgv.json): the
//     patient's readings as entries, newest first, ?count= (10 by
//     default, at most 1000) and find[date][$gt|$gte|$lt|$lte];
//   - GET /api/v1/status.json (and /status): the site's status, so that
//     the app accepts the site;
//   - GET /api/v1/verifyauth: whether the secret is accepted;
//   - treatments, device status and profiles: out of scope, answered 200
//     and stored nothing.
//
// Every request without the right secret is answered 401 as Nightscout
// answers it, stores nothing and, when the uploader exists, is written in
// its patient's access log (refused, unauthenticated); uploads and reads
// are written there too (consent.BasisUploader). The door is rate limited
// per client address as the login is.

// nsVersion is the Nightscout version the door answers as: the apps check
// that the site is recent enough (AndroidAPS asks for 15 or later).
const nsVersion = "15.0.2"

// UploaderRequest is the body of POST /patients/{id}/uploaders.
type UploaderRequest struct {
	// Label is what the patient calls the app ("xDrip+ sul telefono").
	Label string `json:"label"`
}

// UploaderCreatedJSON is the answer of POST /patients/{id}/uploaders:
// the uploader and its URL, with the secret, shown this once.
type UploaderCreatedJSON struct {
	nsupload.Uploader
	// URL is the Nightscout base URL to give the app, with the secret:
	// https://SECRET@host/nightscout/{id}.
	URL string `json:"url"`
}

// UploadersJSON is the answer of GET /patients/{id}/uploaders.
type UploadersJSON struct {
	Uploaders []nsupload.Uploader `json:"uploaders"`
}

// uploaderError maps nsupload's errors to answers.
func uploaderError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nsupload.ErrInvalid):
		return web.Invalid("/label", strings.TrimPrefix(err.Error(), "nsupload: invalid request: ")).Wrap(errors.Join(consent.ErrInvalid, err))
	case errors.Is(err, nsupload.ErrNotFound):
		return web.NotFound("no such uploader").Wrap(errors.Join(consent.ErrNotFound, err))
	}
	return err
}

// baseURL is the service's external URL: Deps.BaseURL, or the request's
// origin.
func (s *Server) baseURL(c *echo.Context) string {
	if s.deps.BaseURL != "" {
		return s.deps.BaseURL
	}
	return c.Scheme() + "://" + c.Request().Host
}

// createUploader creates an uploader of p as the caller's write access.
func (s *Server) createUploader(c *echo.Context, p cgmstore.Patient, label string) (UploaderCreatedJSON, error) {
	var out UploaderCreatedJSON
	err := s.deps.Access(c, p, consent.ActWriteData, "create Nightscout uploader", func(ctx context.Context, tx pgx.Tx) error {
		u, secret, err := nsupload.Create(ctx, tx, p.ID, label)
		if err != nil {
			return uploaderError(err)
		}
		url, err := nsupload.URL(s.baseURL(c), u.ID, secret)
		if err != nil {
			return err
		}
		out = UploaderCreatedJSON{Uploader: u, URL: url}
		return nil
	})
	return out, err
}

// revokeUploader revokes an uploader of p as the caller's write access.
func (s *Server) revokeUploader(c *echo.Context, p cgmstore.Patient, id string) (nsupload.Uploader, error) {
	var out nsupload.Uploader
	err := s.deps.Access(c, p, consent.ActWriteData, "revoke Nightscout uploader", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		out, err = nsupload.Revoke(ctx, tx, p.ID, id)
		return uploaderError(err)
	})
	return out, err
}

// uploadersOf lists p's uploaders in tx.
func uploadersOf(ctx context.Context, tx pgx.Tx, p cgmstore.Patient) ([]nsupload.Uploader, error) {
	us, err := nsupload.List(ctx, tx, p.ID)
	if us == nil {
		us = []nsupload.Uploader{}
	}
	return us, err
}

// apiCreateUploader creates an uploader: 201 with its URL, secret
// included, shown once (rate limited as credentials are).
func (s *Server) apiCreateUploader(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	var req UploaderRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.createUploader(c, p, req.Label)
	if err != nil {
		return err
	}
	web.NoCache(c)
	return c.JSON(http.StatusCreated, out)
}

// apiListUploaders lists the patient's uploaders (never their secrets).
func (s *Server) apiListUploaders(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	var out []nsupload.Uploader
	err = s.deps.Access(c, p, consent.ActReadData, "Nightscout uploaders", func(ctx context.Context, tx pgx.Tx) error {
		out, err = uploadersOf(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, UploadersJSON{Uploaders: out})
}

// apiRevokeUploader revokes an uploader: its secret is refused from now
// on; the readings it brought stay.
func (s *Server) apiRevokeUploader(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	out, err := s.revokeUploader(c, p, c.Param("uploader"))
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}

// registerDoor registers the door's routes on g, the group of
// /nightscout/:uploader.
func (s *Server) registerDoor(g *echo.Group) {
	g.POST("/api/v1/entries", s.doorPostEntries)
	g.POST("/api/v1/entries.json", s.doorPostEntries)
	for _, p := range []string{"/api/v1/entries", "/api/v1/entries.json", "/api/v1/entries/sgv", "/api/v1/entries/sgv.json"} {
		g.GET(p, s.doorGetEntries)
	}
	g.GET("/api/v1/status", s.doorStatus)
	g.GET("/api/v1/status.json", s.doorStatus)
	g.GET("/api/v1/verifyauth", s.doorVerifyAuth)
	// Out of scope (issue 17): accepted with 200, nothing stored.
	for _, p := range []string{"treatments", "devicestatus", "profile", "food", "activity"} {
		for _, path := range []string{"/api/v1/" + p, "/api/v1/" + p + ".json"} {
			g.GET(path, s.doorIgnore)
			g.POST(path, s.doorIgnore)
			g.PUT(path, s.doorIgnore)
		}
	}
}

// nsUnauthorized is Nightscout's answer to a request without the right
// secret (lib/authorization, sendJSONStatus).
func nsUnauthorized(c *echo.Context) error {
	return c.JSON(http.StatusUnauthorized, map[string]any{"status": http.StatusUnauthorized,
		"message": "Unauthorized", "description": "Invalid/Missing"})
}

// errDoorRefused is returned by doorAuth after it answered 401.
var errDoorRefused = errors.New("taccuino: door: refused")

// doorAuth checks the api-secret header against the uploader of the path.
// It answers 401 itself (and returns errDoorRefused) for an unknown
// uploader, a wrong or missing secret or a revoked uploader, the last two
// written in the patient's access log as act.
func (s *Server) doorAuth(c *echo.Context, act consent.Action, what string) (nsupload.Uploader, error) {
	ctx := c.Request().Context()
	id := c.Param("uploader")
	u, err := nsupload.Authenticate(ctx, s.deps.Pool, id, c.Request().Header.Get("api-secret"))
	switch {
	case err == nil:
		return u, nil
	case errors.Is(err, nsupload.ErrNotFound):
		return u, errors.Join(errDoorRefused, nsUnauthorized(c))
	case errors.Is(err, nsupload.ErrUnauthorized), errors.Is(err, nsupload.ErrRevoked):
		why := "wrong or missing secret"
		if errors.Is(err, nsupload.ErrRevoked) {
			why = "revoked uploader"
		}
		if lerr := s.deps.Consent.LogDenied(ctx, u.PatientID, act, "Nightscout "+what+" ("+u.ID+"): "+why, web.Actor(c)); lerr != nil {
			return u, lerr
		}
		return u, errors.Join(errDoorRefused, nsUnauthorized(c))
	}
	return u, err
}

// doorDone turns doorAuth's errDoorRefused (answered already) into nil.
func doorDone(err error) error {
	if errors.Is(err, errDoorRefused) {
		return nil
	}
	return err
}

// doorPostEntries stores the sgv and mbg entries of the body under the
// uploader's patient: all or, when one cannot be used, none (400 naming
// it, so that the app keeps the batch and nothing is half-written).
func (s *Server) doorPostEntries(c *echo.Context) error {
	u, err := s.doorAuth(c, consent.ActWriteData, "upload")
	if err != nil {
		return doorDone(err)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
		body = append(append([]byte{'['}, t...), ']') // one entry
	}
	f, err := nightscout.Parse(bytes.NewReader(body), "entries")
	if err != nil {
		return web.NewError(http.StatusBadRequest, web.CodeBadRequest, strings.TrimPrefix(err.Error(), "nightscout: "))
	}
	if len(f.Rejected) > 0 {
		return web.NewError(http.StatusBadRequest, web.CodeBadRequest,
			fmt.Sprintf("%d entries cannot be used, nothing was stored; the first: %v", len(f.Rejected), f.Rejected[0]))
	}
	var res cgmstore.Result
	if len(f.Readings) > 0 {
		err = pgx.BeginFunc(c.Request().Context(), s.deps.Pool, func(tx pgx.Tx) error {
			ctx := c.Request().Context()
			var err error
			res, err = s.deps.Store.IngestTx(ctx, tx, cgmstore.Batch{Patient: u.PatientID, Source: cgmstore.SourceNightscout, Readings: f.Readings})
			if err != nil {
				return err
			}
			if res.Rejected > 0 {
				return web.NewError(http.StatusBadRequest, web.CodeBadRequest,
					fmt.Sprintf("%d entries cannot be used, nothing was stored; the first: %v", res.Rejected, res.Rejections[0]))
			}
			if err := nsupload.Uploaded(ctx, tx, u.ID, res.Inserted+res.Revised+res.Duplicate, s.deps.Clock()); err != nil {
				return err
			}
			return s.deps.Consent.LogUploader(ctx, tx, u.PatientID, consent.ActWriteData, u.Label, "Nightscout upload ("+u.ID+")", web.Actor(c))
		})
		if err != nil {
			return err
		}
	}
	out := make([]nsEntry, len(f.Readings))
	for i, r := range f.Readings {
		out[i] = entryOf(r)
	}
	return c.JSON(statusOK, out)
}

// nsEntry is an entry as Nightscout's API v1 answers it.
type nsEntry struct {
	ID         string  `json:"_id"`
	Type       string  `json:"type"`
	SGV        *int    `json:"sgv,omitempty"`
	MBG        *int    `json:"mbg,omitempty"`
	Date       int64   `json:"date"`
	DateString string  `json:"dateString"`
	SysTime    string  `json:"sysTime"`
	Direction  string  `json:"direction,omitempty"`
	Device     string  `json:"device"`
	UTCOffset  int     `json:"utcOffset"`
	Mills      int64   `json:"mills"`
	Noise      float64 `json:"noise,omitempty"`
}

// direction is the Nightscout direction of a trend (the inverse of
// nightscout.Trend).
func direction(t cgm.Trend) string {
	switch t {
	case cgm.TrendFallingFast:
		return "SingleDown"
	case cgm.TrendFalling:
		return "FortyFiveDown"
	case cgm.TrendStable:
		return "Flat"
	case cgm.TrendRising:
		return "FortyFiveUp"
	case cgm.TrendRisingFast:
		return "SingleUp"
	}
	return "NONE"
}

// entryOf returns the entry of a reading: sgv for sensor readings, mbg
// for strips, in whole mg/dL as Nightscout keeps them.
func entryOf(r cgm.Reading) nsEntry {
	ms := r.Time.UnixMilli()
	v := int(math.Round(r.MgDL()))
	e := nsEntry{Type: "sgv", Date: ms, Mills: ms, DateString: r.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		Device: r.Device, Direction: direction(r.Trend)}
	e.SysTime = e.DateString
	if e.Device == "" {
		e.Device = "fsecgm"
	}
	if r.Kind == cgm.Strip {
		e.Type, e.MBG, e.Direction = "mbg", &v, ""
	} else {
		e.SGV = &v
	}
	// A stable id per reading: kind and instant.
	e.ID = fmt.Sprintf("%08x%016x", uint32(r.Kind), uint64(r.Time.UnixMicro()))
	return e
}

// Limits of GET entries.
const (
	nsDefaultCount = 10
	nsMaxCount     = 1000
)

// doorGetEntries answers the patient's readings as entries, newest first.
func (s *Server) doorGetEntries(c *echo.Context) error {
	u, err := s.doorAuth(c, consent.ActReadData, "entries")
	if err != nil {
		return doorDone(err)
	}
	count := nsDefaultCount
	if v := c.QueryParam("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return web.NewError(http.StatusBadRequest, web.CodeBadRequest, "count must be a positive whole number")
		}
		count = min(n, nsMaxCount)
	}
	now := s.deps.Clock()
	to := now.Add(time.Hour)
	var from time.Time
	for _, op := range []string{"$gt", "$gte", "$lt", "$lte"} {
		v := c.QueryParam("find[date][" + op + "]")
		if v == "" {
			continue
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return web.NewError(http.StatusBadRequest, web.CodeBadRequest, "find[date]["+op+"] must be milliseconds since 1970")
		}
		t := time.UnixMilli(ms)
		switch op {
		case "$gt":
			from = t.Add(time.Millisecond)
		case "$gte":
			from = t
		case "$lt":
			to = t
		case "$lte":
			to = t.Add(time.Millisecond)
		}
	}
	kinds := []cgm.Kind{cgm.Historic}
	if strings.Contains(c.Path(), "/entries.json") || strings.HasSuffix(c.Path(), "/entries") {
		kinds = append(kinds, cgm.Strip)
	}
	var rs cgm.Series
	err = pgx.BeginFunc(c.Request().Context(), s.deps.Pool, func(tx pgx.Tx) error {
		ctx := c.Request().Context()
		rd := s.deps.Store.InTx(tx)
		// The newest count readings: the last day, else the last 30 (or
		// the asked window).
		for _, back := range []time.Duration{24 * time.Hour, 30 * 24 * time.Hour} {
			f := from
			if f.IsZero() {
				f = to.Add(-back)
			}
			var err error
			if rs, err = rd.Readings(ctx, u.PatientID, f, to, kinds...); err != nil {
				return err
			}
			if len(rs) >= count || !from.IsZero() {
				break
			}
		}
		return s.deps.Consent.LogUploader(ctx, tx, u.PatientID, consent.ActReadData, u.Label, "Nightscout entries ("+u.ID+")", web.Actor(c))
	})
	if err != nil {
		return err
	}
	out := make([]nsEntry, 0, min(count, len(rs)))
	for i := len(rs) - 1; i >= 0 && len(out) < count; i-- {
		out = append(out, entryOf(rs[i]))
	}
	return c.JSON(statusOK, out)
}

// doorStatus answers as Nightscout's GET /api/v1/status.json.
func (s *Server) doorStatus(c *echo.Context) error {
	if _, err := s.doorAuth(c, consent.ActReadData, "status"); err != nil {
		return doorDone(err)
	}
	now := s.deps.Clock()
	return c.JSON(statusOK, map[string]any{
		"status": "ok", "name": "nightscout", "version": nsVersion, "serverTime": now.UTC().Format("2006-01-02T15:04:05.000Z"),
		"serverTimeEpoch": now.UnixMilli(), "apiEnabled": true, "careportalEnabled": false, "boluscalcEnabled": false,
		"runtimeState": "loaded",
		"settings": map[string]any{"units": "mg/dl", "timeFormat": 24, "customTitle": "fsecgm", "language": "it",
			"authDefaultRoles": "denied", "enable": []string{}, "thresholds": map[string]int{"bgHigh": 250, "bgTargetTop": 180,
				"bgTargetBottom": 70, "bgLow": 54}},
		"extendedSettings": map[string]any{},
		"authorized":       map[string]any{"canRead": true, "canWrite": true},
	})
}

// doorVerifyAuth answers as Nightscout's GET /api/v1/verifyauth.
func (s *Server) doorVerifyAuth(c *echo.Context) error {
	if _, err := s.doorAuth(c, consent.ActReadData, "verifyauth"); err != nil {
		return doorDone(err)
	}
	return c.JSON(statusOK, map[string]any{"status": 200, "message": map[string]any{"canRead": true, "canWrite": true,
		"isAdmin": false, "message": "OK", "rolefound": "FOUND", "permissions": "ROLE"}})
}

// doorIgnore answers what the door does not keep (treatments, device
// status, profiles) with 200 and an empty array, after the secret check.
func (s *Server) doorIgnore(c *echo.Context) error {
	if _, err := s.doorAuth(c, consent.ActWriteData, "data out of scope"); err != nil {
		return doorDone(err)
	}
	_, _ = io.Copy(io.Discard, c.Request().Body)
	return c.JSON(statusOK, []any{})
}
