package locale

import "fmt"

// Sprintf formats the text of key in the language with args (fmt verbs in
// the text, the same in both languages).
func (l Lang) Sprintf(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// importLabels are the texts of file import and of the data export
// (connectors/fileimport, the taccuino's upload and download): what a file
// is when it is not a CGM export and what to do about it, the refusals,
// the reading times a file gives twice. They join pageLabels (init).
var importLabels = map[string]map[Lang]string{
	"import_unknown": {IT: "Questo file è %s, non un'esportazione di dati di un sensore che fsecgm sa leggere.",
		EN: "This file is %s, not a sensor data export fsecgm can read."},
	"import_what_apple-health":            {IT: "un'esportazione di Apple Salute (export.xml)", EN: "an Apple Health export (export.xml)"},
	"import_what_nightscout-treatments":   {IT: "un file dei trattamenti di Nightscout (insulina, carboidrati, eventi)", EN: "a Nightscout treatments file (insulin, carbs, events)"},
	"import_what_nightscout-devicestatus": {IT: "un file di stato dei dispositivi di Nightscout (microinfusore, loop)", EN: "a Nightscout devicestatus file (pump and loop status)"},
	"import_what_nightscout-profile":      {IT: "un profilo di Nightscout (basali e rapporti)", EN: "a Nightscout profile (basal rates and ratios)"},
	"import_what_excel":                   {IT: "una cartella di lavoro di Excel", EN: "an Excel workbook"},
	"import_what_ods":                     {IT: "un foglio di calcolo OpenDocument", EN: "an OpenDocument spreadsheet"},
	"import_what_zip":                     {IT: "un archivio ZIP", EN: "a ZIP archive"},
	"import_what_pdf":                     {IT: "un documento PDF (un referto, non dati)", EN: "a PDF document (a report, not data)"},
	"import_what_image":                   {IT: "un'immagine", EN: "an image"},
	"import_what_sqlite":                  {IT: "un database SQLite (il backup di un'app)", EN: "an SQLite database (an app's backup)"},
	"import_what_utf16":                   {IT: "un file di testo in UTF-16", EN: "a UTF-16 text file"},
	"import_what_json":                    {IT: "un file JSON che non contiene letture di Nightscout", EN: "a JSON file that holds no Nightscout entries"},
	"import_what_xml":                     {IT: "un file XML", EN: "an XML file"},
	"import_what_empty":                   {IT: "un file vuoto", EN: "an empty file"},
	"import_what_unknown":                 {IT: "un file in un formato che fsecgm non riconosce", EN: "a file in a format fsecgm does not recognise"},
	"import_unknown_apple-health": {IT: "Apple Salute non contiene le letture del sensore: scarica l'esportazione CSV dal sito o dall'app del sensore (LibreView, Dexcom Clarity, CareLink, Nightscout) e carica quella.",
		EN: "Apple Health does not hold the sensor's readings: download the CSV export from your sensor's website or app (LibreView, Dexcom Clarity, CareLink, Nightscout) and upload that."},
	"import_unknown_nightscout-treatments": {IT: "Le glicemie di Nightscout sono nelle «entries»: scarica /api/v1/entries.json dal tuo sito Nightscout e carica quel file.",
		EN: "Nightscout's glucose readings are its entries: download /api/v1/entries.json from your Nightscout site and upload that file."},
	"import_unknown_nightscout-devicestatus": {IT: "Le glicemie di Nightscout sono nelle «entries»: scarica /api/v1/entries.json dal tuo sito Nightscout e carica quel file.",
		EN: "Nightscout's glucose readings are its entries: download /api/v1/entries.json from your Nightscout site and upload that file."},
	"import_unknown_nightscout-profile": {IT: "Le glicemie di Nightscout sono nelle «entries»: scarica /api/v1/entries.json dal tuo sito Nightscout e carica quel file.",
		EN: "Nightscout's glucose readings are its entries: download /api/v1/entries.json from your Nightscout site and upload that file."},
	"import_unknown_excel": {IT: "Carica il file CSV così come l'hai scaricato dal sito del sensore, senza aprirlo e salvarlo con Excel; se l'hai già modificato, salvalo come «CSV UTF-8».",
		EN: "Upload the CSV file as you downloaded it from the sensor's website, without opening and saving it in Excel; if you already changed it, save it as \"CSV UTF-8\"."},
	"import_unknown_ods": {IT: "Carica il file CSV così come l'hai scaricato dal sito del sensore; se l'hai già modificato, salvalo come CSV (UTF-8).",
		EN: "Upload the CSV file as you downloaded it from the sensor's website; if you already changed it, save it as CSV (UTF-8)."},
	"import_unknown_zip": {IT: "Estrai l'archivio e carica il file CSV che contiene.",
		EN: "Extract the archive and upload the CSV file inside."},
	"import_unknown_pdf": {IT: "Un referto non si può importare: scarica dal sito del sensore i dati in formato CSV.",
		EN: "A report cannot be imported: download the data as CSV from the sensor's website."},
	"import_unknown_image": {IT: "Un'immagine non si può importare: scarica dal sito del sensore i dati in formato CSV.",
		EN: "An image cannot be imported: download the data as CSV from the sensor's website."},
	"import_unknown_sqlite": {IT: "Il backup di un'app non si può importare: dall'app (xDrip+, Juggluco…) invia i dati a Nightscout o esporta un CSV, oppure scarica i dati dal sito del sensore.",
		EN: "An app's backup cannot be imported: from the app (xDrip+, Juggluco…) upload to Nightscout or export a CSV, or download the data from the sensor's website."},
	"import_unknown_utf16": {IT: "LibreView salvava così le esportazioni prima dell'aprile 2019: scarica di nuovo i dati da LibreView, oppure salva il file come testo UTF-8.",
		EN: "LibreView saved its exports so before April 2019: download the data again from LibreView, or save the file as UTF-8 text."},
	"import_unknown_json": {IT: "fsecgm legge il JSON delle letture di Nightscout (/api/v1/entries.json).",
		EN: "fsecgm reads the JSON of Nightscout's entries (/api/v1/entries.json)."},
	"import_unknown_xml": {IT: "fsecgm legge le esportazioni CSV di LibreView, Dexcom Clarity e CareLink e le letture di Nightscout.",
		EN: "fsecgm reads the CSV exports of LibreView, Dexcom Clarity and CareLink and Nightscout's entries."},
	"import_unknown_empty": {IT: "Scegli il file scaricato dal sito del sensore.",
		EN: "Choose the file you downloaded from the sensor's website."},
	"import_unknown_unknown": {IT: "fsecgm legge le esportazioni di LibreView (in ogni lingua), Dexcom Clarity, Medtronic CareLink, le letture di Nightscout (JSON o CSV) e i CSV id,time,gl: scarica i dati in uno di questi formati.",
		EN: "fsecgm reads exports from LibreView (in every language), Dexcom Clarity, Medtronic CareLink, Nightscout entries (JSON or CSV) and id,time,gl CSV files: download the data in one of these formats."},
	"import_other_person": {IT: "Il file contiene i dati di %s, non della persona di questo taccuino: non è stato importato nulla. Carica un file esportato dall'account di questa persona.",
		EN: "The file holds the data of %s, not of this notebook's person: nothing was imported. Upload a file exported from this person's own account."},
	"import_other_person_unnamed": {IT: "Il file non dice di chi sono i dati (nome e cognome mancano): non è stato importato nulla.",
		EN: "The file does not say whose data it holds (the names are missing): nothing was imported."},
	"import_rejected": {IT: "%d righe scartate: non è stato importato nulla. Correggile, oppure importa solo le righe valide.",
		EN: "%d line(s) rejected: nothing was imported. Fix them, or import only the valid lines."},
	"import_subjects": {IT: "Il file contiene i dati di più persone (colonna id): un'importazione riguarda una persona sola.",
		EN: "The file holds several people's data (id column): an import is about one person."},
	"import_no_readings":           {IT: "Il file non contiene letture di glicemia.", EN: "The file holds no glucose readings."},
	"import_format_libreview":      {IT: "Esportazione CSV di LibreView", EN: "LibreView CSV export"},
	"import_format_long":           {IT: "CSV id,time,gl", EN: "CSV id,time,gl"},
	"import_format_clarity":        {IT: "Esportazione CSV di Dexcom Clarity", EN: "Dexcom Clarity CSV export"},
	"import_format_carelink":       {IT: "Esportazione CSV di Medtronic CareLink", EN: "Medtronic CareLink CSV export"},
	"import_format_nightscout":     {IT: "Letture di Nightscout (JSON)", EN: "Nightscout entries (JSON)"},
	"import_format_nightscout-csv": {IT: "Letture di Nightscout (CSV)", EN: "Nightscout entries (CSV)"},
	"tac_import_repeated":          {IT: "Righe ripetute identiche", EN: "Identical repeated rows"},
	"tac_import_conflicts":         {IT: "Orari con valori diversi", EN: "Times with different values"},
	"tac_import_conflicts_rule": {IT: "Il file riporta questi orari più volte con valori diversi: è stato tenuto il valore dell'ultima riga del file; gli altri non sono stati importati.",
		EN: "The file gives these times more than once with different values: the value of the last row in the file was kept; the others were not imported."},
	"tac_time":        {IT: "Ora", EN: "Time"},
	"tac_kept":        {IT: "Valore tenuto (riga)", EN: "Kept value (line)"},
	"tac_dropped":     {IT: "Valori non importati (riga)", EN: "Values not imported (line)"},
	"tac_export":      {IT: "Scarica i dati del periodo", EN: "Download the period's data"},
	"tac_export_hint": {IT: "Tutte le letture e le metriche del periodo scelto.", EN: "Every reading and figure of the chosen period."},
	"tac_export_csv":  {IT: "CSV (letture)", EN: "CSV (readings)"},
	"tac_export_json": {IT: "JSON (letture e metriche)", EN: "JSON (readings and figures)"},
	"tac_export_fhir": {IT: "FHIR (letture e sintesi)", EN: "FHIR (readings and summary)"},
}

func init() {
	for k, v := range importLabels {
		if _, dup := pageLabels[k]; dup {
			panic("locale: import label " + k + " is also a page label")
		}
		pageLabels[k] = v
	}
}
