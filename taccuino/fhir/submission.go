package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/identity"
	"fsecgm/taccuino/jsonscan"
)

// Limits of [ParseSubmissionBundle]: a submission beyond them is refused
// whole, before any entry is looked at.
const (
	// MaxSubmissionBytes bounds the JSON text: MaxSubmissionEntries
	// sensor readings as fsecgm writes them (about 1.4 kB each) fit.
	MaxSubmissionBytes = 96 << 20
	// MaxSubmissionEntries bounds the number of entries: 14 days of
	// 1-minute readings are 20,160, 90 days of 5-minute ones 25,920.
	MaxSubmissionEntries = 50_000
	// MaxNestingDepth bounds the nesting of JSON objects and arrays; the
	// deepest element of a CGM resource is about 8 levels below the Bundle.
	MaxNestingDepth = 32
)

// EntryKind says what a submitted entry is.
type EntryKind uint8

// The kinds of submitted entry.
const (
	// EntryUnknown: the entry was rejected before its kind was known.
	EntryUnknown EntryKind = iota
	// EntrySensorReading: a CGM sensor reading Observation (99504-3 or
	// 105272-9), for the store's ingestion path.
	EntrySensorReading
	// EntrySummary: one of the IG's summary Observations (the panel or a
	// member) made by the submitter's platform: stored as received,
	// apart from fsecgm's own.
	EntrySummary
	// EntryDevice: a Device (the sensor).
	EntryDevice
	// EntryPatient: a Patient.
	EntryPatient
	// EntryReport: a DiagnosticReport (the IG's summary PDF).
	EntryReport
	// EntryOrder: a ServiceRequest (a data submission order).
	EntryOrder
	// EntryMeasurement: a measurement of the patient's own devices (heart
	// rate, blood pressure, steps, calories, sleep: see [VitalEntry]), for
	// the store's measurements.
	EntryMeasurement
)

var entryKindNames = [...]string{"unknown", "sensor reading", "summary", "device", "patient", "report", "order", "measurement"}

// String returns the kind's name.
func (k EntryKind) String() string {
	if int(k) < len(entryKindNames) {
		return entryKindNames[k]
	}
	return fmt.Sprintf("EntryKind(%d)", uint8(k))
}

// Condition is the conditional create of an entry, from its
// request.ifNoneExist "identifier=SYSTEM|VALUE": create the resource only
// if none with this identifier exists.
type Condition struct {
	System, Value string
}

