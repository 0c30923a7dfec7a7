package agpdoc

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"sync"

	"fsecgm/taccuino/locale"
)

//go:embed templates/report.html templates/gri.html templates/report.css
var assets embed.FS

var reportTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.ParseFS(assets, "templates/report.html", "templates/gri.html")
})

// CSS returns the report's stylesheet (served by package reports for the
// pages of the service).
func CSS() []byte {
	b, _ := assets.ReadFile("templates/report.css")
	return b
}

// HTMLOptions say how the HTML page is put together.
type HTMLOptions struct {
	// StylesheetURL links the stylesheet; when empty it is written inline
	// (a standalone file).
	StylesheetURL string
	// Nav adds the navigation of the service's page (nil: none).
	Nav *Nav
}

// Nav holds what the service's report page adds to the report: its head
// and header (package ui, rendered by the caller), the way back, the
// links and forms. URLs must not hold a fiscal code (the patient is named
// by its public id).
type Nav struct {
	// Head and Header are the service's head elements and page header.
	Head, Header template.HTML
	// Back is the way back (the clinic list, or the patient's taccuino),
	// BackText its text.
	Back, BackText string
	// PDF is the same report as PDF.
	PDF string
	// TargetsStd and TargetsOlder are the same report with the other
	// targets.
	TargetsStd, TargetsOlder string
	// Action is the URL of the period form, From and To its dates
	// (YYYY-MM-DD, as typed when shown again), Errors its errors by field
	// ("from", "to", "targets").
	Action, From, To string
	Errors           map[string]string
	// Clinical is the clinician's form (nil: the reader may not edit).
	Clinical *ClinicalForm
}

// ClinicalForm is the form with which a clinician records the diabetes
// type, the therapy and a note for the report.
type ClinicalForm struct {
	Action, CSRF                string
	DiabetesType, Therapy, Note string
	// Errors holds the message of each field in error; Saved says the
	// record was just saved.
	Errors map[string]string
	Saved  bool
}

// option is an option of a select.
type option struct {
	Value, Text string
	Selected    bool
}

// dayHTML is a daily profile ready for the template.
type dayHTML struct {
	Date     string
	Hours    float64
	Readings int
	Older    bool // not among the last pdfDays days (hidden in print)
	SVG      template.HTML
}

// HTML writes the page as an HTML document.
func HTML(w io.Writer, p *Page, o HTMLOptions) error {
	tpl, err := reportTemplate()
	if err != nil {
		return fmt.Errorf("agpdoc: template: %w", err)
	}
	l := p.Lang
	data := struct {
		P       *Page
		L       locale.Lang
		CSS     template.CSS
		CSSURL  string
		Nav     *Nav
		TIRBar  template.HTML
		AGP     template.HTML
		AGPN    template.HTML
		GRI     template.HTML
		Days    []dayHTML
		Types   []option
		Therapy []option
	}{P: p, L: l, CSSURL: o.StylesheetURL, Nav: o.Nav}
	if o.StylesheetURL == "" {
		data.CSS = template.CSS(CSS())
	}
	if o.Nav != nil && o.Nav.Clinical != nil {
		cf := o.Nav.Clinical
		data.Types = options(l, "dt_", DiabetesTypes, cf.DiabetesType)
		data.Therapy = options(l, "th_", Therapies, cf.Therapy)
	}
	// The SVGs are built by this package from escaped text only; the HTML
	// draws them with larger text than the PDF (the SVG scales to the
	// screen), the AGP once for wide screens and once for phones.
	tirH := 56.0
	data.TIRBar = template.HTML(svgDoc(tirFigW+4, tirH, t(l, "tir"), func(c canvas) {
		drawTIRBar(c, 0.5, 1, tirH-2, p.bands, p.bandLabels, 8)
	}))
	data.AGP = template.HTML(svgDoc(agpW, 74, t(l, "agp"), func(c canvas) { drawAGP(c, 0, 0, agpW, 74, p.agp, p.labels, styleHTMLWide) }))
	data.GRI = template.HTML(svgDoc(griW, griH, l.T("gri_grid"), func(c canvas) { drawGRIGrid(c, 0, 0, griW, griH, p.GRI, griLabels(l)) }))
	data.AGPN = template.HTML(svgDoc(100, 110, t(l, "agp"), func(c canvas) { drawAGP(c, 0, 0, 100, 110, p.agp, p.labels, styleHTMLNarrow) }))
	for i, d := range p.Days {
		d := d
		data.Days = append(data.Days, dayHTML{Date: d.Date, Hours: d.Hours, Readings: d.Readings, Older: i < len(p.Days)-pdfDays,
			SVG: template.HTML(svgDoc(dayCellW+6, dayCellH+4, d.Desc, func(c canvas) {
				drawDay(c, 0, 0, dayCellW+6, dayCellH+4, d, p.labels, styleHTMLWide)
			}))})
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return fmt.Errorf("agpdoc: html: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// options lists the codes of a select with their texts (catalogue keys
// "agp_" + prefix + code), the first being "not given".
func options(l locale.Lang, prefix string, codes []string, selected string) []option {
	out := []option{{Value: "", Text: t(l, "not_given"), Selected: selected == ""}}
	for _, c := range codes {
		out = append(out, option{Value: c, Text: t(l, prefix+c), Selected: strings.EqualFold(c, selected)})
	}
	return out
}

// RenderHTML builds the page of in and writes it as HTML.
func RenderHTML(in Input, o HTMLOptions) ([]byte, error) {
	p, err := Build(in)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := HTML(&b, p, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// RenderPDF builds the page of in and writes it as a one-page A4 PDF.
func RenderPDF(in Input) ([]byte, error) {
	p, err := Build(in)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := PDF(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Templates returns the report's templates (the catalogue's test reads
// them).
func Templates() fs.FS { return assets }
