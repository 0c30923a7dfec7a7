// Package codicefiscale validates the Italian fiscal code (codice fiscale) of
// a natural person, the identifier of a patient in the FSE.
//
// The format and check character follow D.M. 23 dicembre 1976 n. 13813
// ("Sistemi di codificazione dei soggetti da iscrivere all'anagrafe
// tributaria"), as summarised by
// https://www.sgart.it/IT/informatica/il-codice-fiscale/post and
// https://cfiscale.it/come-funziona: 16 characters, surname (3
// letters), name (3), year (2 digits), month letter, day (2 digits, +40 for
// women), Belfiore code (letter + 3 digits), check character. The digits of
// positions 7–8, 10–11 and 13–15 may be replaced by the letters LMNPQRSTUV
// (omocodia). The check character is the sum of the odd-position values
// (table "dispari") and even-position values (table "pari") of the first 15
// characters, modulo 26, as a letter.
package codicefiscale

import (
	"errors"
	"fmt"
	"strings"
)

// System is the FHIR identifier system of the codice fiscale (HL7 Italia).
const System = "http://hl7.it/sid/codiceFiscale"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid codice fiscale")

// odd holds the "dispari" values of 0-9 and A-Z.
var odd = [36]int{
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // A-J
	2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23, // K-Z
}

// Normalize upper-cases the code and removes surrounding spaces.
func Normalize(cf string) string { return strings.ToUpper(strings.TrimSpace(cf)) }

// letterPos and digitPos say which positions hold letters and which digits
// (or their omocodia letters).
const pattern = "AAAAAA99A99A999A"

// Validate reports whether cf (already normalized) is a well-formed fiscal
// code of a natural person with a correct check character.
func Validate(cf string) error {
	if len(cf) != 16 {
		return fmt.Errorf("%w: must be 16 characters, got %d", ErrInvalid, len(cf))
	}
	for i := 0; i < 16; i++ {
		c := cf[i]
		switch pattern[i] {
		case 'A':
			if c < 'A' || c > 'Z' {
				return fmt.Errorf("%w: character %d must be a letter", ErrInvalid, i+1)
			}
		case '9':
			if !(c >= '0' && c <= '9' || strings.IndexByte("LMNPQRSTUV", c) >= 0) {
				return fmt.Errorf("%w: character %d must be a digit", ErrInvalid, i+1)
			}
		}
	}
	if m := cf[8]; strings.IndexByte("ABCDEHLMPRST", m) < 0 {
		return fmt.Errorf("%w: character 9 must be a month letter (ABCDEHLMPRST)", ErrInvalid)
	}
	if want := CheckChar(cf[:15]); cf[15] != want {
		return fmt.Errorf("%w: wrong check character %q (expected %q)", ErrInvalid, cf[15], want)
	}
	return nil
}

// Complete returns first15 (the first 15 characters of a fiscal code,
// upper case) followed by its check character: a valid code for test,
// demo and simulated data built from a pattern.
func Complete(first15 string) string { return first15 + string(CheckChar(first15)) }

// CheckChar computes the check character of the first 15 characters of a
// fiscal code (upper case letters and digits).
func CheckChar(first15 string) byte {
	sum := 0
	for i := 0; i < 15 && i < len(first15); i++ {
		c := first15[i]
		var idx int
		if c >= '0' && c <= '9' {
			idx = int(c - '0')
		} else {
			idx = int(c-'A') + 10
		}
		if i%2 == 0 { // positions 1, 3, …, 15 (1-based) are "dispari"
			sum += odd[idx]
		} else if c >= '0' && c <= '9' {
			sum += int(c - '0')
		} else {
			sum += int(c - 'A')
		}
	}
	return byte('A' + sum%26)
}
