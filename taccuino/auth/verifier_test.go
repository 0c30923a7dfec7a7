package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/auth/authtest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	citizenCF = "RSSMRA80A01H501U"
	doctorCF  = "VRDLCU68H12D612K"
)

var (
	citizen = auth.PrincipalSpec{Role: auth.RoleCitizen, Subject: "sub-citizen", FiscalCode: citizenCF, Name: "Mario Rossi"}
	doctor  = auth.PrincipalSpec{Role: auth.RolePractitioner, Subject: "sub-doctor", FiscalCode: doctorCF,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: "centro-diabetologico-firenze"}
	service = auth.PrincipalSpec{Role: auth.RoleService, ClientID: "mmg-record", Scopes: []string{"system/Observation.rs", "system/Patient.r"}}
	analyst = auth.PrincipalSpec{Role: auth.RoleAnalyst, Subject: "sub-analyst", FiscalCode: citizenCF, PopulationScope: "asl:TC"}
	head    = auth.PrincipalSpec{Role: auth.RolePractitioner, Subject: "sub-head", FiscalCode: doctorCF,
		PractitionerRole: auth.PractitionerDiabetologist, Organization: "centro-diabetologico-firenze", OrganizationRole: auth.OrganizationHead}
)

// allKinds are the errors every Verify error must wrap one of.
var allKinds = []error{auth.ErrMissing, auth.ErrMalformed, auth.ErrExpired, auth.ErrNotYetValid,
	auth.ErrBadSignature, auth.ErrWrongIssuer, auth.ErrWrongAudience, auth.ErrAlgorithm,
	auth.ErrClaims, auth.ErrKeySetUnavailable}

// newVerifier returns a Verifier for p whose background refresh stops with
// the test.
func newVerifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// checkNoLeak fails if msg contains the token or any of its parts.
func checkNoLeak(t *testing.T, msg, tok string) {
	t.Helper()
	if tok == "" {
		return
	}
	if strings.Contains(msg, tok) {
		t.Errorf("error message contains the token: %s", msg)
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("error message contains a token segment: %s", msg)
		}
	}
}

func wantPrincipal(spec auth.PrincipalSpec, issuer string) *auth.Principal {
	p := &auth.Principal{
		Issuer:           issuer,
		Subject:          spec.Subject,
		Role:             spec.Role,
		FiscalCode:       spec.FiscalCode,
		PractitionerRole: spec.PractitionerRole,
		Organization:     spec.Organization,
		OrganizationRole: spec.OrganizationRole,
		PopulationScope:  spec.PopulationScope,
		ClientID:         spec.ClientID,
		Scopes:           spec.Scopes,
		Name:             spec.Name,
	}
	if spec.Role == auth.RoleService && p.Subject == "" {
		p.Subject = spec.ClientID
	}
	return p
}

var principalCmp = []cmp.Option{
	cmpopts.IgnoreUnexported(auth.Principal{}),
	cmpopts.IgnoreFields(auth.Principal{}, "TokenID", "Expiry"),
	cmpopts.EquateEmpty(),
}

