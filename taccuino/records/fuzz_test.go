package records

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseDateTime checks the FHIR date and dateTime reader of the
// searches: no input panics, and an accepted value stands for a non-empty
// range [start, end) that contains start, in the year the value names.
func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2024", "2024-05", "2024-05-01", "2024-05-01T10:15", "2024-05-01T10:15:00Z",
		"2024-05-01T10:15:00.123456789+02:00", "2024-02-30", "2024-13", "2024-03-31T02:30:00", "2024-10-27T02:30",
		"0000-01-01", "9999-12-31T23:59:59-14:00", "2024-05-01T24:00", "2024-05-01T10:15:00+99:99", ""} {
		f.Add(s)
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseDateTime(s, rome)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error does not name the value: %v", err)
			}
			return
		}
		if !end.After(start) {
			t.Fatalf("%q: empty range [%s, %s)", s, start, end)
		}
		if end.Sub(start) > 367*24*time.Hour {
			t.Fatalf("%q: range of %s", s, end.Sub(start))
		}
	})
}

// FuzzParseHbA1c checks the reader of laboratory HbA1c Observations: no
// input panics, a refusal is a *FieldError naming the element, and an
// accepted result is a plausible HbA1c percentage with an instant.
func FuzzParseHbA1c(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"subject":{"reference":"Patient/x"},"effectiveDateTime":"2024-05-01","valueQuantity":{"value":6.8,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`,
		`{"resourceType":"Observation","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2024-05-01T08:00:00+02:00","valueQuantity":{"value":26,"system":"http://unitsofmeasure.org","code":"%"}}`,
		`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"59261-8"}]},"valueQuantity":{"value":50,"code":"mmol/mol"}}`,
		`{"resourceType":"Patient"}`, `{}`, `[]`, `null`, `{"resourceType":"Observation","valueQuantity":{"value":1e999}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseHbA1c(body, time.UTC)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal is not a *FieldError: %v", err)
			}
			return
		}
		if r.Percent < 2 || r.Percent > 25 || r.Value == "" || r.At.IsZero() {
			t.Fatalf("accepted HbA1c %v %% (%q) at %s", r.Percent, r.Value, r.At)
		}
	})
}

// FuzzParseSubscriptions checks the reader of the subscriptions file: no
// input panics, and every accepted subscription validates, with a unique
// name.
func FuzzParseSubscriptions(f *testing.F) {
	for _, s := range []string{
		`[{"name":"ehr","kind":"ehr","base_url":"https://fse.example/fhir","auth":{"kind":"bearer","secret_env":"FSECGM_EHR_TOKEN"},"scope":{"kind":"all"}}]`,
		`[{"name":"diab","kind":"diabetology","base_url":"https://diab.example/fhir","auth":{"kind":"client_credentials","token_url":"https://diab.example/token","client_id":"fsecgm","secret_file":"/run/secrets/diab"},"scope":{"kind":"care","care_kind":"diabetology","care_party":"ORG-DIAB-1"},"active":false}]`,
		`[{"name":"x","kind":"ehr","base_url":"ftp://x","auth":{"kind":"none"},"scope":{"kind":"all"}},{"name":"x"}]`,
		`[]`, `{}`, `[{"unknown":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		subs, err := ParseSubscriptions(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal does not wrap ErrInvalid: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for i, s := range subs {
			if err := s.Validate(); err != nil {
				t.Fatalf("subscription %d accepted but invalid: %v", i, err)
			}
			if seen[s.Name] {
				t.Fatalf("name %q accepted twice", s.Name)
			}
			seen[s.Name] = true
		}
	})
}
