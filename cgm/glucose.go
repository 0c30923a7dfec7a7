package cgm

import (
	"fmt"
	"strings"
)

// MgDLPerMmolL converts glucose between mmol/L and mg/dL: the molar mass of
// glucose, 180.1559 g/mol, divided by 10 (Tidepool's MGDL_PER_MMOLL,
// tidepool-org/viz src/utils/constants.js; tidepool-org/TidepoolApi
// docs/summary-data.md). It is used to present a figure in the other
// unit, never to classify a value.
const MgDLPerMmolL = 18.01559

// Unit is the unit a glucose value is expressed in.
type Unit uint8

// The glucose units in use by CGM devices.
const (
	MgDL  Unit = 1 // milligrams per decilitre
	MmolL Unit = 2 // millimoles per litre
)

// String returns the unit as written in reports and in UCUM: "mg/dL" or "mmol/L".
func (u Unit) String() string {
	switch u {
	case MgDL:
		return "mg/dL"
	case MmolL:
		return "mmol/L"
	}
	return fmt.Sprintf("Unit(%d)", uint8(u))
}

// ParseUnit parses "mg/dL" or "mmol/L" (case-insensitive, also "mg/dl",
// "mmol/l", "mgdl", "mmol").
func ParseUnit(s string) (Unit, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mg/dl", "mgdl", "mg":
		return MgDL, nil
	case "mmol/l", "mmoll", "mmol":
		return MmolL, nil
	}
	return 0, fmt.Errorf("cgm: unknown glucose unit %q (want mg/dL or mmol/L)", s)
}

// Sensor reporting limits. FreeStyle Libre reports values below 40 mg/dL as
// LO and above 500 mg/dL as HI (2.2 and 27.8 mmol/L): Tidepool's LibreView
// driver, GLUCOSE_LO/GLUCOSE_HI (tidepool-org/uploader
// lib/drivers/abbott/libreViewDriver.js and freeStyleLibreConstants.js).
// fsecgm stores such readings at the limit and flags them, so that time
// below and above range is not underestimated.
const (
	LowLimitMgDL   = 40.0
	HighLimitMgDL  = 500.0
	LowLimitMmolL  = 2.2
	HighLimitMmolL = 27.8
)

// The high reporting limit of Dexcom G6 and G7 and of Medtronic Guardian
// sensors: 400 mg/dL (22.2 mmol/L). Above it their receivers and apps show
// "HIGH" and their exports write "High" (Dexcom G6 and G7 CGM System User
// Guides, "Glucose readings": range 40–400 mg/dL, 2.2–22.2 mmol/L; Medtronic
// Guardian Connect System User Guide, sensor glucose range 40–400 mg/dL).
// Their low limit is the same as FreeStyle Libre's, 40 mg/dL (2.2 mmol/L).
// A HI reading of such a sensor is stored at this limit with FlagHigh: the
// glucose is known only to be above it.
const (
	HighLimit400MgDL  = 400.0
	HighLimit400MmolL = 22.2
)

// HighLimits returns the high limits a HI reading in unit u may hold: the
// Dexcom and Medtronic limit and the FreeStyle Libre one, ascending.
func HighLimits(u Unit) [2]float64 {
	if u == MmolL {
		return [2]float64{HighLimit400MmolL, HighLimitMmolL}
	}
	return [2]float64{HighLimit400MgDL, HighLimitMgDL}
}

// Limits returns the reporting range [low, high] of the sensors in unit u.
func Limits(u Unit) (low, high float64) {
	if u == MmolL {
		return LowLimitMmolL, HighLimitMmolL
	}
	return LowLimitMgDL, HighLimitMgDL
}

// ToMgDL converts a value in unit u to mg/dL.
func ToMgDL(v float64, u Unit) float64 {
	if u == MmolL {
		return v * MgDLPerMmolL
	}
	return v
}

// ToMmolL converts a value in unit u to mmol/L.
func ToMmolL(v float64, u Unit) float64 {
	if u == MgDL {
		return v / MgDLPerMmolL
	}
	return v
}