func TestVerifyAccepts(t *testing.T) {
	p := authtest.New(t)
	v := newVerifier(t, p.Config())
	lower := citizen
	lower.FiscalCode = " rssmra80a01h501u "

	tests := []struct {
		name string
		spec auth.PrincipalSpec
		opts []authtest.Option
		want *auth.Principal
	}{
		{"citizen RS256", citizen, nil, wantPrincipal(citizen, p.Issuer())},
		{"citizen ES256", citizen, []authtest.Option{authtest.WithAlg("ES256")}, wantPrincipal(citizen, p.Issuer())},
		{"practitioner ES256", doctor, []authtest.Option{authtest.WithAlg("ES256")}, wantPrincipal(doctor, p.Issuer())},
		{"service", service, nil, wantPrincipal(service, p.Issuer())},
		{"fiscal code lower case is normalized", lower, nil, wantPrincipal(citizen, p.Issuer())},
		{"fiscal code without TINIT- prefix under fiscal_number", citizen, []authtest.Option{
			authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil),
			authtest.WithClaim("fiscal_number", citizenCF),
		}, wantPrincipal(citizen, p.Issuer())},
		{"fiscalNumber claim", citizen, []authtest.Option{
			authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil),
			authtest.WithClaim("fiscalNumber", "TINIT-"+citizenCF),
		}, wantPrincipal(citizen, p.Issuer())},
		{"audience array", citizen, []authtest.Option{authtest.WithAudience([]string{"other", authtest.Audience})}, wantPrincipal(citizen, p.Issuer())},
		{"expired within the leeway", citizen, []authtest.Option{authtest.ExpiredFor(10 * time.Second)}, wantPrincipal(citizen, p.Issuer())},
		{"nbf within the leeway", citizen, []authtest.Option{authtest.NotBefore(10 * time.Second)}, wantPrincipal(citizen, p.Issuer())},
		{"role in an array with other roles", citizen, []authtest.Option{authtest.WithClaim("role", []string{"offline_access", "citizen"})}, wantPrincipal(citizen, p.Issuer())},
		{"name from given_name and family_name", citizen, []authtest.Option{
			authtest.WithClaim("name", nil), authtest.WithClaim("given_name", "Mario"), authtest.WithClaim("family_name", "Rossi"),
		}, func() *auth.Principal {
			w := wantPrincipal(citizen, p.Issuer())
			w.GivenName, w.FamilyName = "Mario", "Rossi"
			return w
		}()},
		{"service scopes from scp array and azp", service, []authtest.Option{
			authtest.WithClaim("scope", nil), authtest.WithClaim("client_id", nil),
			authtest.WithClaim("azp", "mmg-record"),
			authtest.WithClaim("scp", []string{"system/Observation.rs", "system/Patient.r"}),
		}, wantPrincipal(service, p.Issuer())},
		{"service ignores a fiscal code claim", service, []authtest.Option{authtest.WithClaim("fiscal_number", citizenCF)}, wantPrincipal(service, p.Issuer())},
		{"analyst of an ASL", analyst, nil, wantPrincipal(analyst, p.Issuer())},
		{"regional analyst", analyst, []authtest.Option{authtest.WithClaim("population_scope", "region")}, func() *auth.Principal {
			w := wantPrincipal(analyst, p.Issuer())
			w.PopulationScope = auth.PopulationRegion
			return w
		}()},
		{"head of a diabetology centre", head, nil, wantPrincipal(head, p.Issuer())},
		{"organization role in capitals", head, []authtest.Option{authtest.WithClaim("organization_role", " HEAD ")}, wantPrincipal(head, p.Issuer())},
		{"organization role without an organization is ignored", head, []authtest.Option{authtest.WithClaim("organization_id", nil)}, func() *auth.Principal {
			w := wantPrincipal(head, p.Issuer())
			w.Organization, w.OrganizationRole = "", ""
			return w
		}()},
		{"organization role of a citizen is ignored", citizen, []authtest.Option{authtest.WithClaim("organization_role", "head"),
			authtest.WithClaim("organization_id", "centro")}, func() *auth.Principal {
			w := wantPrincipal(citizen, p.Issuer())
			w.Organization = "centro"
			return w
		}()},
		{"population scope of a practitioner is ignored", doctor, []authtest.Option{authtest.WithClaim("population_scope", "region")}, wantPrincipal(doctor, p.Issuer())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := p.Token(t, tt.spec, tt.opts...)
			got, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, principalCmp...); diff != "" {
				t.Errorf("Verify principal (-want +got):\n%s", diff)
			}
			if got.TokenID == "" {
				t.Errorf("Verify: TokenID is empty, want the jti")
			}
			if d := time.Until(got.Expiry); d < 50*time.Minute && !strings.Contains(tt.name, "expired") && !strings.Contains(tt.name, "nbf") {
				t.Errorf("Verify: Expiry %v, want about an hour from now", got.Expiry)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	p := authtest.New(t)
	v := newVerifier(t, p.Config())

	type rejection struct {
		name string
		spec auth.PrincipalSpec
		opts []authtest.Option
		want error
	}
	var tests []rejection
	for _, r := range p.Rejections() {
		tests = append(tests, rejection{r.Name, citizen, r.Opts, r.Want})
		tests = append(tests, rejection{r.Name + " (service)", service, r.Opts, r.Want})
	}
	tests = append(tests,
		rejection{"expired and wrong issuer reports the issuer", citizen, []authtest.Option{authtest.ExpiredFor(time.Hour), authtest.WithIssuer("https://other")}, auth.ErrWrongIssuer},
		rejection{"citizen without fiscal code", citizen, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil)}, auth.ErrClaims},
		rejection{"citizen with invalid fiscal code", citizen, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", "TINIT-RSSMRA80A01H501X")}, auth.ErrClaims},
		rejection{"citizen with foreign TIN", citizen, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", "TINFR-1234567890123")}, auth.ErrClaims},
		rejection{"fiscal code not a string", citizen, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", 42)}, auth.ErrClaims},
		rejection{"practitioner without fiscal code", doctor, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil)}, auth.ErrClaims},
		rejection{"practitioner without practitioner role", doctor, []authtest.Option{authtest.WithClaim("practitioner_role", nil)}, auth.ErrClaims},
		rejection{"practitioner with unknown practitioner role", doctor, []authtest.Option{authtest.WithClaim("practitioner_role", "surgeon")}, auth.ErrClaims},
		rejection{"analyst without population scope", analyst, []authtest.Option{authtest.WithClaim("population_scope", nil)}, auth.ErrClaims},
		rejection{"analyst with an unknown population scope", analyst, []authtest.Option{authtest.WithClaim("population_scope", "everything")}, auth.ErrClaims},
		rejection{"analyst with a lower-case ASL", analyst, []authtest.Option{authtest.WithClaim("population_scope", "asl:tc")}, auth.ErrClaims},
		rejection{"analyst without fiscal code", analyst, []authtest.Option{authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil)}, auth.ErrClaims},
		rejection{"no role", citizen, []authtest.Option{authtest.WithClaim("role", nil)}, auth.ErrClaims},
		rejection{"unknown role", citizen, []authtest.Option{authtest.WithClaim("role", "admin")}, auth.ErrClaims},
		rejection{"two roles", citizen, []authtest.Option{authtest.WithClaim("role", []string{"citizen", "service"})}, auth.ErrClaims},
		rejection{"no sub", citizen, []authtest.Option{authtest.WithClaim("sub", nil)}, auth.ErrClaims},
		rejection{"service without client id", service, []authtest.Option{authtest.WithClaim("client_id", nil)}, auth.ErrClaims},
		rejection{"scope of wrong type", service, []authtest.Option{authtest.WithClaim("scope", 7)}, auth.ErrClaims},
		rejection{"exp of wrong type", citizen, []authtest.Option{authtest.WithClaim("exp", "tomorrow")}, auth.ErrClaims},
		rejection{"no kid", citizen, []authtest.Option{authtest.WithHeader("kid", nil)}, auth.ErrMalformed},
		rejection{"crit header", citizen, []authtest.Option{authtest.WithHeader("crit", []string{"exp"})}, auth.ErrMalformed},
		rejection{"no alg", citizen, []authtest.Option{authtest.WithHeader("alg", nil)}, auth.ErrAlgorithm},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := p.Token(t, tt.spec, tt.opts...)
			got, err := v.Verify(t.Context(), tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want error %v", got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Verify returned a principal with error %v", err)
			}
			t.Logf("Verify: %v", err)
			checkNoLeak(t, err.Error(), tok)
			for _, k := range allKinds {
				if k != tt.want && errors.Is(err, k) {
					t.Errorf("Verify error %v also wraps %v", err, k)
				}
			}
			if auth.StatusCode(err) != 401 {
				t.Errorf("StatusCode(%v) = %d, want 401", err, auth.StatusCode(err))
			}
		})
	}
	t.Run("invalid fiscal code wraps codicefiscale.ErrInvalid", func(t *testing.T) {
		tok := p.Token(t, citizen, authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", "RSSMRA80A01H501X"))
		_, err := v.Verify(t.Context(), tok)
		if !errors.Is(err, codicefiscale.ErrInvalid) {
			t.Errorf("Verify = %v, want it to wrap codicefiscale.ErrInvalid", err)
		}
	})
}

