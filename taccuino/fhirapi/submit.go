package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/cgmstore"
	"fsecgm/cgm/identity"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/jsonscan"
	"fsecgm/taccuino/records"
	"fsecgm/taccuino/web"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v5"
)

// readBody reads a FHIR JSON request body of at most limit bytes: 415 for
// another content type, 413 beyond the limit.
func readBody(c *echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/fhir+json" && mt != "application/json" && mt != "application/json+fhir") {
		return nil, fail(http.StatusUnsupportedMediaType, fhir.IssueNotSupported, "", "the body must be application/fhir+json")
	}
	if r.ContentLength > limit {
		return nil, fail(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly, "", fmt.Sprintf("the body is larger than %d bytes", limit))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
			return nil, fail(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly, "", "the body is too large")
		}
		return nil, fail(http.StatusBadRequest, fhir.IssueStructure, "", "the body could not be read")
	}
	if int64(len(body)) > limit {
		return nil, fail(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly, "", fmt.Sprintf("the body is larger than %d bytes", limit))
	}
	return body, nil
}

// submitterOf names the submitter in the resource store: a service's
// client id, or the role and subject hash of a person (never a fiscal
// code).
func submitterOf(p *auth.Principal) string {
	if p.Role == auth.RoleService {
		return p.ClientID
	}
	return string(p.Role) + ":" + p.SubjectRef()
}

// gate runs fn, a write to patient p's record, through consent.Store.Access:
// ActWriteData for people; for a service with ScopeSubmit, ActReadData
// (see the package documentation); for a service without it, ActWriteData,
// which the rules refuse and log.
func (a *api) gate(c *echo.Context, p cgmstore.Patient, detail string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	act := consent.ActWriteData
	if pr := web.Principal(c); pr != nil && pr.Role == auth.RoleService && pr.HasScope(ScopeSubmit) {
		act = consent.ActReadData
	}
	return a.d.Access(c, p, act, detail, fn)
}

// kind is what a submitted entry is, for storing.
type kind uint8

const (
	kindRejected kind = iota
	kindReading
	kindSkipped // a reading without value
	kindDevice
	kindSummary
	kindReport
	kindLab
	kindPatient
	kindOrder
	kindMeasurement // a measurement of the patient's own devices
)

// work is one entry on its way to the store.
type work struct {
	e      *fhir.SubmissionEntry
	kind   kind
	key    records.Identifier // what it is kept by (zero: none yet)
	cond   bool               // ifNoneExist
	ref    string             // subject: "cf:<code>" or "id:<public id>", "" when none
	refBad bool               // a subject that names no patient of this server
	// identRef is the patient the subject's identifier names ("cf:" or
	// "id:"), when the subject also has a reference: both must name the
	// same patient.
	identRef string
	// devEntry is the Device entry an Observation's device references in
	// the Bundle (-1: none), devID the Device of this server it references
	// instead ("": none): either must be a sensor of the subject.
	devEntry int
	devID    string
	device   fhir.DeviceInfo
	res      fhir.EntryResult
	done     bool
}

// entryPath returns the FHIRPath of an element of entry i.
func entryPath(i int, path string) string {
	p := "Bundle.entry[" + strconv.Itoa(i) + "]"
	if path != "" {
		p += "." + path
	}
	return p
}

// finish sets w's result.
func (w *work) finish(status int, location string, version int, updated time.Time, issues ...*fhir.Issue) {
	w.res = fhir.EntryResult{Status: status, Location: location, Issues: issues}
	if version > 0 {
		w.res.Etag = `W/"` + strconv.Itoa(version) + `"`
		w.res.LastModified = updated
	}
	w.done = true
}

// refuse sets a failed result with one issue at path under the entry.
func (w *work) refuse(status int, code, path, diagnostics string) {
	w.finish(status, "", 0, time.Time{}, &fhir.Issue{Severity: fhir.SeverityError, Code: code, Entry: w.e.Index,
		Expression: entryPath(w.e.Index, path), Diagnostics: diagnostics})
}

// rawSubject reads the subject (Device: patient) of a raw resource: its
// reference and, when given, its identifier.
func rawSubject(raw json.RawMessage, member string) (ref string, ident *fhir.Identifier) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "", nil
	}
	var r fhir.Reference
	if json.Unmarshal(m[member], &r) != nil {
		return "", nil
	}
	return r.Reference, r.Identifier
}

