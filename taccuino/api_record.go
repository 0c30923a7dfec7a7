package taccuino

import (
	"net/http"
	"strconv"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// ConsentJSON is the third-party consent of a patient.
type ConsentJSON struct {
	// Granted reports whether clinicians and services may consult the
	// data (false when never granted: privacy by default).
	Granted bool                `json:"granted"`
	History []ConsentChangeJSON `json:"history"`
}

// ConsentChangeJSON is one grant or revocation.
type ConsentChangeJSON struct {
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	// By is the fiscal code of who changed it, acting As self, parent or
	// tutor.
	By string        `json:"by"`
	As consent.Basis `json:"as"`
}

func consentJSON(st consent.ConsentState) ConsentJSON {
	out := ConsentJSON{Granted: st.Granted, History: make([]ConsentChangeJSON, len(st.History))}
	for i, h := range st.History {
		out.History[i] = ConsentChangeJSON{Granted: h.Granted, At: h.At, By: h.By, As: h.As}
	}
	return out
}

// apiGetConsent serves the third-party consent and its history.
func (s *Server) apiGetConsent(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadConsent)
	if err != nil {
		return err
	}
	st, err := s.deps.Consent.ThirdPartyConsent(c.Request().Context(), web.Actor(c), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, consentJSON(st))
}

// ConsentRequest is the body of PUT /patients/{id}/consent/third-party.
type ConsentRequest struct {
	Granted *bool `json:"granted"`
}

// apiPutConsent grants or revokes the third-party consent.
func (s *Server) apiPutConsent(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteConsent)
	if err != nil {
		return err
	}
	var req ConsentRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Granted == nil {
		return web.Invalid("/granted", "granted is required: true to grant, false to revoke")
	}
	st, err := s.deps.Consent.SetThirdPartyConsent(c.Request().Context(), web.Actor(c), p.ID, *req.Granted)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, consentJSON(st))
}

// PrivacyNoticeJSON is a privacy notice acceptance.
type PrivacyNoticeJSON struct {
	Version    string        `json:"version"`
	AcceptedAt time.Time     `json:"accepted_at"`
	AcceptedBy string        `json:"accepted_by"`
	As         consent.Basis `json:"as"`
}

// apiGetPrivacyNotice serves the latest privacy notice acceptance (404 when
// none was accepted yet).
func (s *Server) apiGetPrivacyNotice(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadConsent)
	if err != nil {
		return err
	}
	acc, err := s.deps.Consent.LatestPrivacyNotice(c.Request().Context(), web.Actor(c), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, PrivacyNoticeJSON{Version: acc.Version, AcceptedAt: acc.AcceptedAt, AcceptedBy: acc.AcceptedBy, As: acc.As})
}

// DelegationJSON is a delegation.
type DelegationJSON struct {
	ID                 int64         `json:"id"`
	DelegateFiscalCode string        `json:"delegate_fiscal_code"`
	GrantedBy          string        `json:"granted_by"`
	GrantedAs          consent.Basis `json:"granted_as"`
	CreatedAt          time.Time     `json:"created_at"`
	ExpiresAt          time.Time     `json:"expires_at"`
	RevokedAt          *time.Time    `json:"revoked_at"`
	RevokedBy          string        `json:"revoked_by,omitempty"`
	// Active reports whether it is in force now.
	Active bool `json:"active"`
}

func delegationJSON(d consent.Delegation, now time.Time) DelegationJSON {
	out := DelegationJSON{ID: d.ID, DelegateFiscalCode: d.DelegateFiscalCode, GrantedBy: d.GrantedBy,
		GrantedAs: d.GrantedAs, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, RevokedBy: d.RevokedBy}
	if !d.RevokedAt.IsZero() {
		t := d.RevokedAt
		out.RevokedAt = &t
	}
	out.Active = d.RevokedAt.IsZero() && !now.Before(d.CreatedAt) && now.Before(d.ExpiresAt)
	return out
}

// DelegationsJSON is the answer of GET /patients/{id}/delegations.
type DelegationsJSON struct {
	Delegations []DelegationJSON `json:"delegations"`
}

// apiListDelegations lists the delegations, newest first.
func (s *Server) apiListDelegations(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadDelegations)
	if err != nil {
		return err
	}
	ds, err := s.deps.Consent.Delegations(c.Request().Context(), web.Actor(c), p.ID)
	if err != nil {
		return err
	}
	now := s.deps.Clock()
	out := DelegationsJSON{Delegations: make([]DelegationJSON, len(ds))}
	for i, d := range ds {
		out.Delegations[i] = delegationJSON(d, now)
	}
	return c.JSON(statusOK, out)
}

// DelegationRequest is the body of POST /patients/{id}/delegations.
type DelegationRequest struct {
	// DelegateFiscalCode is the adult delegated.
	DelegateFiscalCode string `json:"delegate_fiscal_code"`
	// ExpiresAt is when the delegation ends: an RFC 3339 instant, or a
	// date YYYY-MM-DD meaning the end of that day in the patient's zone.
	ExpiresAt string `json:"expires_at"`
}

