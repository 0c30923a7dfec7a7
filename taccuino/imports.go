package taccuino

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/libreview"
	"fsecgm/connectors/longcsv"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// Import formats.
const (
	FormatLibreView = "libreview"
	FormatLong      = "long"
)

// ImportJSON is the answer of POST /patients/{id}/imports: what the file
// held and what the store did with it. Inserted + Duplicate + Revised is
// the number of readings stored or already there; re-importing a file
// changes nothing (every reading is a duplicate).
type ImportJSON struct {
	Format    string `json:"format"`
	Rows      int    `json:"rows"`
	Readings  int    `json:"readings"`
	Inserted  int    `json:"inserted"`
	Duplicate int    `json:"duplicate"`
	Revised   int    `json:"revised"`
	// Skipped counts rows that hold no glucose (LibreView insulin, food,
	// notes, ketones).
	Skipped int `json:"skipped"`
	// Rejected lists the lines not imported (only with skip_invalid=true;
	// otherwise any rejected line fails the whole import with 422).
	Rejected []LineErrorJSON `json:"rejected"`
}

// LineErrorJSON is a rejected line of an imported file.
type LineErrorJSON struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// upload is a CSV file received for import.
type upload struct {
	name        string
	data        []byte
	format      string // auto, libreview or long
	skipInvalid bool
}

// readUpload reads a CSV file from a multipart form (field "file") or a raw
// text/csv body, and the format and skip_invalid parameters (query or
// form).
func readUpload(c *echo.Context) (upload, error) {
	r := c.Request()
	up := upload{name: "upload.csv", format: c.FormValue("format")}
	if up.format == "" {
		up.format = "auto"
	}
	switch up.format {
	case "auto", FormatLibreView, FormatLong:
	default:
		return up, web.Invalid("format", "format must be auto, libreview or long")
	}
	switch skip := c.FormValue("skip_invalid"); skip {
	case "", "false", "0":
	case "true", "1", "on":
		up.skipInvalid = true
	default:
		return up, web.Invalid("skip_invalid", "skip_invalid must be true or false")
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
	case "text/csv", "text/plain", "application/octet-stream":
		src = r.Body
	default:
		return up, web.NewError(http.StatusUnsupportedMediaType, web.CodeUnsupportedType,
			"send the CSV file as multipart/form-data (field \"file\") or as a text/csv body")
	}
	data, err := io.ReadAll(io.LimitReader(src, MaxUploadBytes+1))
	if err != nil {
		if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
			return up, err
		}
		return up, web.BadRequest("file", "the file could not be read").Wrap(err)
	}
	if len(data) > MaxUploadBytes {
		return up, web.NewError(http.StatusRequestEntityTooLarge, web.CodeTooLarge,
			fmt.Sprintf("the file is larger than %d MB", MaxUploadBytes>>20))
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
		return "upload.csv"
	}
	return b.String()
}

// detectFormat looks at the first non-blank line, as "fsecgm import" does.
func detectFormat(data []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		switch {
		case longcsv.Detect(line):
			return FormatLong, nil
		case libreview.Detect(line):
			return FormatLibreView, nil
		}
		break
	}
	return "", web.Invalid("file", "line 1: not a LibreView export (title line \"Glucose Data,Generated on,…\" or its header) nor a long CSV (header id,time,gl)")
}

// invalidImport is the 422 error of a refused file, listing its lines. It
// wraps consent.ErrInvalid so that the access log records
// "invalid-request".
func invalidImport(msg string, lines []LineErrorJSON) error {
	e := web.Invalid("file", msg)
	e.Details = lines
	return e.Wrap(fmt.Errorf("%w: import", consent.ErrInvalid))
}

// maxReportedLines bounds the rejected lines listed in an answer.
const maxReportedLines = 1000