func TestVerifyMalformed(t *testing.T) {
	p := authtest.New(t)
	v := newVerifier(t, p.Config())
	good := p.Token(t, citizen)
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", auth.ErrMissing},
		{"one part", "abc", auth.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], auth.ErrMalformed},
		{"four parts", good + ".x", auth.ErrMalformed},
		{"JWE shape", "a.b.c.d.e", auth.ErrMalformed},
		{"header not base64", "!!." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"header padded base64", parts[0] + "==." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"header not JSON", enc([]byte("not json")) + "." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"header JSON array", enc([]byte(`["alg"]`)) + "." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"header null", enc([]byte(`null`)) + "." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"payload not JSON", parts[0] + "." + enc([]byte("{")) + "." + parts[2], auth.ErrMalformed},
		{"signature not base64", parts[0] + "." + parts[1] + ".***", auth.ErrMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", auth.ErrBadSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], auth.ErrBadSignature},
		{"too long", strings.Repeat("a", auth.MaxTokenBytes+1), auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			checkNoLeak(t, err.Error(), tt.raw)
		})
	}
}

func TestKeyRotation(t *testing.T) {
	p := authtest.New(t)
	cfg := p.Config()
	cfg.UnknownKIDInterval = 300 * time.Millisecond
	v := newVerifier(t, cfg)
	if _, err := v.Verify(t.Context(), p.Token(t, citizen)); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	fetched := p.JWKSRequests()
	if fetched != 1 {
		t.Fatalf("JWKS fetched %d times after construction, want 1", fetched)
	}

	oldKID := p.KeyID("ES256")
	time.Sleep(cfg.UnknownKIDInterval) // the construction's fetch is an interval old
	newKID := p.Rotate(t, "ES256")
	if _, err := v.Verify(t.Context(), p.Token(t, doctor, authtest.WithAlg("ES256"))); err != nil {
		t.Fatalf("Verify with rotated key %s: %v", newKID, err)
	}
	if got := p.JWKSRequests(); got != fetched+1 {
		t.Errorf("JWKS fetched %d times after the unknown kid, want %d", got, fetched+1)
	}
	// The old key is still published: its tokens still verify.
	if _, err := v.Verify(t.Context(), p.Token(t, doctor, authtest.SignedBy(oldKID))); err != nil {
		t.Errorf("Verify token of the previous key %s: %v", oldKID, err)
	}

	// A second new kid right away waits for the next fetch allowed, one
	// interval after the last, and is accepted.
	p.Rotate(t, "ES256")
	start := time.Now()
	if _, err := v.Verify(t.Context(), p.Token(t, doctor, authtest.WithAlg("ES256"))); err != nil {
		t.Errorf("Verify with a second new kid right away = %v, want it to wait for the next fetch", err)
	}
	if waited := time.Since(start); waited > 3*cfg.UnknownKIDInterval {
		t.Errorf("the second new kid waited %s, more than an interval and the fetch", waited)
	}
	if got := p.JWKSRequests(); got != fetched+2 {
		t.Errorf("JWKS fetched %d times, want %d", got, fetched+2)
	}
	// Unknown kids flooding in at once share one fetch.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { v.Verify(t.Context(), p.Token(t, citizen, authtest.WithKID("attacker-kid"))) })
	}
	wg.Wait()
	if got := p.JWKSRequests(); got != fetched+3 {
		t.Errorf("JWKS fetched %d times after 20 tokens with the same unknown kid at once, want %d", got, fetched+3)
	}
}