// patientKey turns a reference or identifier into "cf:<code>" or
// "id:<public id>"; ok is false when it names no patient of this server.
func (a *api) patientKey(ref string, ident *fhir.Identifier) (string, bool) {
	identKey := func(sys, val string) (string, bool) {
		switch {
		case sys == fhir.FiscalCodeSystem && val != "":
			return "cf:" + strings.ToUpper(strings.TrimSpace(val)), true
		case sys == a.base+"/identifier/patient" && publicIDRE.MatchString(val):
			return "id:" + val, true
		}
		return "", false
	}
	if ref == "" && ident != nil {
		return identKey(ident.System, ident.Value)
	}
	if q, ok := strings.CutPrefix(ref, "Patient?"); ok {
		v, err := url.ParseQuery(q)
		if err != nil || len(v["identifier"]) != 1 {
			return "", false
		}
		sys, val, _ := token(v["identifier"][0])
		return identKey(sys, val)
	}
	if id, ok := a.patientRef(ref); ok {
		return "id:" + id, true
	}
	return "", false
}

// classify prepares the entries of a parsed submission.
func (a *api) classify(sub *fhir.Submission) []*work {
	ws := make([]*work, len(sub.Entries))
	for i := range sub.Entries {
		e := &sub.Entries[i]
		w := &work{e: e, devEntry: -1}
		ws[i] = w
		if e.IfNoneExist != nil {
			w.cond, w.key = true, records.Identifier{System: e.IfNoneExist.System, Value: e.IfNoneExist.Value}
		} else {
			for _, id := range e.Identifiers {
				if id.System != "" && id.Value != "" {
					w.key = records.Identifier{System: id.System, Value: id.Value}
					break
				}
			}
		}
		if e.ResourceType == "Observation" && isLab(e) {
			w.kind = kindLab
			var keep []*fhir.Issue
			for _, is := range e.Issues {
				if is.Expression != entryPath(i, "resource.code") {
					keep = append(keep, is)
				}
			}
			e.Issues = keep
		}
		if e.Rejected() {
			status := http.StatusBadRequest
			for _, is := range e.Issues {
				if is.IsError() && is.Code == fhir.IssueValue {
					status = http.StatusUnprocessableEntity
				}
			}
			w.finish(status, "", 0, time.Time{}, e.Issues...)
			continue
		}
		if w.kind != kindLab {
			switch e.Kind {
			case fhir.EntrySensorReading:
				w.kind = kindReading
				if e.Skipped() {
					w.kind = kindSkipped
				}
			case fhir.EntryDevice:
				w.kind = kindDevice
			case fhir.EntrySummary:
				w.kind = kindSummary
			case fhir.EntryReport:
				w.kind = kindReport
			case fhir.EntryPatient:
				w.kind = kindPatient
			case fhir.EntryOrder:
				w.kind = kindOrder
			case fhir.EntryMeasurement:
				// Kept by its natural key (kind, instant, source): a
				// measurement sent again is a duplicate, whatever its
				// identifiers.
				w.kind, w.key, w.cond = kindMeasurement, records.Identifier{}, false
			}
		}
		// The patient the entry is about.
		switch w.kind {
		case kindPatient:
			if e.FiscalCode != "" {
				w.ref = "cf:" + e.FiscalCode
			} else {
				for _, id := range e.Identifiers {
					if k, ok := a.patientKey("", &id); ok {
						w.ref = k
					}
				}
			}
		default:
			member := "subject"
			if w.kind == kindDevice {
				member = "patient"
			}
			ref, ident := rawSubject(e.Resource, member)
			switch {
			case e.SubjectEntry >= 0:
				w.ref = "entry:" + strconv.Itoa(e.SubjectEntry)
			case ref != "" || ident != nil:
				var ok bool
				if w.ref, ok = a.patientKey(ref, ident); !ok {
					w.refBad = true
				}
			}
			a.prepareChecks(w, sub, ref, ident)
		}
	}
	// References to the Patient entry take its key.
	for _, w := range ws {
		if w.refBad && w.kind == kindLab {
			// The parser resolves the subjects of the entries it
			// classifies; a laboratory result's is resolved here.
			ref, _ := rawSubject(w.e.Resource, "subject")
			if j := patientEntry(sub, ref); j >= 0 {
				w.ref, w.refBad = "entry:"+strconv.Itoa(j), false
			}
		}
		if j, ok := strings.CutPrefix(w.ref, "entry:"); ok {
			n, _ := strconv.Atoi(j)
			w.ref = ws[n].ref
			w.refBad = w.ref == ""
		}
	}
	return ws
}