// String returns the condition as an ifNoneExist query.
func (c Condition) String() string {
	esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`)
	return "identifier=" + esc.Replace(c.System) + "|" + esc.Replace(c.Value)
}

// SubmissionEntry is one entry of a submitted CGM data submission Bundle.
type SubmissionEntry struct {
	// Index is the entry's position in Bundle.entry.
	Index int
	// FullURL is entry.fullUrl as sent ("" when absent).
	FullURL string
	// ResourceType is the resource's type ("" when unreadable).
	ResourceType string
	// Kind says what the entry is.
	Kind EntryKind
	// IfNoneExist is the entry's conditional create, or nil.
	IfNoneExist *Condition
	// Code is the LOINC code that classified an Observation, or the first
	// code of a DiagnosticReport; "" otherwise.
	Code string
	// Identifiers are the resource's identifiers.
	Identifiers []Identifier
	// Subject is the reference to the patient as written (Observation,
	// DiagnosticReport and ServiceRequest subject; Device patient).
	Subject string
	// SubjectEntry is the index of the Patient entry Subject resolves to
	// inside the bundle, or -1.
	SubjectEntry int
	// Period is the effectivePeriod of a summary or report.
	Period *Period
	// Reading is the reading of a sensor reading entry; nil when the entry
	// is rejected or has no value (dataAbsentReason).
	Reading *cgm.Reading
	// Vital is the measurement of a measurement entry; nil when the entry
	// is rejected.
	Vital *VitalEntry
	// Serial is the serialNumber of a Device entry.
	Serial string
	// FiscalCode is the codice fiscale identifier of a Patient entry
	// (upper-case), or "".
	FiscalCode string
	// Named is the person a Patient entry names (its first name, and its
	// birthDate when valid): compared with the FSE identity of the patient
	// the submission is bound to. Empty names when the entry has none.
	Named identity.Named
	// Resource is the resource exactly as received.
	Resource json.RawMessage
	// Issues are what was found wrong or worth saying about the entry.
	Issues []*Issue
}

// Rejected reports whether the entry has an error: it must not be stored,
// and its response is an error status with its issues as outcome.
func (e *SubmissionEntry) Rejected() bool {
	for _, is := range e.Issues {
		if is.IsError() {
			return true
		}
	}
	return false
}

// Skipped reports whether the entry is a valid sensor reading with nothing
// to store (no value, dataAbsentReason): its issues say why.
func (e *SubmissionEntry) Skipped() bool {
	return e.Kind == EntrySensorReading && e.Reading == nil && !e.Rejected()
}

// Submission is a parsed $submit-cgm-bundle request.
type Submission struct {
	// ID is Bundle.id as sent ("" when absent).
	ID string
	// Timestamp is Bundle.timestamp.
	Timestamp time.Time
	// Entries are the entries in order, each with its outcome.
	Entries []SubmissionEntry
}

// Err returns the errors of all entries joined (each an *Issue), or nil.
func (s *Submission) Err() error {
	var errs []error
	for i := range s.Entries {
		for _, is := range s.Entries[i].Issues {
			if is.IsError() {
				errs = append(errs, is)
			}
		}
	}
	return errors.Join(errs...)
}

// Issues is a list of issues. As an error it is the refusal of a whole
// submission by [ParseSubmissionBundle]; [OperationOutcomeFor] turns it into
// an OperationOutcome.
type Issues []*Issue

// Error implements error.
func (is Issues) Error() string {
	msg := make([]string, len(is))
	for i, x := range is {
		msg[i] = x.Error()
	}
	return strings.Join(msg, "; ")
}

// Unwrap returns the issues as errors.
func (is Issues) Unwrap() []error {
	out := make([]error, len(is))
	for i, x := range is {
		out[i] = x
	}
	return out
}

// allowedType returns the kind of entry a resource type makes, or
// EntryUnknown for a type a submission may not carry: only Observation,
// Device, Patient, DiagnosticReport and ServiceRequest (the IG's advice to
// receivers on its home page, HL7 FHIR CGM IG 1.0.0).
func allowedType(t string) EntryKind {
	switch t {
	case "Observation":
		return EntrySensorReading // refined by code
	case "Device":
		return EntryDevice
	case "Patient":
		return EntryPatient
	case "DiagnosticReport":
		return EntryReport
	case "ServiceRequest":
		return EntryOrder
	}
	return EntryUnknown
}

// dateTimeRE is a FHIR dateTime with a time of day to the second and an
// offset: what a sensor reading needs to be placed in time.
var dateTimeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// ParseSubmissionBundle reads a CGM data submission Bundle (the IG's
// cgm-data-submission-bundle, posted to $submit-cgm-bundle) and classifies
// each entry, keeping everything as received.
//
// The whole submission is refused, with an error of type [Issues] that
// [OperationOutcomeFor] turns into the response, when it is larger than
// [MaxSubmissionBytes], deeper than [MaxNestingDepth], with an object that
// names a member twice (package jsonscan; the issue's expression is the
// member's FHIRPath, its diagnostics the JSON pointer), not JSON, not a
// Bundle, not of type transaction, without a valid timestamp, without
// entries, or with more than [MaxSubmissionEntries].
//
// Otherwise each entry gets its own issues, located by FHIRPath
// (Bundle.entry[3].resource.valueQuantity.code); an entry with an error is
// [SubmissionEntry.Rejected] and the others can still be stored (the IG
// lets a receiver accept a subset and asks for a status per entry). An
// entry is rejected when its request is not a POST to its resource type,
// when its type is not Observation, Device, Patient, DiagnosticReport or
// ServiceRequest, when its ifNoneExist is not identifier=SYSTEM|VALUE (the
// only conditional create supported: the IG asks such receivers to answer
// 400), when its fullUrl repeats another's, or when it breaks the rules
// below.
//
// Observations are classified by LOINC code. Sensor readings (99504-3
// mg/dL, 105272-9 mmol/L) become a [cgm.Reading]: status final, amended or
// corrected; subject required; effectiveDateTime required, to the second
// with an offset; valueQuantity with UCUM code mg/dL or mmol/L matching the
// LOINC code, normalised by [cgm.Normalize] (LO/HI clamped and flagged;
// comparator "<" or ">" at or beyond the sensor's limit marks LO or HI);
// the kind from fsecgm's method code (historic when absent); the sensor's
// serial from the Device entry its device references. A reading with
// dataAbsentReason and no value is kept with a warning and no Reading
// ([SubmissionEntry.Skipped]). Summary Observations (107931-8 and its
// members) need a subject and an effectivePeriod with start and end, and
// are otherwise kept as received. Measurements of the patient's own devices
// (heart rate 8867-4, blood pressure 85354-9, resting heart rate 40443-4,
// steps 41950-7 and 55423-8, calories 55424-6, sleep 93832-4, 93830-8,
// 93831-6, 93829-0; see [VitalEntry]) need a status final, amended or
// corrected, a subject, the time (effectiveDateTime to the second with an
// offset, effectivePeriod for what is counted over an interval, a date for
// a day's steps or resting heart rate) and the UCUM unit of their profile
// (/min, mm[Hg] components 8480-6 and 8462-4, /d, {steps}, kcal, min).
// Other Observations are rejected.
func ParseSubmissionBundle(data []byte) (*Submission, error) {
	fail := func(code, expr, format string, a ...any) error {
		return Issues{{Severity: SeverityFatal, Code: code, Entry: -1, Expression: expr, Diagnostics: fmt.Sprintf(format, a...)}}
	}
	if len(data) > MaxSubmissionBytes {
		return nil, fail(IssueTooCostly, "Bundle", "the submission is %d bytes; at most %d are accepted", len(data), MaxSubmissionBytes)
	}
	if err := jsonscan.Scan(data, jsonscan.Options{MaxDepth: MaxNestingDepth}); err != nil {
		var se *jsonscan.Error
		if errors.As(err, &se) && se.Duplicate() {
			return nil, fail(IssueStructure, PointerPath("Bundle", se.Pointer),
				"the JSON object names the member %s (JSON pointer) more than once", se.Pointer)
		}
		return nil, fail(IssueTooCostly, "Bundle", "JSON nested deeper than %d levels", MaxNestingDepth)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fail(IssueStructure, "Bundle", "not a JSON object: %s", jsonProblem(err))
	}
	if rt, _ := str(top, "resourceType"); rt != "Bundle" {
		return nil, fail(IssueInvalid, "Bundle.resourceType", "resourceType must be Bundle (a CGM data submission Bundle)")
	}
	typ, _ := str(top, "type")
	if typ != BundleTransaction {
		return nil, fail(IssueValue, "Bundle.type", "type must be transaction (cgm-data-submission-bundle), not %q", typ)
	}
	s := &Submission{}
	s.ID, _ = str(top, "id")
	ts, ok := str(top, "timestamp")
	if !ok {
		return nil, fail(IssueRequired, "Bundle.timestamp", "timestamp is required (cgm-data-submission-bundle: timestamp 1..1)")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !dateTimeRE.MatchString(ts) {
		return nil, fail(IssueValue, "Bundle.timestamp", "timestamp must be an instant with seconds and offset, e.g. 2024-05-02T14:30:00Z")
	}
	s.Timestamp = t.UTC()
	var entries []json.RawMessage
	if raw, ok := top["entry"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fail(IssueStructure, "Bundle.entry", "entry must be an array")
		}
	}
	if len(entries) == 0 {
		return nil, fail(IssueRequired, "Bundle.entry", "the bundle has no entries (entry 1..*)")
	}
	if len(entries) > MaxSubmissionEntries {
		return nil, fail(IssueTooCostly, "Bundle.entry", "%d entries; at most %d are accepted per submission", len(entries), MaxSubmissionEntries)
	}

	p := &parser{sub: s, entries: make([]rawEntry, len(entries))}
	for i, raw := range entries {
		p.envelope(i, raw)
	}
	p.index()
	for i := range p.entries {
		p.classify(i)
	}
	return s, nil
}

// PointerPath turns a JSON pointer (RFC 6901) into a FHIRPath below the
// resource type root, for OperationOutcome.issue.expression:
// "/entry/3/resource/code" below "Bundle" is "Bundle.entry[3].resource.code"
// (FHIR JSON has no member named by digits, so a number is an array index).
func PointerPath(root, pointer string) string {
	var b strings.Builder
	b.WriteString(root)
	if pointer == "" {
		return root
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 && tok == strconv.Itoa(n) {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}

// jsonProblem describes a JSON decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s must not be a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("must not be a JSON %s", te.Value)
	case errors.Is(err, errDecimalString):
		return err.Error()
	}
	return "wrong JSON type or format"
}

// str returns a string member of a JSON object; ok is false when absent or
// not a string.
func str(m map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := m[k]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// rawEntry is an entry during parsing.
type rawEntry struct {
	res     map[string]json.RawMessage // the resource's members, nil when unreadable
	typ, id string
}

// parser holds the state of one ParseSubmissionBundle.
type parser struct {
	sub     *Submission
	entries []rawEntry
	byURL   map[string]int // fullUrl (and Type/id) → entry index
}

// issue records an issue on entry i at the element path under
// Bundle.entry[i] ("" for the entry itself).
func (p *parser) issue(i int, sev, code, path, format string, a ...any) {
	expr := fmt.Sprintf("Bundle.entry[%d]", i)
	if path != "" {
		expr += "." + path
	}
	e := &p.sub.Entries[i]
	e.Issues = append(e.Issues, &Issue{Severity: sev, Code: code, Entry: i, Expression: expr, Diagnostics: fmt.Sprintf(format, a...)})
}

// envelope reads entry i's fullUrl, request and resource type.
func (p *parser) envelope(i int, raw json.RawMessage) {
	p.sub.Entries = append(p.sub.Entries, SubmissionEntry{Index: i, SubjectEntry: -1})
	e := &p.sub.Entries[i]
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.issue(i, SeverityError, IssueStructure, "", "an entry must be a JSON object")
		return
	}
	if _, ok := m["fullUrl"]; ok {
		var ok2 bool
		if e.FullURL, ok2 = str(m, "fullUrl"); !ok2 {
			p.issue(i, SeverityError, IssueStructure, "fullUrl", "fullUrl must be a string")
		}
	}
	rawRes, ok := m["resource"]
	if !ok {
		p.issue(i, SeverityError, IssueRequired, "resource", "the entry has no resource")
	} else {
		var res map[string]json.RawMessage
		if err := json.Unmarshal(rawRes, &res); err != nil {
			p.issue(i, SeverityError, IssueStructure, "resource", "the resource must be a JSON object")
		} else {
			e.Resource = rawRes
			p.entries[i].res = res
			e.ResourceType, _ = str(res, "resourceType")
			p.entries[i].typ = e.ResourceType
			p.entries[i].id, _ = str(res, "id")
			if e.ResourceType == "" {
				p.issue(i, SeverityError, IssueRequired, "resource.resourceType", "the resource has no resourceType")
			} else if allowedType(e.ResourceType) == EntryUnknown {
				p.issue(i, SeverityError, IssueNotSupported, "resource.resourceType",
					"%s is not accepted: a CGM submission may carry Observation, Device, Patient, DiagnosticReport and ServiceRequest", e.ResourceType)
			}
		}
	}
	p.request(i, m)
}

// request checks entry i's request: POST to the resource type, and an
// ifNoneExist the receiver supports.
func (p *parser) request(i int, m map[string]json.RawMessage) {
	e := &p.sub.Entries[i]
	raw, ok := m["request"]
	if !ok {
		p.issue(i, SeverityError, IssueRequired, "request", "a transaction entry needs a request (method POST)")
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(raw, &req); err != nil {
		p.issue(i, SeverityError, IssueStructure, "request", "request must be a JSON object")
		return
	}
	method, _ := str(req, "method")
	if method != "POST" {
		p.issue(i, SeverityError, IssueNotSupported, "request.method", "only POST is accepted in a CGM submission (got %q)", method)
	}
	u, _ := str(req, "url")
	if e.ResourceType != "" && u != e.ResourceType {
		p.issue(i, SeverityError, IssueValue, "request.url", "request.url must be the resource type %q (got %q)", e.ResourceType, u)
	}
	if _, ok := req["ifNoneExist"]; ok {
		s, ok := str(req, "ifNoneExist")
		c, err := parseIfNoneExist(s)
		if !ok || err != nil {
			p.issue(i, SeverityError, IssueNotSupported, "request.ifNoneExist",
				"only ifNoneExist of the form identifier=SYSTEM|VALUE is supported")
			return
		}
		e.IfNoneExist = c
	}
}

// parseIfNoneExist reads "identifier=SYSTEM|VALUE" (URL-encoded or not,
// with FHIR token escapes).
func parseIfNoneExist(s string) (*Condition, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, err
	}
	v := q["identifier"]
	if len(q) != 1 || len(v) != 1 {
		return nil, errors.New("want one identifier parameter")
	}
	var parts []string
	var cur strings.Builder
	esc := false
	for _, r := range v[0] {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '|':
			parts = append(parts, cur.String())
			cur.Reset()
		case r == ',':
			return nil, errors.New("an OR of identifiers is not supported")
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, errors.New("want SYSTEM|VALUE")
	}
	return &Condition{System: parts[0], Value: parts[1]}, nil
}

// index maps fullUrls and Type/id of the readable entries to their index,
// and rejects repeated fullUrls (bdl-7).
func (p *parser) index() {
	p.byURL = make(map[string]int, 2*len(p.entries))
	for i, re := range p.entries {
		e := &p.sub.Entries[i]
		if e.FullURL != "" {
			if j, dup := p.byURL[e.FullURL]; dup {
				p.issue(i, SeverityError, IssueDuplicate, "fullUrl", "fullUrl repeats that of entry %d", j)
			} else {
				p.byURL[e.FullURL] = i
			}
		}
		if re.typ != "" && re.id != "" {
			if _, seen := p.byURL[re.typ+"/"+re.id]; !seen {
				p.byURL[re.typ+"/"+re.id] = i
			}
		}
	}
}

// resolve returns the index of the entry a reference written in entry from
// points to, or -1. A relative reference Type/id resolves against the base
// of the entry's fullUrl (FHIR R4 Bundle, "Resolving references in
// Bundles"), then against the entries' Type/id.
func (p *parser) resolve(from int, ref string) int {
	if ref == "" {
		return -1
	}
	if strings.Contains(ref, ":") { // absolute URL or urn
		if j, ok := p.byURL[ref]; ok {
			return j
		}
		return -1
	}
	if full := p.sub.Entries[from].FullURL; strings.HasPrefix(full, "http://") || strings.HasPrefix(full, "https://") {
		// https://host/fhir/Observation/x → https://host/fhir/ + ref
		if k := strings.LastIndexByte(full, '/'); k > 0 {
			if k2 := strings.LastIndexByte(full[:k], '/'); k2 > 0 {
				if j, ok := p.byURL[full[:k2+1]+ref]; ok {
					return j
				}
			}
		}
	}
	if j, ok := p.byURL[ref]; ok {
		return j
	}
	return -1
}

// classify decodes entry i by resource type.
func (p *parser) classify(i int) {
	e := &p.sub.Entries[i]
	res := p.entries[i].res
	if res == nil || allowedType(e.ResourceType) == EntryUnknown {
		return
	}
	d := decoder{p: p, i: i, res: res}
	d.get("identifier", &e.Identifiers)
	switch e.ResourceType {
	case "Observation":
		p.observation(&d)
	case "Device":
		e.Kind = EntryDevice
		e.Serial, _ = str(res, "serialNumber")
		var pt Reference
		if d.get("patient", &pt) {
			e.Subject = pt.Reference
			e.SubjectEntry = p.patientEntry(i, pt.Reference)
		}
	case "Patient":
		e.Kind = EntryPatient
		for _, id := range e.Identifiers {
			if id.System == FiscalCodeSystem {
				e.FiscalCode = strings.ToUpper(strings.TrimSpace(id.Value))
			}
		}
		var names []HumanName
		if d.get("name", &names) {
			for _, n := range names {
				if n.Use == "old" || n.Family == "" && len(n.Given) == 0 {
					continue
				}
				e.Named.FamilyName, e.Named.GivenName = n.Family, strings.Join(n.Given, " ")
				break
			}
		}
		var birth string
		if d.get("birthDate", &birth) {
			if t, err := time.Parse(time.DateOnly, birth); err == nil {
				e.Named.BirthDate = t
			}
		}
	case "DiagnosticReport":
		e.Kind = EntryReport
		var code CodeableConcept
		if d.get("code", &code) && len(code.Coding) > 0 {
			e.Code = code.Coding[0].Code
		}
		d.subject(true)
		var per Period
		if d.get("effectivePeriod", &per) {
			e.Period = &per
		}
	case "ServiceRequest":
		e.Kind = EntryOrder
		d.subject(true)
	}
	if e.IfNoneExist != nil && !hasIdentifier(e.Identifiers, *e.IfNoneExist) {
		p.issue(i, SeverityWarning, IssueInvalid, "request.ifNoneExist",
			"ifNoneExist names an identifier the resource does not carry: a later re-send cannot find it")
	}
}

// hasIdentifier reports whether ids contains c's identifier.
func hasIdentifier(ids []Identifier, c Condition) bool {
	for _, id := range ids {
		if id.System == c.System && id.Value == c.Value {
			return true
		}
	}
	return false
}

// patientEntry resolves a reference to a Patient entry.
func (p *parser) patientEntry(from int, ref string) int {
	j := p.resolve(from, ref)
	if j >= 0 && p.entries[j].typ == "Patient" {
		return j
	}
	return -1
}

// decoder reads members of entry i's resource, recording type errors as
// issues at their path.
type decoder struct {
	p   *parser
	i   int
	res map[string]json.RawMessage
}

// get decodes member k into v; it reports whether k was present and
// decoded.
func (d *decoder) get(k string, v any) bool {
	raw, ok := d.res[k]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		d.p.issue(d.i, SeverityError, IssueStructure, "resource."+k, "%s: %s", k, jsonProblem(err))
		return false
	}
	return true
}

// subject reads the subject reference; required says whether its absence
// is an error.
func (d *decoder) subject(required bool) {
	e := &d.p.sub.Entries[d.i]
	var s Reference
	if !d.get("subject", &s) || (s.Reference == "" && s.Identifier == nil) {
		if required {
			d.p.issue(d.i, SeverityError, IssueRequired, "resource.subject", "subject (the patient) is required")
		}
		return
	}
	e.Subject = s.Reference
	e.SubjectEntry = d.p.patientEntry(d.i, s.Reference)
}

// cgmCode returns the first LOINC code of the IG in code.
func cgmCode(code CodeableConcept) string {
	for _, c := range code.Coding {
		if c.System != LOINC {
			continue
		}
		if c.Code == CodeSensorReadingMass || c.Code == CodeSensorReadingMol || isSummaryCode(c.Code) {
			return c.Code
		}
	}
	return ""
}

// observation classifies and checks an Observation entry.
func (p *parser) observation(d *decoder) {
	i := d.i
	e := &p.sub.Entries[i]
	var code CodeableConcept
	d.get("code", &code)
	e.Code = cgmCode(code)
	switch {
	case e.Code == "" && vitalCode(code) != "":
		e.Code = vitalCode(code)
		e.Kind = EntryMeasurement
		p.measurement(d)
	case e.Code == "":
		p.issue(i, SeverityError, IssueNotSupported, "resource.code",
			"not an Observation this receiver takes: want LOINC 99504-3 or 105272-9 (sensor readings), a CGM summary code (107931-8 and its members), "+
				"or a measurement of the Vital Signs and Physical Activity profiles (8867-4, 85354-9, 40443-4, 41950-7, 55423-8, 55424-6, 93832-4, 93830-8, 93831-6, 93829-0)")
	case isSummaryCode(e.Code):
		e.Kind = EntrySummary
		d.subject(true)
		var per Period
		if !d.get("effectivePeriod", &per) || per.Start == "" || per.End == "" {
			p.issue(i, SeverityError, IssueRequired, "resource.effectivePeriod",
				"a CGM summary needs effectivePeriod with start and end (the reporting period)")
		} else {
			e.Period = &per
		}
	default:
		e.Kind = EntrySensorReading
		p.sensorReading(d)
	}
}

// sensorReading checks a sensor reading and converts it to a cgm.Reading.
func (p *parser) sensorReading(d *decoder) {
	i := d.i
	e := &p.sub.Entries[i]
	errs := len(e.Issues)
	bad := func(code, path, format string, a ...any) {
		p.issue(i, SeverityError, code, "resource."+path, format, a...)
	}
	status, _ := str(d.res, "status")
	switch status {
	case "final", "amended", "corrected":
	default:
		bad(IssueValue, "status", "a sensor reading must be final, amended or corrected (got %q)", status)
	}
	d.subject(true)

	var r cgm.Reading
	r.Unit = cgm.MgDL
	if e.Code == CodeSensorReadingMol {
		r.Unit = cgm.MmolL
	}
	for k := range d.res {
		if strings.HasPrefix(k, "effective") && k != "effectiveDateTime" {
			bad(IssueValue, k, "a sensor reading has effectiveDateTime, not %s", k)
		}
		if strings.HasPrefix(k, "value") && k != "valueQuantity" {
			bad(IssueValue, k, "a sensor reading's value is a valueQuantity, not %s", k)
		}
	}
	var at string
	if !d.get("effectiveDateTime", &at) {
		bad(IssueRequired, "effectiveDateTime", "effectiveDateTime is required")
	} else if t, err := time.Parse(time.RFC3339Nano, at); err != nil || !dateTimeRE.MatchString(at) {
		bad(IssueValue, "effectiveDateTime", "effectiveDateTime must have a time to the second and an offset, e.g. 2024-05-02T10:15:00Z")
	} else {
		r.Time = t.UTC()
	}

	var q Quantity
	hasValue := d.get("valueQuantity", &q)
	var dar CodeableConcept
	hasDAR := d.get("dataAbsentReason", &dar)
	switch {
	case hasValue && hasDAR:
		bad(IssueInvalid, "dataAbsentReason", "a reading with a value must not have a dataAbsentReason (obs-6)")
	case !hasValue && hasDAR:
		reason := dar.Text
		if len(dar.Coding) > 0 {
			reason = dar.Coding[0].Code
		}
		p.issue(i, SeverityWarning, IssueInformation, "resource.dataAbsentReason",
			"reading without a value (dataAbsentReason %q): not stored; send LO/HI readings as valueQuantity with comparator < or >", reason)
		return
	case !hasValue:
		if _, present := d.res["valueQuantity"]; !present {
			bad(IssueRequired, "valueQuantity", "a sensor reading needs valueQuantity or dataAbsentReason (cgm-sensor-value-or-dar)")
		}
		return
	}
	want := unitOf(r.Unit)
	if q.System != UCUM {
		bad(IssueValue, "valueQuantity.system", "the unit system must be %s", UCUM)
	}
	if q.Code != string(want) {
		bad(IssueValue, "valueQuantity.code", "LOINC %s is in UCUM %s (got %q)", e.Code, want, q.Code)
	}
	if q.Value == "" {
		bad(IssueRequired, "valueQuantity.value", "valueQuantity has no value")
	}
	if len(e.Issues) > errs {
		return
	}
	v, err := q.Value.Float64()
	if err != nil {
		bad(IssueValue, "valueQuantity.value", "not a FHIR decimal")
		return
	}
	lo, hi := cgm.Limits(r.Unit)
	switch q.Comparator {
	case "":
		val, flag, err := cgm.Normalize(v, r.Unit)
		if err != nil {
			var fe *cgm.FieldError
			reason := "not a plausible glucose value"
			if errors.As(err, &fe) {
				reason = fe.Reason
			}
			bad(IssueValue, "valueQuantity.value", "%s", reason)
			return
		}
		r.Value, r.Flags = val, flag
	case "<", "<=":
		if v > lo {
			bad(IssueValue, "valueQuantity.comparator", "comparator %s is accepted only at or below the sensor's low limit (%g %s): LO", q.Comparator, lo, r.Unit)
			return
		}
		r.Value, r.Flags = lo, cgm.FlagLow
	case ">", ">=":
		if v < hi {
			bad(IssueValue, "valueQuantity.comparator", "comparator %s is accepted only at or above the sensor's high limit (%g %s): HI", q.Comparator, hi, r.Unit)
			return
		}
		r.Value, r.Flags = hi, cgm.FlagHigh
	default:
		bad(IssueValue, "valueQuantity.comparator", "comparator %q is not accepted for a sensor reading", q.Comparator)
		return
	}

	r.Kind = cgm.Historic
	var method CodeableConcept
	if d.get("method", &method) {
		for _, c := range method.Coding {
			if c.System != LocalCodeSystem {
				continue
			}
			switch c.Code {
			case LocalReadingScan:
				r.Kind = cgm.Scan
			case LocalReadingCurrent:
				r.Kind = cgm.Current
			}
		}
	}
	var dev Reference
	if d.get("device", &dev) {
		if j := p.resolve(i, dev.Reference); j >= 0 && p.entries[j].typ == "Device" {
			r.Device, _ = str(p.entries[j].res, "serialNumber")
		}
	}
	if err := r.Validate(time.Time{}); err != nil {
		path, reason := "resource", "invalid reading"
		var fe *cgm.FieldError
		if errors.As(err, &fe) {
			reason = fe.Reason
			switch fe.Field {
			case "time":
				path += ".effectiveDateTime"
			case "value", "flags":
				path += ".valueQuantity.value"
			case "device":
				path += ".device"
			}
		}
		p.issue(i, SeverityError, IssueValue, path, "%s", reason)
		return
	}
	if e.Rejected() {
		return
	}
	e.Reading = &r
}