// TestNoFetchForForeignTokens: a token naming an unknown key id makes the
// verifier fetch the issuer's key set only when everything that can be
// checked without the key says it is an access token of this issuer for
// this service; anything else is refused at once, without a fetch.
func TestNoFetchForForeignTokens(t *testing.T) {
	p := authtest.New(t)
	cfg := p.Config()
	cfg.UnknownKIDInterval = time.Millisecond
	v := newVerifier(t, cfg)
	fetched := p.JWKSRequests()
	unknown := authtest.WithKID("rotated-maybe")
	for _, tc := range []struct {
		name string
		opts []authtest.Option
	}{
		{"another issuer", []authtest.Option{authtest.WithIssuer("https://evil.example")}},
		{"no issuer", []authtest.Option{authtest.WithIssuer("")}},
		{"another audience", []authtest.Option{authtest.WithAudience("another-service")}},
		{"audience list without ours", []authtest.Option{authtest.WithAudience([]string{"a", "b"})}},
		{"audience of the wrong shape", []authtest.Option{authtest.WithAudience(map[string]any{"aud": authtest.Audience})}},
		{"audience list with a number", []authtest.Option{authtest.WithAudience([]any{authtest.Audience, 7})}},
		{"no audience", []authtest.Option{authtest.WithAudience(nil)}},
		{"expired", []authtest.Option{authtest.ExpiredFor(time.Hour)}},
		{"no exp", []authtest.Option{authtest.WithClaim("exp", nil)}},
		{"exp a string", []authtest.Option{authtest.WithClaim("exp", "2099-01-01")}},
		{"not yet valid", []authtest.Option{authtest.NotBefore(time.Hour)}},
		{"typ JWT (an ID token)", []authtest.Option{authtest.WithHeader("typ", "JWT")}},
		{"no typ", []authtest.Option{authtest.WithHeader("typ", nil)}},
		{"a kid with spaces", []authtest.Option{authtest.WithKID("a b")}},
		{"a kid of 300 bytes", []authtest.Option{authtest.WithKID(strings.Repeat("k", 300))}},
	} {
		tok := p.Token(t, citizen, append([]authtest.Option{unknown, authtest.SignedByForeignKey()}, tc.opts...)...)
		_, err := v.Verify(t.Context(), tok)
		if !errors.Is(err, auth.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", tc.name, err)
		}
		if got := p.JWKSRequests(); got != fetched {
			t.Errorf("%s: the JWKS was fetched (%d times, want %d)", tc.name, got, fetched)
			fetched = got
		}
	}
	// The same token with this issuer's claims is worth a fetch.
	time.Sleep(5 * time.Millisecond)
	if _, err := v.Verify(t.Context(), p.Token(t, citizen, unknown, authtest.SignedByForeignKey())); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("plausible token with an unknown kid: %v, want ErrBadSignature", err)
	}
	if got := p.JWKSRequests(); got != fetched+1 {
		t.Errorf("JWKS fetched %d times for a plausible unknown kid, want %d", got, fetched+1)
	}
}

