package locale

import (
	"regexp"
	"strings"
	"time"
)

// accessLabels holds the access log's descriptions of what was accessed
// (keys "log_..."); see Detail.
var accessLabels = map[string]map[Lang]string{
	"log_page":                  {IT: "pagina del taccuino, dal %s al %s", EN: "notebook page, %s to %s"},
	"log_latest":                {IT: "ultima glicemia", EN: "latest glucose"},
	"log_glucometrics":          {IT: "metriche glicemiche, dal %s al %s", EN: "glucose metrics, %s to %s"},
	"log_daily":                 {IT: "profili giornalieri, dal %s al %s", EN: "daily profiles, %s to %s"},
	"log_readings":              {IT: "letture, dal %s al %s", EN: "readings, %s to %s"},
	"log_connections":           {IT: "collegamenti del sensore", EN: "sensor connections"},
	"log_connect":               {IT: "collegamento del sensore", EN: "sensor connection"},
	"log_connect_patient":       {IT: "collegamento del sensore con l'account LibreLinkUp del paziente", EN: "sensor connection with the patient's LibreLinkUp account"},
	"log_connect_follower":      {IT: "collegamento del sensore attraverso la Regione", EN: "sensor connection through the Region"},
	"log_disconnect_keep":       {IT: "scollegamento del sensore, letture conservate", EN: "sensor disconnected, readings kept"},
	"log_disconnect_delete":     {IT: "scollegamento del sensore, letture cancellate", EN: "sensor disconnected, readings deleted"},
	"log_credentials":           {IT: "aggiornamento delle credenziali LibreLinkUp", EN: "LibreLinkUp credentials updated"},
	"log_sync":                  {IT: "sincronizzazione richiesta", EN: "sync requested"},
	"log_import":                {IT: "caricamento di un file CSV (%s byte)", EN: "CSV file upload (%s bytes)"},
	"log_find":                  {IT: "ricerca del paziente per codice fiscale", EN: "patient looked up by fiscal code"},
	"log_open":                  {IT: "attivazione del taccuino", EN: "notebook activated"},
	"log_clinic":                {IT: "elenco pazienti: riepilogo degli ultimi 14 giorni", EN: "patient list: summary of the last 14 days"},
	"log_agp":                   {IT: "profilo AGP, dal %s al %s", EN: "AGP report, %s to %s"},
	"log_agp_pdf":               {IT: "profilo AGP in PDF, dal %s al %s", EN: "AGP report as PDF, %s to %s"},
	"log_clinical_info":         {IT: "aggiornamento di tipo di diabete, terapia e nota del medico", EN: "diabetes type, therapy and clinician's note updated"},
	"log_fhir_search":           {IT: "ricerca FHIR: %s", EN: "FHIR search: %s"},
	"log_fhir_read":             {IT: "lettura FHIR: %s", EN: "FHIR read: %s"},
	"log_fhir_submit":           {IT: "invio di dati CGM in FHIR: %s", EN: "CGM data sent as FHIR: %s"},
	"log_fhir_lab":              {IT: "invio di un esame di laboratorio in FHIR", EN: "laboratory result sent as FHIR"},
	"log_fhir_Patient":          {IT: "dati anagrafici", EN: "demographics"},
	"log_fhir_Observation":      {IT: "osservazioni", EN: "observations"},
	"log_fhir_DiagnosticReport": {IT: "referti", EN: "reports"},
	"log_fhir_Device":           {IT: "dispositivi", EN: "devices"},
	"log_fhir_nothing":          {IT: "niente da salvare", EN: "nothing to store"},
	"log_n_readings":            {IT: "%s letture", EN: "%s readings"},
	"log_n_devices":             {IT: "%s dispositivi", EN: "%s devices"},
	"log_n_summary":             {IT: "%s riepiloghi", EN: "%s summaries"},
	"log_n_reports":             {IT: "%s referti", EN: "%s reports"},
	"log_n_lab":                 {IT: "%s esami di laboratorio", EN: "%s lab results"},
	"log_n_measurements":        {IT: "%s misure dei dispositivi", EN: "%s device measurements"},
	"log_vitals":                {IT: "dati dispositivo mobile, dal %s al %s", EN: "mobile device data, %s to %s"},
	"log_vitals_day":            {IT: "dati dispositivo mobile e glicemia, dal %s al %s", EN: "mobile device data and glucose, %s to %s"},
	"log_vitals_sources":        {IT: "dispositivi e app dei dati dispositivo mobile", EN: "devices and apps of the mobile device data"},
	"log_vitals_order":          {IT: "ordine dei dispositivi e app", EN: "order of the devices and apps"},
	"log_vitals_import":         {IT: "caricamento di un'esportazione dei dispositivi (%s byte)", EN: "device export upload (%s bytes)"},
	"log_summary_sent":          {IT: "riepilogo CGM dal %s al %s inviato a %s", EN: "CGM summary %s to %s sent to %s"},
	"log_consent":               {IT: "consenso alla consultazione", EN: "consent to consultation"},
	"log_consent_grant":         {IT: "consenso alla consultazione concesso", EN: "consent to consultation granted"},
	"log_consent_revoke":        {IT: "consenso alla consultazione revocato", EN: "consent to consultation revoked"},
	"log_privacy_accept":        {IT: "informativa sulla privacy accettata (versione %s)", EN: "privacy notice accepted (version %s)"},
	"log_privacy":               {IT: "informativa sulla privacy", EN: "privacy notice"},
	"log_deleg_grant":           {IT: "delega concessa fino al %s", EN: "delegation granted until %s"},
	"log_deleg_revoke":          {IT: "delega revocata", EN: "delegation revoked"},
	"log_delegations":           {IT: "elenco delle deleghe", EN: "list of delegations"},
	"log_access_log":            {IT: "registro degli accessi", EN: "access log"},
	"log_care":                  {IT: "relazioni di cura", EN: "care relationships"},
	"log_care_record":           {IT: "registrazione: %s", EN: "recorded: %s"},
	"log_care_end":              {IT: "fine: %s", EN: "ended: %s"},
	"log_kind_mmg":              {IT: "medico di famiglia", EN: "family doctor"},
	"log_kind_pls":              {IT: "pediatra", EN: "family paediatrician"},
	"log_kind_diabetology":      {IT: "centro diabetologico", EN: "diabetes centre"},
	"log_kind_parent":           {IT: "genitore", EN: "parent"},
	"log_kind_tutor":            {IT: "tutore", EN: "tutor"},
	"log_ntf_settings":          {IT: "impostazioni delle segnalazioni degli accessi", EN: "access notification settings"},
	"log_ntf_off":               {IT: "segnalazioni degli accessi disattivate", EN: "access notifications turned off"},
	"log_ntf_each":              {IT: "segnalazione di ogni accesso a %s", EN: "a notification of every access to %s"},
	"log_ntf_daily":             {IT: "riassunto giornaliero degli accessi a %s", EN: "a daily digest of accesses to %s"},
	"log_purge":                 {IT: "rimozione delle letture di un'altra persona (collegamento LibreLinkUp %s): %s cancellate, %s ripristinate", EN: "removal of another person's sensor readings (LibreLinkUp connection %s): %s deleted, %s restored"},
	"log_denied_auth":           {IT: "tentativo senza credenziali valide: %s", EN: "attempt without valid credentials: %s"},
	"log_why_no_token":          {IT: "nessuna credenziale", EN: "no credentials"},
	"log_why_expired":           {IT: "credenziali scadute", EN: "expired credentials"},
	"log_why_other":             {IT: "credenziali rifiutate", EN: "credentials refused"},
	"log_why_unavailable":       {IT: "servizio di identità non raggiungibile", EN: "identity provider unreachable"},
}

