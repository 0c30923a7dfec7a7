package librelinkup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"fsecgm/connectors/internal/upstream"
)

// The operations, as named in errors.
const (
	opLogin       = "login"
	opConnections = "connections"
	opGraph       = "graph"
	opLogbook     = "logbook"
)

// Login signs in with a LibreLinkUp e-mail and password (a patient's own
// account, or a regional follower account) and returns the session.
//
// It starts at Config.Region (the global host by default) and follows a
// region redirect once (the redirect body recorded in
// robberwick/pylibrelinkup tests/data/redirect_response.json). It makes one
// login request per region it is sent to, never retries a failure, and never
// accepts terms or a privacy policy: a pending step is an error of kind
// [KindStepRequired] naming the step. On a 920 answer it retries once with
// the version the server asks for. Every failure is an [*Error].
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	if strings.TrimSpace(email) == "" || password == "" {
		return Session{}, errors.New("librelinkup: login: e-mail and password are required")
	}
	body, err := json.Marshal(struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password})
	if err != nil {
		return Session{}, fmt.Errorf("librelinkup: login: %w", err)
	}
	region := c.region
	redirected, bumped := false, false
	for {
		base, err := regionURL(c.baseURL, region)
		if err != nil {
			return Session{}, &Error{Kind: KindWrongRegion, Op: opLogin, Message: err.Error()}
		}
		version := c.Version()
		r, err := c.send(ctx, opLogin, http.MethodPost, base+"/llu/auth/login", body, nil, version)
		if err != nil {
			return Session{}, err
		}
		d, e := c.decodeLogin(r)
		status := r.status
		c.release(r)
		if e != nil {
			if e.Kind == KindVersionTooOld && !bumped && c.raiseVersion(opLogin, version, e.MinimumVersion) {
				bumped = true
				continue
			}
			return Session{}, e
		}
		if d.Redirect {
			next := d.Region
			switch {
			case redirected:
				return Session{}, &Error{Kind: KindWrongRegion, Op: opLogin, HTTPStatus: status,
					Message: fmt.Sprintf("redirected a second time (from region %q to %q)", region, upstream.Clean(next))}
			case !ValidRegion(next):
				return Session{}, &Error{Kind: KindWrongRegion, Op: opLogin, HTTPStatus: status,
					Message: fmt.Sprintf("redirected to an invalid region code %q", upstream.Clean(next))}
			}
			if nb, _ := regionURL(c.baseURL, next); nb == base {
				return Session{}, &Error{Kind: KindWrongRegion, Op: opLogin, HTTPStatus: status,
					Message: fmt.Sprintf("redirected to region %q, but the base URL has no %s placeholder", next, RegionPlaceholder)}
			}
			if !knownRegion(next) {
				c.log.Warn("librelinkup: login redirected to a region not in the table", "region", next)
			}
			c.log.Debug("librelinkup: login redirected", "from", region, "to", next)
			region, redirected = next, true
			continue
		}
		s, e := c.sessionOf(d, region, status)
		if e != nil {
			return Session{}, e
		}
		return s, nil
	}
}

func knownRegion(code string) bool {
	for _, r := range KnownRegions() {
		if r == code {
			return true
		}
	}
	return false
}

// Connections lists the patients the account follows, each with its latest
// reading (see [Account] for logins and retries).
func (c *Client) Connections(ctx context.Context, a *Account) (*ConnectionList, error) {
	var out *ConnectionList
	err := c.call(ctx, opConnections, a, "/llu/connections", func(r *reply) *Error {
		var e *Error
		out, e = c.decodeConnections(r)
		return e
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Graph returns about 12 hours of historic points and the current reading
// of a patient the account follows (patientID is Connection.PatientID).
func (c *Client) Graph(ctx context.Context, a *Account, patientID string) (*Graph, error) {
	if err := checkPatientID(opGraph, patientID); err != nil {
		return nil, err
	}
	var out *Graph
	err := c.call(ctx, opGraph, a, "/llu/connections/"+url.PathEscape(patientID)+"/graph", func(r *reply) *Error {
		var e *Error
		out, e = c.decodeGraph(r)
		return e
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Logbook returns about 14 days of scans and alarms of a patient the account
// follows (see [Logbook] for how entries become readings).
func (c *Client) Logbook(ctx context.Context, a *Account, patientID string) (*Logbook, error) {
	if err := checkPatientID(opLogbook, patientID); err != nil {
		return nil, err
	}
	var out *Logbook
	err := c.call(ctx, opLogbook, a, "/llu/connections/"+url.PathEscape(patientID)+"/logbook", func(r *reply) *Error {
		var e *Error
		out, e = c.decodeLogbook(r)
		return e
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkPatientID(op, id string) error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/?#%") {
		return fmt.Errorf("librelinkup: %s: invalid patient id %q", op, id)
	}
	return nil
}

// call makes an authenticated GET for account a and decodes its answer. It
// logs in first when the session is missing or about to expire, logs in again
// once on 401, and retries once with a raised version on 920 — each only
// once, and at most one login in all.
func (c *Client) call(ctx context.Context, op string, a *Account, path string, decode func(*reply) *Error) error {
	if a == nil {
		return fmt.Errorf("librelinkup: %s: no account", op)
	}
	loggedIn, err := c.ensureSession(ctx, op, a)
	if err != nil {
		return err
	}
	bumped := false
	for {
		base, err := regionURL(c.baseURL, a.Session.Region)
		if err != nil {
			return fmt.Errorf("librelinkup: %s: session: %w", op, err)
		}
		version := c.Version()
		r, err := c.send(ctx, op, http.MethodGet, base+path, nil, &a.Session, version)
		if err != nil {
			return err
		}
		e := c.check(op, r)
		if e == nil {
			e = decode(r)
		}
		c.release(r)
		if e == nil {
			return nil
		}
		switch {
		case e.Kind == KindUnauthorized && !loggedIn && !a.Credentials.IsZero():
			c.log.Debug("librelinkup: token rejected, logging in again", "op", op)
			s, err := c.Login(ctx, a.Credentials.Email, a.Credentials.Password)
			if err != nil {
				return err
			}
			a.Session, loggedIn = s, true
			continue
		case e.Kind == KindVersionTooOld && !bumped && c.raiseVersion(op, version, e.MinimumVersion):
			bumped = true
			continue
		}
		return e
	}
}

// ensureSession logs in when a's session is missing or expires within
// RenewBefore and credentials are at hand; it reports whether it logged in.
func (c *Client) ensureSession(ctx context.Context, op string, a *Account) (bool, error) {
	now := c.now()
	if a.Session.Fresh(now, c.renewBefore) {
		return false, nil
	}
	if a.Credentials.IsZero() {
		if a.Session.ValidAt(now) {
			return false, nil // about to expire, but nothing to renew it with
		}
		msg := "no session and no credentials"
		if !a.Session.IsZero() {
			msg = "session expired and no credentials to log in again"
		}
		return false, &Error{Kind: KindUnauthorized, Op: op, Message: msg}
	}
	s, err := c.Login(ctx, a.Credentials.Email, a.Credentials.Password)
	if err != nil {
		return false, err
	}
	a.Session = s
	return true, nil
}
