package auth_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"fsecgm/taccuino/auth"
)

func TestHasScope(t *testing.T) {
	tests := []struct {
		granted []string
		want    string
		ok      bool
	}{
		{[]string{"system/Observation.rs"}, "system/Observation.rs", true},
		{[]string{"system/Observation.rs"}, "system/Observation.r", true},
		{[]string{"system/Observation.rs"}, "system/Observation.s", true},
		{[]string{"system/Observation.rs"}, "system/Observation.read", true},
		{[]string{"system/Observation.rs"}, "system/Observation.c", false},
		{[]string{"system/Observation.rs"}, "system/Observation.write", false},
		{[]string{"system/Observation.rs"}, "system/Observation.rs?category=laboratory", false},
		{[]string{"system/Observation.rs"}, "system/Patient.r", false},
		{[]string{"system/Observation.rs"}, "patient/Observation.r", false},
		{[]string{"system/Observation.rs"}, "user/Observation.r", false},
		{[]string{"system/Observation.rs"}, "system/*.r", false},
		{[]string{"system/*.rs"}, "system/Observation.r", true},
		{[]string{"system/*.rs"}, "system/Patient.read", true},
		{[]string{"system/*.rs"}, "system/*.rs", true},
		{[]string{"system/*.rs"}, "system/*.read", true},
		{[]string{"system/*.rs"}, "system/Observation.u", false},
		{[]string{"system/*.read"}, "system/Observation.rs", true},
		{[]string{"system/Observation.read"}, "system/Observation.s", true},
		{[]string{"system/Observation.write"}, "system/Observation.cud", true},
		{[]string{"system/Observation.write"}, "system/Observation.cruds", false},
		{[]string{"system/Observation.*"}, "system/Observation.cruds", true},
		{[]string{"system/Observation.cruds"}, "system/Observation.*", true},
		{[]string{"system/Observation.cruds"}, "system/Observation.ud", true},
		{[]string{"system/Observation.sr"}, "system/Observation.r", false}, // out of order: not a SMART scope
		{[]string{"system/Observation.rr"}, "system/Observation.r", false},
		{[]string{"system/Observation.rs?category=vital-signs"}, "system/Observation.r", false},
		{[]string{"system/Observation.rs?category=vital-signs"}, "system/Observation.rs?category=vital-signs", true},
		{[]string{"system/observation.rs"}, "system/observation.r", false}, // resource types are capitalized
		{[]string{"fsecgm.sync"}, "fsecgm.sync", true},
		{[]string{"fsecgm.sync"}, "fsecgm", false},
		{[]string{"system/Patient.r", "system/Observation.cruds"}, "system/Observation.c", true},
		{nil, "system/Observation.r", false},
		{[]string{"system/Observation.rs"}, "", false},
	}
	for _, tt := range tests {
		p := &auth.Principal{Role: auth.RoleService, Scopes: tt.granted}
		if got := p.HasScope(tt.want); got != tt.ok {
			t.Errorf("Principal{Scopes: %q}.HasScope(%q) = %v, want %v", tt.granted, tt.want, got, tt.ok)
		}
	}
}

func TestPrincipalNeverPrintsFiscalCode(t *testing.T) {
	p := &auth.Principal{
		Issuer: "https://idp", Subject: "RSSMRA80A01H501U", Role: auth.RolePractitioner,
		FiscalCode: "RSSMRA80A01H501U", PractitionerRole: auth.PractitionerMMG,
		Organization: "asl-centro", Name: "Mario Rossi", TokenID: "jti-1",
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("request", "principal", p)
	logger.Info("request", slog.Any("principal", *p)) // a copy: value receiver path
	outputs := map[string]string{
		"slog":  buf.String(),
		"%v":    fmt.Sprintf("%v", p),
		"%+v":   fmt.Sprintf("%+v", p),
		"%#v":   fmt.Sprintf("%#v", p),
		"%s":    fmt.Sprintf("%s", p),
		"Print": fmt.Sprint(p),
		"value": fmt.Sprintf("%v %+v %#v", *p, *p, *p),
	}
	for how, out := range outputs {
		for _, secret := range []string{"RSSMRA80A01H501U", "Mario", "Rossi"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains %q: %s", how, secret, out)
			}
		}
	}
	if !strings.Contains(outputs["slog"], `"role":"practitioner"`) || !strings.Contains(outputs["slog"], `"sub_ref":"`+p.SubjectRef()+`"`) {
		t.Errorf("slog output lacks the role and subject reference: %s", outputs["slog"])
	}
	if len(p.SubjectRef()) != 16 {
		t.Errorf("SubjectRef() = %q, want 16 hex digits", p.SubjectRef())
	}
	other := *p
	other.Subject = "someone-else"
	if other.SubjectRef() == p.SubjectRef() {
		t.Errorf("SubjectRef is the same for different subjects")
	}
}

