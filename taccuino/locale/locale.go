// Package locale is the one message catalogue of fsecgm: every text a
// person reads (the taccuino's pages, the errors shown next to a form
// field, the reasons a CSV line was rejected, the descriptions of the
// access log, the clinic list and the AGP report) is a key here with its
// Italian (first) and English text, and numbers are rounded and written the
// way each language writes them. The engine and the APIs never round or
// localize a number; only this package, at the last step before display,
// does. The packages that find a fact (a parser, the LibreLinkUp client,
// the consent rules) describe it with a code and its values; the catalogue
// says it to people.
//
// The catalogue is split by subject into sections (labels, pageLabels,
// errorLabels, importLabels, ...); a key lives in exactly one section, has
// both languages, and uses the same format verbs in both (TestCatalogue).
package locale

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Lang is a display language.
type Lang string

// The supported languages; Italian is the default.
const (
	IT Lang = "it"
	EN Lang = "en"
	// Pseudo is a test language: every text of the catalogue in Italian
	// between "⟦" and "⟧", so that a test can find on a page any text that
	// did not come from the catalogue. Parse never returns it; the pages
	// accept it only after EnablePseudo.
	Pseudo Lang = "qps"
)

// Markers of the texts of the Pseudo language.
const (
	PseudoOpen  = "⟦"
	PseudoClose = "⟧"
)

var pseudoOn atomic.Bool

// EnablePseudo lets the pages be asked for in the Pseudo language
// (?lang=qps). Tests only.
func EnablePseudo() { pseudoOn.Store(true) }

// PseudoEnabled reports whether EnablePseudo was called.
func PseudoEnabled() bool { return pseudoOn.Load() }

// italian reports whether l writes numbers and dates the Italian way.
func (l Lang) italian() bool { return l != EN }

// Parse returns the language named by s ("it", "en", "it-IT", "en-GB", an
// Accept-Language header…), Italian when s names neither.
func Parse(s string) Lang {
	for _, part := range strings.Split(s, ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "it"):
			return IT
		case strings.HasPrefix(tag, "en"):
			return EN
		}
	}
	return IT
}

