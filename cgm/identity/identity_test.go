package identity

import (
	"testing"
	"time"

	"fsecgm/cgm/codicefiscale"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	mario := Patient{FiscalCode: "RSSMRA80A01H501U", GivenName: "Mario", FamilyName: "Rossi"}
	marioCFOnly := Patient{FiscalCode: "RSSMRA80A01H501U"}
	// Ilaria D'Angelo, born 12 March 1990 (woman: day 52).
	ilaria := Patient{FiscalCode: codicefiscale.Complete("DNGLRI90C52D612"), GivenName: "Ilaria", FamilyName: "D'Angelo"}
	// Niccolò De Luca, born 3 July 2011.
	niccolo := Patient{FiscalCode: codicefiscale.Complete("DLCNCL11L03D612"), GivenName: "Niccolò", FamilyName: "De Luca"}
	// Maria Grazia Conti: the code's name part comes from both names (M R G R Z → M G R).
	mariaGrazia := Patient{FiscalCode: codicefiscale.Complete("CNTMGR75E41D612"), GivenName: "Maria Grazia", FamilyName: "Conti"}
	tests := []struct {
		name string
		p    Patient
		n    Named
		want Check // "" = match
	}{
		{"same names", mario, Named{GivenName: "Mario", FamilyName: "Rossi"}, ""},
		{"case and spaces", mario, Named{GivenName: " MARIO ", FamilyName: "rossi"}, ""},
		{"fiscal code only", marioCFOnly, Named{GivenName: "Mario", FamilyName: "Rossi"}, ""},
		{"another person", mario, Named{GivenName: "Marco", FamilyName: "Bianchi"}, CheckSurnameCode},
		{"same surname, other name", mario, Named{GivenName: "Marco", FamilyName: "Rossi"}, CheckNameCode},
		{"other name, code only", marioCFOnly, Named{GivenName: "Marco", FamilyName: "Rossi"}, CheckNameCode},
		{"same codes, other surname", mario, Named{GivenName: "Mario", FamilyName: "Russo"}, CheckSurname}, // RUSSO → RSS too
		{"same codes, other name", mario, Named{GivenName: "Maria", FamilyName: "Rossi"}, CheckGivenName},  // MARIA → MRA too
		{"no name", mario, Named{}, CheckUnnamed},
		{"surname only", mario, Named{FamilyName: "Rossi"}, CheckUnnamed},
		{"apostrophe", ilaria, Named{GivenName: "Ilaria", FamilyName: "D'Angelo"}, ""},
		{"apostrophe dropped", ilaria, Named{GivenName: "Ilaria", FamilyName: "Dangelo"}, ""},
		{"typographic apostrophe and space", ilaria, Named{GivenName: "ilaria", FamilyName: "D’ Angelo"}, ""},
		{"particle and accent", niccolo, Named{GivenName: "Niccolò", FamilyName: "De Luca"}, ""},
		{"accent written as apostrophe", niccolo, Named{GivenName: "Niccolo'", FamilyName: "DE LUCA"}, ""},
		{"particle joined", niccolo, Named{GivenName: "Niccolo", FamilyName: "Deluca"}, ""},
		{"two given names", mariaGrazia, Named{GivenName: "Maria Grazia", FamilyName: "Conti"}, ""},
		{"first given name only", mariaGrazia, Named{GivenName: "Maria", FamilyName: "Conti"}, ""},
		{"second given name only", mariaGrazia, Named{GivenName: "Grazia", FamilyName: "Conti"}, CheckNameCode},
		{"first given name, FSE names unknown", Patient{FiscalCode: mariaGrazia.FiscalCode}, Named{GivenName: "Maria", FamilyName: "Conti"}, CheckNameCode},
		{"birth date agrees with the code", ilaria, Named{GivenName: "Ilaria", FamilyName: "D'Angelo", BirthDate: day(1990, 3, 12)}, ""},
		{"birth date differs from the code", ilaria, Named{GivenName: "Ilaria", FamilyName: "D'Angelo", BirthDate: day(1991, 3, 12)}, CheckBirthDate},
		{"birth date of the FSE wins", Patient{FiscalCode: mario.FiscalCode, BirthDate: day(1980, 1, 1)},
			Named{GivenName: "Mario", FamilyName: "Rossi", BirthDate: day(1980, 1, 1)}, ""},
		{"birth date differs from the FSE's", Patient{FiscalCode: mario.FiscalCode, BirthDate: day(1980, 1, 1)},
			Named{GivenName: "Mario", FamilyName: "Rossi", BirthDate: day(1980, 1, 2)}, CheckBirthDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Match(tt.p, tt.n, today)
			if got.Failed != tt.want || got.Match != (tt.want == "") {
				t.Errorf("Match(%+v, %+v) = %+v, want failed %q", tt.p, tt.n, got, tt.want)
			}
		})
	}
}

func TestNamedString(t *testing.T) {
	t.Parallel()
	if got := (Named{GivenName: " Marco ", FamilyName: "Bianchi "}).String(); got != "Marco Bianchi" {
		t.Errorf("String() = %q", got)
	}
}