func TestParseRoles(t *testing.T) {
	for _, s := range []string{"citizen", " Practitioner ", "SERVICE", "analyst"} {
		if _, err := auth.ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	if _, err := auth.ParseRole("admin"); err == nil {
		t.Errorf("ParseRole(admin) succeeded")
	}
	for _, s := range []string{"mmg", "PLS", "diabetologist", "other"} {
		if _, err := auth.ParsePractitionerRole(s); err != nil {
			t.Errorf("ParsePractitionerRole(%q): %v", s, err)
		}
	}
	if _, err := auth.ParsePractitionerRole("surgeon"); err == nil {
		t.Errorf("ParsePractitionerRole(surgeon) succeeded")
	}
}

func TestParsePopulationScope(t *testing.T) {
	for _, s := range []string{"region", "asl:TC", "asl:NO", "asl:SE", " region "} {
		if _, err := auth.ParsePopulationScope(s); err != nil {
			t.Errorf("ParsePopulationScope(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Region", "asl:", "asl:tc", "asl:T-C", "asl:ABCDEFGHIJKLMNOPQ", "zone:x", "centre:X"} {
		if got, err := auth.ParsePopulationScope(s); err == nil {
			t.Errorf("ParsePopulationScope(%q) = %q, want an error", s, got)
		}
	}
}

func TestEncodeValidatesSpec(t *testing.T) {
	names := auth.DefaultClaimNames()
	bad := []auth.PrincipalSpec{
		{},
		{Role: "admin"},
		{Role: auth.RoleCitizen},
		{Role: auth.RoleCitizen, FiscalCode: "RSSMRA80A01H501X"},
		{Role: auth.RoleCitizen, FiscalCode: citizenCF, PractitionerRole: auth.PractitionerMMG},
		{Role: auth.RolePractitioner, FiscalCode: doctorCF},
		{Role: auth.RolePractitioner, FiscalCode: doctorCF, PractitionerRole: "surgeon"},
		{Role: auth.RoleService},
		{Role: auth.RoleService, ClientID: "x", FiscalCode: citizenCF},
		{Role: auth.RoleService, ClientID: "x", Scopes: []string{"a b"}},
		{Role: auth.RoleAnalyst, FiscalCode: citizenCF},
		{Role: auth.RoleAnalyst, FiscalCode: citizenCF, PopulationScope: "asl:"},
		{Role: auth.RoleAnalyst, PopulationScope: "region"},
		{Role: auth.RoleAnalyst, FiscalCode: citizenCF, PopulationScope: "region", PractitionerRole: auth.PractitionerMMG},
		{Role: auth.RoleCitizen, FiscalCode: citizenCF, PopulationScope: "region"},
		{Role: auth.RolePractitioner, FiscalCode: doctorCF, PractitionerRole: auth.PractitionerDiabetologist, OrganizationRole: auth.OrganizationHead},
	}
	for _, s := range bad {
		if c, err := names.Encode(s); err == nil {
			t.Errorf("Encode(%+v) = %v, want an error", s, c)
		}
	}
	c, err := names.Encode(auth.PrincipalSpec{Role: auth.RoleCitizen, FiscalCode: "rssmra80a01h501u"})
	if err != nil {
		t.Fatalf("Encode citizen: %v", err)
	}
	if got := c["https://attributes.eid.gov.it/fiscal_number"]; got != "TINIT-"+citizenCF {
		t.Errorf("Encode fiscal code claim = %v, want TINIT-%s", got, citizenCF)
	}
	if sub, _ := c["sub"].(string); sub == "" || strings.Contains(sub, citizenCF) {
		t.Errorf("Encode derived sub = %q, want a pseudonym without the fiscal code", sub)
	}
}
