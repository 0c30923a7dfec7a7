package codicefiscale

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		cf   string
		ok   bool
		name string
	}{
		{"RSSMRA79B11C566R", true, "sgart.it worked example"},
		{"RSSMRA85T10A562S", true, "test code, check character by the D.M. 13813/1976 tables"},
		{"TSTPSN80A01D612A", true, "HL7 Italia example"},
		{"RSSMRT57D12D612E", true, "HL7 Italia example with corrected check character"},
		{"RSSMRT57D12D612R", false, "HL7 Italia example as published: wrong check character"},
		{"RSSMRA85T10A562", false, "15 characters"},
		{"RSSMRA85T10A562SX", false, "17 characters"},
		{"RSSMR185T10A562S", false, "digit in the name part"},
		{"RSSMRA85Z10A562S", false, "Z is not a month letter"},
		{"RSSMRA8XT10A562S", false, "X is not an omocodia letter"},
	}
	for _, tt := range tests {
		err := Validate(tt.cf)
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q) [%s] = %v, want ok=%v", tt.cf, tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) error %v does not wrap ErrInvalid", tt.cf, err)
		}
	}
}

func TestOmocodia(t *testing.T) {
	// Replacing the last digit by its omocodia letter (2 -> N) gives a
	// code that is valid once its check character is recomputed.
	base := "RSSMRA85T10A56N"
	cf := base + string(CheckChar(base))
	if err := Validate(cf); err != nil {
		t.Errorf("Validate(%q) = %v, want nil", cf, err)
	}
}

func TestNormalize(t *testing.T) {
	if got := Normalize("  rssmra85t10a562s "); got != "RSSMRA85T10A562S" {
		t.Errorf("Normalize = %q", got)
	}
}

func TestComplete(t *testing.T) {
	if got := Complete("RSSMRA80A01H501"); got != "RSSMRA80A01H501U" {
		t.Errorf("Complete = %q, want RSSMRA80A01H501U", got)
	}
	if err := Validate(Complete("BNCNNA85M50D612")); err != nil {
		t.Errorf("a completed code does not validate: %v", err)
	}
}