// TestUnknownKIDFloodDoesNotStarve: while anonymous junk (plausible claims,
// random key ids, forged signatures) floods the verifier from 32
// goroutines, the issuer rotates its key; the first token signed with the
// new key is accepted at its first try, within about one interval, and
// the junk made the key set be fetched no more than once per interval.
func TestUnknownKIDFloodDoesNotStarve(t *testing.T) {
	p := authtest.New(t)
	cfg := p.Config()
	cfg.UnknownKIDInterval = 500 * time.Millisecond
	v := newVerifier(t, cfg)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	junk := make([]string, 64)
	for i := range junk {
		junk[i] = p.Token(t, citizen, authtest.WithKID(fmt.Sprintf("junk-%d", i)), authtest.SignedByForeignKey())
	}
	start := time.Now()
	for g := range 32 {
		wg.Go(func() {
			for i := g; ctx.Err() == nil; i++ {
				jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				v.Verify(jctx, junk[i%len(junk)])
				cancel()
			}
		})
	}
	time.Sleep(time.Second) // the flood is on
	kid := p.Rotate(t, "RS256")
	tok := p.Token(t, doctor)
	vctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rotated := time.Now()
	_, err := v.Verify(vctx, tok)
	took := time.Since(rotated)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("the first token of the new key %s during the flood: %v (after %s)", kid, err, took)
	}
	if took > 3*cfg.UnknownKIDInterval {
		t.Errorf("the first token of the new key waited %s, more than the interval and a fetch", took)
	}
	elapsed := time.Since(start)
	if max := int(elapsed/cfg.UnknownKIDInterval) + 2; p.JWKSRequests() > max {
		t.Errorf("the flood made %d JWKS fetches in %s, more than one per interval (%d)", p.JWKSRequests(), elapsed, max)
	}
}

// TestRemovedKeyStopsBeingTrusted: a key the issuer removes from its JWKS
// is no longer trusted once the key set is fetched again (every
// RefreshInterval, 5 minutes by default), even for a token verified with
// it a moment before and remembered by the verified-token cache.
func TestRemovedKeyStopsBeingTrusted(t *testing.T) {
	if auth.DefaultRefreshInterval > 5*time.Minute {
		t.Errorf("DefaultRefreshInterval %s: a removed key would be trusted for more than minutes", auth.DefaultRefreshInterval)
	}
	p := authtest.New(t)
	cfg := p.Config()
	cfg.RefreshInterval = 200 * time.Millisecond
	v := newVerifier(t, cfg)
	old := p.KeyID("RS256")
	tok := p.Token(t, citizen)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify before the removal: %v", err)
	}
	p.Rotate(t, "RS256")
	p.Retire(old)
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok)
		if errors.Is(err, auth.ErrBadSignature) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token of the removed key %s is still accepted 3 s after the removal (refresh every %s): %v", old, cfg.RefreshInterval, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := v.Verify(t.Context(), p.Token(t, citizen, authtest.SignedBy(old))); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("a new token of the removed key: %v, want ErrBadSignature", err)
	}
	if _, err := v.Verify(t.Context(), p.Token(t, citizen)); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
}

