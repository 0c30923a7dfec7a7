package fileimport

import (
	"bytes"
	"fmt"
	"strings"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/carelink"
	"fsecgm/connectors/clarity"
	"fsecgm/connectors/libreview"
	"fsecgm/connectors/longcsv"
	"fsecgm/connectors/nightscout"
	"fsecgm/connectors/nightscoutcsv"
)

// Format is a file format fsecgm reads.
type Format string

// The formats, each read by its package in connectors/.
const (
	// LibreView is the CSV export of Abbott's LibreView, in any language
	// (connectors/libreview).
	LibreView Format = "libreview"
	// Long is a long CSV id,time,gl (connectors/longcsv), as iglu reads
	// and as fsecgm's own export writes.
	Long Format = "long"
	// Clarity is the CSV export of Dexcom Clarity (connectors/clarity).
	Clarity Format = "clarity"
	// CareLink is the CSV export of Medtronic CareLink
	// (connectors/carelink).
	CareLink Format = "carelink"
	// Nightscout is a Nightscout entries JSON file, as
	// /api/v1/entries.json answers (connectors/nightscout).
	Nightscout Format = "nightscout"
	// NightscoutCSV is the CSV a Nightscout data exporter writes from a
	// site's entries (connectors/nightscoutcsv).
	NightscoutCSV Format = "nightscout-csv"
)

// Formats lists the formats, in the order Detect tries them.
var Formats = []Format{Nightscout, Clarity, CareLink, NightscoutCSV, Long, LibreView}

// Title names the format for a person: "LibreView CSV export", "Dexcom
// Clarity CSV export"…
func (f Format) Title() string {
	switch f {
	case LibreView:
		return "LibreView CSV export"
	case Long:
		return "long CSV (id,time,gl)"
	case Clarity:
		return "Dexcom Clarity CSV export"
	case CareLink:
		return "Medtronic CareLink CSV export"
	case Nightscout:
		return "Nightscout entries JSON"
	case NightscoutCSV:
		return "Nightscout entries CSV (an exporter's)"
	case AppleHealth:
		return "Apple Health export"
	case Takeout:
		return "Google Takeout (Fitbit, Google Fit)"
	case FHIRDevices:
		return "FHIR Bundle of the devices' Observations"
	}
	return string(f)
}

// Source is the store's source of the readings of a file of format f.
func (f Format) Source() cgmstore.Source {
	switch f {
	case LibreView:
		return cgmstore.SourceLibreView
	case Clarity:
		return cgmstore.SourceDexcom
	case CareLink:
		return cgmstore.SourceMedtronic
	case Nightscout, NightscoutCSV:
		return cgmstore.SourceNightscout
	}
	return cgmstore.SourceLongCSV
}

// ParseFormat reads a format name as the command line and the API take
// it: one of the formats, glucose or devices', or "auto" (or "") for
// detection, which returns "".
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "auto" {
		return "", nil
	}
	for _, f := range append(Formats[:len(Formats):len(Formats)], DeviceFormats...) {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q: want auto, %s", s, FormatNames())
}

// FormatNames lists the names of the glucose formats, for messages.
func FormatNames() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// detectors are the formats' own recognisers, which look at the first
// lines of a file.
var detectors = map[Format]func([]byte) bool{
	LibreView:     libreview.Detect,
	Long:          longcsv.Detect,
	Clarity:       clarity.Detect,
	CareLink:      carelink.Detect,
	Nightscout:    nightscout.Detect,
	NightscoutCSV: nightscoutcsv.Detect,
}

// HeadBytes is how much of the beginning of a file Detect looks at.
const HeadBytes = 16 << 10

// Other kinds of file people upload instead of a CGM export or an export
// of their devices, each with the code an *UnknownError carries. The taccuino and the command line say
// what to do about each (taccuino/locale, "import_unknown_<code>").
const (
	UnknownNSTreatments  = "nightscout-treatments"
	UnknownNSDeviceState = "nightscout-devicestatus"
	UnknownNSProfile     = "nightscout-profile"
	UnknownExcel         = "excel"
	UnknownODS           = "ods"
	UnknownZip           = "zip"
	UnknownPDF           = "pdf"
	UnknownImage         = "image"
	UnknownSQLite        = "sqlite"
	UnknownUTF16         = "utf16"
	UnknownJSON          = "json"
	UnknownXML           = "xml"
	UnknownEmpty         = "empty"
	UnknownText          = "unknown"
)

