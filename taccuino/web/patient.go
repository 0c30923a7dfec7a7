package web

import (
	"context"
	"errors"
	"log/slog"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// PatientParam is the name of the path parameter holding a patient's public
// id in every route about one patient ("/patients/:id/...").
const PatientParam = "id"

// validPublicID reports whether s has the form of a cgmstore public id (32
// lower-case hex digits), so that malformed ids cost no query.
func validPublicID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f') {
			return false
		}
	}
	return true
}

// Patient resolves the patient of the request's {id} path parameter for an
// access of kind act, before the handler runs it through Access:
//
//   - no valid token: 401 (503 when the identity provider's keys cannot be
//     fetched); when the patient exists, the refused attempt is written to
//     its access log (consent.Store.LogDenied, reason unauthenticated,
//     detail "<METHOD> <route>: <why>", never the token);
//   - a valid token and an id that is malformed or unknown: 403
//     Forbidden(), the answer a caller the rules refuse gets for an
//     existing patient, so ids cannot be probed (see the package
//     documentation); an unknown id of the right form is recorded by
//     Probe, in the statements a refusal costs, so that the time of the
//     answer does not tell either (a malformed id costs no query: it can
//     name nothing);
//   - otherwise the patient. Whether the caller may do act is decided by
//     Access, which logs it.
func (d *Deps) Patient(c *echo.Context, act consent.Action) (cgmstore.Patient, error) {
	return d.patient(c, act, false)
}

// LookupPatient is Patient for the routes under the lookup limits (the
// care relationships of a patient): the caller's limit is spent before
// anything is looked up, the named patient's (by fiscal code, or by the id
// named when there is no such patient) before the access or its refusal
// is logged; beyond either, 429 (see Lookups).
func (d *Deps) LookupPatient(c *echo.Context, act consent.Action) (cgmstore.Patient, error) {
	return d.patient(c, act, true)
}

func (d *Deps) patient(c *echo.Context, act consent.Action, limited bool) (cgmstore.Patient, error) {
	ctx := c.Request().Context()
	id := c.Param(PatientParam)
	if limited {
		if err := d.Lookups.Client(c); err != nil {
			return cgmstore.Patient{}, err
		}
	}
	var p cgmstore.Patient
	found := false
	if validPublicID(id) {
		var err error
		p, err = d.Store.PatientByPublicID(ctx, id)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, cgmstore.ErrNotFound):
			return cgmstore.Patient{}, err
		}
	}
	if limited {
		key := "id:" + id
		if found {
			key = "cf:" + p.FiscalCode
		}
		if err := d.Lookups.Patient(key); err != nil {
			return cgmstore.Patient{}, err
		}
	}
	if Principal(c) == nil {
		aerr := AuthError(c)
		detail := c.Request().Method + " " + routeOf(c) + ": " + AuthFailure(aerr)
		var err error
		switch {
		case found:
			err = d.Consent.LogDenied(ctx, p.ID, act, detail, Actor(c))
		case validPublicID(id):
			err = d.Probe(c, act, detail)
		}
		if err != nil {
			// The refusal stands; only its record failed.
			Logger(c).Error("could not log a refused access", slog.String("route", routeOf(c)),
				slog.String("err", err.Error()))
			return cgmstore.Patient{}, err
		}
		return cgmstore.Patient{}, Unauthenticated(aerr)
	}
	if !found {
		if validPublicID(id) {
			if err := d.Probe(c, act, c.Request().Method+" "+routeOf(c)); err != nil {
				return cgmstore.Patient{}, err
			}
		}
		return cgmstore.Patient{}, Forbidden()
	}
	return p, nil
}

// Probe records, through consent.Store.Probe, the request's attempt to do
// act on an id that names nothing (for the operator; no patient's access
// log can hold it), in the same statements as a refusal of another
// patient's id, so that the answer's time tells nothing. It returns nil
// once recorded.
func (d *Deps) Probe(c *echo.Context, act consent.Action, detail string) error {
	err := d.Consent.Probe(c.Request().Context(), Actor(c), act, detail)
	if errors.Is(err, consent.ErrNotFound) {
		return nil
	}
	return err
}

// AuthFailure says in a few safe words why a request has no principal
// (for access-log details: never the token).
func AuthFailure(err error) string {
	for _, k := range []struct {
		err  error
		text string
	}{
		{auth.ErrMissing, "no token"},
		{auth.ErrExpired, "expired token"},
		{auth.ErrNotYetValid, "token not yet valid"},
		{auth.ErrWrongAudience, "token for another audience"},
		{auth.ErrWrongIssuer, "token from another issuer"},
		{auth.ErrAlgorithm, "token algorithm refused"},
		{auth.ErrBadSignature, "bad token signature"},
		{auth.ErrMalformed, "malformed token"},
		{auth.ErrClaims, "invalid token claims"},
		{auth.ErrRevoked, "session ended (signed out)"},
		{auth.ErrKeySetUnavailable, "identity provider unavailable"},
	} {
		if errors.Is(err, k.err) {
			return k.text
		}
	}
	return "token refused"
}

// Access runs fn as the request's actor's access act to patient p through
// consent.Store.Access: the rules decide, the access-log entry and fn's
// reads commit in one transaction, and a refusal is logged and returned as
// an error that ErrorHandler answers with 403. fn reads with tx (see
// cgmstore.Store.InTx); it may be nil for a pure check. detail says what
// exactly is accessed and is shown to the patient: never glucose values.
func (d *Deps) Access(c *echo.Context, p cgmstore.Patient, act consent.Action, detail string,
	fn func(ctx context.Context, tx pgx.Tx) error) error {
	return d.Consent.Access(c.Request().Context(), Actor(c), p.ID, act, detail, fn)
}
