package fhirapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"
	"fsecgm/taccuino/records/recordtest/fhircheck"

	"github.com/google/go-cmp/cmp"
)

// TestFHIRKitClient: a real FHIR client, the npm package fhir-kit-client
// (pinned in testdata/fhirkit/package-lock.json, installed with npm ci
// into the user cache keyed by the lock file's hash), searches a
// patient's Observations page by page and reads each by id.
func TestFHIRKitClient(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the fhir-kit-client check did not run")
	}
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIPPED: %s not installed: the fhir-kit-client check did not run", bin)
		}
	}
	t.Parallel()
	src, err := filepath.Abs("testdata/fhirkit")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(lock)
	dir, err := fhircheck.NPMInstall(t, "fsecgm-fhirkit", hex.EncodeToString(h[:8]), func(tmp string) error {
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	p := e.patient(30, true)
	e.publish(p, time.Date(2024, 5, 1, 0, 0, 0, 0, rome), 5, nil)
	// ES modules resolve packages from the script's directory: run a copy
	// of the script (named by its hash) beside the installed node_modules.
	script, err := os.ReadFile(filepath.Join(src, "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	sh := sha256.Sum256(script)
	run := filepath.Join(dir, "client-"+hex.EncodeToString(sh[:8])+".mjs")
	if err := os.WriteFile(run, script, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", run)
	cmd.Env = append(os.Environ(), "FHIR_BASE="+e.base,
		"FHIR_TOKEN="+e.service("fse-toscana", "system/Observation.rs"), "FHIR_PATIENT="+p.PublicID)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		FHIRVersion  string   `json:"fhirVersion"`
		Instantiates []string `json:"instantiates"`
		Total        int      `json:"total"`
		Pages        int      `json:"pages"`
		Searched     []string `json:"searched"`
		Read         []struct {
			ID, Code, Start, Unit, Profile string
			Value                          float64
		} `json:"read"`
		Refused struct {
			Status     int
			Type, Code string
		} `json:"refused"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, stdout.String())
	}
	if got.FHIRVersion != "4.0.1" || len(got.Instantiates) != 1 || got.Instantiates[0] != DataReceiverCanonical {
		t.Errorf("metadata as the client read it: %s %v", got.FHIRVersion, got.Instantiates)
	}
	if got.Total != 5 || got.Pages != 3 || len(got.Searched) != 5 || len(got.Read) != 5 {
		t.Fatalf("total %d, %d pages, %d found, %d read; want 5, 3, 5, 5", got.Total, got.Pages, len(got.Searched), len(got.Read))
	}
	// Latest first (_sort=-date), each read back by the id the search
	// gave, with the figure fsecgm stored.
	for i, r := range got.Read {
		if r.ID != got.Searched[i] || r.Code != fhir.CodeGMI || r.Unit != "%" || r.Profile != fhir.ProfileGMI {
			t.Errorf("read %d: %+v", i, r)
		}
		if want := time.Date(2024, 5, 5-i, 0, 0, 0, 0, rome).Format(time.DateOnly); r.Start != want {
			t.Errorf("read %d: period start %s, want %s", i, r.Start, want)
		}
		stored, err := e.rec.Get(t.Context(), e.pool, "Observation", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var o fhir.Observation
		if err := json.Unmarshal(stored.Body, &o); err != nil {
			t.Fatal(err)
		}
		if v, _ := o.ValueQuantity.Value.Float64(); v != r.Value {
			t.Errorf("read %d: value %v, stored %v", i, r.Value, v)
		}
	}
	if diff := cmp.Diff(struct {
		Status     int
		Type, Code string
	}{404, "OperationOutcome", "not-found"}, got.Refused); diff != "" {
		t.Errorf("unknown id as the client saw it (-want +got):\n%s", diff)
	}
}
