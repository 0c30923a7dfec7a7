// Package identity decides whether the person a data source names is the
// patient of the FSE (Fascicolo Sanitario Elettronico): the evidence on
// which readings are bound to a patient.
//
// A LibreLinkUp account may follow someone other than the person who
// connects it (a parent, a partner, a stranger whose password was shared),
// and a file may have been exported from someone else's account: readings
// are bound only when the person the source names is the patient. The
// evidence compared is what both sides hold:
//
//   - the surname and the given name(s) that the source gives, against the
//     three-letter surname and name codes that the patient's codice fiscale
//     derives from the registered names (positions 1–6, D.M. 23 dicembre
//     1976 n. 13813: see codicefiscale.SurnameCode and NameCode) — always
//     available, since every patient has a fiscal code;
//   - the same names against the FSE identity's names (from the identity
//     provider: SPID/CIE attributes name and familyName, or the registry),
//     when the FSE has them, after folding case, accents, apostrophes,
//     spaces and hyphens ("D'Angelo" = "Dangelo", "De Luca" = "DELUCA",
//     "Niccolò" = "Niccolo");
//   - the date of birth, where the source gives it, against the FSE's or the
//     one the fiscal code encodes.
//
// A given name may be shortened to its first word ("Maria" for "Maria
// Grazia") when the FSE holds the full given name; the fiscal code's name
// code is then not required, since it derives from all the given names.
package identity

import (
	"strings"
	"time"
	"unicode"

	"fsecgm/cgm/codicefiscale"

	"golang.org/x/text/unicode/norm"
)

// Patient is the FSE identity of a patient.
type Patient struct {
	// FiscalCode is the patient's codice fiscale (required).
	FiscalCode string
	// GivenName and FamilyName are the names the FSE holds; empty when it
	// holds none.
	GivenName, FamilyName string
	// BirthDate is the date of birth the FSE holds (its year, month and
	// day count); zero when unknown, and then the fiscal code's is used.
	BirthDate time.Time
}

// Named is the person a data source names: the followed person of a
// LibreLinkUp connection, the patient fields of an export file.
type Named struct {
	GivenName, FamilyName string
	// BirthDate is the date of birth the source gives; zero when it gives
	// none.
	BirthDate time.Time
}

// String returns the name as the source gives it ("Marco Bianchi"), for
// the message that tells the patient whom the source follows.
func (n Named) String() string {
	return strings.Join(strings.Fields(n.GivenName+" "+n.FamilyName), " ")
}

// Check names the evidence that did not match.
type Check string

// The checks, in the order Match applies them.
const (
	// CheckUnnamed: the source gives no name, so nothing can be compared.
	CheckUnnamed Check = "unnamed"
	// CheckSurnameCode: the surname does not give the fiscal code's
	// positions 1–3.
	CheckSurnameCode Check = "surname_code"
	// CheckNameCode: the given name does not give the fiscal code's
	// positions 4–6 (and is not the first of the FSE's given names).
	CheckNameCode Check = "name_code"
	// CheckSurname: the surname differs from the FSE's.
	CheckSurname Check = "surname"
	// CheckGivenName: the given name differs from the FSE's (neither equal
	// nor its first word).
	CheckGivenName Check = "given_name"
	// CheckBirthDate: the date of birth differs from the FSE's.
	CheckBirthDate Check = "birth_date"
)

// Result is the outcome of Match.
type Result struct {
	// Match is true when every available piece of evidence agrees.
	Match bool
	// Failed is the first check that failed (empty on a match).
	Failed Check
}

// Match reports whether n designates p. today (in the patient's zone) is
// used to read the century of the fiscal code's year of birth. Every check
// whose evidence is available must pass; a source that names nobody never
// matches.
func Match(p Patient, n Named, today time.Time) Result {
	fail := func(c Check) Result { return Result{Failed: c} }
	cf := codicefiscale.Normalize(p.FiscalCode)
	if fold(n.FamilyName) == "" || fold(n.GivenName) == "" || len(cf) != 16 {
		return fail(CheckUnnamed)
	}
	if codicefiscale.SurnameCode(n.FamilyName) != cf[0:3] {
		return fail(CheckSurnameCode)
	}
	firstOfFSE := p.GivenName != "" && firstWord(n.GivenName) == firstWord(p.GivenName)
	if codicefiscale.NameCode(n.GivenName) != cf[3:6] && !firstOfFSE {
		return fail(CheckNameCode)
	}
	if p.FamilyName != "" && fold(n.FamilyName) != fold(p.FamilyName) {
		return fail(CheckSurname)
	}
	if p.GivenName != "" && fold(n.GivenName) != fold(p.GivenName) && !firstOfFSE {
		return fail(CheckGivenName)
	}
	if !n.BirthDate.IsZero() {
		born := p.BirthDate
		if born.IsZero() {
			var ok bool
			if born, ok = codicefiscale.BirthDate(cf, today); !ok {
				return fail(CheckBirthDate)
			}
		}
		if !sameDate(born, n.BirthDate) {
			return fail(CheckBirthDate)
		}
	}
	return Result{Match: true}
}

// fold keeps the letters of a name, lower case and without accents:
// "D'Angelo-Rossi" → "dangelorossi".
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// firstWord returns the folded first word of a name ("" when none).
func firstWord(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' })
	for _, w := range f {
		if w := fold(w); w != "" {
			return w
		}
	}
	return ""
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