// patientEntry returns the index of the Patient entry a relative or
// absolute reference names (by fullUrl, or Patient/<id> against the
// resource ids and the fullUrls' tails), or -1.
func patientEntry(sub *fhir.Submission, ref string) int {
	return entryOf(sub, fhir.EntryPatient, "Patient", ref)
}

// entryOf returns the index of the entry of kind (resource type typ) a
// relative or absolute reference names, or -1.
func entryOf(sub *fhir.Submission, kind fhir.EntryKind, typ, ref string) int {
	if ref == "" || sub == nil {
		return -1
	}
	for i := range sub.Entries {
		e := &sub.Entries[i]
		if e.Kind != kind {
			continue
		}
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(e.Resource, &id)
		if e.FullURL == ref || (id.ID != "" && ref == typ+"/"+id.ID) ||
			(strings.Contains(e.FullURL, "://") && strings.HasSuffix(e.FullURL, "/"+ref) && strings.HasPrefix(ref, typ+"/")) {
			return i
		}
	}
	return -1
}

// prepareChecks notes, for an Observation entry w, what must name the same
// patient as its subject: the subject's identifier when the subject also
// has a reference (ref), and the Device its device references, in the
// Bundle sub or on this server. resolve checks them.
func (a *api) prepareChecks(w *work, sub *fhir.Submission, ref string, ident *fhir.Identifier) {
	if w.e.ResourceType != "Observation" {
		return
	}
	if ref != "" && ident != nil {
		if k, ok := a.patientKey("", ident); ok {
			w.identRef = k
		}
	}
	dev, _ := rawSubject(w.e.Resource, "device")
	if dev == "" {
		return
	}
	if j := entryOf(sub, fhir.EntryDevice, "Device", dev); j >= 0 {
		w.devEntry = j
		return
	}
	id := strings.TrimPrefix(strings.TrimPrefix(dev, a.base+"/"), "Device/")
	if id != dev && (strings.HasPrefix(dev, "Device/") || strings.HasPrefix(dev, a.base+"/Device/")) {
		w.devID = id
	}
}

// isLab reports whether an entry is a laboratory HbA1c Observation (LOINC
// 4548-4), which the IG's submission parser does not classify.
func isLab(e *fhir.SubmissionEntry) bool {
	var o struct {
		Code fhir.CodeableConcept `json:"code"`
	}
	if json.Unmarshal(e.Resource, &o) != nil {
		return false
	}
	for _, c := range o.Code.Coding {
		if c.System == fhir.LOINC && c.Code == records.CodeHbA1c {
			return true
		}
	}
	return false
}

