package agpdoc

import (
	"bytes"
	"html"
	"strconv"
)

// svgCanvas writes SVG elements with presentation attributes only (no
// style attribute), so that an inline SVG passes a Content-Security-Policy
// without 'unsafe-inline' styles. Units are millimetres (the viewBox).
type svgCanvas struct {
	b bytes.Buffer
}

// num writes a coordinate with 0.01 mm resolution (a drawing position, not
// a figure a person reads).
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func (s *svgCanvas) fillRect(x, y, w, h float64, fill string) {
	s.b.WriteString(`<rect x="` + num(x) + `" y="` + num(y) + `" width="` + num(w) + `" height="` + num(h) +
		`" fill="` + fill + `"/>`)
}

func (s *svgCanvas) points(pts []point) {
	for i, p := range pts {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		s.b.WriteString(num(p.x) + "," + num(p.y))
	}
}

func (s *svgCanvas) polyline(pts []point, stroke string, width float64, dashed bool) {
	s.b.WriteString(`<polyline fill="none" stroke="` + stroke + `" stroke-width="` + num(width) + `"`)
	if dashed {
		s.b.WriteString(` stroke-dasharray="0.8 0.8"`)
	}
	s.b.WriteString(` stroke-linejoin="round" points="`)
	s.points(pts)
	s.b.WriteString(`"/>`)
}

func (s *svgCanvas) fillPolygon(pts []point, fill string) {
	s.b.WriteString(`<polygon fill="` + fill + `" points="`)
	s.points(pts)
	s.b.WriteString(`"/>`)
}

func (s *svgCanvas) text(x, y float64, txt string, size float64, a anchor, bold bool, fill string) {
	s.b.WriteString(`<text x="` + num(x) + `" y="` + num(y) + `" font-size="` + num(size*ptMM) + `" fill="` + fill + `"`)
	switch a {
	case anchorMiddle:
		s.b.WriteString(` text-anchor="middle"`)
	case anchorEnd:
		s.b.WriteString(` text-anchor="end"`)
	}
	if bold {
		s.b.WriteString(` font-weight="bold"`)
	}
	s.b.WriteString(`>` + html.EscapeString(txt) + `</text>`)
}

// svgDoc wraps the drawing of fn on a w × h mm canvas in an <svg> element
// that scales to its container; label is its accessible name.
func svgDoc(w, h float64, label string, fn func(c canvas)) []byte {
	var s svgCanvas
	s.b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + num(w) + ` ` + num(h) +
		`" role="img" aria-label="` + html.EscapeString(label) + `" font-family="` + svgFonts + `">`)
	fn(&s)
	s.b.WriteString(`</svg>`)
	return s.b.Bytes()
}
