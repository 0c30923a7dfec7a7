package fileimport

import (
	"archive/zip"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fsecgm/cgm/vitals"
)

// TestDetectDevices: the one detection tells the exports of the patient's
// devices — an Apple Health export.xml and export.zip, a Takeout folder,
// zip and single file, a FHIR Bundle — from the glucose exports; Parse
// sends the first back with a *KindError, ReadMeasurements the second.
func TestDetectDevices(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	apple := filepath.Join("..", "applehealth", "testdata", "export_watch_phone.xml")
	takeoutDir := filepath.Join("..", "takeout", "testdata", "Takeout")
	steps := filepath.Join(takeoutDir, "Fitbit", "Global Export Data", "steps-2026-03-29.json")
	bundle := filepath.Join("..", "..", "taccuino", "fhir", "testdata", "submissions", "vitals.json")
	glucose := filepath.Join("..", "clarity", "testdata", "g6_mgdl_dst.csv")

	appleZip := filepath.Join(dir, "export.zip")
	writeZip(t, appleZip, "apple_health_export/export_cda.xml", "<x/>", "apple_health_export/export.xml", apple)
	takeoutZip := filepath.Join(dir, "takeout-20260401.zip")
	// A Takeout's first entry says nothing of what it holds.
	writeZip(t, takeoutZip, "Takeout/archive_browser.html", "", "Takeout/Fitbit/Global Export Data/steps-2026-03-29.json", steps)

	for path, want := range map[string]Format{apple: AppleHealth, appleZip: AppleHealth, takeoutDir: Takeout, takeoutZip: Takeout,
		steps: Takeout, bundle: FHIRDevices, glucose: Clarity} {
		got, err := DetectPath(path)
		if err != nil || got != want {
			t.Errorf("DetectPath(%s) = %q, %v; want %q", filepath.Base(path), got, err, want)
		}
		if fi, _ := os.Stat(path); !fi.IsDir() {
			data, _ := os.ReadFile(path)
			if got, err := DetectData(filepath.Base(path), data); err != nil || got != want {
				t.Errorf("DetectData(%s) = %q, %v; want %q", filepath.Base(path), got, err, want)
			}
		}
	}

	// Each kind where the other is expected.
	data, _ := os.ReadFile(apple)
	_, err := Parse("export.xml", data, Options{Location: time.UTC})
	var ke *KindError
	if !errors.As(err, &ke) || ke.Format != AppleHealth || !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse of an Apple Health export: %v", err)
	}
	_, err = ReadMeasurements(glucose, "", ReadOptions{}, func(vitals.Measurement, string) error { return nil })
	if !errors.As(err, &ke) || ke.Format != Clarity {
		t.Errorf("ReadMeasurements of a Clarity export: %v", err)
	}
	var ue *UnknownError
	if _, err := DetectPath(dir); !errors.As(err, &ue) {
		t.Errorf("a folder without Takeout files: %v", err)
	}

	// Every format reads its measurements.
	for path, want := range map[string]int{apple: 20, takeoutDir: 0, bundle: 0} {
		st, err := ReadMeasurements(path, "", ReadOptions{}, func(vitals.Measurement, string) error { return nil })
		if err != nil || st.Total() == 0 || (want > 0 && st.Total() != want) {
			t.Errorf("ReadMeasurements(%s): %d, %v", filepath.Base(path), st.Total(), err)
		}
	}
}

// writeZip writes a zip of entries, in order: a name, then a file to copy,
// or the content itself when no such file exists.
func writeZip(t *testing.T, path string, entries ...string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := 0; i+1 < len(entries); i += 2 {
		w, err := zw.Create(entries[i])
		if err != nil {
			t.Fatal(err)
		}
		content := []byte(entries[i+1])
		if b, err := os.ReadFile(entries[i+1]); err == nil {
			content = b
		}
		w.Write(content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