// resolve finds the submission's patient: the one the Patient entry, or
// else the first subject, names. Entries about another (or no known)
// patient are refused. found is false when the patient is not in fsecgm;
// an error (422) when the Bundle names no patient.
func (a *api) resolve(ctx context.Context, ws []*work) (p cgmstore.Patient, found bool, err error) {
	key := ""
	for _, w := range ws {
		if w.kind == kindPatient && w.ref != "" && !w.done {
			key = w.ref
			break
		}
	}
	if key == "" {
		for _, w := range ws {
			if w.ref != "" && !w.done {
				key = w.ref
				break
			}
		}
	}
	if key == "" {
		return p, false, fail(http.StatusUnprocessableEntity, fhir.IssueRequired, "Bundle.entry",
			"the Bundle does not say which patient it is about: add a Patient entry with the codice fiscale ("+fhir.FiscalCodeSystem+
				"), or give subjects Patient/<id> of this server")
	}
	lookup := func(k string) (cgmstore.Patient, bool, error) {
		var p cgmstore.Patient
		var err error
		if cf, ok := strings.CutPrefix(k, "cf:"); ok {
			p, err = a.d.Store.PatientByFiscalCode(ctx, cf)
		} else {
			p, err = a.d.Store.PatientByPublicID(ctx, strings.TrimPrefix(k, "id:"))
		}
		if errors.Is(err, cgmstore.ErrNotFound) || errors.Is(err, cgmstore.ErrInvalid) {
			return p, false, nil
		}
		return p, err == nil, err
	}
	if p, found, err = lookup(key); err != nil || !found {
		return p, found, err
	}
	ids := map[string]int64{key: p.ID}
	for _, w := range ws {
		if w.done {
			continue
		}
		if w.refBad || (w.ref == "" && w.kind != kindDevice && w.kind != kindPatient) {
			w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource.subject",
				"the subject does not name a patient of this server (Patient/<id>, or an identifier with the codice fiscale)")
			continue
		}
		if w.ref == "" {
			continue
		}
		id, seen := ids[w.ref]
		if !seen {
			q, ok, err := lookup(w.ref)
			if err != nil {
				return p, false, err
			}
			if ok {
				id = q.ID
			}
			ids[w.ref] = id
		}
		if id != p.ID {
			path := "resource.subject"
			if w.kind == kindPatient {
				path = "resource.identifier"
			} else if w.kind == kindDevice {
				path = "resource.patient"
			}
			w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, path,
				"a submission is about one patient: this entry names another one")
		}
	}
	// An Observation names one patient: its subject's identifier and the
	// sensor its device references must be the subject's. An unknown
	// patient or device and another patient's get the same refusal.
	for _, w := range ws {
		if w.done {
			continue
		}
		if w.identRef != "" {
			id, seen := ids[w.identRef]
			if !seen {
				q, ok, err := lookup(w.identRef)
				if err != nil {
					return p, false, err
				}
				if ok {
					id = q.ID
				}
				ids[w.identRef] = id
			}
			if id != p.ID {
				w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource.subject.identifier",
					"the subject's reference and its identifier name different patients")
				continue
			}
		}
		if w.devEntry >= 0 {
			if d := ws[w.devEntry]; d.ref != "" && ids[d.ref] != p.ID {
				w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource.device",
					"the device's patient is not the subject: an Observation names one patient")
			}
			continue
		}
		if w.devID != "" {
			loc, err := a.rec.Locate(ctx, "Device", w.devID)
			switch {
			case errors.Is(err, records.ErrNotFound) || err == nil && loc.PatientID != p.ID:
				w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource.device",
					"the device is not one of the subject's sensors on this server: an Observation names one patient")
			case err != nil:
				return p, false, err
			}
		}
	}
	return p, true, nil
}

// submit serves POST /$submit-cgm-bundle.
func (a *api) submit(c *echo.Context) error {
	ctx := c.Request().Context()
	body, err := readBody(c, a.opts.MaxSubmissionBytes)
	if err != nil {
		return err
	}
	sub, perr := fhir.ParseSubmissionBundle(body)
	if perr != nil {
		if web.Principal(c) == nil {
			return a.requirePrincipal(c, nil, consent.ActWriteData)
		}
		status := http.StatusBadRequest
		var is fhir.Issues
		if errors.As(perr, &is) && len(is) > 0 && is[0].Code == fhir.IssueTooCostly {
			status = http.StatusRequestEntityTooLarge
		}
		return &outcomeError{status: status, oo: fhir.OperationOutcomeFor(perr)}
	}
	ws := a.classify(sub)
	p, found, err := a.resolve(ctx, ws)
	if err != nil {
		if web.Principal(c) == nil {
			return a.requirePrincipal(c, nil, consent.ActWriteData)
		}
		return err
	}
	var pp *cgmstore.Patient
	if found {
		pp = &p
	}
	if err := a.requirePrincipal(c, pp, consent.ActWriteData); err != nil {
		return err
	}
	if !found {
		return web.Forbidden()
	}
	submitter := submitterOf(web.Principal(c))
	err = a.gate(c, p, "FHIR $submit-cgm-bundle: "+describe(ws), func(ctx context.Context, tx pgx.Tx) error {
		if err := samePerson(p, ws); err != nil {
			return err
		}
		return a.store(ctx, tx, p, submitter, ws)
	})
	if err != nil {
		return err
	}
	results := make([]fhir.EntryResult, len(ws))
	stored := 0
	var issues []error
	for i, w := range ws {
		results[i] = w.res
		if w.res.Status < 300 && w.kind != kindPatient {
			stored++
		}
		for _, is := range w.res.Issues {
			issues = append(issues, is)
		}
	}
	if stored == 0 && len(issues) > 0 {
		return &outcomeError{status: http.StatusUnprocessableEntity, oo: fhir.OperationOutcomeFor(issues...)}
	}
	return writeResource(c, http.StatusOK, fhir.ResponseBundle(results))
}

