// Package locale holds what a person reads: labels in Italian (first) and
// English, and numbers rounded and written the way each language writes
// them. The engine and the APIs never round or localize a number; only this
// package, at the last step before display, does.
package locale

import (
	"math"
	"strconv"
	"strings"
)

// Lang is a display language.
type Lang string

// The supported languages; Italian is the default.
const (
	IT Lang = "it"
	EN Lang = "en"
)

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
	if l == IT {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Percent writes v as a percentage with digits decimals: "72,5 %" in Italian
// (with a space, as the Accademia della Crusca and ISO 31 recommend), "72.5%"
// in English.
func (l Lang) Percent(v float64, digits int) string {
	if l == IT {
		return l.Number(v, digits) + " %"
	}
	return l.Number(v, digits) + "%"
}

// T returns the label key in the language, or the key itself when unknown.
func (l Lang) T(key string) string {
	m, ok := labels[key]
	if !ok {
		m, ok = pageLabels[key]
	}
	if ok {
		if s, ok := m[l]; ok {
			return s
		}
		return m[IT]
	}
	return key
}

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
