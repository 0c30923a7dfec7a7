package taccuino

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/longcsv"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// The patient's data out (GET /patients/{id}/export and the page's
// /taccuino/p/{id}/export): every reading of a period and its figures, as
//
//   - csv: the long format id,time,gl (with kind, value, unit, flag and
//     device), which `fsecgm import` and the upload read back to the same
//     readings (connectors/longcsv.Writer); readings only;
//   - json: {"patient", "time_zone", "from", "to", "readings": [the
//     objects of GET readings], "glucometrics": the object of GET
//     glucometrics for the period};
//   - fhir: a collection Bundle of the Patient, the sensors, one CGM IG
//     sensor-reading Observation per reading (strips left out) and the
//     period's CGM summary Observations (taccuino/fhir), as the records
//     receive them.
//
// The answer is streamed: readings go from the database to the client one
// at a time (cgmstore.TxReader.EachReading), so that years of 1-minute
// readings need no memory for the answer; only the glucometrics of the
// json and fhir forms read the period's historic and scan readings again,
// as the glucometrics API does (Server.report: the primary series, its
// sources named), and keep them while agp.Compute needs them. The read goes through the
// consent gate and is written to the access log like every read; a
// failure after the first bytes were sent aborts the connection, so that
// a client never takes a cut answer for a whole one.

// ExportTimeout bounds an export: years of readings to a slow client.
const ExportTimeout = 10 * time.Minute

// exportFormats are the forms of the export.
var exportFormats = map[string]string{
	"csv":  "text/csv; charset=utf-8",
	"json": "application/json",
	"fhir": "application/fhir+json",
}

// exportPeriod reads from and to (local dates, inclusive) in the patient's
// zone; without them the period runs from the first stored reading's day
// to today.
func (s *Server) exportPeriod(c *echo.Context, p cgmstore.Patient) (period, error) {
	loc, err := p.Location()
	if err != nil {
		return period{}, err
	}
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if from == "" && to == "" {
		cov, err := s.deps.Store.Coverage(c.Request().Context(), p.ID)
		if err != nil {
			return period{}, err
		}
		today := s.deps.Clock().In(loc).Format(time.DateOnly)
		from, to = today, today
		if !cov.First.IsZero() {
			from = cov.First.In(loc).Format(time.DateOnly)
		}
	}
	return parsePeriod(from, to, s.deps.Clock(), loc, maxExportDays)
}

// maxExportDays bounds the period of an export (a lifetime of readings).
const maxExportDays = 100 * 366