// samePerson refuses the whole submission when a Patient entry names
// someone other than the person of the codice fiscale it was bound to
// (cgm/identity: the same evidence as for a sensor account): readings about
// that person must not reach this patient's record. It runs behind the
// gate, so that it tells nothing about a patient to a caller who may not
// write their data, and the refusal is in the patient's access log.
func samePerson(p cgmstore.Patient, ws []*work) error {
	who := identity.Patient{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName, BirthDate: p.BirthDate}
	loc, err := p.Location()
	if err != nil {
		loc = time.UTC
	}
	for i, w := range ws {
		n := w.e.Named
		if w.kind != kindPatient || w.done || (n.FamilyName == "" && n.GivenName == "") {
			continue
		}
		if res := identity.Match(who, n, time.Now().In(loc)); !res.Match {
			path := "resource.name"
			if res.Failed == identity.CheckBirthDate {
				path = "resource.birthDate"
			}
			return fail(http.StatusUnprocessableEntity, fhir.IssueValue, entryPath(i, path),
				"the Patient's name or birth date is not that of the person its codice fiscale belongs to ("+string(res.Failed)+
					"): nothing of this submission was stored")
		}
	}
	return nil
}

// issuesOf returns w's issues as errors, with expressions on the resource
// itself (a single resource, not a Bundle entry).
func issuesOf(w *work) []error {
	var out []error
	for _, is := range w.res.Issues {
		c := *is
		c.Entry = -1
		c.Expression = "Observation" + strings.TrimPrefix(c.Expression, entryPath(w.e.Index, "resource"))
		out = append(out, &c)
	}
	return out
}

// describe counts the entries by kind, for the access log (no values).
func describe(ws []*work) string {
	var n [kindMeasurement + 1]int
	for _, w := range ws {
		if !w.done {
			n[w.kind]++
		}
	}
	var parts []string
	for _, x := range []struct {
		k    kind
		name string
	}{{kindReading, "readings"}, {kindMeasurement, "device measurements"}, {kindDevice, "devices"}, {kindSummary, "summary resources"}, {kindReport, "reports"}, {kindLab, "lab results"}} {
		if n[x.k] > 0 {
			parts = append(parts, strconv.Itoa(n[x.k])+" "+x.name)
		}
	}
	if len(parts) == 0 {
		return "nothing to store"
	}
	return strings.Join(parts, ", ")
}

// deviceInfo reads what the mapping needs of a submitted Device.
func deviceInfo(e *fhir.SubmissionEntry) fhir.DeviceInfo {
	var d struct {
		Manufacturer string            `json:"manufacturer"`
		ModelNumber  string            `json:"modelNumber"`
		DeviceName   []fhir.DeviceName `json:"deviceName"`
	}
	_ = json.Unmarshal(e.Resource, &d)
	info := fhir.DeviceInfo{Serial: e.Serial, Manufacturer: d.Manufacturer, Model: d.ModelNumber}
	for _, n := range d.DeviceName {
		if n.Type == "model-name" && info.Model == "" {
			info.Model = n.Name
		}
	}
	return info
}

