package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"fsecgm/agp"
	"fsecgm/cgm"
	"fsecgm/connectors/fileimport"
	"fsecgm/taccuino/fhir"
)

// defaultBaseURL is the FHIR base written in identifiers and fullUrls when
// neither --base nor FSECGM_BASE_URL says otherwise.
const defaultBaseURL = "https://fsecgm.example.org/fhir"

// runFHIR implements "fsecgm fhir": the summary Bundle of a file, with the
// same mapping as the service, so that it can be checked without a database.
func runFHIR(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fhir", "--input FILE [--patient ID] [--format auto|FORMAT] [--tz ZONE] [--from YYYY-MM-DD --to YYYY-MM-DD] [--base URL] [--ig-only]")
	inputPath := fs.String("input", "", "`file`: a LibreView, Dexcom Clarity or Medtronic CareLink export, Nightscout entries (JSON or CSV), or a long CSV id,time,gl")
	patient := fs.String("patient", "", "subject `id` of a long CSV with several subjects (default: the first)")
	format := fs.String("format", "auto", "input format: auto, "+fileimport.FormatNames())
	tz := fs.String("tz", "", "time `zone` (default: the offset the file's timestamps carry, else Europe/Rome)")
	from := fs.String("from", "", "first local `date` of the reporting period (YYYY-MM-DD)")
	to := fs.String("to", "", "last local `date` of the reporting period, inclusive")
	base := fs.String("base", "", "FHIR base `URL` of identifiers and fullUrls (default $FSECGM_BASE_URL, else "+defaultBaseURL+")")
	igOnly := fs.Bool("ig-only", false, "leave out the local figures (tight range, episodes, scans) that have no IG profile")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *inputPath == "" {
		return usageError(errors.New("--input is required"))
	}
	in, err := readInput(*inputPath, *format, *tz)
	if err != nil {
		return usageError(err)
	}
	for _, n := range conflictNotes(in.File) {
		fmt.Fprintln(e.Stderr, "note:", n)
	}
	if len(in.Rejected) > 0 {
		return usageError(inputError(*inputPath, in.Rejected))
	}
	s, err := pickSubject(in, *patient)
	if err != nil {
		return usageError(err)
	}
	period, err := periodFlags(*from, *to, in.Location)
	if err != nil {
		return usageError(err)
	}
	r, err := agp.Compute(cgm.NewSeries(s.Readings), agp.Options{Patient: s.ID, Location: in.Location, Zone: in.Zone, Period: period})
	if err != nil {
		return err
	}
	baseURL := *base
	if baseURL == "" {
		baseURL = cmpOr(e.Getenv("FSECGM_BASE_URL"), defaultBaseURL)
	}
	b, err := fhir.SummaryBundle(fhir.SummaryInput{
		Report:  r,
		Patient: fhir.PatientInfo{ID: offlineID(s.ID)},
		Devices: devicesOf(s, manufacturer(in.Format)),
		Base:    baseURL,
		Type:    fhir.BundleCollection,
		IGOnly:  *igOnly,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", *inputPath, err)
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

// pickSubject returns the subject named id, or the first one.
func pickSubject(in *input, id string) (subject, error) {
	if len(in.Subjects) == 0 {
		return subject{}, errors.New("the file holds no readings")
	}
	if id == "" {
		return in.Subjects[0], nil
	}
	var ids []string
	for _, s := range in.Subjects {
		if s.ID == id {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	return subject{}, fmt.Errorf("--patient %q: no such subject in the file (it has: %s)", id, strings.Join(ids, ", "))
}

// offlineID derives a FHIR id from a file's subject label: labels may hold
// spaces ("Subject 1") and are not ours to publish as they are.
func offlineID(label string) string {
	h := sha256.Sum256([]byte("fsecgm-offline:" + label))
	return "file-" + hex.EncodeToString(h[:8])
}

// manufacturer names the maker of the devices of a file's format, when
// the format says.
func manufacturer(f fileimport.Format) string {
	switch f {
	case fileimport.LibreView:
		return "Abbott"
	case fileimport.Clarity:
		return "Dexcom"
	case fileimport.CareLink:
		return "Medtronic"
	}
	return ""
}

// devicesOf returns the sensors (serials) of a subject's readings, made by
// maker when known.
func devicesOf(s subject, maker string) []fhir.DeviceInfo {
	seen := map[string]bool{}
	var out []fhir.DeviceInfo
	for _, r := range s.Readings {
		if r.Device == "" || seen[r.Device] || !fhir.UsableSerial(r.Device) { // "iPhone G6" names a phone, not a sensor
			continue
		}
		seen[r.Device] = true
		out = append(out, fhir.DeviceInfo{Serial: r.Device, Manufacturer: maker, Model: s.Devices[r.Device]})
	}
	slices.SortFunc(out, func(a, b fhir.DeviceInfo) int { return strings.Compare(a.Serial, b.Serial) })
	return out
}

// cmpOr returns the first non-empty string.
func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
