package taccuino

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/fileimport"
	"fsecgm/connectors/libreview"
	"fsecgm/connectors/longcsv"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// ImportJSON is the answer of POST /patients/{id}/imports: what the file
// held and what the store did with it. Inserted + Duplicate + Revised is
// the number of readings stored or already there; re-importing a file
// changes nothing (every reading is a duplicate).
type ImportJSON struct {
	// Format is the file's format (fileimport.Format): libreview, long,
	// clarity, carelink, nightscout or nightscout-csv.
	Format string `json:"format"`
	// Language is the language of a LibreView export, when known.
	Language  string `json:"language,omitempty"`
	Rows      int    `json:"rows"`
	Readings  int    `json:"readings"`
	Inserted  int    `json:"inserted"`
	Duplicate int    `json:"duplicate"`
	Revised   int    `json:"revised"`
	// Skipped counts rows that hold no glucose (insulin, food, notes,
	// ketones, alerts, other events).
	Skipped int `json:"skipped"`
	// Repeated counts rows that repeat a reading exactly (same time, kind
	// and value): stored once.
	Repeated int `json:"repeated"`
	// Conflicts lists the reading times the file gives with different
	// values: the last row's value is kept (fileimport.Conflict).
	Conflicts []ConflictJSON `json:"conflicts"`
	// Rejected lists the lines not imported (only with skip_invalid=true;
	// otherwise any rejected line fails the whole import with 422).
	Rejected []LineErrorJSON `json:"rejected"`
}

// ConflictJSON is a reading time a file gives with different values.
type ConflictJSON struct {
	Time    time.Time   `json:"time"`
	Kind    cgm.Kind    `json:"kind"`
	Kept    ValueJSON   `json:"kept"`
	Dropped []ValueJSON `json:"dropped"`
}

