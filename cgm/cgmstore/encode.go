package cgmstore

import (
	"fmt"
	"math"
	"strings"
	"time"

	"fsecgm/cgm"
)

// Source says where a reading came from: the system that delivered it.
type Source uint8

// The sources of readings. A reading row keeps its source in three bits of
// meta (see [sourceCode]): eight sources at most, all used.
const (
	// SourceLibreLinkUp: the LibreLinkUp API (connectors/librelinkup).
	SourceLibreLinkUp Source = 1
	// SourceLibreView: a LibreView CSV export (connectors/libreview).
	SourceLibreView Source = 2
	// SourceLongCSV: a long CSV file "id,time,gl" (connectors/longcsv).
	SourceLongCSV Source = 3
	// SourceFHIR: an Observation submitted through the FHIR API.
	SourceFHIR Source = 4
	// SourceSimulator: the glucose simulator (connectors/glucosim).
	SourceSimulator Source = 5
	// SourceDexcom: Dexcom's systems: a Dexcom Clarity CSV export
	// (connectors/clarity), and the Dexcom API.
	SourceDexcom Source = 6
	// SourceMedtronic: a Medtronic CareLink CSV export
	// (connectors/carelink).
	SourceMedtronic Source = 7
	// SourceNightscout: Nightscout: an entries JSON file
	// (connectors/nightscout) or a CSV of its entries
	// (connectors/nightscoutcsv), and the Nightscout API. Stored as code 0.
	SourceNightscout Source = 8
)

var sourceNames = [...]string{
	SourceLibreLinkUp: "librelinkup",
	SourceLibreView:   "libreview",
	SourceLongCSV:     "longcsv",
	SourceFHIR:        "fhir",
	SourceSimulator:   "simulator",
	SourceDexcom:      "dexcom",
	SourceMedtronic:   "medtronic",
	SourceNightscout:  "nightscout",
}

// String returns the source's name: librelinkup, libreview, longcsv, fhir,
// simulator, dexcom, medtronic or nightscout.
func (s Source) String() string {
	if s.Valid() {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// Valid reports whether s is one of the defined sources.
func (s Source) Valid() bool { return int(s) < len(sourceNames) && sourceNames[s] != "" }

// sourceCode returns the three bits a reading row stores for s: the source
// itself for 1–7, and 0 for SourceNightscout, the eighth (migrations/
// 00002_readings.sql keeps bits 12–15 of meta zero, so the field cannot
// grow without rewriting every row).
func sourceCode(s Source) int16 {
	if s == SourceNightscout {
		return 0
	}
	return int16(s) & 7
}

// ParseSource parses a source name as written by [Source.String].
func ParseSource(name string) (Source, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	for s, n := range sourceNames {
		if n != "" && n == name {
			return Source(s), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown source %q", ErrInvalid, name)
}

// The bits of readings.meta (see migrations/00002_readings.sql).
const (
	metaKindMask    = 0x7      // bits 0-2: cgm.Kind
	metaSourceShift = 3        // bits 3-5: Source
	metaSourceMask  = 0x7 << 3 //
	metaLow         = 1 << 6   // LO flag
	metaHigh        = 1 << 7   // HI flag
	metaMmolL       = 1 << 8   // value in hundredths of mmol/L
	metaTrendShift  = 9        // bits 9-11: cgm.Trend
	// metaValueBits are the bits that, with value, make a reading
	// different (LO, HI, unit: 448); mergeSQL compares them.
	metaValueBits = metaLow | metaHigh | metaMmolL
)

// scale returns the storage resolution of unit u: values are stored as
// round(v * scale).
func scale(u cgm.Unit) float64 {
	if u == cgm.MmolL {
		return 100
	}
	return 10
}

// encode returns the stored form of a valid reading from src.
func encode(r cgm.Reading, src Source) (value, meta int16) {
	m := int(r.Kind)&metaKindMask | int(sourceCode(src))<<metaSourceShift | int(r.Trend&7)<<metaTrendShift
	if r.Flags&cgm.FlagLow != 0 {
		m |= metaLow
	}
	if r.Flags&cgm.FlagHigh != 0 {
		m |= metaHigh
	}
	if r.Unit == cgm.MmolL {
		m |= metaMmolL
	}
	return int16(math.Round(r.Value * scale(r.Unit))), int16(m)
}

// decode returns the reading stored as (t, value, meta), without its device.
func decode(t time.Time, value, meta int16) cgm.Reading {
	r := cgm.Reading{
		Time:  t.UTC(),
		Unit:  cgm.MgDL,
		Kind:  cgm.Kind(meta & metaKindMask),
		Trend: cgm.Trend(meta >> metaTrendShift & 7),
	}
	if meta&metaMmolL != 0 {
		r.Unit = cgm.MmolL
	}
	if meta&metaLow != 0 {
		r.Flags |= cgm.FlagLow
	}
	if meta&metaHigh != 0 {
		r.Flags |= cgm.FlagHigh
	}
	r.Value = float64(value) / scale(r.Unit)
	return r
}

// sourceOf returns the source of the source bits of meta (see sourceCode).
func sourceOf(meta int16) Source {
	if c := Source(meta & metaSourceMask >> metaSourceShift); c != 0 {
		return c
	}
	return SourceNightscout
}

// kindList returns kinds as the int4 array the queries compare meta & 7
// with; all kinds when none is given.
func kindList(kinds []cgm.Kind) ([]int32, error) {
	if len(kinds) == 0 {
		return []int32{int32(cgm.Historic), int32(cgm.Scan), int32(cgm.Current), int32(cgm.Strip)}, nil
	}
	out := make([]int32, 0, len(kinds))
	for _, k := range kinds {
		if k < cgm.Historic || k > cgm.Strip {
			return nil, fmt.Errorf("%w: reading kind %v", ErrInvalid, k)
		}
		out = append(out, int32(k))
	}
	return out, nil
}