func TestJWKSDown(t *testing.T) {
	t.Run("down at start", func(t *testing.T) {
		p := authtest.New(t)
		p.Close()
		v := newVerifier(t, p.Config()) // starts anyway
		tok := p.Token(t, citizen)
		_, err := v.Verify(t.Context(), tok)
		if !errors.Is(err, auth.ErrKeySetUnavailable) {
			t.Fatalf("Verify = %v, want ErrKeySetUnavailable", err)
		}
		if !strings.Contains(err.Error(), p.JWKSURL()) {
			t.Errorf("error %q does not name the JWKS URL %s", err, p.JWKSURL())
		}
		if auth.StatusCode(err) != 503 {
			t.Errorf("StatusCode = %d, want 503", auth.StatusCode(err))
		}
		checkNoLeak(t, err.Error(), tok)
	})
	t.Run("down after start", func(t *testing.T) {
		p := authtest.New(t)
		cfg := p.Config()
		cfg.UnknownKIDInterval = time.Millisecond
		v := newVerifier(t, cfg)
		p.SetDown(true)
		// Cached keys keep working.
		if _, err := v.Verify(t.Context(), p.Token(t, citizen)); err != nil {
			t.Fatalf("Verify with cached key while JWKS is down: %v", err)
		}
		p.Rotate(t, "RS256")
		_, err := v.Verify(t.Context(), p.Token(t, citizen))
		if !errors.Is(err, auth.ErrKeySetUnavailable) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Verify with new kid while JWKS answers 503 = %v, want ErrKeySetUnavailable naming the status", err)
		}
		p.SetDown(false)
		if _, err := v.Verify(t.Context(), p.Token(t, citizen)); err != nil {
			t.Fatalf("Verify after the JWKS is back: %v", err)
		}
		// A successful fetch clears the failure: unknown kids are bad signatures again.
		if _, err := v.Verify(t.Context(), p.Token(t, citizen, authtest.WithKID("nope"))); !errors.Is(err, auth.ErrBadSignature) {
			t.Errorf("Verify unknown kid after recovery = %v, want ErrBadSignature", err)
		}
	})
}

func TestNewVerifierConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"no issuer", auth.Config{Audience: "a", JWKSURL: "https://x/jwks"}},
		{"no audience", auth.Config{Issuer: "https://x", JWKSURL: "https://x/jwks"}},
		{"no keys", auth.Config{Issuer: "https://x", Audience: "a"}},
		{"both keys", auth.Config{Issuer: "https://x", Audience: "a", JWKSURL: "https://x/jwks", KeySet: []byte(`{"keys":[]}`)}},
		{"plain http", auth.Config{Issuer: "https://x", Audience: "a", JWKSURL: "http://idp.example/jwks"}},
		{"empty static set", auth.Config{Issuer: "https://x", Audience: "a", KeySet: []byte(`{"keys":[]}`)}},
		{"bad static set", auth.Config{Issuer: "https://x", Audience: "a", KeySet: []byte(`{`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewVerifier(t.Context(), tt.cfg); err == nil {
				t.Errorf("NewVerifier(%s) succeeded, want an error", tt.name)
			}
		})
	}
}

func TestCustomClaimNamesAndLeeway(t *testing.T) {
	p := authtest.New(t)
	cfg := p.Config()
	cfg.Claims = auth.ClaimNames{FiscalCode: []string{"cf"}, Role: "fsecgm_role"}
	cfg.Leeway = -1 // none
	v := newVerifier(t, cfg)
	tok := p.Token(t, citizen,
		authtest.WithClaim("role", nil), authtest.WithClaim("fsecgm_role", "citizen"),
		authtest.WithClaim("https://attributes.eid.gov.it/fiscal_number", nil), authtest.WithClaim("cf", citizenCF))
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify with custom claim names: %v", err)
	}
	if got.FiscalCode != citizenCF || got.Role != auth.RoleCitizen {
		t.Errorf("Verify with custom claim names = %v (role %s), want citizen with the cf claim", got, got.Role)
	}
	if _, err := v.Verify(t.Context(), p.Token(t, citizen, authtest.ExpiredFor(5*time.Second))); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("Verify expired 5 s ago without leeway = %v, want ErrExpired", err)
	}
}

