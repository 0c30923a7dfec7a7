package reports

import "fsecgm/taccuino/locale"

// clinicTexts holds the texts of the clinic page, Italian first.
func clinicTexts() map[string][2]string {
	return map[string][2]string{
		"title":               {"Elenco pazienti", "Patient list"},
		"lang":                {"Lingua", "Language"},
		"intro":               {"Ultimi 14 giorni completi di ciascun paziente, ordinati per necessità di attenzione (categorie come il TIDE di Tidepool, obiettivi del consenso internazionale 2019). Un clic sul nome apre il profilo AGP.", "Last 14 complete days of each patient, sorted by need of attention (categories after Tidepool's TIDE, 2019 international consensus targets). Click a name to open the AGP report."},
		"search":              {"Cerca per nome o codice fiscale", "Search by name or fiscal code"},
		"search_button":       {"Cerca", "Search"},
		"clear":               {"Annulla la ricerca", "Clear the search"},
		"categories":          {"Categorie", "Categories"},
		"all":                 {"Tutti", "All"},
		"stale":               {"Alcuni riepiloghi sono in aggiornamento al nuovo periodo.", "Some summaries are being moved to the new period."},
		"patient":             {"Paziente", "Patient"},
		"category":            {"Categoria", "Category"},
		"active":              {"Sensore attivo", "CGM active"},
		"delta":               {"Var. TIR", "TIR change"},
		"last":                {"Ultima lettura", "Last reading"},
		"period":              {"Periodo", "Period"},
		"none":                {"Nessun paziente.", "No patients."},
		"pages":               {"Pagine", "Pages"},
		"prev":                {"Precedenti", "Previous"},
		"next":                {"Successivi", "Next"},
		"page_of":             {"Pagina %d di %d · %d pazienti", "Page %d of %d · %d patients"},
		"never":               {"mai", "never"},
		"today":               {"oggi", "today"},
		"days_ago":            {"nessun dato da %d giorni", "no data for %d days"},
		"rules":               {"Regole, nell'ordine: tempo < 54 mg/dL oltre l'1 %; tempo < 70 mg/dL oltre il 4 %; calo del tempo nell'intervallo di oltre 15 punti rispetto ai 14 giorni precedenti; sensore attivo meno del 70 %; tempo nell'intervallo sotto il 70 %; tempo > 250 mg/dL oltre il 5 %; tempo > 180 mg/dL oltre il 25 %; altrimenti obiettivi raggiunti. Dentro ogni categoria, prima chi è più lontano dalla soglia.", "Rules, in order: time < 54 mg/dL above 1%; time < 70 mg/dL above 4%; time in range down more than 15 points from the 14 days before; CGM active less than 70%; time in range below 70%; time > 250 mg/dL above 5%; time > 180 mg/dL above 25%; otherwise meeting targets. Within a category, the farthest from the threshold first."},
		"cat_very_low":        {"Tempo < 54 mg/dL oltre l'1 %", "Time < 54 mg/dL above 1%"},
		"cat_low":             {"Tempo < 70 mg/dL oltre il 4 %", "Time < 70 mg/dL above 4%"},
		"cat_tir_drop":        {"Calo del TIR di oltre 15 punti", "TIR down more than 15 points"},
		"cat_low_use":         {"Dati insufficienti (sensore attivo < 70 %)", "Insufficient data (CGM active < 70%)"},
		"cat_tir_low":         {"TIR < 70 %", "TIR < 70%"},
		"cat_very_high":       {"Tempo > 250 mg/dL oltre il 5 %", "Time > 250 mg/dL above 5%"},
		"cat_high":            {"Tempo > 180 mg/dL oltre il 25 %", "Time > 180 mg/dL above 25%"},
		"cat_meeting_targets": {"Obiettivi raggiunti", "Meeting targets"},
		"cat_no_data":         {"Nessun dato nel periodo", "No data in the period"},
	}
}

// griKeys are the GRI texts of the clinic page, from package locale.
var griKeys = []string{"gri_short", "gri_zone_title", "gri_all_zones", "gri_sort", "gri_sort_attention", "gri_sort_gri", "gri_apply", "gri_explain"}

// clinicLabels returns every text of the clinic page in l.
func clinicLabels(l locale.Lang) map[string]string {
	out := map[string]string{}
	for k, t := range clinicTexts() {
		if l == locale.EN {
			out[k] = t[1]
		} else {
			out[k] = t[0]
		}
	}
	for _, k := range griKeys {
		out[k] = l.T(k)
	}
	return out
}