// store stores the entries of a submission for patient p in tx, setting
// each one's result. Only database failures are errors.
func (a *api) store(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, submitter string, ws []*work) error {
	// Readings without identifier are kept by a derived one; Devices need
	// a serial fsecgm can use.
	measured := map[int]bool{}
	for _, w := range ws {
		if w.kind == kindDevice {
			w.device = deviceInfo(w.e)
		}
		if !w.done && w.kind == kindMeasurement && w.e.Vital != nil && w.e.Vital.DeviceEntry >= 0 {
			measured[w.e.Vital.DeviceEntry] = true
		}
	}
	for _, w := range ws {
		switch {
		case w.done:
		case w.kind == kindReading && w.key == (records.Identifier{}):
			w.key = a.rec.SubmittedReadingIdentifier(p.ID, *w.e.Reading, w.e.Code)
		case w.kind == kindDevice && w.device.Serial == "" && measured[w.e.Index] && !w.sensor(ws):
			// A watch or a monitor without serial number that only
			// measurements reference: it names their source (stored with
			// them), it is no CGM sensor to keep.
			w.finish(http.StatusOK, "", 0, time.Time{})
		case w.kind == kindDevice:
			w.device = deviceInfo(w.e)
			if _, err := fhir.DeviceResource(a.base, w.device, ""); err != nil || len(w.device.Model) > 200 {
				w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource.serialNumber",
					"a CGM sensor needs serialNumber of 1 to 64 of A-Z a-z 0-9 . _ : - (and a model name of at most 200 characters)")
			}
		case w.kind == kindOrder:
			w.refuse(http.StatusUnprocessableEntity, fhir.IssueNotSupported, "resource",
				"this receiver does not take data submission orders (ServiceRequest)")
		case w.kind == kindPatient:
			w.finish(http.StatusOK, "Patient/"+p.PublicID, 0, time.Time{})
		case w.kind == kindSkipped:
			w.finish(http.StatusOK, "", 0, time.Time{}, w.e.Issues...)
		}
	}
	// Conditional creates and identifiers kept for someone else.
	var keys []records.Identifier
	for _, w := range ws {
		if !w.done && w.key != (records.Identifier{}) {
			keys = append(keys, w.key)
		}
	}
	found, err := a.rec.Lookup(ctx, tx, p.ID, keys)
	if err != nil {
		return err
	}
	for _, w := range ws {
		f, ok := found[w.key]
		if w.done || !ok {
			continue
		}
		if f.Type != w.e.ResourceType {
			w.refuse(http.StatusConflict, "conflict", "resource.identifier", "the identifier is kept for another resource of this patient")
		} else if w.cond {
			w.finish(http.StatusOK, f.Type+"/"+f.ID+"/_history/"+strconv.Itoa(f.Version), f.Version, f.LastUpdated)
		}
	}
	// Readings and Devices: the readings store's ingestion.
	batch := cgmstore.Batch{Patient: p.ID, Source: cgmstore.SourceFHIR}
	var rw []*work
	for _, w := range ws {
		switch {
		case w.done:
		case w.kind == kindReading:
			batch.Readings, rw = append(batch.Readings, *w.e.Reading), append(rw, w)
		case w.kind == kindDevice:
			batch.Devices = append(batch.Devices, cgmstore.Device{Serial: w.device.Serial, Model: w.device.Model})
		}
	}
	if len(batch.Readings) > 0 || len(batch.Devices) > 0 {
		res, err := a.d.Store.IngestTx(ctx, tx, batch)
		if err != nil {
			return err
		}
		for _, rej := range res.Rejections {
			path, reason := "resource", "invalid reading"
			var fe *cgm.FieldError
			if errors.As(rej.Err, &fe) {
				reason = fe.Reason
				switch fe.Field {
				case "time":
					path = "resource.effectiveDateTime"
				case "value", "flags", "unit":
					path = "resource.valueQuantity"
				}
			}
			rw[rej.Index].refuse(http.StatusUnprocessableEntity, fhir.IssueValue, path, reason)
		}
	}
	// Measurements of the patient's devices: the store's measurements.
	if err := a.storeMeasurements(ctx, tx, p, ws); err != nil {
		return err
	}
	// A reading's id: the one its identifier already has in the
	// patient's record, else one derived from the patient and the
	// identifier.
	readingID := func(w *work) string {
		if f, ok := found[w.key]; ok && f.Type == "Observation" {
			return f.ID
		}
		return records.ReadingID(p.ID, w.key)
	}
	var kept []records.ClientIdentifier
	for _, w := range ws {
		switch {
		case w.done:
		case w.kind == kindReading:
			kept = append(kept, records.ClientIdentifier{Identifier: w.key, Type: "Observation",
				ResourceID: readingID(w), At: w.e.Reading.Time, Kind: w.e.Reading.Kind, Code: w.e.Code})
		case w.kind == kindDevice:
			id, created, err := a.rec.PutDevice(ctx, tx, p.ID, p.PublicID, w.device)
			if err != nil {
				if errors.Is(err, records.ErrConflict) {
					w.refuse(http.StatusConflict, "conflict", "resource.serialNumber", "this serial is kept for another resource of this patient")
					continue
				}
				return err
			}
			status := http.StatusOK
			if created {
				status = http.StatusCreated
			}
			w.finish(status, "Device/"+id, 0, time.Time{})
			if w.key != (records.Identifier{}) {
				kept = append(kept, records.ClientIdentifier{Identifier: w.key, Type: "Device", ResourceID: id})
			}
		}
	}
	created, err := a.rec.KeepIdentifiers(ctx, tx, p.ID, submitter, kept)
	if err != nil {
		return err
	}
	now := a.d.Clock()
	for _, w := range ws {
		if w.done || w.kind != kindReading {
			continue
		}
		status := http.StatusOK
		if created[w.key] {
			status = http.StatusCreated
		}
		w.finish(status, "Observation/"+readingID(w)+"/_history/1", 1, now)
	}
	// Summaries, reports and laboratory results: kept as received.
	zone, _ := p.Location()
	for _, w := range ws {
		if w.done || (w.kind != kindSummary && w.kind != kindReport && w.kind != kindLab) {
			continue
		}
		st, err := a.rec.StoreSubmitted(ctx, tx, records.Submitted{PatientID: p.ID, Submitter: submitter,
			Type: w.e.ResourceType, Body: w.e.Resource, Identifier: w.key, IfNoneExist: w.cond, Zone: zone})
		var fe *records.FieldError
		switch {
		case errors.As(err, &fe):
			path := "resource"
			if fe.Path != "" {
				path += "." + fe.Path
			}
			w.refuse(http.StatusUnprocessableEntity, fhir.IssueValue, path, fe.Reason)
		case errors.Is(err, records.ErrConflict):
			w.refuse(http.StatusConflict, "conflict", "resource.identifier", "the identifier is kept for another resource of this patient")
		case err != nil:
			return err
		default:
			status := http.StatusOK
			if st.Created {
				status = http.StatusCreated
			}
			w.finish(status, w.e.ResourceType+"/"+st.ID+"/_history/"+strconv.Itoa(st.Version), st.Version, st.LastUpdated)
		}
	}
	return nil
}

