// Package cgm is the vocabulary of continuous glucose monitoring shared by
// every other package of fsecgm: a glucose reading, its unit and kind, the
// LO/HI limits of the sensors, validation errors that say what is wrong, and
// a Series of readings sorted by time.
//
// The package uses only the standard library, so that the engine (agp), the
// connectors and the store can all depend on it without depending on each
// other.
//
// Values are kept in the unit the device reported them in. Converting a
// value to the other unit and back before classifying it is the mistake that
// makes 70 or 54 mg/dL fall in the wrong band (181 mg/dL is 10.0 mmol/L
// after rounding, in range in mmol/L but high in mg/dL; the consensus bands
// of Battelino et al., Diabetes Care 2019;42:1593–1603, are written for
// each unit); [MgDLPerMmolL] is used only to present a figure in the
// other unit.
package cgm
