package agpdoc

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// pdfCanvas draws on an fpdf page in millimetres.
type pdfCanvas struct {
	f *fpdf.Fpdf
}

func rgb(hex string) (int, int, int) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, 0, 0
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return 0, 0, 0
	}
	return int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)
}

func (c pdfCanvas) fillRect(x, y, w, h float64, fill string) {
	c.f.SetFillColor(rgb(fill))
	c.f.Rect(x, y, w, h, "F")
}

func (c pdfCanvas) polyline(pts []point, stroke string, width float64, dashed bool) {
	if len(pts) < 2 {
		return
	}
	c.f.SetDrawColor(rgb(stroke))
	c.f.SetLineWidth(width)
	c.f.SetLineCapStyle("round")
	c.f.SetLineJoinStyle("round")
	if dashed {
		c.f.SetDashPattern([]float64{0.8, 0.8}, 0)
	}
	c.f.MoveTo(pts[0].x, pts[0].y)
	for _, p := range pts[1:] {
		c.f.LineTo(p.x, p.y)
	}
	c.f.DrawPath("D")
	if dashed {
		c.f.SetDashPattern([]float64{}, 0)
	}
}

func (c pdfCanvas) fillPolygon(pts []point, fill string) {
	ps := make([]fpdf.PointType, len(pts))
	for i, p := range pts {
		ps[i] = fpdf.PointType{X: p.x, Y: p.y}
	}
	c.f.SetFillColor(rgb(fill))
	c.f.Polygon(ps, "F")
}

func (c pdfCanvas) text(x, y float64, s string, size float64, a anchor, bold bool, fill string) {
	style := ""
	if bold {
		style = "B"
	}
	c.f.SetFont(fontFamily, style, size)
	c.f.SetTextColor(rgb(fill))
	switch a {
	case anchorMiddle:
		x -= c.f.GetStringWidth(s) / 2
	case anchorEnd:
		x -= c.f.GetStringWidth(s)
	}
	c.f.Text(x, y, s)
}

// Page geometry (A4 portrait, mm).
const (
	pageW, pageH = 210.0, 297.0
	margin       = 10.0
	contentW     = pageW - 2*margin
	colGap       = 6.0
	halfW        = (contentW - colGap) / 2
	rowH         = 3.95
	bodyPt       = 7.0
	smallPt      = 6.0
	headPt       = 9.0
)

// pdfDays is the largest number of daily profiles on the one-page PDF
// (two rows of seven): longer periods show their last pdfDays days.
const pdfDays = 14

