package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"fsecgm/taccuino/auth"

	"github.com/google/go-cmp/cmp"
)

func TestDevToken(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "dev-issuer.jwk")
	tests := []struct {
		name    string
		args    []string
		role    auth.Role
		cf      string
		prole   auth.PractitionerRole
		client  string
		scopes  []string
		orgName [2]string
	}{
		{"citizen", []string{"--role", "citizen", "--cf", "bncgli75c45d612a"}, auth.RoleCitizen, "BNCGLI75C45D612A", "", "", nil, [2]string{}},
		{"citizen default cf", []string{"--role", "citizen"}, auth.RoleCitizen, sampleCitizenCF, "", "", nil, [2]string{}},
		{"practitioner", []string{"--role", "practitioner", "--practitioner-role", "diabetologist", "--org", "cd-firenze", "--name", "Dott.ssa Bianchi"},
			auth.RolePractitioner, samplePractitionerCF, auth.PractitionerDiabetologist, "", nil, [2]string{"cd-firenze", "Dott.ssa Bianchi"}},
		{"practitioner default mmg", []string{"--role", "practitioner", "--cf", samplePractitionerCF}, auth.RolePractitioner, samplePractitionerCF, auth.PractitionerMMG, "", nil, [2]string{}},
		{"service", []string{"--role", "service", "--client-id", "mmg-record", "--scope", "system/Observation.rs system/Patient.r", "--scope", "system/Device.r", "--ttl", "5m"},
			auth.RoleService, "", "", "mmg-record", []string{"system/Observation.rs", "system/Patient.r", "system/Device.r"}, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			args := append([]string{"dev-token", "--key-file", keyFile}, tt.args...)
			if code := run(t.Context(), e, args); code != 0 {
				t.Fatalf("fsecgm %s: exit %d, stderr %s", strings.Join(args, " "), code, stderr.String())
			}
			out := stdout.String()
			if strings.Count(out, "\n") != 1 || strings.Count(out, ".") != 2 {
				t.Fatalf("dev-token stdout = %q, want one token line", out)
			}
			iss, err := auth.OpenDevIssuer(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			v, err := auth.NewVerifier(t.Context(), iss.VerifierConfig())
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(t.Context(), strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("Verify dev-token output: %v", err)
			}
			got := []any{p.Role, p.FiscalCode, p.PractitionerRole, p.ClientID, p.Scopes, [2]string{p.Organization, p.Name}}
			want := []any{tt.role, tt.cf, tt.prole, tt.client, tt.scopes, tt.orgName}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("dev-token principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDevTokenKeyFileFromEnv(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "env.jwk")
	var stdout, stderr bytes.Buffer
	e := &env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == devKeyFileEnv {
			return keyFile
		}
		return ""
	}}
	if code := run(t.Context(), e, []string{"dev-token", "--role", "citizen"}); code != 0 {
		t.Fatalf("dev-token: exit %d, stderr %s", code, stderr.String())
	}
	if _, err := auth.OpenDevIssuer(keyFile); err != nil {
		t.Errorf("key file from %s not created: %v", devKeyFileEnv, err)
	}
}

func TestDevTokenBadInput(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "dev-issuer.jwk")
	tests := []struct {
		args []string
		msg  string
	}{
		{nil, "--role is required"},
		{[]string{"--role", "admin"}, "unknown role"},
		{[]string{"--role", "citizen", "--cf", "RSSMRA80A01H501X"}, "--cf: invalid codice fiscale: wrong check character"},
		{[]string{"--role", "citizen", "--cf", "ABC"}, "--cf: invalid codice fiscale: must be 16 characters"},
		{[]string{"--role", "practitioner", "--practitioner-role", "surgeon"}, "--practitioner-role: auth: unknown practitioner role"},
		{[]string{"--role", "service", "--cf", sampleCitizenCF}, "a service token has no fiscal code"},
		{[]string{"--role", "citizen", "--scope", "system/*.rs"}, "--scope applies only to --role service"},
		{[]string{"--role", "service", "--client-id", ""}, "--client-id must not be empty"},
		{[]string{"--role", "citizen", "--ttl", "-1h"}, "--ttl must be positive"},
		{[]string{"--role", "citizen", "--ttl", "soon"}, "invalid value"},
		{[]string{"--role", "citizen", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		e := &env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		args := append([]string{"dev-token", "--key-file", keyFile}, tt.args...)
		code := run(t.Context(), e, args)
		if code != 2 {
			t.Errorf("fsecgm %s: exit %d, want 2", strings.Join(args, " "), code)
		}
		if stdout.Len() != 0 {
			t.Errorf("fsecgm %s: stdout %q, want nothing", strings.Join(args, " "), stdout.String())
		}
		if !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("fsecgm %s: stderr %q, want it to say %q", strings.Join(args, " "), stderr.String(), tt.msg)
		}
	}
}
