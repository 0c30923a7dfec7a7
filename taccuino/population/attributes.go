package population

import (
	"time"

	"fsecgm/cgm/codicefiscale"
)

// Dim is a breakdown of the population: the attributes a member is counted
// by.
type Dim string

// The breakdowns. ASL and district come from the residence (the
// registry's comune, its zona-distretto and ASL); centre from the care
// relationships with diabetology centres (a patient cared for by two
// centres counts in both); age band and sex from the birth date and the
// fiscal code; diabetes type from the clinician's record.
const (
	DimTotal    Dim = "total"
	DimASL      Dim = "asl"
	DimDistrict Dim = "district"
	DimCentre   Dim = "centre"
	DimAge      Dim = "age"
	DimSex      Dim = "sex"
	DimType     Dim = "type"
)

// Dims lists the breakdowns in the order the dashboard offers them.
func Dims() []Dim {
	return []Dim{DimTotal, DimASL, DimDistrict, DimCentre, DimAge, DimSex, DimType}
}

// ParseDim returns the breakdown named s.
func ParseDim(s string) (Dim, bool) {
	for _, d := range Dims() {
		if string(d) == s {
			return d, true
		}
	}
	return "", false
}

// Unknown is the category of a member whose attribute is not known (a
// residence the registry has not given, a comune outside the table, a
// diabetes type not recorded).
const Unknown = ""

// AgeBand is a band of whole years of age, From to To inclusive (To < 0:
// no upper bound).
type AgeBand struct {
	Code     string
	From, To int
}

// AgeBands are the bands of the dashboard: the paediatric ages of the ISPAD
// guidelines' groups (under 6, 6–12, 13–17), young adults to 24, and the
// adult decades the consensus' older/high-risk targets start from (65).
var AgeBands = []AgeBand{
	{"0-5", 0, 5}, {"6-12", 6, 12}, {"13-17", 13, 17}, {"18-24", 18, 24},
	{"25-44", 25, 44}, {"45-64", 45, 64}, {"65-74", 65, 74}, {"75+", 75, -1},
}

// CoarseAgeBands are the wider bands the study export generalises to when
// a group is smaller than k: minors, adults under 65, 65 and over.
var CoarseAgeBands = []AgeBand{{"0-17", 0, 17}, {"18-64", 18, 64}, {"65+", 65, -1}}

// AnyAge is the fully generalised age band of the study export.
const AnyAge = "any"

// Age returns the age in whole years on day at of a person born on birth
// (dates: their year, month and day count).
func Age(birth, at time.Time) int {
	y := at.Year() - birth.Year()
	if at.Month() < birth.Month() || at.Month() == birth.Month() && at.Day() < birth.Day() {
		y--
	}
	return y
}

// bandOf returns the code of the band of bands holding age.
func bandOf(bands []AgeBand, age int) string {
	for _, b := range bands {
		if age >= b.From && (b.To < 0 || age <= b.To) {
			return b.Code
		}
	}
	return Unknown
}

// AgeBandOf returns the dashboard's age band of a person born on birth, on
// day at.
func AgeBandOf(birth, at time.Time) string { return bandOf(AgeBands, Age(birth, at)) }

// Coarsen returns the wide band (CoarseAgeBands) holding a dashboard age
// band, AnyAge for AnyAge or an unknown code.
func Coarsen(band string) string {
	for _, b := range AgeBands {
		if b.Code == band {
			return bandOf(CoarseAgeBands, b.From)
		}
	}
	return AnyAge
}

// BirthOf returns the birth date of a patient: the stored one, else the one
// the fiscal code encodes (codicefiscale.BirthDate, read on day at); ok is
// false when neither gives one.
func BirthOf(stored time.Time, fiscalCode string, at time.Time) (time.Time, bool) {
	if !stored.IsZero() {
		return stored, true
	}
	return codicefiscale.BirthDate(fiscalCode, at)
}

// Sexes are the sex categories: as the fiscal code encodes them (the day of
// birth + 40 for women), the only sex the FSE's identity carries.
var Sexes = []string{"F", "M"}

// SexOf returns "F" or "M" from the fiscal code; ok is false when the code
// does not encode it.
func SexOf(fiscalCode string) (string, bool) {
	f, ok := codicefiscale.Female(fiscalCode)
	if !ok {
		return "", false
	}
	if f {
		return "F", true
	}
	return "M", true
}

// DiabetesTypes are the codes of the clinician's record (migration 00070,
// clinical_info.diabetes_type), Unknown when not recorded.
var DiabetesTypes = []string{"type1", "type2", "gestational", "other", Unknown}

// PeriodKind is the kind of a period of the population view.
type PeriodKind int16

// The period kinds (population_periods.kind).
const (
	// Days14 is the 14 complete local days ending yesterday: the consensus
	// minimum of CGM data for the AGP (Battelino et al., Diabetes Care
	// 2019;42:1593), the clinic view's period.
	Days14 PeriodKind = 1
	// Days90 is the 90 complete local days ending yesterday.
	Days90 PeriodKind = 2
	// Month is a calendar month, for the trends.
	Month PeriodKind = 3
)

// ParsePeriodKind reads "14d", "90d" or "month".
func ParsePeriodKind(s string) (PeriodKind, bool) {
	switch s {
	case "14d", "":
		return Days14, true
	case "90d":
		return Days90, true
	case "month":
		return Month, true
	}
	return 0, false
}

// String returns "14d", "90d" or "month".
func (k PeriodKind) String() string {
	switch k {
	case Days14:
		return "14d"
	case Days90:
		return "90d"
	case Month:
		return "month"
	}
	return "?"
}
