package fhir

import (
	"fmt"
	"time"
)

// resourceInfo returns the id of a resource and the identifier a
// conditional create matches it on.
func resourceInfo(r Resource) (id string, ident *Identifier, err error) {
	var ids []Identifier
	switch v := r.(type) {
	case *Observation:
		id, ids = v.ID, v.Identifier
	case *DiagnosticReport:
		id, ids = v.ID, v.Identifier
	case *Device:
		id, ids = v.ID, v.Identifier
	case *Patient:
		id, ids = v.ID, v.Identifier
	default:
		return "", nil, fmt.Errorf("fhir: bundle: cannot add a %T", r)
	}
	if !idRE.MatchString(id) {
		return "", nil, fmt.Errorf("fhir: bundle: %s has no valid id (%q)", r.ResourceType(), id)
	}
	if len(ids) > 0 {
		ident = &ids[0] // for a Patient, the codice fiscale when known
	}
	return id, ident, nil
}

// NewBundle puts resources (pointers to Observation, DiagnosticReport,
// Device or Patient, each with an id) into a Bundle of the given type, in
// order. Every entry's fullUrl is base/Type/id, which the relative
// references between the resources ("Observation/<id>", "Patient/<id>")
// resolve against, in every bundle type.
//
//   - BundleCollection: entries only; timestamp when given.
//   - BundleSearchset: Patient and Device entries have search mode
//     "include", the others "match"; total counts the matches.
//   - BundleTransaction: every entry is POST to its type with ifNoneExist
//     "identifier=SYSTEM|VALUE" on the resource's first identifier, a
//     conditional create, so that re-sending the bundle creates nothing
//     twice (the IG's dedup advice, HL7 FHIR CGM IG 1.0.0 home page:
//     clients MAY send ifNoneExist, servers SHOULD support conditional
//     create); a record
//     server that assigns new ids rewrites the references to the fullUrls.
//     timestamp is required (the IG's submission Bundle has it 1..1).
func NewBundle(typ, base string, timestamp time.Time, resources ...Resource) (Bundle, error) {
	base, err := normalizeBase(base)
	if err != nil {
		return Bundle{}, err
	}
	switch typ {
	case BundleCollection, BundleSearchset:
	case BundleTransaction:
		if timestamp.IsZero() {
			return Bundle{}, fmt.Errorf("fhir: a transaction bundle needs a timestamp (cgm-data-submission-bundle: timestamp 1..1)")
		}
	default:
		return Bundle{}, fmt.Errorf("fhir: bundle type %q: want collection, searchset or transaction", typ)
	}
	b := Bundle{Type: typ, Timestamp: instant(timestamp), Entry: make([]BundleEntry, 0, len(resources))}
	matches := 0
	for _, r := range resources {
		id, ident, err := resourceInfo(r)
		if err != nil {
			return Bundle{}, err
		}
		t := r.ResourceType()
		e := BundleEntry{FullURL: base + "/" + t + "/" + id, Resource: r}
		switch typ {
		case BundleSearchset:
			mode := "match"
			if t == "Patient" || t == "Device" {
				mode = "include"
			} else {
				matches++
			}
			e.Search = &BundleEntrySearch{Mode: mode}
		case BundleTransaction:
			e.Request = &BundleEntryRequest{Method: "POST", URL: t}
			if ident != nil {
				if !tokenRE.MatchString(ident.Value) {
					return Bundle{}, fmt.Errorf("fhir: bundle: %s/%s: identifier value not usable in ifNoneExist", t, id)
				}
				e.Request.IfNoneExist = "identifier=" + ident.System + "|" + ident.Value
			}
		}
		b.Entry = append(b.Entry, e)
	}
	if typ == BundleSearchset {
		b.Total = &matches
	}
	return b, nil
}
