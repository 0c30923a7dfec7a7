package agpdoc

import "fsecgm/taccuino/locale"

// labels holds the texts of the report, Italian first. Figures' names
// shared with other pages (mean glucose, GMI, ...) come from package locale.
var labels = map[string]map[locale.Lang]string{
	"title":          {locale.IT: "Profilo glicemico ambulatoriale (AGP)", locale.EN: "Ambulatory glucose profile (AGP)"},
	"subtitle":       {locale.IT: "Monitoraggio continuo del glucosio · referto per il diabetologo", locale.EN: "Continuous glucose monitoring · report for the diabetologist"},
	"patient":        {locale.IT: "Paziente", locale.EN: "Patient"},
	"birth":          {locale.IT: "Nato/a il", locale.EN: "Born"},
	"fiscal_code":    {locale.IT: "Codice fiscale", locale.EN: "Fiscal code"},
	"period":         {locale.IT: "Periodo", locale.EN: "Period"},
	"days_unit":      {locale.IT: "giorni", locale.EN: "days"},
	"generated":      {locale.IT: "Generato il", locale.EN: "Generated"},
	"targets":        {locale.IT: "Obiettivi", locale.EN: "Targets"},
	"targets_std":    {locale.IT: "standard (diabete tipo 1 e 2, adulti)", locale.EN: "standard (type 1 and type 2 diabetes, adults)"},
	"targets_older":  {locale.IT: "anziani / alto rischio", locale.EN: "older / high-risk"},
	"insufficient":   {locale.IT: "Dati insufficienti", locale.EN: "Insufficient data"},
	"insufficient_d": {locale.IT: "%s giorni e %s di tempo di attività del sensore: il consenso richiede almeno 14 giorni e almeno il 70 %% dei dati. Interpretare con cautela.", locale.EN: "%s days and %s of time CGM active: the consensus asks for at least 14 days and at least 70%% of the data. Interpret with care."},
	"no_data":        {locale.IT: "Nessuna lettura del sensore nel periodo.", locale.EN: "No sensor readings in the period."},
	"stats":          {locale.IT: "Statistiche e obiettivi", locale.EN: "Glucose statistics and targets"},
	"goal":           {locale.IT: "Obiettivo", locale.EN: "Goal"},
	"period_days":    {locale.IT: "Giorni del periodo", locale.EN: "Days in the period"},
	"days_worn":      {locale.IT: "Giorni con dati", locale.EN: "Days with data"},
	"active":         {locale.IT: "Tempo di attività del sensore", locale.EN: "Time CGM active"},
	"mean":           {locale.IT: "Glucosio medio", locale.EN: "Mean glucose"},
	"gmi":            {locale.IT: "GMI (stima dell'HbA1c)", locale.EN: "GMI (estimated HbA1c)"},
	"cv":             {locale.IT: "Variabilità glicemica (CV)", locale.EN: "Glucose variability (CV)"},
	"sd":             {locale.IT: "Deviazione standard", locale.EN: "Standard deviation"},
	"readings":       {locale.IT: "Letture del sensore", locale.EN: "Sensor readings"},
	"scans":          {locale.IT: "Scansioni", locale.EN: "Scans"},
	"individual":     {locale.IT: "individuale", locale.EN: "individual"},
	"met":            {locale.IT: "raggiunto", locale.EN: "met"},
	"not_met":        {locale.IT: "non raggiunto", locale.EN: "not met"},
	"tir":            {locale.IT: "Tempo negli intervalli", locale.EN: "Time in ranges"},
	"per_day":        {locale.IT: "al giorno", locale.EN: "per day"},
	"range":          {locale.IT: "Intervallo", locale.EN: "Range"},
	"time_day":       {locale.IT: "Tempo al giorno", locale.EN: "Time per day"},
	"very_high":      {locale.IT: "Molto alto", locale.EN: "Very high"},
	"high":           {locale.IT: "Alto", locale.EN: "High"},
	"target":         {locale.IT: "Nell'intervallo", locale.EN: "In range"},
	"low":            {locale.IT: "Basso", locale.EN: "Low"},
	"very_low":       {locale.IT: "Molto basso", locale.EN: "Very low"},
	"tight":          {locale.IT: "Intervallo stretto", locale.EN: "Tight range"},
	"below":          {locale.IT: "Sotto l'intervallo (totale)", locale.EN: "Below range (total)"},
	"above":          {locale.IT: "Sopra l'intervallo (totale)", locale.EN: "Above range (total)"},
	"tir_note":       {locale.IT: "1 % del tempo = circa 14 minuti al giorno", locale.EN: "1% of the time = about 14 minutes a day"},
	"agp":            {locale.IT: "Profilo glicemico ambulatoriale", locale.EN: "Ambulatory glucose profile"},
	"agp_note":       {locale.IT: "Percentili delle letture per ora del giorno (ora locale), come se tutti i giorni del periodo fossero uno solo. Curve non smussate.", locale.EN: "Percentiles of the readings by time of day (local time), as if all days of the period were one. Unsmoothed curves."},
	"median":         {locale.IT: "mediana", locale.EN: "median"},
	"p25_75":         {locale.IT: "25–75 %", locale.EN: "25–75%"},
	"p5_95":          {locale.IT: "5–95 %", locale.EN: "5–95%"},
	"target_range":   {locale.IT: "intervallo obiettivo 70–180 mg/dL", locale.EN: "target range 70–180 mg/dL"},
	"daily":          {locale.IT: "Profili glicemici giornalieri", locale.EN: "Daily glucose profiles"},
	"daily_note":     {locale.IT: "Ogni profilo va dalla mezzanotte alla mezzanotte locale; i giorni del cambio d'ora durano 23 o 25 ore.", locale.EN: "Each profile runs from local midnight to midnight; the days the clocks change last 23 or 25 hours."},
	"daily_last":     {locale.IT: "ultimi %d giorni del periodo", locale.EN: "last %d days of the period"},
	"events":         {locale.IT: "Eventi di ipo- e iperglicemia", locale.EN: "Hypo- and hyperglycaemic events"},
	"event":          {locale.IT: "Evento", locale.EN: "Event"},
	"count":          {locale.IT: "Numero", locale.EN: "Count"},
	"mean_minutes":   {locale.IT: "Durata media", locale.EN: "Mean duration"},
	"hypo1":          {locale.IT: "Ipoglicemia (< 70 mg/dL, ≥ 15 min)", locale.EN: "Hypoglycaemia (< 70 mg/dL, ≥ 15 min)"},
	"hypo2":          {locale.IT: "Ipoglicemia grave (< 54 mg/dL, ≥ 15 min)", locale.EN: "Level 2 hypoglycaemia (< 54 mg/dL, ≥ 15 min)"},
	"hypo_ext":       {locale.IT: "Ipoglicemia prolungata (< 70 mg/dL, > 120 min)", locale.EN: "Extended hypoglycaemia (< 70 mg/dL, > 120 min)"},
	"hyper1":         {locale.IT: "Iperglicemia (> 180 mg/dL, ≥ 15 min)", locale.EN: "Hyperglycaemia (> 180 mg/dL, ≥ 15 min)"},
	"hyper2":         {locale.IT: "Iperglicemia marcata (> 250 mg/dL, ≥ 15 min)", locale.EN: "Level 2 hyperglycaemia (> 250 mg/dL, ≥ 15 min)"},
	"events_note":    {locale.IT: "Episodi secondo il consenso internazionale 2023 (Battelino et al.).", locale.EN: "Episodes as defined by the 2023 international consensus (Battelino et al.)."},
	"hba1c":          {locale.IT: "HbA1c di laboratorio e GMI", locale.EN: "Laboratory HbA1c and GMI"},
	"hba1c_lab":      {locale.IT: "HbA1c del", locale.EN: "HbA1c of"},
	"hba1c_diff":     {locale.IT: "HbA1c − GMI", locale.EN: "HbA1c − GMI"},
	"discordant":     {locale.IT: "Discordanza ≥ 0,5 punti: valutare il sensore o fattori che alterano l'emoglobina glicata.", locale.EN: "Discordance ≥ 0.5 points: consider the sensor or conditions that affect glycated haemoglobin."},
	"concordant":     {locale.IT: "Concordanti (differenza < 0,5 punti).", locale.EN: "Concordant (difference < 0.5 points)."},
	"no_hba1c":       {locale.IT: "Nessuna HbA1c di laboratorio nel periodo.", locale.EN: "No laboratory HbA1c in the period."},
	"compare":        {locale.IT: "Confronto con il periodo precedente", locale.EN: "Comparison with the previous period"},
	"figure":         {locale.IT: "Indicatore", locale.EN: "Figure"},
	"current":        {locale.IT: "Attuale", locale.EN: "Current"},
	"previous":       {locale.IT: "Precedente", locale.EN: "Previous"},
	"prev_period":    {locale.IT: "Periodo precedente", locale.EN: "Previous period"},
	"change":         {locale.IT: "Variazione", locale.EN: "Change"},
	"no_previous":    {locale.IT: "Nessun dato nel periodo precedente.", locale.EN: "No data in the previous period."},
	"compare_insufficient": {locale.IT: "Dati insufficienti per un confronto: il sensore è stato attivo il %s del tempo in questo periodo e il %s nel precedente (serve almeno il 70 %% in entrambi).",
		locale.EN: "Insufficient data for a comparison: the sensor was active %s of the time in this period and %s in the previous one (at least 70%% is needed in both)."},
	"insufficient_short": {locale.IT: "dati insufficienti", locale.EN: "insufficient data"},
	"points":             {locale.IT: "punti", locale.EN: "points"},
	"footer":             {locale.IT: "fsecgm · impaginazione propria, non il referto AGP commerciale · metriche: %s", locale.EN: "fsecgm · own layout, not the commercial AGP report · metrics: %s"},
	"pdf":                {locale.IT: "Scarica PDF", locale.EN: "Download PDF"},
	"from":               {locale.IT: "Dal", locale.EN: "From"},
	"to":                 {locale.IT: "al", locale.EN: "to"},
	"show":               {locale.IT: "Mostra", locale.EN: "Show"},
	"clinic":             {locale.IT: "Elenco pazienti", locale.EN: "Patient list"},
	"hours":              {locale.IT: "h", locale.EN: "h"},
	"no_day_data":        {locale.IT: "nessun dato", locale.EN: "no data"},
}

// t returns the label key in l (Italian when l has none).
func t(l locale.Lang, key string) string {
	if m, ok := labels[key]; ok {
		if s, ok := m[l]; ok {
			return s
		}
		return m[locale.IT]
	}
	return key
}

// weekdays are the short weekday names, Sunday first.
var weekdays = map[locale.Lang][7]string{
	locale.IT: {"dom", "lun", "mar", "mer", "gio", "ven", "sab"},
	locale.EN: {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
}
