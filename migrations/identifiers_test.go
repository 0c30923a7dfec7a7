package migrations_test

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"fsecgm/migrations"
	"fsecgm/migrations/dbtest"
	"fsecgm/taccuino/fhir"
)

// TestDeviceIDsPerPatient applies the migrations up to 00081 on an empty
// database, stores a Device of fsecgm's with the id derived from the
// serial only (as before 00082), a submitter's identifier for it and an
// Observation that references it, then applies the rest: the Device gets
// the id fhir.DeviceResource derives from the patient and the serial, and
// the identifier and the reference follow; a second patient can then hold
// the same serial.
func TestDeviceIDsPerPatient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openPool(t, dbtest.EmptyURL(t))
	before := fstest.MapFS{}
	names, _ := fs.Glob(migrations.Embedded, "*.sql")
	for _, name := range names {
		if name < "00082" {
			b, _ := fs.ReadFile(migrations.Embedded, name)
			before[name] = &fstest.MapFile{Data: b}
		}
	}
	if _, err := migrations.ApplyFS(ctx, pool, before); err != nil {
		t.Fatal(err)
	}
	const pub, serial = "0123456789abcdef0123456789abcdef", "0M0008L4D1E"
	oldDev, err := fhir.DeviceResource("https://f.example/fhir", fhir.DeviceInfo{Serial: serial}, "")
	if err != nil {
		t.Fatal(err)
	}
	newDev, err := fhir.DeviceResource("https://f.example/fhir", fhir.DeviceInfo{Serial: serial}, pub)
	if err != nil {
		t.Fatal(err)
	}
	digest := "0000000000000000000000000000000000000000000000000000000000000000"
	for _, q := range []string{
		`INSERT INTO patients (public_id, fiscal_code) VALUES ('` + pub + `', 'RSSMRA80A01H501U'),
			('fedcba9876543210fedcba9876543210', 'BNCNNA85M50D612T')`,
		`INSERT INTO fhir_resources (resource_type, id, patient_id, identifier_system, identifier_value, origin, body, digest, last_updated)
			SELECT 'Device', '` + oldDev.ID + `', id, 'https://f.example/fhir/identifier/device-serial', '` + serial + `', 'fsecgm',
			'{"resourceType":"Device"}', '` + digest + `', now() FROM patients WHERE public_id = '` + pub + `'`,
		`INSERT INTO fhir_resources (resource_type, id, patient_id, identifier_system, identifier_value, origin, body, digest, last_updated)
			SELECT 'Observation', 'obs1', id, 'https://f.example/fhir/identifier/observation', 'o1', 'fsecgm',
			'{"resourceType":"Observation","device":{"reference":"Device/` + oldDev.ID + `"}}', '` + digest + `', now()
			FROM patients WHERE public_id = '` + pub + `'`,
		`INSERT INTO fhir_client_identifiers (identifier_system, identifier_value, resource_type, resource_id, patient_id, submitter, created_at)
			SELECT 'https://platform.example/dev', 'd1', 'Device', '` + oldDev.ID + `', id, 'p', now() FROM patients WHERE public_id = '` + pub + `'`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := migrations.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var devID, kept, body string
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT id FROM fhir_resources WHERE resource_type = 'Device'),
		(SELECT resource_id FROM fhir_client_identifiers),
		(SELECT body::text FROM fhir_resources WHERE id = 'obs1')`).Scan(&devID, &kept, &body); err != nil {
		t.Fatal(err)
	}
	if devID != newDev.ID || kept != newDev.ID || body != `{"resourceType":"Observation","device":{"reference":"Device/`+newDev.ID+`"}}` {
		t.Errorf("after 00082: Device %s (want %s), kept identifier's resource %s, Observation %s", devID, newDev.ID, kept, body)
	}
	// The same serial and identifier in another patient's record.
	if _, err := pool.Exec(ctx, `INSERT INTO fhir_resources (resource_type, id, patient_id, identifier_system, identifier_value, origin, body, digest, last_updated)
		SELECT 'Device', 'other', id, 'https://f.example/fhir/identifier/device-serial', '`+serial+`', 'fsecgm', '{}', '`+digest+`', now()
		FROM patients WHERE public_id = 'fedcba9876543210fedcba9876543210'`); err != nil {
		t.Errorf("the same serial for another patient: %v", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO fhir_client_identifiers (identifier_system, identifier_value, resource_type, resource_id, patient_id, submitter, created_at)
		SELECT 'https://platform.example/dev', 'd1', 'Device', 'other', id, 'p', now() FROM patients WHERE public_id = 'fedcba9876543210fedcba9876543210'`); err != nil {
		t.Errorf("the same client identifier for another patient: %v", err)
	}
}
