package taccuino

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/vitals"
	"fsecgm/connectors/fileimport"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/summaries"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// Limits of the uploads of device exports: an Apple Health export.zip of
// years of a watch reaches hundreds of megabytes (the export.xml inside,
// gigabytes; it is read as a stream, never whole).
const (
	MaxVitalsUploadBytes = 512 << 20
	VitalsUploadTimeout  = 10 * time.Minute
)

// isVitalsUpload reports whether route takes device exports.
func isVitalsUpload(route string) bool {
	switch route {
	case "/api/v1/patients/:id/vitals/imports", "/taccuino/p/:id/vitals/imports":
		return true
	}
	return false
}

// vitalsDays returns the daily summaries of p's devices for the local
// days of per, every day of it (empty ones too), read in tx.
func vitalsDays(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, per period) ([]vitals.Day, error) {
	stored, err := summaries.VitalDays(ctx, tx, p.ID, per.From, per.To)
	if err != nil {
		return nil, err
	}
	byDate := map[string]vitals.Day{}
	for _, d := range stored {
		byDate[d.Date] = d
	}
	var out []vitals.Day
	for d := per.From; !d.After(per.To); d = d.AddDate(0, 0, 1) {
		key := d.Format(time.DateOnly)
		day, ok := byDate[key]
		if !ok {
			day = vitals.Day{Date: key, BloodPressure: []vitals.Pressure{}}
		}
		out = append(out, day)
	}
	return out, nil
}

// apiVitals serves GET /patients/{id}/vitals?from=&to=: the daily
// summaries of the patient's own devices for the local dates from..to
// (default the 14 days ending today), one object per day as `fsecgm vitals`
// prints them.
func (s *Server) apiVitals(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	per, err := s.patientPeriod(c, p, MaxPeriodDays)
	if err != nil {
		return err
	}
	var days []vitals.Day
	err = s.deps.Access(c, p, consent.ActReadData, "device measures "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		days, err = vitalsDays(ctx, tx, p, per)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, days)
}