func TestTokenType(t *testing.T) {
	p := authtest.New(t)
	v := newVerifier(t, p.Config()) // at+jwt unless configured otherwise
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt"} {
		if _, err := v.Verify(t.Context(), p.Token(t, citizen, authtest.WithHeader("typ", typ))); err != nil {
			t.Errorf("Verify with typ %q: %v", typ, err)
		}
	}
	for _, typ := range []any{"JWT", nil} {
		if _, err := v.Verify(t.Context(), p.Token(t, citizen, authtest.WithHeader("typ", typ))); !errors.Is(err, auth.ErrClaims) {
			t.Errorf("Verify with typ %v = %v, want ErrClaims", typ, err)
		}
	}
	// A client the configuration lists is accepted without the typ (a
	// provider whose JWT access tokens carry none); others are not.
	cfg := p.Config()
	cfg.ClientIDs = []string{"portal"}
	lv := newVerifier(t, cfg)
	listed := auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: citizenCF, ClientID: "portal"}
	for _, c := range []struct {
		claim, client string
		ok            bool
	}{{"client_id", "portal", true}, {"azp", "portal", true}, {"client_id", "other", false}} {
		spec := listed
		spec.ClientID = ""
		tok := p.Token(t, spec, authtest.WithHeader("typ", "JWT"), authtest.WithClaim(c.claim, c.client))
		_, err := lv.Verify(t.Context(), tok)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, auth.ErrClaims)) {
			t.Errorf("typ JWT with %s %q: %v, want accepted %v", c.claim, c.client, err, c.ok)
		}
	}
}

func TestDiscoverJWKSURL(t *testing.T) {
	p := authtest.New(t)
	got, err := auth.DiscoverJWKSURL(t.Context(), p.Client(), p.Issuer())
	if err != nil {
		t.Fatalf("DiscoverJWKSURL: %v", err)
	}
	if got != p.JWKSURL() {
		t.Errorf("DiscoverJWKSURL = %q, want %q", got, p.JWKSURL())
	}
	if _, err := auth.DiscoverJWKSURL(t.Context(), p.Client(), p.Issuer()+"/other"); err == nil {
		t.Errorf("DiscoverJWKSURL of a wrong issuer succeeded")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	p := authtest.New(t)
	v := newVerifier(t, p.Config())
	toks := []string{p.Token(t, citizen), p.Token(t, doctor, authtest.WithAlg("ES256")), p.Token(t, service)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if _, err := v.Verify(ctx, toks[(i+j)%len(toks)]); err != nil {
					t.Errorf("concurrent Verify: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifyCacheKeepsExpiry checks that a token remembered by the
// verified-token cache is still refused once it expires.
func TestVerifyCacheKeepsExpiry(t *testing.T) {
	p := authtest.New(t)
	// The token first: its not-before is the second it is issued in, and
	// the verifier's clock (no leeway) must not be earlier than that.
	tok := p.Token(t, citizen)
	now := time.Now()
	cfg := p.Config()
	cfg.Now = func() time.Time { return now }
	cfg.Leeway = -1
	v := newVerifier(t, cfg)
	first, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	now = now.Add(30 * time.Second)
	again, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify again within the cache's ttl: %v", err)
	}
	if diff := cmp.Diff(first, again, principalCmp...); diff != "" || again.Expiry != first.Expiry {
		t.Errorf("second Verify differs (-first +again):\n%s", diff)
	}
	now = first.Expiry
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("Verify at the token's expiry = %v, want ErrExpired", err)
	}
}

// BenchmarkVerify compares a token verified on every request (the cache
// off) with the same token presented again (as every client does).
func BenchmarkVerify(b *testing.B) {
	p := authtest.New(b)
	tok := p.Token(b, doctor, authtest.WithAlg("ES256"))
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := p.Config()
			cfg.CacheTTL = bc.ttl
			v, err := auth.NewVerifier(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
