package locale

import "testing"

func TestNumber(t *testing.T) {
	tests := []struct {
		lang   Lang
		v      float64
		digits int
		want   string
	}{
		{IT, 6.9468, 1, "6,9"},
		{EN, 6.9468, 1, "6.9"},
		{IT, 72.45, 0, "72"},
		{IT, 0.5, 0, "1"},
		{EN, -0.04, 1, "0.0"},
		{IT, 123.6655231560892, 1, "123,7"},
	}
	for _, tt := range tests {
		if got := tt.lang.Number(tt.v, tt.digits); got != tt.want {
			t.Errorf("%s.Number(%v, %d) = %q, want %q", tt.lang, tt.v, tt.digits, got, tt.want)
		}
	}
	if got := IT.Percent(91.66, 1); got != "91,7 %" {
		t.Errorf("IT.Percent = %q", got)
	}
	if got := EN.Percent(91.66, 1); got != "91.7%" {
		t.Errorf("EN.Percent = %q", got)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Lang{"": IT, "en": EN, "en-GB,en;q=0.9": EN, "it-IT": IT, "de,en;q=0.5": EN, "fr": IT} {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabels(t *testing.T) {
	for key, m := range labels {
		if m[IT] == "" || m[EN] == "" {
			t.Errorf("label %q lacks a translation: %v", key, m)
		}
	}
	if EN.T("mean_glucose") != "Mean glucose" || IT.T("mean_glucose") != "Glucosio medio" {
		t.Error("T(mean_glucose) wrong")
	}
	if IT.T("no-such-key") != "no-such-key" {
		t.Error("unknown key should be returned as is")
	}
}

func TestPageLabels(t *testing.T) {
	for key, m := range pageLabels {
		if m[IT] == "" || m[EN] == "" {
			t.Errorf("page label %q lacks a translation: %v", key, m)
		}
		if _, dup := labels[key]; dup {
			t.Errorf("page label %q is also a figure label", key)
		}
	}
	if IT.T("tac_login") != "Accedi" || EN.T("tac_login") != "Sign in" {
		t.Error("T(tac_login) wrong")
	}
}