// detailRule renders the details that match re.
type detailRule struct {
	re     *regexp.Regexp
	render func(l Lang, m []string, loc *time.Location) string
}

// day writes a date "YYYY-MM-DD" of a detail as a person reads it.
func day(l Lang, s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	if l == EN {
		return d.Format("2 Jan 2006")
	}
	return d.Format("02/01/2006")
}

func fixed(key string) func(Lang, []string, *time.Location) string {
	return func(l Lang, _ []string, _ *time.Location) string { return l.T(key) }
}

func period(key string) func(Lang, []string, *time.Location) string {
	return func(l Lang, m []string, _ *time.Location) string { return l.F(key, day(l, m[1]), day(l, m[2])) }
}

const datePair = `(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})`

// detailRules are the details the service writes (consent.Store.Access and
// LogDenied callers), each with how to say it.
var detailRules = []detailRule{
	{regexp.MustCompile(`^taccuino ` + datePair + `$`), period("log_page")},
	{regexp.MustCompile(`^latest glucose$`), fixed("log_latest")},
	{regexp.MustCompile(`^glucometrics ` + datePair + `$`), period("log_glucometrics")},
	{regexp.MustCompile(`^daily profiles ` + datePair + `$`), period("log_daily")},
	{regexp.MustCompile(`^readings ` + datePair + `$`), period("log_readings")},
	{regexp.MustCompile(`^sensor connections$`), fixed("log_connections")},
	{regexp.MustCompile(`^connect sensor$`), fixed("log_connect")},
	{regexp.MustCompile(`^connect sensor \((patient|follower)\)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.T("log_connect_" + m[1])
	}},
	{regexp.MustCompile(`^disconnect sensor, keep readings$`), fixed("log_disconnect_keep")},
	{regexp.MustCompile(`^disconnect sensor, delete its readings$`), fixed("log_disconnect_delete")},
	{regexp.MustCompile(`^update sensor credentials$`), fixed("log_credentials")},
	{regexp.MustCompile(`^sync sensor now$`), fixed("log_sync")},
	{regexp.MustCompile(`^import CSV \([a-z]+, (\d+) bytes\)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_import", m[1])
	}},
	{regexp.MustCompile(`^device measures ` + datePair + `$`), period("log_vitals")},
	{regexp.MustCompile(`^device measures and glucose ` + datePair + `$`), period("log_vitals_day")},
	{regexp.MustCompile(`^device sources$`), fixed("log_vitals_sources")},
	{regexp.MustCompile(`^device sources order$`), fixed("log_vitals_order")},
	{regexp.MustCompile(`^import device export \((\d+) bytes\)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_vitals_import", m[1])
	}},
	{regexp.MustCompile(`^find patient by fiscal code$`), fixed("log_find")},
	{regexp.MustCompile(`^open taccuino$`), fixed("log_open")},
	{regexp.MustCompile(`^clinic list: summary of the last 14 days$`), fixed("log_clinic")},
	{regexp.MustCompile(`^AGP report ` + datePair + `$`), period("log_agp")},
	{regexp.MustCompile(`^AGP report \(PDF\) ` + datePair + `$`), period("log_agp_pdf")},
	{regexp.MustCompile(`^clinical information update$`), fixed("log_clinical_info")},
	{regexp.MustCompile(`^FHIR (Patient|Observation|DiagnosticReport|Device) (search|read)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_fhir_"+m[2], l.T("log_fhir_"+m[1]))
	}},
	{regexp.MustCompile(`^FHIR \$submit-cgm-bundle: (.+)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_fhir_submit", submitParts(l, m[1]))
	}},
	{regexp.MustCompile(`^FHIR Observation create: 1 lab result$`), fixed("log_fhir_lab")},
	{regexp.MustCompile(`^CGM summary ` + datePair + ` sent to (.+)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_summary_sent", day(l, m[1]), day(l, m[2]), m[3])
	}},
	{regexp.MustCompile(`^third-party consent$`), fixed("log_consent")},
	{regexp.MustCompile(`^grant third-party consent$`), fixed("log_consent_grant")},
	{regexp.MustCompile(`^revoke third-party consent$`), fixed("log_consent_revoke")},
	{regexp.MustCompile(`^accept privacy notice (.+)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_privacy_accept", m[1])
	}},
	{regexp.MustCompile(`^privacy notice$`), fixed("log_privacy")},
	{regexp.MustCompile(`^grant delegation until (\S+)$`), func(l Lang, m []string, loc *time.Location) string {
		t, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			return l.F("log_deleg_grant", m[1])
		}
		return l.F("log_deleg_grant", Until(l, t, loc))
	}},
	{regexp.MustCompile(`^revoke delegation \d+$`), fixed("log_deleg_revoke")},
	{regexp.MustCompile(`^delegations$`), fixed("log_delegations")},
	{regexp.MustCompile(`^access log$`), fixed("log_access_log")},
	{regexp.MustCompile(`^care relationships$`), fixed("log_care")},
	{regexp.MustCompile(`^(record|end) (mmg|pls|diabetology) care relationship$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_care_"+m[1], l.T("log_kind_"+m[2]))
	}},
	{regexp.MustCompile(`^(record|end) (parent|tutor)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_care_"+m[1], l.T("log_kind_"+m[2]))
	}},
	{regexp.MustCompile(`^notification settings$`), fixed("log_ntf_settings")},
	{regexp.MustCompile(`^notifications off$`), fixed("log_ntf_off")},
	{regexp.MustCompile(`^notifications (each|daily) to (\S+)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_ntf_"+m[1], m[2])
	}},
	{regexp.MustCompile(`^removal of another person's sensor readings \(LibreLinkUp connection (\S+)\): (\d+) deleted, (\d+) restored$`),
		func(l Lang, m []string, _ *time.Location) string { return l.F("log_purge", m[1], m[2], m[3]) }},
	{regexp.MustCompile(`^Nightscout uploaders$`), fixed("log_uploaders")},
	{regexp.MustCompile(`^create Nightscout uploader$`), fixed("log_uploader_create")},
	{regexp.MustCompile(`^revoke Nightscout uploader$`), fixed("log_uploader_revoke")},
	{regexp.MustCompile(`^Nightscout upload \((\S+)\)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_uploader_upload", m[1])
	}},
	{regexp.MustCompile(`^Nightscout entries \((\S+)\)$`), func(l Lang, m []string, _ *time.Location) string {
		return l.F("log_uploader_read", m[1])
	}},
	{regexp.MustCompile(`^Nightscout [a-z ]+ \((\S+)\): (wrong or missing secret|revoked uploader)$`), func(l Lang, m []string, _ *time.Location) string {
		why := "log_uploader_wrong"
		if m[2] == "revoked uploader" {
			why = "log_uploader_revoked"
		}
		return l.F("log_uploader_refused", m[1], l.T(why))
	}},
	{regexp.MustCompile(`^[A-Z]+ \S+: (.+)$`), func(l Lang, m []string, _ *time.Location) string {
		why := "log_why_other"
		switch m[1] {
		case "no token":
			why = "log_why_no_token"
		case "expired token":
			why = "log_why_expired"
		case "identity provider unavailable":
			why = "log_why_unavailable"
		}
		return l.F("log_denied_auth", l.T(why))
	}},
}

var submitPart = regexp.MustCompile(`^(\d+) (readings|device measurements|devices|summary resources|reports|lab results)$`)

// submitParts says the parts of a FHIR submission ("3 readings, 1 devices").
func submitParts(l Lang, s string) string {
	if s == "nothing to store" {
		return l.T("log_fhir_nothing")
	}
	keys := map[string]string{"readings": "log_n_readings", "device measurements": "log_n_measurements", "devices": "log_n_devices", "summary resources": "log_n_summary",
		"reports": "log_n_reports", "lab results": "log_n_lab"}
	var out []string
	for _, p := range strings.Split(s, ", ") {
		m := submitPart.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		out = append(out, l.F(keys[m[2]], m[1]))
	}
	return strings.Join(out, ", ")
}

// Detail says in l what an access-log entry's detail describes: the
// details are written by the service in a fixed English form (the API
// returns them as they are); the access log's page shows them through
// this. A detail of no known form gives "" (the page then shows only the
// action). loc is the patient's zone (for the instants of a detail).
func Detail(l Lang, detail string, loc *time.Location) string {
	for _, r := range detailRules {
		if m := r.re.FindStringSubmatch(detail); m != nil {
			return r.render(l, m, loc)
		}
	}
	return ""
}

// Until writes the end of a validity (a delegation's expiry) in zone loc:
// the day alone when it ends at a local midnight, as a delegation "valid
// until 31 January" entered as a date does (it ends at the start of 1
// February: the day shown is the last one included), else the day and
// the time.
func Until(l Lang, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	if lt.Hour() == 0 && lt.Minute() == 0 && lt.Second() == 0 && lt.Nanosecond() == 0 {
		last := lt.Add(-time.Nanosecond)
		if l == EN {
			return last.Format("2 Jan 2006")
		}
		return last.Format("02/01/2006")
	}
	if l == EN {
		return lt.Format("2 Jan 2006 15:04")
	}
	return lt.Format("02/01/2006 15:04")
}
