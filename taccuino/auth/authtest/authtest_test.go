package authtest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"

	"github.com/google/go-cmp/cmp"
)

func getJSON(t *testing.T, p *authtest.Provider, url string, v any) int {
	t.Helper()
	resp, err := p.Client().Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

func TestProviderServesDiscoveryAndJWKS(t *testing.T) {
	p := authtest.New(t)
	if !strings.HasPrefix(p.Issuer(), "https://") {
		t.Errorf("Issuer() = %q, want an https URL", p.Issuer())
	}
	var doc map[string]any
	getJSON(t, p, p.Issuer()+"/.well-known/openid-configuration", &doc)
	if doc["issuer"] != p.Issuer() || doc["jwks_uri"] != p.JWKSURL() {
		t.Errorf("discovery document = %v, want issuer %s and jwks_uri %s", doc, p.Issuer(), p.JWKSURL())
	}

	type jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	var set jwks
	getJSON(t, p, p.JWKSURL(), &set)
	kids := map[string]string{}
	for _, k := range set.Keys {
		kids[k["kid"].(string)] = k["alg"].(string) + "/" + k["use"].(string)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %v publishes private parameter %q", k["kid"], private)
			}
		}
	}
	want := map[string]string{p.KeyID("RS256"): "RS256/sig", p.KeyID("ES256"): "ES256/sig", "enc-1": "RSA-OAEP-256/enc"}
	if diff := cmp.Diff(want, kids); diff != "" {
		t.Errorf("JWKS keys (-want +got):\n%s", diff)
	}

	old := p.KeyID("RS256")
	newKID := p.Rotate(t, "RS256")
	p.Retire(old)
	set = jwks{}
	getJSON(t, p, p.JWKSURL(), &set)
	got := map[string]bool{}
	for _, k := range set.Keys {
		got[k["kid"].(string)] = true
	}
	if got[old] || !got[newKID] {
		t.Errorf("JWKS after rotating and retiring %s = %v, want %s only among RSA keys", old, got, newKID)
	}

	p.SetDown(true)
	if code := getJSON(t, p, p.JWKSURL(), &set); code != http.StatusServiceUnavailable {
		t.Errorf("JWKS while down: status %d, want 503", code)
	}
	if n := p.JWKSRequests(); n != 3 {
		t.Errorf("JWKSRequests() = %d, want 3", n)
	}
}

func TestProviderTokenHeader(t *testing.T) {
	p := authtest.New(t)
	spec := auth.PrincipalSpec{Role: auth.RoleService, ClientID: "c"}
	for _, tt := range []struct {
		opts []authtest.Option
		alg  string
		kid  string
	}{
		{nil, "RS256", p.KeyID("RS256")},
		{[]authtest.Option{authtest.WithAlg("ES256")}, "ES256", p.KeyID("ES256")},
		{[]authtest.Option{authtest.AlgNone()}, "none", p.KeyID("RS256")},
		{[]authtest.Option{authtest.HS256WithPublicKey()}, "HS256", p.KeyID("RS256")},
	} {
		tok := p.Token(t, spec, tt.opts...)
		parts := strings.Split(tok, ".")
		b, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		json.Unmarshal(b, &h)
		if h["alg"] != tt.alg || h["kid"] != tt.kid {
			t.Errorf("token header = %v, want alg %s kid %s", h, tt.alg, tt.kid)
		}
		if tt.alg == "none" && parts[2] != "" {
			t.Errorf("alg none token has a signature %q", parts[2])
		}
	}
}
