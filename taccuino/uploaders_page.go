package taccuino

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/nightscout/nsupload"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// The page "App che inviano le glicemie" (issue 17): the patient's uploaders of
// the Nightscout-compatible door (nsdoor.go), a form to create one and a
// button to revoke each. It is a page of who manages the patient's data
// (consent.ActWriteData, as POST and DELETE /api/v1/patients/{id}/uploaders:
// the patient, a parent or tutor, a delegate); a clinician or an analyst
// is refused, as on those routes.
//
// A revocation is confirmed on a step of its own (the page again, with
// what revoking does and the confirming button), not inside a closed
// <details>: a control there is one the keyboard never reaches.
//
// The secret of an uploader is shown once, in the answer to the form that
// creates it (never stored, never in an address: no redirect after that
// post; the answer is not cached), with where to paste it:
//
//   - xDrip+: Settings › Cloud Upload › Nightscout Sync (REST-API), the
//     whole URL https://SECRET@host/path in "Base URL" (xDrip+
//     documentation, "Nightscout Sync (REST-API)": the API secret is the
//     user part of the base URL);
//   - Juggluco: Left menu › Settings › Exchange data › Nightscout, the
//     site's address in "URL" and the secret in "Secret" (Juggluco help,
//     "Nightscout upload": Juggluco sends the SHA-1 of the secret as the
//     api-secret header, as Nightscout's API v1 asks).

// uploadersView is the page.
type uploadersView struct {
	ID, Name string
	// Basis says on whose behalf the caller acts ("" for the patient).
	Basis     string
	Msg       string
	Uploaders []uploaderRow
	// Live is the number of uploaders not revoked; Full is true when no
	// more can be created (nsupload.MaxLive).
	Live int
	Full bool
	// Created is the uploader just created, with its secret: only in the
	// answer to the form.
	Created *createdUploader
	Form    *form
	// Confirm is the uploader whose revocation the page asks to confirm.
	Confirm *uploaderRow
}

// uploaderRow is an uploader as the page lists it: never its secret.
type uploaderRow struct {
	ID, Label, Created, LastUpload, Readings, Revoked string
	Live                                              bool
}

// createdUploader is what the page shows once: the URL with the secret
// (xDrip+), and the site's address and the secret apart (Juggluco).
type createdUploader struct {
	Label, URL, Site, Secret string
}

// uploaderLabelField is the form's field: the uploader's name.
const uploaderLabelField = "label"

// maxUploaderLabel is nsupload.Create's limit on a name, in characters.
const maxUploaderLabel = 64

// uploaderRowOf writes u for a person, in zone loc.
func uploaderRowOf(u nsupload.Uploader, loc *time.Location, l locale.Lang) uploaderRow {
	r := uploaderRow{ID: u.ID, Label: u.Label, Created: u.CreatedAt.In(loc).Format("02/01/2006 15:04"),
		LastUpload: l.T("nsu_never"), Readings: l.Number(float64(u.Readings), 0), Live: u.RevokedAt == nil}
	if u.LastUploadAt != nil {
		r.LastUpload = u.LastUploadAt.In(loc).Format("02/01/2006 15:04")
	}
	if u.RevokedAt != nil {
		r.Revoked = u.RevokedAt.In(loc).Format("02/01/2006 15:04")
	}
	return r
}

// pageUploaders serves GET /taccuino/p/{id}/uploaders.
func (s *Server) pageUploaders(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	msg := ""
	if m := c.QueryParam("msg"); m == "revoked" {
		msg = web.Lang(c).T("nsu_revoked_msg")
	}
	return s.showUploaders(c, p, http.StatusOK, msg, nil, nil, "")
}

// showUploaders renders the page of p with status: msg a confirmation,
// created the uploader just created (its secret shown this once), f the
// form shown again with what is wrong, confirm the id of the uploader
// whose revocation is to be confirmed ("" for none; one that is not p's,
// or revoked already, is not found).
func (s *Server) showUploaders(c *echo.Context, p cgmstore.Patient, status int, msg string, created *createdUploader, f *form, confirm string) error {
	l := web.Lang(c)
	loc, err := p.Location()
	if err != nil {
		return err
	}
	cp, err := s.capsOf(c.Request().Context(), c, p)
	if err != nil {
		return err
	}
	var us []nsupload.Uploader
	err = s.deps.Access(c, p, consent.ActWriteData, "Nightscout uploaders", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		us, err = uploadersOf(ctx, tx, p)
		return err
	})
	if err != nil {
		return err
	}
	v := uploadersView{ID: p.PublicID, Name: joinNonEmpty(" ", p.GivenName, p.FamilyName), Msg: msg, Created: created, Form: f}
	if cp.Basis != "" && cp.Basis != consent.BasisSelf {
		v.Basis = l.T("tac_basis_" + string(cp.Basis))
	}
	for _, u := range us {
		r := uploaderRowOf(u, loc, l)
		if r.Live {
			v.Live++
		}
		if r.Live && r.ID == confirm {
			v.Confirm = &r
		}
		v.Uploaders = append(v.Uploaders, r)
	}
	if confirm != "" && v.Confirm == nil {
		return web.NotFound("no such uploader")
	}
	v.Full = v.Live >= nsupload.MaxLive
	if created != nil {
		// The secret must not stay in a cache or in the back button's copy.
		web.NoCache(c)
	}
	return s.render(c, status, "uploaders", s.newViewText(c, l.T("nsu_page"), v, "/taccuino/p/"+p.PublicID+"/uploaders"))
}

// postCreateUploader creates an uploader from the page's form and answers
// the page with its URL, secret included, shown this once.
func (s *Server) postCreateUploader(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	l := web.Lang(c)
	label := strings.TrimSpace(c.FormValue(uploaderLabelField))
	again := func(key string, field bool) error {
		f := &form{Name: "uploader", Values: map[string]string{uploaderLabelField: c.FormValue(uploaderLabelField)},
			Errors: map[string]string{}, Status: http.StatusUnprocessableEntity}
		if field {
			f.Errors[uploaderLabelField] = l.T(key)
		} else {
			f.Error = l.T(key)
		}
		return s.showUploaders(c, p, f.Status, "", nil, f, "")
	}
	if n := utf8.RuneCountInString(label); n == 0 || n > maxUploaderLabel || !utf8.ValidString(label) {
		return again("nsu_label_invalid", true)
	}
	out, err := s.createUploader(c, p, label)
	switch {
	case errors.Is(err, nsupload.ErrInvalid):
		// The name passed the check above: the patient has MaxLive
		// uploaders already.
		return again("nsu_too_many", false)
	case err != nil:
		return err
	}
	created := &createdUploader{Label: out.Label, URL: out.URL}
	if u, err := url.Parse(out.URL); err == nil && u.User != nil {
		created.Secret = u.User.Username()
		u.User = nil
		created.Site = u.String()
	}
	return s.showUploaders(c, p, http.StatusOK, "", created, nil, "")
}

// postRevokeUploader revokes an uploader from the page's form, in two
// steps: the button of the list asks to confirm (the page again, with
// what the revocation does and the confirming button), the confirming
// button (confirm=yes) revokes.
func (s *Server) postRevokeUploader(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		return s.showUploaders(c, p, http.StatusOK, "", nil, nil, c.Param("uploader"))
	}
	if _, err := s.revokeUploader(c, p, c.Param("uploader")); err != nil {
		return err
	}
	return seeOther(c, "/taccuino/p/"+p.PublicID+"/uploaders?msg=revoked#uploaders")
}
