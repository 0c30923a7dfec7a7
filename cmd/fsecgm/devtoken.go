package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/auth"
)

// devKeyFileEnv overrides auth.DefaultDevKeyFile for dev-token and serve --dev.
const devKeyFileEnv = "FSECGM_DEV_KEY_FILE"

// Sample fiscal codes (well-formed, with a correct check character) used
// when --cf is not given.
const (
	sampleCitizenCF      = "RSSMRA80A01H501U"
	samplePractitionerCF = "VRDLCU68H12D612K"
)

// devKeyFile returns the development issuer key file: $FSECGM_DEV_KEY_FILE
// or auth.DefaultDevKeyFile.
func devKeyFile(e *env) string {
	if p := e.Getenv(devKeyFileEnv); p != "" {
		return p
	}
	return auth.DefaultDevKeyFile
}

// runDevToken prints a token of the development issuer, which only
// "fsecgm serve --dev" accepts. Nothing but the token goes to stdout.
func runDevToken(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev-token", "--role citizen|practitioner|service [flags]")
	role := fs.String("role", "", "`role` of the token: citizen, practitioner or service (required)")
	cf := fs.String("cf", "", "fiscal `code` of a citizen or practitioner (default "+sampleCitizenCF+" for citizens, "+samplePractitionerCF+" for practitioners)")
	prole := fs.String("practitioner-role", string(auth.PractitionerMMG), "practitioner `kind`: mmg, pls, diabetologist or other")
	var scopes []string
	fs.Func("scope", "granted `scope` of a service; repeatable, or several separated by spaces", func(s string) error {
		f := strings.Fields(s)
		if len(f) == 0 {
			return errors.New("empty scope")
		}
		scopes = append(scopes, f...)
		return nil
	})
	name := fs.String("name", "", "display `name` (optional)")
	org := fs.String("org", "", "organization or diabetology centre `id` (optional)")
	clientID := fs.String("client-id", "dev-service", "client `id` of a service")
	sub := fs.String("sub", "", "`subject` (default: a pseudonym derived from the fiscal code, or the client id)")
	ttl := fs.Duration("ttl", 12*time.Hour, "`lifetime` of the token")
	keyFile := fs.String("key-file", devKeyFile(e), "development issuer key `file` (env "+devKeyFileEnv+"), created if missing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	if *role == "" {
		return usageError(errors.New("--role is required (citizen, practitioner or service)"))
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return usageError(fmt.Errorf("--role: %w", err))
	}
	if *ttl <= 0 {
		return usageError(fmt.Errorf("--ttl must be positive, got %s", *ttl))
	}
	spec := auth.PrincipalSpec{Role: r, Subject: *sub, Organization: *org, Name: *name, Scopes: scopes}
	switch r {
	case auth.RoleCitizen, auth.RolePractitioner:
		if len(scopes) > 0 {
			return usageError(errors.New("--scope applies only to --role service"))
		}
		code := *cf
		if code == "" {
			code = sampleCitizenCF
			if r == auth.RolePractitioner {
				code = samplePractitionerCF
			}
		}
		code = codicefiscale.Normalize(code)
		if err := codicefiscale.Validate(code); err != nil {
			return usageError(fmt.Errorf("--cf: %w", err))
		}
		spec.FiscalCode = code
		if r == auth.RolePractitioner {
			pr, err := auth.ParsePractitionerRole(*prole)
			if err != nil {
				return usageError(fmt.Errorf("--practitioner-role: %w", err))
			}
			spec.PractitionerRole = pr
		}
	case auth.RoleService:
		if *cf != "" {
			return usageError(errors.New("--cf: a service token has no fiscal code"))
		}
		if *clientID == "" {
			return usageError(errors.New("--client-id must not be empty for a service"))
		}
		spec.ClientID = *clientID
	}

	iss, err := auth.OpenDevIssuer(*keyFile)
	if err != nil {
		return err
	}
	tok, err := iss.Issue(spec, *ttl)
	if err != nil {
		return usageError(err)
	}
	_, err = fmt.Fprintln(e.Stdout, tok)
	return err
}