// parseExpiry reads an RFC 3339 instant or a local date (end of that day).
func parseExpiry(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	return time.Time{}, web.Invalid("/expires_at", "expires_at must be an RFC 3339 instant or a date YYYY-MM-DD")
}

// apiGrantDelegation delegates an adult until an expiry.
func (s *Server) apiGrantDelegation(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteDelegations)
	if err != nil {
		return err
	}
	var req DelegationRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.DelegateFiscalCode == "" {
		return web.Invalid("/delegate_fiscal_code", "delegate_fiscal_code is required")
	}
	loc, err := p.Location()
	if err != nil {
		return err
	}
	exp, err := parseExpiry(req.ExpiresAt, loc)
	if err != nil {
		return err
	}
	d, err := s.deps.Consent.GrantDelegation(c.Request().Context(), web.Actor(c), p.ID, req.DelegateFiscalCode, exp)
	if err != nil {
		return delegationError(err)
	}
	return c.JSON(http.StatusCreated, delegationJSON(d, s.deps.Clock()))
}

// delegationError names the member an ErrInvalid of GrantDelegation is
// about.
func delegationError(err error) error {
	e := web.AsError(err)
	if e.Status == http.StatusUnprocessableEntity && e.Field == "" {
		msg := e.Message
		switch {
		case containsAny(msg, "expiry"):
			e.Field = "/expires_at"
		case containsAny(msg, "delegate"):
			e.Field = "/delegate_fiscal_code"
		}
	}
	return e
}

// apiRevokeDelegation revokes a delegation.
func (s *Server) apiRevokeDelegation(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteDelegations)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("delegation"), 10, 64)
	if err != nil || id <= 0 {
		return web.NotFound("no such delegation")
	}
	d, err := s.deps.Consent.RevokeDelegation(c.Request().Context(), web.Actor(c), p.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(statusOK, delegationJSON(d, s.deps.Clock()))
}

// AccessEntryJSON is one entry of the access log.
type AccessEntryJSON struct {
	ID               int64           `json:"id"`
	At               time.Time       `json:"at"`
	ActorRole        string          `json:"actor_role"`
	ActorID          string          `json:"actor_id"`
	ActorName        string          `json:"actor_name,omitempty"`
	PractitionerRole string          `json:"practitioner_role,omitempty"`
	OnBehalfOf       string          `json:"on_behalf_of,omitempty"`
	Basis            consent.Basis   `json:"basis"`
	Action           consent.Action  `json:"action"`
	Detail           string          `json:"detail"`
	Outcome          consent.Outcome `json:"outcome"`
	Reason           consent.Reason  `json:"reason"`
	RequestID        string          `json:"request_id"`
	// Count is how many times a refusal happened within the hour (one
	// entry, counted); 1 for every other entry. LastAt and LastRequestID
	// are its last occurrence's, when Count is above 1.
	Count         int        `json:"count"`
	LastAt        *time.Time `json:"last_at,omitempty"`
	LastRequestID string     `json:"last_request_id,omitempty"`
}

// AccessLogJSON is a page of the access log, newest first.
type AccessLogJSON struct {
	Entries []AccessEntryJSON `json:"entries"`
	// Next is the cursor of the next (older) page, for ?before=; empty on
	// the last page.
	Next string `json:"next,omitempty"`
}

func accessEntryJSON(e consent.AccessEntry) AccessEntryJSON {
	j := AccessEntryJSON{ID: e.ID, At: e.At, ActorRole: string(e.ActorRole), ActorID: e.ActorID, ActorName: e.ActorName,
		PractitionerRole: string(e.PractitionerRole), OnBehalfOf: e.OnBehalfOf, Basis: e.Basis, Action: e.Action,
		Detail: e.Detail, Outcome: e.Outcome, Reason: e.Reason, RequestID: e.RequestID, Count: max(e.Count, 1)}
	if e.Count > 1 {
		last := e.LastAt
		j.LastAt, j.LastRequestID = &last, e.LastRequestID
	}
	return j
}

// apiAccessLog serves a page of the access log (?limit=1..500, ?before=
// cursor).
func (s *Server) apiAccessLog(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadAccessLog)
	if err != nil {
		return err
	}
	limit := 0
	if l := c.QueryParam("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 500 {
			return web.Invalid("limit", "limit must be an integer from 1 to 500")
		}
	}
	page, err := s.deps.Consent.AccessLog(c.Request().Context(), web.Actor(c), p.ID, limit, c.QueryParam("before"))
	if err != nil {
		e := web.AsError(err)
		if e.Status == http.StatusUnprocessableEntity {
			e.Field = "before"
		}
		return e
	}
	out := AccessLogJSON{Entries: make([]AccessEntryJSON, len(page.Entries)), Next: page.Next}
	for i, e := range page.Entries {
		out.Entries[i] = accessEntryJSON(e)
	}
	return c.JSON(statusOK, out)
}
