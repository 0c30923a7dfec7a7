package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// idRE is the FHIR R4 id type: 1 to 64 of A-Z a-z 0-9 - and ".".
var idRE = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// tokenRE limits the identifier values fsecgm writes into an ifNoneExist
// query (serial numbers, fiscal codes, ids): characters that need no
// escaping in a FHIR token search or a URL query.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,64}$`)

// key returns the SHA-256 of the parts, each preceded by its length so that
// no two part lists collide, as 64 lower-case hex digits. It is the root of
// every deterministic identifier and id: the same inputs give the same
// identifier in every run and on every machine, so that re-sending a
// resource finds the one sent before (conditional create, ifNoneExist).
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idOf returns the resource id derived from a key: its first 32 hex digits
// (128 bits).
func idOf(k string) string { return k[:32] }

// normalizeBase checks an issuer base URL ("https://fsecgm.example/fhir")
// and returns it without a trailing slash.
func normalizeBase(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("fhir: base URL %q: %w", base, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("fhir: base URL %q: want http(s)://host[/path] without query, fragment or user", base)
	}
	return strings.TrimRight(base, "/"), nil
}

// Identifier systems under an issuer base URL: base + one of these.
const (
	identifierObservation = "/identifier/observation"
	identifierReport      = "/identifier/diagnostic-report"
	identifierPatient     = "/identifier/patient"
	identifierDevice      = "/identifier/device-serial"
	identifierBundle      = "/identifier/bundle"
)
