package codicefiscale

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// What a codice fiscale derives from a person's data (D.M. 23 dicembre 1976
// n. 13813, allegato: "Norme per la determinazione del codice fiscale delle
// persone fisiche"): the surname and name codes of positions 1–6 and the
// birth date of positions 7–11.

// letters returns the letters A–Z of s, upper case, after removing accents
// and every other character: spaces, apostrophes and hyphens do not count
// ("D'Angelo" → DANGELO, "De Luca" → DELUCA, "Niccolò" → NICCOLO), as the
// decree reads composite surnames and names as one word.
func letters(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		r = unicode.ToUpper(r)
		if r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func vowel(c byte) bool { return strings.IndexByte("AEIOU", c) >= 0 }

// split returns the consonants and the vowels of a run of letters, each in
// order.
func split(s string) (cons, vows string) {
	var c, v strings.Builder
	for i := 0; i < len(s); i++ {
		if vowel(s[i]) {
			v.WriteByte(s[i])
		} else {
			c.WriteByte(s[i])
		}
	}
	return c.String(), v.String()
}

// pad completes s to three characters with X.
func pad(s string) string {
	for len(s) < 3 {
		s += "X"
	}
	return s[:3]
}

// SurnameCode returns the three letters that a codice fiscale derives from
// a surname (positions 1–3): its consonants in order, then its vowels,
// padded with X. All the words of a composite surname count as one.
// "Rossi" → RSS, "De Luca" → DLC, "Fo" → FOX. Empty when the surname has
// no letter.
func SurnameCode(surname string) string {
	l := letters(surname)
	if l == "" {
		return ""
	}
	c, v := split(l)
	return pad(c + v)
}

// NameCode returns the three letters that a codice fiscale derives from
// the given name(s) (positions 4–6): with four consonants or more, the
// first, third and fourth; otherwise the consonants, then the vowels,
// padded with X. All given names count as one ("Maria Grazia" → MGR).
// "Mario" → MRA, "Niccolò" → NCC. Empty when the name has no letter.
func NameCode(given string) string {
	l := letters(given)
	if l == "" {
		return ""
	}
	c, v := split(l)
	if len(c) >= 4 {
		return c[0:1] + c[2:4]
	}
	return pad(c + v)
}

// BirthDate reads the date of birth encoded in a codice fiscale (positions
// 7–11: year, month letter, day + 40 for women; the omocodia letters
// LMNPQRSTUV stand for digits), at 00:00 UTC. The code gives only the last
// two digits of the year: BirthDate takes the latest year that puts the
// date not after today's date (today read in its own zone), which is right
// for everyone under 100 and makes a centenarian look like a child, so
// that a rule built on age errs on the side of refusing. ok is false when
// the positions do not encode a date.
func BirthDate(cf string, today time.Time) (time.Time, bool) {
	if len(cf) != 16 {
		return time.Time{}, false
	}
	cf = strings.ToUpper(cf)
	yy, ok1 := omocodicDigits(cf[6:8])
	dd, ok2 := omocodicDigits(cf[9:11])
	month := strings.IndexByte("ABCDEHLMPRST", cf[8]) + 1
	if !ok1 || !ok2 || month == 0 {
		return time.Time{}, false
	}
	if dd > 40 {
		dd -= 40
	}
	century := today.Year() - today.Year()%100
	ty, tm, td := today.Date()
	todayUTC := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	for _, y := range []int{century + yy, century - 100 + yy} {
		if dd < 1 || dd > daysIn(time.Month(month), y) {
			continue
		}
		if d := time.Date(y, time.Month(month), dd, 0, 0, 0, 0, time.UTC); !d.After(todayUTC) {
			return d, true
		}
	}
	return time.Time{}, false
}

// Female reads the sex encoded in a codice fiscale: the day of birth
// (positions 10–11, omocodia letters read as digits) has 40 added for
// women (D.M. 23 dicembre 1976, art. 1; D.P.R. 29 settembre 1973, n. 605,
// art. 8). ok is false when the positions do not encode a day (1–31 or
// 41–71).
func Female(cf string) (female, ok bool) {
	if len(cf) != 16 {
		return false, false
	}
	dd, ok := omocodicDigits(strings.ToUpper(cf[9:11]))
	switch {
	case !ok:
		return false, false
	case dd >= 1 && dd <= 31:
		return false, true
	case dd >= 41 && dd <= 71:
		return true, true
	}
	return false, false
}

// omocodicDigits decodes a run of digits in which some may be replaced by
// the omocodia letters L=0 … V=9.
func omocodicDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		d := -1
		if c >= '0' && c <= '9' {
			d = int(c - '0')
		} else if k := strings.IndexByte("LMNPQRSTUV", c); k >= 0 {
			d = k
		}
		if d < 0 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Person is what a codice fiscale is computed from.
type Person struct {
	Surname, GivenName string
	Birth              time.Time // date of birth (year, month and day count)
	Female             bool
	// Place is the Belfiore code of the comune of birth (Z and three digits
	// for a foreign state), e.g. "D612" (Firenze).
	Place string
}

// Derive computes the codice fiscale of p (without omocodia): surname and
// name codes, year, month letter, day (+40 for women), place and check
// character. ok is false when a name has no letter or the place is not a
// letter and three digits. Demo, simulated and test people get codes that
// agree with their names through it.
func Derive(p Person) (string, bool) {
	sc, nc := SurnameCode(p.Surname), NameCode(p.GivenName)
	place := strings.ToUpper(p.Place)
	if sc == "" || nc == "" || len(place) != 4 || place[0] < 'A' || place[0] > 'Z' {
		return "", false
	}
	for i := 1; i < 4; i++ {
		if place[i] < '0' || place[i] > '9' {
			return "", false
		}
	}
	y, m, d := p.Birth.Date()
	if p.Female {
		d += 40
	}
	first15 := sc + nc + fmt.Sprintf("%02d%c%02d", y%100, "ABCDEHLMPRST"[m-1], d) + place
	return Complete(first15), true
}