// PDF writes the page as a one-page A4 PDF with the Liberation Sans fonts
// embedded (UTF-8 subsets). The output is deterministic: the document's
// dates are the input's Generated (the Unix epoch when zero).
func PDF(w io.Writer, p *Page) error {
	generated := p.generatedAt
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(0, 0, 0)
	f.SetAutoPageBreak(false, 0)
	f.SetCatalogSort(true)
	if generated.IsZero() {
		generated = time.Unix(0, 0)
	}
	f.SetCreationDate(generated.UTC())
	f.SetModificationDate(generated.UTC())
	f.SetTitle(p.Title, true)
	f.SetSubject(p.Period, true)
	f.SetCreator("fsecgm", true)
	f.SetProducer("fsecgm (fpdf)", true)
	f.SetLang(string(p.Lang))
	f.AddUTF8FontFromBytes(fontFamily, "", ttf(false))
	f.AddUTF8FontFromBytes(fontFamily, "B", ttf(true))
	f.AddPage()
	d := &pdfDoc{f: f, c: pdfCanvas{f}, p: p}
	d.layout()
	if err := f.Error(); err != nil {
		return fmt.Errorf("agpdoc: pdf: %w", err)
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return fmt.Errorf("agpdoc: pdf: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// pdfDoc lays the page out top to bottom.
type pdfDoc struct {
	f *fpdf.Fpdf
	c pdfCanvas
	p *Page
	y float64
}

func (d *pdfDoc) textAt(x, y float64, s string, size float64, a anchor, bold bool, colour string) {
	d.c.text(x, y, s, size, a, bold, colour)
}

// wrap writes s in a box of width w from (x, y) (top), returning the height used.
func (d *pdfDoc) wrap(x, y, w float64, s string, size float64, bold bool, colour string) float64 {
	style := ""
	if bold {
		style = "B"
	}
	d.f.SetFont(fontFamily, style, size)
	d.f.SetTextColor(rgb(colour))
	lh := size * ptMM * 1.25
	lines := d.f.SplitText(s, w)
	for i, ln := range lines {
		d.f.Text(x, y+lh*float64(i+1)-lh*0.25, ln)
	}
	return lh * float64(len(lines))
}

// heading writes a section title with a rule under it.
func (d *pdfDoc) heading(x, y, w float64, s string) {
	d.textAt(x, y+3.2, s, headPt, anchorStart, true, colorInk)
	d.c.polyline([]point{{x, y + 4.4}, {x + w, y + 4.4}}, colorGrid, 0.25, false)
}

func (d *pdfDoc) layout() {
	p := d.p
	d.header()
	if len(p.Clinical) > 0 {
		d.clinical()
	}
	if p.Sources != "" {
		d.line(p.Sources)
	}
	if p.Devices != "" {
		d.line(p.Devices)
	}
	if p.Warning != "" {
		d.warning()
	}
	top := d.y
	hStats := d.stats(margin, top)
	hTIR := d.tir(margin+halfW+colGap, top)
	d.y = top + max(hStats, hTIR) + 3
	d.agp()
	d.daily()
	top = d.y
	hEv := d.events(margin, top)
	hLab := d.labs(margin, top+hEv+2)
	hCmp := d.compare(margin+halfW+colGap, top)
	d.y = top + max(hEv+2+hLab, hCmp)
	d.footer()
}

func (d *pdfDoc) header() {
	p := d.p
	y := margin
	d.textAt(margin, y+5, p.Title, 14, anchorStart, true, colorInk)
	d.textAt(margin, y+9.5, p.Subtitle, bodyPt, anchorStart, false, colorMuted)
	ry := y + 3.5
	for _, fl := range p.Patient {
		d.textAt(pageW-margin, ry, fl.Label+": "+fl.Value, bodyPt+0.5, anchorEnd, false, colorInk)
		ry += 3.6
	}
	y += 12.5
	d.c.polyline([]point{{margin, y}, {pageW - margin, y}}, colorInk, 0.3, false)
	y += 4.5
	d.textAt(margin, y, p.PeriodLabel+": "+p.Period, headPt, anchorStart, true, colorInk)
	d.textAt(pageW-margin, y, p.TargetsName, bodyPt, anchorEnd, false, colorInk)
	y += 3.8
	if p.Generated != "" {
		d.textAt(pageW-margin, y, p.Generated, smallPt, anchorEnd, false, colorMuted)
	}
	d.y = y + 2
}

// clinical writes the clinician's record (type, therapy, note) under the
// header, the note cut to two lines.
func (d *pdfDoc) clinical() {
	p := d.p
	x, y := margin, d.y
	var parts []string
	note := ""
	for _, f := range p.Clinical {
		if f.Label == t(p.Lang, "note") {
			note = f.Value
			continue
		}
		parts = append(parts, f.Label+": "+f.Value)
	}
	lh := bodyPt * ptMM * 1.3
	h := 1.2
	if len(parts) > 0 {
		d.textAt(x, y+lh, strings.Join(parts, " · "), bodyPt, anchorStart, true, colorInk)
		h += lh
	}
	if note != "" {
		label := t(p.Lang, "note") + ":"
		lw := d.width(label, bodyPt, true) + 1.2
		d.textAt(x, y+h+lh-0.4, label, bodyPt, anchorStart, true, colorInk)
		d.f.SetFont(fontFamily, "", bodyPt)
		lines := d.f.SplitText(note, contentW-lw)
		if len(lines) > 2 {
			lines = lines[:2]
			lines[1] = trimRunes(lines[1], 1) + "…"
		}
		for i, ln := range lines {
			d.textAt(x+lw, y+h+lh*float64(i+1)-0.4, ln, bodyPt, anchorStart, false, colorInk)
		}
		h += lh * float64(len(lines))
	}
	d.y = y + h + 1.5
}

// line writes a line under the header: the sources of the glucose, the
// patient's own devices (mean daily steps and sleep).
func (d *pdfDoc) line(text string) {
	d.y += d.wrap(margin, d.y, contentW, text, bodyPt, false, colorInk) + 1.5
}

func (d *pdfDoc) warning() {
	p := d.p
	x, y, w := margin, d.y, contentW
	tw := d.width(p.WarningTitle+":", bodyPt, true) + 1.5
	d.f.SetFont(fontFamily, "", bodyPt)
	lines := d.f.SplitText(p.Warning, w-4-tw)
	h := 2.5 + float64(len(lines))*bodyPt*ptMM*1.25
	d.c.fillRect(x, y, w, h, "#fdecea")
	d.c.fillRect(x, y, 1.2, h, colorLow)
	d.textAt(x+2.5, y+3.6, p.WarningTitle+":", bodyPt, anchorStart, true, colorVeryLow)
	d.wrap(x+2.5+tw, y+0.9, w-4-tw, p.Warning, bodyPt, false, colorInk)
	d.y = y + h + 2.5
}

// width returns the width in millimetres of s as the PDF sets it.
func (d *pdfDoc) width(s string, size float64, bold bool) float64 {
	style := ""
	if bold {
		style = "B"
	}
	d.f.SetFont(fontFamily, style, size)
	return d.f.GetStringWidth(s)
}

// goal writes a goal right-aligned at right, followed by a drawn check
// mark (met) or cross (not met): Liberation Sans has no ✓ and ✗ glyphs.
func (d *pdfDoc) goal(right, y float64, goal string, m int) {
	col := colorMuted
	switch m {
	case 1:
		col = colorTarget
		d.c.polyline([]point{{right - 2.4, y - 1.1}, {right - 1.5, y - 0.2}, {right, y - 2.2}}, col, 0.35, false)
	case -1:
		col = colorLow
		d.c.polyline([]point{{right - 2.2, y - 2.1}, {right - 0.2, y - 0.1}}, col, 0.35, false)
		d.c.polyline([]point{{right - 2.2, y - 0.1}, {right - 0.2, y - 2.1}}, col, 0.35, false)
	}
	d.textAt(right-3.2, y, goal, bodyPt, anchorEnd, m == -1, col)
}

func (d *pdfDoc) stats(x, y float64) float64 {
	p := d.p
	d.heading(x, y, halfW, t(p.Lang, "stats"))
	ry := y + 9
	d.textAt(x+halfW, ry-0.2, t(p.Lang, "goal"), smallPt, anchorEnd, true, colorMuted)
	ry += rowH - 0.5
	for _, fg := range p.Stats {
		d.textAt(x, ry, fg.Label, bodyPt, anchorStart, false, colorInk)
		val := fg.Value
		if fg.Unit != "" && fg.Value != dash {
			val += " " + fg.Unit
		}
		d.textAt(x+58, ry, val, bodyPt, anchorEnd, true, colorInk)
		if fg.Value2 != "" && fg.Value2 != dash {
			v2 := fg.Value2
			if fg.Unit2 != "" {
				v2 += " " + fg.Unit2
			}
			d.textAt(x+59, ry, "("+v2+")", smallPt, anchorStart, false, colorMuted)
		}
		if fg.Goal != "" {
			d.goal(x+halfW, ry, fg.Goal, fg.Met)
		}
		ry += rowH
	}
	return ry - y
}

func (d *pdfDoc) tir(x, y float64) float64 {
	p := d.p
	d.heading(x, y, halfW, t(p.Lang, "tir"))
	by := y + 7
	drawTIRBar(d.c, x, by, tirH, p.bands, p.bandLabels, bodyPt)
	tx := x + tirFigW + 1
	right := x + halfW
	rh := tirH / float64(len(p.TIR))
	for i, b := range p.TIR {
		ry := by + rh*float64(i) + 3
		label := b.Label
		bold := !b.Combined
		col := colorInk
		if b.Combined {
			col = colorMuted
		}
		if b.Color != "" {
			d.c.fillRect(tx, ry-2.3, 1.6, 2.6, b.Color)
		}
		d.textAt(tx+2.4, ry, label, bodyPt, anchorStart, bold, col)
		d.textAt(right-24, ry, b.Value, bodyPt, anchorEnd, true, col)
		if b.Goal != "" {
			d.goal(right, ry, b.Goal, b.Met)
		}
		sub := b.Range
		if sub != "" {
			sub += " · "
		}
		d.textAt(tx+2.4, ry+2.6, sub+b.Time+" "+t(p.Lang, "per_day"), smallPt-0.5, anchorStart, false, colorMuted)
	}
	d.textAt(x, by+tirH+3.5, p.TIRNote, smallPt-0.5, anchorStart, false, colorMuted)
	return by + tirH + 4 - y
}

func (d *pdfDoc) agp() {
	p := d.p
	y := d.y
	d.heading(margin, y, contentW, t(p.Lang, "agp"))
	d.textAt(margin, y+8, t(p.Lang, "agp_note"), smallPt, anchorStart, false, colorMuted)
	drawAGP(d.c, margin, y+9, agpW-griW-griGap, agpH, p.agp, p.labels, stylePDF)
	drawGRIGrid(d.c, margin+agpW-griW, y+9, griW, griH, p.GRI, griLabels(p.Lang))
	d.y = y + 9 + agpH + 3
}

func (d *pdfDoc) daily() {
	p := d.p
	y := d.y
	title := t(p.Lang, "daily")
	days := p.Days
	if len(days) > pdfDays {
		days = days[len(days)-pdfDays:]
		title += " · " + fmt.Sprintf(t(p.Lang, "daily_last"), pdfDays)
	}
	d.heading(margin, y, contentW, title)
	d.textAt(margin, y+8, p.DailyNote, smallPt, anchorStart, false, colorMuted)
	gap := (contentW - 7*dayCellW) / 6
	for i, dv := range days {
		col, row := i%7, i/7
		drawDay(d.c, margin+float64(col)*(dayCellW+gap), y+9+float64(row)*(dayCellH+1.5), dayCellW, dayCellH, dv, p.labels, stylePDF)
	}
	rows := max((len(days)+6)/7, 1)
	d.y = y + 9 + float64(rows)*(dayCellH+1.5) + 2
}

func (d *pdfDoc) events(x, y float64) float64 {
	p := d.p
	l := p.Lang
	d.heading(x, y, halfW, t(l, "events"))
	ry := y + 9
	cols := []float64{x + 61, x + 74, x + halfW}
	d.textAt(cols[0], ry, t(l, "count"), smallPt, anchorEnd, true, colorMuted)
	d.textAt(cols[1], ry, t(l, "per_day"), smallPt, anchorEnd, true, colorMuted)
	d.textAt(cols[2], ry, t(l, "mean_minutes"), smallPt, anchorEnd, true, colorMuted)
	ry += rowH
	for _, e := range p.Events {
		d.textAt(x, ry, e.Label, bodyPt-0.5, anchorStart, false, colorInk)
		d.textAt(cols[0], ry, e.Total, bodyPt, anchorEnd, true, colorInk)
		d.textAt(cols[1], ry, e.PerDay, bodyPt, anchorEnd, false, colorInk)
		d.textAt(cols[2], ry, e.Minutes, bodyPt, anchorEnd, false, colorInk)
		ry += rowH
	}
	d.textAt(x, ry-0.8, p.EventsNote, smallPt-0.5, anchorStart, false, colorMuted)
	return ry - y
}

func (d *pdfDoc) labs(x, y float64) float64 {
	p := d.p
	l := p.Lang
	d.heading(x, y, halfW, t(l, "hba1c"))
	ry := y + 9
	if len(p.HbA1c) == 0 {
		d.textAt(x, ry, p.HbA1cNote, bodyPt, anchorStart, false, colorMuted)
		return ry + 1 - y
	}
	for _, r := range p.HbA1c {
		line := fmt.Sprintf("%s %s: %s · GMI %s · %s %s", t(l, "hba1c_lab"), r.Date, r.Value, r.GMI, t(l, "hba1c_diff"), r.Diff)
		d.textAt(x, ry, line, bodyPt, anchorStart, true, colorInk)
		ry += 0.6
		col := colorMuted
		if r.Discordant {
			col = colorVeryLow
		}
		ry += d.wrap(x, ry, halfW, r.Note, smallPt, r.Discordant, col) + 1.8
	}
	return ry - y
}

func (d *pdfDoc) compare(x, y float64) float64 {
	p := d.p
	l := p.Lang
	d.heading(x, y, halfW, t(l, "compare"))
	ry := y + 9
	if p.ComparePrev != "" {
		d.textAt(x, ry-0.5, t(l, "prev_period")+": "+p.ComparePrev, smallPt, anchorStart, false, colorMuted)
		ry += rowH
	}
	if len(p.Compare) == 0 {
		d.textAt(x, ry, p.CompareNote, bodyPt, anchorStart, false, colorMuted)
		return ry + 1 - y
	}
	cols := []float64{x + 52, x + 69, x + halfW}
	d.textAt(cols[0], ry, t(l, "current"), smallPt, anchorEnd, true, colorMuted)
	d.textAt(cols[1], ry, t(l, "previous"), smallPt, anchorEnd, true, colorMuted)
	d.textAt(cols[2], ry, t(l, "change"), smallPt, anchorEnd, true, colorMuted)
	ry += rowH
	for _, r := range p.Compare {
		label := r.Label
		for textWidth(label, bodyPt) > 40 && len(label) > 4 {
			label = trimRunes(label, 1)
		}
		if label != r.Label {
			label += "…"
		}
		d.textAt(x, ry, label, bodyPt, anchorStart, false, colorInk)
		d.textAt(cols[0], ry, r.Current, bodyPt, anchorEnd, true, colorInk)
		d.textAt(cols[1], ry, r.Previous, bodyPt, anchorEnd, false, colorInk)
		d.textAt(cols[2], ry, r.Change, bodyPt, anchorEnd, false, colorInk)
		ry += rowH
	}
	return ry - y
}

// trimRunes removes the last n runes of s.
func trimRunes(s string, n int) string {
	r := []rune(s)
	if n >= len(r) {
		return ""
	}
	return string(r[:len(r)-n])
}

// footer writes the engine and definitions and, when the report has an
// HTML page, the link to it: the accessible version of the report (fpdf
// cannot tag a PDF's structure for screen readers, PDF/UA; the HTML page
// is the same report with its structure, headings and tables).
func (d *pdfDoc) footer() {
	y := pageH - margin + 3
	if d.p.TwinURL != "" {
		y -= 3
	}
	d.c.polyline([]point{{margin, y - 3.5}, {pageW - margin, y - 3.5}}, colorGrid, 0.2, false)
	d.f.SetFont(fontFamily, "", smallPt-0.5)
	lines := d.f.SplitText(d.p.Footer, contentW)
	if len(lines) > 1 {
		lines = lines[:1]
	}
	for _, ln := range lines {
		d.textAt(margin, y, ln, smallPt-0.5, anchorStart, false, colorMuted)
	}
	if d.p.TwinURL != "" {
		ty := y + 3
		d.textAt(margin, ty, d.p.Twin, smallPt-0.5, anchorStart, true, colorInk)
		tx := margin + d.width(d.p.Twin, smallPt-0.5, true) + 1.2
		d.textAt(tx, ty, d.p.TwinURL, smallPt-0.5, anchorStart, false, colorMedian)
		d.f.SetFont(fontFamily, "", smallPt-0.5)
		d.f.LinkString(tx, ty-2.2, d.f.GetStringWidth(d.p.TwinURL), 2.8, d.p.TwinURL)
	}
}
