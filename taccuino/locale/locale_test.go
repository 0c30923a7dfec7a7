package locale

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

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

// TestCatalogue checks the catalogue: every key in exactly one section,
// with a text in both languages, no blank or padded text, and the same
// format verbs in the same order in both languages (a verb missing in one
// language prints "%!(EXTRA ...)" or "%!d(MISSING)" on its pages).
func TestCatalogue(t *testing.T) {
	seen := map[string]string{}
	n := 0
	for name, sec := range sections() {
		for key, m := range sec {
			n++
			if other, dup := seen[key]; dup {
				t.Errorf("key %q is in both %s and %s", key, other, name)
			}
			seen[key] = name
			for _, l := range []Lang{IT, EN} {
				s, ok := m[l]
				if !ok || s == "" {
					t.Errorf("%s: key %q has no %s text", name, key, l)
				}
				if strings.TrimSpace(s) != s {
					t.Errorf("%s: key %q: %s text %q has leading or trailing spaces", name, key, l, s)
				}
			}
			for l := range m {
				if l != IT && l != EN {
					t.Errorf("%s: key %q has a text in %q, not a language of the catalogue", name, key, l)
				}
			}
			if vi, ve := verbs(m[IT]), verbs(m[EN]); !slices.Equal(vi, ve) {
				t.Errorf("%s: key %q: format verbs %v in Italian, %v in English", name, key, vi, ve)
			}
		}
	}
	if n < 400 {
		t.Errorf("the catalogue holds %d keys; expected the pages, errors, reports and clinic texts (400 or more)", n)
	}
	if EN.T("mean_glucose") != "Mean glucose" || IT.T("mean_glucose") != "Glucosio medio" {
		t.Error("T(mean_glucose) wrong")
	}
	if IT.T("no-such-key") != "no-such-key" {
		t.Error("unknown key should be returned as is")
	}
	if got := Pseudo.T("tac_login"); got != PseudoOpen+"Accedi"+PseudoClose {
		t.Errorf("Pseudo.T(tac_login) = %q", got)
	}
	if IT.T("tac_login") != "Accedi" || EN.T("tac_login") != "Sign in" {
		t.Error("T(tac_login) wrong")
	}
}

// verbs returns the format verbs of s ("%d", "%s", "%.1f"), "%%" excluded;
// a "%" followed by a space is the percent sign of Italian typography ("70 %
// dei dati"), not a verb.
func verbs(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(s) && strings.IndexByte("+-#0123456789.[]*", s[j]) >= 0 {
			j++
		}
		if j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			out = append(out, s[i:j+1])
		}
		i = j
	}
	return out
}

func TestF(t *testing.T) {
	if got := IT.F("tac_age_min", 5); got != "5 min fa" {
		t.Errorf("IT.F(tac_age_min, 5) = %q", got)
	}
	if got := EN.F("tac_age_min"); got != "%d min ago" {
		t.Errorf("EN.F without arguments = %q, want the text as is", got)
	}
}

// TestDetail checks that every form of access-log detail the service
// writes is said in both languages, without the English of the detail.
func TestDetail(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	details := []string{
		"taccuino 2026-03-01..2026-03-14", "latest glucose", "glucometrics 2026-03-01..2026-03-14",
		"daily profiles 2026-03-01..2026-03-14", "readings 2026-03-01..2026-03-14", "sensor connections", "connect sensor",
		"connect sensor (patient)", "connect sensor (follower)", "disconnect sensor, keep readings",
		"disconnect sensor, delete its readings", "update sensor credentials", "sync sensor now",
		"import CSV (auto, 1234 bytes)", "find patient by fiscal code", "open taccuino",
		"clinic list: summary of the last 14 days", "AGP report 2026-03-01..2026-03-14",
		"AGP report (PDF) 2026-03-01..2026-03-14", "clinical information update", "FHIR Observation search", "FHIR Patient read",
		"FHIR DiagnosticReport read", "FHIR $submit-cgm-bundle: 3 readings, 1 devices", "FHIR $submit-cgm-bundle: nothing to store",
		"FHIR $submit-cgm-bundle: 12 device measurements, 2 devices", "device measures 2026-03-01..2026-03-14",
		"device measures and glucose 2026-03-29..2026-03-29", "device sources", "device sources order",
		"import device export (4096 bytes)",
		"FHIR Observation create: 1 lab result", "CGM summary 2026-03-01..2026-03-14 sent to diabetologia-fi",
		"third-party consent", "grant third-party consent", "revoke third-party consent", "accept privacy notice 2026-01",
		"privacy notice", "grant delegation until 2027-01-31T23:00:00Z", "revoke delegation 12", "delegations", "access log",
		"care relationships", "record mmg care relationship", "end diabetology care relationship", "record parent", "end tutor",
		"notification settings", "notifications off", "notifications each to m***@example.org", "notifications daily to m***@example.org",
		"removal of another person's sensor readings (LibreLinkUp connection c-1): 12 deleted, 3 restored",
		"Nightscout uploaders", "create Nightscout uploader", "revoke Nightscout uploader", "Nightscout upload (abcdefghijklmnop)",
		"Nightscout entries (abcdefghijklmnop)", "Nightscout upload (abcdefghijklmnop): wrong or missing secret",
		"Nightscout status (abcdefghijklmnop): revoked uploader", "Nightscout data out of scope (abcdefghijklmnop): wrong or missing secret",
		"GET /taccuino/p/:id: no token", "POST /api/v1/care-relationships: expired token", "GET /fhir/Observation: token refused",
	}
	english := regexp.MustCompile(`\b(glucose|sensor|report|consent|delegation|readings|sent|until|token|record|search|read|import|bytes|clinic|summary|patient|notice|care)\b`)
	for _, d := range details {
		it, en := Detail(IT, d, rome), Detail(EN, d, rome)
		if it == "" || en == "" {
			t.Errorf("detail %q: %q in Italian, %q in English", d, it, en)
			continue
		}
		if w := english.FindString(strings.ToLower(it)); w != "" {
			t.Errorf("detail %q in Italian %q holds the English word %q", d, it, w)
		}
		if strings.Contains(it, "%!") || strings.Contains(en, "%!") {
			t.Errorf("detail %q: %q / %q", d, it, en)
		}
	}
	if got := Detail(IT, "grant delegation until 2027-01-31T23:00:00Z", rome); got != "delega concessa fino al 31/01/2027" {
		t.Errorf("delegation to the end of 31 January: %q", got)
	}
	if got := Detail(IT, "something else", rome); got != "" {
		t.Errorf("unknown detail: %q, want nothing", got)
	}
}

// TestUntil checks the end of a delegation entered as a date: "until 31
// January" ends at the start of 1 February and shows as 31 January.
func TestUntil(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	end := time.Date(2027, 2, 1, 0, 0, 0, 0, rome)
	if got := Until(IT, end, rome); got != "31/01/2027" {
		t.Errorf("Until(1 Feb 00:00) = %q, want 31/01/2027", got)
	}
	if got := Until(EN, end, rome); got != "31 Jan 2027" {
		t.Errorf("Until in English = %q", got)
	}
	if got := Until(IT, time.Date(2027, 2, 1, 9, 5, 0, 0, rome), rome); got != "01/02/2027 09:05" {
		t.Errorf("Until(1 Feb 09:05) = %q", got)
	}
}
