package libreview

import (
	"fmt"
	"strings"

	"fsecgm/cgm"
)

// The columns fsecgm reads.
const (
	colDevice = iota
	colSerial
	colTimestamp
	colType
	colHistoric
	colScan
	colStrip
	numCols
)

// columnNames are the known names of each column, lower case, without the
// unit suffix of the glucose columns: English and German (librelinkup.md
// §3.3), and the one French name seen in a real file.
var columnNames = [numCols][]string{
	colDevice:    {"device", "gerät"},
	colSerial:    {"serial number", "seriennummer"},
	colTimestamp: {"device timestamp", "gerätezeitstempel", "horodatage de l'appareil"},
	colType:      {"record type", "aufzeichnungstyp"},
	colHistoric:  {"historic glucose", "glukosewert-verlauf"},
	colScan:      {"scan glucose", "glukose-scan"},
	colStrip:     {"strip glucose", "glukose-teststreifen"},
}

// columnPositions are the 0-based positions of each column in the 19- and
// 21-column exports, used for headers in languages without known names.
var columnPositions = [numCols]int{
	colDevice: 0, colSerial: 1, colTimestamp: 2, colType: 3,
	colHistoric: 4, colScan: 5, colStrip: 14,
}

// header is the column layout of a file.
type header struct {
	line  int
	width int             // number of fields
	idx   [numCols]int    // position of each column
	name  [numCols]string // column names as written in the file
	unit  cgm.Unit
}

// splitUnit splits a glucose column name such as "Historic Glucose mmol/L"
// into its lower-case base name and unit.
func splitUnit(name string) (base string, u cgm.Unit, ok bool) {
	s := strings.ToLower(strings.TrimSpace(name))
	switch {
	case strings.HasSuffix(s, "mg/dl"):
		s, u = strings.TrimSuffix(s, "mg/dl"), cgm.MgDL
	case strings.HasSuffix(s, "mmol/l"):
		s, u = strings.TrimSuffix(s, "mmol/l"), cgm.MmolL
	default:
		return s, 0, false
	}
	return strings.TrimSpace(s), u, true
}

// known reports which column a header field names, if any.
func known(field string) (col int, ok bool) {
	s := strings.ToLower(strings.TrimSpace(field))
	if base, _, hasUnit := splitUnit(field); hasUnit {
		s = base
	}
	for c, names := range columnNames {
		for _, n := range names {
			if s == n {
				return c, true
			}
		}
	}
	return 0, false
}

// isHeader reports whether a record looks like the header: it names the
// timestamp and record type columns, or it has the width of an export and
// its fifth field ends with a glucose unit.
func isHeader(rec []string) bool {
	var ts, typ bool
	for _, f := range rec {
		switch c, ok := known(f); {
		case ok && c == colTimestamp:
			ts = true
		case ok && c == colType:
			typ = true
		}
	}
	if ts && typ {
		return true
	}
	if len(rec) == 19 || len(rec) == 21 {
		_, _, ok := splitUnit(rec[4])
		return ok
	}
	return false
}

// parseHeader maps the columns of a header record. Columns are found by
// name; a column whose name is unknown falls back to its position when the
// header has the width of an export (19 or 21 fields).
func parseHeader(rec []string, line int) (*header, error) {
	h := &header{line: line, width: len(rec)}
	for c := range h.idx {
		h.idx[c] = -1
	}
	for i, f := range rec {
		if c, ok := known(f); ok && h.idx[c] < 0 {
			h.idx[c] = i
		}
	}
	standard := len(rec) == 19 || len(rec) == 21
	for c, i := range h.idx {
		if i < 0 && standard {
			h.idx[c] = columnPositions[c]
		}
		if h.idx[c] < 0 {
			return nil, &LineError{Line: line, Reason: fmt.Sprintf(
				"header has no %q column (want the 19 or 21 columns of a LibreView export)", englishNames[c])}
		}
		h.name[c] = strings.TrimSpace(rec[h.idx[c]])
	}
	// The unit is the suffix of the historic glucose column (column 5).
	hist := h.name[colHistoric]
	_, u, ok := splitUnit(hist)
	if !ok {
		return nil, &LineError{Line: line, Field: hist,
			Reason: "historic glucose column does not name a unit (want a name ending in mg/dL or mmol/L)"}
	}
	h.unit = u
	for _, c := range [...]int{colScan, colStrip} {
		if _, cu, ok := splitUnit(h.name[c]); ok && cu != u {
			return nil, &LineError{Line: line, Field: h.name[c],
				Reason: fmt.Sprintf("column is in %s but historic glucose is in %s", cu, u)}
		}
	}
	return h, nil
}

// englishNames are the English names of the columns, for messages.
var englishNames = [numCols]string{
	colDevice: "Device", colSerial: "Serial Number", colTimestamp: "Device Timestamp",
	colType: "Record Type", colHistoric: "Historic Glucose", colScan: "Scan Glucose",
	colStrip: "Strip Glucose",
}
