package codicefiscale

import (
	"fmt"
	"testing"
	"time"
)

// makeCF builds a valid fiscal code from the six name letters and a birth
// date (D612: Firenze).
func makeCF(names string, y int, m time.Month, d int, female bool) string {
	if female {
		d += 40
	}
	return Complete(fmt.Sprintf("%s%02d%c%02dD612", names, y%100, "ABCDEHLMPRST"[m-1], d))
}

func TestSurnameAndNameCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		surname, given string
		want           string // the first six characters of the code
	}{
		{"Rossi", "Mario", "RSSMRA"},
		{"ROSSI", "mario", "RSSMRA"},
		{"Bianchi", "Giulia", "BNCGLI"},
		{"Bianchi", "Anna", "BNCNNA"},
		{"Verdi", "Luca", "VRDLCU"},
		{"Neri", "Sara", "NRESRA"},
		{"De Luca", "Niccolò", "DLCNCL"}, // N C C L: N, C, L
		{"D'Angelo", "Ilaria", "DNGLRI"},
		{"D’Angelo", "Ilaria", "DNGLRI"}, // typographic apostrophe
		{"Dangelo", "ilaria", "DNGLRI"},
		{"Fo", "Dario", "FOXDRA"},
		{"Fo", "Ai", "FOXAIX"},
		{"Rossi", "Maria Grazia", "RSSMGR"},     // four consonants or more: 1st, 3rd, 4th
		{"Rossi", "Gianfranco", "RSSGFR"},       // G N F R N C: G, F, R
		{"Bianchi", "Maria-Luisa", "BNCMLS"},    // M R L S: M, L, S
		{"Dell'Acqua", "Zoë", "DLLZOE"},         // diaeresis removed; consonants then vowels
		{"Ng", "Lì", "NGXLIX"},                  // short, padded with X
		{"Öztürk", "Çağlar", "ZTRCLR"},          // folded to A–Z; C G L R: C, L, R
		{"  rossi  ", " mario ", "RSSMRA"},      // spaces ignored
		{"Esposito", "Andrea", "SPSNDR"},        // vowels skipped while there are consonants
		{"Ferrari", "Francesca", "FRRFNC"},      // F R N C S C: F, N, C
		{"Costa", "Stefano", "CSTSFN"},          // S T F N: S, F, N
		{"Conti", "Elena", "CNTLNE"},            // L N then E
		{"Gallo", "Ettore", "GLLTTR"},           // T T R
		{"De Santis", "Maria Chiara", "DSNMCH"}, // M R C H R: M, C, H
	}
	for _, tt := range tests {
		got := SurnameCode(tt.surname) + NameCode(tt.given)
		if got != tt.want {
			t.Errorf("codes of %q %q = %s, want %s", tt.surname, tt.given, got, tt.want)
		}
	}
	if SurnameCode("'- ") != "" || NameCode("") != "" {
		t.Error("a name without letters must give an empty code")
	}
}

func TestBirthDate(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		cf     string
		want   time.Time
		wantOK bool
	}{
		{makeCF("RSSMRA", 1985, time.December, 10, false), time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), true},
		{makeCF("RSSMRA", 2008, time.May, 14, true), time.Date(2008, 5, 14, 0, 0, 0, 0, time.UTC), true},
		{makeCF("RSSMRA", 2026, time.May, 14, false), time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC), true}, // born today
		{makeCF("RSSMRA", 1926, time.May, 15, false), time.Date(1926, 5, 15, 0, 0, 0, 0, time.UTC), true}, // 2026-05-15 is tomorrow
		// A centenarian born 1925 reads as born in 2025: documented, errs towards refusing.
		{makeCF("RSSMRA", 1925, time.January, 1, false), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"RSSMRA85T10A562S", time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), true},
		// omocodia: 85 → UR, 10 → ML
		{"RSSMRAURTMLA562S", time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), true},
		{makeCF("RSSMRA", 2000, time.February, 29, false), time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"RSSMRA85T32A562S", time.Time{}, false}, // day 32
		{"RSSMRA85T72A562S", time.Time{}, false}, // day 72 - 40 = 32
		{"RSSMRA85X10A562S", time.Time{}, false}, // no month X
		{"RSSMRA85T00A562S", time.Time{}, false}, // day 0
		{"RSSMRA", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := BirthDate(tt.cf, today)
		if ok != tt.wantOK || !got.Equal(tt.want) {
			t.Errorf("BirthDate(%s) = %s, %v; want %s, %v", tt.cf, got.Format(time.DateOnly), ok,
				tt.want.Format(time.DateOnly), tt.wantOK)
		}
	}
}

func TestDerive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Person
		want string
	}{
		// The worked example of https://www.sgart.it/IT/informatica/il-codice-fiscale/post (Rossi Mario, 11/02/1979, C566).
		{Person{Surname: "Rossi", GivenName: "Mario", Birth: time.Date(1979, 2, 11, 0, 0, 0, 0, time.UTC), Place: "C566"}, "RSSMRA79B11C566R"},
		{Person{Surname: "Rossi", GivenName: "Mario", Birth: time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), Place: "A562"}, "RSSMRA85T10A562S"},
		{Person{Surname: "Bianchi", GivenName: "Giulia", Birth: time.Date(2014, 4, 5, 0, 0, 0, 0, time.UTC), Female: true, Place: "D612"}, "BNCGLI14D45D612K"},
	}
	for _, tt := range tests {
		got, ok := Derive(tt.p)
		if !ok || got != tt.want {
			t.Errorf("Derive(%+v) = %s, %v; want %s", tt.p, got, ok, tt.want)
		}
		if err := Validate(got); err != nil {
			t.Errorf("Derive(%+v) = %s: %v", tt.p, got, err)
		}
	}
	if _, ok := Derive(Person{Surname: "'", GivenName: "Mario", Place: "D612"}); ok {
		t.Error("Derive without a surname letter must fail")
	}
	if _, ok := Derive(Person{Surname: "Rossi", GivenName: "Mario", Place: "D61"}); ok {
		t.Error("Derive with a bad place must fail")
	}
}

func TestFemale(t *testing.T) {
	for _, c := range []struct {
		cf         string
		female, ok bool
	}{
		{"RSSMRA80A01H501U", false, true},
		{"BNCNNA85M50D612T", true, true},
		{"BNCGLI14D45D612K", true, true},
		{"RSSMRA80A0MH501U", false, true},  // omocodia: M = 1
		{"RSSMRA80A3PH501U", false, false}, // 34: no day
		{"RSSMRA80A00H501U", false, false},
		{"SHORT", false, false},
	} {
		f, ok := Female(c.cf)
		if f != c.female || ok != c.ok {
			t.Errorf("Female(%s) = %v, %v; want %v, %v", c.cf, f, ok, c.female, c.ok)
		}
	}
}
