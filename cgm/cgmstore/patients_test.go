package cgmstore

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPatients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	cf := fiscalCode(20)

	p, created, err := s.EnsurePatient(ctx, "  "+strings.ToLower(cf)+" ", "")
	if err != nil || !created {
		t.Fatalf("EnsurePatient = %+v, %v, %v; want a new patient", p, created, err)
	}
	if p.FiscalCode != cf || p.TimeZone != DefaultTimeZone || p.ID <= 0 || p.CreatedAt.IsZero() {
		t.Errorf("new patient = %+v", p)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(p.PublicID) {
		t.Errorf("PublicID = %q, want 32 hex digits", p.PublicID)
	}

	again, created, err := s.EnsurePatient(ctx, cf, "America/New_York")
	if err != nil || created {
		t.Fatalf("second EnsurePatient: created = %v, err = %v; want the existing patient", created, err)
	}
	if diff := cmp.Diff(p, again); diff != "" {
		t.Errorf("second EnsurePatient returned another patient (-first +second):\n%s", diff)
	}

	for name, get := range map[string]func() (Patient, error){
		"PatientByID":         func() (Patient, error) { return s.PatientByID(ctx, p.ID) },
		"PatientByFiscalCode": func() (Patient, error) { return s.PatientByFiscalCode(ctx, strings.ToLower(cf)) },
		"PatientByPublicID":   func() (Patient, error) { return s.PatientByPublicID(ctx, p.PublicID) },
	} {
		got, err := get()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}

	for name, get := range map[string]func() (Patient, error){
		"PatientByID":         func() (Patient, error) { return s.PatientByID(ctx, p.ID+1) },
		"PatientByID(0)":      func() (Patient, error) { return s.PatientByID(ctx, 0) },
		"PatientByFiscalCode": func() (Patient, error) { return s.PatientByFiscalCode(ctx, fiscalCode(21)) },
		"PatientByPublicID":   func() (Patient, error) { return s.PatientByPublicID(ctx, strings.Repeat("0", 32)) },
		"UpdatePatient":       func() (Patient, error) { return s.UpdatePatient(ctx, Patient{ID: p.ID + 1}) },
	} {
		if _, err := get(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a missing patient: %v, want ErrNotFound", name, err)
		}
	}

	p.TimeZone = "Europe/London"
	p.BirthDate = time.Date(1980, 1, 1, 15, 0, 0, 0, time.FixedZone("x", 3600))
	p.GivenName, p.FamilyName = "Mario", "Rossi"
	up, err := s.UpdatePatient(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	p.BirthDate = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	if diff := cmp.Diff(p, up); diff != "" {
		t.Errorf("UpdatePatient (-want +got):\n%s", diff)
	}
	if loc, err := up.Location(); err != nil || loc.String() != "Europe/London" {
		t.Errorf("Location() = %v, %v", loc, err)
	}

	// Bad input is ErrInvalid and stores nothing.
	wrongCheck := cf[:15] + string(rune('A'+(cf[15]-'A'+1)%26))
	for _, tc := range []struct{ cf, tz string }{
		{wrongCheck, ""},
		{"RSSMRA80A01H501", ""},
		{fiscalCode(22), "Mars/Olympus_Mons"},
		{fiscalCode(22), "Local"},
	} {
		if _, _, err := s.EnsurePatient(ctx, tc.cf, tc.tz); !errors.Is(err, ErrInvalid) {
			t.Errorf("EnsurePatient(%q, %q): %v, want ErrInvalid", tc.cf, tc.tz, err)
		}
	}
	up.TimeZone = "Nowhere/Never"
	if _, err := s.UpdatePatient(ctx, up); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdatePatient with a bad zone: %v, want ErrInvalid", err)
	}
	if n := count(t, pool, "SELECT count(*) FROM patients"); n != 1 {
		t.Errorf("%d patients stored, want 1", n)
	}

	// The database itself refuses a malformed code.
	_, err = pool.Exec(ctx, "INSERT INTO patients (public_id, fiscal_code) VALUES ($1, $2)", strings.Repeat("a", 32), "RSSMRA80A01H50")
	if err == nil || !strings.Contains(translate(err).Error(), "patients_fiscal_code_check") || !errors.Is(translate(err), ErrInvalid) {
		t.Errorf("inserting a malformed fiscal code: %v, want the CHECK to refuse it", err)
	}
}

// TestEnsurePatientConcurrent creates the same patient from several
// goroutines: one creates it, all get it.
func TestEnsurePatientConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 6
	ids := make(chan int64, n)
	createdCount := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			p, created, err := s.EnsurePatient(ctx, fiscalCode(30), "")
			ids <- p.ID
			createdCount <- created
			errs <- err
		}()
	}
	first, creations := int64(0), 0
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		id := <-ids
		if first == 0 {
			first = id
		}
		if id != first {
			t.Errorf("EnsurePatient returned ids %d and %d", first, id)
		}
		if <-createdCount {
			creations++
		}
	}
	if creations != 1 {
		t.Errorf("%d calls created the patient, want 1", creations)
	}
}
