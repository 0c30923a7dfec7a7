package agpdoc

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"sync"
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

// Nav holds the links of the service's report page. URLs must not hold a
// fiscal code (the patient is named by its public id).
type Nav struct {
	// Clinic is the clinic list ("" for none).
	Clinic string
	// PDF is the same report as PDF.
	PDF string
	// LangIT, LangEN, TargetsStd and TargetsOlder are the same report in
	// the other language or with the other targets.
	LangIT, LangEN, TargetsStd, TargetsOlder string
	// Action is the URL of the period form, From and To its dates
	// (YYYY-MM-DD).
	Action, From, To string
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
	names := []string{"nav", "clinic", "pdf", "targets_std", "targets_older", "from", "to", "show", "stats", "goal",
		"met", "not_met", "tir", "range", "time_day", "agp", "agp_note", "daily", "events", "event", "count", "per_day",
		"mean_minutes", "hba1c", "hba1c_lab", "hba1c_diff", "compare", "previous", "prev_period", "figure", "current", "change"}
	lb := make(map[string]string, len(names))
	for _, k := range names {
		lb[k] = t(l, k)
	}
	lb["nav"] = map[bool]string{true: "Navigazione del referto", false: "Report navigation"}[l == "it"]
	for k, v := range griLabels(l) {
		lb[k] = v
	}
	lb["gri_zone"] = l.T("gri_zone")
	data := struct {
		P      *Page
		L      map[string]string
		CSS    template.CSS
		CSSURL string
		Nav    *Nav
		TIRBar template.HTML
		AGP    template.HTML
		GRI    template.HTML
		Days   []dayHTML
	}{P: p, L: lb, CSSURL: o.StylesheetURL, Nav: o.Nav}
	if o.StylesheetURL == "" {
		data.CSS = template.CSS(CSS())
	}
	// The SVGs are built by this package from escaped text only.
	data.TIRBar = template.HTML(svgDoc(tirW, tirH, t(l, "tir"), func(c canvas) { drawTIRBar(c, 0, 0, tirW, tirH, p.bands) }))
	data.AGP = template.HTML(svgDoc(agpW-griW-griGap, agpH, t(l, "agp"), func(c canvas) { drawAGP(c, 0, 0, agpW-griW-griGap, agpH, p.agp, p.labels) }))
	data.GRI = template.HTML(svgDoc(griW, griH, lb["gri_grid"], func(c canvas) { drawGRIGrid(c, 0, 0, griW, griH, p.GRI, lb) }))
	for i, d := range p.Days {
		d := d
		data.Days = append(data.Days, dayHTML{Date: d.Date, Hours: d.Hours, Readings: d.Readings, Older: i < len(p.Days)-pdfDays,
			SVG: template.HTML(svgDoc(dayCellW, dayCellH, d.Label, func(c canvas) { drawDay(c, 0, 0, dayCellW, dayCellH, d, p.labels) }))})
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return fmt.Errorf("agpdoc: html: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
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