// Number writes v rounded to digits decimals (half away from zero, as people
// expect on paper) with the language's decimal separator: 6,9 in Italian,
// 6.9 in English. NaN and infinities are written as "—".
func (l Lang) Number(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	p := math.Pow(10, float64(digits))
	r := math.Round(v*p) / p
	if r == 0 {
		r = 0 // no "-0"
	}
	s := strconv.FormatFloat(r, 'f', digits, 64)
	if l.italian() {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Percent writes v as a percentage with digits decimals: "72,5 %" in Italian
// (with a space, as the Accademia della Crusca and ISO 31 recommend), "72.5%"
// in English.
func (l Lang) Percent(v float64, digits int) string {
	if l.italian() {
		return l.Number(v, digits) + " %"
	}
	return l.Number(v, digits) + "%"
}

// T returns the text of key in the language (Italian when the language
// has none), or the key itself when the catalogue does not know it, so
// that a missing text shows as a visible key and not as nothing.
func (l Lang) T(key string) string {
	m, ok := catalogue()[key]
	if !ok {
		return key
	}
	if l == Pseudo {
		return PseudoOpen + m[IT] + PseudoClose
	}
	if s, ok := m[l]; ok && s != "" {
		return s
	}
	return m[IT]
}

// Key is a catalogue key given as a value to F: F fills the verb with the
// key's text in the same language.
type Key string

// F returns the text of key with its format verbs filled with args
// (fmt.Sprintf), in the language; an argument of type Key is replaced by
// its text (in the test language, the Italian text, inside the marks of
// key's).
func (l Lang) F(key string, args ...any) string {
	if len(args) == 0 {
		return l.T(key)
	}
	vals := args
	for i, a := range args {
		if k, ok := a.(Key); ok {
			if &vals[0] == &args[0] {
				vals = append([]any(nil), args...)
			}
			if l == Pseudo {
				vals[i] = IT.T(string(k)) // inside the text's own marks
			} else {
				vals[i] = l.T(string(k))
			}
		}
	}
	return fmt.Sprintf(l.T(key), vals...)
}

// Has reports whether the catalogue knows key.
func Has(key string) bool {
	_, ok := catalogue()[key]
	return ok
}

// Keys returns every key of the catalogue, sorted.
func Keys() []string {
	out := make([]string, 0, len(catalogue()))
	for k := range catalogue() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sections are the parts of the catalogue, by subject.
func sections() map[string]map[string]map[Lang]string {
	return map[string]map[string]map[Lang]string{
		"labels": labels, "pageLabels": pageLabels, "errorLabels": errorLabels, "importLabels": importLabels,
		"accessLabels": accessLabels, "lluLabels": lluLabels, "clinicLabels": clinicLabels, "reportLabels": reportLabels, "populationLabels": populationLabels,
	}
}

// catalogue merges the sections once.
var catalogue = sync.OnceValue(func() map[string]map[Lang]string {
	out := map[string]map[Lang]string{}
	for _, sec := range sections() {
		for k, v := range sec {
			out[k] = v
		}
	}
	return out
})

// labels holds the display texts shared by the command line, the taccuino
// pages and the reports.
var labels = map[string]map[Lang]string{
	"patient":        {IT: "Paziente", EN: "Patient"},
	"period":         {IT: "Periodo", EN: "Period"},
	"days":           {IT: "Giorni", EN: "Days"},
	"readings":       {IT: "Letture", EN: "Readings"},
	"interval":       {IT: "Intervallo (min)", EN: "Interval (min)"},
	"mean_glucose":   {IT: "Glucosio medio", EN: "Mean glucose"},
	"sd":             {IT: "Deviazione standard", EN: "Standard deviation"},
	"cv":             {IT: "Variabilità (CV)", EN: "Variability (CV)"},
	"gmi":            {IT: "GMI (indicatore di gestione del glucosio)", EN: "GMI (glucose management indicator)"},
	"very_low":       {IT: "Molto basso (< 54 mg/dL)", EN: "Very low (< 54 mg/dL)"},
	"low":            {IT: "Basso (54–69 mg/dL)", EN: "Low (54–69 mg/dL)"},
	"target":         {IT: "Nell'intervallo (70–180 mg/dL)", EN: "In range (70–180 mg/dL)"},
	"high":           {IT: "Alto (181–250 mg/dL)", EN: "High (181–250 mg/dL)"},
	"very_high":      {IT: "Molto alto (> 250 mg/dL)", EN: "Very high (> 250 mg/dL)"},
	"tight":          {IT: "Intervallo stretto (70–140 mg/dL)", EN: "Tight range (70–140 mg/dL)"},
	"hypo_events":    {IT: "Eventi di ipoglicemia (< 70, ≥ 15 min)", EN: "Hypoglycaemic events (< 70, ≥ 15 min)"},
	"hypo2_events":   {IT: "Eventi di ipoglicemia grave (< 54)", EN: "Level 2 hypoglycaemic events (< 54)"},
	"hyper_events":   {IT: "Eventi di iperglicemia (> 180, ≥ 15 min)", EN: "Hyperglycaemic events (> 180, ≥ 15 min)"},
	"hyper2_events":  {IT: "Eventi di iperglicemia marcata (> 250)", EN: "Level 2 hyperglycaemic events (> 250)"},
	"scans":          {IT: "Scansioni", EN: "Scans"},
	"days_worn":      {IT: "Giorni di utilizzo del sensore", EN: "Days the sensor was worn"},
	"active":         {IT: "Tempo di attività del sensore", EN: "Time CGM active"},
	"sufficient":     {IT: "Dati sufficienti (≥ 14 giorni, ≥ 70 %)", EN: "Sufficient data (≥ 14 days, ≥ 70%)"},
	"yes":            {IT: "sì", EN: "yes"},
	"no":             {IT: "no", EN: "no"},
	"time_in_ranges": {IT: "Tempo negli intervalli", EN: "Time in ranges"},
	"per_day":        {IT: "al giorno", EN: "per day"},
	"minutes":        {IT: "min", EN: "min"},
	"hypo":           {IT: "ipoglicemia", EN: "hypoglycaemia"},
	"normal":         {IT: "normale", EN: "normal"},
	"hyper":          {IT: "iperglicemia", EN: "hyperglycaemia"},
}