// ValueJSON is the value a row of a file gives.
type ValueJSON struct {
	Line  int     `json:"line"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Flag is "LO" or "HI" for a reading beyond the sensor's range.
	Flag string `json:"flag,omitempty"`
}

func valueJSON(v fileimport.Value) ValueJSON {
	out := ValueJSON{Line: v.Line, Value: v.Value, Unit: v.Unit.String()}
	switch {
	case v.Flags&cgm.FlagLow != 0:
		out.Flag = "LO"
	case v.Flags&cgm.FlagHigh != 0:
		out.Flag = "HI"
	}
	return out
}

// LineErrorJSON is a rejected line of an imported file: where, what, why
// in English (Reason), and the rule that refused it as a code with its
// values (Code, Args: the codes of connectors/libreview, connectors/longcsv
// and cgm; none from the other parsers), which the page says in the
// person's language.
type LineErrorJSON struct {
	Line   int      `json:"line"`
	Field  string   `json:"field,omitempty"`
	Value  string   `json:"value,omitempty"`
	Reason string   `json:"reason"`
	Code   string   `json:"code,omitempty"`
	Args   []string `json:"args,omitempty"`
}

func lineErrorJSON(e *cgm.LineError) LineErrorJSON {
	return LineErrorJSON{Line: e.Line, Field: e.Field, Value: e.Value, Reason: e.Reason, Code: e.Code, Args: e.Args}
}

// upload is a file received for import.
type upload struct {
	name        string
	data        []byte
	format      fileimport.Format // "" to detect it
	skipInvalid bool
}

// readUpload reads a file from a multipart form (field "file") or a raw
// body (text/csv, or application/json for Nightscout entries), and the
// format and skip_invalid parameters (query or form).
func readUpload(c *echo.Context) (upload, error) {
	r := c.Request()
	up := upload{name: "upload"}
	f, err := fileimport.ParseFormat(c.FormValue("format"))
	if err != nil {
		return up, web.Invalid("format", "format must be auto or one of "+fileimport.FormatNames()).Say("err_invalid")
	}
	up.format = f
	switch skip := c.FormValue("skip_invalid"); skip {
	case "", "false", "0":
	case "true", "1", "on":
		up.skipInvalid = true
	default:
		return up, web.Invalid("skip_invalid", "skip_invalid must be true or false").Say("err_invalid")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var src io.Reader
	switch mt {
	case "multipart/form-data":
		fh, err := c.FormFile("file")
		if err != nil {
			if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
				return up, err
			}
			return up, web.Invalid("file", "the form has no file (field \"file\")").Say("csv_file_missing")
		}
		f, err := fh.Open()
		if err != nil {
			return up, web.BadRequest("file", "the file could not be read").Say("csv_file_unreadable").Wrap(err)
		}
		defer f.Close()
		src = f
		if fh.Filename != "" {
			up.name = safeFileName(fh.Filename)
		}
	case "text/csv", "text/plain", "application/octet-stream", "application/json":
		src = r.Body
	default:
		return up, web.NewError(http.StatusUnsupportedMediaType, web.CodeUnsupportedType,
			"send the file as multipart/form-data (field \"file\") or as a text/csv (or, for Nightscout entries, application/json) body")
	}
	data, err := io.ReadAll(io.LimitReader(src, MaxUploadBytes+1))
	if err != nil {
		if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
			return up, err
		}
		return up, web.BadRequest("file", "the file could not be read").Say("csv_file_unreadable").Wrap(err)
	}
	if len(data) > MaxUploadBytes {
		return up, web.NewError(http.StatusRequestEntityTooLarge, web.CodeTooLarge,
			fmt.Sprintf("the file is larger than %d MB", MaxUploadBytes>>20)).Say("csv_file_too_large", MaxUploadBytes>>20)
	}
	up.data = data
	return up, nil
}

// safeFileName keeps the base name of an uploaded file, for messages.
func safeFileName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 80 {
			break
		}
		if r < 0x20 || r == 0x7f || r == '"' {
			r = '_'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "upload"
	}
	return b.String()
}

// invalidImport is the 422 error of a refused file, with details: its
// message is the catalogue's text of key with args in the caller's
// language l, which the page shows next to the file field (Say). It wraps
// consent.ErrInvalid so that the access log records "invalid-request".
func invalidImport(l locale.Lang, details any, key string, args ...any) error {
	e := web.Invalid("file", l.F(key, args...)).Say(key, args...)
	e.Details = details
	return e.Wrap(fmt.Errorf("%w: import", consent.ErrInvalid))
}

// unreadable is the 422 error of a file of a known format that its parser
// could not read at all: the parser's code said in l (connectors/libreview
// and connectors/longcsv give one), else that the file cannot be read as
// its format.
func unreadable(l locale.Lang, err error) error {
	var (
		lfe *libreview.FileError
		sfe *longcsv.FileError
		le  *cgm.LineError
	)
	code, args := "", []string(nil)
	switch {
	case errors.As(err, &lfe):
		code, args = lfe.Code, lfe.Args
	case errors.As(err, &sfe):
		code, args = sfe.Code, sfe.Args
	case errors.As(err, &le):
		code, args = le.Code, le.Args
	}
	details := map[string]string{"reason": "unreadable", "error": err.Error()}
	if key := "csv_" + code; code != "" && locale.Has(key) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a
		}
		return invalidImport(l, details, key, vals...)
	}
	return invalidImport(l, details, "csv_file_unreadable_format")
}

// maxReportedLines bounds the rejected lines listed in an answer.
const maxReportedLines = 1000

// importFile parses up and imports it for patient p in tx
// (fileimport.Import: the whole file or nothing, unless up.skipInvalid).
// A refusal is a 422 whose message is in the caller's language l and
// whose details say why: the lines (a list), or {"reason": …} for a file
// of another format or of another person.
func (s *Server) importFile(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, up upload, l locale.Lang) (ImportJSON, error) {
	loc, err := p.Location()
	if err != nil {
		return ImportJSON{}, err
	}
	f, err := fileimport.Parse(up.name, up.data, fileimport.Options{Format: up.format, Location: loc})
	if err != nil {
		var ue *fileimport.UnknownError
		if errors.As(err, &ue) {
			return ImportJSON{}, invalidImport(l, map[string]string{"reason": "unknown_format", "detected": ue.Code},
				"import_unknown", locale.Key("import_what_"+ue.Code), locale.Key("import_unknown_"+ue.Code))
		}
		var ke *fileimport.KindError
		if errors.As(err, &ke) {
			return ImportJSON{}, invalidImport(l, map[string]string{"reason": "devices_file", "detected": string(ke.Format)},
				"import_kind_devices", locale.Key("vit_format_"+string(ke.Format)))
		}
		return ImportJSON{}, unreadable(l, err)
	}
	out := ImportJSON{Format: string(f.Format), Language: f.Language, Rows: f.Rows, Skipped: f.Skipped,
		Repeated: f.Repeated, Conflicts: []ConflictJSON{}, Rejected: []LineErrorJSON{}}
	for _, c := range f.Conflicts {
		cj := ConflictJSON{Time: c.Time, Kind: c.Kind, Kept: valueJSON(c.Kept)}
		for _, d := range c.Dropped {
			cj.Dropped = append(cj.Dropped, valueJSON(d))
		}
		out.Conflicts = append(out.Conflicts, cj)
	}
	res, err := fileimport.Import(ctx, tx, s.deps.Store, p, f, fileimport.ImportOptions{SkipInvalid: up.skipInvalid, Now: s.deps.Clock})
	var (
		rej *fileimport.RejectedError
		pe  *fileimport.PersonError
	)
	switch {
	case errors.As(err, &pe):
		who := pe.Person.String()
		if who == "" {
			return out, invalidImport(l, map[string]string{"reason": "other_person"}, "import_other_person_unnamed")
		}
		return out, invalidImport(l, map[string]string{"reason": "other_person", "person": who}, "import_other_person", who)
	case errors.As(err, &rej):
		lines := make([]LineErrorJSON, 0, min(len(rej.Lines), maxReportedLines))
		for _, le := range rej.Lines[:min(len(rej.Lines), maxReportedLines)] {
			lines = append(lines, lineErrorJSON(le))
		}
		return out, invalidImport(l, lines, "import_rejected", len(rej.Lines))
	case errors.Is(err, fileimport.ErrSubjects):
		return out, invalidImport(l, map[string]string{"reason": "several_subjects"}, "import_subjects")
	case errors.Is(err, fileimport.ErrNoReadings):
		lines := make([]LineErrorJSON, 0, len(res.Rejections))
		for _, le := range res.Rejections[:min(len(res.Rejections), maxReportedLines)] {
			lines = append(lines, lineErrorJSON(le))
		}
		return out, invalidImport(l, lines, "import_no_readings")
	case errors.Is(err, fileimport.ErrInvalid):
		return out, invalidImport(l, map[string]string{"reason": "refused"}, "csv_file_refused")
	case err != nil:
		return out, err
	}
	for _, le := range res.Rejections[:min(len(res.Rejections), maxReportedLines)] {
		out.Rejected = append(out.Rejected, lineErrorJSON(le))
	}
	out.Readings = res.Inserted + res.Duplicate + res.Revised
	out.Inserted, out.Duplicate, out.Revised = res.Inserted, res.Duplicate, res.Revised
	return out, nil
}

// importDetail is the access-log detail of an import (no values).
func importDetail(up upload) string {
	f := string(up.format)
	if f == "" {
		f = "auto"
	}
	return fmt.Sprintf("import file (%s, %d bytes)", f, len(up.data))
}

// apiImport imports a file of one of the formats fileimport reads.
func (s *Server) apiImport(c *echo.Context) error {
	p, err := s.deps.Patient(c, consent.ActWriteData)
	if err != nil {
		return err
	}
	up, err := readUpload(c)
	if err != nil {
		return err
	}
	var out ImportJSON
	err = s.deps.Access(c, p, consent.ActWriteData, importDetail(up), func(ctx context.Context, tx pgx.Tx) error {
		out, err = s.importFile(ctx, tx, p, up, web.Lang(c))
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}