// createObservation serves POST /Observation: a laboratory HbA1c
// (LOINC 4548-4), conditional with If-None-Exist: identifier=SYSTEM|VALUE.
func (a *api) createObservation(c *echo.Context) error {
	ctx := c.Request().Context()
	body, err := readBody(c, MaxResourceBytes)
	if err != nil {
		return err
	}
	if err := jsonscan.Scan(body, jsonscan.Options{MaxDepth: fhir.MaxNestingDepth}); err != nil {
		var se *jsonscan.Error
		if errors.As(err, &se) && se.Duplicate() {
			return fail(http.StatusBadRequest, fhir.IssueStructure, fhir.PointerPath("Observation", se.Pointer),
				"the JSON object names the member "+se.Pointer+" (JSON pointer) more than once")
		}
		return fail(http.StatusRequestEntityTooLarge, fhir.IssueTooCostly, "Observation", err.Error())
	}
	var head struct {
		ResourceType string            `json:"resourceType"`
		Identifier   []fhir.Identifier `json:"identifier"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fail(http.StatusBadRequest, fhir.IssueStructure, "Observation", "the body is not a JSON resource")
	}
	if head.ResourceType != "Observation" {
		return fail(http.StatusBadRequest, fhir.IssueInvalid, "Observation.resourceType", "the body must be an Observation")
	}
	e := &fhir.SubmissionEntry{Index: 0, ResourceType: "Observation", Resource: body, SubjectEntry: -1}
	if !isLab(e) {
		return fail(http.StatusUnprocessableEntity, fhir.IssueNotSupported, "Observation.code",
			"only laboratory HbA1c (LOINC 4548-4) can be created here; CGM data goes through $submit-cgm-bundle")
	}
	w := &work{e: e, kind: kindLab}
	if cond := c.Request().Header.Get("If-None-Exist"); cond != "" {
		v, err := url.ParseQuery(cond)
		sys, val, hasSys := "", "", false
		if err == nil && len(v) == 1 && len(v["identifier"]) == 1 {
			sys, val, hasSys = token(v["identifier"][0])
		}
		if !hasSys || sys == "" || val == "" {
			return fail(http.StatusBadRequest, fhir.IssueNotSupported, "If-None-Exist", "only If-None-Exist: identifier=SYSTEM|VALUE is supported")
		}
		w.cond, w.key = true, records.Identifier{System: sys, Value: val}
	} else {
		for _, id := range head.Identifier {
			if id.System != "" && id.Value != "" {
				w.key = records.Identifier{System: id.System, Value: id.Value}
				break
			}
		}
	}
	ref, ident := rawSubject(body, "subject")
	key, ok := a.patientKey(ref, ident)
	if !ok {
		if err := a.requirePrincipal(c, nil, consent.ActWriteData); err != nil {
			return err
		}
		return fail(http.StatusUnprocessableEntity, fhir.IssueValue, "Observation.subject",
			"the subject must name a patient of this server (Patient/<id>, or an identifier with the codice fiscale)")
	}
	w.ref, w.devEntry = key, -1
	a.prepareChecks(w, nil, ref, ident)
	p, found, err := a.resolve(ctx, []*work{w})
	if err != nil {
		return err
	}
	var pp *cgmstore.Patient
	if found {
		pp = &p
	}
	if err := a.requirePrincipal(c, pp, consent.ActWriteData); err != nil {
		return err
	}
	if !found {
		return web.Forbidden()
	}
	submitter := submitterOf(web.Principal(c))
	var st records.Stored
	var stored []byte
	// Refused by resolve (its subject's identifier or device name another
	// patient): said only to a caller the gate lets through.
	refused := &outcomeError{status: w.res.Status, oo: fhir.OperationOutcomeFor(issuesOf(w)...)}
	err = a.gate(c, p, "FHIR Observation create: 1 lab result", func(ctx context.Context, tx pgx.Tx) error {
		if w.done {
			return fmt.Errorf("fhirapi: create: %w", records.ErrInvalid)
		}
		zone, _ := p.Location()
		var err error
		st, err = a.rec.StoreSubmitted(ctx, tx, records.Submitted{PatientID: p.ID, Submitter: submitter, Type: "Observation",
			Body: body, Identifier: w.key, IfNoneExist: w.cond, Zone: zone})
		if err != nil {
			return err
		}
		r, err := a.rec.Get(ctx, tx, "Observation", st.ID)
		if err != nil {
			return err
		}
		stored, err = withMeta(r.Body, r.ID, r.Version, r.LastUpdated)
		return err
	})
	var fe *records.FieldError
	switch {
	case w.done && err != nil && errors.Is(err, records.ErrInvalid):
		return refused
	case errors.As(err, &fe):
		path := "Observation"
		if fe.Path != "" {
			path += "." + fe.Path
		}
		return fail(http.StatusUnprocessableEntity, fhir.IssueValue, path, fe.Reason)
	case errors.Is(err, records.ErrConflict):
		return fail(http.StatusConflict, "conflict", "Observation.identifier", "the identifier is kept for another resource of this patient")
	case err != nil:
		return err
	}
	h := c.Response().Header()
	h.Set("Location", a.base+"/Observation/"+st.ID+"/_history/"+strconv.Itoa(st.Version))
	h.Set("ETag", `W/"`+strconv.Itoa(st.Version)+`"`)
	h.Set("Last-Modified", st.LastUpdated.UTC().Format(http.TimeFormat))
	status := http.StatusOK
	if st.Created {
		status = http.StatusCreated
	}
	return writeJSON(c, status, stored)
}

// storeMeasurements ingests the measurement entries of a submission for
// patient p in tx (cgmstore.IngestMeasurementsTx, channel FHIR), dates
// placed in the patient's zone; a measurement without a named device is
// credited to the submitter. Each stored entry answers 200 (a measurement
// has no resource of its own: it is served as the daily summaries'
// Observations); a rejected one 422 at its value.
func (a *api) storeMeasurements(ctx context.Context, tx pgx.Tx, p cgmstore.Patient, ws []*work) error {
	loc, err := p.Location()
	if err != nil {
		loc = time.UTC
	}
	var mw []*work
	batch := cgmstore.MeasurementBatch{Patient: p.ID, Channel: cgmstore.ChannelFHIR}
	for _, w := range ws {
		if w.done || w.kind != kindMeasurement || w.e.Vital == nil {
			continue
		}
		batch.Measurements = append(batch.Measurements, w.e.Vital.Measurement(loc, "FHIR"))
		mw = append(mw, w)
	}
	if len(mw) == 0 {
		return nil
	}
	res, err := a.d.Store.IngestMeasurementsTx(ctx, tx, batch)
	if err != nil {
		return err
	}
	for _, rej := range res.Rejections {
		reason := rej.Err.Error()
		var fe *cgm.FieldError
		if errors.As(rej.Err, &fe) {
			reason = fe.Field + ": " + fe.Reason
		}
		mw[rej.Index].refuse(http.StatusUnprocessableEntity, fhir.IssueValue, "resource", reason)
	}
	for _, w := range mw {
		if !w.done {
			w.finish(http.StatusOK, "", 0, time.Time{})
		}
	}
	return nil
}

// sensor reports whether a sensor reading of the submission references
// Device entry w.
func (w *work) sensor(ws []*work) bool {
	for _, o := range ws {
		if o.kind != kindReading && o.kind != kindSkipped {
			continue
		}
		var r struct {
			Device fhir.Reference `json:"device"`
		}
		if json.Unmarshal(o.e.Resource, &r) == nil && r.Device.Reference != "" &&
			(r.Device.Reference == w.e.FullURL || strings.HasSuffix(w.e.FullURL, "/"+r.Device.Reference)) {
			return true
		}
	}
	return false
}
