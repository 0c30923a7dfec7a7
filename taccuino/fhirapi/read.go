package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// idRE is the FHIR id type.
var idRE = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// publicIDRE is the form of a patient's public id.
var publicIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// patientInfo is what the FHIR mapping needs of a stored patient.
func patientInfo(p cgmstore.Patient) fhir.PatientInfo {
	pi := fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: p.FamilyName}
	if p.GivenName != "" {
		pi.Given = []string{p.GivenName}
	}
	return pi
}

// requirePrincipal answers 401 to a request without a valid token, after
// writing the refused attempt in the access log of p (when known), as
// web.Deps.Patient does.
func (a *api) requirePrincipal(c *echo.Context, p *cgmstore.Patient, act consent.Action) error {
	if web.Principal(c) != nil {
		return nil
	}
	aerr := web.AuthError(c)
	if p != nil {
		detail := c.Request().Method + " " + c.Path() + ": " + web.AuthFailure(aerr)
		if err := a.d.Consent.LogDenied(c.Request().Context(), p.ID, act, detail, web.Actor(c)); err != nil {
			return err
		}
	}
	return web.Unauthenticated(aerr)
}

// readPatient serves GET /Patient/:id.
func (a *api) readPatient(c *echo.Context) error {
	if id := c.Param("id"); strings.Contains(id, "/") || !idRE.MatchString(id) {
		// Not a FHIR id: not a read (echo's router hands a longer path,
		// Patient/x/_history, to this route with the rest in the
		// parameter; Patient/_history is a history).
		return fail(http.StatusNotFound, "not-found", "", "no such interaction on this server (see /fhir/metadata)")
	}
	p, err := a.d.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	if err := a.d.Access(c, p, consent.ActReadData, "FHIR Patient read", nil); err != nil {
		return err
	}
	pt, err := fhir.PatientResource(a.base, patientInfo(p))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Last-Modified", p.CreatedAt.UTC().Format(http.TimeFormat))
	return writeResource(c, http.StatusOK, pt)
}

// read serves GET /<typ>/:id from the resource store (and, for a
// submitted sensor reading, from the readings store).
//
// An id that exists in another patient's record, which the caller may not
// read, answers exactly as an id that does not exist: 404 with the same
// OperationOutcome (FHIR R4 §3.1.0.1.1 lets a server hide a resource so),
// after the same statements — one lookup of the id, then a refused Access
// (logged in that patient's access log) or, for an id of nothing, a Probe
// (recorded for the operator) in the same shape. A caller without a valid
// token gets 401 either way.
func (a *api) read(typ string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		ctx := c.Request().Context()
		id := c.Param("id")
		notFound := fail(http.StatusNotFound, "not-found", "", typ+"/"+id+" is not known")
		if !idRE.MatchString(id) {
			return notFound
		}
		loc, err := a.rec.Locate(ctx, typ, id)
		if err != nil && !errors.Is(err, records.ErrNotFound) {
			return err
		}
		found := err == nil
		detail := "FHIR " + typ + " read"
		if web.Principal(c) == nil {
			why := c.Request().Method + " " + c.Path() + ": " + web.AuthFailure(web.AuthError(c))
			if found {
				err = a.d.Consent.LogDenied(ctx, loc.PatientID, consent.ActReadData, why, web.Actor(c))
			} else {
				err = a.d.Probe(c, consent.ActReadData, why)
			}
			if err != nil {
				return err
			}
			return web.Unauthenticated(web.AuthError(c))
		}
		if !found {
			if err := a.d.Probe(c, consent.ActReadData, detail); err != nil {
				return err
			}
			return notFound
		}
		var body []byte
		var version int
		var updated time.Time
		err = a.d.Consent.Access(ctx, web.Actor(c), loc.PatientID, consent.ActReadData, detail, func(ctx context.Context, tx pgx.Tx) error {
			if loc.Reading != nil {
				p, err := a.d.Store.InTx(tx).PatientByID(ctx, loc.PatientID)
				if err != nil {
					return err
				}
				body, err = a.readingResource(ctx, tx, p, id, *loc.Reading)
				version, updated = 1, loc.Reading.Created
				return err
			}
			r, err := a.rec.Get(ctx, tx, typ, id)
			if err != nil {
				return err
			}
			version, updated = r.Version, r.LastUpdated
			body, err = withMeta(r.Body, r.ID, r.Version, r.LastUpdated)
			return err
		})
		if errors.Is(err, consent.ErrDenied) || errors.Is(err, records.ErrNotFound) || errors.Is(err, cgmstore.ErrNotFound) ||
			errors.Is(err, consent.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("ETag", `W/"`+strconv.Itoa(version)+`"`)
		h.Set("Last-Modified", updated.UTC().Format(http.TimeFormat))
		if !json.Valid(body) { // objectMembers checks the structure only
			return fmt.Errorf("fhirapi: stored %s/%s is not valid JSON", typ, id)
		}
		return writeJSON(c, http.StatusOK, body)
	}
}

// readingResource returns a submitted sensor reading as the IG's sensor
// reading Observation, from the readings store (where it lives, revised
// or not): fsecgm's mapping with the API's id and the submitter's
// identifier first.
func (a *api) readingResource(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, id string, ref records.ReadingRef) ([]byte, error) {
	// Whatever series it belongs to (cgmstore: a reading of a second
	// sensor is left out of the statistics, not out of the record).
	srs, err := a.d.Store.InTx(tx).SourcedReadings(ctx, p.ID, ref.At, ref.At.Add(time.Microsecond), ref.Kind)
	if err != nil {
		return nil, err
	}
	if len(srs) == 0 {
		return nil, records.ErrNotFound
	}
	obs, err := fhir.SensorReadings(a.base, patientInfo(p), cgm.Series{srs[0].Reading})
	if err != nil || len(obs) == 0 {
		return nil, fmt.Errorf("fhirapi: reading %s: %w", id, err)
	}
	o := obs[0]
	o.ID = id
	o.Identifier = append([]fhir.Identifier{{System: ref.IdentifierSystem, Value: ref.IdentifierValue}}, o.Identifier...)
	body, err := o.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return withMeta(body, id, 1, ref.Created)
}

// readCodeSystem serves GET /CodeSystem/cgm-metrics: fsecgm's local code
// system, public (no patient data).
func (a *api) readCodeSystem(c *echo.Context) error {
	if c.Param("id") != fhir.LocalCodeSystemID {
		return fail(http.StatusNotFound, "not-found", "", "CodeSystem/"+c.Param("id")+" is not known; this server has CodeSystem/"+fhir.LocalCodeSystemID)
	}
	return writeResource(c, http.StatusOK, fhir.LocalCodes())
}
