package agpdoc

import (
	"sync"

	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
)

// ptMM is one typographic point in millimetres.
const ptMM = 25.4 / 72

// fontFamily is the family of the PDF's embedded fonts and the first choice
// of the SVG text (Liberation Sans is metric-compatible with Arial and
// Helvetica, which the browsers fall back to).
const (
	fontFamily = "LiberationSans"
	svgFonts   = "'Liberation Sans', Arial, Helvetica, sans-serif"
)

// faces holds the Liberation Sans faces gonum/plot ships, for measuring
// text: it is read-only once built.
type faces struct {
	cache *font.Cache
}

var sansFaces = sync.OnceValue(func() faces {
	return faces{cache: font.NewCache(liberation.Collection())}
})

// textWidth returns the width in millimetres of s in Liberation Sans of
// size points (bold or not), as the PDF draws it.
func textWidth(s string, size float64) float64 { return textWidthStyle(s, size, false) }

func textWidthStyle(s string, size float64, bold bool) float64 {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: font.Points(size)}
	if bold {
		f.Weight = 700
	}
	face := sansFaces().cache.Lookup(f, f.Size)
	return face.Width(s).Points() * ptMM
}

// ttf returns the TrueType data of Liberation Sans regular or bold.
func ttf(bold bool) []byte {
	if bold {
		return liberationsansbold.TTF
	}
	return liberationsansregular.TTF
}