// unknownTitles name the other kinds of file in English.
var unknownTitles = map[string]string{
	UnknownNSTreatments:  "a Nightscout treatments file (insulin, carbs, events)",
	UnknownNSDeviceState: "a Nightscout devicestatus file (pump and loop status)",
	UnknownNSProfile:     "a Nightscout profile file (basal rates and ratios)",
	UnknownExcel:         "an Excel workbook",
	UnknownODS:           "an OpenDocument spreadsheet",
	UnknownZip:           "a ZIP archive",
	UnknownPDF:           "a PDF document (a report, not data)",
	UnknownImage:         "an image",
	UnknownSQLite:        "an SQLite database (an app's backup)",
	UnknownUTF16:         "a UTF-16 text file (LibreView wrote its exports so before April 2019)",
	UnknownJSON:          "a JSON file that is not Nightscout entries",
	UnknownXML:           "an XML file",
	UnknownEmpty:         "an empty file",
	UnknownText:          "a file in no format fsecgm reads",
}

// UnknownError is the error of a file fsecgm does not read: it names what
// the file seems to be.
type UnknownError struct {
	// Name is the file's name.
	Name string
	// Code says what the file is (the Unknown… constants).
	Code string
}

// What names what the file is, in English ("an Apple Health export
// (export.xml)").
func (e *UnknownError) What() string { return unknownTitles[e.Code] }

// Error says what the file is and what fsecgm reads.
func (e *UnknownError) Error() string {
	return fmt.Sprintf("%s: %s, not a CGM export fsecgm reads (LibreView, Dexcom Clarity, Medtronic CareLink, "+
		"Nightscout entries JSON or CSV, long CSV id,time,gl): export your sensor's data as CSV from its website or app and import that file",
		e.Name, e.What())
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *UnknownError) Unwrap() error { return ErrInvalid }

// Detect returns the format of a file from head, its first bytes
// (HeadBytes are enough), or an *UnknownError naming what else the file
// seems to be: a glucose format, or one of the patient's own devices
// (DeviceFormats: Apple Health from its HealthData document or the
// apple_health_export folder of its zip, a FHIR Bundle, a Takeout file by
// its name). name names the file in the error, and tells Takeout files.
// A zip whose first entry says nothing is an UnknownZip here: DetectPath
// and DetectData read its entries.
func Detect(name string, head []byte) (Format, error) {
	if len(head) > HeadBytes {
		head = head[:HeadBytes]
	}
	unknown := func(code string) (Format, error) { return "", &UnknownError{Name: name, Code: code} }
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return unknown(UnknownEmpty)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		switch {
		case bytes.Contains(head, []byte("apple_health_export")):
			return AppleHealth, nil
		case bytes.Contains(head, []byte("xl/")), bytes.Contains(head, []byte("spreadsheetml")):
			return unknown(UnknownExcel)
		case bytes.Contains(head, []byte("opendocument.spreadsheet")):
			return unknown(UnknownODS)
		}
		return unknown(UnknownZip)
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return unknown(UnknownExcel) // the Excel 97–2003 (OLE) container
	case bytes.HasPrefix(head, []byte("%PDF")):
		return unknown(UnknownPDF)
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		return unknown(UnknownSQLite)
	case bytes.HasPrefix(head, []byte("\x89PNG")), bytes.HasPrefix(head, []byte("\xFF\xD8\xFF")),
		bytes.HasPrefix(head, []byte("GIF8")):
		return unknown(UnknownImage)
	case bytes.HasPrefix(head, []byte("\xFF\xFE")), bytes.HasPrefix(head, []byte("\xFE\xFF")):
		return unknown(UnknownUTF16)
	}
	for _, f := range Formats {
		if detectors[f](head) {
			return f, nil
		}
	}
	if f := detectDevices(name, trimmed); f != "" {
		return f, nil
	}
	switch {
	case trimmed[0] == '<':
		return unknown(UnknownXML)
	case trimmed[0] == '[' || trimmed[0] == '{':
		switch nightscout.What(trimmed) {
		case "treatments":
			return unknown(UnknownNSTreatments)
		case "devicestatus":
			return unknown(UnknownNSDeviceState)
		case "profile":
			return unknown(UnknownNSProfile)
		}
		return unknown(UnknownJSON)
	}
	// A CSV of Nightscout treatments alone.
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	if low := strings.ToLower(string(first)); strings.HasPrefix(low, "# treatments") ||
		strings.Contains(low, "eventtype") || strings.Contains(low, "event type") && strings.Contains(low, "insulin") {
		return unknown(UnknownNSTreatments)
	}
	return unknown(UnknownText)
}
