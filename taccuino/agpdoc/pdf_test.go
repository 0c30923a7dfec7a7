package agpdoc

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"fsecgm/cgm/vitals"
	"fsecgm/taccuino/locale"
)

// poppler returns the path of a poppler-utils tool, or skips the test
// loudly when it is not installed.
func poppler(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("SKIPPED: %s not found; install poppler-utils (apt-get install -y poppler-utils) to check the PDF", tool)
	}
	return p
}

// TestPDFRendersOneA4Page renders the fixture's PDF to an image with
// pdftoppm and checks it: one page, A4 portrait, not blank, the fonts
// embedded, and the figures of the page present in its text.
func TestPDFRendersOneA4Page(t *testing.T) {
	pdftoppm := poppler(t, "pdftoppm")
	pdfinfo := poppler(t, "pdfinfo")
	pdffonts := poppler(t, "pdffonts")
	pdftotext := poppler(t, "pdftotext")
	in := fixtureInput(t, locale.IT, TargetsStandard)
	// With the clinician's record (a long note is cut to two lines) and
	// the link to the accessible HTML page, it still fits one page.
	in.Clinical = &Clinical{DiabetesType: "type1", Therapy: "aid", Note: strings.Repeat("Ipoglicemie notturne da rivalutare. ", 14)}
	in.HTMLURL = "https://taccuino.example.org/reports/agp/0123456789abcdef0123456789abcdef?from=2026-03-20&to=2026-04-02"
	// And with the line of the patient's own devices (issue 18).
	in.Devices = &vitals.Period{Days: 14, StepsDays: 13, MeanSteps: 8432.4, SleepDays: 12, MeanSleepMinutes: 431}
	b, err := RenderPDF(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	if !bytes.Contains(b, []byte("/URI ("+in.HTMLURL)) {
		t.Error("the PDF does not link its accessible HTML page")
	}
	// The same input gives the same bytes (the record stores it).
	again, err := RenderPDF(in)
	if err != nil || !bytes.Equal(b, again) {
		t.Error("rendering the same report twice gives different PDFs")
	}
	if len(b) > 150_000 {
		t.Errorf("PDF is %d bytes; fonts should be embedded as subsets (expected well under 150 KB)", len(b))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "agp.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	info, err := exec.Command(pdfinfo, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, info)
	}
	if !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(info) {
		t.Errorf("pdfinfo: not one page:\n%s", info)
	}
	if !regexp.MustCompile(`(?m)^Page size:\s+595\.2\d x 841\.8\d pts \(A4\)`).Match(info) {
		t.Errorf("pdfinfo: not A4 portrait:\n%s", info)
	}
	fonts, err := exec.Command(pdffonts, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts: %v\n%s", err, fonts)
	}
	for _, line := range strings.Split(string(fonts), "\n")[2:] {
		if f := strings.Fields(line); len(f) >= 5 && !strings.Contains(line, " yes ") {
			t.Errorf("font not embedded: %s", line)
		}
	}
	if !strings.Contains(strings.ToLower(string(fonts)), "liberationsans") {
		t.Errorf("pdffonts: no Liberation Sans:\n%s", fonts)
	}

	out, err := exec.Command(pdftoppm, "-r", "40", "-png", path, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pngs) != 1 {
		t.Fatalf("pdftoppm made %d images, want 1", len(pngs))
	}
	f, err := os.Open(pngs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if ratio := float64(h) / float64(w); ratio < 1.40 || ratio > 1.43 {
		t.Errorf("image %d×%d is not A4 portrait (ratio %.3f)", w, h, ratio)
	}
	if ink := inked(img); ink < 0.03 || ink > 0.6 {
		t.Errorf("%.1f %% of the page is inked: blank or black", ink*100)
	}

	text, err := exec.Command(pdftotext, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	txt := string(text)
	for k, v := range engineFigures(in) {
		if strings.HasPrefix(k, "cmp_") || strings.HasPrefix(k, "hba1c") || k == "period" || k == "prev_period" {
			continue // laid out with other text around them
		}
		if !strings.Contains(txt, v) {
			t.Errorf("figure %s (%q) is not in the PDF's text", k, v)
		}
	}
	for _, s := range []string{"Profilo glicemico ambulatoriale", "RSSMRA50D42D612X", "dom 29/03 (23 h)", "Discordanza",
		"diabete di tipo 1", "Versione accessibile", "reports/agp/0123456789abcdef",
		"8432 passi al giorno in media (13 giorni), sonno medio " + locale.IT.Duration(431) + " (12 notti)"} {
		if !strings.Contains(txt, s) {
			t.Errorf("%q is not in the PDF's text", s)
		}
	}
}

// inked returns the share of pixels that are not near white.
func inked(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xE000 || g < 0xE000 || bl < 0xE000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}
