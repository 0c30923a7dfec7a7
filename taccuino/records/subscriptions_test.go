package records

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fsecgm/taccuino/consent"

	"github.com/google/go-cmp/cmp"
)

func TestParseSubscriptions(t *testing.T) {
	t.Parallel()
	good := `[
	 {"name": "ehr", "kind": "ehr", "base_url": "https://fse.example/fhir",
	  "auth": {"kind": "bearer", "secret_env": "FSECGM_EHR_TOKEN"}, "scope": {"kind": "all"}},
	 {"name": "diab-careggi", "kind": "diabetology", "base_url": "https://diab.example/fhir", "active": false,
	  "auth": {"kind": "client_credentials", "token_url": "https://diab.example/token", "client_id": "fsecgm", "secret_file": "/run/secrets/diab"},
	  "scope": {"kind": "care", "care_kind": "diabetology", "care_party": "ORG-DIAB-1"}}]`
	subs, err := ParseSubscriptions([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Subscription{
		{Name: "ehr", Kind: KindEHR, BaseURL: "https://fse.example/fhir", Auth: Auth{Kind: AuthBearer, SecretEnv: "FSECGM_EHR_TOKEN"},
			Scope: Scope{Kind: ScopeAll}, Active: true},
		{Name: "diab-careggi", Kind: KindDiabetology, BaseURL: "https://diab.example/fhir",
			Auth:  Auth{Kind: AuthClientCredentials, TokenURL: "https://diab.example/token", ClientID: "fsecgm", SecretFile: "/run/secrets/diab"},
			Scope: Scope{Kind: ScopeCare, CareKind: consent.CareDiabetology, CareParty: "ORG-DIAB-1"}},
	}
	if diff := cmp.Diff(want, subs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"unknown member", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"none"},"scope":{"kind":"all"},"token":"x"}]`, "unknown field"},
		{"secret in the config", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"bearer","secret":"x"},"scope":{"kind":"all"}}]`, "unknown field"},
		{"two secrets", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"bearer","secret_env":"A","secret_file":"/f"},"scope":{"kind":"all"}}]`, "exactly one"},
		{"bad env name", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"bearer","secret_env":"A B"},"scope":{"kind":"all"}}]`, "secret_env"},
		{"bad kind", `[{"name":"a","kind":"lab","base_url":"https://x/fhir","auth":{"kind":"none"},"scope":{"kind":"all"}}]`, "kind \"lab\""},
		{"base with query", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir?a=1","auth":{"kind":"none"},"scope":{"kind":"all"}}]`, "base_url"},
		{"care without kind", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"none"},"scope":{"kind":"care"}}]`, "care_kind"},
		{"mmg party not a fiscal code", `[{"name":"a","kind":"mmg","base_url":"https://x/fhir","auth":{"kind":"none"},"scope":{"kind":"care","care_kind":"mmg","care_party":"DR-1"}}]`, "care_party"},
		{"repeated name", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"none"},"scope":{"kind":"all"}},{"name":"a","kind":"ehr","base_url":"https://y/fhir","auth":{"kind":"none"},"scope":{"kind":"all"}}]`, "repeated"},
		{"client credentials without token URL", `[{"name":"a","kind":"ehr","base_url":"https://x/fhir","auth":{"kind":"client_credentials","client_id":"c","secret_env":"S"},"scope":{"kind":"all"}}]`, "token_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSubscriptions([]byte(tc.json))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrInvalid naming %q", err, tc.want)
			}
		})
	}
}

func TestPutSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient(t, 40, true)
	q := e.patient(t, 41, true)
	s := e.subscribe(t, "list", "https://list.example/fhir", func(s *Subscription) {
		s.Scope = Scope{Kind: ScopeList, Patients: []int64{q.ID, p.ID, p.ID}}
	})
	if diff := cmp.Diff([]int64{p.ID, q.ID}, s.Scope.Patients); diff != "" {
		t.Errorf("patients (-want +got):\n%s", diff)
	}
	// Replaced by name.
	e.subscribe(t, "list", "https://list2.example/fhir", func(s *Subscription) {
		s.Scope = Scope{Kind: ScopeList, Patients: []int64{q.ID}}
	})
	subs, err := e.rec.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].BaseURL != "https://list2.example/fhir" || !cmp.Equal(subs[0].Scope.Patients, []int64{q.ID}) {
		t.Errorf("after replacement: %+v %v", subs, err)
	}
	if err := e.rec.SetActive(ctx, "list", false); err != nil {
		t.Fatal(err)
	}
	if err := e.rec.SetActive(ctx, "none", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetActive of an unknown one: %v", err)
	}
}
