package fhir

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Issue severities (R4 value set issue-severity, required).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// Issue types fsecgm uses (R4 value set issue-type, required).
const (
	IssueInvalid      = "invalid"       // content invalid against the specification or a profile
	IssueStructure    = "structure"     // structural issue in the content (bad JSON, wrong JSON type)
	IssueRequired     = "required"      // a required element is missing
	IssueValue        = "value"         // an element value is invalid
	IssueNotSupported = "not-supported" // the content or operation is not supported
	IssueTooCostly    = "too-costly"    // too big or too deep to process
	IssueDuplicate    = "duplicate"     // a duplicate (e.g. fullUrl)
	IssueProcessing   = "processing"    // processing failed for another reason
	IssueInformation  = "informational" // just information
)

// Issue is one problem found in FHIR input, at a FHIRPath-like location
// such as Bundle.entry[3].resource.valueQuantity.code. It is an error; an
// OperationOutcome issue is made of it by [OperationOutcomeFor].
type Issue struct {
	// Severity is one of the Severity constants.
	Severity string
	// Code is one of the Issue constants (an R4 issue-type code).
	Code string
	// Entry is the index of the Bundle entry concerned, or -1.
	Entry int
	// Expression locates the element (FHIRPath, as OperationOutcome.issue.expression).
	Expression string
	// Diagnostics says what is wrong and what was expected. It never
	// repeats a glucose value or a codice fiscale.
	Diagnostics string
}

// Error implements error.
func (i *Issue) Error() string {
	if i.Expression == "" {
		return "fhir: " + i.Diagnostics
	}
	return "fhir: " + i.Expression + ": " + i.Diagnostics
}

// IsError reports whether the issue is an error or fatal.
func (i *Issue) IsError() bool { return i.Severity == SeverityError || i.Severity == SeverityFatal }

// issues flattens errs into issues: *Issue values as they are, joined
// errors (errors.Join, Unwrap() []error) recursively, anything else as a
// processing error without location.
func issues(errs []error, out []*Issue) []*Issue {
	for _, err := range errs {
		if err == nil {
			continue
		}
		var is *Issue
		switch e := err.(type) {
		case *Issue:
			out = append(out, e)
			continue
		case interface{ Unwrap() []error }:
			out = issues(e.Unwrap(), out)
			continue
		}
		if errors.As(err, &is) {
			out = append(out, is)
			continue
		}
		out = append(out, &Issue{Severity: SeverityError, Code: IssueProcessing, Entry: -1, Diagnostics: err.Error()})
	}
	return out
}

// OperationOutcomeFor returns an OperationOutcome with one issue per error:
// an *Issue (also inside errors.Join or wrapped) keeps its severity, code
// and location (issue.expression); any other error becomes a processing
// error with its text. With no error it holds one informational issue
// ("all OK"), since OperationOutcome.issue is 1..*.
func OperationOutcomeFor(errs ...error) OperationOutcome {
	var oo OperationOutcome
	for _, is := range issues(errs, nil) {
		oi := OperationOutcomeIssue{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics}
		if oi.Severity == "" {
			oi.Severity = SeverityError
		}
		if oi.Code == "" {
			oi.Code = IssueProcessing
		}
		if is.Expression != "" {
			oi.Expression = []string{is.Expression}
		}
		oo.Issue = append(oo.Issue, oi)
	}
	if len(oo.Issue) == 0 {
		oo.Issue = []OperationOutcomeIssue{{Severity: SeverityInformation, Code: IssueInformation, Diagnostics: "all OK"}}
	}
	return oo
}

// EntryResult is the outcome of one entry of a submitted transaction.
type EntryResult struct {
	// Status is the HTTP status of the entry: 201 created, 200 found by
	// ifNoneExist (or accepted without storing), 400 or 422 rejected, 412
	// several matches.
	Status int
	// Location is the resource's location when created or found
	// ("Observation/123/_history/1"), or "".
	Location string
	// Etag is the version tag (W/"1"), or "".
	Etag string
	// LastModified is when the resource was stored, or zero.
	LastModified time.Time
	// Issues explain the status; they become the entry's outcome.
	Issues []*Issue
}

// ResponseBundle returns the transaction-response Bundle of
// $submit-cgm-bundle: one entry per submitted entry, in order, each with
// response.status ("201 Created", "200 OK", "400 Bad Request", ...) and,
// when the result has issues, an OperationOutcome naming their locations.
// The IG requires a status per entry, since a receiver may store only part
// of a submission (HL7 FHIR CGM IG 1.0.0, home page, on
// $submit-cgm-bundle).
func ResponseBundle(results []EntryResult) Bundle {
	b := Bundle{Type: BundleTransactionResponse, Entry: make([]BundleEntry, len(results))}
	for i, r := range results {
		resp := &BundleEntryResponse{
			Status:       statusText(r.Status),
			Location:     r.Location,
			Etag:         r.Etag,
			LastModified: instant(r.LastModified),
		}
		if len(r.Issues) > 0 {
			errs := make([]error, len(r.Issues))
			for j, is := range r.Issues {
				errs[j] = is
			}
			oo := OperationOutcomeFor(errs...)
			resp.Outcome = &oo
		}
		b.Entry[i] = BundleEntry{Response: resp}
	}
	return b
}

// statusText returns "201 Created" for 201.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return fmt.Sprint(code)
}
