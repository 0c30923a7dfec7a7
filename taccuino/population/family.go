package population

import (
	"slices"
	"strings"
)

// A cell of the population view is the set of members matching a filter:
// at most one centre constraint (the centre's patients, or, hidden, the
// region's other patients) and at most one constraint on another
// attribute, or an ASL and another attribute. Each published table is a
// scope (the region, an ASL, a centre) broken down by one attribute; the
// same cell appears in several tables (the ASL Toscana Centro's patients
// aged 6–12 are a row of the ASL's table by age and of nothing else; a
// centre's patients in an ASL are a row of the ASL's table by centre and
// of the centre's table by ASL), and it has one value and one suppression
// decision wherever it appears.

// key names a cell: its constraints in a fixed order of attributes,
// "centre=ID" or "centre!=ID" first, then "asl=", "district=", "age=",
// "sex=", "type="; "" is the whole region. An unknown value is empty
// ("asl="). A district implies its ASL: a cell never holds both, and the
// unknown district is the unknown ASL.
type key string

// order of the attributes in a key.
var keyOrder = []Dim{DimCentre, DimASL, DimDistrict, DimAge, DimSex, DimType}

// constraint is one part of a key.
type constraint struct {
	dim Dim
	not bool // centre only: the members not cared for by the centre
	val string
}

// makeKey returns the key of the cell with the constraints cs.
func makeKey(cs ...constraint) key {
	var norm []constraint
	for _, c := range cs {
		if c.dim == DimDistrict && c.val == Unknown {
			c = eq(DimASL, Unknown)
		}
		if !slices.Contains(norm, c) {
			norm = append(norm, c)
		}
	}
	pos := func(c constraint) int { return slices.Index(keyOrder, c.dim) }
	slices.SortStableFunc(norm, func(a, b constraint) int { return pos(a) - pos(b) })
	parts := make([]string, len(norm))
	for i, c := range norm {
		op := "="
		if c.not {
			op = "!="
		}
		parts[i] = string(c.dim) + op + c.val
	}
	return key(strings.Join(parts, "&"))
}

func eq(d Dim, v string) constraint { return constraint{dim: d, val: v} }
func notCentre(c string) constraint { return constraint{dim: DimCentre, not: true, val: c} }
func centreIs(c string) constraint  { return constraint{dim: DimCentre, val: c} }
func with(cs []constraint, c constraint) []constraint {
	return append(slices.Clone(cs), c)
}

// Geography is the ASLs and their districts (the zona-distretto table).
type Geography struct {
	// ASLs are the ASL codes in display order.
	ASLs []string
	// ASLNames names each ASL.
	ASLNames map[string]string
	// Districts are the district codes in display order, each with its
	// ASL and name.
	Districts     []string
	DistrictASL   map[string]string
	DistrictNames map[string]string
}

// districtsOf returns the districts of ASL a.
func (g Geography) districtsOf(a string) []string {
	var out []string
	for _, d := range g.Districts {
		if g.DistrictASL[d] == a {
			out = append(out, d)
		}
	}
	return out
}

// categories returns the rows of a breakdown: every category the
// dashboard shows, the unknown one last. The district breakdown's unknown
// row is the unknown ASL's cell.
func categories(d Dim, g Geography, centres []string) []string {
	switch d {
	case DimASL:
		return append(slices.Clone(g.ASLs), Unknown)
	case DimDistrict:
		return append(slices.Clone(g.Districts), Unknown)
	case DimCentre:
		return slices.Clone(centres)
	case DimAge:
		var out []string
		for _, b := range AgeBands {
			out = append(out, b.Code)
		}
		return append(out, Unknown)
	case DimSex:
		return append(slices.Clone(Sexes), Unknown)
	case DimType:
		return slices.Clone(DiabetesTypes)
	}
	return nil
}

// Scope is what a published table is about: the region, one ASL or one
// centre.
type Scope string

// ScopeRegion is the whole region.
const ScopeRegion Scope = "region"

// ASLScope and CentreScope name the scopes of an ASL and of a centre.
func ASLScope(code string) Scope  { return Scope("asl:" + code) }
func CentreScope(id string) Scope { return Scope("centre:" + id) }

// parts returns the kind ("region", "asl", "centre") and the code.
func (s Scope) parts() (string, string) {
	k, v, _ := strings.Cut(string(s), ":")
	return k, v
}

// constraints returns the cell constraints of the scope.
func (s Scope) constraints() []constraint {
	switch k, v := s.parts(); k {
	case "asl":
		return []constraint{eq(DimASL, v)}
	case "centre":
		return []constraint{centreIs(v)}
	}
	return nil
}

// dimsOf returns the breakdowns of a scope's tables: the region by every
// attribute; an ASL by its districts, centres, age, sex and type; a centre
// by ASL, district, age, sex and type.
func dimsOf(s Scope) []Dim {
	switch k, _ := s.parts(); k {
	case "asl":
		return []Dim{DimTotal, DimDistrict, DimCentre, DimAge, DimSex, DimType}
	case "centre":
		return []Dim{DimTotal, DimASL, DimDistrict, DimAge, DimSex, DimType}
	}
	return Dims()
}

// rowsOf returns the categories of the breakdown d within scope s (an
// ASL's districts are its own).
func rowsOf(s Scope, d Dim, g Geography, centres []string) []string {
	if d == DimTotal {
		return []string{""}
	}
	if k, v := s.parts(); k == "asl" && d == DimDistrict {
		return g.districtsOf(v)
	}
	return categories(d, g, centres)
}

// cellOf returns the key of row r of the breakdown d within scope s.
func cellOf(s Scope, d Dim, r string) key {
	cs := s.constraints()
	if d == DimTotal {
		return makeKey(cs...)
	}
	if k, _ := s.parts(); k == "asl" && d == DimDistrict {
		return makeKey(eq(DimDistrict, r)) // a district implies its ASL
	}
	return makeKey(with(cs, eq(d, r))...)
}