// VitalSourceJSON is a source of a patient's measurements.
type VitalSourceJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Class  string `json:"class"`
	Device string `json:"device,omitempty"`
	// Rank is the patient's position for it (1 first), 0 when the default
	// order applies; Position is its place in the order that decides
	// overlaps (1 counts first).
	Rank      int       `json:"rank"`
	Position  int       `json:"position"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// VitalSourcesRequest is the body of PUT /patients/{id}/vitals/sources.
type VitalSourcesRequest struct {
	// Order lists source ids, best first; those not listed follow in the
	// default order (watch, phone, the rest).
	Order []int64 `json:"order"`
}

func sourcesJSON(srcs cgmstore.VitalSources) []VitalSourceJSON {
	out := []VitalSourceJSON{}
	for i, v := range srcs.Ordered() {
		out = append(out, VitalSourceJSON{ID: v.ID, Name: v.Name, Class: v.Class.String(), Device: v.Device, Rank: v.Rank,
			Position: i + 1, FirstSeen: v.FirstSeen.UTC(), LastSeen: v.LastSeen.UTC()})
	}
	return out
}

// apiVitalSources serves GET /patients/{id}/vitals/sources: the sources of
// the patient's measurements in the order that decides overlaps.
func (s *Server) apiVitalSources(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	var srcs cgmstore.VitalSources
	err = s.deps.Access(c, p, consent.ActReadData, "device sources", func(ctx context.Context, tx pgx.Tx) error {
		srcs, err = s.deps.Store.InTx(tx).VitalSources(ctx, p.ID)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, sourcesJSON(srcs))
}

// apiPutVitalSources serves PUT /patients/{id}/vitals/sources: the
// patient's order of their sources (the daily summaries are recomputed).
func (s *Server) apiPutVitalSources(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	var req VitalSourcesRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Order) > 100 {
		return web.Invalid("order", "at most 100 sources")
	}
	var srcs cgmstore.VitalSources
	err = s.deps.Access(c, p, consent.ActWriteData, "device sources order", func(ctx context.Context, tx pgx.Tx) error {
		if err := s.deps.Store.SetVitalRanking(ctx, tx, p.ID, req.Order); err != nil {
			if errors.Is(err, cgmstore.ErrInvalid) {
				return web.Invalid("order", "order must list distinct ids of this patient's sources").Wrap(fmt.Errorf("%w: %w", consent.ErrInvalid, err))
			}
			return err
		}
		srcs, err = s.deps.Store.InTx(tx).VitalSources(ctx, p.ID)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, sourcesJSON(srcs))
}

// VitalsImportJSON is the answer of POST /patients/{id}/vitals/imports.
type VitalsImportJSON struct {
	// Format is applehealth, takeout or fhir.
	Format    string `json:"format"`
	Inserted  int    `json:"inserted"`
	Duplicate int    `json:"duplicate"`
	Revised   int    `json:"revised"`
	// Ignored counts the file's records of other kinds.
	Ignored int `json:"ignored"`
	// Rejected lists the measurements not imported (with
	// skip_invalid=true; otherwise any makes the import fail with 422),
	// each with the place in the file it was read.
	Rejected []string `json:"rejected"`
}

// vitalsUpload is a device export received for import, spooled to a
// temporary file (the caller removes it).
type vitalsUpload struct {
	name, path  string
	size        int64
	skipInvalid bool
}

// readVitalsUpload spools the uploaded export (a multipart form's field
// "file", or the raw body) to a temporary file.
func readVitalsUpload(c *echo.Context) (vitalsUpload, error) {
	r := c.Request()
	up := vitalsUpload{name: "export"}
	switch skip := c.FormValue("skip_invalid"); skip {
	case "", "false", "0":
	case "true", "1", "on":
		up.skipInvalid = true
	default:
		return up, web.Invalid("skip_invalid", "skip_invalid must be true or false")
	}
	var src io.Reader
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		fh, err := c.FormFile("file")
		if err != nil {
			if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
				return up, err
			}
			return up, web.Invalid("file", "the form has no file (field \"file\")")
		}
		f, err := fh.Open()
		if err != nil {
			return up, web.BadRequest("file", "the file could not be read").Wrap(err)
		}
		defer f.Close()
		src = f
		if fh.Filename != "" {
			up.name = safeFileName(fh.Filename)
		}
	case "application/zip", "application/xml", "text/xml", "application/json", "application/fhir+json", "application/octet-stream":
		src = r.Body
	default:
		return up, web.NewError(http.StatusUnsupportedMediaType, web.CodeUnsupportedType,
			"send the export as multipart/form-data (field \"file\") or as the body (application/zip, application/xml, application/fhir+json)")
	}
	f, err := os.CreateTemp("", "fsecgm-vitals-upload-*")
	if err != nil {
		return up, err
	}
	up.path = f.Name()
	n, err := io.Copy(f, io.LimitReader(src, MaxVitalsUploadBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	up.size = n
	if err != nil {
		if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
			return up, err
		}
		return up, web.BadRequest("file", "the file could not be read").Wrap(err)
	}
	if n > MaxVitalsUploadBytes {
		return up, web.NewError(http.StatusRequestEntityTooLarge, web.CodeTooLarge,
			fmt.Sprintf("the file is larger than %d MB", MaxVitalsUploadBytes>>20))
	}
	return up, nil
}

// importVitals imports an uploaded export for patient p in tx: the whole
// file or nothing, unless up.skipInvalid. The file is told by the one
// detection of file import (fileimport.DetectPath): a glucose export is
// sent back to the glucose upload, in l.
func (s *Server) importVitals(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, up vitalsUpload, l locale.Lang) (VitalsImportJSON, error) {
	loc, err := p.Location()
	if err != nil {
		return VitalsImportJSON{}, err
	}
	f, err := fileimport.DetectPath(up.path)
	var ue *fileimport.UnknownError
	switch {
	case errors.As(err, &ue):
		return VitalsImportJSON{}, invalidImport(l, map[string]string{"reason": "unknown_format", "detected": ue.Code},
			"vit_import_unknown", locale.Key("import_what_"+ue.Code))
	case err != nil:
		return VitalsImportJSON{}, err
	case !f.Devices():
		return VitalsImportJSON{}, invalidImport(l, map[string]string{"reason": "glucose_file", "detected": string(f)},
			"vit_import_glucose", locale.Key("import_format_"+string(f)))
	}
	out := VitalsImportJSON{Format: string(f), Rejected: []string{}}
	res, err := fileimport.ImportMeasurements(ctx, tx, s.deps.Store, p.ID, up.path, fileimport.MeasurementsOptions{Format: f, Location: loc,
		SkipInvalid: up.skipInvalid, Now: s.deps.Now})
	var rej *fileimport.RejectedMeasurementsError
	switch {
	case errors.As(err, &rej):
		lines := make([]LineErrorJSON, 0, len(rej.Lines))
		for _, l := range clipErrors(rej.Lines) {
			le := LineErrorJSON{Reason: l.Error()}
			var fe *cgm.FieldError
			if errors.As(l, &fe) {
				le.Field, le.Value = fe.Field, fe.Value
			}
			lines = append(lines, le)
		}
		return out, invalidImport(l, lines, "vit_import_rejected", rej.Rejected)
	case errors.Is(err, fileimport.ErrNoMeasurements):
		return out, invalidImport(l, map[string]string{"reason": "no_measurements"}, "vit_import_empty")
	case errors.Is(err, fileimport.ErrInvalid):
		return out, invalidImport(l, map[string]string{"reason": "unreadable"}, "vit_import_unreadable", err.Error())
	case err != nil:
		return out, err
	}
	out.Inserted, out.Duplicate, out.Revised, out.Ignored = res.Inserted, res.Duplicate, res.Revised, res.Ignored
	for _, r := range clipErrors(res.Rejections) {
		out.Rejected = append(out.Rejected, r.Error())
	}
	return out, nil
}

func clipErrors(es []error) []error {
	if len(es) > maxReportedLines {
		return es[:maxReportedLines]
	}
	return es
}

// apiVitalsImport serves POST /patients/{id}/vitals/imports.
func (s *Server) apiVitalsImport(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	up, err := readVitalsUpload(c)
	if up.path != "" {
		defer os.Remove(up.path)
	}
	if err != nil {
		return err
	}
	var out VitalsImportJSON
	err = s.deps.Access(c, p, consent.ActWriteData, fmt.Sprintf("import device export (%d bytes)", up.size), func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.importVitals(ctx, tx, p, up, web.Lang(c))
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}