// fhirBase returns the FHIR base URL of the export's identifiers: the
// records' base, else the service's external URL, else the request's.
func (s *Server) fhirBase(c *echo.Context) string {
	if s.deps.Records != nil {
		return s.deps.Records.Base()
	}
	if s.deps.BaseURL != "" {
		return strings.TrimSuffix(s.deps.BaseURL, "/") + "/fhir"
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host + "/fhir"
}

// errExportAborted marks a failure after the answer started.
var errExportAborted = errors.New("export: failed after the answer started")

// export streams the patient's data of a period in the requested form.
func (s *Server) export(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActReadData)
	if err != nil {
		return err
	}
	form := c.QueryParam("format")
	if form == "" {
		form = "json"
	}
	ctype, ok := exportFormats[form]
	if !ok {
		return web.Invalid("format", "format must be csv, json or fhir")
	}
	per, err := s.exportPeriod(c, p)
	if err != nil {
		return err
	}
	started := false
	err = s.deps.Access(c, p, consent.ActReadData, "export "+form+" "+per.String(), func(ctx context.Context, tx pgx.Tx) error {
		h := c.Response().Header()
		h.Set("Content-Type", ctype)
		ext := form
		if form == "fhir" {
			ext = "fhir.json"
		}
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="glicemia-%s-%s.%s"`,
			per.From.Format(time.DateOnly), per.To.Format(time.DateOnly), ext))
		// The server's write timeout bounds ordinary answers; an export
		// may take longer (it is bounded by ExportTimeout).
		_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(ExportTimeout))
		c.Response().WriteHeader(http.StatusOK)
		started = true
		w := bufio.NewWriterSize(c.Response(), 64<<10)
		var err error
		switch form {
		case "csv":
			err = s.exportCSV(ctx, tx, w, p, per)
		case "json":
			err = s.exportJSON(ctx, tx, w, p, per)
		case "fhir":
			err = s.exportFHIR(ctx, tx, w, p, per, s.fhirBase(c))
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errExportAborted, err)
		}
		return nil
	})
	if err != nil && started {
		web.Logger(c).Error("export aborted", "err", err.Error())
		panic(http.ErrAbortHandler) // the client must not take a cut answer for a whole one
	}
	return err
}

// exportCSV writes the readings of per as a long CSV.
func (s *Server) exportCSV(ctx context.Context, tx pgx.Tx, w io.Writer, p cgmstore.Patient, per period) error {
	lw := longcsv.NewWriter(w)
	err := s.deps.Store.InTx(tx).EachReading(ctx, p.ID, per.Start, per.End, func(r cgm.Reading) error {
		return lw.Write(p.PublicID, r)
	})
	if err != nil {
		return err
	}
	return lw.Flush()
}

// exportJSON writes the readings of per and their glucometrics as JSON.
func (s *Server) exportJSON(ctx context.Context, tx pgx.Tx, w io.Writer, p cgmstore.Patient, per period) error {
	head, err := json.Marshal(struct {
		Patient  string    `json:"patient"`
		TimeZone string    `json:"time_zone"`
		From     time.Time `json:"from"`
		To       time.Time `json:"to"`
	}{p.PublicID, p.TimeZone, per.Start, per.End})
	if err != nil {
		return err
	}
	if _, err := w.Write(head[:len(head)-1]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, `,"readings":[`); err != nil {
		return err
	}
	n := 0
	err = s.deps.Store.InTx(tx).EachReading(ctx, p.ID, per.Start, per.End, func(r cgm.Reading) error {
		b, err := json.Marshal(readingJSON(r))
		if err != nil {
			return err
		}
		if n > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		n++
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	rep, err := s.report(ctx, tx, p, per, agp.Options{})
	if err != nil {
		return err
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, `],"glucometrics":`); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(w, "}")
	return err
}

// exportBatch is how many readings are mapped to Observations at a time.
const exportBatch = 512

// exportFHIR writes the readings of per and their summary as a FHIR
// collection Bundle.
func (s *Server) exportFHIR(ctx context.Context, tx pgx.Tx, w io.Writer, p cgmstore.Patient, per period, base string) error {
	reader := s.deps.Store.InTx(tx)
	ds, err := reader.Devices(ctx, p.ID)
	if err != nil {
		return err
	}
	bw, err := fhir.NewBundleWriter(w, base, s.deps.Clock())
	if err != nil {
		return err
	}
	pi := fhirPatient(p)
	pt, err := fhir.PatientResource(base, pi)
	if err != nil {
		return err
	}
	if err := bw.Add(&pt); err != nil {
		return err
	}
	var devices []fhir.DeviceInfo
	for _, d := range ds {
		if d.LastSeen.Before(per.Start) || !d.FirstSeen.Before(per.End) || !fhir.UsableSerial(d.Serial) {
			continue
		}
		di := fhir.DeviceInfo{Serial: d.Serial, Model: d.Model, Manufacturer: manufacturerOf(d)}
		dev, err := fhir.DeviceResource(base, di, pi.ID)
		if err != nil {
			return err
		}
		if err := bw.Add(&dev); err != nil {
			return err
		}
		devices = append(devices, di)
	}
	batch := make([]cgm.Reading, 0, exportBatch)
	flush := func() error {
		err := bw.AddReadings(pi, batch)
		batch = batch[:0]
		return err
	}
	err = reader.EachReading(ctx, p.ID, per.Start, per.End, func(r cgm.Reading) error {
		batch = append(batch, r)
		if len(batch) == exportBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	rep, err := s.report(ctx, tx, p, per, agp.Options{})
	if err != nil {
		return err
	}
	sb, err := fhir.SummaryBundle(fhir.SummaryInput{Report: rep, Patient: pi, Devices: devices, Base: base, Type: fhir.BundleCollection})
	switch {
	case errors.Is(err, fhir.ErrNoSummary):
		// Too few readings for the IG's figures: no summary.
	case err != nil:
		return err
	default:
		for _, e := range sb.Entry {
			if o, ok := e.Resource.(*fhir.Observation); ok {
				if err := bw.Add(o); err != nil {
					return err
				}
			}
		}
	}
	return bw.Close()
}

// fhirPatient is the FHIR identity of a patient: its public id, fiscal
// code and names.
func fhirPatient(p cgmstore.Patient) fhir.PatientInfo {
	out := fhir.PatientInfo{ID: p.PublicID, FiscalCode: p.FiscalCode, Family: p.FamilyName}
	if p.GivenName != "" {
		out.Given = []string{p.GivenName}
	}
	return out
}

// manufacturerOf names the maker of a device from the source that reported
// it.
func manufacturerOf(d cgmstore.Device) string {
	switch d.Source {
	case cgmstore.SourceLibreLinkUp, cgmstore.SourceLibreView:
		return "Abbott"
	case cgmstore.SourceDexcom:
		return "Dexcom"
	case cgmstore.SourceMedtronic:
		return "Medtronic"
	}
	return ""
}