// importCSV parses up and ingests its readings for patient p in tx: the
// whole file or nothing, unless up.skipInvalid, in which case the valid
// readings are stored and the rejected lines listed.
func (s *Server) importCSV(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, up upload) (ImportJSON, error) {
	loc, err := p.Location()
	if err != nil {
		return ImportJSON{}, err
	}
	format := up.format
	if format == "auto" {
		if format, err = detectFormat(up.data); err != nil {
			return ImportJSON{}, err
		}
	}
	out := ImportJSON{Format: format, Rejected: []LineErrorJSON{}}
	var (
		readings []cgm.Reading
		lines    []int
		devices  []cgmstore.Device
		source   cgmstore.Source
	)
	switch format {
	case FormatLibreView:
		f, err := libreview.Parse(bytes.NewReader(up.data), up.name, libreview.Options{Location: loc})
		if err != nil {
			return out, invalidImport(err.Error(), nil)
		}
		out.Rows, out.Skipped = f.Rows, f.Skipped
		for _, e := range f.Rejected {
			out.Rejected = append(out.Rejected, LineErrorJSON{Line: e.Line, Field: e.Field, Value: e.Value, Reason: e.Reason})
		}
		readings, lines, source = f.Readings, f.Lines, cgmstore.SourceLibreView
		for serial, model := range f.Devices {
			devices = append(devices, cgmstore.Device{Serial: serial, Model: model})
		}
	case FormatLong:
		f, err := longcsv.Parse(bytes.NewReader(up.data), up.name)
		if err != nil {
			return out, invalidImport(err.Error(), nil)
		}
		if len(f.Subjects) > 1 {
			return out, invalidImport(fmt.Sprintf("the file holds %d subjects (id column); a patient's import must hold one", len(f.Subjects)), nil)
		}
		out.Rows = f.Rows
		for _, e := range f.Rejected {
			out.Rejected = append(out.Rejected, LineErrorJSON{Line: e.Line, Field: e.Field, Value: e.Value, Reason: e.Reason})
		}
		if len(f.Subjects) == 1 {
			readings, lines = f.Subjects[0].Readings, f.Subjects[0].Lines
		}
		source = cgmstore.SourceLongCSV
	}
	// Validate the readings as the store will, so that every bad line is
	// reported with its line number, the parser's and the store's alike.
	now := s.deps.Clock()
	for i, r := range readings {
		if err := r.Validate(now); err != nil {
			le := LineErrorJSON{Reason: err.Error()}
			if i < len(lines) {
				le.Line = lines[i]
			}
			var fe *cgm.FieldError
			if errors.As(err, &fe) {
				le.Field, le.Value, le.Reason = fe.Field, fe.Value, fe.Reason
			}
			out.Rejected = append(out.Rejected, le)
		}
	}
	slices.SortStableFunc(out.Rejected, func(a, b LineErrorJSON) int { return cmp.Compare(a.Line, b.Line) })
	if len(out.Rejected) > 0 && !up.skipInvalid {
		return out, invalidImport(fmt.Sprintf("%d line(s) rejected; nothing was imported (fix them, or send skip_invalid=true to import the valid lines)",
			len(out.Rejected)), clipLines(out.Rejected))
	}
	if len(readings) == 0 {
		return out, invalidImport("the file holds no glucose readings", clipLines(out.Rejected))
	}
	// connsync.Import writes through cgmstore.IngestTx in tx and marks the
	// patient's summaries for recomputation.
	res, err := connsync.Import(ctx, tx, s.deps.Store, p.ID, connsync.ImportFile{Name: up.name, Source: source,
		Readings: readings, Lines: lines, Devices: devices}, connsync.ImportOptions{SkipInvalid: up.skipInvalid, Now: s.deps.Now})
	if err != nil {
		if errors.Is(err, connsync.ErrInvalid) {
			return out, invalidImport(err.Error(), clipLines(out.Rejected))
		}
		return out, err
	}
	out.Rejected = clipLines(out.Rejected)
	out.Readings = res.Inserted + res.Duplicate + res.Revised
	out.Inserted, out.Duplicate, out.Revised = res.Inserted, res.Duplicate, res.Revised
	return out, nil
}

func clipLines(ls []LineErrorJSON) []LineErrorJSON {
	if len(ls) > maxReportedLines {
		return ls[:maxReportedLines]
	}
	return ls
}

// importDetail is the access-log detail of an import (no values).
func importDetail(up upload) string {
	return fmt.Sprintf("import CSV (%s, %d bytes)", up.format, len(up.data))
}

// apiImport imports a LibreView or long CSV file.
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
		out, err = s.importCSV(ctx, tx, p, up)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(statusOK, out)
}
